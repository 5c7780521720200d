#include "search.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <unordered_map>

#include "distance.h"
#include "error.h"
#include "part_codes.h"

namespace nftlens {

QuerySession::QuerySession(const Bundle& bundle, RgbImage image)
    : bundle_(bundle), image_(std::move(image)), plan_(plan_query(bundle.recipe, image_)) {
  static std::atomic<uint64_t> sessions{0};
  serial_ = ++sessions;
  features_.resize(plan_.model_boxes.size());
  have_.assign(plan_.model_boxes.size(), !bundle_.recipe.use_model);
  if (plan_.fill.found()) filled_ = fill_outside_circle(image_, plan_.fill);
}

std::vector<float> QuerySession::model_input(size_t run) const {
  return make_input_tensor(bundle_.manifest.model, source(plan_.model_filled.at(run) != 0), plan_.model_boxes.at(run));
}

void QuerySession::set_model_output(size_t run, const std::vector<const float*>& outputs, const std::vector<size_t>& sizes) {
  features_.at(run) = pool_outputs(bundle_.manifest.model, outputs, sizes);
  if (run == 0) parts_ = pool_parts(bundle_.manifest.model, outputs, sizes);  // (run 0: the whole image)
  have_[run] = true;
  have_descriptors_ = have_window_descriptors_ = false;
}

void QuerySession::set_part_regions(std::vector<float> regions) {
  if (regions.size() != size_t(kRegionRows) * size_t(bundle_.manifest.model.part_channels())) throw Error("query: part regions have the wrong size");
  parts_ = std::move(regions);
}

void QuerySession::set_pooled_features(size_t run, std::vector<float> f) {
  if (f.size() != size_t(bundle_.manifest.model.feature_dim())) throw Error("query: model features have the wrong size");
  features_.at(run) = std::move(f);
  have_[run] = true;
  have_descriptors_ = have_window_descriptors_ = false;
}

const std::vector<float>& QuerySession::pooled_features(size_t run) const {
  if (run >= have_.size() || !have_[run]) throw Error("query: model output for run " + std::to_string(run) + " was not set");
  return features_[run];
}

std::vector<float> first_view_style(const QuerySession& query, const TokenHit& first) {
  return style_vector(query.pooled_features(size_t(query.plan().views.at(first.view).model_run)));
}

std::vector<std::vector<float>> QuerySession::descriptors() const {
  if (have_descriptors_) return descriptors_;
  std::vector<std::vector<float>> out;
  for (const View& v : plan_.views) {
    if (!have_.at(v.model_run)) throw Error("query: model output for run " + std::to_string(v.model_run) + " was not set");
    out.push_back(project(bundle_.recipe, raw_descriptor(bundle_.recipe, source(v.filled), v, features_[v.model_run])));
  }
  descriptors_ = std::move(out);
  have_descriptors_ = true;
  return descriptors_;
}

std::vector<std::vector<float>> QuerySession::window_descriptors() const {
  if (have_window_descriptors_) return window_descriptors_;
  std::vector<std::vector<float>> out;
  if (bundle_.recipe.windows.enabled())
    for (const View& v : plan_.views)
      out.push_back(window_descriptor(bundle_.recipe, color_layout(source(v.filled), v.box, bundle_.recipe.color_grid, v.mirrored)));
  window_descriptors_ = std::move(out);
  have_window_descriptors_ = true;
  return window_descriptors_;
}

std::vector<bool> allowed_collections(const Bundle& b, const SearchOptions& opt) {
  std::vector<bool> allowed;
  if (!opt.collections.empty()) {
    allowed.assign(b.catalogue.collections.size(), false);
    for (size_t c = 0; c < b.catalogue.collections.size(); ++c)
      allowed[c] = std::find(opt.collections.begin(), opt.collections.end(), b.catalogue.collections[c].slug) != opt.collections.end();
  }
  return allowed;
}

std::vector<TokenHit> search_tokens(const Bundle& b, const QueryDescriptors& qd, const SearchOptions& opt) {
  if (b.partitioned()) throw Error("search: this bundle is partitioned (fetch its shards: search_partitions)");
  const auto& descriptors = qd.main;
  const std::vector<bool> allowed = allowed_collections(b, opt);
  const float s2 = b.recipe.quant_scale * b.recipe.quant_scale;
  std::unordered_map<uint32_t, TokenHit> best;  // token -> its best (score, view)
  auto offer = [&](uint32_t t, float score, size_t view) {
    auto it = best.find(t);
    if (it == best.end() || it->second.score < score) { TokenHit h{t, score}; h.view = uint32_t(view); best[t] = h; }
  };
  // Entries per token can be several, and a filter can reject hits: widen the search until k
  // distinct allowed tokens are found or the whole index was considered.
  size_t want = std::max<size_t>(opt.k * 4, 32);
  for (;;) {
    best.clear();
    for (size_t v = 0; v < descriptors.size(); ++v) {
      const std::vector<int8_t> q = quantize(b.recipe, descriptors[v]);
      const auto hits = opt.exact ? b.index.exact(q.data(), want) : b.index.search(q.data(), want, std::max<int>(opt.ef, int(want)));
      for (const Neighbor& n : hits) {
        const uint32_t t = b.catalogue.entry_token[n.entry];
        if (!allowed.empty() && !allowed[b.catalogue.tokens[t].collection]) continue;
        if (opt.allow && !opt.allow(t)) continue;
        offer(t, 1.0f - float(n.distance) / (2.0f * s2), v);  // cosine for unit vectors
      }
    }
    if (!b.windows.empty()) {
      const WindowRecipe& w = b.recipe.windows;
      const float w2 = w.quant_scale * w.quant_scale;
      for (size_t v = 0; v < qd.windows.size(); ++v) {
        const std::vector<int8_t> q = quantize(qd.windows[v], w.quant_scale);
        for (const TokenDistance& h : b.windows.search(q.data(), want)) {
          if (!allowed.empty() && !allowed[b.catalogue.tokens[h.token].collection]) continue;
          if (opt.allow && !opt.allow(h.token)) continue;
          offer(h.token, w.score_scale * (1.0f - float(h.distance) / (2.0f * w2)) + w.score_offset, v);
        }
      }
    }
    if (best.size() >= opt.k || want >= b.index.size()) break;
    want = std::min(b.index.size(), want * 4);
  }
  std::vector<TokenHit> out;
  for (auto& [t, h] : best) out.push_back(h);
  std::sort(out.begin(), out.end(), [](const TokenHit& a, const TokenHit& b) { return a.score != b.score ? a.score > b.score : a.token < b.token; });
  if (out.size() > opt.k) out.resize(opt.k);
  return out;
}

namespace {
std::vector<std::vector<int8_t>> quantized(const Bundle& b, const QueryDescriptors& qd) {
  std::vector<std::vector<int8_t>> q;
  for (const auto& d : qd.main) q.push_back(quantize(b.recipe, d));
  return q;
}
}  // namespace

std::vector<uint32_t> shards_to_probe(const Bundle& b, const QueryDescriptors& qd, const SearchOptions& opt) {
  if (!b.partitioned()) return {};
  const size_t n = opt.exact ? b.layout.partitions() : opt.probe ? opt.probe : b.layout.default_probe;
  return b.layout.probe(quantized(b, qd), n);
}

std::vector<TokenHit> search_partitions(const Bundle& b, PartStore& store, const QueryDescriptors& qd, const SearchOptions& opt) {
  if (!b.partitioned()) return search_tokens(b, qd, opt);
  const std::vector<bool> allowed = allowed_collections(b, opt);
  const auto probe = shards_to_probe(b, qd, opt);
  store.touch(probe, {});
  const auto queries = quantized(b, qd);
  const L2Int8Fn fn = best_l2_int8();
  const size_t dim = size_t(b.layout.dim);
  // A flat scan of each probed partition, every query view; a token's score is its best view.
  struct Scanned {
    int32_t distance; uint32_t token, view;
    bool operator<(const Scanned& o) const { return distance != o.distance ? distance < o.distance : token < o.token; }
  };
  std::vector<Scanned> best;  // every scanned token at its best view
  for (uint32_t p : probe) {
    const Shard& s = store.shard(p);
    for (size_t i = 0; i < s.size(); ++i) {
      if (!allowed.empty() && !allowed[s.collection[i]]) continue;
      if (opt.allow && !opt.allow(s.first + uint32_t(i))) continue;
      Scanned sc{INT32_MAX, s.first + uint32_t(i), 0};
      for (size_t v = 0; v < queries.size(); ++v) {
        const int32_t d = fn(queries[v].data(), s.codes.data() + i * dim, dim);
        if (d < sc.distance) { sc.distance = d; sc.view = uint32_t(v); }
      }
      best.push_back(sc);
    }
  }
  const size_t k = std::min(opt.k, best.size());
  std::partial_sort(best.begin(), best.begin() + long(k), best.end());
  const float s2 = b.recipe.quant_scale * b.recipe.quant_scale;
  std::vector<TokenHit> out;
  for (size_t i = 0; i < k; ++i) {
    out.push_back(TokenHit{best[i].token, 1.0f - float(best[i].distance) / (2.0f * s2)});
    out.back().view = best[i].view;
  }
  return out;
}

std::vector<uint32_t> fragments_for(const Bundle& b, const std::vector<TokenHit>& hits) {
  std::vector<uint32_t> f;
  for (auto& h : hits) {
    const uint32_t x = uint32_t(b.layout.fragment_of(h.token));
    if (std::find(f.begin(), f.end(), x) == f.end()) f.push_back(x);
  }
  return f;
}

}  // namespace nftlens
