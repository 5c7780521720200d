#include "align.h"

#include <optional>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>


namespace nftlens {


namespace {

constexpr double kOccludedResidual = 1.0;    // scores(): a cell's normalised residual above this, and
constexpr double kOccludedOverMedian = 8.0;  // this many times the median cell's, counts as occluded
constexpr double kMinOccluderCells = 0.015;  // an occluder's connected part: at least this share of the cells,
constexpr double kMinOccluderSide = 6;       // this many cells across its bounding box both ways,
constexpr double kMinOccluderFill = 0.3;     // and this much of that box filled
constexpr double kMinCellInside = 0.6;  // a cell counts if at least this much of it lies in the query
// A placement counts if at least this share of its cells lie in the query — or, for a placement
// larger than the query (a zoom on a detail), this share of the cells the query can hold.
constexpr double kMinValidCells = 0.3;

// Does a placement of w x h (n x n cells) on a table of tw x th pixels have enough valid cells?
bool enough_cells(size_t valid_cells, int tw, int th, double w, double h, int n) {
  const double possible = std::min(double(n) * n, double(tw) * th / ((w / n) * (h / n)));
  return double(valid_cells) >= kMinValidCells * possible;
}

// Grids grow with the scale where the thumbnail is larger than the query, so that about the same
// number of cells falls inside the query at every scale (a zoom on a detail still has detail).
int grid_at(int base, double r) { return std::max(base, int(base * r + 0.5)); }

size_t count_valid(const std::vector<char>& valid) {
  size_t nv = 0;
  const char* v = valid.data();
  for (size_t i = 0, n = valid.size(); i < n; ++i) nv += v[i] != 0;
  return nv;
}

// The query's side of ncc() on given cells, computed once for all the templates compared there.
struct QueryStats {
  double cnt = 0, qm[3] = {0, 0, 0};
};

QueryStats query_stats(const std::vector<double>& qv, const std::vector<char>& valid) {
  QueryStats s;
  const double* q = qv.data();
  const char* v = valid.data();
  for (size_t i = 0, n = valid.size(); i < n; ++i)
    if (v[i]) {
      s.cnt += 1;
      for (int c = 0; c < 3; ++c) s.qm[c] += q[i * 3 + c];
    }
  if (s.cnt >= 2)
    for (int c = 0; c < 3; ++c) s.qm[c] /= s.cnt;
  return s;
}

// Mean over channels of the zero-mean normalised cross-correlation on valid cells. (Sums in the
// same order as one pass over both sides would: bit for bit what it was before QueryStats.)
double ncc(const QueryStats& s, const std::vector<double>& qv, const std::vector<double>& tv, const std::vector<char>& valid) {
  const size_t cells = valid.size();
  const double cnt = s.cnt;
  if (cnt < 2) return -1;
  const double* q = qv.data();
  const double* t = tv.data();
  const char* v = valid.data();
  double tm[3] = {0, 0, 0};
  for (size_t i = 0; i < cells; ++i)
    if (v[i])
      for (int c = 0; c < 3; ++c) tm[c] += t[i * 3 + c];
  for (int c = 0; c < 3; ++c) tm[c] /= cnt;
  double num[3] = {0, 0, 0}, qq[3] = {0, 0, 0}, tt[3] = {0, 0, 0};
  for (size_t i = 0; i < cells; ++i)
    if (v[i])
      for (int c = 0; c < 3; ++c) {
        const double a = q[i * 3 + c] - s.qm[c], b = t[i * 3 + c] - tm[c];
        num[c] += a * b; qq[c] += a * a; tt[c] += b * b;
      }
  double r = 0;
  for (int c = 0; c < 3; ++c) r += num[c] / (std::sqrt(qq[c] * tt[c]) + 1e-6 * cnt);
  return r / 3;
}

double ncc(const std::vector<double>& q, const std::vector<double>& t, const std::vector<char>& valid) {
  return ncc(query_stats(q, valid), q, t, valid);
}

}  // namespace

AlignQuery::AlignQuery(const RgbImage& query, const Circle& mask) {
  if (query.width <= 0 || query.height <= 0) return;  // (locate() then finds nothing)
  const double f = std::min(1.0, double(kMaxSide) / std::max(query.width, query.height));
  const int w = std::max(1, int(query.width * f + 0.5)), h = std::max(1, int(query.height * f + 0.5));
  if (mask.found()) {  // (table pixels; shrunk a little: the disc's antialiased rim is not art)
    const double fx = double(w) / query.width, fy = double(h) / query.height;
    mask_ = Circle{float(mask.cx * fx), float(mask.cy * fy), float(mask.r * std::min(fx, fy) * 0.97)};
  }
  const std::vector<float> px = resize_to_float(query, w, h);  // antialiased, [0,1]
  Table& t = table_;
  t.w = w; t.h = h;
  t.s.assign(size_t(h + 1) * (w + 1) * 3, 0.0);
  for (int y = 0; y < h; ++y) {
    double row[3] = {0, 0, 0};
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        row[c] += 255.0 * px[(size_t(y) * w + x) * 3 + c];
        t.s[(size_t(y + 1) * (w + 1) + x + 1) * 3 + c] = t.s[(size_t(y) * (w + 1) + x + 1) * 3 + c] + row[c];
      }
  }
}

