// Index benchmark (native and wasm from the same source): recall@1/@10 of the int8 HNSW against
// exact float search, queries/s, bytes per vector. Vectors: random Gaussian (default) or a raw
// float32 file (--vectors FILE, n x dim), e.g. drawn by make_vectors from a real bundle's statistics.
//   index_bench [--n 10000] [--dim 48] [--queries 1000] [--M 12] [--vectors FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "code_index.h"
#include "descriptor.h"
#include "distance.h"

using namespace nftlens;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

int main(int argc, char** argv) {
  size_t n = 10000, nq = 1000;
  int dim = 48, M = 12;
  std::string vectors;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--n") n = std::stoul(argv[i + 1]);
    else if (a == "--dim") dim = std::stoi(argv[i + 1]);
    else if (a == "--queries") nq = std::stoul(argv[i + 1]);
    else if (a == "--M") M = std::stoi(argv[i + 1]);
    else if (a == "--vectors") vectors = argv[i + 1];
  }
  std::mt19937_64 rng(7);
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> base, queries;
  if (!vectors.empty()) {
    std::ifstream f(vectors, std::ios::binary);
    std::vector<float> all;
    float x;
    while (f.read(reinterpret_cast<char*>(&x), 4)) all.push_back(x);
    const size_t total = all.size() / dim;
    if (total < n + nq) { std::fprintf(stderr, "%s holds %zu vectors, need %zu\n", vectors.c_str(), total, n + nq); return 1; }
    for (size_t i = 0; i < n + nq; ++i) (i < n ? base : queries).emplace_back(all.begin() + i * dim, all.begin() + (i + 1) * dim);
  } else {
    for (size_t i = 0; i < n + nq; ++i) {
      std::vector<float> v(dim);
      for (float& x : v) x = g(rng);
      l2_normalize(v);
      (i < n ? base : queries).push_back(v);
    }
  }
  // Queries are near-copies of database items (as real queries are): item + noise.
  for (size_t i = 0; i < nq; ++i) {
    const auto& b = base[rng() % n];
    for (int d = 0; d < dim; ++d) queries[i][d] = b[d] + 0.3f * queries[i][d];  // noise of norm ~0.3
    l2_normalize(queries[i]);
  }
  Recipe r;
  float mx = 0;
  for (auto& v : base) for (float x : v) mx = std::max(mx, std::fabs(x));
  r.quant_scale = 127.0f / mx;
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
  auto t0 = clk::now();
  CodeIndex idx = CodeIndex::build(codes, dim, p);
  const double build_s = secs(t0);
  const size_t bytes = idx.serialize().size();
  std::vector<std::vector<int8_t>> qcodes;
  for (auto& q : queries) qcodes.push_back(quantize(r, q));

  std::printf("index bench: n=%zu dim=%d queries=%zu M=%d kernel=%s vectors=%s\n", n, dim, nq, M, best_l2_int8_name(),
              vectors.empty() ? "random-gaussian" : vectors.c_str());
  std::printf("build %.2f s (%.0f vectors/s), serialised %.1f bytes/vector (codes %d + graph %.1f)\n", build_s, n / build_s,
              double(bytes) / n, dim, double(bytes) / n - dim);
  std::printf("%-10s %10s %10s %12s\n", "search", "recall@1", "recall@10", "queries/s");
  auto run = [&](const char* name, auto fn) {
    size_t hit1 = 0, hit10 = 0;
    auto t = clk::now();
    std::vector<std::vector<Neighbor>> res(nq);
    for (size_t i = 0; i < nq; ++i) res[i] = fn(qcodes[i].data());
    const double s = secs(t);
    for (size_t i = 0; i < nq; ++i) {
      hit1 += !res[i].empty() && res[i][0].entry == truth[i][0];
      for (auto& nb : res[i]) hit10 += std::find(truth[i].begin(), truth[i].end(), nb.entry) != truth[i].end();
    }
    std::printf("%-10s %10.4f %10.4f %12.0f\n", name, double(hit1) / nq, double(hit10) / (10.0 * nq), nq / s);
  };
  for (int ef : {16, 32, 64, 96, 128}) {
    char name[32];
    std::snprintf(name, sizeof name, "hnsw ef=%d", ef);
    run(name, [&](const int8_t* q) { return idx.search(q, 10, ef); });
  }
  run("exact-int8", [&](const int8_t* q) { return idx.exact(q, 10); });
  return 0;
}
