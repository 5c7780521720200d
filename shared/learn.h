// Build-time learning of the descriptor recipe (native only): the collection's background colours,
// the whitening projection learned from matching pairs, the quantiser scale and the copy threshold.
#pragma once
#include <Eigen/Dense>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "descriptor.h"
#include "part_codes.h"
#include "style_model.h"

namespace nftlens {

using Vec = std::vector<float>;
inline constexpr uint64_t kDefaultRotationSeed = 0x6e66746c656e73;  // "nftlens"

// Colours that fill most of the outer ring of many tokens: the collection's own backgrounds,
// which the query-side margin trim must not cut away. `ring_colours` has one entry per token
// (its dominant outer-ring colour, or nothing if no colour dominates).
std::vector<Rgb> learn_backgrounds(const std::vector<std::pair<bool, Rgb>>& ring_colours);
// Dominant colour of the outer ring of an image (at least 60% of ring pixels near it).
std::pair<bool, Rgb> dominant_ring_colour(const RgbImage& img);

// Learned whitening (Radenovic et al., "Lw"): whiten by the inverse square root of the covariance
// of matching-pair differences, then keep the top `out_dim` principal directions of the whitened
// collection. Fills recipe.mean, recipe.projection, recipe.in_dim, recipe.out_dim.
// A non-zero `rotation_seed` then turns the output by a fixed random rotation: distances are
// unchanged, but the variance, which PCA piles into the first dimensions, is spread evenly, so one
// int8 scale codes every dimension finely (recall@10 of the int8 index at 100k real descriptors:
// 0.980 -> 0.988; see bench/README.md). It costs nothing at query time: it is part of the matrix.
void learn_projection(Recipe& r, const std::vector<Vec>& collection, const std::vector<std::pair<Vec, Vec>>& pairs, int out_dim,
                      uint64_t rotation_seed = kDefaultRotationSeed);
// The same over a collection of n rows read one at a time (row(i, out) for i = 0..n-1, in order,
// twice), for a builder that does not hold every raw descriptor: the result is bit-identical.
void learn_projection(Recipe& r, size_t n, const std::function<void(size_t, Vec&)>& row, const std::vector<std::pair<Vec, Vec>>& pairs,
                      int out_dim, uint64_t rotation_seed = kDefaultRotationSeed);
// A random orthogonal n x n matrix, the same for the same seed on every platform.
Eigen::MatrixXd random_rotation(int n, uint64_t seed);

// Scale so that the int8 codes use their range (99.99th percentile of |value| maps to 127).
void learn_quantizer(Recipe& r, const std::vector<Vec>& projected);
void learn_quantizer(Recipe& r, const float* values, size_t count);  // (the same over one flat array)

// The value at quantile p (0..1) of v: sorted, index floor(p * n), clamped; 0 for an empty v.
template <class T>
T percentile(std::vector<T> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

// One part code set's whitening (part_codes.h) from region means (rows x channels, raw): PCA of
// their signed-square-rooted, L2-normalised form, each of the top `dim` directions scaled to unit
// variance (plus a floor of 1e-3 of the largest, so flat directions stay finite), and the int8
// scale that maps the 99.99th percentile of the coded values to 127.
PartSet learn_part_set(const std::vector<float>& rows, int channels, int dim);

// A collection's style model (style_model.h) from its images' style vectors (rows x channels, as
// style_vector gives them): their mean and the top `dims` principal directions, stored rounded to
// 16-bit floats (as the bundle keeps them). The threshold is left 0 for calibration to set.
StyleModel learn_style(const std::vector<float>& rows, int channels, int dims, const std::string& slug);

// Logistic regression by iteratively reweighted least squares: weights w with
// P(label 1 | x) = 1 / (1 + exp(-w.x)) (x includes a constant 1 if a bias is wanted). The two
// classes carry equal total weight, so 0.5 is the even-odds point whatever their counts; `ridge`
// keeps the weights finite when the classes separate. Deterministic.
std::vector<double> fit_logistic(const std::vector<std::vector<double>>& x, const std::vector<int>& label, double ridge = 1e-3, int iterations = 25);

}  // namespace nftlens