bool AlignQuery::box_mean(double mx, double my, double bw, double bh, double* mean) const {
  const Table& t = table_;
  const int W = t.w, H = t.h, stride = W + 1;
  const double x0 = std::max(mx - bw / 2, 0.0), x1 = std::min(mx + bw / 2, double(W));
  const double y0 = std::max(my - bh / 2, 0.0), y1 = std::min(my + bh / 2, double(H));
  const double area = (x1 - x0) * (y1 - y0);
  if (x1 <= x0 || y1 <= y0 || area < kMinCellInside * bw * bh) return false;
  double p[4][3];  // the table bilinearly at the four corners
  for (int q = 0; q < 4; ++q) {
    const double x = q & 1 ? x1 : x0, y = q & 2 ? y1 : y0;
    const int i = std::min(int(y), H - 1), j = std::min(int(x), W - 1);
    const double fy = y - i, fx = x - j;
    const double* r0 = t.s.data() + (size_t(i) * stride + j) * 3;
    const double* r1 = r0 + size_t(stride) * 3;
    for (int c = 0; c < 3; ++c) p[q][c] = (r0[c] * (1 - fx) + r0[3 + c] * fx) * (1 - fy) + (r1[c] * (1 - fx) + r1[3 + c] * fx) * fy;
  }
  for (int c = 0; c < 3; ++c) mean[c] = (p[3][c] - p[2][c] - p[1][c] + p[0][c]) / area;
  return true;
}

AlignQuery AlignQuery::turned(double cx, double cy, double cos_a, double sin_a) const {
  const int w = table_.w, h = table_.h;
  RgbImage img{w, h, std::vector<uint8_t>(size_t(std::max(w, 0)) * std::max(h, 0) * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {  // each pixel: the pixel-sized box at its source (inside the border)
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      double m[3] = {0, 0, 0};
      box_mean(std::min(std::max(cx + cos_a * dx - sin_a * dy, 0.5), w - 0.5), std::min(std::max(cy + sin_a * dx + cos_a * dy, 0.5), h - 0.5), 1, 1, m);
      for (int c = 0; c < 3; ++c) img.rgb[(size_t(y) * w + x) * 3 + c] = uint8_t(std::min(255.0, m[c] + 0.5));
    }
  return AlignQuery(img);  // (the same size: not resized again)
}

float AlignQuery::turned_score(const AlignGeometry& g, const std::vector<double>& tmpl, double cos_a, double sin_a) const {
  // What turned(centre of g, ...).score(g, ...) measures, without turning the whole query: each
  // cell of the template's n x n grid is the box of its size around its centre turned into the query.
  const int n = int(std::sqrt(tmpl.size() / 3.0) + 0.5);
  if (table_.w <= 0 || g.w <= 0 || g.h <= 0) return -1;
  const double cw = g.w / n, ch = g.h / n, cx = g.x0 + g.w / 2, cy = g.y0 + g.h / 2;
  std::vector<double>& means = scratch_means_;
  std::vector<char>& valid = scratch_valid_;
  means.assign(size_t(n) * n * 3, 0.0);
  valid.assign(size_t(n) * n, 0);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      const double dx = g.x0 + (b + 0.5) * cw - cx, dy = g.y0 + (a + 0.5) * ch - cy;
      valid[size_t(a) * n + b] = box_mean(cx + cos_a * dx - sin_a * dy, cy + sin_a * dx + cos_a * dy, cw, ch, &means[(size_t(a) * n + b) * 3]);
    }
  if (!enough_cells(count_valid(valid), table_.w, table_.h, g.w, g.h, n)) return -1;
  return float(ncc(means, tmpl, valid));
}

AlignQuery::Template AlignQuery::make_template(const RgbImage& thumb, int coarse_n, int refine_n, bool flip, bool full) {
  // Antialiased resizes straight to each grid (the same resampler the model input uses). A
  // thumbnail already n x n is its own grid: the resampler returns it unchanged then (bit for bit,
  // tests/unit/core/align_test.cpp), so it is read directly, mirrored in place when `flip`.
  RgbImage mirrored;
  auto grid = [&](int n) {
    std::vector<double> g;
    if (n <= 0) return g;
    if (thumb.width == n && thumb.height == n) {
      g.resize(size_t(n) * n * 3);
      double* o = g.data();
      const uint8_t* px = thumb.rgb.data();
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x, o += 3) {
          const uint8_t* p = px + (size_t(y) * n + size_t(flip ? n - 1 - x : x)) * 3;
          for (int c = 0; c < 3; ++c) o[c] = double(p[c] * (1.0f / 255.0f)) * 255.0;
        }
      return g;
    }
    // A mirrored query is matched by mirroring the thumbnail instead (one summed-area table).
    if (flip && mirrored.width == 0) mirrored = mirror(thumb);
    const std::vector<float> px = resize_to_float(flip ? mirrored : thumb, n, n);
    g.assign(px.begin(), px.end());
    for (double& v : g) v *= 255.0;
    return g;
  };
  Template t;
  if (full) t.g96 = grid(kGrid);
  t.refine = grid(refine_n);
  t.coarse = grid(coarse_n);
  t.aspect = double(thumb.height) / thumb.width;
  return t;
}

