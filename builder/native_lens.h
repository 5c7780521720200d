// The native host of the query engine: a Lens (shared/lens.h) over a bundle folder, its model
// under ONNX Runtime, and a disk reader that answers the Lens's needs (shards, catalogue fragments,
// thumbnails). `query`, `eval`, `text` and `describe` all go through it, so the CLI runs exactly
// the core pipeline the browser runs.
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "embedder.h"
#include "lens.h"

namespace nftlens {

class NativeLens {
 public:
  // The model is loaded (and checked against the manifest) only when `with_model`.
  NativeLens(const std::filesystem::path& bundle_dir, int threads, bool with_model = true);
  RgbImage decode(const std::vector<uint8_t>& image_bytes) const;
  // A query with its model outputs set: ready for search() and describe().
  std::unique_ptr<QuerySession> session(const RgbImage& image);
  QueryDescriptors describe(const QuerySession& q) const { return {q.descriptors(), q.window_descriptors()}; }
  // Each call runs the Lens until it stops asking for parts, reading them from the folder.
  Answer search(const QuerySession& q, const ImageRequest& request) { return settle([&] { return lens_.search(q, request); }); }
  Answer text(const TextRequest& request) { return settle([&] { return lens_.text(request); }); }
  const Catalogue& whole_catalogue();
  // Read token t's thumbnail from its pack and check it against the catalogue (verify): true if
  // it has one; Error(bad_bundle) naming the pack if it does not match.
  bool check_thumbnail(uint32_t t);
  const Bundle& bundle() const { return lens_.bundle(); }
  // Pooled model features of model input tensors.
  std::vector<std::vector<float>> embed(const std::vector<std::vector<float>>& inputs) { return embedder_->run(inputs); }

 private:
  template <class Call>
  Answer settle(Call call) {
    for (;;) {
      Answer a = call();
      if (a.done()) return a;
      for (const Need& n : a.needs) answer(n);
    }
  }
  void answer(const Need& need);
  std::filesystem::path dir_;
  Lens lens_;
  std::unique_ptr<Embedder> embedder_;
};

}  // namespace nftlens
