// Re-ranking by alignment alone (shared/align.h), natively and in wasm (Node, core only), on the
// real inputs of real queries: the query region the first stage aligns in, its disc, and the
// thumbnails of the first 30 hits in first-stage order.
//   native: align_bench --dump CASES_DIR BUNDLE_DIR QUERY_IMAGE...   writes one case file per query
//           (runs the model and the first stage through NativeLens; thumbnails read from the packs)
//   both:   align_bench CASES_DIR [--reps 3] [--out FILE]
//           times rerank_by_alignment on every case (best of --reps, ms) and prints per case and
//           overall; --out writes every case's re-ranked order with alignments and region
//           differences (bit patterns), to check that a change keeps the ranking byte for byte.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "align.h"
#include "image.h"
#include "search.h"
#ifndef __EMSCRIPTEN__
#include <nlohmann/json.hpp>

#include "native_lens.h"
#endif

using namespace nftlens;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

namespace {

struct Case {
  std::string name;
  RgbImage query;
  Circle mask;
  std::vector<TokenHit> hits;
  std::vector<RgbImage> thumbs;
};

template <class T> void put(std::ofstream& o, const T& v) { o.write(reinterpret_cast<const char*>(&v), sizeof v); }
template <class T> void get(std::ifstream& i, T& v) { i.read(reinterpret_cast<char*>(&v), sizeof v); }
void put_image(std::ofstream& o, const RgbImage& img) {
  put(o, img.width); put(o, img.height);
  o.write(reinterpret_cast<const char*>(img.rgb.data()), std::streamsize(img.rgb.size()));
}
void get_image(std::ifstream& i, RgbImage& img) {
  get(i, img.width); get(i, img.height);
  img.rgb.resize(size_t(img.width) * img.height * 3);
  i.read(reinterpret_cast<char*>(img.rgb.data()), std::streamsize(img.rgb.size()));
}

void write_case(const fs::path& file, const Case& c) {
  std::ofstream o(file, std::ios::binary);
  put_image(o, c.query);
  put(o, c.mask);
  const uint32_t n = uint32_t(c.hits.size());
  put(o, n);
  for (uint32_t i = 0; i < n; ++i) { put(o, c.hits[i].token); put(o, c.hits[i].score); put_image(o, c.thumbs[i]); }
}

Case read_case(const fs::path& file) {
  std::ifstream i(file, std::ios::binary);
  Case c;
  c.name = file.stem().string();
  get_image(i, c.query);
  get(i, c.mask);
  uint32_t n = 0;
  get(i, n);
  c.hits.resize(n);
  c.thumbs.resize(n);
  for (uint32_t k = 0; k < n; ++k) {
    c.hits[k] = TokenHit{};
    get(i, c.hits[k].token); get(i, c.hits[k].score); get_image(i, c.thumbs[k]);
  }
  if (!i) throw std::runtime_error("truncated case " + file.string());
  return c;
}

#ifndef __EMSCRIPTEN__
int dump(const fs::path& out, const fs::path& bundle, const std::vector<std::string>& images) {
  fs::create_directories(out);
  NativeLens lens(bundle, 1);
  for (const std::string& path : images) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const RgbImage img = lens.decode(raw);
    auto session = lens.session(img);
    ImageRequest req;
    req.k = 30;
    req.rerank = 0;
    const Answer a = lens.search(*session, req);
    Case c;
    const Box& v = a.region;
    c.query = v == Box{0, 0, img.width, img.height} ? img : crop(img, v);
    c.mask = a.circle;
    if (c.mask.found()) { c.mask.cx -= float(v.x); c.mask.cy -= float(v.y); }
    c.hits = a.hits;
    const nlohmann::json doc = nlohmann::json::parse(a.json);
    for (size_t i = 0; i < c.hits.size(); ++i) {
      const auto& th = doc["results"][i]["thumb"];
      RgbImage t;
      if (th.is_object()) {
        std::ifstream f(bundle / th["pack"].get<std::string>(), std::ios::binary);
        std::vector<uint8_t> bytes(th["bytes"].get<size_t>());
        f.seekg(std::streamoff(th["offset"].get<uint64_t>()));
        f.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size()));
        t = decode_image(bytes.data(), bytes.size(), lens.bundle().manifest.model.background);
      }
      c.thumbs.push_back(std::move(t));
    }
    write_case(out / (fs::path(path).stem().string() + ".case"), c);
    std::printf("%s: %dx%d region %d,%d %dx%d%s, %zu hits\n", path.c_str(), img.width, img.height, v.x, v.y, v.w, v.h,
                c.mask.found() ? " disc" : "", c.hits.size());
  }
  return 0;
}
#endif

uint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
#ifndef __EMSCRIPTEN__
  if (args.size() >= 3 && args[0] == "--dump") return dump(args[1], args[2], std::vector<std::string>(args.begin() + 3, args.end()));
#endif
  if (args.empty()) { std::fprintf(stderr, "usage: align_bench CASES_DIR [--reps N] [--out FILE]\n"); return 2; }
  int reps = 3;
  std::string out_file;
  for (size_t i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--reps") reps = std::stoi(args[i + 1]);
    else if (args[i] == "--out") out_file = args[i + 1];
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(args[0]))
    if (e.path().extension() == ".case") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::ofstream out;
  if (!out_file.empty()) out.open(out_file);
  std::vector<double> all;
  for (const fs::path& f : files) {
    const Case c = read_case(f);
    double best = 1e30;
    std::vector<TokenHit> hits;
    for (int r = 0; r < reps; ++r) {
      hits = c.hits;
      const auto t0 = clk::now();
      rerank_by_alignment(hits, c.query, c.thumbs, c.mask);
      best = std::min(best, std::chrono::duration<double, std::milli>(clk::now() - t0).count());
    }
    all.push_back(best);
    std::printf("%-28s %4dx%-4d %7.1f ms  top %u\n", c.name.c_str(), c.query.width, c.query.height, best, hits.empty() ? 0 : hits[0].token);
    if (out) {
      out << c.name;
      for (const TokenHit& h : hits)
        out << ' ' << h.token << ':' << std::hex << bits(h.alignment) << ':' << bits(h.evidence_alignment) << ':' << bits(h.region_worst) << ':'
            << bits(h.region_concentration) << std::dec;
      out << '\n';
    }
  }
  std::vector<double> s = all;
  std::sort(s.begin(), s.end());
  double sum = 0;
  for (double v : s) sum += v;
  if (!s.empty())
    std::printf("cases %zu: mean %.1f ms, median %.1f, p90 %.1f, max %.1f\n", s.size(), sum / s.size(), s[s.size() / 2],
                s[std::min(s.size() - 1, s.size() * 9 / 10)], s.back());
  return 0;
}
