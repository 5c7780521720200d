// Image input shared by the builder and the browser: decode (stb_image), composite transparency,
// crop/mirror, antialiased resize. Everything downstream works on 8-bit sRGB RGB.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nftlens {

using Rgb = std::array<uint8_t, 3>;

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel
  const uint8_t* at(int x, int y) const { return &rgb[(size_t(y) * width + x) * 3]; }
};

struct Box {
  int x = 0, y = 0, w = 0, h = 0;
  bool operator==(const Box& o) const { return x == o.x && y == o.y && w == o.w && h == o.h; }
};

// Bounds that keep hostile images (decompression bombs) from exhausting memory.
struct ImageLimits {
  uint64_t max_pixels = 40'000'000;   // ~160 MB of RGBA while decoding
  uint64_t max_encoded_bytes = 64ull << 20;
};
// Error(bad_image) naming the size and the limit ("the image is WxH pixels; NFT Lens reads images up
// to 40 million pixels") if w x h is over it, or zero.
void check_pixels(uint64_t w, uint64_t h, const ImageLimits& limits = {});

// Decode PNG, JPEG, GIF (first frame) or BMP from memory and composite alpha onto `background`.
// Throws nftlens::Error with a clear reason (unsupported format, truncated data, too many pixels).
RgbImage decode_image(const uint8_t* data, size_t size, Rgb background, const ImageLimits& limits = {});

// Raw RGBA pixels (as the browser's canvas gives them), composited onto `background`.
RgbImage from_rgba(const uint8_t* rgba, int width, int height, Rgb background, const ImageLimits& limits = {});

RgbImage crop(const RgbImage& img, const Box& box);
RgbImage mirror(const RgbImage& img);

// Antialiased (triangle filter) resize to `width` x `height`; output RGB floats in [0,1].
std::vector<float> resize_to_float(const RgbImage& img, int width, int height);
std::vector<float> resize_to_float(const RgbImage& img, const Box& box, int width, int height);

}  // namespace nftlens
