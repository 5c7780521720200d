// Little-endian byte writer/reader with varints and bounds checks, for the compact binary parts of
// the bundle (index graph, catalogue columns). Reading past the end throws nftlens::Error naming
// the file, so hostile bytes can never cause an out-of-bounds read.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "error.h"

namespace nftlens {

struct ByteWriter {
  std::vector<uint8_t> out;
  void u8(uint8_t v) { out.push_back(v); }
  void u32(uint32_t v) { for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i))); }
  void f32(float f) { uint32_t v; std::memcpy(&v, &f, 4); u32(v); }
  void varint(uint64_t v) { while (v >= 0x80) { out.push_back(uint8_t(v | 0x80)); v >>= 7; } out.push_back(uint8_t(v)); }
  void bytes(const void* p, size_t n) { auto b = static_cast<const uint8_t*>(p); out.insert(out.end(), b, b + n); }
  void str(const std::string& s) { varint(s.size()); bytes(s.data(), s.size()); }
};

struct ByteReader {
  const uint8_t* p;
  size_t n, pos = 0;
  std::string where;
  ByteReader(const uint8_t* data, size_t size, std::string w) : p(data), n(size), where(std::move(w)) {}
  void need(size_t k) const { if (k > n - pos) throw Error(where + ": file is truncated"); }
  uint8_t u8() { need(1); return p[pos++]; }
  uint32_t u32() { need(4); uint32_t v = 0; for (int i = 0; i < 4; ++i) v |= uint32_t(p[pos + i]) << (8 * i); pos += 4; return v; }
  float f32() { uint32_t v = u32(); float f; std::memcpy(&f, &v, 4); return f; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = u8();
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw Error(where + ": malformed number");
  }
  // A count of items that each take at least `min_bytes`: refuse counts the remaining bytes cannot hold.
  uint64_t count(size_t min_bytes = 1) {
    const uint64_t c = varint();
    if (c > (n - pos) / std::max<size_t>(1, min_bytes)) throw Error(where + ": count larger than the file");
    return c;
  }
  std::string str() {
    const uint64_t len = varint();
    need(len);
    std::string s(reinterpret_cast<const char*>(p + pos), size_t(len));
    pos += size_t(len);
    return s;
  }
  bool at_end() const { return pos == n; }
};

}  // namespace nftlens
