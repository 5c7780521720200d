// Index benchmark (native and wasm from the same source): recall@1/@10 of the int8 HNSW against
// exact float search, queries/s, bytes per vector. Vectors: random Gaussian (default) or a raw
// float32 file (--vectors FILE, n x dim), e.g. drawn by make_vectors from a real bundle's statistics.
//   index_bench [--n 10000] [--dim 48] [--queries 1000] [--vectors FILE] [--query-vectors FILE]
//               [--M 12] [--efc 200] [--ef 16,32,64,96,128] [--scale max|qP|S] [--rotate SEED] [--rerank 0|1]
//               [--rerank-k K] [--no-hnsw]
// Queries: by default near-copies of database items (item + 0.3 x an unrelated vector, normalised);
// --query-vectors FILE takes them as they are (e.g. real query descriptors), the first --queries.
// Quantisation: code = clamp(round(v * scale), +-127) as shared/descriptor.cpp. --scale qP (default
// q99.99, the builder's learn_quantizer rule) is 127 / the P-th percentile of |v| over the database
// vectors; max (this bench's rule until 2026-11-22) 127 / max |v|; a number is the scale itself.
// --rotate SEED first applies a random orthogonal rotation to every vector (L2 distances unchanged;
// the same as folding it into the recipe's projection): coordinates become evenly spread, so the
// scale can be finer.
// --rerank 1 adds rows where the search returns all ef candidates and they are re-ranked by the
// exact distance between the float query (times scale) and the int8 codes ("asymmetric"; the index
// holds only codes), and the same for the exhaustive scan; --rerank-k K re-ranks only the K nearest
// by int8 distance (search.cpp asks the index for max(4k, 32) = 40 hits for k = 10).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "code_index.h"
#include "descriptor.h"
#include "distance.h"

using namespace nftlens;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

static std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) { std::fprintf(stderr, "cannot read %s\n", path.c_str()); std::exit(1); }
  f.seekg(0, std::ios::end);
  std::vector<float> all(size_t(f.tellg()) / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(all.data()), std::streamsize(all.size() * 4));
  return all;
}

