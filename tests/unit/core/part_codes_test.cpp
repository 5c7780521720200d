#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "helpers.h"
#include "model_card.h"
#include "part_codes.h"

using namespace nftlens;
using testutil::contains;
using testutil::error_of;

namespace {
constexpr int kC = 16, kDim = 8;

// A whitening that keeps the first kDim channels of the normalised vector (mean 0).
PartSet keep_first() {
  PartSet s;
  s.mean.assign(kC, 0.0f);
  s.projection.assign(size_t(kDim) * kC, 0.0f);
  for (int d = 0; d < kDim; ++d) s.projection[size_t(d) * kC + size_t(d)] = 1.0f;
  s.quant_scale = 120.0f;
  return s;
}

std::vector<float> random_regions(std::mt19937& rng, int count) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(size_t(count) * kC);
  for (float& x : v) x = std::pow(u(rng), 6.0f);  // (sparse, like ReLU maps: tokens far apart)
  return v;
}

// n tokens; token t's grid regions grid[t] (kParts x kC raw means) and zoom windows zoom[t]
// (`zoom_windows` x kC).
struct Fixture {
  std::vector<std::vector<float>> grid, zoom;
  PartCodes codes;
  explicit Fixture(size_t n, unsigned seed = 5, int zoom_windows = kZoomWindows) {
    std::mt19937 rng(seed);
    const PartCodes coder(kC, kDim, keep_first(), keep_first(), {}, {});
    std::vector<int8_t> gc, zc;
    for (size_t t = 0; t < n; ++t) {
      grid.push_back(random_regions(rng, kParts));
      zoom.push_back(random_regions(rng, zoom_windows));
      for (int r = 0; r < kParts; ++r) {
        const auto g = coder.code(coder.grid(), grid.back().data() + size_t(r) * kC);
        gc.insert(gc.end(), g.begin(), g.end());
      }
      for (int r = 0; r < zoom_windows; ++r) {
        const auto z = coder.code(coder.zoom(), zoom.back().data() + size_t(r) * kC);
        zc.insert(zc.end(), z.begin(), z.end());
      }
    }
    codes = PartCodes(kC, kDim, keep_first(), keep_first(), gc, zc, zoom_windows);
  }
};
auto all = [](uint32_t) { return true; };
}  // namespace

TEST_CASE("part codes: a card's parts map is not a feature, and is checked") {
  const std::string card = R"({"format": "nftlens-model-card/1", "name": "p", "file": "p.onnx",
    "input": {"name": "x", "width": 32, "height": 32},
    "outputs": [{"name": "g", "dim": 4}, {"name": "m", "shape": "NCHW", "dim": 6, "pooling": "parts"}]})";
  const ModelCard c = parse_model_card(card, "p.card.json");
  CHECK(c.feature_dim() == 4);
  CHECK(c.part_channels() == 6);
  CHECK(parse_model_card(testutil::kMnv2Card, "default").part_channels() == 0);
  std::string twice = card;
  twice.replace(twice.find(R"({"name": "g", "dim": 4})"), 23, R"({"name": "g", "shape": "NCHW", "dim": 4, "pooling": "parts"})");
  CHECK(contains(error_of([&] { parse_model_card(twice, "p.card.json"); }), "p.card.json"));
  std::string wide = card;
  wide.replace(wide.find("\"width\": 32"), 11, "\"width\": 48");
  CHECK(contains(error_of([&] { parse_model_card(wide, "p.card.json"); }), "square"));

  // pool_outputs leaves the map out; pool_parts gives its regions and the whole map.
  std::vector<float> g{1, 2, 3, 4}, m(6 * 14 * 14, 1.0f);
  const std::vector<const float*> outs{g.data(), m.data()};
  const std::vector<size_t> sizes{g.size(), m.size()};
  CHECK(pool_outputs(c, outs, sizes) == g);
  const auto parts = pool_parts(c, outs, sizes);
  CHECK(parts.size() == size_t(kRegionRows) * 6);
  for (float v : parts) CHECK(v == doctest::Approx(1.0f));
}

