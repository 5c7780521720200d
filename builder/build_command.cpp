// nftlens build: collections -> static bundle.
//  1. ingest metadata, read image bytes, skip broken tokens with a reason
//  2. per image: decode, model input, colour layout, thumbnail -> ONNX Runtime, all on --threads
//     workers (one per core by default), each running its own small batches (--batch) on one shared
//     session with one intra-op thread; features cached by (image hash, model hash) so interrupted or
//     incremental builds redo nothing; with --part-codes the grid part regions of each model run
//     are spooled for step 4's part codes
//  3. synthetic copies of a sample of tokens -> matching pairs -> learned whitening, quantiser,
//     copy threshold
//  4. project + quantise every token, build the HNSW index, write the bundle atomically
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <fcntl.h>
#include <unistd.h>

#include "augment.h"
#include "calibrate.h"
#include "bundle_io.h"
#include "collection.h"
#include "commands.h"
#include "embedder.h"
#include "part_codes.h"
#include "part_codes_build.h"
#include "error.h"
#include "feature_cache.h"
#include "image_file.h"
#include "learn.h"
#include "thumb_pack.h"
#include "window_index.h"
#include "model_files.h"
#include "progress.h"
#include "sha256.h"

namespace fs = std::filesystem;

namespace nftlens {
namespace {
// What the build needs of a token's source after ingest (its texts are in the catalogue by then).
struct SourceFile {
  std::string token_id, image_path;
};

// What one image contributes, cached: [colour layout | model features | ring flag, r, g, b |
// colour layouts of the sub-windows].
struct ImageFeatures {
  std::vector<float> color, model, windows;
  std::pair<bool, Rgb> ring;
};

std::vector<float> pack(const ImageFeatures& f) {
  std::vector<float> v = f.color;
  v.insert(v.end(), f.model.begin(), f.model.end());
  v.push_back(f.ring.first ? 1.f : 0.f);
  for (int c = 0; c < 3; ++c) v.push_back(f.ring.second[c]);
  v.insert(v.end(), f.windows.begin(), f.windows.end());
  return v;
}
bool unpack(const std::vector<float>& v, size_t color_dim, size_t model_dim, size_t window_dim, ImageFeatures& f) {
  if (v.size() != color_dim + model_dim + 4 + window_dim) return false;
  f.color.assign(v.begin(), v.begin() + long(color_dim));
  f.model.assign(v.begin() + long(color_dim), v.begin() + long(color_dim + model_dim));
  f.ring.first = v[color_dim + model_dim] > 0.5f;
  for (int c = 0; c < 3; ++c) f.ring.second[c] = uint8_t(v[color_dim + model_dim + 1 + c]);
  f.windows.assign(v.begin() + long(color_dim + model_dim + 4), v.end());
  return true;
}

// Square windows of 70% and 85% of the side on a 3x3 grid: a crop keeping 55-90% of the image
// overlaps one of them well.
std::vector<std::array<float, 4>> default_windows() {
  std::vector<std::array<float, 4>> out;
  for (float s : {0.7f, 0.85f})
    for (int gy = 0; gy < 3; ++gy)
      for (int gx = 0; gx < 3; ++gx) out.push_back({gx * (1 - s) / 2, gy * (1 - s) / 2, s, s});
  return out;
}

float iou(const Box& a, const Box& b) {
  const int x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y), x1 = std::min(a.x + a.w, b.x + b.w), y1 = std::min(a.y + a.h, b.y + b.h);
  const double inter = std::max(0, x1 - x0) * double(std::max(0, y1 - y0));
  return float(inter / (double(a.w) * a.h + double(b.w) * b.h - inter));
}

struct Work {
  size_t token;            // index into the flat token list
  std::string key;         // cache key
  RgbImage image;          // decoded (for thumbs/pairs)
  Box box;                 // region to describe
  std::vector<float> input;
  ImageFeatures feat;
  std::vector<float> parts;  // the model's part regions (pool_parts), when the caller asks for them
  std::string error;
  bool foreign = false;    // another shard's token: hashed only
};

// Run `fn(i)` for i in [0,n) on `threads` workers.
template <class F>
void parallel_for(size_t n, int threads, F fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t)
    pool.emplace_back([&] { for (size_t i; (i = next++) < n;) fn(i); });
  for (auto& th : pool) th.join();
}

