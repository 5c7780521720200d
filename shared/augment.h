// Synthetic "copies" of a collection image (crop, margins, caption strip, colour shift, blur,
// rescale, rotation, mirror, JPEG) for learning which differences to ignore. Native only.
// Deterministic for a given seed.
#pragma once
#include <cstdint>

#include "image.h"

namespace nftlens {

RgbImage augment(const RgbImage& src, uint64_t seed);

// Encode as JPEG (quality 1..100) and decode again, as a re-post would.
RgbImage jpeg_roundtrip(const RgbImage& src, int quality);

// Resample to a new size (bilinear on 8-bit; used for rescaling copies).
RgbImage resample(const RgbImage& src, int width, int height);

}  // namespace nftlens

namespace nftlens {
// PNG bytes of an image (thumbnails for the bundle).
std::vector<uint8_t> encode_png(const RgbImage& img);
}  // namespace nftlens
