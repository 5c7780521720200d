// The verdict (shared/verdict.h): evidence from ranked hits, the decision, the manifest form.
#include <doctest/doctest.h>

#include "error.h"
#include "search.h"
#include "verdict.h"

using namespace nftlens;

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
  CHECK(decide_verdict(m, threshold, aligned).confidence == doctest::Approx(verdict_probability(m, VerdictEvidence::of(aligned))));
  // A bundle without a model: the copy threshold alone, no confidence.
  v = decide_verdict(VerdictModel{}, threshold, copy);
  CHECK(v.kind == "token");
  CHECK(v.confidence == -1);
}

TEST_CASE("verdict: the manifest form round-trips and refuses bad weights by name") {
  VerdictModel m;
  m.aligned = {1, 2, 3, 4, 5, 6, 7, 8};
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
  try {
    VerdictModel::from_json(R"({"plain": [1, 2]})", "manifest.json");
    FAIL("accepted two weights");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "manifest.json: verdict.plain must hold 3 numbers");
    CHECK(std::string(e.code()) == errc::bad_bundle);
  }
}