void AlignQuery::sample(const Table& t, double x0, double y0, double w, double h, int n, std::vector<double>& means,
                        std::vector<char>& valid) const {
  // Summed-area table bilinearly interpolated at the (n+1)^2 cell corners: exact box sums for
  // fractional edges. Corners outside the image clamp to its border (those cells shrink).
  // (Raw pointers and the column terms computed once: the hot loop of re-ranking, which the
  // browser module's -Oz would otherwise leave full of calls.)
  const size_t n1 = size_t(n + 1);
  if (scratch_corner_.size() < n1 * n1 * 3) scratch_corner_.resize(n1 * n1 * 3);
  if (scratch_x_.size() < 3 * n1) scratch_x_.resize(3 * n1);
  if (scratch_y_.size() < n1) scratch_y_.resize(n1);
  double* corner = scratch_corner_.data();
  double* cx = scratch_x_.data();
  double* fxs = cx + n1;
  double* js = fxs + n1;  // (column indices, stored as doubles)
  double* cy = scratch_y_.data();
  const int W = t.w, H = t.h, stride = W + 1;
  for (int a = 0; a <= n; ++a) {
    const double yy = y0 + a * h / n, xx = x0 + a * w / n;
    cy[a] = yy < 0.0 ? 0.0 : (double(H) < yy ? double(H) : yy);
    cx[a] = xx < 0.0 ? 0.0 : (double(W) < xx ? double(W) : xx);
  }
  // Only corners of cells that can overlap the image are read (a placement much larger than the
  // query, a zoom on a detail, has most of its cells outside).
  int a0 = 0, a1 = n, b0 = 0, b1 = n;
  while (a0 < n && y0 + (a0 + 1) * h / n <= 0) ++a0;
  while (a1 > a0 && y0 + (a1 - 1) * h / n >= H) --a1;
  while (b0 < n && x0 + (b0 + 1) * w / n <= 0) ++b0;
  while (b1 > b0 && x0 + (b1 - 1) * w / n >= W) --b1;
  for (int b = b0; b <= b1; ++b) {
    const int j = std::min(int(cx[b]), W - 1);
    js[b] = j;
    fxs[b] = cx[b] - j;
  }
  const double* s = t.s.data();
  for (int a = a0; a <= a1; ++a) {
    const double y = cy[a];
    const int i = std::min(int(y), H - 1);
    const double fy = y - i;
    const double* r0 = s + size_t(i) * stride * 3;
    const double* r1 = r0 + size_t(stride) * 3;
    double* o = corner + (size_t(a) * n1 + size_t(b0)) * 3;
    for (int b = b0; b <= b1; ++b, o += 3) {
      const size_t j3 = size_t(js[b]) * 3;
      const double fx = fxs[b];
      const double* p0 = r0 + j3;
      const double* p1 = r1 + j3;
      for (int c = 0; c < 3; ++c) {
        const double top = p0[c] * (1 - fx) + p0[3 + c] * fx;
        const double bot = p1[c] * (1 - fx) + p1[3 + c] * fx;
        o[c] = top * (1 - fy) + bot * fy;
      }
    }
  }
  means.resize(size_t(n) * n * 3);
  valid.resize(size_t(n) * n);
  double* mp = means.data();
  char* vp = valid.data();
  const double full = (w / n) * (h / n);
  const bool masked = mask_.found();
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      const size_t k = size_t(a) * n + b;
      double* m = mp + k * 3;
      if (a < a0 || a >= a1 || b < b0 || b >= b1) {  // (outside the image: no corners were read)
        vp[k] = 0;
        m[0] = m[1] = m[2] = 0;
        continue;
      }
      const double area = (cy[a + 1] - cy[a]) * (cx[b + 1] - cx[b]);
      bool v = area >= kMinCellInside * full;
      if (masked && v) {
        const double mx = 0.5 * (cx[b] + cx[b + 1]) - mask_.cx, my = 0.5 * (cy[a] + cy[a + 1]) - mask_.cy;
        v = mx * mx + my * my <= double(mask_.r) * mask_.r;
      }
      vp[k] = v;
      const double* p00 = corner + (size_t(a) * n1 + b) * 3;
      const double* p01 = p00 + 3;
      const double* p10 = p00 + n1 * 3;
      const double* p11 = p10 + 3;
      const double div = area > 1e-9 ? area : 1e-9;
      for (int c = 0; c < 3; ++c) m[c] = (p11[c] - p10[c] - p01[c] + p00[c]) / div;
    }
}

double AlignQuery::similarity(const Table& t, double x0, double y0, double w, double h, int n, const std::vector<double>& tmpl) const {
  std::vector<double>& means = scratch_means_;
  std::vector<char>& valid = scratch_valid_;
  sample(t, x0, y0, w, h, n, means, valid);
  const size_t nv = count_valid(valid);
  if (!enough_cells(nv, t.w, t.h, w, h, n)) return -2;  // (below any real similarity)
  return ncc(means, tmpl, valid);
}