// The embedding phases' worker pool. Items [0, n) are cut into chunks of `chunk` consecutive items
// with fixed boundaries, so which images share a model run never depends on scheduling (features are
// the same whatever the timing). `workers` threads each claim the next chunk and call
// `fn(begin, end)`, which prepares the chunk (read, decode, preprocess, thumbnail) and runs the model
// on it: both cores do decode and inference work all the time and at most `workers` chunks are in
// memory. The calling thread only reports progress and syncs the feature cache about once a second.
// The first exception stops the pool and is rethrown here.
template <class F>
void run_chunks(size_t n, size_t chunk, int workers, Progress& prog, FeatureCache& cache, F fn) {
  chunk = std::max<size_t>(1, chunk);
  const size_t n_chunks = (n + chunk - 1) / chunk;
  workers = int(std::max<size_t>(1, std::min<size_t>(size_t(std::max(1, workers)), n_chunks)));
  std::atomic<size_t> next{0}, done{0};
  std::mutex mu;
  std::condition_variable cv;
  int running = workers;
  std::exception_ptr error;
  std::vector<std::thread> pool;
  for (int t = 0; t < workers; ++t)
    pool.emplace_back([&] {
      try {
        for (size_t c; (c = next++) < n_chunks;) {
          const size_t begin = c * chunk, end = std::min(n, begin + chunk);
          fn(begin, end);
          done += end - begin;
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        next = n_chunks;
      }
      std::lock_guard<std::mutex> lock(mu);
      --running;
      cv.notify_all();
    });
  {
    std::unique_lock<std::mutex> lock(mu);
    while (running > 0) {
      cv.wait_for(lock, std::chrono::seconds(1));
      if (running == 0) break;
      lock.unlock();
      prog.update(done);
      cache.flush();
      lock.lock();
    }
  }
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  cache.flush();
  prog.update(done);
}

// What the embed phase makes for a later phase, appended to an unlinked temporary file as the
// workers make it and read back when needed: the thumbnails (PNG; at a million tokens they would be
// ~2 GB in memory) and, with --part-codes, each token's grid part regions (20 KB a token).
class Spool {
 public:
  using Place = std::pair<uint64_t, uint32_t>;  // offset, bytes
  Spool(const fs::path& dir, const std::string& what) : what_(what) {
    const fs::path p = dir / (what + "-" + std::to_string(::getpid()) + ".spool");
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd_ < 0) throw Error(p.string() + ": cannot create the " + what + " spool");
    ::unlink(p.c_str());  // gone with the process, whatever happens
  }
  ~Spool() { ::close(fd_); }
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  Place put(const void* data, size_t bytes) {
    uint64_t at;
    {
      std::lock_guard<std::mutex> lock(mu_);
      at = end_;
      end_ += bytes;
    }
    for (size_t done = 0; done < bytes;) {
      const ssize_t w = ::pwrite(fd_, static_cast<const char*>(data) + done, bytes - done, off_t(at + done));
      if (w <= 0) throw Error(what_ + " spool: write failed (disk full?)");
      done += size_t(w);
    }
    return {at, uint32_t(bytes)};
  }
  Place put(const std::vector<uint8_t>& bytes) { return put(bytes.data(), bytes.size()); }
  void read(Place p, void* out) const {
    if (::pread(fd_, out, p.second, off_t(p.first)) != ssize_t(p.second)) throw Error(what_ + " spool: read failed");
  }
  std::vector<uint8_t> get(Place p) const {
    std::vector<uint8_t> v(p.second);
    read(p, v.data());
    return v;
  }

 private:
  std::string what_;
  int fd_ = -1;
  std::mutex mu_;
  uint64_t end_ = 0;
};

}  // namespace

