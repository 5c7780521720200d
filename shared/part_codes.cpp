#include "part_codes.h"

#include <algorithm>
#include <cmath>

#include "byte_io.h"
#include "descriptor.h"
#include "error.h"

namespace nftlens {
namespace {
constexpr uint32_t kMagic = 0x5452504e;  // "NPRT"
constexpr uint32_t kVersion = 2;  // 2: kZoomWindows zoom windows per token (1: the grid's kParts)
constexpr float kStarts[kPartGrid] = {0.0f, 2.0f / 7.0f, 0.5f};
constexpr float kSmallSide = 3.0f / 8.0f, kSmallStarts[kSmallGrid] = {0.0f, 5.0f / 24.0f, 10.0f / 24.0f, 15.0f / 24.0f};

int32_t dot(const int8_t* a, const int8_t* b, int n) {
  int32_t s = 0;
  for (int i = 0; i < n; ++i) s += int32_t(a[i]) * int32_t(b[i]);
  return s;
}

// The projection travels as 16-bit floats (descriptor.h pack_weights; the builder codes tokens
// with the rounded weights, so both sides compute the same codes).
void write_set(ByteWriter& w, const PartSet& s) {
  for (float v : s.mean) w.f32(v);
  write_half_weights(w, s.projection);
  w.f32(s.quant_scale);
}
PartSet read_set(ByteReader& r, int channels, int dim, const std::string& where) {
  PartSet s;
  r.need((size_t(channels) + 2) * 4 + size_t(dim) * channels * 2);
  s.mean.resize(size_t(channels));
  for (float& v : s.mean) v = r.f32();
  s.projection = read_half_weights(r, size_t(dim) * channels, "part code weights out of range");
  s.quant_scale = r.f32();
  for (float v : s.mean)
    if (!std::isfinite(v)) throw Error(where + ": part codes hold a value that is not a number");
  for (float v : s.projection)
    if (!std::isfinite(v)) throw Error(where + ": part codes hold a value that is not a number");
  if (!(s.quant_scale > 0.0f && s.quant_scale <= 127.0f * 64)) throw Error(where + ": part code scale out of range");
  return s;
}
}  // namespace

std::array<float, 4> part_region(int r) {
  return {kStarts[r % kPartGrid], kStarts[r / kPartGrid], 0.5f, 0.5f};
}

std::array<float, 4> zoom_window(int w) {
  if (w < kParts) return part_region(w);
  w -= kParts;
  return {kSmallStarts[w % kSmallGrid], kSmallStarts[w / kSmallGrid], kSmallSide, kSmallSide};
}

std::vector<float> pool_part_regions(const float* map, size_t values, int channels, bool nchw, const std::string& where) {
  const size_t cells = channels > 0 ? values / size_t(channels) : 0;
  const int side = int(std::lround(std::sqrt(double(cells))));
  if (cells == 0 || values % size_t(channels) != 0 || size_t(side) * side != cells || side < 2)
    throw Error(where + ": a parts feature map must be square (" + std::to_string(values) + " values of " + std::to_string(channels) + " channels)");
  std::vector<float> out(size_t(kRegionRows) * channels, 0.0f);
  for (int r = 0; r < kRegionRows; ++r) {
    const auto f = r < kWholeRow ? zoom_window(r) : std::array<float, 4>{0.0f, 0.0f, 1.0f, 1.0f};
    const int x0 = int(std::lround(f[0] * side)), y0 = int(std::lround(f[1] * side));
    const int x1 = std::max(x0 + 1, int(std::lround((f[0] + f[2]) * side))), y1 = std::max(y0 + 1, int(std::lround((f[1] + f[3]) * side)));
    float* acc = out.data() + size_t(r) * channels;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const size_t cell = size_t(y) * side + x;
        for (int c = 0; c < channels; ++c) acc[c] += nchw ? map[size_t(c) * cells + cell] : map[cell * channels + c];
      }
    const float n = float((x1 - x0) * (y1 - y0));
    for (int c = 0; c < channels; ++c) acc[c] /= n;
  }
  return out;
}

