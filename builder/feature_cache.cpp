#include "feature_cache.h"

#include <cstring>
#include <fstream>

#include "error.h"
#include "sha256.h"

namespace fs = std::filesystem;

namespace nftlens {
namespace {
constexpr uint32_t kRecordMagic = 0x4346524e;  // "NRFC"
uint32_t checksum(const std::string& key, const std::vector<float>& v) {
  Sha256 h;
  h.update(key.data(), key.size());
  h.update(v.data(), v.size() * sizeof(float));
  const std::string d = h.hex_digest();
  return uint32_t(std::stoul(d.substr(0, 8), nullptr, 16));
}
}  // namespace

FeatureCache::FeatureCache(const fs::path& dir, const std::string& ns) {
  fs::create_directories(dir);
  const fs::path path = dir / ("features-" + sha256_hex(ns).substr(0, 16) + ".log");
  long good_end = 0;
  {
    std::ifstream in(path, std::ios::binary);
    for (;;) {
      uint32_t magic = 0, klen = 0, n = 0, sum = 0;
      if (!in.read(reinterpret_cast<char*>(&magic), 4) || magic != kRecordMagic) break;
      if (!in.read(reinterpret_cast<char*>(&klen), 4) || klen > 4096) break;
      std::string key(klen, '\0');
      if (!in.read(key.data(), klen)) break;
      if (!in.read(reinterpret_cast<char*>(&n), 4) || n > (1u << 20)) break;
      std::vector<float> v(n);
      if (!in.read(reinterpret_cast<char*>(v.data()), std::streamsize(n) * 4)) break;
      if (!in.read(reinterpret_cast<char*>(&sum), 4) || sum != checksum(key, v)) break;
      map_[key] = std::move(v);
      good_end = long(in.tellg());
    }
  }
  loaded_ = map_.size();
  // Drop a torn tail left by an interrupted build, then append.
  if (fs::exists(path) && fs::file_size(path) != uintmax_t(good_end)) fs::resize_file(path, uintmax_t(good_end));
  file_ = std::fopen(path.string().c_str(), "ab");
  if (!file_) throw Error(path.string() + ": cannot open the feature cache for writing");
}

FeatureCache::~FeatureCache() {
  if (file_) std::fclose(file_);
}

const std::vector<float>* FeatureCache::find(const std::string& key) const {
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}

void FeatureCache::put(const std::string& key, const std::vector<float>& v) {
  const uint32_t magic = kRecordMagic, klen = uint32_t(key.size()), n = uint32_t(v.size()), sum = checksum(key, v);
  std::fwrite(&magic, 4, 1, file_);
  std::fwrite(&klen, 4, 1, file_);
  std::fwrite(key.data(), 1, key.size(), file_);
  std::fwrite(&n, 4, 1, file_);
  std::fwrite(v.data(), 4, v.size(), file_);
  std::fwrite(&sum, 4, 1, file_);
  map_[key] = v;
}

void FeatureCache::flush() {
  if (std::fflush(file_) != 0) throw Error("feature cache: write failed (disk full?)");
}

}  // namespace nftlens
