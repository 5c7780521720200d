// The verdict's collection test (shared/style_model.h): residuals, the file form and its damage.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "helpers.h"
#include "search.h"
#include "style_model.h"
#include "verdict.h"

using namespace nftlens;
using testutil::contains;
using testutil::error_of;

namespace {
constexpr int kC = 8;

// A style spanning channels 0 and 1 around a mean of 0.1 everywhere.
StyleModel two_axes(const std::string& slug) {
  StyleModel m;
  m.slug = slug;
  m.threshold = 1.0f;
  m.log_mean = -5.0f;
  m.log_sd = 1.0f;
  m.cos_mean = 0.5f;
  m.cos_sd = 0.1f;
  m.max_residual = 0.04f;
  m.mean.assign(kC, 0.1f);
  m.basis.assign(2 * kC, 0.0f);
  m.basis[0] = 1.0f;
  m.basis[kC + 1] = 1.0f;
  return m;
}
}  // namespace

TEST_CASE("style model: the residual is the energy outside the basis") {
  const StyleModel m = two_axes("nouns");
  std::vector<float> v(kC, 0.1f);
  CHECK(m.residual(v) == doctest::Approx(0.0));
  v[0] = 0.9f;  // along the basis: still the collection's
  v[1] = -0.4f;
  CHECK(m.residual(v) == doctest::Approx(0.0).epsilon(1e-9));
  v[5] = 0.4f;  // outside it: 0.3^2
  CHECK(m.residual(v) == doctest::Approx(0.09));
  CHECK(contains(error_of([&] { m.residual(std::vector<float>(3, 0.0f)); }), "do not match"));
  // The outside score: standardised log residual minus standardised cosine.
  CHECK(m.outside(std::exp(-5.0), 0.5) == doctest::Approx(0.0));
  CHECK(m.outside(std::exp(-3.0), 0.5) == doctest::Approx(2.0));   // further out
  CHECK(m.outside(std::exp(-3.0), 0.3) == doctest::Approx(4.0));   // and further from any token
  CHECK(m.outside(std::exp(-3.0), 0.9) == doctest::Approx(2.0));   // (a high cosine takes nothing away)
  CHECK(m.inside(std::exp(-4.2), 0.5));
  CHECK_FALSE(m.inside(std::exp(-3.0), 0.45));
  CHECK(std::isfinite(m.outside(0.0, 0.5)));  // (a residual of 0: bounded below)
  StyleModel lenient = m;
  lenient.threshold = 10.0f;
  CHECK(lenient.inside(0.03, 0.99));
  CHECK_FALSE(lenient.inside(0.05, 0.99));  // beyond the largest left-out residual: whatever the score
  // style_vector: signed square root, then unit length.
  const auto s = style_vector({4.0f, 0.0f, 9.0f, 0.0f});
  CHECK(s[0] == doctest::Approx(2.0 / std::sqrt(13.0)));
  CHECK(s[2] == doctest::Approx(3.0 / std::sqrt(13.0)));
}

TEST_CASE("style models: round trip, lookup by collection, every damage refused by name") {
  StyleModels s;
  s.channels = kC;
  s.dims = 2;
  s.collections = {two_axes("nouns"), two_axes("lorelei")};
  s.collections[1].threshold = 0.125f;
  s.collections[1].cos_sd = 0.25f;
  const auto bytes = s.serialize();
  const StyleModels back = StyleModels::deserialize(bytes.data(), bytes.size(), kC, "style.x.bin");
  REQUIRE(back.collections.size() == 2);
  CHECK(back.dims == 2);
  REQUIRE(back.of("lorelei") != nullptr);
  CHECK(back.of("lorelei")->threshold == 0.125f);
  CHECK(back.of("lorelei")->cos_sd == 0.25f);
  CHECK(back.of("nouns")->log_mean == -5.0f);
  CHECK(back.of("lorelei")->basis == s.collections[1].basis);  // (0 and 1 are exact in 16 bits)
  CHECK(back.of("punks") == nullptr);

  auto refused = [&](std::vector<uint8_t> b, int channels = kC) { return error_of([&] { StyleModels::deserialize(b.data(), b.size(), channels, "style.x.bin"); }); };
  CHECK(contains(refused(bytes, 16), "style.x.bin: style models are for 8 features"));
  for (size_t cut : {size_t(0), size_t(7), size_t(19), bytes.size() / 2, bytes.size() - 1}) {
    const std::string e = refused(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(cut)));
    CHECK_MESSAGE(contains(e, "style.x.bin"), cut);
  }
  auto extra = bytes;
  extra.push_back(0);
  CHECK(contains(refused(extra), "size does not match"));
  auto magic = bytes;
  magic[0] ^= 1;
  CHECK(contains(refused(magic), "not an NFT Lens style file"));
  // A value of the test that is not a number; a spread that is not positive.
  const size_t at = 20 + 1 + 5;  // header, slug length, "nouns": then the test's six values
  auto with_float = [&](size_t offset, float v) {
    auto b = bytes;
    std::memcpy(&b[at + offset], &v, 4);  // (log mean, sd, cosine mean, sd, threshold, largest residual)
    return refused(b);
  };
  CHECK(contains(with_float(16, std::nanf("")), "style test of nouns holds a value that is not a number"));
  CHECK(contains(with_float(0, INFINITY), "not a number"));
  CHECK(contains(with_float(4, 0.0f), "spread that is not positive"));
  CHECK(contains(with_float(12, -1.0f), "spread that is not positive"));
  CHECK(contains(with_float(20, -1.0f), "negative largest residual"));
  // Weights scaled out of float range (an exponent of 2^190: infinite) or beyond any real scale.
  auto scaled = [&](uint32_t e) {
    auto b = bytes;
    const size_t w = at + 24 + kC * 4;  // the test's six values, the mean: then the weights' exponent
    for (int i = 0; i < 4; ++i) b[w + size_t(i)] = uint8_t((1024 + e) >> (8 * i));
    return refused(b);
  };
  CHECK(contains(scaled(190), "not a number"));
  CHECK(contains(scaled(300), "out of range"));
  // Two models for one collection; a slug that is not one.
  StyleModels twice = s;
  twice.collections[1].slug = "nouns";
  const auto tb = twice.serialize();
  CHECK(contains(refused(tb), "two style models for collection nouns"));
  StyleModels bad_slug = s;
  bad_slug.collections[0].slug = "<script>";
  const auto bs = bad_slug.serialize();
  CHECK(contains(refused(bs), "names no collection slug"));
}

TEST_CASE("verdict: the style test decides between collection and none where the bundle has one") {
  VerdictModel m;
  m.plain = {-8.0, 4.0, 20.0};
  m.fitted_plain = true;
  m.collection_threshold = 0.6;
  const float threshold = 0.7f;
  const std::vector<TokenHit> sibling{{7, 0.50f}, {3, 0.49f}};  // below the cosine floor
  CHECK(decide_verdict(m, threshold, sibling).kind == "none");              // no style model: the floor
  CHECK(decide_verdict(m, threshold, sibling, 1).kind == "collection");     // looks like the collection's
  CHECK(decide_verdict(m, threshold, sibling, 0).kind == "none");
  const std::vector<TokenHit> copy{{7, 0.95f}, {3, 0.55f}};
  CHECK(decide_verdict(m, threshold, copy, 1).kind == "token");
  CHECK(decide_verdict(m, threshold, copy, 0).kind == "none");  // (the test alone decides)
  CHECK_FALSE(decide_verdict(m, threshold, copy, 0).close_call);
}
