#include "image.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <string>

#include "error.h"

// The only translation unit that compiles the stb implementations.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_GIF
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS (1 << 16)
// Zeroed allocations: Debian's stb_image (2.27) decodes a JPEG scan with a Huffman table the file
// never defined from uninitialised memory, reading far outside the table (found by tests/fuzz).
// An all-zero table decodes in bounds (every code is symbol 0), so the file just decodes badly.
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(p, size) std::realloc(p, size)
#define STBI_FREE(p) std::free(p)
#include <stb/stb_image.h>
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>

namespace nftlens {
namespace {

RgbImage composite(const uint8_t* rgba, int w, int h, Rgb bg) {
  RgbImage out;
  out.width = w;
  out.height = h;
  out.rgb.resize(size_t(w) * h * 3);
  const size_t n = size_t(w) * h;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = rgba + 4 * i;
    const unsigned a = p[3];
    for (int c = 0; c < 3; ++c)  // integer blend: identical on every platform
      out.rgb[3 * i + c] = uint8_t((p[c] * a + bg[c] * (255 - a) + 127) / 255);
  }
  return out;
}

std::string millions(uint64_t n) {  // 40000000 -> "40 million", 2500000 -> "2.5 million", 1000 -> "1000"
  if (n < 100'000) return std::to_string(n);
  const uint64_t tenths = (n + 50'000) / 100'000;
  return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") + " million";
}

// Width and height from the file header, read before stb so the pixel budget gets its own clear
// message (stb reports an oversized PNG only as "unknown image type"). 0x0 if not recognised.
std::pair<uint64_t, uint64_t> header_dimensions(const uint8_t* d, size_t n) {
  auto be32 = [&](size_t o) { return uint64_t(d[o]) << 24 | uint64_t(d[o + 1]) << 16 | uint64_t(d[o + 2]) << 8 | d[o + 3]; };
  auto le16 = [&](size_t o) { return uint64_t(d[o]) | uint64_t(d[o + 1]) << 8; };
  if (n >= 24 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return {be32(16), be32(20)};
  if (n >= 10 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return {le16(6), le16(8)};
  if (n >= 26 && d[0] == 'B' && d[1] == 'M') {
    const uint64_t w = le16(18) | le16(20) << 16, h = le16(22) | le16(24) << 16;
    return {w, h > 0x7fffffff ? 0x100000000ull - h : h};  // negative height = top-down rows
  }
  if (n >= 4 && d[0] == 0xff && d[1] == 0xd8) {  // JPEG: walk the markers to the first SOFn
    size_t o = 2;
    while (o + 9 < n && d[o] == 0xff) {
      const uint8_t m = d[o + 1];
      const size_t len = size_t(d[o + 2]) << 8 | d[o + 3];
      if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc)
        return {uint64_t(d[o + 7]) << 8 | d[o + 8], uint64_t(d[o + 5]) << 8 | d[o + 6]};
      o += 2 + len;
    }
  }
  return {0, 0};
}

// Debian's stb_image (2.27) builds a JPEG Huffman table from up to 16 x 255 code counts into
// 257-entry arrays: more than 256 codes write past them (fixed upstream in 2.28; found by
// tests/fuzz). Refuse such tables before stb reads the file. Walks every marker stb could reach:
// segments by their declared length, anything else (entropy-coded data, junk) byte by byte; checks
// each DHT segment as stb reads it (tables until the length is used up, even past it; 0 past the end).
bool jpeg_huffman_tables_ok(const uint8_t* d, size_t n) {
  size_t o = 0;
  while (o + 1 < n) {
    if (d[o] != 0xff || d[o + 1] == 0xff) { ++o; continue; }  // not a marker, or a fill byte
    const uint8_t m = d[o + 1];
    if (m == 0x00 || m == 0x01 || (m >= 0xd0 && m <= 0xd9)) { o += 2; continue; }  // no length field
    if (o + 4 > n) break;
    const size_t len = size_t(d[o + 2]) << 8 | d[o + 3];
    if (m == 0xc4) {
      size_t p = o + 4;
      for (long left = long(len) - 2; left > 0 && p < n;) {
        size_t codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += p + i < n ? d[p + i] : 0;
        if (codes > 256) return false;
        p += 17 + codes;
        left -= long(17 + codes);
      }
    }
    o += 2 + len;
  }
  return true;
}

// stb grows its image-data buffer to each PNG IDAT chunk's declared length before reading it: a
// 100-byte file declaring a 2 GB IDAT made it allocate 2 GB (tests/fuzz), then fail for lack of
// data. Such a chunk cannot be read anyway. True if one (before IEND, as stb reads) overruns.
bool png_idat_overruns(const uint8_t* d, size_t n) {
  auto be32 = [&](size_t o) { return size_t(d[o]) << 24 | size_t(d[o + 1]) << 16 | size_t(d[o + 2]) << 8 | d[o + 3]; };
  if (n < 8 || d[0] != 0x89) return false;  // (not a PNG)
  for (size_t o = 8; o + 8 <= n && std::memcmp(d + o + 4, "IEND", 4) != 0; o += 12 + be32(o))
    if (be32(o) > n - o - 8) return std::memcmp(d + o + 4, "IDAT", 4) == 0;
  return false;
}

}  // namespace

void check_pixels(uint64_t w, uint64_t h, const ImageLimits& limits) {
  if (w == 0 || h == 0) throw Error("image has zero width or height", errc::bad_image);
  if (w * h > limits.max_pixels)
    throw Error("the image is " + std::to_string(w) + "x" + std::to_string(h) + " pixels; NFT Lens reads images up to " +
                millions(limits.max_pixels) + " pixels", errc::bad_image);
}

RgbImage decode_image(const uint8_t* data, size_t size, Rgb background, const ImageLimits& limits) {
  if (size == 0) throw Error("image file is empty", errc::bad_image);
  if (size > limits.max_encoded_bytes) throw Error("image file is larger than " + std::to_string(limits.max_encoded_bytes) + " bytes", errc::bad_image);
  if (size > size_t(INT32_MAX)) throw Error("image file too large", errc::bad_image);
  const auto [hw, hh] = header_dimensions(data, size);
  if (hw && hh) check_pixels(hw, hh, limits);
  if (data[0] == 0xff && !jpeg_huffman_tables_ok(data, size))
    throw Error("image is corrupt (JPEG Huffman table with more than 256 codes)", errc::bad_image);
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, int(size), &w, &h, &comp))
    throw Error(std::string("not a decodable PNG/JPEG/GIF/BMP image (") + stbi_failure_reason() + ")", errc::not_image);
  check_pixels(uint64_t(w), uint64_t(h), limits);
  if (png_idat_overruns(data, size)) throw Error("image is corrupt or truncated (IDAT past end)", errc::bad_image);
  uint8_t* pixels = stbi_load_from_memory(data, int(size), &w, &h, &comp, 4);
  if (!pixels) throw Error(std::string("image is corrupt or truncated (") + stbi_failure_reason() + ")", errc::bad_image);
  RgbImage out;
  try {
    out = composite(pixels, w, h, background);
  } catch (...) {
    stbi_image_free(pixels);
    throw;
  }
  stbi_image_free(pixels);
  return out;
}

RgbImage from_rgba(const uint8_t* rgba, int width, int height, Rgb background, const ImageLimits& limits) {
  if (width <= 0 || height <= 0) throw Error("image has zero width or height", errc::bad_image);
  check_pixels(uint64_t(width), uint64_t(height), limits);
  return composite(rgba, width, height, background);
}

RgbImage crop(const RgbImage& img, const Box& b) {
  if (b.x < 0 || b.y < 0 || b.w <= 0 || b.h <= 0 || b.x + b.w > img.width || b.y + b.h > img.height)
    throw Error("crop box outside the image");
  RgbImage out;
  out.width = b.w;
  out.height = b.h;
  out.rgb.resize(size_t(b.w) * b.h * 3);
  for (int y = 0; y < b.h; ++y)
    std::copy_n(img.at(b.x, b.y + y), size_t(b.w) * 3, &out.rgb[size_t(y) * b.w * 3]);
  return out;
}

RgbImage mirror(const RgbImage& img) {
  RgbImage out = img;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      std::copy_n(img.at(img.width - 1 - x, y), 3, &out.rgb[(size_t(y) * img.width + x) * 3]);
  return out;
}

std::vector<float> resize_to_float(const RgbImage& img, const Box& b, int width, int height) {
  if (b.x < 0 || b.y < 0 || b.w <= 0 || b.h <= 0 || b.x + b.w > img.width || b.y + b.h > img.height)
    throw Error("resize box outside the image");
  std::vector<float> src(size_t(b.w) * b.h * 3);
  for (int y = 0; y < b.h; ++y) {
    const uint8_t* row = img.at(b.x, b.y + y);
    float* dst = &src[size_t(y) * b.w * 3];
    for (int i = 0; i < b.w * 3; ++i) dst[i] = row[i] * (1.0f / 255.0f);
  }
  std::vector<float> out(size_t(width) * height * 3);
  if (!stbir_resize_float_generic(src.data(), b.w, b.h, 0, out.data(), width, height, 0, 3, STBIR_ALPHA_CHANNEL_NONE, 0,
                                  STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, nullptr))
    throw Error("resize failed");
  return out;
}

std::vector<float> resize_to_float(const RgbImage& img, int width, int height) {
  return resize_to_float(img, Box{0, 0, img.width, img.height}, width, height);
}

}  // namespace nftlens
