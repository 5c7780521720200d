// Text search quality and speed on a real bundle: for sampled tokens, a typed description built
// from the token's trait values with words dropped (25%), shuffled, misspelt (30% of words of 5+
// letters get one edit) and filler words added; reports how often the token is in the top 10, and
// query latency. Prints one table; `--min-top10 X` makes the exit status fail below X (for tests).
//   text_bench BUNDLE [--queries 500] [--seed 1] [--min-top10 0.9]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "bundle_io.h"
#include "text_index.h"

using namespace nftlens;

int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: text_bench BUNDLE [--queries N] [--seed S] [--min-top10 X]\n"); return 2; }
  size_t nq = 500;
  uint64_t seed = 1;
  double min_top10 = -1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--queries") nq = std::stoul(argv[i + 1]);
    else if (a == "--seed") seed = std::stoull(argv[i + 1]);
    else if (a == "--min-top10") min_top10 = std::stod(argv[i + 1]);
  }
  const Bundle b = load_bundle_dir(argv[1]);
  auto t0 = std::chrono::steady_clock::now();
  const TextIndex index(b.catalogue);
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const char* filler[] = {"with", "and", "a", "the", "wearing", "noun", "nft"};
  size_t top1 = 0, top10 = 0;
  double total_ms = 0, worst_ms = 0;
  std::string example;
  for (size_t q = 0; q < nq; ++q) {
    const uint32_t t = uint32_t(rng() % b.catalogue.tokens.size());
    std::vector<std::string> words;
    for (auto& [k, v] : b.catalogue.tokens[t].traits)
      for (auto& w : text_words(b.catalogue.strings[v])) words.push_back(w);
    std::vector<std::string> kept;
    for (auto& w : words)
      if (!chance(0.25)) kept.push_back(w);
    if (kept.size() < 2) kept = words;
    for (auto& w : kept)
      if (w.size() >= 5 && chance(0.3)) {
        const size_t p = rng() % w.size();
        switch (rng() % 3) {
          case 0: w.erase(p, 1); break;                                      // deletion
          case 1: w[p] = char('a' + rng() % 26); break;                      // substitution
          default: if (p + 1 < w.size()) std::swap(w[p], w[p + 1]); break;  // transposition
        }
      }
    std::shuffle(kept.begin(), kept.end(), rng);
    kept.push_back(filler[rng() % 7]);
    std::string query;
    for (auto& w : kept) query += (query.empty() ? "" : " ") + w;
    if (q == 0) example = query + "  -> token " + b.catalogue.tokens[t].token_id;
    const auto s = std::chrono::steady_clock::now();
    const auto hits = index.search(query, 10);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
    total_ms += ms;
    worst_ms = std::max(worst_ms, ms);
    for (size_t r = 0; r < hits.size(); ++r)
      if (hits[r].token == t) { top1 += r == 0; ++top10; break; }
  }
  std::printf("text bench: %s, %zu tokens, %zu terms, %zu postings (built at load in %.1f ms; 0 bundle bytes)\n", argv[1],
              b.catalogue.tokens.size(), index.terms(), index.postings(), build_ms);
  std::printf("example query: %s\n", example.c_str());
  std::printf("%-10s %8s %8s %12s %12s\n", "queries", "top-1", "top-10", "mean ms", "worst ms");
  std::printf("%-10zu %8.3f %8.3f %12.3f %12.3f\n", nq, double(top1) / nq, double(top10) / nq, total_ms / nq, worst_ms);
  return (min_top10 >= 0 && double(top10) / nq < min_top10) ? 1 : 0;
}