AlignGeometry AlignQuery::locate(const RgbImage& thumbnail, const AlignOptions& opt, LocateState* state) const {
  AlignGeometry best;
  if (thumbnail.width <= 0 || thumbnail.height <= 0 || table_.w <= 0) return best;
  const Table& t = table_;
  const double M = std::max(t.w, t.h);
  LocateState local;
  LocateState& st = state ? *state : local;
  // A state left by a search of the same thumbnail with the same options up to a smaller
  // max_scale resumes where that one stopped: its scales were searched already (the same r
  // sequence, placements and order, so the same best placements as searching from scratch).
  const bool resume = st.thumbnail == &thumbnail && st.coarse_grid == opt.coarse_grid && st.scale_step == opt.scale_step &&
                      st.offset_step == opt.offset_step && st.keep == opt.keep && st.min_scale == opt.min_scale;
  if (!resume) {
    st = LocateState{};
    st.thumbnail = &thumbnail;
    st.coarse_grid = opt.coarse_grid; st.scale_step = opt.scale_step; st.offset_step = opt.offset_step; st.keep = opt.keep;
    st.min_scale = opt.min_scale;
  }
  auto coarse_of = [&](int n, int m) -> const std::vector<double>& {
    auto it = st.coarse.find(n);
    if (it == st.coarse.end())
      it = st.coarse.emplace(n, std::array<std::vector<double>, 2>{make_template(thumbnail, n, 0, false, false).coarse,
                                                                    make_template(thumbnail, n, 0, true, false).coarse}).first;
    return it->second[size_t(m)];
  };
  const double aspect = double(thumbnail.height) / thumbnail.width;
  LocateState::Hyp* hyps = st.hyps;  // the best `keep` placements so far over both orientations, best first
  size_t& count = st.count;
  const size_t keep = size_t(opt.keep);
  std::vector<double>& means = scratch_means_;
  std::vector<char>& valid = scratch_valid_;
  double r = st.next_r;
  while (r * opt.scale_step <= opt.min_scale) r *= opt.scale_step;  // (the same sequence of scales, from the one at or below min_scale)
  for (; r < opt.max_scale * opt.scale_step; r *= opt.scale_step) {  // exhaustive: scale and offset
    const int n = grid_at(opt.coarse_grid, r);
    const double sw = r * M, sh = sw * aspect;
    const double stx = opt.offset_step * sw / n, sty = opt.offset_step * sh / n;
    for (double y0 = std::min(0.0, t.h - sh) - sty; y0 <= std::max(0.0, t.h - sh) + sty + 1e-9; y0 += sty)
      for (double x0 = std::min(0.0, t.w - sw) - stx; x0 <= std::max(0.0, t.w - sw) + stx + 1e-9; x0 += stx) {
        // (one sample of the query serves both orientations)
        sample(t, x0, y0, sw, sh, n, means, valid);
        if (!enough_cells(count_valid(valid), t.w, t.h, sw, sh, n)) continue;
        const QueryStats qs = query_stats(means, valid);
        for (int m = 0; m < 2; ++m) {
          const double s = ncc(qs, means, coarse_of(n, m), valid);
          if (s <= -2 || (count == keep && s <= hyps[keep - 1].score)) continue;
          size_t at = count < keep ? count++ : keep - 1;
          for (; at > 0 && hyps[at - 1].score < s; --at) hyps[at] = hyps[at - 1];
          hyps[at] = LocateState::Hyp{s, x0, y0, sw, sh, m};
        }
      }
  }
  st.next_r = r;
  for (size_t k = 0; k < count; ++k) {  // coordinate descent on (x0, y0, w, h), steps a share of the side
    const LocateState::Hyp& h = hyps[k];
    auto done = std::find_if(st.refined.begin(), st.refined.end(), [&](const LocateState::Refined& e) {
      return e.from.x0 == h.x0 && e.from.y0 == h.y0 && e.from.w == h.w && e.from.h == h.h && e.from.m == h.m;
    });
    AlignGeometry g;
    double fin;
    if (done != st.refined.end()) {
      g = done->g;  // (refined by the search this one resumes: the same placement, the same result)
      fin = done->fin;
    } else {
      g = refine_from(AlignGeometry{h.m == 1, h.x0, h.y0, h.w, h.h}, thumbnail, grid_at(opt.refine_grid, h.w / M), &fin);
      st.refined.push_back({h, g, fin});
    }
    if (fin > best.score) best = g;
  }
  return best;
}

AlignGeometry AlignQuery::refine_from(const AlignGeometry& from, const RgbImage& thumbnail, int rn, double* fin_out) const {
  // Coordinate descent on (x0, y0, w, h) on an rn x rn grid, steps a share of the side (1/32, then
  // halved twice); the result scored on the final kGrid grid.
  const Table& t = table_;
  const Template tp = make_template(thumbnail, 0, rn, from.flip);
  double p[4] = {from.x0, from.y0, from.w, from.h};
  double sc = similarity(t, p[0], p[1], p[2], p[3], rn, tp.refine);
  double step = 1.0 / 32;
  for (int round = 0; round < 3; ++round, step /= 2)
    for (bool improved = true; improved;) {
      improved = false;
      for (int d = 0; d < 4; ++d)
        for (int sign = -1; sign <= 1; sign += 2) {
          const double old = p[d];
          p[d] += sign * step * ((d == 0 || d == 2) ? p[2] : p[3]);
          const double s2 = p[2] > 1 && p[3] > 1 ? similarity(t, p[0], p[1], p[2], p[3], rn, tp.refine) : -2;
          if (s2 > sc + 1e-6) { sc = s2; improved = true; } else p[d] = old;
        }
    }
  const double fin = similarity(t, p[0], p[1], p[2], p[3], kGrid, tp.g96);
  if (fin_out) *fin_out = fin;
  return AlignGeometry{from.flip, p[0], p[1], p[2], p[3], float(fin)};
}

