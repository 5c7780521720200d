// Text search quality and speed: for sampled tokens, a typed description built from the token's
// trait values with words dropped (25%), shuffled, misspelt (30% of words of 5+ letters get one
// edit) and filler words added; reports how often the token is in the top 10, query latency
// (mean, p50, p90, max wall ms; process CPU ms per query), the index's build-at-load time, the
// catalogue's bytes per token and the heap the built TextIndex holds per token. The same source
// builds natively and to wasm (Node, linking only the core); queries come from a portable
// generator (mt19937_64, no std:: distributions), so both runs time the same queries on the same
// catalogue (the "queries" hash and top-1/top-10 must agree). Prints one table row;
// `--min-top10 X` makes the exit status fail below X (for tests).
//   text_bench BUNDLE_DIR            [opts]   a built bundle (only manifest.json and the catalogue)
//   text_bench --metadata DIR        [opts]   native: DIR/metadata.jsonl (+ collection.json), no
//                                             images needed (bench/nouns_metadata.mjs writes one)
//   text_bench --catalogue FILE      [opts]   native and wasm: an encoded catalogue
// opts: [--write-catalogue FILE] [--queries 500] [--warmup 20] [--seed 1] [--min-top10 0.9]
//       [--label NAME] [--no-header] [--dump FILE] [--slowest N]
// --chunks BYTES: instead, what a cold text query fetches from a partitioned bundle's word index in
// chunks of about BYTES (shared/word_chunks.h) with catalogue fragments of --fragment-tokens (512):
// the lexicon (once per page), then per query its words' chunks and the fragments of its top 20;
// checks every query's top 20 and total against the whole-catalogue index.
// --dump writes every query's top 10 (token:score) plus a few filter/prefix queries, to check that
// two builds (native and wasm, or before and after a change to the index) rank identically.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <malloc.h>
#include <numeric>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bundle.h"
#include "catalogue.h"
#include "text_index.h"
#include "thumb_pack.h"
#include "word_chunks.h"
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#else
#include <ctime>

#include <nlohmann/json.hpp>

#include "collection.h"
#endif

using namespace nftlens;
using clk = std::chrono::steady_clock;

namespace {

double ms_since(clk::time_point t) { return std::chrono::duration<double, std::milli>(clk::now() - t).count(); }

// Bytes the allocator hands out now (glibc mallinfo2 natively, emmalloc's mallinfo in wasm).
size_t heap_in_use() {
#if defined(__EMSCRIPTEN__)
  return size_t(mallinfo().uordblks);
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;  // small blocks + mmapped big ones
#else
  return 0;
#endif
}

// CPU time of the process in ms (less sensitive than wall time to other load on the machine).
double cpu_ms() {
#ifdef __EMSCRIPTEN__
  return EM_ASM_DOUBLE({ const u = process.cpuUsage(); return (u.user + u.system) / 1000; });
#else
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
#endif
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

#ifndef __EMSCRIPTEN__
// What `nftlens build` makes of a collection's metadata (ingest, rarity, thumbnail names), without
// images. Strings are interned through a map (Catalogue::intern is linear per call).
Catalogue catalogue_from_metadata(const std::string& dir) {
  Catalogue cat;
  Collection c;
  c.slug = "collection";
  if (std::ifstream cf(dir + "/collection.json"); cf) {
    const auto j = nlohmann::json::parse(cf);
    auto s = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
    c.slug = s("slug"), c.name = s("name"), c.description = s("description"), c.chain = s("chain");
    c.contract = s("contract"), c.link_template = s("link_template");
  }
  cat.collections.push_back(c);
  std::unordered_map<std::string, uint32_t> ids{{"", 0}};
  auto intern = [&](const std::string& s) {
    auto [it, added] = ids.emplace(s, uint32_t(cat.strings.size()));
    if (added) cat.strings.push_back(s);
    return it->second;
  };
  std::ifstream in(dir + "/metadata.jsonl");
  if (!in) throw std::runtime_error("cannot read " + dir + "/metadata.jsonl");
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const SourceToken t = parse_token_metadata(line, std::to_string(n - 1), "metadata.jsonl:" + std::to_string(n));
    Token tk;
    tk.token_id = t.token_id, tk.name = t.name, tk.image = t.image_ref, tk.external_url = t.external_url;
    tk.thumb = ThumbRef{uint32_t((n - 1) / kPackTokens), 2500, 2500ull * ((n - 1) % kPackTokens), {uint8_t(n), uint8_t(n >> 8), 3, 4, 5, 6, 7, 8}};
    tk.description = intern(t.description);
    for (auto& [k, v] : t.traits) tk.traits.emplace_back(intern(k), intern(v));
    cat.tokens.push_back(std::move(tk));
  }
  cat.collections[0].token_count = uint32_t(cat.tokens.size());
  cat.entry_token.resize(cat.tokens.size());
  for (size_t i = 0; i < cat.tokens.size(); ++i) cat.entry_token[i] = uint32_t(i);
  cat.compute_rarity();
  return cat;
}
#endif

struct Query {
  std::string text;
  uint32_t token;
};

// Portable: only mt19937_64's raw output (specified by the standard), so libstdc++ and libc++
// (wasm) make the same queries.
std::vector<Query> make_queries(const Catalogue& cat, size_t nq, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&] { return double(rng() >> 11) * (1.0 / 9007199254740992.0); };
  auto chance = [&](double p) { return uniform() < p; };
  const char* filler[] = {"with", "and", "a", "the", "wearing", "noun", "nft"};
  std::vector<Query> out;
  for (size_t q = 0; q < nq; ++q) {
    const uint32_t t = uint32_t(rng() % cat.tokens.size());
    std::vector<std::string> words;
    for (auto& [k, v] : cat.tokens[t].traits)
      for (auto& w : text_words(cat.strings[v])) words.push_back(w);
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
    for (size_t i = kept.size(); i > 1; --i) std::swap(kept[i - 1], kept[rng() % i]);  // shuffle
    kept.push_back(filler[rng() % 7]);
    std::string query;
    for (auto& w : kept) query += (query.empty() ? "" : " ") + w;
    out.push_back({query, t});
  }
  return out;
}

