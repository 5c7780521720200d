#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "descriptor.h"
#include "helpers.h"

using namespace nftlens;
using testutil::contains;
using testutil::error_of;

namespace {
// Dark random blocks (never near white) with white page margins: left 5, top 10, right 20, bottom 15.
RgbImage framed() {
  RgbImage art = testutil::random_blocks(75, 55, 5, 21);
  for (auto& v : art.rgb) v = uint8_t(v * 150 / 200);
  return testutil::pad(art, 5, 10, 20, 15, {255, 255, 255});
}
double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}
}  // namespace

TEST_CASE("descriptor: find_content_box trims uniform page margins") {
  const RgbImage img = framed();
  REQUIRE(img.width == 100);
  REQUIRE(img.height == 80);
  CHECK(find_content_box(img, {}) == Box{5, 10, 75, 55});
  // Slightly noisy margins (JPEG-like) are still margins.
  RgbImage noisy = img;
  std::mt19937 rng(5);
  for (int y = 0; y < 80; ++y)
    for (int x = 0; x < 100; ++x)
      if (x < 5 || x >= 80 || y < 10 || y >= 65)
        for (int k = 0; k < 3; ++k) noisy.rgb[(size_t(y) * 100 + x) * 3 + k] = uint8_t(255 - rng() % 10);
  CHECK(find_content_box(noisy, {}) == Box{5, 10, 75, 55});
  // A colour the collection uses as its own background is art, not margin.
  CHECK(find_content_box(img, {Rgb{250, 250, 250}}) == Box{0, 0, 100, 80});
  CHECK(find_content_box(img, {Rgb{0, 0, 255}}) == Box{5, 10, 75, 55});
  // Nothing to trim: uniform image, image without margins, tiny image.
  CHECK(find_content_box(testutil::solid(64, 64, {255, 255, 255}), {}) == Box{0, 0, 64, 64});
  CHECK(find_content_box(testutil::random_blocks(64, 48, 4, 3), {}) == Box{0, 0, 64, 48});
  CHECK(find_content_box(testutil::pad(testutil::solid(8, 8, {0, 0, 0}), 2, 2, 2, 2, {255, 255, 255}), {}) == Box{0, 0, 12, 12});
  // Dark margins on one side only (a phone screenshot's bar).
  RgbImage art = testutil::random_blocks(60, 60, 6, 8);
  for (auto& v : art.rgb) v = uint8_t(40 + v);  // never near black
  CHECK(find_content_box(testutil::pad(art, 0, 12, 0, 0, {0, 0, 0}), {}) == Box{0, 12, 60, 60});
}

TEST_CASE("descriptor: plan_query views") {
  Recipe r;
  r.color_grid = 8;  // (these tests use an 8x8 layout)
  const RgbImage img = framed();
  const ImagePlan e = plan_entry(r, img);
  REQUIRE(e.model_boxes.size() == 1);
  CHECK(e.model_boxes[0] == Box{0, 0, 100, 80});
  REQUIRE(e.views.size() == 1);
  CHECK_FALSE(e.views[0].mirrored);

  const ImagePlan q = plan_query(r, img);  // whole, trimmed, and both mirrored
  REQUIRE(q.model_boxes.size() == 2);
  CHECK(q.model_boxes[1] == Box{5, 10, 75, 55});
  REQUIRE(q.views.size() == 4);
  CHECK(q.views[0].box == Box{0, 0, 100, 80});
  CHECK_FALSE(q.views[0].mirrored);
  CHECK(q.views[0].model_run == 0);
  CHECK(q.views[1].box == Box{5, 10, 75, 55});
  CHECK_FALSE(q.views[1].mirrored);
  CHECK(q.views[1].model_run == 1);
  CHECK(q.views[2].box == q.views[0].box);
  CHECK(q.views[2].mirrored);
  CHECK(q.views[2].model_run == 0);  // mirrored views reuse the unmirrored model run
  CHECK(q.views[3].box == q.views[1].box);
  CHECK(q.views[3].mirrored);
  CHECK(q.views[3].model_run == 1);

  const ImagePlan plain = plan_query(r, testutil::random_blocks(64, 64, 8, 2));  // nothing to trim
  CHECK(plain.model_boxes.size() == 1);
  REQUIRE(plain.views.size() == 2);
  CHECK(plain.views[1].mirrored);
  CHECK(plain.views[1].model_run == 0);

  Recipe no_trim;

  no_trim.color_grid = 8;  // (these tests use an 8x8 layout)
  no_trim.trim_margins = false;
  CHECK(plan_query(no_trim, img).model_boxes.size() == 1);
  CHECK(plan_query(no_trim, img).views.size() == 2);
  Recipe no_mirror;
  no_mirror.color_grid = 8;  // (these tests use an 8x8 layout)
  no_mirror.mirror_queries = false;
  const ImagePlan nm = plan_query(no_mirror, img);
  CHECK(nm.model_boxes.size() == 2);
  REQUIRE(nm.views.size() == 2);
  CHECK_FALSE(nm.views[1].mirrored);
  Recipe keep;
  keep.color_grid = 8;  // (these tests use an 8x8 layout)
  keep.collection_backgrounds = {Rgb{255, 255, 255}};
  CHECK(plan_query(keep, img).model_boxes.size() == 1);
}

