#include "learn.h"

#include <cstring>
#include <functional>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "error.h"

namespace nftlens {

std::pair<bool, Rgb> dominant_ring_colour(const RgbImage& img) {
  std::map<uint32_t, int> counts;  // colours quantised to 4 bits per channel
  int total = 0;
  auto add = [&](int x, int y) {
    const uint8_t* p = img.at(x, y);
    counts[uint32_t(p[0] >> 4) << 8 | uint32_t(p[1] >> 4) << 4 | uint32_t(p[2] >> 4)]++;
    ++total;
  };
  for (int x = 0; x < img.width; ++x) { add(x, 0); add(x, img.height - 1); }
  for (int y = 1; y + 1 < img.height; ++y) { add(0, y); add(img.width - 1, y); }
  if (counts.empty()) return {false, {}};
  auto top = std::max_element(counts.begin(), counts.end(), [](auto& a, auto& b) { return a.second < b.second; });
  if (top->second < 0.6 * total) return {false, {}};
  // Average the exact pixels of that bucket for a precise colour.
  long sum[3] = {0, 0, 0};
  int n = 0;
  auto acc = [&](int x, int y) {
    const uint8_t* p = img.at(x, y);
    if ((uint32_t(p[0] >> 4) << 8 | uint32_t(p[1] >> 4) << 4 | uint32_t(p[2] >> 4)) != top->first) return;
    for (int c = 0; c < 3; ++c) sum[c] += p[c];
    ++n;
  };
  for (int x = 0; x < img.width; ++x) { acc(x, 0); acc(x, img.height - 1); }
  for (int y = 1; y + 1 < img.height; ++y) { acc(0, y); acc(img.width - 1, y); }
  return {true, Rgb{uint8_t(sum[0] / n), uint8_t(sum[1] / n), uint8_t(sum[2] / n)}};
}

std::vector<Rgb> learn_backgrounds(const std::vector<std::pair<bool, Rgb>>& ring) {
  std::map<uint32_t, std::pair<int, Rgb>> counts;
  for (auto& [ok, c] : ring)
    if (ok) {
      auto& e = counts[uint32_t(c[0] >> 3) << 10 | uint32_t(c[1] >> 3) << 5 | uint32_t(c[2] >> 3)];
      if (e.first++ == 0) e.second = c;
    }
  std::vector<std::pair<int, Rgb>> v;
  for (auto& [k, e] : counts) v.push_back(e);
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::vector<Rgb> out;
  const int min_count = std::max(2, int(0.02 * ring.size()));
  for (auto& [n, c] : v)
    if (n >= min_count && out.size() < 16) out.push_back(c);
  return out;
}

Eigen::MatrixXd random_rotation(int n, uint64_t seed) {
  // Box-Muller over mt19937_64's raw output (std::normal_distribution differs between standard
  // libraries), then QR: Q of a Gaussian matrix with R's diagonal signs folded in is uniformly random.
  std::mt19937_64 rng(seed);
  auto uniform = [&] { return (double(rng() >> 11) + 0.5) * 0x1.0p-53; };
  Eigen::MatrixXd G(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) G(i, j) = std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(G);
  Eigen::MatrixXd Q = qr.householderQ();
  const Eigen::MatrixXd R = qr.matrixQR();
  for (int j = 0; j < n; ++j)
    if (R(j, j) < 0) Q.col(j) = -Q.col(j);
  return Q;
}

void learn_projection(Recipe& r, const std::vector<Vec>& X, const std::vector<std::pair<Vec, Vec>>& pairs, int out_dim,
                      uint64_t rotation_seed) {
  learn_projection(r, X.size(), [&](size_t i, Vec& out) { out = X[i]; }, pairs, out_dim, rotation_seed);
}

void learn_projection(Recipe& r, size_t n, const std::function<void(size_t, Vec&)>& row, const std::vector<std::pair<Vec, Vec>>& pairs,
                      int out_dim, uint64_t rotation_seed) {
  if (n == 0) throw Error("cannot learn a projection from an empty collection");
  Vec x;
  row(0, x);
  const int d = int(x.size());
  using Mat = Eigen::MatrixXd;
  using VecD = Eigen::VectorXd;
  VecD mu = VecD::Zero(d);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) row(i, x);
    mu += Eigen::Map<const Eigen::VectorXf>(x.data(), d).cast<double>();
  }
  mu /= double(n);
  r.in_dim = d;
  r.mean.assign(mu.data(), mu.data() + d);

  // Within-pair covariance (how copies differ); without pairs, fall back to plain PCA-whitening.
  Mat Cw = Mat::Identity(d, d);
  if (!pairs.empty()) {
    Cw.setZero();
    for (auto& [a, b] : pairs) {
      VecD diff = (Eigen::Map<const Eigen::VectorXf>(a.data(), d) - Eigen::Map<const Eigen::VectorXf>(b.data(), d)).cast<double>();
      Cw.selfadjointView<Eigen::Lower>().rankUpdate(diff);
    }
    Cw = Cw.selfadjointView<Eigen::Lower>();
    Cw /= double(pairs.size());
    Cw += (1e-3 * Cw.trace() / d + 1e-9) * Mat::Identity(d, d);  // regularise rare directions
  }
  Eigen::SelfAdjointEigenSolver<Mat> ew(Cw);
  Mat Wh = ew.eigenvectors() * ew.eigenvalues().cwiseMax(1e-12).cwiseInverse().cwiseSqrt().asDiagonal() * ew.eigenvectors().transpose();

  Mat Cb = Mat::Zero(d, d);
  for (size_t i = 0; i < n; ++i) {
    row(i, x);
    VecD y = Wh * (Eigen::Map<const Eigen::VectorXf>(x.data(), d).cast<double>() - mu);
    Cb.selfadjointView<Eigen::Lower>().rankUpdate(y);
  }
  Cb = Cb.selfadjointView<Eigen::Lower>();
  Cb /= double(n);
  Eigen::SelfAdjointEigenSolver<Mat> eb(Cb);
  out_dim = std::min(out_dim, d);
  // Eigenvalues ascend: the last out_dim columns are the principal directions.
  Mat V = eb.eigenvectors().rightCols(out_dim).rowwise().reverse();
  Mat P = V.transpose() * Wh;  // out_dim x d
  if (rotation_seed) P = random_rotation(out_dim, rotation_seed) * P;
  r.out_dim = out_dim;
  r.projection.resize(size_t(out_dim) * d);
  for (int o = 0; o < out_dim; ++o)
    for (int i = 0; i < d; ++i) r.projection[size_t(o) * d + i] = float(P(o, i));
  round_weights(r.projection);  // as the bundle stores it, so the collection is coded with the same weights
}