TEST_CASE("part codes: regions are half-side squares at 0, 2/7 and 1/2, then 3/8-side windows, on any square map") {
  for (int side : {14, 28}) {
    // value = x cell index in channel 0, y cell index in channel 1 (NCHW), the same map NHWC
    std::vector<float> nchw(2 * size_t(side) * side), nhwc(nchw.size());
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const size_t cell = size_t(y) * side + x;
        nchw[cell] = float(x);
        nchw[size_t(side) * side + cell] = float(y);
        nhwc[cell * 2] = float(x);
        nhwc[cell * 2 + 1] = float(y);
      }
    const auto a = pool_part_regions(nchw.data(), nchw.size(), 2, true, "map");
    const auto b = pool_part_regions(nhwc.data(), nhwc.size(), 2, false, "map");
    CHECK(a == b);
    REQUIRE(a.size() == size_t(kRegionRows) * 2);
    const int half = side / 2, mid = int(std::lround(2.0 / 7.0 * side));
    const float first = float(half - 1) / 2, centre = float(mid) + float(half - 1) / 2, last = float(half) + float(half - 1) / 2;
    CHECK(a[0] == doctest::Approx(first));             // region 0: x cells 0..half-1
    CHECK(a[2] == doctest::Approx(centre));            // region 1: from 2/7
    CHECK(a[4] == doctest::Approx(last));              // region 2: from 1/2
    CHECK(a[size_t(3) * 2 + 1] == doctest::Approx(centre));  // region 3: second row
    CHECK(a[size_t(kWholeRow) * 2] == doctest::Approx(float(side - 1) / 2));  // the whole map
    // the small windows: 3/8 of the side, row-major from 0, 5/24, 10/24 and 15/24
    const int small = int(std::lround(3.0 / 8.0 * side)), s3 = int(std::lround(15.0 / 24.0 * side));
    CHECK(a[size_t(kParts) * 2] == doctest::Approx(float(small - 1) / 2));                       // window 9: top left
    CHECK(a[size_t(kParts + 3) * 2] == doctest::Approx(float(s3) + float(side - s3 - 1) / 2));  // window 12: top right, to the edge
    CHECK(a[size_t(kParts + 12) * 2 + 1] == doctest::Approx(float(s3) + float(side - s3 - 1) / 2));  // window 21: bottom row
    const auto w = zoom_window(kZoomWindows - 1);
    CHECK(w[0] + w[2] == doctest::Approx(1.0f));
    CHECK(w[1] + w[3] == doctest::Approx(1.0f));
  }
  std::vector<float> odd(2 * 15 * 14);
  CHECK(contains(error_of([&] { pool_part_regions(odd.data(), odd.size(), 2, true, "model output \"m\""); }), "model output \"m\""));
}

TEST_CASE("part codes: a sticker over a few regions, a zoom on one region and a mirrored query find their token") {
  const Fixture f(300);
  std::mt19937 rng(9);
  for (uint32_t t : {0u, 17u, 299u}) {
    // grid: three regions spoilt (a sticker), the rest the token's own
    std::vector<float> q = f.grid[t];
    for (int r : {0, 1, 4}) {
      const auto noise = random_regions(rng, 1);
      std::copy(noise.begin(), noise.end(), q.begin() + long(r) * kC);
    }
    q.resize(size_t(kRegionRows) * kC, 0.5f);  // (the small windows' and the whole map's rows: unused by the grid)
    auto hits = f.codes.search_grid(q, 3, all);
    REQUIRE(!hits.empty());
    CHECK(hits[0].token == t);
    CHECK(hits[0].score > hits[1].score);
    // mirrored: the grid's columns swap
    std::vector<float> m(q.size());
    for (int r = 0; r < kRegionRows; ++r) {
      const int from = r < kParts ? (r / kPartGrid) * kPartGrid + (kPartGrid - 1 - r % kPartGrid) : r;
      std::copy(q.begin() + long(from) * kC, q.begin() + long(from + 1) * kC, m.begin() + long(r) * kC);
    }
    CHECK(f.codes.search_grid(m, 1, all).at(0).token == t);
    // zoom: the query's whole map is one of the token's zoom windows (a half-side one, a small one)
    std::vector<float> z(size_t(kRegionRows) * kC, 0.0f);
    for (int w : {5, kParts + 6}) {
      std::copy(f.zoom[t].begin() + w * kC, f.zoom[t].begin() + (w + 1) * kC, z.begin() + long(kWholeRow) * kC);
      hits = f.codes.search_zoom(z, 2, all);
      CHECK(hits.at(0).token == t);
      CHECK(hits.at(0).score == doctest::Approx(1.0f).epsilon(0.03));
    }
    // a filter leaves the token out
    CHECK(f.codes.search_zoom(z, 1, [&](uint32_t x) { return x != t; }).at(0).token != t);
  }
}

