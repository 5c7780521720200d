// Re-ranking by alignment: the global descriptor finds the right token among the top few but
// confuses siblings that differ in one small part, above all for crops. This finds where a
// candidate's thumbnail sits inside the query (an axis-aligned rectangle, possibly larger than the
// query for a crop, smaller for a screenshot; mirrored or not; for a copy turned by a few degrees,
// in the query turned back), then compares pixels there.
//
//   AlignQuery q(query_image);
//   AlignGeometry g = q.locate(thumbnail_of_best_hit);     // once per query
//   float s = q.score(g, thumbnail_of_candidate);          // per candidate: one 96x96 comparison
//
// Similarity is zero-mean normalised cross-correlation per channel (robust to brightness, contrast
// and colour shifts), averaged over R, G, B, on the cells that lie inside the query. Cells are means
// over boxes read from a summed-area table, so fractional boxes cost the same as whole ones.
// docs/quality.md ("Re-ranking by alignment") has the measurements.
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

#include "image.h"
#include "regions.h"
#include "search.h"

namespace nftlens {

struct AlignGeometry {
  bool flip = false;              // the query is mirrored relative to the thumbnail (x0.. stay in query pixels)
  double x0 = 0, y0 = 0, w = 0, h = 0;  // the thumbnail's whole image, in (downscaled) query pixels
  float score = -1;               // similarity to the thumbnail it was located with
};

struct RegionDifference {
  float worst = -1, concentration = -1;  // -1: nothing to compare
  float shift = -1;  // the largest block's mean difference (squared, per channel): a recoloured part
};

struct AlignOptions {
  int coarse_grid = 8;       // cells per side of the exhaustive search
  double scale_step = 1.07;  // thumbnail side / query side from 0.5 to max_scale in this ratio
  double min_scale = 0.5;    // scales of that sequence below the one at or below it are skipped (a search near a known scale)
  double max_scale = 3.0;    // (3: a zoom on a third of the token still places; 2 would give 21 scales, 3 gives 27)
  double offset_step = 0.75; // search offsets step, in coarse cells
  int refine_grid = 16;      // cells per side while refining (x0, y0, w, h) by coordinate descent
  int keep = 3;              // best coarse placements (over both orientations) refined (1..8)
  bool zoom = true;          // re-ranking may take a placement larger than the query for a zoom on a detail
                             // (false: the part codes said the query is a covered whole token)
};

// What locate() searched: kept by the caller to resume the same thumbnail's search at larger
// scales without repeating the smaller ones (rerank_by_alignment's wide try after a narrow one).
struct LocateState {
  struct Hyp { double score, x0, y0, w, h; int m; };
  struct Refined { Hyp from; AlignGeometry g; double fin; };
  const RgbImage* thumbnail = nullptr;  // the search's thumbnail and options (but max_scale)
  int coarse_grid = 0, keep = 0;
  double scale_step = 0, offset_step = 0, min_scale = 0;
  double next_r = 0.5;                   // the first scale not searched yet
  Hyp hyps[8];                           // the best `keep` coarse placements so far, best first
  size_t count = 0;
  std::map<int, std::array<std::vector<double>, 2>> coarse;  // grid -> coarse template (plain, mirrored)
  std::vector<Refined> refined;          // placements refined so far and their results
};

class AlignQuery {
 public:
  static constexpr int kGrid = 96;         // final comparison grid (a shipped thumbnail is 96 px wide)
  static constexpr int kMaxSide = 256;     // the query is downscaled to this first: memory and time

