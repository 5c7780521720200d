// Sub-window codes: `per_token` int8 codes of `dim` bytes for every token, scanned exhaustively
// (a crop query compares against every window; ~0.5 MB per 1k tokens, SIMD distance).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nftlens {

struct TokenDistance {
  int32_t distance;  // best (smallest) squared int8 L2 over the token's windows
  uint32_t token;
};

class WindowIndex {
 public:
  WindowIndex() = default;
  WindowIndex(int dim, int per_token, std::vector<int8_t> codes);
  std::vector<uint8_t> serialize() const;
  static WindowIndex deserialize(const uint8_t* data, size_t size, int expected_dim, size_t expected_tokens, const std::string& where);
  // The k tokens with the closest window, closest first.
  std::vector<TokenDistance> search(const int8_t* query, size_t k) const;
  size_t tokens() const { return per_token_ ? codes_.size() / (size_t(dim_) * per_token_) : 0; }
  int dim() const { return dim_; }
  int per_token() const { return per_token_; }
  bool empty() const { return codes_.empty(); }

 private:
  int dim_ = 0, per_token_ = 0;
  std::vector<int8_t> codes_;
};

}  // namespace nftlens
