// The verdict (shared/verdict.h): evidence from ranked hits, the decision, the manifest form.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "error.h"
#include "search.h"
#include "verdict.h"
#include "helpers.h"

using namespace nftlens;
using testutil::error_of;

TEST_CASE("verdict: evidence, decision and its three answers") {
  VerdictModel m;
  m.plain = {-8.0, 4.0, 20.0};  // P(same token) rises with the cosine and, steeply, with the margin
  m.fitted_plain = true;
  m.aligned = {-4.0, 1.0, 2.0, 2.0, 10.0, -1.0, -0.5, -1.0};
  m.fitted_aligned = true;
  const float threshold = 0.5f;

  // A copy: high cosine, far ahead of the runner-up.
  std::vector<TokenHit> copy{{7, 0.95f}, {3, 0.55f}};
  const VerdictEvidence e = VerdictEvidence::of(copy);
  CHECK_FALSE(e.aligned);
  CHECK(e.features() == std::vector<double>{1.0, 0.95f, double(0.95f) - double(0.55f)});
  Verdict v = decide_verdict(m, threshold, copy);
  CHECK(v.kind == "token");
  CHECK(v.confidence > 0.95);  // z = -8 + 3.8 + 8 = 3.8
  CHECK_FALSE(v.close_call);
  // A sibling of a token that is not in the bundle: close to several, ahead of none.
  std::vector<TokenHit> sibling{{7, 0.80f}, {3, 0.79f}};
  v = decide_verdict(m, threshold, sibling);
  CHECK(v.kind == "collection");
  CHECK(v.confidence < 0.5);
  // Unrelated: below the copy threshold.
  v = decide_verdict(m, threshold, {{7, 0.30f}, {3, 0.2f}});
  CHECK(v.kind == "none");
  CHECK(decide_verdict(m, threshold, {}).kind == "none");
  // A close call: the evidence is near the operating point (0.5 here).
  v = decide_verdict(m, threshold, {{7, 0.85f}, {3, 0.75f}});  // z = -8 + 3.4 + 2 = -2.6 -> 0.07
  CHECK_FALSE(v.close_call);
  v = decide_verdict(m, threshold, {{7, 0.9f}, {3, 0.72f}});  // z = -8 + 3.6 + 3.6 = -0.8 -> 0.31
  CHECK_FALSE(v.close_call);
  v = decide_verdict(m, threshold, {{7, 0.9f}, {3, 0.69f}});  // z = -8 + 3.6 + 4.2 = -0.2 -> 0.45
  CHECK(v.close_call);
  CHECK(v.kind == "collection");
  // A stricter operating point turns a likely token into a close-call "collection".
  VerdictModel strict = m;
  strict.token_confidence = 0.99;
  v = decide_verdict(strict, threshold, copy);  // 0.978
  CHECK(v.kind == "collection");
  CHECK(v.close_call);
  // Re-ranked hits use the aligned model.
  std::vector<TokenHit> aligned{{7, 0.9f, 0.9f, 0.3f, 2.0f}, {3, 0.8f, 0.2f}};
  CHECK(VerdictEvidence::of(aligned).aligned);
  CHECK(VerdictEvidence::of(aligned).features().size() == VerdictModel::kAlignedFeatures);
  CHECK(VerdictEvidence::of(aligned).features()[5] == doctest::Approx(0.3));
  CHECK(VerdictEvidence::of(aligned).features()[8] == doctest::Approx(std::log(0.3)));  // (no runner-up region: no margin)
  CHECK(VerdictEvidence::of(aligned).features()[9] == doctest::Approx(0.0));
  CHECK(VerdictEvidence::of(aligned).features()[10] == doctest::Approx(std::log(1e-3)));  // (no colour shift measured: the floor)
  aligned[0].region_shift = 0.004f;
  aligned[1].region_shift = 0.4f;   // (the runner-up, a sibling, has one part in another colour)
  CHECK(VerdictEvidence::of(aligned).features()[10] == doctest::Approx(std::log(0.004)));
  CHECK(VerdictEvidence::of(aligned).features()[11] == doctest::Approx(std::log(0.004) - std::log(0.4)));
  CHECK(decide_verdict(m, threshold, aligned).confidence == doctest::Approx(verdict_probability(m, VerdictEvidence::of(aligned))));
  // Each kind of evidence has its own operating point (a bundle without the plain one: the same for both).
  VerdictModel two = m;
  two.token_confidence = 0.99;        // re-ranked evidence
  two.plain_token_confidence = 0.5;   // first-stage evidence
  CHECK(two.token_point(true) == 0.99);
  CHECK(two.token_point(false) == 0.5);
  CHECK(strict.token_point(false) == 0.99);
  CHECK(decide_verdict(two, threshold, copy).kind == "token");  // plain 0.978 >= 0.5 (strict's 0.99 said "collection")
  CHECK_FALSE(decide_verdict(two, threshold, copy).close_call);
  CHECK((decide_verdict(two, threshold, aligned).kind == "token") == (verdict_probability(two, VerdictEvidence::of(aligned)) >= 0.99));
  const VerdictModel back = VerdictModel::from_json(two.to_json(), "manifest.json");
  CHECK(back.plain_token_confidence == doctest::Approx(0.5));
  CHECK(VerdictModel::from_json(strict.to_json(), "manifest.json").plain_token_confidence < 0);  // (not written when unset)
  CHECK(strict.to_json().find("plain_token_confidence") == std::string::npos);
  // A bundle without a model: the copy threshold alone, no confidence.
  v = decide_verdict(VerdictModel{}, threshold, copy);
  CHECK(v.kind == "token");
  CHECK(v.confidence == -1);
}

