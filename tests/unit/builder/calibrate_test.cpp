// The verdict's calibration (builder/calibrate.h): which tokens it samples, and the models it fits
// from calibration searches (the searches themselves need a model run: tests/cli).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <tuple>

#include "calibrate.h"
#include "learn.h"

using namespace nftlens;

TEST_CASE("calibration_sample: up to N tokens of each collection, at most max(N, the cap) in all") {
  // One collection: the first N of the seeded order (the sample bundles had before per-collection models).
  std::vector<uint32_t> one(500, 0);
  std::vector<size_t> order(one.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(777));
  CHECK(calibration_sample(one, 1, 100, 1000) == std::vector<size_t>(order.begin(), order.begin() + 100));
  CHECK(calibration_sample(one, 1, 700, 100).size() == 500);  // (N above the cap: N; all 500 here)
  CHECK(calibration_sample(one, 1, 0, 1000).empty());
  // Three collections of 300, 200 and 7 tokens.
  std::vector<uint32_t> three;
  for (auto [c, n] : {std::pair<uint32_t, size_t>{0, 300}, {1, 200}, {2, 7}}) three.insert(three.end(), n, c);
  auto counts = [&](const std::vector<size_t>& s) {
    std::vector<size_t> n(3, 0);
    for (size_t i : s) ++n.at(three.at(i));
    return n;
  };
  const auto s = calibration_sample(three, 3, 100, 1000);
  CHECK(counts(s) == std::vector<size_t>{100, 100, 7});
  CHECK(std::set<size_t>(s.begin(), s.end()).size() == s.size());
  // The cap shares the total evenly.
  CHECK(counts(calibration_sample(three, 3, 100, 150)) == std::vector<size_t>{50, 50, 7});
  CHECK(counts(calibration_sample(three, 3, 3, 2)) == std::vector<size_t>{1, 1, 1});  // (3 in all)
}

namespace {

// Plain (first-stage) evidence: s1 and the runner-up's s2.
VerdictEvidence plain(double s1, double s2) {
  VerdictEvidence e;
  e.s1 = s1;
  e.s2 = s2;
  return e;
}

// Calibration searches of `tokens` tokens of collection c whose copies score around `at` (their
// own token first, `gap` ahead of the runner-up) and whose left-out searches find a sibling around
// at - 0.1, `sibling_gap` ahead of the next.
void add_collection(CalibrationSet& set, uint32_t c, int tokens, double at, double gap, double sibling_gap, std::mt19937_64& rng) {
  std::normal_distribution<double> n(0, 0.02);
  for (int i = 0; i < tokens; ++i) {
    for (int k = 0; k < 2; ++k) {
      const double s1 = at + n(rng);
      set.examples.push_back({plain(s1, s1 - gap - std::abs(n(rng))), 1, false, c});
    }
    for (int k = 0; k < 3; ++k) {
      const double s1 = at - 0.1 + n(rng);
      set.examples.push_back({plain(s1, s1 - sibling_gap - std::abs(n(rng))), 0, true, c});
      set.sibling_top.push_back({c, s1});
    }
  }
}

}  // namespace