  // mask: only the disc is art (a round profile picture); cells outside it are left out.
  explicit AlignQuery(const RgbImage& query, const Circle& mask = {});
  // state: optional; see LocateState (the thumbnail must outlive it).
  AlignGeometry locate(const RgbImage& thumbnail, const AlignOptions& opt = {}, LocateState* state = nullptr) const;
  // A placement near `from` on another thumbnail (a sibling's placement, moved to where this one
  // fits best: coordinate descent only, no search), with its similarity; w = 0 if none.
  AlignGeometry refine(const AlignGeometry& from, const RgbImage& thumbnail, const AlignOptions& opt = {}) const;
  // Similarity of the query, seen through `g`, to a thumbnail; -1 if nothing overlaps. (It samples
  // the query again for each thumbnail: caching that sample cost more browser-module bytes than the
  // budget had left.)
  float score(const AlignGeometry& g, const RgbImage& thumbnail) const;
  // The same query turned by an angle (cos_a, sin_a) about (cx, cy), in table pixels: a copy
  // rotated by a few degrees is matched by the query turned back. Pixels from beyond the border
  // repeat it (at these angles only the corners, where a rotated copy has page colour anyway).
  AlignQuery turned(double cx, double cy, double cos_a, double sin_a) const;
  // About what turned(centre of g, cos_a, sin_a).score(g, thumbnail) gives, cheaply (each cell a
  // box around its turned centre): which turn to try. tmpl: an n x n grid of the thumbnail
  // (make_template(thumbnail, 0, n, g.flip).refine, or .g96 for n = kGrid).
  float turned_score(const AlignGeometry& g, const std::vector<double>& tmpl, double cos_a, double sin_a) const;
  // score() of each thumbnail (-1 for an empty one), occlusion-aware: cells that none of the
  // `consensus` best-scoring thumbnails explains are left out for every thumbnail, when they form
  // solid blobs (large, thick, filled parts) that together are a plausible occluder
  // (kMinOccluded..kMaxOccluded of the cells). A sticker or a caption differs from every
  // candidate; a changed trait only from the siblings that lack it, so siblings stay apart.
  // `evidence` (optional) gets the scores with *every* unexplained cell and a one-cell rim around
  // them left out (misalignment too: evidence for the verdict, not for ranking) and `occluded` that
  // mask (kGrid^2 cells);
  // both empty when no such mask applies (the evidence is then the returned scores); `occluder`
  // whether solid blobs were left out of the returned scores.
  std::vector<float> scores(const AlignGeometry& g, const std::vector<RgbImage>& thumbs, size_t consensus,
                            std::vector<float>* evidence = nullptr, std::vector<char>* occluded = nullptr, bool* occluder = nullptr) const;
  static constexpr double kMinOccluded = 0.03, kMaxOccluded = 0.4;
  // Where the query, seen through `g`, differs from a thumbnail: both normalised per channel
  // (zero mean, unit variance over the cells inside the query), the mean squared difference of each
  // of regions x regions blocks; `worst` is the largest, `concentration` worst / mean over blocks.
  // A copy differs a little everywhere; a sibling (one trait changed) a lot in one block.
  // `shift`: the same blocks' signed mean difference, largest squared length: an edit's noise and
  // a slightly misplaced edge average out in it, a part in another colour (a sibling's skin or fur
  // tone) does not.
  // `occluded`: cells to leave out (scores()'s mask), or null.
  RegionDifference region_difference(const AlignGeometry& g, const RgbImage& thumbnail, int regions = 4,
                                     const std::vector<char>* occluded = nullptr) const;

  struct Template {  // a thumbnail as grids of cell means, 0..255 per channel
    std::vector<double> g96, refine, coarse;  // (empty for a grid size of 0)
    double aspect = 1;  // height / width of the thumbnail
  };
  // flip: the thumbnail mirrored (how a mirrored query is matched); full: with g96.
  static Template make_template(const RgbImage& thumbnail, int coarse_n, int refine_n, bool flip, bool full = true);

