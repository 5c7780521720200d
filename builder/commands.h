// The nftlens subcommands: build and merge (build_command.cpp); query, describe and text
// (query_command.cpp, through NativeLens); eval (eval_command.cpp); info and verify (info_command.cpp).
#pragma once
#include <string>
#include <vector>

#include "lens.h"

namespace nftlens {

struct BuildArgs {
  std::vector<std::string> collections;
  std::string out, cache, model_card, model_file;
  int dims = 0, window_dims = 0, threads = 0, batch = 32, pairs = 2000, index_m = 12;
  int color_grid = Recipe{}.color_grid;
  // pairs: synthetic copies for the learned whitening. 2000 since re-ranking by alignment: with it
  // 10k Nouns reach 98.5% top-1 (8000: 98.6%), and a 10k build runs at ~160 images/s on 2 cores
  // instead of ~105 at most (issue #5; docs/quality.md, bench/README.md).
  // dims 0 = auto: kAutoDims, or kAutoDimsPartitioned when the bundle is partitioned (each code is
  // fetched per query there), never more than tokens - 1 (a collection spans no more directions
  // than that). docs/quality.md: 256-d gains ~1 point of top-1 over 96-d on both benchmark
  // collections. Partitioned: 128-d codes in partitions of ~500 tokens, 12 searched per query,
  // came within 1 point of top-1 of the one-index bundle at 100k real tokens (96-d in partitions of
  // 1,000, probe 6: 1.8 points under) for ~100 KB more shards per cold query (bench/README.md,
  // "Partitioned bundles at scale").
  // threads: embedding workers (0 = one per core), each running the model with 1 intra-op thread.
  // batch: images per model run in each worker. The CLI passes kCliBuildBatch: on CPU batch 1 costs
  // the least per image (4.0-4.6 CPU ms vs 5.6-6.1 at 32, bench/README.md `embed_bench`), and
  // features do not depend on it for the shipped model (checked bit for bit there).
  int shard_index = 0, shard_count = 1;   // --shard I/N: embed only this slice, write a partial
  std::vector<std::string> partials;      // merge: partial results whose features to reuse
  // Partitioned bundle (fetched per query) when partitions > 1, or when 0 (auto) and the
  // collection has more than auto_partition_above tokens: then tokens / partition_size partitions.
  int partitions = 0, partition_size = 500, probe = 12, fragment_tokens = 32;
  int word_chunk_bytes = 16 << 10;  // word index chunks of a partitioned bundle (docs/text-search.md)  // (512: 3.96 files per 1,000 tokens at 1M, +2% bytes per cold query vs 256; bench/README)
  int auto_partition_above = 50000;
  static constexpr int kAutoDims = 256, kAutoDimsPartitioned = 128;
  // Tokens of each collection whose fresh synthetic copies (and original images, left out of the
  // search) calibrate the verdict after the bundle is written (builder/calibrate.cpp; 0 = no verdict
  // model); at most max(calibration_tokens, calibration_max) in all, shared evenly between the
  // collections (calibration time is linear in them: about 0.15 s per token on 2 cores).
  int calibration_tokens = 100, calibration_max = 1000;
  bool thumbs = true, quiet = false, use_model = true, learn = true;
  // Part codes (shared/part_codes.h) for stickers and zooms on a detail: needs a model with a parts
  // map (models/mnv2-b13-576-parts.card.json) and a one-index bundle; part_dims bytes per code.
  bool part_codes = false;
  int part_dims = 64;
};
inline constexpr int kCliBuildBatch = 1;
int run_build(const BuildArgs& a);

struct QueryArgs {
  std::string bundle;
  std::vector<std::string> images;
  ImageRequest request;  // k, rerank, probe, ef, exact, collections, filter: the engine's defaults
  int threads = 0;
  bool json = false;
};
int run_query(const QueryArgs& a);

struct EvalArgs {
  std::string bundle, queries_csv, out_json;
  std::string report_dir;  // --report: an HTML page of sampled queries (builder/eval_report.h)
  int threads = 0;
  size_t rerank = ImageRequest{}.rerank;  // as for query
  bool parts = ImageRequest{}.parts;      // as for query
  size_t probe = 0;                       // as for query: partitions searched (0 = the bundle's default)
};
int run_eval(const EvalArgs& a);

int run_describe(const std::string& bundle, const std::string& image, const std::string& dump_input,
                 const std::string& dump_features, int threads);
struct TextArgs {
  std::string bundle;
  TextRequest request;
  bool json = false;
};
int run_text(const TextArgs& a);

int run_info(const std::string& bundle, bool json);

// nftlens site: a self-contained static folder (page, widget, runtime, bundle; builder/site_command.cpp).
struct SiteArgs {
  std::string bundle, out;
  std::string web;  // the widget's web/ folder (default: the repository's, found from the binary)
};
int run_site(const SiteArgs& a);
int run_verify(const std::string& bundle, bool json);  // --json: one JSON document instead of lines

}  // namespace nftlens
