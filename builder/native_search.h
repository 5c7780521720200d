// A loaded bundle plus its model under ONNX Runtime: image bytes -> ranked tokens, natively,
// through exactly the core pipeline the browser runs.
#pragma once
#include <filesystem>
#include <memory>
#include <unordered_map>
#include <vector>

#include "bundle.h"
#include "embedder.h"
#include "search.h"

namespace nftlens {

class NativeSearcher {
 public:
  NativeSearcher(const std::filesystem::path& bundle_dir, int threads);
  // Descriptors (one per query view) of an image file's bytes, or of the decoded image.
  QueryDescriptors describe(const std::vector<uint8_t>& image_bytes) { return describe(decode(image_bytes)); }
  QueryDescriptors describe(const RgbImage& image);
  RgbImage decode(const std::vector<uint8_t>& image_bytes) const;
  // Search, then re-rank the first `rerank` hits by alignment with their thumbnails (0 = don't);
  // returns opt.k hits. `image` is the decoded query the descriptors were made from.
  std::vector<TokenHit> search(const std::vector<uint8_t>& image_bytes, const SearchOptions& opt, size_t rerank = 0);
  std::vector<TokenHit> search(const QueryDescriptors& q, const RgbImage& image, const SearchOptions& opt, size_t rerank);
  // Re-rank the first `candidates` hits by alignment (shared/align.h) with their thumbnails, read
  // from the bundle folder. False (hits unchanged) if the bundle has none (built with --no-thumbs,
  // or partitioned: not yet).
  bool rerank(std::vector<TokenHit>& hits, const RgbImage& query, size_t candidates);
  // Either layout: one bundle, or partitioned (shards and fragments read from disk as needed).
  std::vector<TokenHit> search(const QueryDescriptors& q, const SearchOptions& opt);
  // {"match", "threshold", "results"} for hits of search().
  std::string results_json(const std::vector<TokenHit>& hits);
  const Bundle& bundle() const { return bundle_; }
  // Every token (a partitioned bundle's fragments read and joined; else the bundle's catalogue).
  const Catalogue& full_catalogue();
  // Pooled model features of model input tensors.
  std::vector<std::vector<float>> embed(const std::vector<std::vector<float>>& inputs) { return embedder_->run(inputs); }

 private:
  std::vector<uint8_t> read_part(const std::string& name) const;
  std::filesystem::path dir_;
  Bundle bundle_;
  PartStore store_;
  Catalogue full_;
  bool have_full_ = false;
  std::unique_ptr<Embedder> embedder_;
  std::unordered_map<uint32_t, RgbImage> thumbs_;  // decoded thumbnails by token (bounded)
};

}  // namespace nftlens