 private:
  struct Table {  // summed-area table of the (downscaled) query, (h+1) x (w+1) x 3
    int w = 0, h = 0;
    std::vector<double> s;
  };
  // Cell means (n x n x 3) and validity of the rectangle (x0, y0, w, h) on table t.
  void sample(const Table& t, double x0, double y0, double w, double h, int n, std::vector<double>& means,
              std::vector<char>& valid) const;
  double similarity(const Table& t, double x0, double y0, double w, double h, int n, const std::vector<double>& tmpl) const;
  // refine()'s descent on an rn x rn grid (locate() refines its best coarse placements with it).
  // (fin_out: the final similarity as computed, before it is stored as a float)
  AlignGeometry refine_from(const AlignGeometry& from, const RgbImage& thumbnail, int rn, double* fin_out = nullptr) const;
  // The mean colour (0..255) of the bw x bh box centred at (mx, my), in table pixels, clipped to the
  // query; false if less than kMinCellInside of it lies inside.
  bool box_mean(double mx, double my, double bw, double bh, double* mean) const;
  Table table_;
  Circle mask_;  // in table pixels (r == 0: none)
  // Scratch space reused by every placement tried (not thread-safe: one AlignQuery per thread).
  mutable std::vector<double> scratch_corner_, scratch_x_, scratch_y_, scratch_means_;
  mutable std::vector<char> scratch_valid_;
};


inline constexpr size_t kRerankCandidates = 30;     // hits re-ranked by default (CLI and browser)
inline constexpr float kRerankCosineWeight = 0.5f;
inline constexpr float kPoorFitPartWeight = 4.0f;    // the grid part score's weight where no placement fit well (bundles with part codes)
inline constexpr size_t kLocateCandidates = 3;      // first hits whose thumbnails may locate the token in the query
inline constexpr float kGoodFit = 0.75f;            // a located placement this similar needs no further tries
inline constexpr float kTurnTry = 0.95f;            // a placement fitting worse tries the query turned by a few degrees
inline constexpr float kTurnGain = 0.02f;           // ... and a turn must fit this much better to be kept
inline constexpr int kTurnGrid = 48;                // cells per side while choosing the turn (a quarter of kGrid's cost)
inline constexpr size_t kOwnLocate = 3;            // a zoom's first hits searched again on their own thumbnails ...
inline constexpr double kOwnScale = 1.08;           // ... at scales within this factor of the shared placement's
inline constexpr double kPartZoom = 1.5;            // a token placed this much larger than the query (each side) is a zoom on a detail
// Whether a placement makes a query of width x height (in the placement's pixels) a zoom on a detail.
inline bool placed_as_zoom(const AlignGeometry& placed, double width, double height) {
  return placed.w > kPartZoom * width && placed.h > kPartZoom * height;
}
inline constexpr size_t kOcclusionConsensus = 5;    // best-aligned hits that must all fail to explain a cell for it to count as occluded
// The first thumbs.size() hits (best first by cosine; thumbs[i] belongs to hits[i], an empty image
// if it has none) re-ordered by alignment + cosine_weight * cosine (with part codes, the cosine or
// a part score, and where nothing fits well kPoorFitPartWeight: see align.cpp); the rest keep their
// place after them (hits[i].alignment: the ranking score; hits[i].relevance: the key scaled to 0..1). `query` is the region of the query the first hit was found in (the caller crops), `mask`
// its disc if it is a round profile picture. The placement is located once: on the first hit's thumbnail, and if that fits poorly, the best
// fit of the first kLocateCandidates hits' thumbnails, then also zoomed in; a fit below kTurnTry tries
// the query turned by +-2.5..12.5 degrees (not for a round picture). A zoom on a detail (placed more
// than kPartZoom larger than the query) is then placed again on each hit's own thumbnail (refined
// from the shared placement; the first kOwnLocate searched at its scale). The new first two hits also get
// their region difference (TokenHit::region_*, evidence for the verdict). `placed`, if given, gets
// the located placement in `query`'s own pixels (for reports; a turned query's as if not turned). Returns false, leaving `hits` as
// they were, when that thumbnail is missing or nothing could be placed. `occluder`, if given, is
// set when the head's consensus found a solid blob covering part of the token (a sticker).
// `memo`, if given, keeps the placements located with each token's thumbnail (and the first
// thumbnail's search state), so that re-ranking the same query again over a head that shares tokens
// (the part codes' second pass, lens.cpp) skips the searches already made: the same results, faster —
// except for a zoom, whose placements on each token's own thumbnail (`own`) are kept from the first
// pass and also stand in for that token's wide fit, so lower hits (and rarely the placement) may
// differ from a fresh re-ranking.
struct LocateMemo {
  std::map<uint32_t, AlignGeometry> narrow, wide;  // by token
  std::map<uint32_t, AlignGeometry> own;  // a zoom's placement on each token's own thumbnail (also its wide fit)
  std::map<uint32_t, AlignGeometry> own_searched;  // ... and the scales its thumbnail was searched over (x0, y0: min, max)
  uint32_t first_token = UINT32_MAX;
  LocateState first;  // the narrow search state of first_token's thumbnail
};
bool rerank_by_alignment(std::vector<TokenHit>& hits, const RgbImage& query, const std::vector<RgbImage>& thumbs,
                         const Circle& mask = {}, float cosine_weight = kRerankCosineWeight, const AlignOptions& opt = {},
                         AlignGeometry* placed = nullptr, bool* occluder = nullptr, LocateMemo* memo = nullptr);

}  // namespace nftlens