// Bytes a cold text query fetches through the word chunks (lexicon apart), and equality with the
// whole-catalogue index; prints a summary.
int chunk_bench(const Catalogue& cat, const std::vector<Query>& queries, size_t chunk_bytes, size_t fragment_tokens, const std::string& label) {
  auto t0 = clk::now();
  const WordParts parts = build_word_parts(cat, chunk_bytes);
  const double build_ms = ms_since(t0);
  std::vector<size_t> frag;
  for (size_t f = 0; f < cat.tokens.size(); f += fragment_tokens) frag.push_back(serialize_catalogue(cat.slice(f, fragment_tokens)).size());
  const Catalogue whole = Catalogue::join({cat});
  const TextIndex full(whole);
  const WordLexicon lex0 = WordLexicon::decode(parts.lexicon.data(), parts.lexicon.size(), "lexicon");
  std::vector<size_t> sizes;
  for (auto& c : parts.chunks) sizes.push_back(c.size());
  std::vector<double> chunk_kb, frag_kb, total_kb, chunks_n, ms;
  size_t mismatches = 0;
  for (auto& q : queries) {
    const auto s = clk::now();
    TextIndex idx(WordLexicon::decode(parts.lexicon.data(), parts.lexicon.size(), "lexicon"), cat.collections);
    const TextQuery tq = parse_text_query(q.text);
    size_t cb = 0;
    const auto need = idx.missing_chunks(tq);
    for (uint32_t id : need) {
      idx.add_chunk(id, WordChunk::decode(parts.chunks[id].data(), parts.chunks[id].size(), idx.lexicon(), id, "words"));
      cb += parts.chunks[id].size();
    }
    size_t total = 0, want_total = 0;
    const auto hits = idx.search(tq, 20, &total);
    ms.push_back(ms_since(s));
    const auto want = full.search(tq, 20, &want_total);
    bool same = total == want_total && hits.size() == want.size();
    for (size_t i = 0; same && i < hits.size(); ++i) same = hits[i].token == want[i].token && hits[i].score == want[i].score;
    mismatches += !same;
    std::vector<size_t> fs;
    for (auto& h : hits) fs.push_back(h.token / fragment_tokens);
    std::sort(fs.begin(), fs.end());
    fs.erase(std::unique(fs.begin(), fs.end()), fs.end());
    size_t fb = 0;
    for (size_t f : fs) fb += frag[f];
    chunk_kb.push_back(double(cb) / 1024);
    frag_kb.push_back(double(fb) / 1024);
    total_kb.push_back(double(cb + fb) / 1024);
    chunks_n.push_back(double(need.size()));
  }
  auto mean = [](const std::vector<double>& v) { double a = 0; for (double x : v) a += x; return v.empty() ? 0 : a / double(v.size()); };
  auto pct = [](std::vector<double> v, double p) { std::sort(v.begin(), v.end()); return v.empty() ? 0 : v[std::min(v.size() - 1, size_t(p * double(v.size())))]; };
  std::vector<double> sz(sizes.begin(), sizes.end());
  size_t all = 0;
  for (size_t x : sizes) all += x;
  size_t numeric_ranges = 0;
  for (auto& r : lex0.numeric) numeric_ranges += r.size();
  std::printf("# %s: %zu tokens; word index built in %.0f ms: lexicon %zu bytes (%zu listed terms, %zu number ranges, %zu trait pairs), "
              "%zu chunks (%zu word, %zu trait) of %.1f KB mean / %.1f median / %.1f max, %.2f MB in all; fragments of %zu tokens: %.1f KB mean\n",
              label.c_str(), cat.tokens.size(), build_ms, parts.lexicon.size(), lex0.terms.size(), numeric_ranges, lex0.pairs.size(), sizes.size(),
              lex0.word_chunks(), lex0.pair_chunk_first.size(), mean(sz) / 1024, pct(sz, 0.5) / 1024, pct(sz, 1.0) / 1024, double(all) / 1048576,
              fragment_tokens, double(std::accumulate(frag.begin(), frag.end(), size_t(0))) / double(frag.size()) / 1024);
  // Partition table version 5: the first text call also fetches the directory (where each fragment is).
  PartitionLayout dl;
  for (size_t b : frag) dl.fragments.push_back(PartFile{b, {}, 8});
  const size_t per = std::max<size_t>(1, (kPartitionPackTokens + fragment_tokens - 1) / fragment_tokens);
  for (size_t f = 0; f < frag.size(); f += per) {
    PartGroup g;
    g.parts = uint32_t(std::min(per, frag.size() - f));
    for (size_t i = f; i < f + g.parts; ++i) g.file.bytes += frag[i];
    dl.fragment_groups.push_back(g);
  }
  std::printf("# once per page, with the lexicon: the directory of the %zu fragments, %.1f KB (partition table version 5)\n", frag.size(),
              double(dl.serialize_directory().size()) / 1024);
  std::printf("%-14s %8s %10s %10s %10s %10s %10s %10s %10s %9s %10s\n", "catalogue", "queries", "chunks", "chunk KB", "chunk p90", "frag KB",
              "frag p90", "KB/query", "p90 KB", "ms cold", "mismatch");
  std::printf("%-14s %8zu %10.2f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %9.2f %10zu\n", label.c_str(), queries.size(), mean(chunks_n), mean(chunk_kb),
              pct(chunk_kb, 0.9), mean(frag_kb), pct(frag_kb, 0.9), mean(total_kb), pct(total_kb, 0.9), mean(ms), mismatches);
  return mismatches == 0 ? 0 : 1;
}

