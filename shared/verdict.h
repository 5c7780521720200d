// The verdict of an image query: the very token shown ("token"), a token of a collection the
// bundle knows but not one in it ("collection"), or nothing known ("none").
//
// It is decided from evidence every query already has, no extra model run: the first-stage cosine
// of the first result and of the runner-up and, when re-ranked, their alignment with the query and
// where and how much each differs from it (align.h RegionDifference: the worst region, and the
// largest regional colour shift).
// A logistic model turns that evidence into `confidence`, a probability that the first result is
// the same token. The builder fits it on the bundle's own tokens (builder/calibrate.cpp):
//   positives: fresh synthetic copies and captures (augment.h capture_copy: a round picture, a
//              post, a zoom, a covered part) scored against their own token;
//   negatives: the same copies and the original images with their own token left out of the
//              search (the first result is then the nearest sibling: exactly what a token missing
//              from the bundle meets), and synthetic unrelated images;
// the two classes weighted equally, so confidence 0.5 is the even-odds point.
// "none" when the image fails the collection test: where the bundle has a style model for the first
// result's collection (style_model.h), when its features lie outside that collection's (that test
// alone decides); in bundles without one, when the first result's cosine is below the collection
// threshold (fitted between the nearest-sibling scores of left-out tokens and those of unrelated
// images; at most the bundle's copy threshold). Otherwise "token" when the confidence reaches the model's operating point
// for its kind of evidence (token_point: >= 0.5), else "collection". A close call (confidence within 0.1 of that point) is flagged.
// A bundle of several collections holds, besides that global model, one per collection the
// builder had enough examples for (VerdictModels), fitted on the calibration searches whose first
// result is of that collection: the model of the first result's collection decides, so each
// collection's operating point is set on its own left-out tokens.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nftlens {

struct TokenHit;

struct VerdictModel {
  static constexpr size_t kAlignedFeatures = 12, kPlainFeatures = 3;
  // Weights over [1, s1, s1 - s2, a1, a1 - a2, r1, log c1, r1 - r2, log r1, log r1 - log r2,
  // log h1, log h1 - log h2] (re-ranked hits) and [1, s1, s1 - s2] (not re-ranked): s = first-stage
  // cosine, a = alignment, r, c = worst region difference and its concentration, h = the largest
  // regional colour shift (align.h RegionDifference; in the logs at least 1e-3); 1 = first result,
  // 2 = runner-up. (The logs of r tell a clean copy's small difference from a near-identical
  // sibling's; h tells a part in another colour, a sibling's skin tone, from an edit's noise.
  // Bundles built before them hold 8 or 10 aligned weights, read with 0 for the rest, which
  // decides as they did.)
  std::array<double, kAlignedFeatures> aligned{};
  std::array<double, kPlainFeatures> plain{};
  double collection_threshold = -2;  // cosine below which nothing is known (< -1: the copy threshold)
  double token_confidence = 0.5;     // "token" from this confidence up (the builder sets it so that at
                                     // most 5% of its re-ranked left-out searches of each kind are named
                                     // as a token)
  double plain_token_confidence = -1;  // the same for evidence that was not re-ranked (< 0: token_confidence,
                                       // as bundles built before it decide)
  double token_point(bool aligned_evidence) const {
    return !aligned_evidence && plain_token_confidence >= 0 ? plain_token_confidence : token_confidence;
  }
  bool fitted_aligned = false, fitted_plain = false;
  size_t positives = 0, negatives = 0;  // calibration examples (reported by info)

  std::string to_json() const;  // {"aligned": [...], "plain": [...], "collection_threshold", "token_confidence", "plain_token_confidence", "positives", "negatives"}
  static VerdictModel from_json(const std::string& text, const std::string& where);  // (where: the file, in errors)
};

// The manifest's "verdict": the global model, and per collection slug a model that decides for
// queries whose first result is of that collection ("collections": {slug: {...}}, each entry in
// VerdictModel's form; a field an entry leaves out is the global one's). A bundle without
// per-collection entries (one collection, or built before them) decides with the global model.
struct VerdictModels {
  VerdictModel global;
  std::map<std::string, VerdictModel> collections;

  const VerdictModel& of(const std::string& slug) const;
  std::string to_json() const;  // the global model's object, plus "collections" when there are any
  static VerdictModels from_json(const std::string& text, const std::string& where);
};

// The evidence of one query's ranked hits (best first, after re-ranking; at least the runner-up kept).
struct VerdictEvidence {
  bool aligned = false;
  double s1 = -1, s2 = -1, a1 = -1, a2 = -1, region = -1, concentration = 1, region2 = -1, shift = -1, shift2 = -1;
  static VerdictEvidence of(const std::vector<TokenHit>& hits);
  std::vector<double> features() const;  // the model's inputs, with the leading 1
};

struct Verdict {
  std::string kind = "none";  // "token" | "collection" | "none"
  double confidence = 0;      // P(first result is the same token); -1 when the bundle has no model
  bool close_call = false;
};

inline constexpr double kCloseCallBand = 0.1;

// threshold: the bundle's copy threshold on the cosine. A bundle without a fitted model (built before
// calibration existed) answers "token" above the threshold and "none" below, confidence -1.
// style: the style test of the first result's collection: 1 the image looks like its tokens, 0 it
// does not, -1 no style model (then the cosine floor decides).
Verdict decide_verdict(const VerdictModel& model, float threshold, const std::vector<TokenHit>& hits, int style = -1);
// The same with the model of `first_collection` (the first result's collection slug).
Verdict decide_verdict(const VerdictModels& models, const std::string& first_collection, float threshold, const std::vector<TokenHit>& hits, int style = -1);
double verdict_probability(const VerdictModel& model, const VerdictEvidence& e);

}  // namespace nftlens