TEST_CASE("part codes: the file round-trips and a damaged one is refused by name") {
  const Fixture f(20);
  const auto bytes = f.codes.serialize();
  const PartCodes back = PartCodes::deserialize(bytes.data(), bytes.size(), kC, 20, "parts.x.bin");
  CHECK(back.serialize() == bytes);
  CHECK(back.tokens() == 20);
  CHECK(back.dim() == kDim);
  CHECK(contains(error_of([&] { PartCodes::deserialize(bytes.data(), bytes.size() - 1, kC, 20, "parts.x.bin"); }), "parts.x.bin"));
  CHECK(contains(error_of([&] { PartCodes::deserialize(bytes.data(), 30, kC, 20, "parts.x.bin"); }), "parts.x.bin"));
  CHECK(contains(error_of([&] { PartCodes::deserialize(bytes.data(), bytes.size(), kC + 1, 20, "parts.x.bin"); }), "channels"));
  CHECK(contains(error_of([&] { PartCodes::deserialize(bytes.data(), bytes.size(), kC, 21, "parts.x.bin"); }), "21"));
  auto bad = bytes;
  bad[0] ^= 1;
  CHECK(contains(error_of([&] { PartCodes::deserialize(bad.data(), bad.size(), kC, 20, "parts.x.bin"); }), "not an NFT Lens part code file"));
  bad = bytes;
  const float nan = std::nanf("");
  std::memcpy(bad.data() + 28, &nan, 4);  // the grid's first mean value (after 7 header words)
  CHECK(contains(error_of([&] { PartCodes::deserialize(bad.data(), bad.size(), kC, 20, "parts.x.bin"); }), "not a number"));
  bad = bytes;
  bad[12] = 200;  // dim > channels
  CHECK(contains(error_of([&] { PartCodes::deserialize(bad.data(), bad.size(), kC, 20, "parts.x.bin"); }), "parts.x.bin"));
  bad = bytes;
  bad[24] = 10;  // a zoom window count this version does not know
  CHECK(contains(error_of([&] { PartCodes::deserialize(bad.data(), bad.size(), kC, 20, "parts.x.bin"); }), "zoom window"));

  // A version 1 file (the grid's 9 zoom windows only, as bundles built before 2026-12-07 have) still
  // reads, and is written back the same; its zoom scores use the windows it has.
  const Fixture old(20, 5, kParts);
  const auto v1 = old.codes.serialize();
  CHECK(v1[4] == 1);
  CHECK(v1.size() + size_t(20) * (kZoomWindows - kParts) * kDim + 4 == bytes.size());
  const PartCodes back1 = PartCodes::deserialize(v1.data(), v1.size(), kC, 20, "parts.v1.bin");
  CHECK(back1.zoom_windows() == kParts);
  CHECK(back1.serialize() == v1);
  std::vector<float> z(size_t(kRegionRows) * kC, 0.0f);
  std::copy(old.zoom[7].begin() + 4 * kC, old.zoom[7].begin() + 5 * kC, z.begin() + long(kWholeRow) * kC);
  CHECK(back1.search_zoom(z, 1, all).at(0).token == 7u);
}
