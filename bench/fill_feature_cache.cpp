// Fill the builder's feature cache for a large collection without running the model on every image
// (bench/build_1m.sh: the builder's peak memory at 1M tokens on a machine that cannot embed a
// million images in time). What `nftlens build` then finds for each token, under the same key it
// forms (SHA-256 of the image bytes, in the cache file of the same model and recipe namespace):
//
//  - colour layout and ring colour: computed from the real image file exactly as the builder does
//    (decode_any, color_layout over the whole image, dominant_ring_colour);
//  - model features: for the first --real tokens, the real ones, which must already be in the cache
//    (the script embeds them with `nftlens build`); for every other token, an additive trait model
//    fitted on those real features -- mean + the effect of each of the token's trait values + the
//    residual of a random real token (partition_bench's model, here on the model's pooled features
//    instead of codes) -- clamped per dimension to the range the real features span. A trait value no
//    real token has contributes nothing.
//
//   fill_feature_cache COLLECTION_DIR --cache DIR [--real 2000] [--threads 2] [--model CARD] [--model-file ONNX]
//
// Deterministic: token i's residual is drawn with seed i, whatever the thread count. Tokens already
// cached are left alone, so a rerun or a larger collection only adds what is missing.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <unordered_map>

#include "bundle_io.h"
#include "collection.h"
#include "descriptor.h"
#include "feature_cache.h"
#include "image_file.h"
#include "learn.h"
#include "model_files.h"
#include "sha256.h"

using namespace nftlens;

