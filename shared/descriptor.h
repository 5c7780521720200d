// The descriptor recipe: how an image becomes a compact code, identically in the builder and the
// browser. The recipe is data (stored in the bundle), so it can evolve without code on either side
// drifting apart. Steps, in order:
//   1. views: which regions of the image to describe (whole image; for queries also the image with
//      uniform margins trimmed, the artwork inside a post screenshot, and mirrored copies)
//   2. per view: a grid x grid (default 4x4) CIE-Lab colour layout + the model's pooled features (signed sqrt, L2)
//   3. centre + project (learned whitening, stored in the bundle), L2-normalise
//   4. int8 scalar quantisation with a stored scale
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "byte_io.h"
#include "image.h"
#include "model_card.h"
#include "regions.h"

namespace nftlens {

// Sub-window entries: colour layouts of square parts of each token image, so a cropped query still
// finds its token. Compact (own whitening to few dims, int8) and scanned exhaustively.
struct WindowRecipe {
  std::vector<std::array<float, 4>> boxes;  // x, y, w, h as fractions of the image
  int in_dim = 0, out_dim = 0;
  std::vector<float> mean, projection;      // out_dim x in_dim
  float quant_scale = 127.0f;
  float score_scale = 1.0f, score_offset = 0.0f;  // window cosine -> comparable to whole-image scores
  bool enabled() const { return !boxes.empty() && out_dim > 0; }
  template <class Archive>
  void serialize(Archive& ar) { ar(boxes, in_dim, out_dim, mean, projection, quant_scale, score_scale, score_offset); }
};

// Weights as IEEE half floats after scaling by a power of two (so the largest is below 2^14 and
// scaling is exact): relative error <= 2^-11. round_weights(w) = unpack(pack(w)), idempotent.
std::vector<uint16_t> pack_weights(const std::vector<float>& w, int& exponent);
std::vector<float> unpack_weights(const std::vector<uint16_t>& h, int exponent);
void round_weights(std::vector<float>& w);
// The same in a bundle file (part codes, style models): the exponent (u32, biased by 1024), then
// the 16-bit values, little-endian. Reading refuses an exponent beyond +-200 with `out_of_range`
// (prefixed by the reader's file name); the values are finite but may overflow: callers check.
void write_half_weights(ByteWriter& w, const std::vector<float>& weights);
std::vector<float> read_half_weights(ByteReader& r, size_t count, const std::string& out_of_range);

struct Recipe {
  int color_grid = 4;          // colour-layout thumbnail side (Lab, color_grid^2 * 3 values; the builder's default)
  bool use_model = true;       // include the model's features
  float model_weight = 1.0f;   // relative weight of the model part before projection
  bool trim_margins = true;    // queries: also describe the image with uniform margins trimmed
  bool mirror_queries = true;  // queries: also describe mirrored views
  std::vector<Rgb> collection_backgrounds;  // colours that are art, not page margin
  int in_dim = 0, out_dim = 0;
  std::vector<float> mean;        // in_dim
  std::vector<float> projection;  // out_dim rows x in_dim cols; empty = identity (out_dim == in_dim)
  float quant_scale = 127.0f;     // code = clamp(round(v * scale))
  float match_threshold = 0.0f;   // cosine score at or above which a result counts as a copy
  WindowRecipe windows;

  int color_dim() const { return color_grid * color_grid * 3; }
  int raw_dim(const ModelCard& card) const { return color_dim() + (use_model ? card.feature_dim() : 0); }
  void validate(const ModelCard& card, const std::string& where) const;

  // The projection travels as 16-bit floats (see pack_weights): half the bytes every browser
  // downloads first; the builder rounds it the same way before it codes the collection.
  template <class Archive>
  void serialize(Archive& ar) {
    int projection_exponent = 0;
    std::vector<uint16_t> projection16;
    if constexpr (Archive::is_saving::value) projection16 = pack_weights(projection, projection_exponent);
    ar(color_grid, use_model, model_weight, trim_margins, mirror_queries, collection_backgrounds, in_dim, out_dim,
       mean, projection_exponent, projection16, quant_scale, match_threshold, windows);
    if constexpr (Archive::is_loading::value) projection = unpack_weights(projection16, projection_exponent);
  }
};

// A region of the image to describe and whose model run provides its features.
struct View {
  Box box;
  bool mirrored = false;
  int model_run = 0;  // index into ImagePlan::model_boxes
  Circle circle;      // a round profile picture's disc (image pixels): only it is art (re-ranking masks the rest)
  bool filled = false;  // described from the image with the outside of `circle` filled from its rim
};

// The model runs and views one image needs. Mirrored views reuse the unmirrored run's model
// features: globally pooled CNN features are nearly flip-invariant, and this halves query cost.
struct ImagePlan {
  std::vector<Box> model_boxes;
  std::vector<char> model_filled;  // per run: the model sees the disc-filled image (fill_outside_circle)
  std::vector<View> views;
  Circle fill;                     // the disc those runs fill around (none: no filled runs)
};

ImagePlan plan_entry(const Recipe& r, const RgbImage& img);  // database image: whole image
// Query: the whole image; with uniform margins trimmed; the artwork of a post screenshot
// (regions.h); for a round profile picture, the whole image again with the page outside its disc
// filled from the disc's rim (the token's own background, roughly, instead of the page colour);
// each also mirrored. At most kMaxQueryRuns model runs; an artwork box that nearly repeats another
// region (IoU >= 0.85) shares its run. A round picture's disc goes with the views that hold it.
inline constexpr size_t kMaxQueryRuns = 3;
ImagePlan plan_query(const Recipe& r, const RgbImage& img);

// Uniform page margins around the artwork (screenshots, phone photos); colours in `keep` are the
// collection's own backgrounds and never count as margin. Returns the whole image if none.
Box find_content_box(const RgbImage& img, const std::vector<Rgb>& keep);

// grid x grid Lab colour layout of a region, row-major, optionally mirrored.
std::vector<float> color_layout(const RgbImage& img, const Box& box, int grid, bool mirrored);

// Model features -> signed square root + L2 normalisation.
void power_l2_normalize(std::vector<float>& v);
void l2_normalize(std::vector<float>& v);

// Unprojected descriptor: [colour layout, model_weight * normalised model features].
std::vector<float> raw_descriptor(const Recipe& r, std::vector<float> color_layout, const std::vector<float>& model_features);
// The same for one view of an image (computes the view's colour layout).
std::vector<float> raw_descriptor(const Recipe& r, const RgbImage& img, const View& v, const std::vector<float>& model_features);

// Centre, project, L2-normalise.
std::vector<float> project(const Recipe& r, const std::vector<float>& raw);
std::vector<float> project(const std::vector<float>& mean, const std::vector<float>& projection, int out_dim,
                           const std::vector<float>& raw);

// Window boxes of a database image (pixel boxes from the recipe's fractions).
std::vector<Box> window_boxes(const WindowRecipe& w, int width, int height);
// Window-space descriptor of a colour layout (projected, L2-normalised).
std::vector<float> window_descriptor(const Recipe& r, const std::vector<float>& color_layout);

std::vector<int8_t> quantize(const Recipe& r, const std::vector<float>& desc);
std::vector<int8_t> quantize(const std::vector<float>& desc, float scale);
std::vector<float> dequantize(const Recipe& r, const int8_t* code, int dim);

}  // namespace nftlens
