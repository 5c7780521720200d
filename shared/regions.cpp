#include "regions.h"

#include <algorithm>
#include <cmath>

namespace nftlens {

namespace {

// A page colour is flat (screenshots are lossless or high-quality JPEG): tighter than the margin
// tolerance of find_content_box, so an artwork's own pale background is not taken for the page.
constexpr int kPageTolerance = 12;
constexpr int kDiscTolerance = 8;  // (a disc's rim may meet near-page-coloured art: hair, a white background)

bool near(const uint8_t* p, const float* c, int tol) {
  return std::abs(p[0] - c[0]) <= tol && std::abs(p[1] - c[1]) <= tol && std::abs(p[2] - c[2]) <= tol;
}

// Least-squares circle through points (Kasa: x^2 + y^2 + D x + E y + F = 0), on the points with
// use[i]; false if degenerate.
bool fit_circle(const std::vector<std::pair<float, float>>& pts, const std::vector<char>& use, Circle& out) {
  double s[3][3] = {}, b[3] = {};
  int n = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    if (!use[i]) continue;
    const double x = pts[i].first, y = pts[i].second, z = -(x * x + y * y);
    const double row[3] = {x, y, 1};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) s[r][c] += row[r] * row[c];
      b[r] += row[r] * z;
    }
    ++n;
  }
  if (n < 8) return false;
  // Solve the 3x3 normal equations (Cramer).
  auto det = [](double m[3][3]) {
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  };
  const double d = det(s);
  if (std::fabs(d) < 1e-9) return false;
  double sol[3];
  for (int k = 0; k < 3; ++k) {
    double m[3][3];
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) m[r][c] = c == k ? b[r] : s[r][c];
    sol[k] = det(m) / d;
  }
  const double cx = -sol[0] / 2, cy = -sol[1] / 2, r2 = cx * cx + cy * cy - sol[2];
  if (!(r2 > 0)) return false;
  out = Circle{float(cx), float(cy), float(std::sqrt(r2))};
  return true;
}

}  // namespace

Circle find_circle(const RgbImage& img, const Box& in) {
  Circle none;
  if (in.w < 32 || in.h < 32) return none;
  // The four corners agree on one colour: the page around the disc.
  const uint8_t* corners[4] = {img.at(in.x, in.y), img.at(in.x + in.w - 1, in.y), img.at(in.x, in.y + in.h - 1),
                               img.at(in.x + in.w - 1, in.y + in.h - 1)};
  float page[3] = {0, 0, 0};
  for (auto* p : corners)
    for (int c = 0; c < 3; ++c) page[c] += p[c] / 4.0f;
  for (auto* p : corners)
    if (!near(p, page, kDiscTolerance)) return none;
  // The art's edge: the first non-page pixel from each side, on rows and columns across the box.
  std::vector<std::pair<float, float>> pts;
  constexpr int kLines = 48;
  for (int i = 1; i < kLines; ++i) {
    const int y = in.y + in.h * i / kLines, x = in.x + in.w * i / kLines;
    int a = in.x, b = in.x + in.w - 1;
    while (a <= b && near(img.at(a, y), page, kDiscTolerance)) ++a;
    while (b >= a && near(img.at(b, y), page, kDiscTolerance)) --b;
    if (a < b) { pts.emplace_back(a, y + 0.5f); pts.emplace_back(b + 1, y + 0.5f); }
    a = in.y; b = in.y + in.h - 1;
    while (a <= b && near(img.at(x, a), page, kDiscTolerance)) ++a;
    while (b >= a && near(img.at(x, b), page, kDiscTolerance)) --b;
    if (a < b) { pts.emplace_back(x + 0.5f, a); pts.emplace_back(x + 0.5f, b + 1); }
  }
  if (pts.size() < 48) return none;
  // Fit, keep the points near the circle, refit: most of the edge must lie on it (art whose own
  // background meets the page somewhere leaves a few points inside).
  std::vector<char> use(pts.size(), 1);
  Circle c;
  for (int round = 0; round < 2; ++round) {
    if (!fit_circle(pts, use, c)) return none;
    const float tol = std::max(2.0f, 0.03f * c.r);
    size_t in_count = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      const float d = std::hypot(pts[i].first - c.cx, pts[i].second - c.cy) - c.r;
      use[i] = std::fabs(d) <= tol;
      in_count += use[i];
    }
    if (in_count < 0.6 * pts.size()) return none;
  }
  const float side = float(std::min(in.w, in.h));
  if (c.r < 0.3f * side || c.r > 0.75f * std::max(in.w, in.h)) return none;
  if (c.cx < in.x || c.cx > in.x + in.w || c.cy < in.y || c.cy > in.y + in.h) return none;
  return c;
}