namespace {
// Calls f on every value (twice per quantiser: it is a pass over the data, not a container).
using EachValue = std::function<void(const std::function<void(float)>&)>;

// The k-th smallest |value| (0-based) of the values each(f) visits, exactly what nth_element over a
// copy of them gives, in two passes and a histogram of the top 16 bits of the floats (their order
// is the values' order for |x|) instead of a copy (400 MB at a million tokens).
float kth_abs(const EachValue& each, size_t k) {
  auto bits = [](float x) { uint32_t u; x = std::fabs(x); std::memcpy(&u, &x, 4); return u; };
  std::vector<size_t> hist(65536, 0);
  each([&](float x) { hist[bits(x) >> 16]++; });
  size_t below = 0, bin = 0;
  while (below + hist[bin] <= k) below += hist[bin++];
  std::vector<float> in_bin;
  in_bin.reserve(hist[bin]);
  each([&](float x) { if ((bits(x) >> 16) == bin) in_bin.push_back(std::fabs(x)); });
  std::nth_element(in_bin.begin(), in_bin.begin() + long(k - below), in_bin.end());
  return in_bin[k - below];
}

void set_quant_scale(Recipe& r, size_t total, const EachValue& each) {
  if (total == 0) { r.quant_scale = 127.0f; return; }
  const size_t k = std::min(total - 1, size_t(0.9999 * double(total)));
  r.quant_scale = 127.0f / std::max(kth_abs(each, k), 1e-3f);
}
}  // namespace

void learn_quantizer(Recipe& r, const std::vector<Vec>& projected) {
  size_t total = 0;
  for (auto& v : projected) total += v.size();
  set_quant_scale(r, total, [&](const std::function<void(float)>& f) {
    for (auto& v : projected)
      for (float x : v) f(x);
  });
}

void learn_quantizer(Recipe& r, const float* values, size_t count) {
  set_quant_scale(r, count, [&](const std::function<void(float)>& f) {
    for (size_t i = 0; i < count; ++i) f(values[i]);
  });
}

StyleModel learn_style(const std::vector<float>& rows, int channels, int dims, const std::string& slug) {
  const size_t n = channels > 0 ? rows.size() / size_t(channels) : 0;
  if (n < 2 || dims <= 0 || dims > channels) throw Error("style: too few images to learn collection " + slug + "'s style from");
  Eigen::MatrixXd x(long(n), channels);
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c) x(long(i), c) = rows[i * size_t(channels) + size_t(c)];
  const Eigen::RowVectorXd mean = x.colwise().mean();
  x.rowwise() -= mean;
  const Eigen::MatrixXd cov = (x.transpose() * x) / double(n);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);  // ascending eigenvalues
  StyleModel m;
  m.slug = slug;
  m.mean.assign(mean.data(), mean.data() + channels);
  m.basis.resize(size_t(dims) * size_t(channels));
  for (int d = 0; d < dims; ++d) {
    const Eigen::VectorXd v = eig.eigenvectors().col(channels - 1 - d);
    for (int c = 0; c < channels; ++c) m.basis[size_t(d) * size_t(channels) + size_t(c)] = float(v(c));
  }
  round_weights(m.basis);  // (the residuals the threshold is fitted on use the stored weights)
  return m;
}

