// Embedding throughput of the native builder, split into its two halves (prints tables; no assertions):
//   1. decode + preprocess per image: decode_any, colour layout, model input tensor (and the builder's
//      per-image extras: SHA-256 of the file, dominant ring colour), on 1 thread and on T threads; and the
//      result thumbnail (resample + PNG), which the builder makes on its main thread between batches;
//   2. inference: nftlens::Embedder (ONNX Runtime, CPU) at batch 1, 8 and 32, 1 and 2 intra-op threads, on
//      one thread; then what the builder runs (since issue #5): W workers (--workers, default all cores),
//      each calling Run with its own batches on one shared session with 1 intra-op thread and spinning
//      off, and the builder's whole per-image pipeline on those W workers (read from memory, SHA-256,
//      decode, colour layout, ring colour, input tensor, thumbnail, inference; and the synthetic-copy
//      variant: decode, augment, content box, colour layout, input tensor, inference); and whether
//      the features of every batch/thread config equal those of batch 32 x 2 threads bit for bit.
// Files are read into memory first, so disk time is excluded. Inference inputs are the real preprocessed
// images (a pool of up to 256, cycled: inference cost does not depend on pixel values).
//   embed_bench [DIR] [--n 512] [--card models/mnv2-b13-576.card.json] [--model build/models/mnv2-b13-576.onnx]
//               [--threads 2] [--grid 6] [--batches 1,8,32] [--workers W] [--worker-batches 1,4,32]
// DIR: a collection's images folder (default build/q10k/nouns/images, else build/example/nouns/images).
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "augment.h"
#include "bundle_io.h"
#include "descriptor.h"
#include "embedder.h"
#include "image_file.h"
#include "learn.h"
#include "model_card.h"
#include "sha256.h"

using namespace nftlens;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }
// CPU time (s) of this thread or of the whole process (all threads): less sensitive than wall time to
// other work on a shared machine (a contended run shows wall >> CPU).
static double cpu_now(bool process) {
  timespec ts{};
  clock_gettime(process ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

template <class F>
static void parallel_for(size_t n, int threads, F fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t)
    pool.emplace_back([&] { for (size_t i; (i = next++) < n;) fn(i); });
  for (auto& th : pool) th.join();
}

static std::string loadavg() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) < 0) return "?";
  char b[64];
  std::snprintf(b, sizeof b, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return b;
}