PartCodes::PartCodes(int channels, int dim, PartSet grid, PartSet zoom, std::vector<int8_t> grid_codes, std::vector<int8_t> zoom_codes,
                     int zoom_windows)
    : channels_(channels), dim_(dim), zoom_windows_(zoom_windows), grid_(std::move(grid)), zoom_(std::move(zoom)), grid_codes_(std::move(grid_codes)), zoom_codes_(std::move(zoom_codes)) {
  const size_t per = size_t(kParts) * size_t(std::max(dim, 1));
  if (channels <= 0 || dim <= 0 || dim > channels || zoom_windows < kParts || zoom_windows > kZoomWindows || grid_codes_.size() % per != 0 ||
      zoom_codes_.size() != grid_codes_.size() / size_t(kParts) * size_t(zoom_windows))
    throw Error("part codes: codes do not fit dim x parts");
  for (const PartSet* s : {&grid_, &zoom_})
    if (s->mean.size() != size_t(channels) || s->projection.size() != size_t(dim) * channels) throw Error("part codes: whitening has the wrong size");
}

std::vector<uint8_t> PartCodes::serialize() const {
  ByteWriter w;
  // (a file with the grid's zoom windows only is written as version 1, as it was)
  const bool v1 = zoom_windows_ == kParts;
  w.u32(kMagic); w.u32(v1 ? 1 : kVersion); w.u32(uint32_t(channels_)); w.u32(uint32_t(dim_)); w.u32(uint32_t(kParts)); w.u32(uint32_t(tokens()));
  if (!v1) w.u32(uint32_t(zoom_windows_));
  write_set(w, grid_);
  write_set(w, zoom_);
  w.bytes(grid_codes_.data(), grid_codes_.size());
  w.bytes(zoom_codes_.data(), zoom_codes_.size());
  return std::move(w.out);
}

PartCodes PartCodes::deserialize(const uint8_t* data, size_t size, int expected_channels, size_t expected_tokens, const std::string& where) {
  ByteReader r(data, size, where);
  if (size < 24 || r.u32() != kMagic) throw Error(where + ": not an NFT Lens part code file");
  const uint32_t version = r.u32();
  if (version != 1 && version != kVersion) throw Error(where + ": unsupported part code file version");
  const uint32_t channels = r.u32(), dim = r.u32(), parts = r.u32(), n = r.u32();
  const uint32_t zoom_windows = version == 1 ? uint32_t(kParts) : r.u32();
  if (zoom_windows != uint32_t(kParts) && zoom_windows != uint32_t(kZoomWindows)) throw Error(where + ": zoom window count per token is not " + std::to_string(kZoomWindows));
  if (int(channels) != expected_channels) throw Error(where + ": part codes are for " + std::to_string(channels) + " channels, the model's map has " + std::to_string(expected_channels));
  if (parts != uint32_t(kParts)) throw Error(where + ": part count per token is not " + std::to_string(kParts));
  if (dim == 0 || dim > channels) throw Error(where + ": part code size out of range");
  if (n != expected_tokens) throw Error(where + ": part codes cover " + std::to_string(n) + " tokens, the catalogue has " + std::to_string(expected_tokens));
  PartSet grid = read_set(r, int(channels), int(dim), where), zoom = read_set(r, int(channels), int(dim), where);
  const uint64_t bytes = uint64_t(dim) * parts * n, zoom_bytes = uint64_t(dim) * zoom_windows * n;
  if (r.pos + bytes + zoom_bytes != size) throw Error(where + ": part code file size does not match its header");
  const int8_t* p = reinterpret_cast<const int8_t*>(data + r.pos);
  return PartCodes(int(channels), int(dim), std::move(grid), std::move(zoom), std::vector<int8_t>(p, p + bytes),
                   std::vector<int8_t>(p + bytes, p + bytes + zoom_bytes), int(zoom_windows));
}

