#include "image_file.h"

#include <cairo.h>
#include <librsvg/rsvg.h>
#include <webp/decode.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "error.h"
#include "image.h"

namespace nftlens {
namespace {

constexpr int kSvgSize = 512;  // SVG art is rasterised at this size (NFT SVGs are usually square)

bool is_webp(const std::vector<uint8_t>& b) {
  return b.size() >= 12 && std::equal(b.begin(), b.begin() + 4, "RIFF") && std::equal(b.begin() + 8, b.begin() + 12, "WEBP");
}

bool is_svg(const std::vector<uint8_t>& b) {
  const size_t n = std::min<size_t>(b.size(), 4096);
  const std::string head(b.begin(), b.begin() + long(n));
  return head.find("<svg") != std::string::npos;
}

RgbImage decode_webp(const std::vector<uint8_t>& b, Rgb bg) {
  WebPBitstreamFeatures f;
  if (WebPGetFeatures(b.data(), b.size(), &f) != VP8_STATUS_OK) throw Error("WebP image is corrupt or truncated");
  if (f.has_animation) throw Error("animated WebP is not supported (use a still frame)");
  ImageLimits limits;
  check_pixels(uint64_t(f.width), uint64_t(f.height), limits);  // (names the size and the limit)
  int w = 0, h = 0;
  std::unique_ptr<uint8_t, void (*)(void*)> px(WebPDecodeRGBA(b.data(), b.size(), &w, &h), WebPFree);
  if (!px) throw Error("WebP image is corrupt or truncated");
  return from_rgba(px.get(), w, h, bg);
}

RgbImage decode_svg(const std::vector<uint8_t>& b, Rgb bg) {
  GError* err = nullptr;
  // No base file: external references (files, URLs) cannot resolve.
  RsvgHandle* h = rsvg_handle_new_from_data(b.data(), b.size(), &err);
  if (!h) {
    std::string msg = err ? err->message : "unknown error";
    if (err) g_error_free(err);
    throw Error("SVG cannot be parsed (" + msg + ")");
  }
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, kSvgSize, kSvgSize);
  cairo_t* cr = cairo_create(s);
  RsvgRectangle viewport{0, 0, double(kSvgSize), double(kSvgSize)};
  const gboolean ok = rsvg_handle_render_document(h, cr, &viewport, &err);
  std::string msg = (!ok && err) ? err->message : "";
  if (err) g_error_free(err);
  cairo_surface_flush(s);
  std::vector<uint8_t> rgba(size_t(kSvgSize) * kSvgSize * 4);
  if (ok) {
    const uint8_t* data = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < kSvgSize; ++y)
      for (int x = 0; x < kSvgSize; ++x) {
        uint32_t p;
        std::memcpy(&p, data + size_t(y) * stride + size_t(x) * 4, 4);  // premultiplied ARGB, native endian
        const uint32_t a = p >> 24;
        uint8_t* o = &rgba[(size_t(y) * kSvgSize + x) * 4];
        for (int c = 0; c < 3; ++c) {
          const uint32_t v = (p >> (16 - 8 * c)) & 0xff;
          o[c] = a ? uint8_t(std::min<uint32_t>(255, (v * 255 + a / 2) / a)) : 0;
        }
        o[3] = uint8_t(a);
      }
  }
  cairo_destroy(cr);
  cairo_surface_destroy(s);
  g_object_unref(h);
  if (!ok) throw Error("SVG cannot be rendered (" + msg + ")");
  return from_rgba(rgba.data(), kSvgSize, kSvgSize, bg);
}

}  // namespace

RgbImage decode_any(const std::vector<uint8_t>& bytes, Rgb background) {
  if (is_webp(bytes)) return decode_webp(bytes, background);
  if (is_svg(bytes)) return decode_svg(bytes, background);
  return decode_image(bytes.data(), bytes.size(), background);
}

}  // namespace nftlens
