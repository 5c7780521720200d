// Native inference with ONNX Runtime (C++ API): batched, thread count from the CLI, CUDA when the
// library and a GPU are present (else CPU, said once). Returns pooled features per image.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model_card.h"

namespace nftlens {

struct EmbedderOptions {
  int threads = 0;         // intra-op threads; 0 = ONNX Runtime's default (all cores)
  bool try_cuda = true;
  bool verbose = false;
};

class Embedder {
 public:
  Embedder(const std::string& model_path, const ModelCard& card, const EmbedderOptions& opt = {});
  ~Embedder();
  // inputs: one tensor per image (card layout, card size); returns pooled features per image.
  std::vector<std::vector<float>> run(const std::vector<std::vector<float>>& inputs);
  const std::string& provider() const { return provider_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ModelCard card_;
  std::string provider_ = "cpu";
};

}  // namespace nftlens