int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: fill_feature_cache COLLECTION_DIR --cache DIR [--real 2000] [--threads 2] [--model CARD] [--model-file ONNX]\n"); return 2; }
  std::string dir = argv[1], cache_dir, card_path, model_path;
  size_t n_real = 2000;
  int threads = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--cache") cache_dir = v;
    else if (a == "--real") n_real = std::stoul(v);
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--model") card_path = v;
    else if (a == "--model-file") model_path = v;
    else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
  }
  if (cache_dir.empty()) { std::fprintf(stderr, "--cache is required\n"); return 2; }
  const auto t0 = std::chrono::steady_clock::now();
  const ModelFiles mf = resolve_model(card_path, model_path);
  const ModelCard& card = mf.card;
  Recipe recipe;  // the builder's defaults: colour grid, no sub-windows (--window-dims 0), model on
  const size_t color_dim = size_t(recipe.color_dim()), model_dim = size_t(card.feature_dim());
  FeatureCache cache(cache_dir, feature_cache_namespace(card, recipe));
  const SourceCollection col = load_collection(dir);
  const size_t n = col.tokens.size();
  n_real = std::min(n_real, n);
  std::fprintf(stderr, "fill: %zu tokens, %zu real, cache %zu records\n", n, n_real, cache.size());

  // Trait types and per-token value ids (0 = missing).
  std::vector<std::string> types;
  std::vector<std::unordered_map<std::string, uint32_t>> value_id;
  auto values_of = [&](const SourceToken& t) {
    std::vector<uint32_t> v(types.size(), 0);
    for (auto& [k, val] : t.traits) {
      auto it = std::find(types.begin(), types.end(), k);
      if (it == types.end()) continue;
      const size_t ti = size_t(it - types.begin());
      auto vi = value_id[ti].find(val);
      if (vi != value_id[ti].end()) v[ti] = vi->second;
    }
    return v;
  };
  for (size_t i = 0; i < n_real; ++i)
    for (auto& [k, val] : col.tokens[i].traits) {
      auto it = std::find(types.begin(), types.end(), k);
      if (it == types.end()) { types.push_back(k); value_id.emplace_back(); it = types.end() - 1; }
      auto& m = value_id[size_t(it - types.begin())];
      m.emplace(val, uint32_t(m.size() + 1));
    }
  const size_t T = types.size();

  // 1. The real tokens' model features (from the cache) and the additive model (3 rounds of backfitting).
  std::vector<float> x(n_real * model_dim), lo(model_dim, 1e30f), hi(model_dim, -1e30f);
  std::vector<double> mu(model_dim, 0.0);
  std::vector<std::vector<uint32_t>> value(n_real);
  for (size_t i = 0; i < n_real; ++i) {
    const auto bytes = read_bytes(col.tokens[i].image_path, 64u << 20);
    const auto hit = cache.find(sha256_hex(bytes.data(), bytes.size()));
    if (!hit || hit->size() != color_dim + model_dim + 4) {
      std::fprintf(stderr, "fill: token %zu (%s) has no real features in the cache: embed the first %zu tokens first\n", i, col.tokens[i].token_id.c_str(), n_real);
      return 1;
    }
    for (size_t d = 0; d < model_dim; ++d) {
      const float f = (*hit)[color_dim + d];
      x[i * model_dim + d] = f;
      mu[d] += f / double(n_real);
      lo[d] = std::min(lo[d], f);
      hi[d] = std::max(hi[d], f);
    }
    value[i] = values_of(col.tokens[i]);
  }
  std::vector<std::unordered_map<uint32_t, std::vector<float>>> effect(T);
  auto fitted = [&](const std::vector<uint32_t>& v, size_t skip, size_t d) {
    double f = mu[d];
    for (size_t t = 0; t < T; ++t)
      if (t != skip) { auto it = effect[t].find(v[t]); if (it != effect[t].end()) f += it->second[d]; }
    return f;
  };
  for (int round = 0; round < 3; ++round)
    for (size_t t = 0; t < T; ++t) {
      std::unordered_map<uint32_t, std::pair<std::vector<double>, size_t>> acc;
      for (size_t i = 0; i < n_real; ++i) {
        auto& a = acc[value[i][t]];
        if (a.first.empty()) a.first.assign(model_dim, 0.0);
        ++a.second;
        for (size_t d = 0; d < model_dim; ++d) a.first[d] += x[i * model_dim + d] - fitted(value[i], t, d);
      }
      for (auto& [v, a] : acc) { auto& e = effect[t][v]; e.assign(model_dim, 0.f); for (size_t d = 0; d < model_dim; ++d) e[d] = float(a.first[d] / double(a.second)); }
    }
  std::vector<float> resid(n_real * model_dim);
  double var_x = 0, var_r = 0;
  for (size_t i = 0; i < n_real; ++i)
    for (size_t d = 0; d < model_dim; ++d) {
      resid[i * model_dim + d] = float(x[i * model_dim + d] - fitted(value[i], T, d));
      var_x += (x[i * model_dim + d] - mu[d]) * (x[i * model_dim + d] - mu[d]);
      var_r += double(resid[i * model_dim + d]) * resid[i * model_dim + d];
    }
  std::fprintf(stderr, "fill: additive trait model over %zu trait types, residual variance %.1f%% of the total\n", T, 100.0 * var_r / std::max(var_x, 1e-30));

  // 2. Every other token: real colour layout and ring from its image, modelled features.
  std::atomic<size_t> next{n_real}, written{0}, skipped{0}, failed{0};
  std::vector<std::thread> pool;
  for (int th = 0; th < std::max(1, threads); ++th)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < n;) {
        try {
          const auto bytes = read_bytes(col.tokens[i].image_path, 64u << 20);
          const std::string key = sha256_hex(bytes.data(), bytes.size());
          if (cache.contains(key)) { ++skipped; continue; }
          const RgbImage img = decode_any(bytes, card.background);
          std::vector<float> rec = color_layout(img, Box{0, 0, img.width, img.height}, recipe.color_grid, false);
          const auto v = values_of(col.tokens[i]);
          std::mt19937_64 rng(0x5eed0000ull + i);
          const size_t r = size_t(rng() % n_real);
          for (size_t d = 0; d < model_dim; ++d)
            rec.push_back(std::clamp(float(fitted(v, T, d) + resid[r * model_dim + d]), lo[d], hi[d]));
          const auto ring = dominant_ring_colour(img);
          rec.push_back(ring.first ? 1.f : 0.f);
          for (int c = 0; c < 3; ++c) rec.push_back(ring.second[c]);
          cache.put(key, rec);
          const size_t w = ++written;
          if (w % 100000 == 0) std::fprintf(stderr, "fill: %zu written\n", w);
        } catch (const std::exception& e) {
          ++failed;
          std::fprintf(stderr, "fill: token %zu: %s\n", i, e.what());
        }
      }
    });
  for (auto& t : pool) t.join();
  cache.flush();
  std::fprintf(stderr, "fill: %zu records written, %zu already cached, %zu failed in %.1f s\n", written.load(), skipped.load(), failed.load(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return failed ? 1 : 0;
}