Box find_artwork_box(const RgbImage& img) {
  const Box whole{0, 0, img.width, img.height};
  if (img.width < 64 || img.height < 64) return whole;
  // A nearest-neighbour copy at most 256 px on its long side: colours stay exact (no blending
  // at the artwork's edge), and one pass over it is cheap.
  const double f = std::min(1.0, 256.0 / std::max(img.width, img.height));
  const int w = std::max(1, int(img.width * f)), h = std::max(1, int(img.height * f));
  auto px = [&](int x, int y) { return img.at(std::min(img.width - 1, int((x + 0.5) / f)), std::min(img.height - 1, int((y + 0.5) / f))); };
  // The page colour: the commonest border colour (coarse bins), which must hold most of the border.
  std::vector<int> bins(4096, 0);
  auto bin = [](const uint8_t* p) { return (p[0] >> 4) << 8 | (p[1] >> 4) << 4 | (p[2] >> 4); };
  int border = 0;
  for (int x = 0; x < w; ++x) { ++bins[size_t(bin(px(x, 0)))]; ++bins[size_t(bin(px(x, h - 1)))]; border += 2; }
  for (int y = 1; y < h - 1; ++y) { ++bins[size_t(bin(px(0, y)))]; ++bins[size_t(bin(px(w - 1, y)))]; border += 2; }
  const int top = int(std::max_element(bins.begin(), bins.end()) - bins.begin());
  float page[3] = {0, 0, 0};
  int n = 0;
  auto sum_if = [&](int x, int y) {
    const uint8_t* p = px(x, y);
    if (bin(p) != top) return;
    for (int c = 0; c < 3; ++c) page[c] += p[c];
    ++n;
  };
  for (int x = 0; x < w; ++x) { sum_if(x, 0); sum_if(x, h - 1); }
  for (int y = 1; y < h - 1; ++y) { sum_if(0, y); sum_if(w - 1, y); }
  if (n < border / 2) return whole;
  for (float& c : page) c /= float(n);
  // Non-page pixels, then their connected parts.
  std::vector<char> art(size_t(w) * h, 0);
  size_t page_pixels = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool is_page = near(px(x, y), page, kPageTolerance);
      art[size_t(y) * w + x] = !is_page;
      page_pixels += is_page;
    }
  if (page_pixels < 0.35 * w * h) return whole;  // not a page with things on it
  std::vector<int> label;
  GridPart best{0, 0, 0, 0, 0};
  double best_area = 0;
  for (const GridPart& p : connected_parts(art, w, h, label)) {
    // An artwork: inside the page (not touching the image's edge), neither a line of text nor a
    // bar (aspect), mostly filled, between 2% and 50% of the image.
    const int bw = p.x1 - p.x0 + 1, bh = p.y1 - p.y0 + 1;
    const double area = double(bw) * bh, aspect = double(bw) / bh;
    if (p.x0 == 0 || p.y0 == 0 || p.x1 == w - 1 || p.y1 == h - 1) continue;
    if (aspect < 0.4 || aspect > 2.5 || p.count < 0.5 * area) continue;
    if (area < 0.02 * w * h || area > 0.5 * w * h) continue;
    if (area > best_area) { best = p; best_area = area; }
  }
  if (best_area == 0) return whole;
  // Back to image pixels (the part's pixels cover [x0, x1 + 1) of the small copy).
  const int x0 = std::clamp(int(best.x0 / f), 0, img.width - 1), y0 = std::clamp(int(best.y0 / f), 0, img.height - 1);
  const int x1 = std::clamp(int((best.x1 + 1) / f), x0 + 1, img.width), y1 = std::clamp(int((best.y1 + 1) / f), y0 + 1, img.height);
  return Box{x0, y0, x1 - x0, y1 - y0};
}

RgbImage fill_outside_circle(const RgbImage& img, const Circle& c) {
  RgbImage out = img;
  if (!c.found()) return out;
  const float inner = 0.95f * c.r;  // (inside the antialiased rim)
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const float dx = x + 0.5f - c.cx, dy = y + 0.5f - c.cy, d = std::sqrt(dx * dx + dy * dy);
      if (d <= inner) continue;
      const int sx = std::clamp(int(c.cx + dx * inner / d), 0, img.width - 1), sy = std::clamp(int(c.cy + dy * inner / d), 0, img.height - 1);
      const uint8_t* src = img.at(sx, sy);
      uint8_t* dst = &out.rgb[(size_t(y) * out.width + x) * 3];
      dst[0] = src[0]; dst[1] = src[1]; dst[2] = src[2];
    }
  return out;
}

std::vector<GridPart> connected_parts(const std::vector<char>& mask, int w, int h, std::vector<int>& label) {
  std::vector<GridPart> parts;
  label.assign(mask.size(), -1);
  std::vector<int> stack;
  for (int y0 = 0; y0 < h; ++y0)
    for (int x0 = 0; x0 < w; ++x0) {
      const size_t k0 = size_t(y0) * w + x0;
      if (!mask[k0] || label[k0] >= 0) continue;
      const int id = int(parts.size());
      GridPart p{x0, y0, x0, y0, 0};
      stack.assign(1, int(k0));
      label[k0] = id;
      while (!stack.empty()) {  // (iterative flood fill)
        const int i = stack.back();
        stack.pop_back();
        const int x = i % w, y = i / w;
        p.x0 = std::min(p.x0, x); p.x1 = std::max(p.x1, x); p.y0 = std::min(p.y0, y); p.y1 = std::max(p.y1, y);
        ++p.count;
        const int nb[4] = {x > 0 ? i - 1 : -1, x + 1 < w ? i + 1 : -1, y > 0 ? i - w : -1, y + 1 < h ? i + w : -1};
        for (int j : nb)
          if (j >= 0 && mask[size_t(j)] && label[size_t(j)] < 0) { label[size_t(j)] = id; stack.push_back(j); }
      }
      parts.push_back(p);
    }
  return parts;
}

double box_iou(const Box& a, const Box& b) {
  const int x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const int x1 = std::min(a.x + a.w, b.x + b.w), y1 = std::min(a.y + a.h, b.y + b.h);
  if (x1 <= x0 || y1 <= y0) return 0;
  const double inter = double(x1 - x0) * (y1 - y0);
  return inter / (double(a.w) * a.h + double(b.w) * b.h - inter);
}

}  // namespace nftlens