int main(int argc, char** argv) {
  std::string dir, card_path = "models/mnv2-b13-576.card.json", model_path = "build/models/mnv2-b13-576.onnx";
  size_t n = 512;
  int threads = 2, grid = 6;  // grid: the builder's default --color-grid
  std::vector<size_t> batches_list{1, 8, 32}, worker_batches{1, 4, 32};
  int workers = int(std::max(1u, std::thread::hardware_concurrency()));
  auto parse_list = [](const std::string& v) {
    std::vector<size_t> out;
    std::stringstream bs(v);
    for (std::string x; std::getline(bs, x, ',');) out.push_back(std::stoul(x));
    return out;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--n") n = std::stoul(val());
    else if (a == "--card") card_path = val();
    else if (a == "--model") model_path = val();
    else if (a == "--threads") threads = std::stoi(val());
    else if (a == "--grid") grid = std::stoi(val());
    else if (a == "--batches") batches_list = parse_list(val());
    else if (a == "--worker-batches") worker_batches = parse_list(val());
    else if (a == "--workers") workers = std::stoi(val());
    else if (a == "-h" || a == "--help") {
      std::fprintf(stderr, "usage: embed_bench [DIR] [--n 512] [--card CARD.json] [--model MODEL.onnx] [--threads 2] [--grid 6] [--batches 1,8,32] [--workers W] [--worker-batches 1,4,32]\n");
      return 0;
    } else dir = a;
  }
  if (dir.empty()) dir = fs::exists("build/q10k/nouns/images") ? "build/q10k/nouns/images" : "build/example/nouns/images";

  std::ifstream cf(card_path);
  if (!cf) { std::fprintf(stderr, "cannot read %s\n", card_path.c_str()); return 1; }
  std::stringstream ss;
  ss << cf.rdbuf();
  const ModelCard card = parse_model_card(ss.str(), card_path);

  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.size() > n) files.resize(n);
  n = files.size();
  if (n == 0) { std::fprintf(stderr, "no images in %s\n", dir.c_str()); return 1; }
  std::vector<std::vector<uint8_t>> bytes(n);
  size_t total_bytes = 0;
  for (size_t i = 0; i < n; ++i) { bytes[i] = read_bytes(files[i], 64u << 20); total_bytes += bytes[i].size(); }
  const std::string load0 = loadavg();

  // ---- 1. decode + preprocess -------------------------------------------------------------------
  const size_t pool_n = std::min<size_t>(n, 256);
  std::vector<std::vector<float>> inputs(pool_n);
  double t_decode = 0, t_color = 0, t_input = 0, t_extras = 0;
  double c_decode = 0, c_color = 0, c_input = 0, c_extras = 0;
  double t_thumb = 0, c_thumb = 0;
  int w0 = 0, h0 = 0;
  {
    auto t_all = clk::now();
    const double c_all = cpu_now(false);
    for (size_t i = 0; i < n; ++i) {
      auto t = clk::now();
      double c = cpu_now(false);
      auto lap = [&](double& wall, double& cpu) {
        wall += secs(t);
        const double c2 = cpu_now(false);
        cpu += c2 - c;
        c = c2;
        t = clk::now();
      };
      const std::string hash = sha256_hex(bytes[i].data(), bytes[i].size());
      lap(t_extras, c_extras);
      const RgbImage img = decode_any(bytes[i], card.background);
      lap(t_decode, c_decode);
      if (i == 0) { w0 = img.width; h0 = img.height; }
      const Box box{0, 0, img.width, img.height};
      const auto color = color_layout(img, box, grid, false);
      lap(t_color, c_color);
      const auto ring = dominant_ring_colour(img);
      lap(t_extras, c_extras);
      auto input = make_input_tensor(card, img, box);
      lap(t_input, c_input);
      const auto png = encode_png(resample(img, 96, std::max(1, 96 * img.height / img.width)));  // builder: thumbs/
      lap(t_thumb, c_thumb);
      if (png.empty()) std::abort();
      if (i < pool_n) inputs[i] = std::move(input);
      if (color.empty() || hash.empty() || (ring.first && ring.second[0] > 255)) std::abort();  // keep the work
    }
    const double t1 = secs(t_all), c1 = cpu_now(false) - c_all;
    auto tt = clk::now();
    double cc = cpu_now(true);
    std::atomic<size_t> sink{0};
    parallel_for(n, threads, [&](size_t i) {
      const std::string hash = sha256_hex(bytes[i].data(), bytes[i].size());
      const RgbImage img = decode_any(bytes[i], card.background);
      const Box box{0, 0, img.width, img.height};
      const auto color = color_layout(img, box, grid, false);
      const auto ring = dominant_ring_colour(img);
      const auto input = make_input_tensor(card, img, box);
      sink += color.size() + input.size() + hash.size() + ring.first;
    });
    const double tT = secs(tt), cT = cpu_now(true) - cc;
    tt = clk::now();
    cc = cpu_now(true);
    parallel_for(n, threads, [&](size_t i) {  // the three named steps only
      const RgbImage img = decode_any(bytes[i], card.background);
      const Box box{0, 0, img.width, img.height};
      sink += color_layout(img, box, grid, false).size() + make_input_tensor(card, img, box).size();
    });
    const double tT3 = secs(tt), cT3 = cpu_now(true) - cc;

    std::printf("embed bench: %zu images from %s (%dx%d, %.1f KB/file avg), model %s (%dx%d %s -> %d-d), hw threads %u\n", n,
                dir.c_str(), w0, h0, total_bytes / 1024.0 / n, card.name.c_str(), card.width, card.height, card.layout.c_str(),
                card.feature_dim(), std::thread::hardware_concurrency());
    std::printf("load average at start: %s\n\n", load0.c_str());
    std::printf("decode + preprocess (files in memory)\n");
    std::printf("%-46s %8s %10s %10s %12s\n", "step", "threads", "ms/image", "images/s", "CPU ms/img");
    auto row = [&](const char* name, int th, double s, double c) {
      std::printf("%-46s %8d %10.3f %10.1f %12.3f\n", name, th, 1000 * s / n, n / s, 1000 * c / n);
    };
    row("decode_any", 1, t_decode, c_decode);
    char cname[64];
    std::snprintf(cname, sizeof cname, "color_layout %dx%d", grid, grid);
    row(cname, 1, t_color, c_color);
    row("make_input_tensor", 1, t_input, c_input);
    row("decode + color_layout + make_input_tensor", 1, t_decode + t_color + t_input, c_decode + c_color + c_input);
    row("decode + color_layout + make_input_tensor", threads, tT3, cT3);
    row("builder extras (sha256 + dominant_ring_colour)", 1, t_extras, c_extras);
    row("all of the above (builder workers, per image)", 1, t1 - t_thumb, c1 - c_thumb);
    row("all of the above (builder workers, per image)", threads, tT, cT);
    row("thumbnail: resample to 96 px + encode_png", 1, t_thumb, c_thumb);
  }

  // ---- 2. inference -----------------------------------------------------------------------------
  std::printf("\ninference (nftlens::Embedder, ONNX Runtime CPU, %s)\n", model_path.c_str());
  std::printf("%-6s %16s %8s %10s %10s %10s %12s\n", "batch", "intra-op threads", "images", "ms/batch", "ms/image", "images/s", "CPU ms/img");
  for (int th : {1, 2}) {
    Embedder emb(model_path, card, EmbedderOptions{th, false});
    for (size_t batch : batches_list) {
      auto make = [&](size_t start, size_t count) {
        std::vector<std::vector<float>> b;
        for (size_t k = 0; k < count; ++k) b.push_back(inputs[(start + k) % pool_n]);
        return b;
      };
      // warm-up (first runs allocate the arena, pick kernels)
      for (int w = 0; w < 2; ++w) emb.run(make(0, batch));
      const size_t batches = std::max<size_t>(1, n / batch);
      double s = 0, c = 0;
      for (size_t bi = 0; bi < batches; ++bi) {
        const auto b = make(bi * batch, batch);  // copying inputs is not timed
        auto t = clk::now();
        const double c0 = cpu_now(true);
        const auto out = emb.run(b);
        s += secs(t);
        c += cpu_now(true) - c0;
        if (out.size() != b.size() || out[0].size() != size_t(card.feature_dim())) { std::fprintf(stderr, "bad output\n"); return 1; }
      }
      const size_t imgs = batches * batch;
      std::printf("%-6zu %16d %8zu %10.2f %10.3f %10.1f %12.3f\n", batch, th, imgs, 1000 * s / batches, 1000 * s / imgs, imgs / s, 1000 * c / imgs);
      std::fflush(stdout);
    }
  }
  // ---- 3. the builder's configuration: W workers x 1 intra-op thread -----------------------------
  EmbedderOptions wo{1, false};
  wo.allow_spinning = false;
  Embedder shared(model_path, card, wo);
  std::vector<std::vector<float>> ref;  // features at batch 32, 2 intra-op threads (the builder before #5)
  {
    Embedder e2(model_path, card, EmbedderOptions{2, false});
    for (size_t b = 0; b < pool_n; b += 32) {
      std::vector<std::vector<float>> in(inputs.begin() + long(b), inputs.begin() + long(std::min(pool_n, b + 32)));
      for (auto& f : e2.run(in)) ref.push_back(std::move(f));
    }
  }
  auto compare = [&](const std::vector<std::vector<float>>& got) {  // -> "identical" or the max |diff|
    double m = 0;
    bool same = true;
    for (size_t i = 0; i < got.size(); ++i)
      for (size_t k = 0; k < got[i].size(); ++k) {
        same &= got[i][k] == ref[i][k];
        m = std::max(m, double(std::abs(got[i][k] - ref[i][k])));
      }
    char b[64];
    if (same) std::snprintf(b, sizeof b, "identical");
    else std::snprintf(b, sizeof b, "max|d| %.2g", m);
    return std::string(b);
  };
  std::printf("\nthe builder's inference: %d workers, each Run on its own batches, one shared session, 1 intra-op thread, no spinning\n", workers);
  std::printf("%-6s %16s %8s %10s %10s %12s   %s\n", "batch", "workers x thr", "images", "ms/image", "images/s", "CPU ms/img", "features vs batch 32 x 2 threads");
  for (size_t batch : worker_batches) {
    // features of the first pool_n inputs in fixed chunks of `batch` (the builder's chunking), by W workers
    std::vector<std::vector<float>> got(pool_n);
    parallel_for((pool_n + batch - 1) / batch, workers, [&](size_t c) {
      std::vector<std::vector<float>> in(inputs.begin() + long(c * batch), inputs.begin() + long(std::min(pool_n, (c + 1) * batch)));
      auto out = shared.run(in);
      for (size_t k = 0; k < out.size(); ++k) got[c * batch + k] = std::move(out[k]);
    });
    const size_t batches = std::max<size_t>(1, n / batch), imgs = batches * batch;
    std::vector<std::vector<std::vector<float>>> pre(batches);  // inputs copied beforehand (not timed)
    for (size_t bi = 0; bi < batches; ++bi)
      for (size_t k = 0; k < batch; ++k) pre[bi].push_back(inputs[(bi * batch + k) % pool_n]);
    auto t = clk::now();
    const double c0 = cpu_now(true);
    parallel_for(batches, workers, [&](size_t bi) { if (shared.run(pre[bi]).size() != batch) std::abort(); });
    const double s = secs(t), c = cpu_now(true) - c0;
    char wt[32];
    std::snprintf(wt, sizeof wt, "%d x 1", workers);
    std::printf("%-6zu %16s %8zu %10.3f %10.1f %12.3f   %s\n", batch, wt, imgs, 1000 * s / imgs, imgs / s, 1000 * c / imgs, compare(got).c_str());
    std::fflush(stdout);
  }
  {  // the other configs of section 2 against the reference too
    std::printf("features of the single-thread configs vs batch 32 x 2 threads:");
    for (int th : {1, 2})
      for (size_t batch : {size_t(1), size_t(8), size_t(32)}) {
        Embedder e(model_path, card, EmbedderOptions{th, false});
        std::vector<std::vector<float>> got;
        for (size_t b = 0; b < pool_n; b += batch) {
          std::vector<std::vector<float>> in(inputs.begin() + long(b), inputs.begin() + long(std::min(pool_n, b + batch)));
          for (auto& f : e.run(in)) got.push_back(std::move(f));
        }
        std::printf("  b%zu x %d: %s", batch, th, compare(got).c_str());
      }
    std::printf("\n");
  }

  // ---- 4. the builder's whole per-image work on W workers ------------------------------------------
  std::printf("\nthe builder's per-image pipeline on %d workers (files in memory; chunks of `batch` images claimed by the next free worker)\n", workers);
  std::printf("%-44s %6s %8s %10s %10s %12s\n", "pipeline", "batch", "images", "ms/image", "images/s", "CPU ms/img");
  std::vector<Rgb> backgrounds;
  {
    std::vector<std::pair<bool, Rgb>> rings;
    for (size_t i = 0; i < std::min<size_t>(n, 64); ++i) rings.push_back(dominant_ring_colour(decode_any(bytes[i], card.background)));
    backgrounds = learn_backgrounds(rings);
  }
  for (int kind = 0; kind < 2; ++kind)
    for (size_t batch : worker_batches) {
      std::atomic<size_t> sink{0};
      auto t = clk::now();
      const double c0 = cpu_now(true);
      parallel_for((n + batch - 1) / batch, workers, [&](size_t c) {
        std::vector<std::vector<float>> in;
        for (size_t i = c * batch; i < std::min(n, (c + 1) * batch); ++i) {
          if (kind == 0) {  // a token: what the embed phase does per image (thumbnails on)
            const std::string hash = sha256_hex(bytes[i].data(), bytes[i].size());
            const RgbImage img = decode_any(bytes[i], card.background);
            const Box box{0, 0, img.width, img.height};
            const auto color = color_layout(img, box, grid, false);
            const auto ring = dominant_ring_colour(img);
            const auto png = encode_png(resample(img, 96, std::max(1, 96 * img.height / img.width)));
            in.push_back(make_input_tensor(card, img, box));
            sink += color.size() + hash.size() + ring.first + png.size();
          } else {  // a synthetic copy: what the copies phase does per image
            const RgbImage copy = augment(decode_any(bytes[i], card.background), 0x9e3779b97f4a7c15ull * (i + 1));
            const Box content = find_content_box(copy, backgrounds);
            sink += color_layout(copy, content, grid, false).size();
            in.push_back(make_input_tensor(card, copy, content));
          }
        }
        sink += shared.run(in).size();
      });
      const double s = secs(t), c = cpu_now(true) - c0;
      std::printf("%-44s %6zu %8zu %10.3f %10.1f %12.3f\n", kind == 0 ? "token: read..thumbnail + inference" : "copy: decode, augment, .. + inference", batch, n,
                  1000 * s / n, n / s, 1000 * c / n);
      std::fflush(stdout);
    }

  std::printf("\nload average at end: %s  (CPU ms/img: CPU time of this thread, or of all threads for the\n"
              "multi-threaded rows, per image; ONNX Runtime's worker threads spin while waiting, which counts)\n", loadavg().c_str());
  return 0;
}
