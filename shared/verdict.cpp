#include "verdict.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "catalogue.h"
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
  if (plain_token_confidence >= 0) j["plain_token_confidence"] = plain_token_confidence;
  j["positives"] = positives;
  j["negatives"] = negatives;
  return j.dump();
}

namespace {

// One model object of the manifest (untrusted): every value checked, errors name the file (`where`)
// and the field ("verdict", "verdict.collections.<slug>"). Fields it does not hold keep their value
// in `base` (the counts excepted).
VerdictModel model_from(const nlohmann::json& j, const std::string& where, const std::string& field, const VerdictModel& base) {
  VerdictModel m = base;
  m.positives = m.negatives = 0;
  auto bad = [&](const std::string& key, const std::string& what) { return Error(where + ": " + field + "." + key + " " + what, errc::bad_bundle); };
  if (!j.is_object()) throw Error(where + ": " + field + " is not an object", errc::bad_bundle);
  auto weights = [&](const char* key, auto& out, bool& fitted) {
    if (!j.contains(key)) return;
    const auto& w = j.at(key);
    // (an aligned model of a bundle built before the log or the colour-shift features has their
    // first 8 or 10 weights)
    const bool before = out.size() == VerdictModel::kAlignedFeatures && w.is_array() && (w.size() == 8 || w.size() == 10);
    if (!w.is_array() || (w.size() != out.size() && !before))
      throw bad(key, "must hold " + std::to_string(out.size()) + " numbers");
    std::fill(out.begin(), out.end(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      if (!w[i].is_number() || !std::isfinite(w[i].get<double>())) throw bad(key, "holds a non-number");
      out[i] = w[i].get<double>();
    }
    fitted = true;
  };
  weights("aligned", m.aligned, m.fitted_aligned);
  weights("plain", m.plain, m.fitted_plain);
  auto number_in = [&](const char* key, double lo, double hi, double& out) {
    if (!j.contains(key)) return;
    const auto& v = j.at(key);
    if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi))
      throw bad(key, "must be a number in " + std::string(lo < 0 ? "-1" : "0") + "..1");
    out = v.get<double>();
  };
  number_in("collection_threshold", -1, 1, m.collection_threshold);  // (a cosine)
  number_in("token_confidence", 0, 1, m.token_confidence);          // (a probability)
  number_in("plain_token_confidence", 0, 1, m.plain_token_confidence);
  for (const char* key : {"positives", "negatives"})
    if (j.contains(key)) {
      if (!j.at(key).is_number_unsigned()) throw bad(key, "must be a whole number >= 0");
      (std::string(key) == "positives" ? m.positives : m.negatives) = j.at(key).get<size_t>();
    }
  return m;
}

}  // namespace

VerdictModel VerdictModel::from_json(const std::string& text, const std::string& where) {
  return model_from(parse_json(text), where, "verdict", VerdictModel{});
}

const VerdictModel& VerdictModels::of(const std::string& slug) const {
  const auto it = collections.find(slug);
  return it == collections.end() ? global : it->second;
}

std::string VerdictModels::to_json() const {
  nlohmann::json j = parse_json(global.to_json());
  if (!collections.empty()) {
    nlohmann::json c = nlohmann::json::object();
    for (const auto& [slug, m] : collections) c[slug] = parse_json(m.to_json());
    j["collections"] = c;
  }
  return j.dump();
}

VerdictModels VerdictModels::from_json(const std::string& text, const std::string& where) {
  VerdictModels v;
  const nlohmann::json j = parse_json(text);
  v.global = model_from(j, where, "verdict", VerdictModel{});
  if (!j.contains("collections")) return v;
  const auto& c = j.at("collections");
  if (!c.is_object()) throw Error(where + ": verdict.collections is not an object (slug -> model)", errc::bad_bundle);
  for (const auto& [slug, entry] : c.items()) {
    if (!is_collection_slug(slug)) throw Error(where + ": verdict.collections has a key that is not a collection slug", errc::bad_bundle);
    v.collections[slug] = model_from(entry, where, "verdict.collections." + slug, v.global);
  }
  return v;
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
    e.shift = hits[0].region_shift;
  }
  if (hits.size() > 1) {
    e.s2 = hits[1].score;
    e.a2 = e.aligned && hits[1].alignment != TokenHit::kNotAligned ? aligned_of(hits[1]) : -1;
    e.region2 = hits[1].region_worst;
    e.shift2 = hits[1].region_shift;
  }
  if (e.region2 < 0) e.region2 = e.region;  // (no runner-up compared: no margin)
  if (e.shift2 < 0) e.shift2 = e.shift;
  return e;
}

std::vector<double> VerdictEvidence::features() const {
  if (aligned) {
    const double l1 = std::log(std::max(region, 1e-3)), l2 = std::log(std::max(region2, 1e-3));
    const double h1 = std::log(std::max(shift, 1e-3)), h2 = std::log(std::max(shift2, 1e-3));
    return {1.0, s1, s1 - s2, a1, a1 - a2, region, std::log(concentration), region - region2, l1, l1 - l2, h1, h1 - h2};
  }
  return {1.0, s1, s1 - s2};
}

double verdict_probability(const VerdictModel& m, const VerdictEvidence& e) {
  const auto f = e.features();
  const double* w = e.aligned ? m.aligned.data() : m.plain.data();
  double z = 0;
  for (size_t i = 0; i < f.size(); ++i) z += w[i] * f[i];
  return 1.0 / (1.0 + std::exp(-z));
}

Verdict decide_verdict(const VerdictModel& m, float threshold, const std::vector<TokenHit>& hits, int style) {
  Verdict v;
  if (hits.empty()) return v;
  const VerdictEvidence e = VerdictEvidence::of(hits);
  const double floor = m.collection_threshold >= -1 ? std::min<double>(m.collection_threshold, threshold) : threshold;
  const bool known = style >= 0 ? style == 1 : e.s1 >= floor;  // like something in the bundle at all
  if (!(e.aligned ? m.fitted_aligned : m.fitted_plain)) {
    v.kind = known ? "token" : "none";
    v.confidence = -1;
    return v;
  }
  v.confidence = verdict_probability(m, e);
  const double point = m.token_point(e.aligned);
  v.kind = !known ? "none" : v.confidence >= point ? "token" : "collection";
  v.close_call = known && std::abs(v.confidence - point) <= kCloseCallBand;
  return v;
}

Verdict decide_verdict(const VerdictModels& models, const std::string& first_collection, float threshold, const std::vector<TokenHit>& hits, int style) {
  return decide_verdict(models.of(first_collection), threshold, hits, style);
}

}  // namespace nftlens
