#include "style_model.h"

#include <algorithm>
#include <cmath>

#include "byte_io.h"
#include "catalogue.h"
#include "descriptor.h"
#include "error.h"

namespace nftlens {

double StyleModel::residual(const std::vector<float>& v) const {
  const size_t channels = mean.size();
  if (v.size() != channels || channels == 0) throw Error("style: the image's features do not match the style model");
  std::vector<double> c(channels);
  double total = 0;
  for (size_t i = 0; i < channels; ++i) {
    c[i] = double(v[i]) - double(mean[i]);
    total += c[i] * c[i];
  }
  double inside = 0;
  for (size_t d = 0; d < basis.size() / channels; ++d) {
    const float* row = basis.data() + d * channels;
    double acc = 0;
    for (size_t i = 0; i < channels; ++i) acc += double(row[i]) * c[i];
    inside += acc * acc;
  }
  return std::max(0.0, total - inside);
}

double StyleModel::outside(double residual, double first_cosine) const {
  // (a cosine below the usual adds to the distance; one above it takes nothing away: a photo that
  // happens to share a colour layout with some token is no closer to the collection's style)
  return (std::log(std::max(residual, 1e-12)) - log_mean) / log_sd + std::max(0.0, (cos_mean - first_cosine) / cos_sd);
}

std::vector<float> style_vector(std::vector<float> pooled) {
  power_l2_normalize(pooled);
  return pooled;
}

const StyleModel* StyleModels::of(const std::string& slug) const {
  for (const auto& m : collections)
    if (m.slug == slug) return &m;
  return nullptr;
}

std::vector<uint8_t> StyleModels::serialize() const {
  ByteWriter w;
  w.u32(kMagic); w.u32(kVersion); w.u32(uint32_t(channels)); w.u32(uint32_t(dims)); w.u32(uint32_t(collections.size()));
  for (const auto& m : collections) {
    w.str(m.slug);
    for (float v : {m.log_mean, m.log_sd, m.cos_mean, m.cos_sd, m.threshold, m.max_residual}) w.f32(v);
    for (float v : m.mean) w.f32(v);
    write_half_weights(w, m.basis);
  }
  return std::move(w.out);
}

StyleModels StyleModels::deserialize(const uint8_t* data, size_t size, int expected_channels, const std::string& where) {
  ByteReader r(data, size, where);
  if (size < 20 || r.u32() != kMagic) throw Error(where + ": not an NFT Lens style file");
  if (r.u32() != kVersion) throw Error(where + ": unsupported style file version");
  StyleModels s;
  const uint32_t channels = r.u32(), dims = r.u32(), count = r.u32();
  if (int(channels) != expected_channels) throw Error(where + ": style models are for " + std::to_string(channels) + " features, the model gives " + std::to_string(expected_channels));
  if (dims == 0 || dims > channels) throw Error(where + ": style model size out of range");
  if (count == 0 || count > 100000) throw Error(where + ": style model count out of range");
  s.channels = int(channels);
  s.dims = int(dims);
  for (uint32_t k = 0; k < count; ++k) {
    StyleModel m;
    m.slug = r.str();
    if (!is_collection_slug(m.slug)) throw Error(where + ": a style model names no collection slug");
    if (s.of(m.slug)) throw Error(where + ": two style models for collection " + m.slug);
    for (float* v : {&m.log_mean, &m.log_sd, &m.cos_mean, &m.cos_sd, &m.threshold, &m.max_residual}) *v = r.f32();
    for (float v : {m.log_mean, m.log_sd, m.cos_mean, m.cos_sd, m.threshold, m.max_residual})
      if (!std::isfinite(v)) throw Error(where + ": style test of " + m.slug + " holds a value that is not a number");
    if (!(m.log_sd > 0 && m.cos_sd > 0)) throw Error(where + ": style test of " + m.slug + " has a spread that is not positive");
    if (m.max_residual < 0) throw Error(where + ": style test of " + m.slug + " has a negative largest residual");
    r.need(size_t(channels) * 4 + 4 + size_t(dims) * channels * 2);  // (mean, exponent, directions)
    m.mean.resize(channels);
    for (float& v : m.mean) v = r.f32();
    m.basis = read_half_weights(r, size_t(dims) * channels, "style weights out of range");
    for (const auto* values : {&m.mean, &m.basis})
      for (float v : *values)
        if (!std::isfinite(v)) throw Error(where + ": style model of " + m.slug + " holds a value that is not a number");
    s.collections.push_back(std::move(m));
  }
  if (!r.at_end()) throw Error(where + ": style file size does not match its header");
  return s;
}

}  // namespace nftlens