TEST_CASE("descriptor: colour layout in Lab") {
  auto check_all = [](const std::vector<float>& v, float L, float a, float b, double eps) {
    REQUIRE(v.size() == size_t(8 * 8 * 3));
    for (size_t i = 0; i < v.size(); i += 3) {
      CHECK(v[i] == doctest::Approx(L).epsilon(eps));
      CHECK(v[i + 1] == doctest::Approx(a).epsilon(eps));
      CHECK(v[i + 2] == doctest::Approx(b).epsilon(eps));
    }
  };
  check_all(color_layout(testutil::solid(32, 32, {255, 255, 255}), Box{0, 0, 32, 32}, 8, false), 1.0f, 0.0f, 0.0f, 2e-3);
  check_all(color_layout(testutil::solid(32, 32, {0, 0, 0}), Box{0, 0, 32, 32}, 8, false), 0.0f, 0.0f, 0.0f, 1e-4);
  // sRGB red: L* 53.24, a* 80.09, b* 67.20 (D65), stored /100.
  check_all(color_layout(testutil::solid(16, 24, {255, 0, 0}), Box{0, 0, 16, 24}, 8, false), 0.5324f, 0.8009f, 0.6720f, 5e-3);
  // Grid size is honoured.
  CHECK(color_layout(testutil::solid(16, 16, {1, 2, 3}), Box{0, 0, 16, 16}, 4, false).size() == size_t(48));

  // Left half red, right half blue: cells follow the image, and mirroring swaps columns.
  RgbImage rb = testutil::solid(64, 32, {255, 0, 0});
  for (int y = 0; y < 32; ++y)
    for (int x = 32; x < 64; ++x) { auto* p = &rb.rgb[(size_t(y) * 64 + x) * 3]; p[0] = 0; p[2] = 255; }
  const Box all{0, 0, 64, 32};
  const std::vector<float> n = color_layout(rb, all, 8, false), m = color_layout(rb, all, 8, true);
  CHECK(n[0 * 3 + 2] > 0.5f);  // top-left cell is red: b* strongly positive
  CHECK(n[7 * 3 + 2] < -0.5f); // top-right cell is blue: b* strongly negative
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      for (int k = 0; k < 3; ++k) CHECK(m[size_t((y * 8 + x) * 3 + k)] == n[size_t((y * 8 + 7 - x) * 3 + k)]);
  const std::vector<float> mi = color_layout(mirror(rb), all, 8, false);
  for (size_t i = 0; i < m.size(); ++i) CHECK(mi[i] == doctest::Approx(m[i]).epsilon(1e-5));
}

TEST_CASE("descriptor: normalisation, projection, quantisation") {
  std::vector<float> v = {4, -9, 0};
  power_l2_normalize(v);
  CHECK(v[0] == doctest::Approx(2 / std::sqrt(13.0)));
  CHECK(v[1] == doctest::Approx(-3 / std::sqrt(13.0)));
  CHECK(v[2] == 0.0f);
  std::vector<float> z(5, 0.0f);
  power_l2_normalize(z);  // no NaN from a zero vector
  for (float x : z) CHECK(x == 0.0f);
  std::vector<float> l = {3, 4};
  l2_normalize(l);
  CHECK(l[0] == doctest::Approx(0.6));
  CHECK(l[1] == doctest::Approx(0.8));

  Recipe id;

  id.color_grid = 8;  // (these tests use an 8x8 layout)
  id.in_dim = id.out_dim = 3;
  id.mean = {1, 1, 1};
  const std::vector<float> p = project(id, {2, 3, 1});  // centred (1, 2, 0)
  CHECK(p[0] == doctest::Approx(1 / std::sqrt(5.0)));
  CHECK(p[1] == doctest::Approx(2 / std::sqrt(5.0)));
  CHECK(p[2] == doctest::Approx(0.0));
  CHECK(contains(error_of([&] { project(id, {1, 2}); }), "descriptor has 2 values, the recipe expects 3"));

  Recipe small;

  small.color_grid = 8;  // (these tests use an 8x8 layout)
  small.in_dim = 3;
  small.out_dim = 2;
  small.mean = {0, 0, 0};
  small.projection = {1, 0, 0, 0, 0, 2};  // 2 x 3
  const std::vector<float> q = project(small, {4, 1, 3});  // (4, 6)
  REQUIRE(q.size() == 2);
  CHECK(q[0] == doctest::Approx(4 / std::sqrt(52.0)));
  CHECK(q[1] == doctest::Approx(6 / std::sqrt(52.0)));
  CHECK(norm(q) == doctest::Approx(1.0));

  Recipe qr;

  qr.color_grid = 8;  // (these tests use an 8x8 layout)
  qr.quant_scale = 100.0f;
  std::mt19937 rng(9);
  std::normal_distribution<float> g;
  std::vector<float> d(64);
  for (float& x : d) x = g(rng);
  l2_normalize(d);
  const std::vector<int8_t> code = quantize(qr, d);
  const std::vector<float> back = dequantize(qr, code.data(), int(code.size()));
  REQUIRE(back.size() == d.size());
  for (size_t i = 0; i < d.size(); ++i) CHECK(std::fabs(back[i] - d[i]) <= 0.5f / 100.0f + 1e-6f);
  CHECK(quantize(qr, {2.0f, -2.0f, 0.004f, -0.006f}) == std::vector<int8_t>{127, -127, 0, -1});  // clamped, rounded
}

