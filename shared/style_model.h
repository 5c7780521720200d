// "Does this image look like one of a collection's tokens at all?" — the verdict's collection test
// (verdict.h). A token missing from the bundle still has its collection's style: its model
// features lie where the collection's do. Per collection, the mean and the top principal directions
// of its images' pooled model features (signed square root, L2-normalised), fitted at build time on
// token images *and* on synthetic copies and captures of them, so that what an edit adds lies
// mostly inside those directions too. An image's residual — the energy of its centred features
// outside them — is small for the collection's own tokens, edited or not, and large for art of
// another kind. The test joins it with the first result's cosine: each is standardised on the
// collection's own left-out searches (tokens that took no part in the fit, builder/calibrate.cpp),
// and their sum — how far outside the collection the image is on both, the cosine counting only
// when below the usual — must not exceed what 95% of those searches show; nor may the residual alone exceed the largest of theirs (a high cosine does
// not make a photo a Noun). (The two fail on different art: on a split of Nouns the cosine alone lets in
// 23-32% of other collections' images at 90% of left-out tokens, the residual none; on OpenMoji,
// varied emoji, the residual lets in 42% of lorelei's cartoon faces, the cosine 1%; docs/quality.md.)
// File: style.<h>.bin (magic NSTY), loaded at open; the first result's collection's model decides.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nftlens {

struct StyleModel {
  std::string slug;  // the collection
  std::vector<float> mean;   // channels
  std::vector<float> basis;  // dims x channels, orthonormal rows (stored as 16-bit floats)
  // Energy of (v - mean) outside the basis; v as style_vector gives it.
  double residual(const std::vector<float>& v) const;
  // The left-out searches' log residual and first-result cosine (mean, standard deviation), and the
  // outside score at or below which an image looks like the collection's.
  // The largest residual among them.
  float log_mean = 0, log_sd = 1, cos_mean = 0, cos_sd = 1, threshold = 0, max_residual = 0;
  // How far outside the collection: standardised log residual, plus how far the cosine is below
  // the usual (standardised; a cosine above it counts 0).
  double outside(double residual, double first_cosine) const;
  bool inside(double residual, double first_cosine) const { return residual <= max_residual && outside(residual, first_cosine) <= threshold; }
};

// The model's pooled features of one view -> the vector a style model compares (signed sqrt, L2).
std::vector<float> style_vector(std::vector<float> pooled);

struct StyleModels {
  int channels = 0, dims = 0;
  std::vector<StyleModel> collections;
  bool empty() const { return collections.empty(); }
  const StyleModel* of(const std::string& slug) const;  // null: none for that collection

  static constexpr uint32_t kMagic = 0x5954534e;  // "NSTY"
  static constexpr uint32_t kVersion = 1;
  std::vector<uint8_t> serialize() const;
  // Every value checked; `channels` is the model card's feature size. Errors name `where`.
  static StyleModels deserialize(const uint8_t* data, size_t size, int channels, const std::string& where);
};

}  // namespace nftlens
