#include "augment.h"

#include <algorithm>
#include <cmath>
#include <random>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

#include "error.h"

namespace nftlens {

namespace {
// std::lround for a float or double, inline (libm's is a call per pixel): truncate, then step away from zero
// when the dropped fraction is at least one half. x - float(t) is exact, so this is lround exactly
// for every finite x within long's range.
template <class F>
inline long lround_exact(F x) {
  long t = long(x);
  const F frac = x - F(t);
  if (frac >= F(0.5)) ++t;
  else if (frac <= F(-0.5)) --t;
  return t;
}
}  // namespace

RgbImage resample(const RgbImage& src, int width, int height) {
  const std::vector<float> f = resize_to_float(src, width, height);
  RgbImage out;
  out.width = width;
  out.height = height;
  out.rgb.resize(f.size());
  for (size_t i = 0; i < f.size(); ++i) out.rgb[i] = uint8_t(std::clamp(lround_exact(f[i] * 255.0f), 0L, 255L));
  return out;
}

RgbImage jpeg_roundtrip(const RgbImage& src, int quality) {
  std::vector<uint8_t> buf;
  auto sink = [](void* ctx, void* data, int size) {
    auto* b = static_cast<std::vector<uint8_t>*>(ctx);
    b->insert(b->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_jpg_to_func(sink, &buf, src.width, src.height, 3, src.rgb.data(), quality)) throw Error("jpeg encode failed");
  return decode_image(buf.data(), buf.size(), Rgb{255, 255, 255});
}

namespace {
const Rgb kPages[] = {{255, 255, 255}, {245, 245, 247}, {233, 234, 238}, {18, 18, 18}, {30, 31, 34}, {13, 17, 23}};

RgbImage pad(const RgbImage& src, int l, int t, int r, int b, Rgb c) {
  RgbImage out;
  out.width = src.width + l + r;
  out.height = src.height + t + b;
  out.rgb.resize(size_t(out.width) * out.height * 3);
  for (size_t i = 0; i < out.rgb.size(); i += 3) std::copy(c.begin(), c.end(), &out.rgb[i]);
  for (int y = 0; y < src.height; ++y) std::copy_n(src.at(0, y), size_t(src.width) * 3, &out.rgb[(size_t(y + t) * out.width + l) * 3]);
  return out;
}

void rotate(RgbImage& img, double deg, Rgb fill) {
  const double a = deg * M_PI / 180.0, ca = std::cos(a), sa = std::sin(a);
  const double cx = img.width / 2.0, cy = img.height / 2.0;
  RgbImage out = img;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const double sx = ca * (x - cx) + sa * (y - cy) + cx, sy = -sa * (x - cx) + ca * (y - cy) + cy;
      const int ix = int(std::floor(sx)), iy = int(std::floor(sy));
      uint8_t* o = &out.rgb[(size_t(y) * img.width + x) * 3];
      if (ix < 0 || iy < 0 || ix + 1 >= img.width || iy + 1 >= img.height) { std::copy(fill.begin(), fill.end(), o); continue; }
      const double fx = sx - ix, fy = sy - iy;
      for (int c = 0; c < 3; ++c) {
        const double v = (1 - fx) * (1 - fy) * img.at(ix, iy)[c] + fx * (1 - fy) * img.at(ix + 1, iy)[c] +
                         (1 - fx) * fy * img.at(ix, iy + 1)[c] + fx * fy * img.at(ix + 1, iy + 1)[c];
        o[c] = uint8_t(std::clamp(lround_exact(v), 0L, 255L));
      }
    }
  img = std::move(out);
}
}  // namespace

RgbImage augment(const RgbImage& src, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto chance = [&](double p) { return uni(0, 1) < p; };
  RgbImage img = src;
  const Rgb page = kPages[rng() % 6];
  if (chance(0.3)) img = mirror(img);
  if (chance(0.45)) {  // crop: keep 55-95% of each side
    const int w = std::max(8, int(img.width * uni(0.55, 0.95))), h = std::max(8, int(img.height * uni(0.55, 0.95)));
    img = crop(img, Box{int(uni(0, img.width - w)), int(uni(0, img.height - h)), w, h});
  }
  if (chance(0.25)) rotate(img, uni(-10, 10), page);
  if (chance(0.5)) {  // colour: brightness, saturation, gamma
    const double br = uni(0.8, 1.2), sat = uni(0.55, 1.45), gamma = uni(0.75, 1.3);
    double lut[256];  // the same values as computing pow per pixel, 256 calls instead of 3 per pixel
    for (int k = 0; k < 256; ++k) lut[k] = std::pow(k / 255.0, gamma) * br;
    for (size_t i = 0; i < img.rgb.size(); i += 3) {
      double v[3];
      for (int c = 0; c < 3; ++c) v[c] = lut[img.rgb[i + c]];
      const double grey = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
      for (int c = 0; c < 3; ++c) img.rgb[i + c] = uint8_t(std::clamp(lround_exact((grey + (v[c] - grey) * sat) * 255.0), 0L, 255L));
    }
  }
  if (chance(0.3)) {  // thumbnail re-upload: down then up
    const int d = int(uni(40, 110));
    img = resample(resample(img, d, std::max(8, d * img.height / img.width)), img.width, img.height);
  } else if (chance(0.5)) {  // screenshot rescale
    const int w = int(uni(160, 700));
    img = resample(img, w, std::max(8, w * img.height / img.width));
  }
  if (chance(0.25)) {  // caption or watermark: a band of dark/light blocks like text
    const int bh = std::max(4, int(img.height * uni(0.05, 0.12)));
    const int y0 = chance(0.5) ? int(img.height * uni(0.02, 0.1)) : img.height - bh - int(img.height * uni(0.02, 0.1));
    const uint8_t ink = chance(0.5) ? 255 : 10;
    for (int x = int(img.width * uni(0.05, 0.3)); x < int(img.width * uni(0.5, 0.95)); x += 1)
      if ((x / std::max(2, bh / 3)) % 3 != 0)
        for (int y = y0; y < y0 + bh; ++y)
          if (y >= 0 && y < img.height) std::fill_n(&img.rgb[(size_t(y) * img.width + x) * 3], 3, ink);
  }
  if (chance(0.35)) {  // page margins (screenshot / phone surround)
    const int m = std::max(img.width, img.height);
    img = pad(img, int(m * uni(0.01, 0.2)), int(m * uni(0.01, 0.2)), int(m * uni(0.01, 0.2)), int(m * uni(0.01, 0.2)), page);
  }
  if (chance(0.25)) {  // blur: box filter radius 1
    RgbImage out = img;
    const size_t row = size_t(img.width) * 3;
    for (int y = 1; y + 1 < img.height; ++y) {
      const uint8_t* up = &img.rgb[(size_t(y) - 1) * row];
      const uint8_t* mid = up + row;
      const uint8_t* down = mid + row;
      uint8_t* o = &out.rgb[size_t(y) * row];
      for (size_t i = 3; i + 3 < row; ++i)  // (i: byte of pixel x, channel c; neighbours at i -+ 3)
        o[i] = uint8_t((up[i - 3] + up[i] + up[i + 3] + mid[i - 3] + mid[i] + mid[i + 3] + down[i - 3] + down[i] + down[i + 3]) / 9);
    }
    img = std::move(out);
  }
  if (chance(0.5)) img = jpeg_roundtrip(img, int(uni(20, 80)));
  return img;
}

RgbImage capture_copy(const RgbImage& src, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  const Rgb page = kPages[rng() % 6];
  auto fill_rect = [](RgbImage& img, int x0, int y0, int w, int h, Rgb c) {
    for (int y = std::max(0, y0); y < std::min(img.height, y0 + h); ++y)
      for (int x = std::max(0, x0); x < std::min(img.width, x0 + w); ++x) std::copy(c.begin(), c.end(), &img.rgb[(size_t(y) * img.width + x) * 3]);
  };
  RgbImage img;
  switch (rng() % 4) {
    case 0: {  // round profile picture
      const int s = std::min(src.width, src.height), d = std::max(16, int(s * uni(0.8, 1.0)));
      const int x0 = std::clamp(int((src.width - d) / 2 + s * uni(-0.04, 0.04)), 0, src.width - d);
      const int y0 = std::clamp(int((src.height - d) / 2 + s * uni(-0.04, 0.04)), 0, src.height - d);
      img = crop(src, Box{x0, y0, d, d});
      const double r = d / 2.0;
      for (int y = 0; y < d; ++y)
        for (int x = 0; x < d; ++x)
          if (std::hypot(x + 0.5 - r, y + 0.5 - r) > r) std::copy(page.begin(), page.end(), &img.rgb[(size_t(y) * d + x) * 3]);
      const int out = int(uni(200, 400));
      img = resample(img, out, out);
      break;
    }
    case 1: {  // a post: header bar, avatar, name and text blocks, the token, buttons
      const int W = 540, H = 675, tw = int(W * uni(0.3, 0.6)), th = std::max(8, tw * src.height / src.width);
      img.width = W; img.height = H; img.rgb.resize(size_t(W) * H * 3);
      fill_rect(img, 0, 0, W, H, page);
      const Rgb ink = page[0] > 128 ? Rgb{15, 20, 25} : Rgb{231, 233, 234}, bar = page[0] > 128 ? Rgb{242, 242, 242} : Rgb{22, 24, 28};
      fill_rect(img, 0, 0, W, 55, bar);
      fill_rect(img, 22, 75, 36, 36, Rgb{uint8_t(rng() % 256), uint8_t(rng() % 256), uint8_t(rng() % 256)});
      fill_rect(img, 68, 80, int(uni(80, 200)), 10, ink);
      const int lines = 1 + int(rng() % 3);
      for (int i = 0; i < lines; ++i) fill_rect(img, 68, 130 + 26 * i, int(uni(150, 400)), 9, ink);
      const int ty = std::min(H - th - 40, 140 + 26 * lines), tx = rng() % 2 ? (W - tw) / 2 : 68;
      const RgbImage art = resample(src, tw, th);
      for (int y = 0; y < th && ty + y < H; ++y) std::copy_n(art.at(0, y), size_t(tw) * 3, &img.rgb[(size_t(ty + y) * W + tx) * 3]);
      for (int i = 0; i < 4; ++i) fill_rect(img, 70 + 110 * i, std::min(H - 20, ty + th + 20), 16, 16, Rgb{139, 152, 165});
      break;
    }
    case 2: {  // a zoom on a part
      const int w = std::max(8, int(src.width * uni(0.5, 0.75))), h = std::max(8, int(src.height * uni(0.5, 0.75)));
      img = crop(src, Box{int(uni(0, src.width - w)), int(uni(0, src.height - h)), w, h});
      const int out = int(uni(300, 600));
      img = resample(img, out, std::max(8, out * h / w));
      break;
    }
    default: {  // an opaque flat shape over a part
      img = src;
      const double area = uni(0.08, 0.2) * img.width * img.height;
      const int w = std::max(4, int(std::sqrt(area) * uni(0.7, 1.4))), h = std::max(4, int(area / w));
      fill_rect(img, int(uni(0, img.width - w)), int(uni(0, img.height - h)), w, h,
                Rgb{uint8_t(rng() % 256), uint8_t(rng() % 256), uint8_t(rng() % 256)});
      break;
    }
  }
  return jpeg_roundtrip(img, int(uni(70, 92)));
}

}  // namespace nftlens

namespace nftlens {
std::vector<uint8_t> encode_png(const RgbImage& img) {
  std::vector<uint8_t> buf;
  auto sink = [](void* ctx, void* data, int size) {
    auto* b = static_cast<std::vector<uint8_t>*>(ctx);
    b->insert(b->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(sink, &buf, img.width, img.height, 3, img.rgb.data(), img.width * 3)) throw Error("png encode failed");
  return buf;
}
}  // namespace nftlens