TEST_CASE("fit_verdict_models: one model per collection with enough examples, fitted on its own scale") {
  std::mt19937_64 rng(5);
  CalibrationSet set;
  add_collection(set, 0, 100, 0.90, 0.10, 0.0, rng);   // siblings close together (pixel art)
  add_collection(set, 1, 100, 0.60, 0.10, 0.06, rng);  // far apart (emoji): a sibling's margin looks like a copy's there
  add_collection(set, 2, 3, 0.75, 0.05, 0.0, rng);     // too few to fit anything of its own
  for (int i = 0; i < 40; ++i) {
    set.examples.push_back({plain(0.25 + 0.01 * (i % 5), 0.2), 0, false, uint32_t(i % 3)});
    set.unrelated_top.push_back(0.25 + 0.01 * (i % 5));
  }
  std::string report;
  const VerdictModels m = fit_verdict_models(set, {"far", "near", "few"}, 0.7, &report);
  REQUIRE(m.global.fitted_plain);
  REQUIRE(m.collections.count("far") == 1);
  REQUIRE(m.collections.count("near") == 1);
  CHECK(m.collections.count("few") == 0);
  CHECK(report.find("few: too few examples") != std::string::npos);
  const VerdictModel &far = m.collections.at("far"), &near = m.collections.at("near");
  CHECK(far.plain != m.global.plain);
  CHECK(near.plain != m.global.plain);
  CHECK(far.positives == 200);
  CHECK(far.negatives == 300 + 14);  // (its left-out searches and the unrelated images that found it first)
  // Each model names at most 5% of its own left-out searches as a token, and keeps its copies.
  for (uint32_t c : {0u, 1u}) {
    const VerdictModel& own = m.of(c == 0 ? "far" : "near");
    size_t named = 0, left = 0, kept = 0, copies = 0;
    size_t named_global = 0, kept_global = 0;
    for (const auto& e : set.examples) {
      if (e.first != c || (!e.left_out && e.label == 0)) continue;
      const bool by_own = verdict_probability(own, e.evidence) >= own.token_confidence;
      const bool by_global = verdict_probability(m.global, e.evidence) >= m.global.token_confidence;
      if (e.left_out) left++, named += by_own, named_global += by_global;
      else copies++, kept += by_own, kept_global += by_global;
    }
    CHECK(double(named) / double(left) <= 0.05 + 1e-9);
    CHECK(double(kept) / double(copies) > 0.9);
    // (one model for both scales: collection 1's copies look like collection 0's siblings to it)
    if (c == 1) CHECK(double(kept_global) / double(copies) < 0.8);
    CHECK(named_global < left / 20 + 1);
  }
  // The collection threshold follows its own siblings: far's sit above the copy threshold (0.7, the cap).
  CHECK(far.collection_threshold == doctest::Approx(0.7));
  CHECK(near.collection_threshold < 0.5);
  CHECK(near.collection_threshold > 0.3);  // (above the unrelated images' 0.29 + 0.02)
  // One collection (or one slug given): the global model alone, the same as fitted on every example.
  const VerdictModels single = fit_verdict_models(set, {"all"}, 0.7);
  CHECK(single.collections.empty());
  CHECK(single.global.to_json() == m.global.to_json());
}

