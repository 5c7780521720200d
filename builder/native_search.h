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
  const Bundle& bundle() const { return bundle_; }
  // Pooled model features of model input tensors.
  std::vector<std::vector<float>> embed(const std::vector<std::vector<float>>& inputs) { return embedder_->run(inputs); }

 private:
  Bundle bundle_;
  std::unique_ptr<Embedder> embedder_;
};

}  // namespace nftlens