TEST_CASE("verdict: the manifest form round-trips and refuses bad weights by name") {
  VerdictModel m;
  m.aligned = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  m.collection_threshold = 0.3;
  m.fitted_aligned = true;
  m.positives = 10;
  m.negatives = 20;
  const VerdictModel r = VerdictModel::from_json(m.to_json(), "manifest.json");
  CHECK(r.fitted_aligned);
  CHECK_FALSE(r.fitted_plain);
  CHECK(r.aligned == m.aligned);
  CHECK(r.positives == 10);
  CHECK(r.collection_threshold == doctest::Approx(0.3));
  // A bundle built before the log region features: 8 aligned weights, the logs and shifts weighed 0;
  // one built before the colour shifts: 10.
  const VerdictModel before = VerdictModel::from_json(R"({"aligned": [1, 2, 3, 4, 5, 6, 7, 8]})", "manifest.json");
  CHECK(before.fitted_aligned);
  CHECK(before.aligned == std::array<double, VerdictModel::kAlignedFeatures>{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0});
  const VerdictModel before_shift = VerdictModel::from_json(R"({"aligned": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]})", "manifest.json");
  CHECK(before_shift.aligned == std::array<double, VerdictModel::kAlignedFeatures>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0});
  CHECK(error_of([] { VerdictModel::from_json(R"({"aligned": [1, 2, 3, 4, 5, 6, 7, 8, 9]})", "manifest.json"); }) ==
        "manifest.json: verdict.aligned must hold 12 numbers");
  CHECK(error_of([] { VerdictModel::from_json(R"({"plain": [1, 2, 3, 4, 5, 6, 7, 8]})", "manifest.json"); }) ==
        "manifest.json: verdict.plain must hold 3 numbers");
  try {
    VerdictModel::from_json(R"({"plain": [1, 2]})", "manifest.json");
    FAIL("accepted two weights");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "manifest.json: verdict.plain must hold 3 numbers");
    CHECK(std::string(e.code()) == errc::bad_bundle);
  }
}

TEST_CASE("verdict: per-collection models decide for the first result's collection; the manifest form round-trips") {
  VerdictModels v;
  v.global.plain = {-3.0, 0.0, 0.0};  // confidence 0.047 whatever the evidence
  v.global.fitted_plain = true;
  v.global.collection_threshold = 0.2;
  v.global.positives = 100;
  v.global.negatives = 300;
  VerdictModel alpha = v.global;
  alpha.plain = {3.0, 0.0, 0.0};  // 0.953
  alpha.token_confidence = 0.8;
  alpha.collection_threshold = 0.4;
  alpha.positives = 40;
  v.collections["alpha"] = alpha;
  const std::vector<TokenHit> hits{{7, 0.9f}, {3, 0.6f}};
  CHECK(&v.of("alpha") == &v.collections.at("alpha"));
  CHECK(&v.of("beta") == &v.global);  // no model of its own: the global one
  CHECK(&v.of("") == &v.global);
  Verdict a = decide_verdict(v, "alpha", 0.5f, hits);
  CHECK(a.kind == "token");
  CHECK(a.confidence == doctest::Approx(1.0 / (1.0 + std::exp(-3.0))));
  Verdict b = decide_verdict(v, "beta", 0.5f, hits);
  CHECK(b.kind == "collection");
  CHECK(b.confidence == doctest::Approx(1.0 / (1.0 + std::exp(3.0))));
  // The same as the one-model decision with the chosen model.
  CHECK(decide_verdict(v, "alpha", 0.5f, hits).confidence == decide_verdict(alpha, 0.5f, hits).confidence);

  // Round trip, through the manifest's JSON.
  const std::string text = v.to_json();
  const auto j = nlohmann::json::parse(text);
  REQUIRE(j.contains("collections"));
  CHECK(j["collections"].size() == 1);
  CHECK(j["collections"]["alpha"]["token_confidence"] == 0.8);
  const VerdictModels r = VerdictModels::from_json(text, "manifest.json");
  CHECK(r.global.plain == v.global.plain);
  CHECK(r.global.positives == 100);
  REQUIRE(r.collections.count("alpha") == 1);
  const VerdictModel& ra = r.collections.at("alpha");
  CHECK(ra.plain == alpha.plain);
  CHECK(ra.fitted_plain);
  CHECK_FALSE(ra.fitted_aligned);
  CHECK(ra.token_confidence == doctest::Approx(0.8));
  CHECK(ra.collection_threshold == doctest::Approx(0.4));
  CHECK(ra.positives == 40);
  CHECK(r.to_json() == text);
  // Without per-collection models the form is the global model's alone (older bundles, one collection).
  VerdictModels one;
  one.global = v.global;
  CHECK(one.to_json() == v.global.to_json());
  CHECK(VerdictModels::from_json(v.global.to_json(), "manifest.json").collections.empty());
  // An entry lists what differs: the rest is the global model's (weights, threshold), counts excepted.
  const VerdictModels p = VerdictModels::from_json(R"({"plain": [-3, 0, 0], "collection_threshold": 0.2, "positives": 9,
                                                      "collections": {"beta": {"token_confidence": 0.02}}})", "manifest.json");
  const VerdictModel& pb = p.of("beta");
  CHECK(pb.plain == v.global.plain);
  CHECK(pb.fitted_plain);
  CHECK(pb.collection_threshold == doctest::Approx(0.2));
  CHECK(pb.token_confidence == doctest::Approx(0.02));
  CHECK(pb.positives == 0);
  CHECK(decide_verdict(p, "beta", 0.5f, hits).kind == "token");  // 0.047 >= 0.02
  CHECK(decide_verdict(p, "gamma", 0.5f, hits).kind == "collection");
}

