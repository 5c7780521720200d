// A loaded bundle plus its model under ONNX Runtime: image bytes -> ranked tokens, natively,
// through exactly the core pipeline the browser runs.
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "bundle.h"
#include "embedder.h"
#include "search.h"

namespace nftlens {

class NativeSearcher {
 public:
  NativeSearcher(const std::filesystem::path& bundle_dir, int threads);
  // Descriptors (one per query view) of an image file's bytes.
  QueryDescriptors describe(const std::vector<uint8_t>& image_bytes);
  std::vector<TokenHit> search(const std::vector<uint8_t>& image_bytes, const SearchOptions& opt);
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
};

}  // namespace nftlens