AlignGeometry AlignQuery::refine(const AlignGeometry& from, const RgbImage& thumbnail, const AlignOptions& opt) const {
  if (from.w <= 0 || from.h <= 0 || thumbnail.width <= 0 || thumbnail.height <= 0 || table_.w <= 0) return {};
  const double M = std::max(table_.w, table_.h);
  AlignGeometry g = refine_from(from, thumbnail, grid_at(opt.refine_grid, from.w / M));
  if (g.score <= -2) g.score = -1;
  return g;
}

float AlignQuery::score(const AlignGeometry& g, const RgbImage& thumbnail) const {
  if (g.w <= 0 || g.h <= 0 || thumbnail.width <= 0 || thumbnail.height <= 0 || table_.w <= 0) return -1;
  const double s = similarity(table_, g.x0, g.y0, g.w, g.h, kGrid, make_template(thumbnail, 0, 0, g.flip).g96);
  return s > -2 ? float(s) : -1.0f;
}

namespace {

// Per cell, query minus thumbnail with both normalised per channel over the valid cells (zero
// mean, unit variance: brightness, contrast and colour shifts cancel); 3 values per cell, 0 for an
// invalid one. Empty when fewer than 2 cells are valid.
std::vector<double> normalised_difference(const std::vector<double>& q, const std::vector<double>& t, const std::vector<char>& valid) {
  double qm[3] = {0, 0, 0}, tm[3] = {0, 0, 0}, qs[3] = {0, 0, 0}, ts[3] = {0, 0, 0}, cnt = 0;
  for (size_t i = 0; i < valid.size(); ++i)
    if (valid[i]) { cnt += 1; for (int c = 0; c < 3; ++c) { qm[c] += q[i * 3 + c]; tm[c] += t[i * 3 + c]; } }
  if (cnt < 2) return {};
  for (int c = 0; c < 3; ++c) { qm[c] /= cnt; tm[c] /= cnt; }
  for (size_t i = 0; i < valid.size(); ++i)
    if (valid[i]) for (int c = 0; c < 3; ++c) { qs[c] += (q[i * 3 + c] - qm[c]) * (q[i * 3 + c] - qm[c]); ts[c] += (t[i * 3 + c] - tm[c]) * (t[i * 3 + c] - tm[c]); }
  for (int c = 0; c < 3; ++c) { qs[c] = std::sqrt(qs[c] / cnt) + 4; ts[c] = std::sqrt(ts[c] / cnt) + 4; }  // (+4: flat images stay finite)
  std::vector<double> d(valid.size() * 3, 0.0);
  for (size_t i = 0; i < valid.size(); ++i)
    if (valid[i])
      for (int c = 0; c < 3; ++c) d[i * 3 + c] = (q[i * 3 + c] - qm[c]) / qs[c] - (t[i * 3 + c] - tm[c]) / ts[c];
  return d;
}

// One cell's squared difference, averaged over its 3 channels (d: normalised_difference's values).
double cell_residual(const double* d) {
  double d2 = 0;
  for (int c = 0; c < 3; ++c) d2 += d[c] * d[c] / 3;
  return d2;
}

// normalised_difference's squared length per cell (cell_residual); -1 for an invalid cell.
std::vector<double> normalised_residual(const std::vector<double>& q, const std::vector<double>& t, const std::vector<char>& valid) {
  const std::vector<double> d = normalised_difference(q, t, valid);
  if (d.empty()) return {};
  std::vector<double> r(valid.size(), -1.0);
  for (size_t i = 0; i < valid.size(); ++i)
    if (valid[i]) r[i] = cell_residual(&d[i * 3]);
  return r;
}

}  // namespace

