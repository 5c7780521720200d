#include "descriptor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "error.h"

namespace nftlens {

void Recipe::validate(const ModelCard& card, const std::string& where) const {
  if (color_grid < 1 || color_grid > 64) throw Error(where + ": recipe colour grid out of range");
  if (in_dim != raw_dim(card)) throw Error(where + ": recipe input size " + std::to_string(in_dim) + " does not match the model card (" + std::to_string(raw_dim(card)) + ")");
  if (out_dim <= 0 || out_dim > 4096) throw Error(where + ": recipe output size out of range");
  if (mean.size() != size_t(in_dim)) throw Error(where + ": recipe mean has the wrong size");
  if (projection.empty() ? out_dim != in_dim : projection.size() != size_t(out_dim) * in_dim)
    throw Error(where + ": recipe projection has the wrong size");
  if (!(quant_scale > 0 && std::isfinite(quant_scale))) throw Error(where + ": recipe quantisation scale is invalid");
  for (float v : projection)
    if (!std::isfinite(v)) throw Error(where + ": recipe projection has non-finite values");
  const WindowRecipe& w = windows;
  if (!w.boxes.empty()) {
    if (w.in_dim != color_dim() || w.out_dim <= 0 || w.out_dim > 1024 || w.mean.size() != size_t(w.in_dim) ||
        w.projection.size() != size_t(w.out_dim) * w.in_dim || !(w.quant_scale > 0 && std::isfinite(w.quant_scale)))
      throw Error(where + ": recipe window part is inconsistent");
    for (auto& b : w.boxes)
      for (float f : b)
        if (!(f >= 0 && f <= 1)) throw Error(where + ": recipe window box out of range");
  }
}

namespace {
bool near(const uint8_t* p, const Rgb& c, int tol) {
  return std::abs(p[0] - c[0]) <= tol && std::abs(p[1] - c[1]) <= tol && std::abs(p[2] - c[2]) <= tol;
}
constexpr int kMarginTolerance = 24;
}  // namespace

Box find_content_box(const RgbImage& img, const std::vector<Rgb>& keep) {
  const int W = img.width, H = img.height;
  Box whole{0, 0, W, H};
  if (W < 16 || H < 16) return whole;
  // Fraction of a line's pixels near colour c.
  auto row_frac = [&](int y, int x0, int x1, const Rgb& c) {
    int n = 0;
    for (int x = x0; x < x1; ++x) n += near(img.at(x, y), c, kMarginTolerance);
    return double(n) / std::max(1, x1 - x0);
  };
  auto col_frac = [&](int x, int y0, int y1, const Rgb& c) {
    int n = 0;
    for (int y = y0; y < y1; ++y) n += near(img.at(x, y), c, kMarginTolerance);
    return double(n) / std::max(1, y1 - y0);
  };
  auto is_art = [&](const Rgb& c) {
    for (auto& k : keep)
      if (near(c.data(), k, kMarginTolerance)) return true;
    return false;
  };
  // The margin colour of a side is its outermost line's middle pixel; a side counts as margin only
  // if that line is almost uniform in it. Then move inward while lines stay mostly margin colour
  // (captions and watermarks leave lines only partly margin-coloured).
  int top = 0, bottom = H, left = 0, right = W;
  auto pix = [&](int x, int y) { const uint8_t* p = img.at(x, y); return Rgb{p[0], p[1], p[2]}; };
  const double kStart = 0.97, kContinue = 0.6;
  Rgb c = pix(W / 2, 0);
  if (!is_art(c) && row_frac(0, 0, W, c) >= kStart)
    while (top < H / 2 && row_frac(top, 0, W, c) >= kContinue) ++top;
  c = pix(W / 2, H - 1);
  if (!is_art(c) && row_frac(H - 1, 0, W, c) >= kStart)
    while (bottom > top + H / 4 && row_frac(bottom - 1, 0, W, c) >= kContinue) --bottom;
  c = pix(0, H / 2);
  if (!is_art(c) && col_frac(0, top, bottom, c) >= kStart)
    while (left < W / 2 && col_frac(left, top, bottom, c) >= kContinue) ++left;
  c = pix(W - 1, H / 2);
  if (!is_art(c) && col_frac(W - 1, top, bottom, c) >= kStart)
    while (right > left + W / 4 && col_frac(right - 1, top, bottom, c) >= kContinue) --right;
  Box b{left, top, right - left, bottom - top};
  if (b.w <= W / 4 || b.h <= H / 4) return whole;  // nearly uniform image: nothing to trim
  return b;
}

ImagePlan plan_entry(const Recipe&, const RgbImage& img) {
  ImagePlan p;
  p.model_boxes.push_back(Box{0, 0, img.width, img.height});
  p.model_filled.push_back(0);
  p.views.push_back(View{p.model_boxes[0], false, 0, {}, false});
  return p;
}

ImagePlan plan_query(const Recipe& r, const RgbImage& img) {
  ImagePlan p = plan_entry(r, img);
  auto add = [&](const Box& b, double same_iou) {
    for (const Box& have : p.model_boxes)
      if (have == b || box_iou(have, b) >= same_iou) return;
    if (p.model_boxes.size() >= kMaxQueryRuns) return;
    p.model_boxes.push_back(b);
    p.model_filled.push_back(0);
    p.views.push_back(View{b, false, int(p.model_boxes.size() - 1), {}, false});
  };
  if (r.trim_margins) add(find_content_box(img, r.collection_backgrounds), 1.0);  // (even slight margins count)
  add(find_artwork_box(img), 0.85);
  // A disc filling the whole image: it goes with every view that holds most of it, and the whole
  // image is described once more with the page outside the disc filled from the rim (the page
  // colour in the corners otherwise pulls the search towards tokens with such a background).
  const Circle c = find_circle(img, p.model_boxes[0]);
  if (c.found()) {
    const Box disc{int(c.cx - c.r), int(c.cy - c.r), int(2 * c.r), int(2 * c.r)};
    for (View& v : p.views)
      if (box_iou(v.box, disc) >= 0.5) v.circle = c;
    if (p.model_boxes.size() < kMaxQueryRuns) {
      p.model_boxes.push_back(p.model_boxes[0]);
      p.model_filled.push_back(1);
      p.views.push_back(View{p.model_boxes[0], false, int(p.model_boxes.size() - 1), c, true});
      p.fill = c;
    }
  }
  if (r.mirror_queries) {
    const size_t n = p.views.size();
    for (size_t i = 0; i < n; ++i) {
      View m = p.views[i];
      m.mirrored = true;
      p.views.push_back(m);
    }
  }
  return p;
}

namespace {
float srgb_to_linear(float c) { return c <= 0.04045f ? c / 12.92f : std::pow((c + 0.055f) / 1.055f, 2.4f); }
float lab_f(float t) { return t > 0.008856f ? std::cbrt(t) : 7.787f * t + 16.0f / 116.0f; }
}  // namespace

std::vector<float> color_layout(const RgbImage& img, const Box& box, int grid, bool mirrored) {
  std::vector<float> rgb = resize_to_float(img, box, grid, grid);
  std::vector<float> lab(rgb.size());
  for (int y = 0; y < grid; ++y)
    for (int x = 0; x < grid; ++x) {
      const float* p = &rgb[(size_t(y) * grid + (mirrored ? grid - 1 - x : x)) * 3];
      const float R = srgb_to_linear(p[0]), G = srgb_to_linear(p[1]), B = srgb_to_linear(p[2]);
      const float X = (0.4124f * R + 0.3576f * G + 0.1805f * B) / 0.95047f;
      const float Y = 0.2126f * R + 0.7152f * G + 0.0722f * B;
      const float Z = (0.0193f * R + 0.1192f * G + 0.9505f * B) / 1.08883f;
      const float fx = lab_f(X), fy = lab_f(Y), fz = lab_f(Z);
      float* o = &lab[(size_t(y) * grid + x) * 3];
      o[0] = (116.0f * fy - 16.0f) / 100.0f;  // L in [0,1]
      o[1] = 500.0f * (fx - fy) / 100.0f;     // a, b roughly in [-1,1]
      o[2] = 200.0f * (fy - fz) / 100.0f;
    }
  return lab;
}

void l2_normalize(std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  const float inv = s > 0 ? float(1.0 / std::sqrt(s)) : 0.0f;
  for (float& x : v) x *= inv;
}

void power_l2_normalize(std::vector<float>& v) {
  for (float& x : v) x = std::copysign(std::sqrt(std::fabs(x)), x);
  l2_normalize(v);
}

std::vector<float> raw_descriptor(const Recipe& r, const RgbImage& img, const View& v, const std::vector<float>& model_features) {
  return raw_descriptor(r, color_layout(img, v.box, r.color_grid, v.mirrored), model_features);
}

std::vector<float> raw_descriptor(const Recipe& r, std::vector<float> out, const std::vector<float>& model_features) {
  if (r.use_model) {
    std::vector<float> f = model_features;
    power_l2_normalize(f);
    for (float x : f) out.push_back(x * r.model_weight);
  }
  return out;
}

std::vector<float> project(const std::vector<float>& mean, const std::vector<float>& projection, int out_dim,
                           const std::vector<float>& raw) {
  if (raw.size() != mean.size()) throw Error("descriptor has " + std::to_string(raw.size()) + " values, the recipe expects " + std::to_string(mean.size()));
  const size_t in_dim = mean.size();
  std::vector<float> centred(in_dim);
  for (size_t i = 0; i < in_dim; ++i) centred[i] = raw[i] - mean[i];
  std::vector<float> out;
  if (projection.empty()) {
    out = centred;
  } else {
    out.assign(out_dim, 0.0f);
    for (int o = 0; o < out_dim; ++o) {
      const float* row = &projection[size_t(o) * in_dim];
      float s = 0;
      for (size_t i = 0; i < in_dim; ++i) s += row[i] * centred[i];
      out[o] = s;
    }
  }
  l2_normalize(out);
  return out;
}

std::vector<float> project(const Recipe& r, const std::vector<float>& raw) { return project(r.mean, r.projection, r.out_dim, raw); }

std::vector<Box> window_boxes(const WindowRecipe& w, int width, int height) {
  std::vector<Box> out;
  for (auto& f : w.boxes) {
    Box b{int(std::lround(f[0] * width)), int(std::lround(f[1] * height)), int(std::lround(f[2] * width)), int(std::lround(f[3] * height))};
    b.w = std::clamp(b.w, 1, width);
    b.h = std::clamp(b.h, 1, height);
    b.x = std::clamp(b.x, 0, width - b.w);
    b.y = std::clamp(b.y, 0, height - b.h);
    out.push_back(b);
  }
  return out;
}

std::vector<float> window_descriptor(const Recipe& r, const std::vector<float>& color_layout) {
  return project(r.windows.mean, r.windows.projection, r.windows.out_dim, color_layout);
}

std::vector<int8_t> quantize(const std::vector<float>& d, float scale) {
  std::vector<int8_t> q(d.size());
  for (size_t i = 0; i < d.size(); ++i) q[i] = int8_t(std::clamp(std::lround(d[i] * scale), -127L, 127L));
  return q;
}

namespace {
uint16_t to_half(float f) {  // round to nearest even; |f| < 2^15 by construction
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exp = int32_t((x >> 23) & 0xffu) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (exp >= 31) return uint16_t(sign | 0x7bffu);
  uint32_t h, rem, half;
  if (exp <= 0) {  // subnormal half
    if (exp < -10) return uint16_t(sign);
    mant |= 0x800000u;
    const uint32_t shift = uint32_t(14 - exp);
    h = mant >> shift;
    rem = mant & ((1u << shift) - 1);
    half = 1u << (shift - 1);
  } else {
    h = (uint32_t(exp) << 10) | (mant >> 13);
    rem = mant & 0x1fffu;
    half = 0x1000u;
  }
  if (rem > half || (rem == half && (h & 1u))) ++h;  // a carry into the exponent is still right
  return uint16_t(sign | std::min(h, 0x7bffu));
}
float from_half(uint16_t h) {
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  const float v = exp == 0 ? std::ldexp(float(mant), -24) : std::ldexp(float(mant | 0x400u), int(exp) - 25);
  return (h & 0x8000u) ? -v : v;
}
}  // namespace

std::vector<uint16_t> pack_weights(const std::vector<float>& w, int& exponent) {
  float m = 0;
  for (float x : w) m = std::max(m, std::fabs(x));
  int e = 0;
  std::frexp(m > 0 ? m : 1.0f, &e);  // m < 2^e
  exponent = e - 14;                  // w / 2^exponent < 2^14
  std::vector<uint16_t> h(w.size());
  for (size_t i = 0; i < w.size(); ++i) h[i] = to_half(std::ldexp(w[i], -exponent));
  return h;
}

std::vector<float> unpack_weights(const std::vector<uint16_t>& h, int exponent) {
  std::vector<float> w(h.size());
  for (size_t i = 0; i < h.size(); ++i) w[i] = std::ldexp(from_half(h[i]), exponent);
  return w;
}

void write_half_weights(ByteWriter& w, const std::vector<float>& weights) {
  int exponent = 0;
  const std::vector<uint16_t> half = pack_weights(weights, exponent);
  w.u32(uint32_t(exponent + 1024));
  for (uint16_t h : half) { w.u8(uint8_t(h)); w.u8(uint8_t(h >> 8)); }
}

std::vector<float> read_half_weights(ByteReader& r, size_t count, const std::string& out_of_range) {
  r.need(4 + count * 2);
  // Range-check the stored field before subtracting the bias: a hostile u32 must not overflow an int.
  const uint32_t biased = r.u32();
  if (biased < 1024 - 200 || biased > 1024 + 200) throw Error(r.where + ": " + out_of_range);
  const int exponent = int(biased) - 1024;
  std::vector<uint16_t> half(count);
  for (uint16_t& h : half) { const uint16_t lo = r.u8(); h = uint16_t(lo | uint16_t(r.u8()) << 8); }
  return unpack_weights(half, exponent);
}

void round_weights(std::vector<float>& w) {
  int e = 0;
  const auto h = pack_weights(w, e);
  w = unpack_weights(h, e);
}

std::vector<int8_t> quantize(const Recipe& r, const std::vector<float>& d) { return quantize(d, r.quant_scale); }

std::vector<float> dequantize(const Recipe& r, const int8_t* code, int dim) {
  std::vector<float> v(dim);
  for (int i = 0; i < dim; ++i) v[i] = code[i] / r.quant_scale;
  return v;
}

}  // namespace nftlens