uint64_t fnv1a(const std::vector<Query>& qs) {
  uint64_t h = 1469598103934665603ull;
  for (auto& q : qs) {
    for (unsigned char c : q.text) h = (h ^ c) * 1099511628211ull;
    h = (h ^ q.token) * 1099511628211ull;
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bundle_dir, metadata_dir, catalogue_file, write_catalogue, label, dump;
  size_t nq = 500, warmup = 20, slowest = 0, chunk_bytes = 0, fragment_tokens = 512;
  uint64_t seed = 1;
  double min_top10 = -1;
  bool header = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--no-header") header = false;
    else if (a == "--queries" && has) nq = std::stoul(argv[++i]);
    else if (a == "--warmup" && has) warmup = std::stoul(argv[++i]);
    else if (a == "--seed" && has) seed = std::stoull(argv[++i]);
    else if (a == "--min-top10" && has) min_top10 = std::stod(argv[++i]);
    else if (a == "--metadata" && has) metadata_dir = argv[++i];
    else if (a == "--catalogue" && has) catalogue_file = argv[++i];
    else if (a == "--write-catalogue" && has) write_catalogue = argv[++i];
    else if (a == "--label" && has) label = argv[++i];
    else if (a == "--dump" && has) dump = argv[++i];
    else if (a == "--slowest" && has) slowest = std::stoul(argv[++i]);
    else if (a == "--chunks" && has) chunk_bytes = std::stoul(argv[++i]);
    else if (a == "--fragment-tokens" && has) fragment_tokens = std::stoul(argv[++i]);
    else if (a.rfind("--", 0) != 0 && bundle_dir.empty()) bundle_dir = a;
    else { std::fprintf(stderr, "text_bench: unknown or incomplete option %s\n", a.c_str()); return 2; }
  }
  if (int(!bundle_dir.empty()) + int(!metadata_dir.empty()) + int(!catalogue_file.empty()) != 1) {
    std::fprintf(stderr, "usage: text_bench BUNDLE_DIR | --metadata DIR | --catalogue FILE  [--write-catalogue FILE] [--queries N] [--warmup N] [--seed S] [--min-top10 X] [--label NAME] [--no-header] [--dump FILE] [--slowest N]\n");
    return 2;
  }
#ifdef __EMSCRIPTEN__
  const char* platform = "wasm";
  if (!metadata_dir.empty()) { std::fprintf(stderr, "text_bench (wasm): no --metadata (write a catalogue natively)\n"); return 2; }
#else
  const char* platform = "native";
#endif
  // The catalogue as a loader sees it: decoded from its compact form.
  std::vector<uint8_t> bytes;
  std::string source;
  if (!catalogue_file.empty()) {
    bytes = read_all(catalogue_file);
    source = catalogue_file;
  } else if (!bundle_dir.empty()) {  // only manifest.json and the catalogue (other files may be of newer formats)
    const auto mb = read_all(bundle_dir + "/manifest.json");
    const Manifest m = parse_manifest(std::string(mb.begin(), mb.end()));
    if (m.has("partitions")) { std::fprintf(stderr, "%s: a partitioned bundle (its catalogue is in fragments)\n", bundle_dir.c_str()); return 2; }
    const FileEntry& f = m.file("catalogue");
    const auto cb = read_all(bundle_dir + "/" + f.name);
    verify_file(f, cb.data(), cb.size());
    bytes = deserialize_catalogue(cb.data(), cb.size(), f.name).encode();
    source = bundle_dir;
  }
#ifndef __EMSCRIPTEN__
  else {
    bytes = catalogue_from_metadata(metadata_dir).encode();
    source = metadata_dir;
  }
#endif
  if (!write_catalogue.empty()) {
    std::ofstream o(write_catalogue, std::ios::binary);
    o.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!o) { std::fprintf(stderr, "cannot write %s\n", write_catalogue.c_str()); return 1; }
  }
  if (label.empty()) label = source.substr(source.find_last_of('/') == std::string::npos ? 0 : source.find_last_of('/') + 1);
  const Catalogue cat = Catalogue::decode(bytes.data(), bytes.size(), source);
  const size_t n = cat.tokens.size();
  if (n == 0) { std::fprintf(stderr, "%s: no tokens\n", source.c_str()); return 1; }

  if (chunk_bytes > 0) return chunk_bench(cat, make_queries(cat, nq, seed), chunk_bytes, fragment_tokens, label);

  const size_t heap0 = heap_in_use();
  const auto t0 = clk::now();
  const TextIndex index(cat);
  const double build_ms = ms_since(t0);
  const size_t index_heap = heap_in_use() - heap0;

  const std::vector<Query> warm = make_queries(cat, warmup, seed + 1000003);
  for (auto& q : warm) (void)index.search(q.text, 10);  // JIT tiers up (wasm) / caches warm, not timed
  const std::vector<Query> queries = make_queries(cat, nq, seed);
  size_t top1 = 0, top10 = 0;
  std::vector<double> ms(nq);
  const double cpu0 = cpu_ms();
  for (size_t i = 0; i < nq; ++i) {
    const auto s = clk::now();
    const auto hits = index.search(queries[i].text, 10);
    ms[i] = ms_since(s);
    for (size_t r = 0; r < hits.size(); ++r)
      if (hits[r].token == queries[i].token) { top1 += r == 0; ++top10; break; }
  }
  const double cpu_per_query = (cpu_ms() - cpu0) / double(std::max<size_t>(1, nq));
  if (slowest > 0) {  // to stderr: the slowest queries, each timed again
    std::vector<size_t> order(nq);
    for (size_t i = 0; i < nq; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ms[a] > ms[b]; });
    for (size_t j = 0; j < slowest && j < nq; ++j) {
      const auto s = clk::now();
      (void)index.search(queries[order[j]].text, 10);
      std::fprintf(stderr, "slow: %8.3f ms (again: %.3f ms)  %s\n", ms[order[j]], ms_since(s), queries[order[j]].text.c_str());
    }
  }
  if (!dump.empty()) {
    std::vector<std::string> texts;
    for (auto& q : queries) texts.push_back(q.text);
    // Filters, prefixes, suggestions and facets too (on the first token's traits).
    const Token& t0k = cat.tokens[0];
    for (auto& [k, v] : t0k.traits) {
      const std::string type = cat.strings[k], value = cat.strings[v];
      texts.push_back("\"" + type + "\":\"" + value + "\"");
      texts.push_back("\"" + type + "\":\"" + value + "\" rank:1-" + std::to_string(n / 2));
      const auto vw = text_words(value);
      if (!vw.empty()) {
        texts.push_back(type + ":" + vw[0]);
        texts.push_back(vw[0].substr(0, 3) + " " + value);
        texts.push_back(vw.back().substr(0, 3));
      }
    }
    texts.push_back("rank:1-50");
    texts.push_back("collection:" + cat.collections[0].slug + " " + cat.strings[t0k.traits.empty() ? 0 : t0k.traits[0].second]);
    std::ofstream o(dump);
    for (auto& text : texts) {
      o << text << "\t";
      for (auto& h : index.search(text, 10)) { char buf[48]; std::snprintf(buf, sizeof buf, " %u:%.9g", h.token, double(h.score)); o << buf; }
      o << "\n";
    }
    for (auto& [k, v] : t0k.traits) o << "suggest " << cat.strings[v] << "\t" << index.suggest_json(cat.strings[v].substr(0, 4), 8) << "\n";
    std::vector<uint32_t> first;
    for (uint32_t i = 0; i < n && i < 200; ++i) first.push_back(i);
    o << "facets\t" << index.facets_json(first) << "\n";
  }
  double total = 0;
  for (double x : ms) total += x;
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) { return sorted.empty() ? 0.0 : sorted[std::min(sorted.size() - 1, size_t(p * double(sorted.size() - 1) + 0.5))]; };
  const double denom = double(std::max<size_t>(1, nq));

  if (header) {
    std::printf("# %s: %zu tokens, %zu terms, %zu postings; queries (seed %llu) hash %016llx; example: %s  -> token %s\n", source.c_str(), n,
                index.terms(), index.postings(), (unsigned long long)seed, (unsigned long long)fnv1a(queries),
                queries.empty() ? "" : queries[0].text.c_str(), queries.empty() ? "" : cat.tokens[queries[0].token].token_id.c_str());
    std::printf("%-14s %-6s %7s %8s %9s %10s %9s %7s %6s %6s %8s %8s %8s %8s %8s\n", "catalogue", "run", "tokens", "cat B/tk",
                "build ms", "index B/tk", "terms", "queries", "top-1", "top-10", "mean ms", "p50 ms", "p90 ms", "max ms", "CPU ms");
  }
  std::printf("%-14s %-6s %7zu %8.1f %9.1f %10.1f %9zu %7zu %6.3f %6.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", label.c_str(), platform, n,
              double(bytes.size()) / double(n), build_ms, double(index_heap) / double(n), index.terms(), nq, double(top1) / denom,
              double(top10) / denom, total / denom, pct(0.5), pct(0.9), sorted.empty() ? 0.0 : sorted.back(), cpu_per_query);
  return (min_top10 >= 0 && double(top10) / denom < min_top10) ? 1 : 0;
}