std::vector<float> AlignQuery::scores(const AlignGeometry& g, const std::vector<RgbImage>& thumbs, size_t consensus,
                                      std::vector<float>* evidence, std::vector<char>* occluded, bool* occluder) const {
  std::vector<float> out(thumbs.size(), -1.0f);
  if (occluded) occluded->clear();
  if (occluder) *occluder = false;
  if (evidence) evidence->clear();
  if (g.w <= 0 || g.h <= 0 || table_.w <= 0) return out;
  // The query is sampled once at g: every thumbnail is compared through the same placement.
  std::vector<double> q;
  std::vector<char> valid;
  sample(table_, g.x0, g.y0, g.w, g.h, kGrid, q, valid);
  const QueryStats qs = query_stats(q, valid);
  std::vector<std::vector<double>> t(thumbs.size());
  std::vector<size_t> order;
  for (size_t i = 0; i < thumbs.size(); ++i) {
    if (thumbs[i].width <= 0 || thumbs[i].height <= 0) continue;
    t[i] = make_template(thumbs[i], 0, 0, g.flip).g96;
    const double s = ncc(qs, q, t[i], valid);
    out[i] = float(s);
    order.push_back(i);
  }
  const size_t nv = count_valid(valid);
  if (!enough_cells(nv, table_.w, table_.h, g.w, g.h, kGrid)) return std::vector<float>(thumbs.size(), -1.0f);  // (as score())
  if (order.empty() || consensus == 0 || nv < 64) return out;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return out[a] > out[b]; });
  order.resize(std::min(order.size(), consensus));
  // The residual no candidate explains: the smallest over the best-scoring ones.
  std::vector<double> unexplained;
  for (size_t i : order) {
    const std::vector<double> r = normalised_residual(q, t[i], valid);
    if (r.empty()) return out;
    if (unexplained.empty()) unexplained = r;
    else for (size_t k = 0; k < r.size(); ++k) unexplained[k] = std::min(unexplained[k], r[k]);
  }
  // Occluded: far above what explains a typical cell (the median), and large in itself (an edit
  // such as JPEG or a colour shift leaves a small, even residual everywhere).
  std::vector<double> vals;
  for (size_t k = 0; k < unexplained.size(); ++k) if (valid[k]) vals.push_back(unexplained[k]);
  std::nth_element(vals.begin(), vals.begin() + long(vals.size() / 2), vals.end());
  const double cut = std::max(kOccludedResidual, kOccludedOverMedian * vals[vals.size() / 2]);
  std::vector<char> all(valid.size(), 0);
  for (size_t k = 0; k < valid.size(); ++k) all[k] = valid[k] && unexplained[k] > cut;
  // An occluder is a solid blob: the ranking leaves out only connected parts that are large, thick
  // and mostly filled (a sticker, a label, a caption band). Misalignment (a rotated or warped copy)
  // leaves thin scattered cells, which ranking must not forgive: the true token explains the rest
  // best. The verdict's evidence leaves out every unexplained cell and a rim of one cell around
  // them (`evidence`, `occluded`).
  std::vector<int> label;
  const std::vector<GridPart> parts = connected_parts(all, kGrid, kGrid, label);
  std::vector<char> is_blob(parts.size(), 0);
  size_t n_blob = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const GridPart& p = parts[i];
    const double bw = p.x1 - p.x0 + 1, bh = p.y1 - p.y0 + 1;
    is_blob[i] = double(p.count) >= kMinOccluderCells * double(nv) && std::min(bw, bh) >= kMinOccluderSide &&
                 double(p.count) >= kMinOccluderFill * bw * bh;
    if (is_blob[i]) n_blob += p.count;
  }
  std::vector<char> blobs(all.size(), 0);
  for (size_t k = 0; k < all.size(); ++k) blobs[k] = label[k] >= 0 && is_blob[size_t(label[k])];
  // Scores with `mask`'s cells left out, if they are a plausible share of the query (else as is).
  auto masked = [&](const std::vector<char>& mask, size_t n, std::vector<float>& into) {
    const double share = double(n) / double(nv);
    if (share < kMinOccluded || share > kMaxOccluded) return false;
    std::vector<char> kept = valid;
    for (size_t k = 0; k < valid.size(); ++k) if (mask[k]) kept[k] = 0;
    const QueryStats ks = query_stats(q, kept);
    for (size_t i = 0; i < thumbs.size(); ++i)
      if (!t[i].empty()) into[i] = float(ncc(ks, q, t[i], kept));
    return true;
  };
  if (evidence) {
    // (with a rim of one cell: an occluder's anti-aliased, JPEG-ringing edge is unexplained too,
    // but just under the cut)
    std::vector<char> rim(all.size(), 0);
    size_t n_rim = 0;
    for (size_t k = 0; k < all.size(); ++k)
      for (int d = 0; d < 9 && all[k]; ++d) {  // (unsigned: a neighbour off the grid wraps above kGrid)
        const unsigned y = unsigned(k / kGrid) + d / 3 - 1, x = unsigned(k % kGrid) + d % 3 - 1, j = y * kGrid + x;
        if (y < unsigned(kGrid) && x < unsigned(kGrid) && valid[j] && !rim[j]) rim[j] = 1, ++n_rim;
      }
    std::vector<float> ev = out;
    if (masked(rim, n_rim, ev)) {
      *evidence = std::move(ev);
      if (occluded) *occluded = std::move(rim);
    }
  }
  const bool blob = masked(blobs, n_blob, out);
  if (occluder) *occluder = blob;
  return out;
}

RegionDifference AlignQuery::region_difference(const AlignGeometry& g, const RgbImage& thumbnail, int regions,
                                               const std::vector<char>* occluded) const {
  RegionDifference out;
  if (g.w <= 0 || g.h <= 0 || thumbnail.width <= 0 || thumbnail.height <= 0 || table_.w <= 0 || regions < 1) return out;
  const int n = kGrid;
  std::vector<double> q;
  std::vector<char> valid;
  sample(table_, g.x0, g.y0, g.w, g.h, n, q, valid);
  if (occluded && occluded->size() == valid.size())
    for (size_t k = 0; k < valid.size(); ++k) valid[k] &= !(*occluded)[k];
  const std::vector<double> t = make_template(thumbnail, 0, 0, g.flip).g96;
  // Per-channel normalisation over valid cells (brightness, contrast and colour shifts cancel).
  const std::vector<double> diff = normalised_difference(q, t, valid);
  if (diff.empty()) return out;
  const size_t blocks = size_t(regions) * regions;
  std::vector<double> sum(blocks, 0.0), num(blocks, 0.0), signed_sum(blocks * 3, 0.0);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      const size_t k = size_t(a) * n + b;
      if (!valid[k]) continue;
      const size_t r = size_t(a * regions / n) * regions + size_t(b * regions / n);
      const double* d = &diff[k * 3];
      sum[r] += cell_residual(d);
      for (int c = 0; c < 3; ++c) signed_sum[r * 3 + c] += d[c];
      num[r] += 1;
    }
  double worst = 0, total = 0, shift = 0;
  int used = 0;
  for (size_t r = 0; r < blocks; ++r)
    if (num[r] >= 0.25 * double(n * n) / double(blocks)) {
      const double m = sum[r] / num[r];
      worst = std::max(worst, m);
      total += m;
      double s2 = 0;  // (the block's mean difference: a misplaced edge or noise cancels, a recoloured part does not)
      for (int c = 0; c < 3; ++c) s2 += (signed_sum[r * 3 + c] / num[r]) * (signed_sum[r * 3 + c] / num[r]);
      shift = std::max(shift, s2 / 3);
      ++used;
    }
  if (used == 0) return out;
  out.shift = float(shift);
  out.worst = float(worst);
  out.concentration = float(worst / (total / used + 1e-3));
  return out;
}

