#include "window_index.h"

#include <algorithm>
#include <queue>

#include "byte_io.h"
#include "distance.h"

namespace nftlens {
namespace {
constexpr uint32_t kMagic = 0x4e57494e;  // "NIWN"
constexpr uint32_t kVersion = 1;
}  // namespace

WindowIndex::WindowIndex(int dim, int per_token, std::vector<int8_t> codes) : dim_(dim), per_token_(per_token), codes_(std::move(codes)) {
  if (dim <= 0 || per_token <= 0 || codes_.size() % (size_t(dim) * per_token) != 0) throw Error("window index: codes do not fit dim x windows");
}

std::vector<uint8_t> WindowIndex::serialize() const {
  ByteWriter w;
  w.u32(kMagic); w.u32(kVersion); w.u32(uint32_t(dim_)); w.u32(uint32_t(per_token_)); w.u32(uint32_t(tokens()));
  w.bytes(codes_.data(), codes_.size());
  return std::move(w.out);
}

WindowIndex WindowIndex::deserialize(const uint8_t* data, size_t size, int expected_dim, size_t expected_tokens, const std::string& where) {
  ByteReader r(data, size, where);
  if (size < 20 || r.u32() != kMagic) throw Error(where + ": not an NFT Lens window file");
  if (r.u32() != kVersion) throw Error(where + ": unsupported window file version");
  const uint32_t dim = r.u32(), per = r.u32(), n = r.u32();
  if (int(dim) != expected_dim) throw Error(where + ": window code size does not match the recipe");
  if (n != expected_tokens) throw Error(where + ": window file covers " + std::to_string(n) + " tokens, the catalogue has " + std::to_string(expected_tokens));
  if (per == 0 || per > 4096) throw Error(where + ": window count per token out of range");
  const uint64_t bytes = uint64_t(dim) * per * n;
  if (bytes != size - 20) throw Error(where + ": window file size does not match its header");
  const int8_t* p = reinterpret_cast<const int8_t*>(data + 20);
  return WindowIndex(int(dim), int(per), std::vector<int8_t>(p, p + bytes));
}

std::vector<TokenDistance> WindowIndex::search(const int8_t* q, size_t k) const {
  const L2Int8Fn fn = best_l2_int8();
  const size_t n = tokens(), stride = size_t(dim_) * per_token_;
  std::priority_queue<std::pair<int32_t, uint32_t>> top;  // max-heap of the k best
  for (size_t t = 0; t < n; ++t) {
    const int8_t* base = codes_.data() + t * stride;
    int32_t best = INT32_MAX;
    for (int w = 0; w < per_token_; ++w) best = std::min(best, fn(q, base + size_t(w) * dim_, size_t(dim_)));
    if (top.size() < k) top.emplace(best, uint32_t(t));
    else if (best < top.top().first) { top.pop(); top.emplace(best, uint32_t(t)); }
  }
  std::vector<TokenDistance> out(top.size());
  for (size_t i = top.size(); i-- > 0;) { out[i] = TokenDistance{top.top().first, top.top().second}; top.pop(); }
  return out;
}

}  // namespace nftlens
