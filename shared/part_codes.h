// Part codes (issue #16): a few compact codes per token that describe *parts* of it, so that a
// query that hides part of a token (a sticker) or shows only part of it (a zoom on a detail) still
// brings it among the candidates that re-ranking checks. The one global descriptor cannot: mean
// pooling over the whole image lets a sticker move it, and a detail seen at 2-3x is a different
// image to it. Pooled from the model's feature map (a card output with pooling "parts"), so a
// query costs no extra model run:
//   grid: kParts half-side regions of the token (3x3, overlapping) at the model's input size; a
//         query is compared region by region at the same place, and a token scores the mean of its
//         best kGridKeep regions (a sticker spoils a few regions, not the others);
//   zoom: windows of the token run at twice the input size (the builder's second run), so each
//         looks like a zoom on that part: the grid's 9 half-side regions and, since file version 2,
//         16 smaller ones (3/8 of the side, 4x4) for the deepest zooms; a query scores the best of
//         them against its whole map (a detail of 35-55% of each side matches the window that
//         holds it at the closest scale).
// Each set has its own learned whitening (PCA of the collection's region vectors, whitened, `dim`
// dims, L2) and int8 scale; codes are scanned exhaustively (2 x kParts x dim bytes per token).
// Measured in docs/quality.md ("Part codes").
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace nftlens {

inline constexpr int kPartGrid = 3, kParts = kPartGrid * kPartGrid;
inline constexpr int kGridKeep = 6;  // a sticker covers 12-25% of a token: at most ~3 of 9 half-side regions are spoilt
inline constexpr int kSmallGrid = 4, kZoomWindows = kParts + kSmallGrid * kSmallGrid;  // zoom windows per token (file version 2)

// Region r (row-major over the 3x3 grid) as fractions of the image: x, y, w, h. Half-side squares
// starting at 0, 2/7 and 1/2 (on a 14-cell map: cells 0-6, 4-10 and 7-13).
std::array<float, 4> part_region(int r);
// Zoom window w (0..kZoomWindows-1): the grid's regions, then 3/8-side squares starting at 0, 5/24,
// 10/24 and 15/24 of each side (row-major).
std::array<float, 4> zoom_window(int w);
// The rows of a pooled map (pool_part_regions): the zoom windows (the grid's regions first), then
// the whole map.
inline constexpr int kRegionRows = kZoomWindows + 1, kWholeRow = kZoomWindows;

// The zoom windows' channel means of one feature map (side x side cells, `channels` each; NCHW or
// NHWC as the model returns it), then the whole map's: kRegionRows x channels values.
std::vector<float> pool_part_regions(const float* map, size_t values, int channels, bool nchw, const std::string& where);

// One set's whitening: code = int8(round(scale * L2(projection * (L2(sqrt(x)) - mean)))).
struct PartSet {
  std::vector<float> mean, projection;  // channels; dim x channels
  float quant_scale = 127.0f;
};

struct PartScore {
  float score;  // cosine (grid: mean of the best kGridKeep regions; zoom: best region)
  uint32_t token;
};

class PartCodes {
 public:
  PartCodes() = default;
  // zoom_windows: the first zoom_windows of zoom_window() each token has codes for (9 in version 1 files).
  PartCodes(int channels, int dim, PartSet grid, PartSet zoom, std::vector<int8_t> grid_codes, std::vector<int8_t> zoom_codes,
            int zoom_windows = kZoomWindows);
  std::vector<uint8_t> serialize() const;
  static PartCodes deserialize(const uint8_t* data, size_t size, int expected_channels, size_t expected_tokens, const std::string& where);

  bool empty() const { return dim_ == 0; }
  int dim() const { return dim_; }
  int channels() const { return channels_; }
  int zoom_windows() const { return zoom_windows_; }
  size_t tokens() const { return dim_ ? grid_codes_.size() / (size_t(kParts) * dim_) : 0; }

  // Codes of one region vector (raw channel means) in a set: the builder's and the query's.
  std::vector<int8_t> code(const PartSet& set, const float* region_means) const;
  const PartSet& grid() const { return grid_; }
  const PartSet& zoom() const { return zoom_; }

  // The k best tokens by grid parts (query: pool_part_regions of its whole image; also tried
  // mirrored, the grid's columns swapped) and by zoom parts (the same: its whole map's channel
  // means), best first.
  // `allow(t)` (optional) leaves tokens out.
  template <class Allow>
  std::vector<PartScore> search_grid(const std::vector<float>& query_regions, size_t k, Allow allow) const;
  template <class Allow>
  std::vector<PartScore> search_zoom(const std::vector<float>& query_means, size_t k, Allow allow) const;

  // Every token's score (the same query forms as above), and the k best of such scores.
  std::vector<float> grid_scores(const std::vector<float>& query_regions) const;
  std::vector<float> zoom_scores(const std::vector<float>& query_regions) const;
  template <class Allow>
  std::vector<PartScore> best(const std::vector<float>& scores, size_t k, Allow allow) const;

 private:
  std::vector<PartScore> top(const std::vector<float>& scores, size_t k, const std::vector<char>& ok) const;
  int channels_ = 0, dim_ = 0, zoom_windows_ = kZoomWindows;
  PartSet grid_, zoom_;
  std::vector<int8_t> grid_codes_, zoom_codes_;  // tokens x kParts x dim, tokens x zoom_windows x dim
};

template <class Allow>
std::vector<PartScore> PartCodes::best(const std::vector<float>& scores, size_t k, Allow allow) const {
  std::vector<char> ok(scores.size());
  for (size_t t = 0; t < ok.size(); ++t) ok[t] = allow(uint32_t(t));
  return top(scores, k, ok);
}
template <class Allow>
std::vector<PartScore> PartCodes::search_grid(const std::vector<float>& q, size_t k, Allow allow) const { return best(grid_scores(q), k, allow); }
template <class Allow>
std::vector<PartScore> PartCodes::search_zoom(const std::vector<float>& q, size_t k, Allow allow) const { return best(zoom_scores(q), k, allow); }

}  // namespace nftlens
