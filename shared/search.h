// Query-side pipeline shared by `nftlens query` and the browser:
//   QuerySession(image) -> model inputs for each planned model run -> (caller runs the model) ->
//   set_model_output(...) -> descriptors() -> the first-stage search below
// The caller owns inference (ONNX Runtime natively, onnxruntime-web in the browser); everything
// else happens in the core, so both sides compute the same thing. Hosts do not call the search
// functions here: they drive a Lens (lens.h), which adds re-ranking, parts and result JSON.
#pragma once
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "bundle.h"

namespace nftlens {

class QuerySession {
 public:
  QuerySession(const Bundle& bundle, RgbImage image);
  size_t model_runs() const { return plan_.model_boxes.size(); }
  std::vector<float> model_input(size_t run) const;
  // The model's raw outputs for one run, in card order (pooled here per the card).
  void set_model_output(size_t run, const std::vector<const float*>& outputs, const std::vector<size_t>& sizes);
  // Same, for callers whose runtime already pooled the outputs per the card (the native embedder).
  void set_pooled_features(size_t run, std::vector<float> features);
  // The native embedder's pool_parts of run 0 (the whole image), when the model has a parts map.
  void set_part_regions(std::vector<float> regions);
  // pool_part_regions of the whole image's run (empty: the model has no parts map, or the host
  // did not pass it): what part codes search with (part_codes.h).
  const std::vector<float>& part_regions() const { return parts_; }
  // One run's pooled model features (requires that run's output set): the verdict's style test.
  const std::vector<float>& pooled_features(size_t run) const;
  // One projected, L2-normalised descriptor per view (requires all model outputs set), and the
  // window-space descriptor of each view (empty if the bundle has no windows).
  std::vector<std::vector<float>> descriptors() const;
  std::vector<std::vector<float>> window_descriptors() const;
  const ImagePlan& plan() const { return plan_; }
  const RgbImage& image() const { return image_; }
  // Unique per session in the process (never 0): a Lens keeps work for the same query's next call.
  uint64_t serial() const { return serial_; }

 private:
  const Bundle& bundle_;
  uint64_t serial_;
  RgbImage image_;
  ImagePlan plan_;
  RgbImage filled_;  // image_ with the outside of plan_.fill filled (empty: no filled runs)
  const RgbImage& source(bool filled) const { return filled && filled_.width > 0 ? filled_ : image_; }
  std::vector<std::vector<float>> features_;
  std::vector<bool> have_;
  std::vector<float> parts_;
  // descriptors() and window_descriptors(), once computed (a host repeats a search after fetching
  // its needs, and each view's colour layout resizes the whole image); cleared when an output is set.
  mutable std::vector<std::vector<float>> descriptors_, window_descriptors_;
  mutable bool have_descriptors_ = false, have_window_descriptors_ = false;
};

struct SearchOptions {
  size_t k = 10;
  int ef = 0;                                // 0 = index default
  bool exact = false;                        // exhaustive scan instead of HNSW (or of every partition)
  size_t probe = 0;                          // partitioned bundles: partitions searched (0 = bundle default)
  std::vector<std::string> collections;      // restrict to these slugs (empty = all)
  std::function<bool(uint32_t)> allow;       // further restriction by token index (e.g. a trait filter), or empty
};

// SearchOptions::collections as a flag per catalogue collection (empty when every collection is
// allowed): the searches test hits by their collection index, so the slugs are compared once per
// query, not once per hit.
std::vector<bool> allowed_collections(const Bundle& bundle, const SearchOptions& opt);

struct TokenHit {
  uint32_t token;
  float score;  // cosine similarity of the best (view, entry) pair
  float alignment = kNotAligned;  // set by rerank_by_alignment (shared/align.h)
  float region_worst = -1, region_concentration = -1, region_shift = -1;  // the first two re-ranked hits' (align.h RegionDifference)
  float evidence_alignment = kNotAligned;  // the first two re-ranked hits: alignment with every unexplained cell left out (verdict)
  uint32_t view = 0;  // the query view of the best score (index into its plan's views): where re-ranking aligns
  // Part scores (bundles with part codes, shared/part_codes.h; kNoPartScore: not scored): re-ranking
  // weighs max(score, part score) where the part score tells more than the cosine: the grid's where
  // it finds an occluder (a sticker) or no placement fits, the zoom's where it places the token as a
  // zoom on a detail.
  static constexpr float kNoPartScore = -2.0f;
  float grid_score = kNoPartScore, zoom_score = kNoPartScore;
  float part_score = -1;  // the one re-ranking weighs (set by rerank_by_alignment)
  float relevance = -1;   // re-ranked hits: their re-ranking key scaled to 0..1 (set by rerank_by_alignment)
  float rank_cosine() const { return std::max(score, part_score); }
  static constexpr float kNotAligned = -2.0f;
};

// What the verdict's style test (style_model.h) compares: the style vector of the query view that
// found `first` (for a post screenshot its artwork, not the page; measured: the smallest residual
// over every model run instead let fewer left-out tokens pass on Nouns and lorelei, 85 vs 95 / 87%).
// The builder's calibration fits the threshold on the same vector.
std::vector<float> first_view_style(const QuerySession& query, const TokenHit& first);

struct QueryDescriptors {
  std::vector<std::vector<float>> main, windows;
};

// Per-token results, best first: a token's score is its best entry over all query views, where
// window matches count with their calibrated score.
std::vector<TokenHit> search_tokens(const Bundle& bundle, const QueryDescriptors& q, const SearchOptions& opt);

// Partitioned bundles: the partitions a query probes (their shards must be in the store before
// search_partitions), and the catalogue fragments that hold the given hits.
std::vector<uint32_t> shards_to_probe(const Bundle& bundle, const QueryDescriptors& q, const SearchOptions& opt);
std::vector<TokenHit> search_partitions(const Bundle& bundle, PartStore& store, const QueryDescriptors& q, const SearchOptions& opt);
std::vector<uint32_t> fragments_for(const Bundle& bundle, const std::vector<TokenHit>& hits);

}  // namespace nftlens
