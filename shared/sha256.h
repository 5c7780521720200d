// SHA-256 (FIPS 180-4), used for content-hashed bundle files and the model checksum.
// Our own small implementation because the same code must run natively and in wasm.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nftlens {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::string hex_digest();  // finishes the hash; call once

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(const void* data, size_t size);
inline std::string sha256_hex(const std::string& s) { return sha256_hex(s.data(), s.size()); }

}  // namespace nftlens