bool rerank_by_alignment(std::vector<TokenHit>& hits, const RgbImage& query, const std::vector<RgbImage>& thumbs, const Circle& mask,
                         float cosine_weight, const AlignOptions& opt, AlignGeometry* placed, bool* found_occluder, LocateMemo* memo) {
  const size_t k = std::min(hits.size(), thumbs.size());
  if (k == 0 || thumbs[0].width <= 0 || thumbs[0].height <= 0) return false;
  const AlignQuery q(query, mask);
  // Where the token sits is a property of the query: locate it with each of the first few
  // thumbnails and keep the best fit (the first hit is often a sibling, and a sibling's fit can be
  // wrong where it differs, e.g. a round crop that cut its hair).
  // Cheap first: scales up to 2 on the first thumbnail; only a poor fit tries the next ones, and
  // then zooms up to opt.max_scale (a detail of the token).
  AlignOptions narrow = opt;
  narrow.max_scale = std::min(opt.max_scale, 2.0);
  LocateMemo own;
  LocateMemo& m = memo ? *memo : own;
  if (m.first_token != hits[0].token) { m.first_token = hits[0].token; m.first = LocateState{}; }
  // (the wide try resumes the first thumbnail's narrow search: its state, re-pointed at this call's
  // copy of the same thumbnail)
  m.first.thumbnail = m.first.thumbnail ? &thumbs[0] : nullptr;
  auto fit = [&](size_t i, bool wide) {
    auto& seen = wide ? m.wide : m.narrow;
    if (auto it = seen.find(hits[i].token); it != seen.end()) return it->second;
    // (a token a zoom was already placed on, on its own thumbnail, by the first pass: that placement)
    if (auto it = m.own.find(hits[i].token); wide && it != m.own.end()) return it->second;
    return seen[hits[i].token] = q.locate(thumbs[i], wide ? opt : narrow, i == 0 ? &m.first : nullptr);
  };
  AlignGeometry g = fit(0, false);
  size_t located = 0;  // (the thumbnail g was located with)
  for (size_t i = 1; i < std::min(k, kLocateCandidates) && g.score < kGoodFit; ++i) {
    const AlignGeometry gi = fit(i, false);
    if (gi.w > 0 && gi.score > g.score) { g = gi; located = i; }
  }
  if (g.score < kGoodFit && opt.max_scale > narrow.max_scale) {
    const AlignGeometry gi = fit(0, true);
    if (gi.w > 0 && gi.score > g.score) { g = gi; located = 0; }
  }
  if (g.w <= 0) return false;
  // A copy turned by a few degrees (a rotated re-post, a phone photo) fits any axis-aligned
  // placement poorly: a poor fit tries the query turned back about the placement's centre, by
  // +-2.5..12.5 degrees at the same placement, and locates again at the best turn that fits better
  // (by kTurnGain: an occluded or zoomed query gains a little from any turn, a turned copy a lot).
  // (cos, sin written out: the same turns in every build, not two libm's last digits.)
  std::optional<AlignQuery> turn;
  if (g.score < kTurnTry && !mask.found()) {
    static constexpr double kTurns[5][2] = {{0.999048221581858, 0.043619387365336}, {0.996194698091746, 0.087155742747658},
                                            {0.991444861373810, 0.130526192220052}, {0.984807753012208, 0.173648177666930},
                                            {0.976296007119933, 0.216439613938103}};
    const double cx = g.x0 + g.w / 2, cy = g.y0 + g.h / 2;
    const std::vector<double> tmpl = AlignQuery::make_template(thumbs[located], 0, kTurnGrid, g.flip, false).refine;
    double best = q.turned_score(g, tmpl, 1, 0) + kTurnGain;  // (the same grid, not turned)
    int pick = -1;
    for (int i = 0; i < 10; ++i) {
      const float s = q.turned_score(g, tmpl, kTurns[i / 2][0], (i % 2 ? -1 : 1) * kTurns[i / 2][1]);
      if (s > best) { best = s; pick = i; }
    }
    if (pick >= 0) {
      turn = q.turned(cx, cy, kTurns[pick / 2][0], (pick % 2 ? -1 : 1) * kTurns[pick / 2][1]);
      const AlignGeometry gt = turn->locate(thumbs[located], narrow);
      if (gt.w > 0 && gt.score > g.score + kTurnGain) g = gt;
      else turn.reset();
    }
  }
  const AlignQuery& qa = turn ? *turn : q;
  // (table pixels -> query pixels: the table is the query downscaled to kMaxSide; a turned query's
  // placement is reported as if it were not turned)
  const double f = std::min(1.0, double(AlignQuery::kMaxSide) / std::max(query.width, query.height));
  const int table_w = int(query.width * f + 0.5), table_h = int(query.height * f + 0.5);
  if (placed) {
    const double s = double(query.width) / std::max(1, table_w);
    *placed = g;
    placed->x0 *= s; placed->y0 *= s; placed->w *= s; placed->h *= s;
  }
  std::vector<char> occluded;
  std::vector<float> evidence;
  bool occluder = false;
  const std::vector<float> sc = qa.scores(g, std::vector<RgbImage>(thumbs.begin(), thumbs.begin() + long(k)), kOcclusionConsensus, &evidence, &occluded, &occluder);
  for (size_t i = 0; i < k; ++i) hits[i].alignment = sc[i];
  if (found_occluder) *found_occluder = occluder;
  // Which part score counts, beside the cosine (bundles with part codes: their second pass sets
  // TokenHit::grid_score and zoom_score): the grid's where ranking found an occluder (a sticker
  // spoils the cosine); the zoom's where the token is placed as a zoom on a detail (a detail's
  // cosine with the whole token means little); none elsewhere (e.g. a rotated copy: a sibling's
  // parts can beat the true token's cosine, -6 points of rotations on OpenMoji when they always
  // counted). And where no placement fit well and the query is no zoom, the alignment at that
  // placement says little (a sticker the consensus missed, or one over where siblings differ): the
  // grid's score leads, weighed kPoorFitPartWeight instead of cosine_weight (docs/quality.md,
  // "Stickers: the grid leads where nothing fits").
  const bool zoomed = opt.zoom && placed_as_zoom(g, table_w, table_h);  // (in table pixels: each side its own)
  const bool have_parts = hits[0].grid_score != TokenHit::kNoPartScore;
  const bool grid_leads = have_parts && !zoomed && g.score < kGoodFit;
  for (auto& h : hits) h.part_score = occluder || grid_leads ? h.grid_score : zoomed ? h.zoom_score : -1;
  const float w = grid_leads ? kPoorFitPartWeight : cosine_weight;
  // A missing thumbnail scores -1: such a hit sinks within the re-ranked head. (Insertion sort:
  // stable, k is small, and it adds next to nothing to the browser module; `from` follows which
  // thumbnail each hit has.)
  auto key = [&](const TokenHit& h) { return h.alignment + w * h.rank_cosine(); };
  std::vector<size_t> from(k);
  for (size_t i = 0; i < k; ++i) from[i] = i;
  auto sort_head = [&] {
    for (size_t i = 1; i < k; ++i)
      for (size_t j = i; j > 0 && key(hits[j]) > key(hits[j - 1]); --j) { std::swap(hits[j], hits[j - 1]); std::swap(from[j], from[j - 1]); }
  };
  sort_head();
  // A zoom on a detail is placed again on each candidate's own thumbnail: one placement found on
  // another token's thumbnail (often a sibling's, whose detail differs) is too coarse for a token
  // seen at 2-3x, while a whole copy's is not. Each head hit's placement is refined from the
  // shared one (coordinate descent), the head re-sorted, and the first kOwnLocate hits searched
  // again at the shared placement's scale (every offset: the detail may sit elsewhere on them). A
  // hit keeps the better of its scores. (Not for a query turned back: that is a rotated copy.)
  // docs/quality.md, "A zoom placed on each candidate".
  if (zoomed && !turn) {
    auto keep_better = [&](size_t i, const AlignGeometry& own) {
      if (own.w <= 0) return;
      hits[i].alignment = std::max(hits[i].alignment, own.score);  // (score() at `own`)
      auto [it, added] = m.own.emplace(hits[i].token, own);
      if (!added && own.score > it->second.score) it->second = own;
    };
    for (size_t i = 0; i < k; ++i) {  // (a second pass keeps the first one's placements)
      const auto it = m.own.find(hits[i].token);
      keep_better(i, it != m.own.end() ? it->second : q.refine(g, thumbs[from[i]], opt));
    }
    sort_head();
    AlignOptions near = opt;  // (the sequence's scales from the one at or below r / kOwnScale up to r x kOwnScale)
    const double r = g.w / std::max(table_w, table_h);
    near.min_scale = std::max(opt.min_scale, r / kOwnScale);
    near.max_scale = std::min(opt.max_scale, r * kOwnScale);
    for (size_t i = 0; i < std::min(k, kOwnLocate); ++i) {
      // (a token searched over the same scales already, by the first pass: its result is in `own`
      // and so in the hit's score)
      const AlignGeometry range{false, near.min_scale, near.max_scale};
      if (auto [it, added] = m.own_searched.emplace(hits[i].token, range); !added && it->second.x0 == range.x0 && it->second.y0 == range.y0) continue;
      else it->second = range;
      keep_better(i, q.locate(thumbs[from[i]], near));
    }
    sort_head();
  }
  for (size_t i = 0; i < k; ++i) hits[i].relevance = key(hits[i]) / (1.0f + w);
  for (size_t i = 0; i < std::min<size_t>(2, k); ++i) {  // the verdict compares the first two
    const RegionDifference d = qa.region_difference(g, thumbs[from[i]], 4, &occluded);
    hits[i].evidence_alignment = evidence.empty() ? hits[i].alignment : evidence[from[i]];
    hits[i].region_worst = d.worst;
    hits[i].region_concentration = d.concentration;
    hits[i].region_shift = d.shift;
  }
  return true;
}

}  // namespace nftlens
