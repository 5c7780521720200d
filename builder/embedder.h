// Native inference with ONNX Runtime (C++ API): batched, thread count from the CLI, CUDA when the
// library and a GPU are present (else CPU, said once). Returns pooled features per image.
// run() may be called from several threads at once on one Embedder (Ort::Session::Run is
// thread-safe): the builder's workers each run their own small batches with 1 intra-op thread.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model_card.h"

namespace nftlens {

struct EmbedderOptions {
  int threads = 0;         // intra-op threads; 0 = ONNX Runtime's default (all cores)
  bool try_cuda = true;
  bool allow_spinning = true;  // intra-op threads spin while waiting for work (ORT's default); the
                               // builder turns it off ("session.intra_op.allow_spinning" = "0")
};

class Embedder {
 public:
  Embedder(const std::string& model_path, const ModelCard& card, const EmbedderOptions& opt = {});
  ~Embedder();
  // inputs: one tensor per image (card layout, card size); returns pooled features per image and,
  // if `parts` is given and the card has a parts map, its region means per image (pool_parts).
  // Thread-safe.
  std::vector<std::vector<float>> run(const std::vector<std::vector<float>>& inputs, std::vector<std::vector<float>>* parts = nullptr);
  const std::string& provider() const { return provider_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ModelCard card_;
  std::string provider_ = "cpu";
};

}  // namespace nftlens
