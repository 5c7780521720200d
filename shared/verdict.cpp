#include "verdict.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "error.h"
#include "json_parse.h"
#include "search.h"

namespace nftlens {

std::string VerdictModel::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (fitted_aligned) j["aligned"] = aligned;
  if (fitted_plain) j["plain"] = plain;
  if (collection_threshold >= -1) j["collection_threshold"] = collection_threshold;
  j["token_confidence"] = token_confidence;
  j["positives"] = positives;
  j["negatives"] = negatives;
  return j.dump();
}

VerdictModel VerdictModel::from_json(const std::string& text, const std::string& where) {
  VerdictModel m;
  const nlohmann::json j = parse_json(text);
  if (!j.is_object()) throw Error(where + ": verdict is not an object", errc::bad_bundle);
  auto weights = [&](const char* key, auto& out, bool& fitted) {
    if (!j.contains(key)) return;
    const auto& w = j.at(key);
    if (!w.is_array() || w.size() != out.size()) throw Error(where + ": verdict." + key + " must hold " + std::to_string(out.size()) + " numbers", errc::bad_bundle);
    for (size_t i = 0; i < out.size(); ++i) {
      if (!w[i].is_number() || !std::isfinite(w[i].get<double>())) throw Error(where + ": verdict." + key + " holds a non-number", errc::bad_bundle);
      out[i] = w[i].get<double>();
    }
    fitted = true;
  };
  weights("aligned", m.aligned, m.fitted_aligned);
  weights("plain", m.plain, m.fitted_plain);
  if (j.contains("collection_threshold")) {
    if (!j["collection_threshold"].is_number()) throw Error(where + ": verdict.collection_threshold is not a number", errc::bad_bundle);
    m.collection_threshold = j["collection_threshold"].get<double>();
  }
  if (j.contains("token_confidence")) {
    if (!j["token_confidence"].is_number() || !(j["token_confidence"].get<double>() >= 0 && j["token_confidence"].get<double>() <= 1))
      throw Error(where + ": verdict.token_confidence must be a number in 0..1", errc::bad_bundle);
    m.token_confidence = j["token_confidence"].get<double>();
  }
  if (j.contains("positives") && j["positives"].is_number_unsigned()) m.positives = j["positives"].get<size_t>();
  if (j.contains("negatives") && j["negatives"].is_number_unsigned()) m.negatives = j["negatives"].get<size_t>();
  return m;
}

VerdictEvidence VerdictEvidence::of(const std::vector<TokenHit>& hits) {
  VerdictEvidence e;
  if (hits.empty()) return e;
  e.s1 = hits[0].score;
  e.aligned = hits[0].alignment != TokenHit::kNotAligned;
  // (the verdict's alignment sets aside every cell no candidate explains: align.h scores())
  auto aligned_of = [](const TokenHit& h) { return h.evidence_alignment != TokenHit::kNotAligned ? h.evidence_alignment : h.alignment; };
  e.a1 = e.aligned ? aligned_of(hits[0]) : -1;
  if (hits[0].region_worst >= 0) {
    e.region = hits[0].region_worst;
    e.concentration = std::max(1e-3f, hits[0].region_concentration);
  }
  if (hits.size() > 1) {
    e.s2 = hits[1].score;
    e.a2 = e.aligned && hits[1].alignment != TokenHit::kNotAligned ? aligned_of(hits[1]) : -1;
    e.region2 = hits[1].region_worst;
  }
  if (e.region2 < 0) e.region2 = e.region;  // (no runner-up compared: no margin)
  return e;
}

std::vector<double> VerdictEvidence::features() const {
  if (aligned) return {1.0, s1, s1 - s2, a1, a1 - a2, region, std::log(concentration), region - region2};
  return {1.0, s1, s1 - s2};
}

double verdict_probability(const VerdictModel& m, const VerdictEvidence& e) {
  const auto f = e.features();
  const double* w = e.aligned ? m.aligned.data() : m.plain.data();
  double z = 0;
  for (size_t i = 0; i < f.size(); ++i) z += w[i] * f[i];
  return 1.0 / (1.0 + std::exp(-z));
}

Verdict decide_verdict(const VerdictModel& m, float threshold, const std::vector<TokenHit>& hits) {
  Verdict v;
  if (hits.empty()) return v;
  const VerdictEvidence e = VerdictEvidence::of(hits);
  const double floor = m.collection_threshold >= -1 ? std::min<double>(m.collection_threshold, threshold) : threshold;
  const bool known = e.s1 >= floor;  // like something in the bundle at all
  if (!(e.aligned ? m.fitted_aligned : m.fitted_plain)) {
    v.kind = known ? "token" : "none";
    v.confidence = -1;
    return v;
  }
  v.confidence = verdict_probability(m, e);
  v.kind = !known ? "none" : v.confidence >= m.token_confidence ? "token" : "collection";
  v.close_call = known && std::abs(v.confidence - m.token_confidence) <= kCloseCallBand;
  return v;
}

}  // namespace nftlens
