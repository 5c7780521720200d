// nftlens: the native CLI. build | merge | query | text | eval | describe | info | verify | site
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "commands.h"
#include "error.h"

int main(int argc, char** argv) {
  using namespace nftlens;
  CLI::App app{"nftlens " NFTLENS_VERSION " - identify NFT images: build static search bundles, query them"};
  app.name("nftlens");
  app.require_subcommand(1);
  app.set_version_flag("--version", "nftlens " NFTLENS_VERSION);

  BuildArgs b;
  auto* build = app.add_subcommand("build", "Embed NFT collections and write a static bundle");
  build->add_option("collections", b.collections, "Collection folders (metadata/ or metadata.jsonl + images)")->required();
  build->add_option("-o,--out", b.out, "Bundle folder to write (replaced atomically)")->required();
  build->add_option("--cache", b.cache, "Feature cache folder (default: .nftlens-cache next to --out)");
  build->add_option("--model", b.model_card, "Model card JSON (default: models/mnv2-b13-576.card.json)");
  build->add_option("--model-file", b.model_file, "ONNX file (default: next to the card or in build/models)");
  build->add_option("--dims", b.dims, "Descriptor dimensions after projection (0 = auto: 256, or 96 in a partitioned bundle; at most tokens - 1)")->capture_default_str();
  build->add_option("--window-dims", b.window_dims, "Dimensions of sub-window codes for cropped queries (0 = no windows)")->capture_default_str();
  build->add_option("--pairs", b.pairs, "Synthetic copies made to learn the projection (0 = plain PCA whitening)")->capture_default_str();
  build->add_option("--threads", b.threads, "Embedding workers, each reading, decoding, preprocessing and running the model (1 ONNX Runtime thread) on its own batches (0 = one per core)")->capture_default_str();
  b.batch = kCliBuildBatch;  // see commands.h
  build->add_option("--batch", b.batch, "Images per model run in each embedding worker")->capture_default_str();
  build->add_option("--index-m", b.index_m, "HNSW graph degree M")->capture_default_str();
  build->add_option("--color-grid", b.color_grid, "Side of the Lab colour-layout thumbnail")->capture_default_str();
  build->add_flag("!--no-model", b.use_model, "Pixel features only (no ONNX model; for baselines)");
  build->add_flag("!--no-learn", b.learn, "No learned projection: centred raw descriptor (for baselines)");
  build->add_flag("!--no-thumbs", b.thumbs, "Do not write result thumbnails into the bundle");
  build->add_flag("--part-codes", b.part_codes, "Part codes for stickers and zooms on a detail (needs --model models/mnv2-b13-576-parts.card.json; one-index bundles; ~5x the model time)");
  build->add_option("--part-dims", b.part_dims, "Bytes per part code (18 codes per token)")->capture_default_str();
  build->add_flag("-q,--quiet", b.quiet, "No progress output");
  build->add_option("--calibration-tokens", b.calibration_tokens, "Tokens of each collection whose fresh copies calibrate the verdict (token / collection / none) after the build (0 = none); a collection with enough of them gets its own verdict model")->capture_default_str()->check(CLI::NonNegativeNumber);
  build->add_option("--calibration-max", b.calibration_max, "At most this many calibration tokens in all (or --calibration-tokens, if larger), shared evenly by the collections")->capture_default_str()->check(CLI::NonNegativeNumber);
  auto partition_options = [&](CLI::App* cmd) {
    cmd->add_option("--partitions", b.partitions, "Partitioned bundle fetched per query: number of partitions (0 = auto: one index up to 50,000 tokens, else tokens / --partition-size; 1 = one index)")->capture_default_str();
    cmd->add_option("--partition-size", b.partition_size, "Target tokens per partition when --partitions is auto")->capture_default_str();
    cmd->add_option("--probe", b.probe, "Partitions a query searches by default (more: better recall, more bytes)")->capture_default_str();
    cmd->add_option("--fragment-tokens", b.fragment_tokens, "Tokens per catalogue fragment of a partitioned bundle")->capture_default_str();
    cmd->add_option("--word-chunk-bytes", b.word_chunk_bytes, "Target size of a partitioned bundle's word index chunks (text search)")->capture_default_str()->check(CLI::Range(1024, 1 << 24));
  };
  partition_options(build);
  std::string shard;
  build->add_option("--shard", shard, "I/N: embed only slice I of N (tokens i % N == I) and write a partial result to --out, for nftlens merge");

  auto* merge = app.add_subcommand("merge", "Combine partial results of build --shard I/N into one bundle (identical to a one-machine build)");
  merge->add_option("collections", b.collections, "The same collection folders the shards were given")->required();
  merge->add_option("--partials", b.partials, "Partial result folders (one per shard)")->required();
  merge->add_option("-o,--out", b.out, "Bundle folder to write")->required();
  merge->add_option("--cache", b.cache, "Feature cache folder (default: .nftlens-cache next to --out)");
  merge->add_flag("-q,--quiet", b.quiet, "No progress output");
  merge->add_option("--dims", b.dims, "As for build (use the shards' values)");
  merge->add_option("--pairs", b.pairs, "As for build (use the shards' values)");
  merge->add_option("--model", b.model_card, "As for build");
  merge->add_option("--model-file", b.model_file, "As for build");
  merge->add_option("--threads", b.threads, "As for build (the merge runs the model only for calibration)")->capture_default_str();
  merge->add_option("--calibration-tokens", b.calibration_tokens, "As for build")->capture_default_str()->check(CLI::NonNegativeNumber);
  merge->add_option("--calibration-max", b.calibration_max, "As for build")->capture_default_str()->check(CLI::NonNegativeNumber);
  partition_options(merge);

  QueryArgs q;  // option defaults are the engine's (ImageRequest, shared/lens.h)
  auto* query = app.add_subcommand("query", "Find the tokens an image shows");
  query->add_option("bundle", q.bundle, "Bundle folder")->required();
  query->add_option("images", q.images, "Query image files")->required();
  query->add_option("-k,--k", q.request.k, "Results per image (1.." + std::to_string(ImageRequest::kMaxK) + ")")->capture_default_str();
  query->add_option("--ef", q.request.ef, "HNSW search breadth (0 = bundle default)");
  query->add_option("--collection", q.request.collections, "Only these collection slugs");
  query->add_option("--threads", q.threads, "ONNX Runtime threads (0 = all cores)");
  query->add_option("--filter", q.request.filter, "Only tokens matching these filters, e.g. 'glasses:red rank:1-100'");
  query->add_flag("--exact", q.request.exact, "Exhaustive scan instead of the HNSW index (or of every partition)");
  query->add_option("--probe", q.request.probe, "Partitioned bundles: partitions to search (0 = bundle default)");
  query->add_option("--rerank", q.request.rerank, "Re-rank this many first hits by aligning the query with their thumbnails (0 = off, at most " + std::to_string(ImageRequest::kMaxRerank) + "; needs a bundle with thumbnails)")->capture_default_str();
  query->add_flag("!--no-parts", q.request.parts, "Do not use the bundle's part codes (bundles built with --part-codes)");
  query->add_flag("--json", q.json, "One JSON line per image");

  TextArgs t;
  auto* text = app.add_subcommand("text", "Find tokens by words and trait filters (e.g. \"pizza head red glasses\", glasses:red)");
  text->add_option("bundle", t.bundle, "Bundle folder")->required();
  text->add_option("query", t.request.query, "Words and filters: type:value, collection:slug, rank:1-100")->required();
  text->add_option("-k,--k", t.request.k, "Results (1.." + std::to_string(TextRequest::kMaxK) + ")")->capture_default_str();
  text->add_flag("--json", t.json, "JSON output");

  EvalArgs e;
  auto* eval = app.add_subcommand("eval", "Retrieval quality on altered copies (queries.csv: query,original,transform)");
  eval->add_option("bundle", e.bundle, "Bundle folder")->required();
  eval->add_option("queries", e.queries_csv, "queries.csv")->required();
  eval->add_option("--json-out", e.out_json, "Where to write the JSON report (default eval.json)");
  eval->add_option("--threads", e.threads, "ONNX Runtime threads");
  eval->add_option("--report", e.report_dir, "Also write an HTML page of sampled queries (misses first) with the region searched and the top 3");
  eval->add_option("--rerank", e.rerank, "As for query: hits re-ranked by alignment with their thumbnails (0 = off)")->capture_default_str();
  eval->add_flag("!--no-parts", e.parts, "As for query: do not use the bundle's part codes");
  eval->add_option("--probe", e.probe, "As for query: partitions searched on a partitioned bundle (0 = the bundle's default)");

  std::string dbundle, dimage, ddump, dfeat;
  auto* describe = app.add_subcommand("describe", "Print the query pipeline's descriptors for one image (parity tests)");
  describe->add_option("bundle", dbundle, "Bundle folder")->required();
  describe->add_option("image", dimage, "Image file")->required();
  describe->add_option("--dump-input", ddump, "Write the first model input tensor (raw float32) to this file");
  describe->add_option("--dump-features", dfeat, "Write the model's pooled output for that tensor (raw float32) to this file");

  std::string dir;
  bool info_json = false;
  auto* info = app.add_subcommand("info", "What a bundle holds and its bytes per token");
  info->add_option("bundle", dir, "Bundle folder")->required();
  info->add_flag("--json", info_json, "JSON output");
  auto* verify = app.add_subcommand("verify", "Check every bundle file against manifest.json");
  verify->add_option("bundle", dir, "Bundle folder")->required();
  bool verify_json = false;
  verify->add_flag("--json", verify_json, "JSON output: {bundle, ok, problems, checks: [{status, file|error}]}");

  SiteArgs site_args;
  auto* site = app.add_subcommand("site", "Write a self-contained static site: index.html with <nft-lens>, the widget, its runtime and the bundle");
  site->add_option("bundle", site_args.bundle, "Bundle folder")->required();
  site->add_option("--out", site_args.out, "Folder to write (replaced if it is an earlier site)")->required();
  site->add_option("--web", site_args.web, "The widget's web/ folder (default: this build's)");

  // Usage errors exit 2 (as getopt tools do), naming an unknown command; `help` is --help.
  if (argc >= 2 && std::string(argv[1]) == "help") {
    std::cout << app.help();
    return 0;
  }
  std::string names;
  bool known = false;
  for (const CLI::App* c : app.get_subcommands([](const CLI::App*) { return true; })) {
    names += (names.empty() ? "" : ", ") + c->get_name();
    known |= argc >= 2 && c->get_name() == argv[1];
  }
  if (argc >= 2 && argv[1][0] != '-' && !known) {
    std::cerr << "error: unknown command '" << argv[1] << "' (commands: " << names << "; nftlens help)\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // (--help and --version exit 0)
  }
  try {
    if (*build && !shard.empty()) {
      const size_t slash = shard.find('/');
      if (slash == std::string::npos) throw Error("--shard must look like I/N, e.g. 0/4");
      b.shard_index = std::stoi(shard.substr(0, slash));
      b.shard_count = std::stoi(shard.substr(slash + 1));
    }
    if (*build || *merge) return run_build(b);
    if (*query) return run_query(q);
    if (*eval) return run_eval(e);
    if (*text) return run_text(t);
    if (*describe) return run_describe(dbundle, dimage, ddump, dfeat, 0);
    if (*info) return run_info(dir, info_json);
    if (*verify) return run_verify(dir, verify_json);
    if (*site) return run_site(site_args);
  } catch (const Error& err) {
    std::cerr << "error: " << err.what() << "\n";
    return std::string(err.code()) == errc::bad_request ? 2 : 1;  // (an option out of range is a usage error)
  } catch (const std::exception& err) {
    std::cerr << "error: " << err.what() << "\n";
    return 1;
  }
  return 0;
}