TEST_CASE("descriptor: raw_descriptor and Recipe::validate") {
  const ModelCard card = parse_model_card(testutil::kMnv2Card, "card");
  Recipe r;
  r.color_grid = 8;  // (these tests use an 8x8 layout)
  r.model_weight = 0.5f;
  const RgbImage img = testutil::random_blocks(40, 40, 5, 4);
  std::vector<float> feat(576, 0.0f);
  feat[0] = 4;
  feat[1] = 9;
  const std::vector<float> raw = raw_descriptor(r, img, View{Box{0, 0, 40, 40}, false, 0, {}}, feat);
  REQUIRE(raw.size() == size_t(r.raw_dim(card)));
  CHECK(raw.size() == size_t(192 + 576));
  CHECK(raw[192] == doctest::Approx(0.5 * 2 / std::sqrt(13.0)));
  CHECK(raw[193] == doctest::Approx(0.5 * 3 / std::sqrt(13.0)));
  const std::vector<float> cl = color_layout(img, Box{0, 0, 40, 40}, 8, false);
  CHECK(std::vector<float>(raw.begin(), raw.begin() + 192) == cl);
  r.use_model = false;
  CHECK(raw_descriptor(r, img, View{Box{0, 0, 40, 40}, true, 0, {}}, feat) == color_layout(img, Box{0, 0, 40, 40}, 8, true));

  Recipe ok;

  ok.color_grid = 8;  // (these tests use an 8x8 layout)
  ok.use_model = false;
  ok.in_dim = ok.out_dim = 192;
  ok.mean.assign(192, 0.0f);
  CHECK(error_of([&] { ok.validate(card, "recipe.bin"); }) == "<no error>");
  Recipe bad = ok;
  bad.use_model = true;  // raw_dim becomes 768
  CHECK(contains(error_of([&] { bad.validate(card, "recipe.bin"); }), "recipe.bin: recipe input size 192 does not match the model card (768)"));
  bad = ok;
  bad.out_dim = 10;  // identity projection needs out_dim == in_dim
  CHECK(contains(error_of([&] { bad.validate(card, "recipe.bin"); }), "projection has the wrong size"));
  bad = ok;
  bad.mean.pop_back();
  CHECK(contains(error_of([&] { bad.validate(card, "recipe.bin"); }), "mean has the wrong size"));
  bad = ok;
  bad.quant_scale = NAN;
  CHECK(contains(error_of([&] { bad.validate(card, "recipe.bin"); }), "quantisation scale"));
  bad = ok;
  bad.out_dim = 2;
  bad.projection.assign(2 * 192, 0.0f);
  bad.projection[7] = INFINITY;
  CHECK(contains(error_of([&] { bad.validate(card, "recipe.bin"); }), "non-finite"));
}

TEST_CASE("descriptor: 16-bit weights in a bundle file refuse a hostile exponent field") {
  const std::vector<float> w = {0.5f, -1.25f, 3.0f};
  ByteWriter out;
  write_half_weights(out, w);
  ByteReader ok(out.out.data(), out.out.size(), "x.bin");
  const std::vector<float> back = read_half_weights(ok, w.size(), "weights out of range");
  CHECK(back == w);  // exactly representable values come back exactly
  // Every stored exponent far outside +-200, including ones that would overflow an int once the
  // bias is subtracted (found by fuzz_bundle), is refused with the file named.
  for (uint32_t biased : {0u, 823u, 1225u, 0x7fffffffu, 0x80000001u, 0xffffffffu}) {
    std::vector<uint8_t> bytes = out.out;
    for (int i = 0; i < 4; ++i) bytes[i] = uint8_t(biased >> (8 * i));
    ByteReader r(bytes.data(), bytes.size(), "x.bin");
    CHECK(error_of([&] { read_half_weights(r, w.size(), "weights out of range"); }) == "x.bin: weights out of range");
  }
}