PartSet learn_part_set(const std::vector<float>& rows, int channels, int dim) {
  const size_t n = channels > 0 ? rows.size() / size_t(channels) : 0;
  if (n < 2 || dim <= 0 || dim > channels) throw Error("part codes: too few regions to learn from");
  Eigen::MatrixXd x(long(n), channels);
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int c = 0; c < channels; ++c) { x(long(i), c) = std::sqrt(std::max(0.0f, rows[i * size_t(channels) + size_t(c)])); norm += x(long(i), c) * x(long(i), c); }
    if (norm > 0) x.row(long(i)) /= std::sqrt(norm);
  }
  const Eigen::RowVectorXd mean = x.colwise().mean();
  x.rowwise() -= mean;
  const Eigen::MatrixXd cov = (x.transpose() * x) / double(n);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);  // ascending eigenvalues
  const double top = std::sqrt(std::max(0.0, eig.eigenvalues()(channels - 1)));
  PartSet s;
  s.mean.assign(mean.data(), mean.data() + channels);
  s.projection.resize(size_t(dim) * channels);
  for (int d = 0; d < dim; ++d) {
    const int k = channels - 1 - d;
    const double sd = std::sqrt(std::max(0.0, eig.eigenvalues()(k))) + 1e-3 * top;
    Eigen::VectorXd v = eig.eigenvectors().col(k);
    if (v.cwiseAbs().maxCoeff() > 0) {  // a fixed sign (the solver's is arbitrary): largest component positive
      Eigen::Index at;
      v.cwiseAbs().maxCoeff(&at);
      if (v(at) < 0) v = -v;
    }
    for (int c = 0; c < channels; ++c) s.projection[size_t(d) * channels + size_t(c)] = float(v(c) / sd);
  }
  // The scale: codes are unit vectors; the 99.99th percentile of |value| over the rows maps to 127.
  std::vector<float> values;
  values.reserve(n * size_t(dim));
  for (size_t i = 0; i < n; ++i) {
    Eigen::VectorXd y(dim);
    for (int d = 0; d < dim; ++d) {
      double acc = 0;
      for (int c = 0; c < channels; ++c) acc += double(s.projection[size_t(d) * channels + size_t(c)]) * x(long(i), c);
      y(d) = acc;
    }
    const double norm = y.norm();
    for (int d = 0; d < dim; ++d) values.push_back(norm > 0 ? float(std::fabs(y(d) / norm)) : 0.0f);
  }
  const float p = percentile(values, 0.9999);
  s.quant_scale = p > 0 ? std::min(127.0f * 64, 127.0f / p) : 127.0f;
  return s;
}

std::vector<double> fit_logistic(const std::vector<std::vector<double>>& x, const std::vector<int>& label, double ridge, int iterations) {
  if (x.empty()) return {};
  const long n = long(x.size()), d = long(x[0].size());
  long pos = 0;
  for (int l : label) pos += l ? 1 : 0;
  const double wpos = pos ? 0.5 * double(n) / double(pos) : 0, wneg = pos < n ? 0.5 * double(n) / double(n - pos) : 0;
  Eigen::MatrixXd X(n, d);
  Eigen::VectorXd y(n), sw(n);
  for (long i = 0; i < n; ++i) {
    for (long k = 0; k < d; ++k) X(i, k) = x[size_t(i)][size_t(k)];
    y(i) = label[size_t(i)] ? 1.0 : 0.0;
    sw(i) = label[size_t(i)] ? wpos : wneg;
  }
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d);
  for (int it = 0; it < iterations; ++it) {
    const Eigen::VectorXd p = (1.0 / (1.0 + (-(X * w).array()).exp())).matrix();
    const Eigen::VectorXd r = (p.array() * (1.0 - p.array())).max(1e-9).matrix().cwiseProduct(sw);
    const Eigen::MatrixXd H = X.transpose() * r.asDiagonal() * X + ridge * double(n) * Eigen::MatrixXd::Identity(d, d);
    const Eigen::VectorXd g = X.transpose() * sw.cwiseProduct(p - y) + ridge * double(n) * w;
    const Eigen::VectorXd step = H.ldlt().solve(g);
    w -= step;
    if (step.norm() < 1e-10) break;
  }
  return std::vector<double>(w.data(), w.data() + d);
}

}  // namespace nftlens
