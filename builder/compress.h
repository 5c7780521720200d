// Precompression for static hosting (nftlens site): gzip (zlib) and Brotli encodings of a file's
// bytes, byte-exact with what `gzip -d` / `brotli -d` give back.
#pragma once
#include <cstdint>
#include <vector>

namespace nftlens {

std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& data);    // level 9, gzip header
std::vector<uint8_t> brotli_bytes(const std::vector<uint8_t>& data);  // quality 11 (9 above 1 MB: minutes otherwise)

}  // namespace nftlens
