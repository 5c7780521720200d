// Partitioned bundles at scale (issue #10): for N tokens (default 1,000,000), the bytes a cold
// query downloads beyond the runtime and model, recall@10 against an exact scan of every token,
// top-1 of the original, and the time to rank centroids and scan the probed shards.
//
// Tokens: every token of a real one-index bundle (codes and metadata), plus synthetic tokens from an
// additive trait model fitted on them -- code = mean + sum over trait types of the effect of the
// token's value + the residual of a random real token -- with each trait's values drawn at their
// real frequencies and the metadata of a random real token given those traits. (Nouns are built from
// independent traits, so this keeps the clusters real descriptors form, unlike a single Gaussian.)
// Queries are real: altered copies listed in a queries.csv (as for `nftlens eval`), described with
// the real bundle's recipe and model through the same code as `nftlens query`.
//
//   partition_bench BUNDLE QUERIES.csv [--total 1000000] [--partition-size 1000] [--probes 4,8,16,32]
//                   [--fragment-tokens 32] [--max-queries 400] [--threads 2] [--max-ratio 2]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "bundle_io.h"
#include "native_lens.h"
#include "partitions.h"
#include "search.h"
#include "thumb_pack.h"

using namespace nftlens;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;
static double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

int main(int argc, char** argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: partition_bench BUNDLE QUERIES.csv [--total N] [--partition-size S] [--probes a,b,c] [--fragment-tokens F] [--max-queries Q]\n"); return 2; }
  const std::string bundle_dir = argv[1], csv = argv[2];
  size_t total = 1000000, psize = 1000, max_q = 400;
  double max_ratio = 2.0;
  uint32_t frag = 32;  // (the builder's default)
  int threads = 2;
  std::vector<size_t> probes{4, 8, 16, 32};
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--total") total = std::stoul(v);
    else if (a == "--partition-size") psize = std::stoul(v);
    else if (a == "--fragment-tokens") frag = uint32_t(std::stoul(v));
    else if (a == "--max-queries") max_q = std::stoul(v);
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--max-ratio") max_ratio = std::stod(v);
    else if (a == "--probes") { probes.clear(); std::stringstream ss(v); std::string x; while (std::getline(ss, x, ',')) probes.push_back(std::stoul(x)); }
  }
  const auto t_start = clk::now();
  NativeLens s(bundle_dir, 1);
  const Bundle& real = s.bundle();
  if (real.partitioned()) { std::fprintf(stderr, "%s: give a one-index bundle (its codes are the real part)\n", bundle_dir.c_str()); return 2; }
  const int dim = real.index.dim();
  const size_t n_real = real.catalogue.tokens.size();
  total = std::max(total, n_real);

  // 1. Additive trait model on the real codes (a few rounds of backfitting).
  std::vector<uint32_t> types;  // trait type string ids
  for (auto& t : real.catalogue.tokens)
    for (auto& [k, v] : t.traits)
      if (std::find(types.begin(), types.end(), k) == types.end()) types.push_back(k);
  const size_t T = types.size();
  std::vector<std::vector<uint32_t>> value(T, std::vector<uint32_t>(n_real, 0));  // 0 = "" (trait missing)
  for (size_t i = 0; i < n_real; ++i)
    for (auto& [k, v] : real.catalogue.tokens[i].traits) value[size_t(std::find(types.begin(), types.end(), k) - types.begin())][i] = v;
  std::vector<float> x(n_real * dim), mu(dim, 0.f);
  for (size_t i = 0; i < n_real; ++i)
    for (int d = 0; d < dim; ++d) { x[i * dim + d] = real.index.code(i)[d]; mu[d] += x[i * dim + d] / float(n_real); }
  std::vector<std::unordered_map<uint32_t, std::vector<float>>> effect(T);
  auto fitted = [&](size_t i, size_t skip, int d) {
    float f = mu[d];
    for (size_t t = 0; t < T; ++t)
      if (t != skip) { auto it = effect[t].find(value[t][i]); if (it != effect[t].end()) f += it->second[d]; }
    return f;
  };
  for (int round = 0; round < 3; ++round)
    for (size_t t = 0; t < T; ++t) {
      std::unordered_map<uint32_t, std::pair<std::vector<double>, size_t>> acc;
      for (size_t i = 0; i < n_real; ++i) {
        auto& a = acc[value[t][i]];
        if (a.first.empty()) a.first.assign(dim, 0.0);
        ++a.second;
        for (int d = 0; d < dim; ++d) a.first[d] += x[i * dim + d] - fitted(i, t, d);
      }
      for (auto& [v, a] : acc) { auto& e = effect[t][v]; e.assign(dim, 0.f); for (int d = 0; d < dim; ++d) e[d] = float(a.first[d] / double(a.second)); }
    }
  double var_x = 0, var_r = 0;
  std::vector<float> resid(n_real * dim);
  for (size_t i = 0; i < n_real; ++i)
    for (int d = 0; d < dim; ++d) {
      resid[i * dim + d] = x[i * dim + d] - fitted(i, T, d);
      var_x += double(x[i * dim + d] - mu[d]) * (x[i * dim + d] - mu[d]);
      var_r += double(resid[i * dim + d]) * resid[i * dim + d];
    }

  // 2. Real tokens first, then synthetic ones (codes + catalogue entries).
  Catalogue cat = real.catalogue;
  std::vector<int8_t> codes(total * size_t(dim));
  for (size_t i = 0; i < n_real; ++i) std::copy_n(real.index.code(i), dim, codes.data() + i * dim);
  std::mt19937_64 rng(7);
  cat.tokens.reserve(total);
  for (size_t j = n_real; j < total; ++j) {
    Token tk = real.catalogue.tokens[rng() % n_real];
    tk.traits.clear();
    const size_t r = rng() % n_real;
    for (int d = 0; d < dim; ++d) codes[j * dim + d] = 0;
    std::vector<float> c(mu.begin(), mu.end());
    for (size_t t = 0; t < T; ++t) {
      const uint32_t v = value[t][rng() % n_real];
      if (v) tk.traits.emplace_back(types[t], v);
      if (auto it = effect[t].find(v); it != effect[t].end()) for (int d = 0; d < dim; ++d) c[d] += it->second[d];
    }
    for (int d = 0; d < dim; ++d) codes[j * dim + d] = int8_t(std::clamp(std::lround(c[d] + resid[r * dim + d]), -127L, 127L));
    tk.token_id = "s" + std::to_string(j);
    tk.name = "Synthetic " + std::to_string(j);
    tk.image = "images/s" + std::to_string(j) + ".png";
    tk.thumb = ThumbRef{uint32_t(j / 1000), 2500, 2500ull * (j % 1000), {uint8_t(j), uint8_t(j >> 8), uint8_t(j >> 16), 4, 5, 6, 7, 8}};  // (as a pack per ~1,000 tokens would give)
    cat.tokens.push_back(std::move(tk));
  }
  cat.collections[0].token_count = uint32_t(total);
  cat.entry_token.resize(total);
  for (size_t i = 0; i < total; ++i) cat.entry_token[i] = uint32_t(i);
  const double t_synth = secs(t_start);

  // 3. Partition exactly as the builder does.
  const size_t P = std::max<size_t>(1, (total + psize / 2) / psize);
  std::vector<uint32_t> orig_id(total);
  for (size_t i = 0; i < total; ++i) cat.tokens[i].rarity_rank = uint32_t(i);  // carry the original position through the reorder
  auto t0 = clk::now();
  PartitionedParts parts = partition_bundle(cat, codes, dim, P, 8, frag, threads, max_ratio);
  const double t_part = secs(t0);
  std::vector<uint32_t> new_index(total);
  for (size_t i = 0; i < total; ++i) new_index[cat.tokens[i].rarity_rank] = uint32_t(i);

  Bundle b;
  b.recipe = real.recipe;
  b.layout = PartitionLayout::deserialize(parts.table.data(), parts.table.size(), dim, total, "partitions");
  b.catalogue = deserialize_catalogue(parts.head_catalogue.data(), parts.head_catalogue.size(), "catalogue");
  PartStore store(size_t(1) << 40);
  for (uint32_t p = 0; p < b.layout.partitions(); ++p) store.add_shard(b.layout, b.catalogue.collections.size(), p, parts.shards[p].data(), parts.shards[p].size());
  uint64_t shard_bytes = 0, frag_bytes = 0;
  for (auto& x : parts.shards) shard_bytes += x.size();
  for (auto& x : parts.fragments) frag_bytes += x.size();
  const FileEntry& rf = real.manifest.file("recipe");
  // The manifest as the builder writes it for this bundle: the real one's, less its thumbnail packs
  // (partition table version 5 lists them; in the manifest's JSON they were ~200 bytes each).
  uint64_t manifest_bytes = 0;
  {
    const auto mb = read_bytes(fs::path(bundle_dir) / "manifest.json", 64 << 20);
    nlohmann::json mj = nlohmann::json::parse(mb.begin(), mb.end());
    nlohmann::json kept = nlohmann::json::array();
    for (auto& f : mj.at("files"))
      if (f.at("role") != "thumbs") kept.push_back(f);
    mj["files"] = kept;
    manifest_bytes = mj.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).size() + 1;
  }
  // (and the verdict's collection test, loaded at open too: one style model per collection)
  const uint64_t style_bytes = real.manifest.has("style") ? real.manifest.file("style").bytes : 0;
  const uint64_t head_bytes = manifest_bytes + rf.bytes + style_bytes + parts.table.size() + parts.head_catalogue.size();
  // Re-ranking fetches the first kRerankCandidates hits' fragments and one thumbnail each (a byte
  // range of its partition's pack): at the real bundle's mean thumbnail size.
  uint64_t pack_bytes = 0;
  for (auto& p : real.manifest.packs) pack_bytes += p.bytes;
  const double thumb_bytes = double(pack_bytes) / double(std::max<uint64_t>(1, real.manifest.tokens));

  // 4. Real queries.
  std::unordered_map<std::string, uint32_t> by_key;
  for (uint32_t t = 0; t < n_real; ++t) {
    by_key.emplace(real.catalogue.tokens[t].image, t);
    by_key.emplace(fs::path(real.catalogue.tokens[t].image).stem().string(), t);
    by_key.emplace(real.catalogue.tokens[t].token_id, t);
  }
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::pair<QueryDescriptors, uint32_t>> queries;
  while (std::getline(in, line) && queries.size() < max_q) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) f.push_back(c.size() >= 2 && c.front() == '"' && c.back() == '"' ? c.substr(1, c.size() - 2) : c);
    if (f.size() < 2) continue;
    auto it = by_key.find(f[1]);
    if (it == by_key.end()) it = by_key.find(fs::path(f[1]).stem().string());
    if (it == by_key.end()) continue;
    queries.emplace_back(s.describe(*s.session(s.decode(read_bytes(fs::path(csv).parent_path() / f[0], 64u << 20)))), new_index[it->second]);
  }

  std::printf("partition_bench: %zu tokens (%zu real from %s, %zu synthetic from an additive trait model: %zu trait types, "
              "residual variance %.0f%% of total), %d-d int8 codes, %zu queries (real altered copies)\n",
              total, n_real, bundle_dir.c_str(), total - n_real, T, 100.0 * var_r / std::max(1e-9, var_x), dim, queries.size());
  std::printf("layout: %zu partitions (%u-%u tokens), k-means + write %.1f s (synthesis %.1f s); table %zu B, head catalogue %zu B, recipe %llu B;"
              " shards %.1f B/token (mean %.0f B), fragments of %u tokens %.1f B/token (mean %.0f B)\n",
              b.layout.partitions(), *std::min_element(b.layout.counts.begin(), b.layout.counts.end()), *std::max_element(b.layout.counts.begin(), b.layout.counts.end()),
              t_part, t_synth, parts.table.size(), parts.head_catalogue.size(), (unsigned long long)rf.bytes, double(shard_bytes) / double(total),
              double(shard_bytes) / double(b.layout.partitions()), frag, double(frag_bytes) / double(total), double(frag_bytes) / double(parts.fragments.size()));

  // Exact top-10 (every partition) once per query.
  std::vector<std::vector<TokenHit>> exact(queries.size());
  SearchOptions ex;
  ex.exact = true;
  double t_exact = 0;
  for (size_t i = 0; i < queries.size(); ++i) { auto a = clk::now(); exact[i] = search_partitions(b, store, queries[i].first, ex); t_exact += secs(a); }
  size_t exact_top1 = 0;
  for (size_t i = 0; i < queries.size(); ++i) exact_top1 += !exact[i].empty() && exact[i][0].token == queries[i].second;
  const size_t packs = partition_pack_groups(b.layout.counts).size();  // (as the builder groups them)
  const size_t shard_files = b.layout.shard_files().size(), fragment_files = parts.layout.fragment_files().size();
  const size_t files = 7 + shard_files + packs + fragment_files;  // head 5 + stats + directory, shards, packs, fragments (the word index: text_bench)
  std::printf("files: %zu (%.2f per 1,000 tokens: %zu files of %zu shards, %zu thumbnail packs, %zu files of %zu catalogue fragments, 7 others); mean thumbnail %.0f B\n",
              files, 1000.0 * double(files) / double(total), shard_files, b.layout.partitions(), packs, fragment_files, b.layout.fragments.size(), thumb_bytes);
  std::printf("head (loaded at open, once per page): %.0f KB\n", double(head_bytes) / 1024.0);
  std::printf("\n%8s %10s %8s %8s %12s %12s %12s %14s %14s %16s %16s %10s\n", "probe", "recall@10", "top-1", "exact", "cold KB mean", "cold KB p90",
              "cold KB max", "+rerank mean", "+rerank p90", "query-only mean", "query-only p90", "scan ms");
  for (size_t probe : probes) {
    SearchOptions o;
    o.probe = probe;
    double recall = 0, ms = 0;
    size_t top1 = 0;
    std::vector<double> cold, cold_rr;
    double shard_kb = 0, fragment_kb = 0;  // (means, with re-ranking)
    o.k = kRerankCandidates;  // (the first 10 of these are the top 10)
    for (size_t i = 0; i < queries.size(); ++i) {
      const auto a = clk::now();
      const auto candidates = search_partitions(b, store, queries[i].first, o);
      ms += secs(a) * 1000;
      const std::vector<TokenHit> hits(candidates.begin(), candidates.begin() + long(std::min<size_t>(10, candidates.size())));
      size_t inter = 0;
      for (auto& h : hits)
        for (auto& e : exact[i]) inter += h.token == e.token;
      recall += double(inter) / double(std::max<size_t>(1, exact[i].size()));
      top1 += !hits.empty() && hits[0].token == queries[i].second;
      uint64_t bytes = head_bytes;
      for (uint32_t p : shards_to_probe(b, queries[i].first, o)) bytes += b.layout.shards[p].bytes;
      shard_kb += double(bytes - head_bytes) / 1024.0 / double(queries.size());
      uint64_t rr = bytes;
      for (uint32_t f : fragments_for(b, hits)) bytes += parts.fragments[f].size();
      for (uint32_t f : fragments_for(b, candidates)) { rr += parts.fragments[f].size(); fragment_kb += double(parts.fragments[f].size()) / 1024.0 / double(queries.size()); }
      cold.push_back(double(bytes) / 1024.0);
      cold_rr.push_back((double(rr) + thumb_bytes * double(candidates.size())) / 1024.0);
    }
    std::sort(cold.begin(), cold.end());
    std::sort(cold_rr.begin(), cold_rr.end());
    double mean_rr = 0;
    for (double c : cold_rr) mean_rr += c / double(cold_rr.size());
    double mean = 0;
    for (double c : cold) mean += c / double(cold.size());
    const double nq = double(std::max<size_t>(1, queries.size()));
    const double head_kb = double(head_bytes) / 1024.0, p90_rr = cold_rr[size_t(0.9 * double(cold_rr.size() - 1))];
    std::printf("%8zu %10.3f %8.3f %8.3f %12.0f %12.0f %12.0f %14.0f %14.0f %16.0f %16.0f %10.2f\n", probe, recall / nq, double(top1) / nq, double(exact_top1) / nq, mean,
                cold[size_t(0.9 * double(cold.size() - 1))], cold.back(), mean_rr, p90_rr, mean_rr - head_kb, p90_rr - head_kb, ms / nq);
    std::printf("         +rerank mean KB: head %.0f (manifest %.0f, recipe %.0f, style %.0f, table %.0f), shards %.0f, fragments %.0f, thumbnails %.0f\n", head_kb,
                double(manifest_bytes) / 1024.0, double(rf.bytes) / 1024.0, double(style_bytes) / 1024.0, double(parts.table.size()) / 1024.0, shard_kb, fragment_kb, thumb_bytes * double(kRerankCandidates) / 1024.0);
  }
  std::printf("(exact scan of all %zu tokens: %.1f ms per query; cold KB = manifest + recipe + style model + partition table + head catalogue + probed shards + fragments of the top 10;"
              " +rerank: the fragments of the first %zu candidates and their thumbnails instead; query-only: +rerank without the head; top-1 before re-ranking)\n",
              total, t_exact * 1000 / double(std::max<size_t>(1, queries.size())), kRerankCandidates);
  return 0;
}
