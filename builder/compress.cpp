#include "compress.h"

#include <brotli/encode.h>
#include <zlib.h>

#include "error.h"

namespace nftlens {

std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& data) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) throw Error("gzip: cannot start zlib");
  std::vector<uint8_t> out(deflateBound(&z, uLong(data.size())) + 32);
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = uInt(data.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw Error("gzip: compression failed");
  return out;
}

std::vector<uint8_t> brotli_bytes(const std::vector<uint8_t>& data) {
  size_t n = BrotliEncoderMaxCompressedSize(data.size());
  if (n == 0) n = data.size() + 1024;
  std::vector<uint8_t> out(n);
  const int quality = data.size() > (size_t(1) << 20) ? 9 : BROTLI_MAX_QUALITY;
  if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, data.size(), data.data(), &n, out.data()))
    throw Error("brotli: compression failed");
  out.resize(n);
  return out;
}

}  // namespace nftlens