TEST_CASE("verdict: hostile values in the manifest's verdict are refused naming the file and the field") {
  auto why = [](const std::string& text) {
    try {
      VerdictModels::from_json(text, "manifest.json");
    } catch (const Error& e) {
      CHECK(std::string(e.code()) == errc::bad_bundle);
      return std::string(e.what());
    }
    return std::string("<accepted>");
  };
  CHECK(why(R"([1, 2])") == "manifest.json: verdict is not an object");
  CHECK(why(R"({"token_confidence": 1.5})") == "manifest.json: verdict.token_confidence must be a number in 0..1");
  CHECK(why(R"({"token_confidence": "high"})") == "manifest.json: verdict.token_confidence must be a number in 0..1");
  CHECK(why(R"({"plain_token_confidence": 2})") == "manifest.json: verdict.plain_token_confidence must be a number in 0..1");
  CHECK(why(R"({"collection_threshold": 7})") == "manifest.json: verdict.collection_threshold must be a number in -1..1");
  CHECK(why(R"({"collection_threshold": null})") == "manifest.json: verdict.collection_threshold must be a number in -1..1");
  CHECK(why(R"({"positives": -4})") == "manifest.json: verdict.positives must be a whole number >= 0");
  CHECK(why(R"({"aligned": [1, 2, 3, 4, 5, 6, 7, "8"]})") == "manifest.json: verdict.aligned holds a non-number");
  CHECK(why(R"({"collections": [1]})") == "manifest.json: verdict.collections is not an object (slug -> model)");
  CHECK(why(R"({"collections": {"nouns": 3}})") == "manifest.json: verdict.collections.nouns is not an object");
  CHECK(why(R"({"collections": {"nouns": {"plain": [1, 2]}}})") == "manifest.json: verdict.collections.nouns.plain must hold 3 numbers");
  CHECK(why(R"({"collections": {"nouns": {"plain": [1, 2, 1e400]}}})").rfind("manifest.json: verdict", 0) == 0);  // (not JSON: 1e400 overflows)
  CHECK(why(R"({"collections": {"nouns": {"token_confidence": -0.1}}})") == "manifest.json: verdict.collections.nouns.token_confidence must be a number in 0..1");
  CHECK(why(R"({"collections": {"nouns": {"collection_threshold": -3}}})") == "manifest.json: verdict.collections.nouns.collection_threshold must be a number in -1..1");
  CHECK(why(R"({"collections": {"nouns": {"negatives": 2.5}}})") == "manifest.json: verdict.collections.nouns.negatives must be a whole number >= 0");
  CHECK(why(R"({"collections": {"": {}}})") == "manifest.json: verdict.collections has a key that is not a collection slug");
  CHECK(why(R"({"collections": {"a/../b": {}}})") == "manifest.json: verdict.collections has a key that is not a collection slug");
  CHECK(why(R"({"collections": {"nouns": {}, "lorelei-2": {"plain": [0, 1, 2]}}})") == "<accepted>");
}
