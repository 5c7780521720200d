// Build-time calibration of the verdict (shared/verdict.h): fits the model that turns a query's
// evidence into "this token" / "this collection" / "nothing known" on the bundle just written;
// in a bundle of several collections also one model per collection.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "image.h"
#include "verdict.h"

namespace nftlens {

struct CalibrationToken {
  uint32_t collection = 0;  // index in the catalogue's collections
  std::string token_id, image_path;
};

// The tokens to calibrate on (indexes into `token_collection`, the collection of each token): in
// one seeded shuffled order, up to `per_collection` of each collection, at most
// max(per_collection, max_total) in all (then shared evenly: total / collections each). A
// one-collection bundle's are the first `per_collection` of that order.
std::vector<size_t> calibration_sample(const std::vector<uint32_t>& token_collection, size_t collections, size_t per_collection, size_t max_total);

// What calibration searches gave: each search's evidence, whether its first result is the very
// token (label 1), whether the query's own token was left out of the search, and the collection of
// its first result (whose model will decide such a query), and what the query was (a left-out
// search's operating point holds for each kind of query on its own; originals of further tokens
// only sharpen the operating point, the weights are fitted on the sample's searches); first-result cosines (first
// stage) of the left-out searches (with that collection) and of the unrelated images.
enum class CalibrationQuery : uint8_t { copy, capture, original, unrelated };
struct CalibrationExample {
  VerdictEvidence evidence;
  int label = 0;
  bool left_out = false;
  uint32_t first = 0;
  CalibrationQuery query = CalibrationQuery::copy;
  bool fit = true;  // false: it sets the operating points only, not the weights
};
struct CalibrationSet {
  std::vector<CalibrationExample> examples;
  std::vector<std::pair<uint32_t, double>> sibling_top;
  std::vector<double> unrelated_top;
};

// Below these counts a collection's model keeps the global one's weights of an evidence kind (fewer
// positives or negatives of that kind whose first result is of it: about 30 calibration tokens) or
// its operating points (fewer left-out searches: 6 per token, about 25 tokens; own weights always
// come with own operating points); a collection with neither gets no model: the global one decides.
// (Measured on a bundle of three collections, fitted on a few tokens of each and tested on 50
// others: a collection's own model fitted on 10 tokens named 6-16% of their left-out searches as a
// token, on 20 tokens 5-11%, on 50 tokens 3-8%, as the global model does (4-8%); docs/quality.md.)
inline constexpr size_t kOwnWeightsMin = 50, kOwnPointsMin = 150;

// The global model, fitted on every example, and for each of `slugs` (the catalogue's collections,
// when there are several) a model fitted on the examples whose first result is of that collection.
// `report`, if given, gets one line per collection.
VerdictModels fit_verdict_models(const CalibrationSet& set, const std::vector<std::string>& slugs, double match_threshold, std::string* report = nullptr);

// Runs synthetic copies and original images of `sample` (with and without their own token in the
// search) and synthetic unrelated images through the bundle at `dir`, exactly as `nftlens query`
// would, fits the verdict models and writes them into the bundle's manifest.json (atomically).
// Returns the number of examples used.
// Also fits each collection's style model (style_model.h: the collection test) on images of half
// of the sample's tokens, their copies and captures and `style_extra`'s originals, with the
// threshold set on the other half's left-out searches, and writes it as the bundle's style file.
// `style_extra`'s originals are also searched with their token left out: more left-out originals
// for the operating points (not for the weights).
size_t calibrate_verdict(const std::filesystem::path& dir, const std::vector<CalibrationToken>& sample, const std::vector<CalibrationToken>& style_extra,
                         int threads, bool quiet);

// Style models: at most this many directions (fewer with few images: one per 8 fit images of the
// smallest collection that has one), and none for a collection with fewer than 32 fit images or
// fewer left-out test searches than kStyleTestMin.
inline constexpr size_t kStyleDims = 32, kStyleTestMin = 20, kStyleExtra = 200;

// A synthetic image unrelated to any collection (gradients, shapes, noise), the same for a seed.
RgbImage unrelated_image(uint64_t seed);

}  // namespace nftlens