int run_build(const BuildArgs& a) {
  const auto t_start = std::chrono::steady_clock::now();
  if (a.collections.empty()) throw Error("build: give at least one collection folder");
  if (a.out.empty()) throw Error("build: --out is required");
  if (a.dims != 0 && (a.dims < 4 || a.dims > 1024)) throw Error("build: --dims must be 0 (auto) or within 4..1024");
  const ModelFiles mf = resolve_model(a.model_card, a.model_file);
  const ModelCard& card = mf.card;
  const int hw_threads = int(std::max(1u, std::thread::hardware_concurrency()));
  const int decode_threads = std::max(1, hw_threads);
  // Embedding workers: each decodes, preprocesses and runs the model on its own chunks of --batch images.
  const int embed_workers = a.threads > 0 ? a.threads : hw_threads;

  const bool sharded = a.shard_count > 1;
  if (a.shard_count < 1 || a.shard_index < 0 || a.shard_index >= a.shard_count) throw Error("build: --shard must be I/N with 0 <= I < N");
  // A shard's partial result is its feature cache (in --out); merge reads it back.
  const std::string cache_dir = !a.cache.empty() ? a.cache
                                : sharded        ? (fs::path(a.out) / "cache").string()
                                                 : (fs::path(a.out).parent_path() / ".nftlens-cache").string();
  // 1. ingest: each token's texts go into the catalogue as it is parsed; the source keeps only what
  // later phases read (id and image file; a string, not a path: that splits into components).
  Catalogue cat;
  std::vector<SourceFile> src;
  std::vector<Skipped> skipped;
  for (auto& dir : a.collections) {
    const uint32_t ci = uint32_t(cat.collections.size());
    SourceCollection c = load_collection(dir, fs::path(cache_dir) / "downloads", [&](SourceToken&& t) {
      Token tk;
      tk.collection = ci;
      tk.token_id = t.token_id;
      tk.name = std::move(t.name);
      tk.image = std::move(t.image_ref);
      tk.external_url = std::move(t.external_url);
      tk.description = cat.intern(t.description);
      for (auto& [k, v] : t.traits) tk.traits.emplace_back(cat.intern(k), cat.intern(v));
      tk.traits.shrink_to_fit();
      cat.tokens.push_back(std::move(tk));
      src.push_back({std::move(t.token_id), t.image_path.string()});
    });
    for (auto& existing : cat.collections)
      if (existing.slug == c.info.slug) throw Error(dir + ": collection slug \"" + c.info.slug + "\" is used twice");
    cat.collections.push_back(c.info);
    skipped.insert(skipped.end(), c.skipped.begin(), c.skipped.end());
  }
  if (!a.quiet) std::cerr << "ingest: " << src.size() << " tokens in " << cat.collections.size() << " collection(s), " << skipped.size() << " skipped\n";

  Recipe recipe;
  if (a.window_dims > 0) recipe.windows.boxes = default_windows();
  recipe.color_grid = a.color_grid;
  recipe.use_model = a.use_model;
  const size_t color_dim = size_t(recipe.color_dim()), model_dim = recipe.use_model ? size_t(card.feature_dim()) : 0;
  const size_t window_dim = recipe.windows.boxes.size() * color_dim;
  const std::string cache_ns = feature_cache_namespace(card, recipe);
  std::optional<FeatureCache> cache_holder(std::in_place, cache_dir, cache_ns);  // (released before calibration)
  FeatureCache& cache = *cache_holder;
  for (const auto& p : a.partials) {  // merge: every feature the shards computed
    if (!fs::exists(fs::path(p) / "partial.json")) throw Error(p + ": not a partial result of nftlens build --shard (no partial.json)");
    const FeatureCache part(fs::path(p) / "cache", cache_ns);
    for (const auto& k : part.keys())
      if (!cache.contains(k)) cache.put(k, *part.find(k));
    cache.flush();
    if (!a.quiet) std::cerr << "merge: " << part.size() << " features from " << p << "\n";
  }
  std::unique_ptr<Embedder> embedder;
  auto model = [&]() -> Embedder& {
    if (!embedder) {  // one session shared by the workers, each Run on its caller's thread (1 intra-op thread, no spinning)
      EmbedderOptions eo{1, true};
      eo.allow_spinning = false;
      embedder = std::make_unique<Embedder>(mf.onnx.string(), card, eo);
    }
    return *embedder;
  };
  if (recipe.use_model) model();  // check the card against the model now, even if every feature is cached
  // The model on a chunk's works that need it (tokens and synthetic copies alike): pooled features
  // into each work, into the cache, then done(index of the work); with_parts: the part regions too.
  auto embed_works = [&](Embedder& e, std::vector<Work>& works, const std::vector<size_t>& run_idx, bool with_parts, auto&& done) {
    if (run_idx.empty()) return;
    std::vector<std::vector<float>> inputs, parts;
    for (size_t j : run_idx) inputs.push_back(std::move(works[j].input));
    const auto outs = e.run(inputs, with_parts ? &parts : nullptr);
    if (with_parts && parts.size() != outs.size()) throw Error("build: the model returned no part regions");
    for (size_t r = 0; r < run_idx.size(); ++r) {
      Work& w = works[run_idx[r]];
      w.feat.model = outs[r];
      if (with_parts) w.parts = std::move(parts[r]);
      cache.put(w.key, pack(w.feat));
      done(run_idx[r]);
    }
  };

  // 2. features of every token image
  // Memory: only each token's ring colour (and sub-window layouts, when there are any) stay; its colour
  // layout and model features are in the cache, read back one token at a time when needed.
  std::vector<std::pair<bool, Rgb>> rings(src.size());
  std::vector<std::vector<float>> windows(window_dim > 0 ? src.size() : 0);
  auto keep_features = [&](size_t i, ImageFeatures& f) {
    rings[i] = f.ring;
    if (window_dim > 0) windows[i] = std::move(f.windows);
  };
  std::vector<char> ok(src.size(), 0);  // (char, not bool: workers write neighbouring entries)
  std::vector<std::string> image_hash(src.size());
  BundleParts parts;
  std::unique_ptr<Spool> spool;
  if (a.thumbs) spool = std::make_unique<Spool>(cache_dir, "thumbnail");
  // Each token's PNG in the spool (0 bytes: none), by catalogue index.
  std::vector<Spool::Place> thumbs(a.thumbs ? src.size() : 0, Spool::Place{0, 0});
  // --part-codes: the grid part regions of every token the model runs on here (the first kParts
  // rows of pool_parts), so that the part codes need not run it at the card's size again (0 bytes:
  // none, e.g. its features were cached; build_part_codes runs the model on those).
  const bool keep_regions = a.part_codes && recipe.use_model && card.part_channels() > 0 && !sharded;
  const size_t region_floats = size_t(kParts) * size_t(card.part_channels());
  std::unique_ptr<Spool> region_spool;
  if (keep_regions) region_spool = std::make_unique<Spool>(cache_dir, "part-regions");
  std::vector<Spool::Place> regions_at(keep_regions ? src.size() : 0, Spool::Place{0, 0});
  {
    Progress prog("embed", src.size(), a.quiet);
    std::vector<std::string> errors(src.size());
    std::vector<char> has_thumb(src.size(), 0);
    Embedder* const emb = recipe.use_model ? &model() : nullptr;
    run_chunks(src.size(), size_t(std::max(1, a.batch)), embed_workers, prog, cache, [&](size_t begin, size_t end) {
      std::vector<Work> works(end - begin);
      std::vector<size_t> run_idx;  // works that need the model
      for (size_t j = 0; j < works.size(); ++j) {
        Work& w = works[j];
        const size_t i = w.token = begin + j;
        try {
          const auto bytes = read_bytes(src[i].image_path, 64u << 20);
          image_hash[i] = sha256_hex(bytes.data(), bytes.size());
          w.key = image_hash[i];
          if (sharded && i % size_t(a.shard_count) != size_t(a.shard_index)) { ok[i] = 1; continue; }  // another shard's: hashed only
          bool cached = false;
          if (const auto hit = cache.find(w.key)) {
            ImageFeatures f;
            cached = unpack(*hit, color_dim, model_dim, window_dim, f);
            if (cached) keep_features(i, f);
          }
          if (cached && !a.thumbs) { ok[i] = 1; continue; }
          w.image = decode_any(bytes, card.background);
          if (a.thumbs) {
            thumbs[i] = spool->put(encode_png(resample(w.image, 96, std::max(1, 96 * w.image.height / w.image.width))));
            has_thumb[i] = 1;
          }
          if (cached) { ok[i] = 1; continue; }
          w.box = Box{0, 0, w.image.width, w.image.height};
          w.feat.color = color_layout(w.image, w.box, recipe.color_grid, false);
          w.feat.ring = dominant_ring_colour(w.image);
          for (const Box& b : window_boxes(recipe.windows, w.image.width, w.image.height)) {
            const auto l = color_layout(w.image, b, recipe.color_grid, false);
            w.feat.windows.insert(w.feat.windows.end(), l.begin(), l.end());
          }
          if (!recipe.use_model) {
            cache.put(w.key, pack(w.feat));
            keep_features(i, w.feat);
            ok[i] = 1;
            continue;
          }
          w.input = make_input_tensor(card, w.image, w.box);
          w.image = RgbImage();  // only the model input is kept until the chunk's model run
          run_idx.push_back(j);
        } catch (const std::exception& e) {
          errors[i] = e.what();
          has_thumb[i] = 0;
        }
      }
      embed_works(*emb, works, run_idx, keep_regions, [&](size_t j) {
        keep_features(works[j].token, works[j].feat);
        if (keep_regions) regions_at[works[j].token] = region_spool->put(works[j].parts.data(), region_floats * sizeof(float));
        ok[works[j].token] = 1;
      });
    });
    // In token order, whatever order the workers finished in.
    for (size_t i = 0; i < src.size(); ++i) {
      if (!errors[i].empty()) skipped.push_back({cat.collections[cat.tokens[i].collection].slug, src[i].token_id, src[i].image_path, errors[i]});
      if (a.thumbs && !has_thumb[i]) thumbs[i] = {0, 0};
    }
  }
  // Drop skipped tokens from the catalogue (keep order; in place: no second copy of anything).
  {
    size_t kept = 0;
    for (size_t i = 0; i < src.size(); ++i) {
      if (!ok[i]) continue;
      if (kept != i) {
        cat.tokens[kept] = std::move(cat.tokens[i]);
        src[kept] = std::move(src[i]);
        rings[kept] = rings[i];
        if (window_dim > 0) windows[kept] = std::move(windows[i]);
        image_hash[kept] = std::move(image_hash[i]);
        if (a.thumbs) thumbs[kept] = thumbs[i];
        if (keep_regions) regions_at[kept] = regions_at[i];
      }
      ++kept;
    }
    cat.tokens.resize(kept);
    src.resize(kept);
    rings.resize(kept);
    if (window_dim > 0) windows.resize(kept);
    image_hash.resize(kept);
    if (a.thumbs) thumbs.resize(kept);
    if (keep_regions) regions_at.resize(kept);
  }
  if (cat.tokens.empty()) throw Error("build: no usable tokens (see the skipped list)");

  // 3. learn: collection backgrounds, whitening from synthetic copies, quantiser, threshold
  recipe.collection_backgrounds = learn_backgrounds(rings);
  std::vector<std::pair<bool, Rgb>>().swap(rings);
  recipe.in_dim = recipe.raw_dim(card);
  // A token's raw descriptor, from its cached features (memory: a million of them would be 2.7 GB;
  // they are read three times instead: twice to learn the projection, once to project).
  const Recipe raw_recipe = recipe;
  auto raw_of = [&](size_t i, std::vector<float>& out) {
    ImageFeatures f;
    const auto hit = cache.find(image_hash[i]);
    if (!hit || !unpack(*hit, color_dim, model_dim, window_dim, f)) throw Error("build: the features of " + src[i].image_path + " left the feature cache during the build");
    out = raw_descriptor(raw_recipe, std::move(f.color), f.model);
  };

  const size_t n_pairs = size_t(std::max(0, a.pairs));
  std::vector<std::pair<std::vector<float>, std::vector<float>>> pairs;
  std::vector<size_t> pair_token;
  if (n_pairs > 0) {
    Progress prog("copies", n_pairs, a.quiet);
    std::vector<size_t> order(cat.tokens.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(12345);
    std::shuffle(order.begin(), order.end(), rng);
    Embedder* const emb = recipe.use_model ? &model() : nullptr;
    std::vector<std::string> keys(n_pairs);
    std::vector<char> copy_ok(n_pairs, 0);
    run_chunks(n_pairs, size_t(std::max(1, a.batch)), embed_workers, prog, cache, [&](size_t begin, size_t end) {
      std::vector<Work> works(end - begin);
      std::vector<size_t> run_idx;
      for (size_t j = 0; j < works.size(); ++j) {
        Work& w = works[j];
        const size_t p = begin + j;
        w.token = order[p % order.size()];
        const uint64_t seed = 0x9e3779b97f4a7c15ull * (p + 1);
        w.key = keys[p] = image_hash[w.token] + ":copy:" + std::to_string(seed);
        if (cache.contains(w.key)) { copy_ok[p] = 1; continue; }
        if (sharded && p % size_t(a.shard_count) != size_t(a.shard_index)) continue;
        try {
          const auto bytes = read_bytes(src[w.token].image_path, 64u << 20);
          RgbImage copy = augment(decode_any(bytes, card.background), seed);
          const Box content = recipe.trim_margins ? find_content_box(copy, recipe.collection_backgrounds) : Box{0, 0, copy.width, copy.height};
          w.feat.color = color_layout(copy, content, recipe.color_grid, false);
          if (!recipe.use_model) { cache.put(w.key, pack(w.feat)); copy_ok[p] = 1; continue; }
          w.input = make_input_tensor(card, copy, content);
          run_idx.push_back(j);
        } catch (const std::exception&) {  // a copy that cannot be made is left out
        }
      }
      embed_works(*emb, works, run_idx, false, [&](size_t j) { copy_ok[begin + j] = 1; });
    });
    if (!sharded)  // a shard only computes; the merge pairs them up
      for (size_t p = 0; p < n_pairs; ++p) {  // in copy order, whatever order the workers finished in
        if (!copy_ok[p]) continue;
        const size_t t = order[p % order.size()];
        ImageFeatures f;
        if (const auto hit = cache.find(keys[p]); hit && unpack(*hit, color_dim, model_dim, 0, f)) {  // copies have no windows
          std::vector<float> rt;
          raw_of(t, rt);
          pairs.emplace_back(std::move(rt), raw_descriptor(recipe, f.color, f.model));
          pair_token.push_back(t);
        }
      }
  }
  if (sharded) {
    const std::string info = nlohmann::json({{"shard", a.shard_index}, {"of", a.shard_count}, {"features", cache.size()}, {"cache_namespace", sha256_hex(cache_ns)}}).dump(1) + "\n";
    write_file_atomic(fs::path(a.out) / "partial.json", info.data(), info.size());
    if (!a.quiet) std::cerr << "shard " << a.shard_index << "/" << a.shard_count << ": " << cache.size() << " features in " << a.out << "\n";
    return skipped.empty() ? 0 : 3;
  }
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  const auto t_learn = clock::now();
  const size_t n_partitions = a.partitions > 0 ? size_t(a.partitions)
                              : cat.tokens.size() > size_t(a.auto_partition_above) ? (cat.tokens.size() + size_t(a.partition_size) / 2) / size_t(std::max(1, a.partition_size))
                                                                                    : 1;
  if (a.part_codes && n_partitions > 1) throw Error("--part-codes: partitioned bundles have no part codes yet (use --partitions 1)");
  if (a.part_codes && card.part_channels() == 0) throw Error("--part-codes: the model " + card.name + " has no parts map (use --model models/mnv2-b13-576-parts.card.json)");
  if (a.part_codes && (a.part_dims < 4 || a.part_dims > card.part_channels())) throw Error("--part-dims must be 4.." + std::to_string(card.part_channels()));
  const int dims = a.dims > 0 ? a.dims
                              : std::max(4, std::min(n_partitions > 1 ? BuildArgs::kAutoDimsPartitioned : BuildArgs::kAutoDims, int(cat.tokens.size()) - 1));
  // Learn on 80% of the pairs; the rest (unseen copies) sets the copy threshold.
  const size_t n_learn = pairs.size() - pairs.size() / 5;
  std::vector<std::pair<std::vector<float>, std::vector<float>>> learn_pairs(pairs.begin(), pairs.begin() + long(n_learn));
  if (a.learn) {
    learn_projection(recipe, cat.tokens.size(), raw_of, learn_pairs, dims);
  } else {  // baseline: the raw descriptor, only centred
    learn_projection(recipe, cat.tokens.size(), raw_of, {}, 1);
    recipe.out_dim = recipe.in_dim;
    recipe.projection.clear();
  }
  // Every token's projected descriptor, one flat array (out_dim floats per token).
  const size_t od = size_t(recipe.out_dim);
  std::vector<float> projected(cat.tokens.size() * od);
  {
    std::vector<float> r;
    for (size_t i = 0; i < cat.tokens.size(); ++i) {
      raw_of(i, r);
      const auto p = project(recipe, r);
      std::copy(p.begin(), p.end(), projected.begin() + long(i * od));
    }
  }
  learn_quantizer(recipe, projected.data(), projected.size());
  // Unseen copies: their score with the true token (positives) and the best other token (negatives).
  float main_pos_median = 0.9f, main_neg_p99 = 0.5f;
  {
    std::vector<float> pos, neg;
    for (size_t p = n_learn; p < pairs.size(); ++p) {
      const auto q = project(recipe, pairs[p].second);
      float best_other = -1;
      for (size_t t = 0; t < cat.tokens.size(); ++t) {
        float s = 0;
        const float* pt = &projected[t * od];
        for (size_t d = 0; d < od; ++d) s += q[d] * pt[d];
        if (t == pair_token[p]) pos.push_back(s);
        else best_other = std::max(best_other, s);
      }
      neg.push_back(best_other);
    }
    // Keep 90% of unseen copies above the threshold.
    recipe.match_threshold = pos.empty() ? 0.5f : percentile(pos, 0.1);
    if (!pos.empty()) { main_pos_median = percentile(pos, 0.5); main_neg_p99 = percentile(neg, 0.99); }
  }

  if (!a.quiet)
    std::cerr << "learn: " << recipe.out_dim << "-d projection from " << cat.tokens.size() << " tokens and " << learn_pairs.size() << " copy pairs, quantiser, threshold in "
              << since(t_learn) << " s\n";

  // 3b. windows: whitening learned from synthetic crops paired with their best-overlapping window,
  // then a linear map that puts window scores on the whole-image score scale.
  std::vector<int8_t> window_codes;
  if (!recipe.windows.boxes.empty()) {
    const size_t nw = recipe.windows.boxes.size(), n_crops = std::min<size_t>(12000, std::max<size_t>(2000, cat.tokens.size()));
    std::vector<std::pair<std::vector<float>, std::vector<float>>> wpairs(n_crops);
    std::vector<uint32_t> wtoken(n_crops);
    std::vector<char> wok(n_crops, 0);
    {
      Progress prog("crops", n_crops, a.quiet);
      std::atomic<size_t> done{0};
      parallel_for(n_crops, decode_threads, [&](size_t i) {
        std::mt19937_64 rng(0xc0ffee + i);
        auto uni = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
        const uint32_t t = uint32_t(rng() % cat.tokens.size());
        try {
          RgbImage img = decode_any(read_bytes(src[t].image_path, 64u << 20), card.background);
          const int cw = std::max(8, int(img.width * uni(0.55, 0.9))), ch = std::max(8, int(img.height * uni(0.55, 0.9)));
          const Box crop_box{int(uni(0, img.width - cw)), int(uni(0, img.height - ch)), cw, ch};
          RgbImage c = crop(img, crop_box);
          if (uni(0, 1) < 0.5) c = jpeg_roundtrip(c, int(uni(30, 90)));
          if (uni(0, 1) < 0.3) c = resample(c, std::max(8, int(c.width * uni(0.4, 1.5))), std::max(8, int(c.height * uni(0.4, 1.5))));
          const auto boxes = window_boxes(recipe.windows, img.width, img.height);
          size_t bw = 0;
          for (size_t k = 1; k < boxes.size(); ++k)
            if (iou(boxes[k], crop_box) > iou(boxes[bw], crop_box)) bw = k;
          wpairs[i].first.assign(windows[t].begin() + long(bw * color_dim), windows[t].begin() + long((bw + 1) * color_dim));
          wpairs[i].second = color_layout(c, Box{0, 0, c.width, c.height}, recipe.color_grid, false);
          wtoken[i] = t;
          wok[i] = 1;
        } catch (const std::exception&) {
        }
        prog.update(++done);
      });
    }
    std::vector<std::pair<std::vector<float>, std::vector<float>>> learn_w, held_w;
    std::vector<uint32_t> held_t;
    for (size_t i = 0; i < n_crops; ++i)
      if (wok[i]) {
        if (i % 5 != 4) learn_w.push_back(wpairs[i]);
        else { held_w.push_back(wpairs[i]); held_t.push_back(wtoken[i]); }
      }
    std::vector<std::vector<float>> wx;  // a sample of database windows
    for (size_t t = 0; t < windows.size(); t += std::max<size_t>(1, windows.size() / 4000))
      for (size_t k = 0; k < nw; ++k) wx.emplace_back(windows[t].begin() + long(k * color_dim), windows[t].begin() + long((k + 1) * color_dim));
    Recipe wr;
    learn_projection(wr, wx, learn_w, a.window_dims);
    recipe.windows.in_dim = wr.in_dim;
    recipe.windows.out_dim = wr.out_dim;
    recipe.windows.mean = wr.mean;
    recipe.windows.projection = wr.projection;
    std::vector<std::vector<float>> wproj;
    for (auto& x : wx) wproj.push_back(window_descriptor(recipe, x));
    learn_quantizer(wr, wproj);
    recipe.windows.quant_scale = wr.quant_scale;
    for (size_t t = 0; t < windows.size(); ++t)
      for (size_t k = 0; k < nw; ++k) {
        const auto q = quantize(window_descriptor(recipe, std::vector<float>(windows[t].begin() + long(k * color_dim), windows[t].begin() + long((k + 1) * color_dim))), recipe.windows.quant_scale);
        window_codes.insert(window_codes.end(), q.begin(), q.end());
      }
    // Calibration on held-out copies: positives = the true token's score, negatives = the best
    // other token's; map window (median positive, 99th-percentile negative) onto the main ones.
    const WindowIndex widx(recipe.windows.out_dim, int(nw), window_codes);
    const float w2 = recipe.windows.quant_scale * recipe.windows.quant_scale;
    std::vector<float> wpos, wneg;
    for (size_t i = 0; i < held_w.size(); ++i) {
      const auto q = quantize(window_descriptor(recipe, held_w[i].second), recipe.windows.quant_scale);
      for (auto& h : widx.search(q.data(), 2)) {
        const float sc = 1.0f - float(h.distance) / (2.0f * w2);
        if (h.token == held_t[i]) wpos.push_back(sc);
        else if (wneg.size() < wpos.size() + 1) wneg.push_back(sc);
      }
    }
    const float wpm = percentile(wpos, 0.5), wn99 = percentile(wneg, 0.99);
    if (wpm > wn99 + 1e-3f && main_pos_median > main_neg_p99) {
      recipe.windows.score_scale = (main_pos_median - main_neg_p99) / (wpm - wn99);
      recipe.windows.score_offset = main_neg_p99 - recipe.windows.score_scale * wn99;
    }
    if (!a.quiet)
      std::cerr << "windows: " << nw << " x " << recipe.windows.out_dim << "-d per token; crop pairs " << learn_w.size() << "; window pos median " << wpm
                << " neg p99 " << wn99 << " -> main pos median " << main_pos_median << " neg p99 " << main_neg_p99 << "\n";
  }

  // 4. codes, index, catalogue, bundle
  std::vector<int8_t> codes;
  codes.reserve(projected.size());
  for (size_t t = 0; t < cat.tokens.size(); ++t) {
    const auto q = quantize(recipe, std::vector<float>(projected.begin() + long(t * od), projected.begin() + long((t + 1) * od)));
    codes.insert(codes.end(), q.begin(), q.end());
  }
  std::vector<float>().swap(projected);
  cat.compute_rarity();
  if (n_partitions > 1 && !window_codes.empty()) throw Error("build: sub-window codes (--window-dims) are not supported in a partitioned bundle");
  if (n_partitions > cat.tokens.size()) throw Error("build: --partitions is larger than the number of tokens");
  // Tokens whose fresh copies calibrate the verdict once the bundle is written (before
  // partitioning reorders the catalogue; matched back by collection and token id): up to
  // --calibration-tokens of each collection (each collection with enough gets its own verdict
  // model), at most max(that, --calibration-max) in all.
  // The style models also see the originals of up to kStyleExtra further tokens per collection.
  std::vector<CalibrationToken> calibration, style_extra;
  {
    std::vector<uint32_t> coll(cat.tokens.size());
    for (size_t i = 0; i < coll.size(); ++i) coll[i] = cat.tokens[i].collection;
    const size_t per = size_t(std::max(0, a.calibration_tokens)), most = size_t(std::max(0, a.calibration_max));
    std::set<size_t> taken;
    for (size_t i : calibration_sample(coll, cat.collections.size(), per, most)) {
      calibration.push_back({cat.tokens[i].collection, cat.tokens[i].token_id, src[i].image_path});
      taken.insert(i);
    }
    if (per > 0)
      for (size_t i : calibration_sample(coll, cat.collections.size(), per + kStyleExtra, most + kStyleExtra * cat.collections.size()))
        if (!taken.count(i)) style_extra.push_back({cat.tokens[i].collection, cat.tokens[i].token_id, src[i].image_path});
  }
  PartitionedParts partitioned;
  const PartitionLayout& layout = partitioned.layout;
  if (n_partitions > 1) {  // k-means over the codes; tokens reordered partition by partition
    const auto t0 = std::chrono::steady_clock::now();
    partitioned = partition_bundle(cat, codes, recipe.out_dim, n_partitions, uint32_t(std::max(1, a.probe)), uint32_t(std::max(1, a.fragment_tokens)), hw_threads);
    if (!a.quiet)
      std::cerr << "partitions: " << layout.partitions() << " learned and written in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  }
  // Thumbnails into packs, in catalogue order; each token's ThumbRef is the packs' offset table.
  // Partitioned: whole consecutive partitions per pack (a query's candidates share partitions),
  // at least kPartitionPackTokens tokens each, so that smaller partitions do not multiply the
  // files (a host reads one thumbnail by range, so a pack's size costs a query nothing). One index:
  // kPackTokens tokens per pack.
  {
    const auto t_thumbs = clock::now();
    std::vector<std::pair<size_t, size_t>> groups;  // [first, first + count) of the catalogue
    if (layout.partitions() > 1)
      groups = partition_pack_groups(layout.counts);
    else
      for (size_t f = 0; f < cat.tokens.size(); f += kPackTokens) groups.push_back({f, std::min<size_t>(kPackTokens, cat.tokens.size() - f)});
    for (auto [first, count] : groups) {
      std::vector<const std::vector<uint8_t>*> tb(count, nullptr);
      std::vector<std::vector<uint8_t>> held(count);  // this pack's thumbnails, back from the spool
      for (size_t i = 0; i < count; ++i) {  // (the place by the token's index before partitioning)
        const Spool::Place at = a.thumbs ? thumbs[partitioned.order.empty() ? first + i : partitioned.order[first + i]] : Spool::Place{0, 0};
        if (at.second == 0) continue;
        held[i] = spool->get(at);
        tb[i] = &held[i];
      }
      if (std::count(tb.begin(), tb.end(), nullptr) == long(count)) continue;
      std::vector<ThumbRef> refs;
      // Written into the bundle folder now (content-hashed, listed by the manifest written last), not kept.
      parts.written_packs.push_back(write_pack_file(a.out, make_thumb_pack(tb, uint32_t(parts.written_packs.size()), refs)));
      for (size_t i = 0; i < count; ++i) cat.tokens[first + i].thumb = refs[i];
    }
    std::vector<Spool::Place>().swap(thumbs);
    spool.reset();
    if (layout.partitions() > 1) {  // (again: now with the thumbnails' places; the table lists the packs)
      for (const FileEntry& f : parts.written_packs) partitioned.layout.packs.push_back(describe_file(f.bytes, f.sha256));
      serialize_fragments(partitioned, cat);
    }
    if (!a.quiet && a.thumbs) std::cerr << "thumbs: " << parts.written_packs.size() << " packs written in " << since(t_thumbs) << " s\n";
  }
  const auto t_write = clock::now();
  IndexParams ip;
  ip.M = a.index_m;
  CodeIndex index = n_partitions > 1 ? CodeIndex() : CodeIndex::build(codes, recipe.out_dim, ip);
  cat.entry_token.resize(cat.tokens.size());
  for (size_t i = 0; i < cat.tokens.size(); ++i) cat.entry_token[i] = uint32_t(i);
  // Per-collection statistics for pages that show them (listed in the manifest, not loaded by the widget).
  for (size_t c = 0; c < cat.collections.size(); ++c) {
    const std::string stats = nlohmann::json({{"slug", cat.collections[c].slug},
                                              {"name", cat.collections[c].name},
                                              {"tokens", cat.collections[c].token_count},
                                              {"traits", nlohmann::json::parse(cat.trait_stats_json(int(c)))}})
                                  .dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
    parts.stats.push_back({cat.collections[c].slug, std::vector<uint8_t>(stats.begin(), stats.end())});
  }

  parts.model = read_bytes(mf.onnx);
  parts.recipe = serialize_recipe(recipe);
  if (layout.partitions() > 1) {
    cat.renumber_strings();  // (the numbering readers join fragments into; saves the word index a copy)
    add_word_parts(partitioned, cat, size_t(std::max(1024, a.word_chunk_bytes)));  // (text search in chunks)
    parts.lexicon = std::move(partitioned.lexicon);
    parts.words = std::move(partitioned.words);
    parts.partitions = std::move(partitioned.table);
    parts.catalogue = std::move(partitioned.head_catalogue);
    parts.shards = std::move(partitioned.shards);
    parts.fragments = std::move(partitioned.fragments);
    parts.directory = std::move(partitioned.directory);
    parts.layout = &layout;
  } else {
    parts.index = index.serialize();
    parts.catalogue = serialize_catalogue(cat);
  }
  if (!window_codes.empty()) parts.windows = WindowIndex(recipe.windows.out_dim, int(recipe.windows.boxes.size()), window_codes).serialize();
  if (a.part_codes) {
    std::vector<std::string> images;
    for (size_t i = 0; i < cat.tokens.size(); ++i) images.push_back(src[i].image_path);
    PartCodesOptions po;
    po.dim = a.part_dims;
    po.threads = a.threads;
    po.quiet = a.quiet;
    if (keep_regions)
      po.grid_regions = [&](size_t i, std::vector<float>& grid) {
        if (regions_at.at(i).second == 0) return false;
        grid.resize(region_floats);
        region_spool->read(regions_at[i], grid.data());
        return true;
      };
    parts.parts = build_part_codes(images, mf.onnx.string(), card, po);
  }
  std::vector<Spool::Place>().swap(regions_at);
  region_spool.reset();
  write_bundle_dir(a.out, card, recipe, index, cat, parts);
  if (!a.quiet) std::cerr << "write: index, catalogue and bundle files in " << since(t_write) << " s\n";
  // Calibration opens the written bundle (its whole catalogue): release what the build held first,
  // so the two are never in memory together (the peak of a 1M-token build was here).
  const size_t n_tokens = cat.tokens.size();
  cat = Catalogue();
  std::vector<SourceFile>().swap(src);
  std::vector<int8_t>().swap(codes);
  std::vector<int8_t>().swap(window_codes);
  index = CodeIndex();
  parts = BundleParts();
  cache_holder.reset();
  const auto t_calibrate = clock::now();
  if (!calibration.empty()) calibrate_verdict(a.out, calibration, style_extra, a.threads, a.quiet);
  if (!a.quiet && !calibration.empty()) std::cerr << "calibrate: " << since(t_calibrate) << " s\n";

  // Report skipped tokens next to the bundle (not part of it).
  nlohmann::json rep = {{"tokens", n_tokens}, {"skipped", nlohmann::json::array()}};
  for (auto& s : skipped) rep["skipped"].push_back({{"collection", s.collection}, {"token", s.token}, {"source", s.source}, {"reason", s.reason}});
  const std::string rep_text = rep.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const fs::path rep_path = fs::path(a.out).parent_path() / (fs::path(a.out).filename().string() + ".build-report.json");
  write_file_atomic(rep_path, rep_text.data(), rep_text.size());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  if (!a.quiet) {
    if (layout.partitions() > 1)
      std::cerr << "partitioned: " << layout.partitions() << " partitions (" << *std::min_element(layout.counts.begin(), layout.counts.end()) << "-"
                << *std::max_element(layout.counts.begin(), layout.counts.end()) << " tokens each), " << layout.fragments.size()
                << " catalogue fragments, probe " << layout.default_probe << "\n";
    std::cerr << "bundle: " << a.out << " (" << n_tokens << " tokens, " << recipe.out_dim << "-d codes, threshold "
              << recipe.match_threshold << ", " << pairs.size() << " copy pairs) in " << secs << " s\n";
    if (!skipped.empty()) std::cerr << "skipped " << skipped.size() << " token(s); reasons in " << rep_path.string() << "\n";
  }
  return skipped.empty() ? 0 : 3;
}

}  // namespace nftlens