std::vector<int8_t> PartCodes::code(const PartSet& s, const float* means) const {
  std::vector<float> x(static_cast<size_t>(channels_));
  double n = 0;
  for (int c = 0; c < channels_; ++c) { x[size_t(c)] = std::sqrt(std::max(0.0f, means[c])); n += double(x[size_t(c)]) * x[size_t(c)]; }
  const float inv = n > 0 ? float(1.0 / std::sqrt(n)) : 0.0f;
  for (int c = 0; c < channels_; ++c) x[size_t(c)] = x[size_t(c)] * inv - s.mean[size_t(c)];
  std::vector<float> y(size_t(dim_), 0.0f);
  double m = 0;
  for (int d = 0; d < dim_; ++d) {
    const float* row = s.projection.data() + size_t(d) * channels_;
    float acc = 0;
    for (int c = 0; c < channels_; ++c) acc += row[c] * x[size_t(c)];
    y[size_t(d)] = acc;
    m += double(acc) * acc;
  }
  const float scale = m > 0 ? float(s.quant_scale / std::sqrt(m)) : 0.0f;
  std::vector<int8_t> out(static_cast<size_t>(dim_));
  for (int d = 0; d < dim_; ++d) out[size_t(d)] = int8_t(std::clamp(std::lround(y[size_t(d)] * scale), -127L, 127L));
  return out;
}

std::vector<float> PartCodes::grid_scores(const std::vector<float>& q) const {
  if (q.size() != size_t(kRegionRows) * channels_) throw Error("part codes: the query has the wrong number of region values");
  std::vector<std::vector<int8_t>> qc;
  for (int r = 0; r < kParts; ++r) qc.push_back(code(grid_, q.data() + size_t(r) * channels_));
  const float inv = 1.0f / (grid_.quant_scale * grid_.quant_scale);
  const size_t n = tokens(), stride = size_t(kParts) * dim_;
  std::vector<float> out(n);
  float direct[kParts], mirrored[kParts];
  for (size_t t = 0; t < n; ++t) {
    const int8_t* base = grid_codes_.data() + t * stride;
    for (int r = 0; r < kParts; ++r) {
      const int8_t* tc = base + size_t(r) * dim_;
      direct[r] = float(dot(qc[size_t(r)].data(), tc, dim_)) * inv;
      const int mr = (r / kPartGrid) * kPartGrid + (kPartGrid - 1 - r % kPartGrid);  // a mirrored query: columns swap
      mirrored[r] = float(dot(qc[size_t(mr)].data(), tc, dim_)) * inv;
    }
    float best = -1.0f;
    for (float* s : {direct, mirrored}) {
      std::partial_sort(s, s + kGridKeep, s + kParts, [](float a, float b) { return a > b; });
      float sum = 0;
      for (int i = 0; i < kGridKeep; ++i) sum += s[i];
      best = std::max(best, sum / float(kGridKeep));
    }
    out[t] = best;
  }
  return out;
}

std::vector<float> PartCodes::zoom_scores(const std::vector<float>& q) const {
  if (q.size() != size_t(kRegionRows) * channels_) throw Error("part codes: the query has the wrong number of region values");
  const std::vector<int8_t> qc = code(zoom_, q.data() + size_t(kWholeRow) * channels_);  // (the whole map)
  const float inv = 1.0f / (zoom_.quant_scale * zoom_.quant_scale);
  const size_t n = tokens(), stride = size_t(zoom_windows_) * dim_;
  std::vector<float> out(n);
  for (size_t t = 0; t < n; ++t) {
    int32_t best = INT32_MIN;
    for (int r = 0; r < zoom_windows_; ++r) best = std::max(best, dot(qc.data(), zoom_codes_.data() + t * stride + size_t(r) * dim_, dim_));
    out[t] = float(best) * inv;
  }
  return out;
}

std::vector<PartScore> PartCodes::top(const std::vector<float>& scores, size_t k, const std::vector<char>& ok) const {
  std::vector<PartScore> all;
  for (size_t t = 0; t < scores.size(); ++t)
    if (ok[t]) all.push_back({scores[t], uint32_t(t)});
  const auto better = [](const PartScore& a, const PartScore& b) { return a.score != b.score ? a.score > b.score : a.token < b.token; };
  k = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + long(k), all.end(), better);
  all.resize(k);
  return all;
}

}  // namespace nftlens