TEST_CASE("fit_verdict_models: at most 5% of each kind of left-out search is named a token") {
  // Copies of indexed tokens score 0.80, 0.1 ahead of the runner-up. Left-out copies and captures
  // find a sibling at 0.70, 0.02 ahead; left-out originals (a clean image of a missing token) look
  // more like a copy: 0.77, 0.06 ahead. Pooled, the 95th percentile lies among the originals and
  // names more than 5% of them.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> n(0, 0.02);
  CalibrationSet set;
  for (int i = 0; i < 200; ++i) {
    const double c = 0.8 + n(rng);
    set.examples.push_back({plain(c, c - 0.1 + n(rng)), 1, false, 0, CalibrationQuery::copy});
    for (auto [kind, at, gap] : {std::tuple{CalibrationQuery::copy, 0.70, 0.02}, {CalibrationQuery::capture, 0.70, 0.02}, {CalibrationQuery::original, 0.77, 0.06}}) {
      const double s = at + n(rng);
      set.examples.push_back({plain(s, s - gap + n(rng)), 0, true, 0, kind});
    }
  }
  const VerdictModel m = fit_verdict_models(set, {"all"}, 0.5).global;
  REQUIRE(m.fitted_plain);
  std::vector<double> pooled;
  size_t named[3] = {0, 0, 0}, total[3] = {0, 0, 0};
  for (const auto& e : set.examples)
    if (e.left_out) {
      pooled.push_back(verdict_probability(m, e.evidence));
      ++total[size_t(e.query)];
      named[size_t(e.query)] += pooled.back() >= m.token_confidence;
    }
  for (int k = 0; k < 3; ++k) CHECK(double(named[k]) / double(total[k]) <= 0.05 + 1e-9);
  const double pooled_point = percentile(pooled, 0.95);
  size_t named_pooled = 0;
  for (const auto& e : set.examples)
    if (e.left_out && e.query == CalibrationQuery::original) named_pooled += verdict_probability(m, e.evidence) >= pooled_point;
  CHECK(pooled_point > 0.5);
  CHECK(double(named_pooled) / double(total[size_t(CalibrationQuery::original)]) > 0.1);
  CHECK(m.token_confidence > pooled_point);
  CHECK(m.plain_token_confidence < 0);  // (first-stage evidence only: one point)

  // Re-ranked evidence too (a bundle with thumbnails): each kind of evidence gets its own point, set
  // on its own left-out searches. Here the re-ranked left-out searches reach higher confidences.
  for (int i = 0; i < 200; ++i)
    for (const bool own : {true, false})
      for (auto kind : {CalibrationQuery::copy, CalibrationQuery::original}) {
        VerdictEvidence e;
        e.aligned = true;
        e.s1 = 0.8 + n(rng), e.s2 = e.s1 - 0.1;
        e.a1 = (own ? 0.97 : kind == CalibrationQuery::original ? 0.95 : 0.9) + n(rng), e.a2 = 0.85 + n(rng);
        e.region = own ? 0.1 : 0.4, e.region2 = 1.0, e.concentration = 2;
        if (own && kind == CalibrationQuery::original) continue;  // (an original is searched only with its token left out)
        set.examples.push_back({e, own ? 1 : 0, !own, 0, kind});
      }
  const VerdictModel both = fit_verdict_models(set, {"all"}, 0.5).global;
  REQUIRE(both.fitted_aligned);
  CHECK(both.plain_token_confidence == doctest::Approx(m.token_confidence));  // (the plain examples and their fit are the same)
  CHECK(both.token_point(false) == both.plain_token_confidence);
  CHECK(both.token_point(true) == both.token_confidence);
  size_t named_aligned = 0, aligned_originals = 0;
  for (const auto& e : set.examples)
    if (e.left_out && e.evidence.aligned && e.query == CalibrationQuery::original)
      ++aligned_originals, named_aligned += verdict_probability(both, e.evidence) >= both.token_confidence;
  CHECK(double(named_aligned) / double(aligned_originals) <= 0.05 + 1e-9);
}

TEST_CASE("learn_style: the collection's directions in, other directions out") {
  // Images of a "collection": a mean plus any mix of two directions (and a little noise).
  constexpr int kC = 12;
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> rows;
  for (int i = 0; i < 200; ++i)
    for (int c = 0; c < kC; ++c) rows.push_back(0.2f + (c == 2 ? 0.5f * g(rng) : 0.0f) + (c == 7 ? 0.3f * g(rng) : 0.0f) + 0.01f * g(rng));
  const StyleModel m = learn_style(rows, kC, 2, "nouns");
  CHECK(m.slug == "nouns");
  REQUIRE(m.basis.size() == size_t(2 * kC));
  for (int d = 0; d < 2; ++d) {  // unit rows (to 16-bit precision)
    double n = 0;
    for (int c = 0; c < kC; ++c) n += double(m.basis[size_t(d * kC + c)]) * m.basis[size_t(d * kC + c)];
    CHECK(n == doctest::Approx(1.0).epsilon(1e-3));
  }
  std::vector<float> inside(kC, 0.2f), outside(kC, 0.2f);
  inside[2] += 1.0f;
  inside[7] -= 0.6f;
  outside[4] += 0.5f;
  CHECK(m.residual(inside) < 0.01);
  CHECK(m.residual(outside) == doctest::Approx(0.25).epsilon(0.05));
  CHECK_THROWS(learn_style(std::vector<float>(kC, 0.0f), kC, 2, "one"));
}
