// Synthetic "copies" of a collection image (crop, margins, caption strip, colour shift, blur,
// rescale, rotation, mirror, JPEG) for learning which differences to ignore. Native only.
// Deterministic for a given seed.
#pragma once
#include <cstdint>

#include "image.h"

namespace nftlens {

RgbImage augment(const RgbImage& src, uint64_t seed);

// A synthetic capture, as people share tokens (for calibrating the verdict on what the query
// pipeline handles beyond whole-image edits): a round profile picture on a page colour, the token
// inside a post-like page with bars and text blocks, a zoom on a part (50-75% of each side), or a
// flat shape over 8-20% of it; then JPEG. Deterministic for a given seed.
RgbImage capture_copy(const RgbImage& src, uint64_t seed);

// Encode as JPEG (quality 1..100) and decode again, as a re-post would.
RgbImage jpeg_roundtrip(const RgbImage& src, int quality);

// Resample to a new size (bilinear on 8-bit; used for rescaling copies).
RgbImage resample(const RgbImage& src, int width, int height);

}  // namespace nftlens

namespace nftlens {
// PNG bytes of an image (thumbnails for the bundle).
std::vector<uint8_t> encode_png(const RgbImage& img);
}  // namespace nftlens
