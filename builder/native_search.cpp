#include "native_search.h"

#include "align.h"
#include "bundle_io.h"
#include "error.h"
#include "image_file.h"
#include "sha256.h"

namespace nftlens {

NativeSearcher::NativeSearcher(const std::filesystem::path& dir, int threads)
    : dir_(dir), bundle_(load_bundle_dir(dir)), store_(size_t(1) << 30) {
  const FileEntry& mf = bundle_.manifest.file("model");
  const auto path = dir / mf.name;
  const auto bytes = read_bytes(path, mf.bytes + 1);
  verify_file(mf, bytes.data(), bytes.size());
  if (bundle_.recipe.use_model) embedder_ = std::make_unique<Embedder>(path.string(), bundle_.manifest.model, EmbedderOptions{threads, true, false});
}

RgbImage NativeSearcher::decode(const std::vector<uint8_t>& bytes) const { return decode_any(bytes, bundle_.manifest.model.background); }

QueryDescriptors NativeSearcher::describe(const RgbImage& image) {
  QuerySession q(bundle_, image);
  if (embedder_) {
    std::vector<std::vector<float>> inputs;
    for (size_t r = 0; r < q.model_runs(); ++r) inputs.push_back(q.model_input(r));
    // The embedder pools already; hand the pooled vector over as an "NC" output.
    const auto feats = embedder_->run(inputs);
    for (size_t r = 0; r < feats.size(); ++r) q.set_pooled_features(r, feats[r]);
  }
  return {q.descriptors(), q.window_descriptors()};
}

std::vector<TokenHit> NativeSearcher::search(const std::vector<uint8_t>& bytes, const SearchOptions& opt, size_t rerank_n) {
  const RgbImage image = decode(bytes);
  return search(describe(image), image, opt, rerank_n);
}

std::vector<TokenHit> NativeSearcher::search(const QueryDescriptors& q, const RgbImage& image, const SearchOptions& opt, size_t rerank_n) {
  SearchOptions wide = opt;
  wide.k = std::max(opt.k, rerank_n);
  std::vector<TokenHit> hits = search(q, wide);
  if (rerank_n > 0) rerank(hits, image, rerank_n);
  if (hits.size() > opt.k) hits.resize(opt.k);
  return hits;
}

bool NativeSearcher::rerank(std::vector<TokenHit>& hits, const RgbImage& query, size_t candidates) {
  if (bundle_.partitioned() || hits.empty()) return false;
  const size_t k = std::min(candidates, hits.size());
  if (thumbs_.size() > 4096) thumbs_.clear();  // (~27 KB each)
  std::vector<RgbImage> thumbs(k);
  for (size_t i = 0; i < k; ++i) {
    const uint32_t t = hits[i].token;
    if (auto it = thumbs_.find(t); it != thumbs_.end()) { thumbs[i] = it->second; continue; }
    const std::string& rel = bundle_.catalogue.tokens[t].thumb;
    if (!is_thumb_path(rel)) continue;
    try {
      thumbs[i] = thumbs_[t] = decode_any(read_bytes(dir_ / rel, 1u << 20), bundle_.manifest.model.background);
    } catch (const Error&) {  // a missing or broken thumbnail: that candidate just scores low
    }
  }
  return rerank_by_alignment(hits, query, thumbs);
}

std::vector<uint8_t> NativeSearcher::read_part(const std::string& name) const {
  const auto p = dir_ / name;
  if (!std::filesystem::exists(p)) throw Error(p.string() + ": missing (listed in the partition table)");
  return read_bytes(p, size_t(64) << 20);
}

std::vector<TokenHit> NativeSearcher::search(const QueryDescriptors& q, const SearchOptions& opt) {
  if (!bundle_.partitioned()) return search_tokens(bundle_, q, opt);
  for (uint32_t p : shards_to_probe(bundle_, q, opt))
    if (!store_.has_shard(p)) {
      const auto b = read_part(bundle_.layout.shards[p].name("shard"));
      store_.add_shard(bundle_.layout, bundle_.catalogue.collections.size(), p, b.data(), b.size());
    }
  return search_partitions(bundle_, store_, q, opt);
}

std::string NativeSearcher::results_json(const std::vector<TokenHit>& hits) {
  if (!bundle_.partitioned()) return nftlens::results_json(bundle_, hits);
  for (uint32_t f : fragments_for(bundle_, hits))
    if (!store_.has_fragment(f)) {
      const auto b = read_part(bundle_.layout.fragments[f].name("tokens"));
      store_.add_fragment(bundle_.layout, f, b.data(), b.size());
    }
  return nftlens::results_json(bundle_, store_, hits);
}

const Catalogue& NativeSearcher::full_catalogue() {
  if (!bundle_.partitioned()) return bundle_.catalogue;
  if (!have_full_) {
    std::vector<Catalogue> parts;
    for (size_t f = 0; f < bundle_.layout.fragments.size(); ++f) {
      const std::string name = bundle_.layout.fragments[f].name("tokens");
      const auto b = read_part(name);
      verify_part(bundle_.layout.fragments[f], name, b.data(), b.size());
      parts.push_back(deserialize_catalogue(b.data(), b.size(), name));
    }
    full_ = Catalogue::join(parts);
    have_full_ = true;
  }
  return full_;
}

}  // namespace nftlens
