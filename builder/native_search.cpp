#include "native_search.h"

#include "bundle_io.h"
#include "error.h"
#include "image_file.h"
#include "sha256.h"

namespace nftlens {

NativeSearcher::NativeSearcher(const std::filesystem::path& dir, int threads) : bundle_(load_bundle_dir(dir)) {
  const FileEntry& mf = bundle_.manifest.file("model");
  const auto path = dir / mf.name;
  const auto bytes = read_bytes(path, mf.bytes + 1);
  verify_file(mf, bytes.data(), bytes.size());
  if (bundle_.recipe.use_model) embedder_ = std::make_unique<Embedder>(path.string(), bundle_.manifest.model, EmbedderOptions{threads, true, false});
}

QueryDescriptors NativeSearcher::describe(const std::vector<uint8_t>& bytes) {
  QuerySession q(bundle_, decode_any(bytes, bundle_.manifest.model.background));
  if (embedder_) {
    std::vector<std::vector<float>> inputs;
    for (size_t r = 0; r < q.model_runs(); ++r) inputs.push_back(q.model_input(r));
    // The embedder pools already; hand the pooled vector over as an "NC" output.
    const auto feats = embedder_->run(inputs);
    for (size_t r = 0; r < feats.size(); ++r) q.set_pooled_features(r, feats[r]);
  }
  return {q.descriptors(), q.window_descriptors()};
}

std::vector<TokenHit> NativeSearcher::search(const std::vector<uint8_t>& bytes, const SearchOptions& opt) {
  return search_tokens(bundle_, describe(bytes), opt);
}

}  // namespace nftlens