int main(int argc, char** argv) {
  size_t n = 10000, nq = 1000;
  int dim = 48, M = 12, efc = 200;
  bool rerank = false, hnsw = true;
  unsigned rotate = 0;
  size_t rerank_k = 0;  // 0: all ef candidates
  std::string vectors, query_vectors, scale_rule = "q99.99", ef_list = "16,32,64,96,128";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-hnsw") { hnsw = false; continue; }
    if (i + 1 >= argc) break;
    const char* v = argv[++i];
    if (a == "--n") n = std::stoul(v);
    else if (a == "--dim") dim = std::stoi(v);
    else if (a == "--queries") nq = std::stoul(v);
    else if (a == "--M") M = std::stoi(v);
    else if (a == "--efc") efc = std::stoi(v);
    else if (a == "--ef") ef_list = v;
    else if (a == "--scale") scale_rule = v;
    else if (a == "--rotate") rotate = unsigned(std::stoul(v));
    else if (a == "--rerank") rerank = std::stoi(v) != 0;
    else if (a == "--rerank-k") rerank_k = std::stoul(v);
    else if (a == "--vectors") vectors = v;
    else if (a == "--query-vectors") query_vectors = v;
    else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 1; }
  }
  std::vector<int> efs;
  { std::stringstream ss(ef_list); std::string t; while (std::getline(ss, t, ',')) if (!t.empty()) efs.push_back(std::stoi(t)); }
  std::mt19937_64 rng(7);
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> base, queries;
  if (!vectors.empty()) {
    const std::vector<float> all = read_f32(vectors);
    const size_t total = all.size() / dim, need = n + (query_vectors.empty() ? nq : 0);
    if (total < need) { std::fprintf(stderr, "%s holds %zu vectors, need %zu\n", vectors.c_str(), total, need); return 1; }
    for (size_t i = 0; i < need; ++i) (i < n ? base : queries).emplace_back(all.begin() + i * dim, all.begin() + (i + 1) * dim);
  } else {
    for (size_t i = 0; i < n + (query_vectors.empty() ? nq : 0); ++i) {
      std::vector<float> v(dim);
      for (float& x : v) x = g(rng);
      l2_normalize(v);
      (i < n ? base : queries).push_back(v);
    }
  }
  if (!query_vectors.empty()) {
    const std::vector<float> all = read_f32(query_vectors);
    nq = std::min(nq, all.size() / dim);
    for (size_t i = 0; i < nq; ++i) {
      queries.emplace_back(all.begin() + i * dim, all.begin() + (i + 1) * dim);
      l2_normalize(queries.back());
    }
  } else {
    // Queries are near-copies of database items (as real queries are): item + noise.
    for (size_t i = 0; i < nq; ++i) {
      const auto& b = base[rng() % n];
      for (int d = 0; d < dim; ++d) queries[i][d] = b[d] + 0.3f * queries[i][d];  // noise of norm ~0.3
      l2_normalize(queries[i]);
    }
  }
  if (rotate) {  // random orthogonal matrix: Gram-Schmidt on a Gaussian one
    std::mt19937_64 rr(rotate);
    std::vector<std::vector<double>> R(dim, std::vector<double>(dim));
    for (int i = 0; i < dim; ++i) {
      for (double& x : R[i]) x = std::normal_distribution<double>(0, 1)(rr);
      for (int pass = 0; pass < 2; ++pass)
        for (int j = 0; j < i; ++j) {
          double dot = 0;
          for (int k = 0; k < dim; ++k) dot += R[i][k] * R[j][k];
          for (int k = 0; k < dim; ++k) R[i][k] -= dot * R[j][k];
        }
      double nn = 0;
      for (double x : R[i]) nn += x * x;
      for (double& x : R[i]) x /= std::sqrt(nn);
    }
    auto apply = [&](std::vector<float>& v) {
      std::vector<float> o(dim);
      for (int i = 0; i < dim; ++i) { double s = 0; for (int k = 0; k < dim; ++k) s += R[i][k] * v[k]; o[i] = float(s); }
      v = o;
    };
    for (auto& v : base) apply(v);
    for (auto& v : queries) apply(v);
  }
  float scale;
  {
    std::vector<float> mags;
    mags.reserve(n * dim);
    for (auto& v : base) for (float x : v) mags.push_back(std::fabs(x));
    if (scale_rule == "max") {
      scale = 127.0f / *std::max_element(mags.begin(), mags.end());
    } else if (scale_rule[0] == 'q') {
      const double p = std::stod(scale_rule.substr(1)) / 100.0;
      const size_t k = std::min(mags.size() - 1, size_t(p * double(mags.size())));
      std::nth_element(mags.begin(), mags.begin() + k, mags.end());
      scale = 127.0f / std::max(mags[k], 1e-3f);
    } else {
      scale = std::stof(scale_rule);
    }
  }
  size_t clipped = 0;
  for (auto& v : base) for (float x : v) clipped += std::fabs(x) * scale > 127.5f;
  Recipe r;
  r.quant_scale = scale;
  std::vector<int8_t> codes;
  for (auto& v : base) { auto q = quantize(r, v); codes.insert(codes.end(), q.begin(), q.end()); }

  // Exact float ground truth.
  std::vector<std::vector<uint32_t>> truth(nq);
  for (size_t i = 0; i < nq; ++i) {
    std::vector<std::pair<float, uint32_t>> d(n);
    for (size_t j = 0; j < n; ++j) {
      float s = 0;
      for (int k = 0; k < dim; ++k) { const float t = queries[i][k] - base[j][k]; s += t * t; }
      d[j] = {s, uint32_t(j)};
    }
    std::partial_sort(d.begin(), d.begin() + 10, d.end());
    for (int k = 0; k < 10; ++k) truth[i].push_back(d[k].second);
  }
  IndexParams p;
  p.M = M;
  p.ef_construction = efc;
  auto t0 = clk::now();
  CodeIndex idx = hnsw ? CodeIndex::build(codes, dim, p) : CodeIndex::build({}, dim, p);
  const double build_s = secs(t0);
  const size_t bytes = hnsw ? idx.serialize().size() : 0;
  std::vector<std::vector<int8_t>> qcodes;
  for (auto& q : queries) qcodes.push_back(quantize(r, q));

  std::printf("index bench: n=%zu dim=%d queries=%zu M=%d efc=%d kernel=%s vectors=%s queries=%s\n", n, dim, nq, M, efc,
              best_l2_int8_name(), vectors.empty() ? "random-gaussian" : vectors.c_str(),
              query_vectors.empty() ? "near-copies" : query_vectors.c_str());
  std::printf("quantisation: scale %s = %.2f (%.4f%% of database values clipped), rotation %s\n", scale_rule.c_str(), scale,
              100.0 * double(clipped) / double(n * dim), rotate ? std::to_string(rotate).c_str() : "none");
  if (hnsw)
    std::printf("build %.2f s (%.0f vectors/s), serialised %.1f bytes/vector (codes %d + graph %.1f)\n", build_s, n / build_s,
                double(bytes) / n, dim, double(bytes) / n - dim);
  std::printf("%-14s %10s %10s %12s %12s\n", "search", "recall@1", "recall@10", "queries/s", "CPU us/query");
  auto run = [&](const char* name, auto fn) {
    size_t hit1 = 0, hit10 = 0;
    auto t = clk::now();
    const std::clock_t c0 = std::clock();
    std::vector<std::vector<Neighbor>> res(nq);
    for (size_t i = 0; i < nq; ++i) res[i] = fn(i);
    const double s = secs(t), cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
    for (size_t i = 0; i < nq; ++i) {
      hit1 += !res[i].empty() && res[i][0].entry == truth[i][0];
      for (auto& nb : res[i]) hit10 += std::find(truth[i].begin(), truth[i].end(), nb.entry) != truth[i].end();
    }
    std::printf("%-14s %10.4f %10.4f %12.0f %12.1f\n", name, double(hit1) / nq, double(hit10) / (10.0 * nq), nq / s, 1e6 * cpu / nq);
  };
  // Asymmetric re-ranking: float query (in code units) against the int8 codes of the candidates.
  std::vector<std::vector<float>> qscaled;
  for (auto& q : queries) { qscaled.emplace_back(q); for (float& x : qscaled.back()) x *= scale; }
  auto rerank10 = [&](size_t qi, std::vector<Neighbor> cand) {
    const float* qs = qscaled[qi].data();
    std::vector<std::pair<float, uint32_t>> d(cand.size());
    for (size_t c = 0; c < cand.size(); ++c) {
      const int8_t* code = codes.data() + size_t(cand[c].entry) * dim;
      float s = 0;
      for (int k = 0; k < dim; ++k) { const float t = qs[k] - float(code[k]); s += t * t; }
      d[c] = {s, cand[c].entry};
    }
    const size_t k = std::min<size_t>(10, d.size());
    std::partial_sort(d.begin(), d.begin() + k, d.end());
    std::vector<Neighbor> out(k);
    for (size_t c = 0; c < k; ++c) out[c] = Neighbor{int32_t(d[c].first), d[c].second};
    return out;
  };
  if (hnsw)
    for (int ef : efs) {
      char name[40];
      std::snprintf(name, sizeof name, "hnsw ef=%d", ef);
      run(name, [&](size_t i) { return idx.search(qcodes[i].data(), 10, ef); });
      if (rerank) {
        std::snprintf(name, sizeof name, "hnsw+rr ef=%d", ef);
        run(name, [&](size_t i) { return rerank10(i, idx.search(qcodes[i].data(), rerank_k ? std::min(rerank_k, size_t(ef)) : size_t(ef), ef)); });
      }
    }
  // Exhaustive scans over the same codes (what CodeIndex::exact does, without needing a graph).
  const L2Int8Fn l2 = best_l2_int8();
  run("exact-int8", [&](size_t i) {
    std::vector<std::pair<int32_t, uint32_t>> d(n);
    for (size_t j = 0; j < n; ++j) d[j] = {l2(qcodes[i].data(), codes.data() + j * dim, size_t(dim)), uint32_t(j)};
    std::partial_sort(d.begin(), d.begin() + 10, d.end());
    std::vector<Neighbor> out(10);
    for (int k = 0; k < 10; ++k) out[k] = Neighbor{d[k].first, d[k].second};
    return out;
  });
  if (rerank) {
    std::vector<Neighbor> all(n);
    for (size_t j = 0; j < n; ++j) all[j] = Neighbor{0, uint32_t(j)};
    run("exact-asym", [&](size_t i) { return rerank10(i, all); });
  }
  return 0;
}
