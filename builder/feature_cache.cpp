#include "feature_cache.h"

#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <unistd.h>

#include "error.h"
#include "sha256.h"

namespace fs = std::filesystem;

namespace nftlens {
namespace {
constexpr uint32_t kRecordMagic = 0x4346524e;  // "NRFC"
uint32_t checksum(const std::string& key, const float* v, size_t n) {
  Sha256 h;
  h.update(key.data(), key.size());
  h.update(v, n * sizeof(float));
  const std::string d = h.hex_digest();
  return uint32_t(std::stoul(d.substr(0, 8), nullptr, 16));
}
}  // namespace

std::string feature_cache_namespace(const ModelCard& card, const Recipe& recipe) {
  return card.sha256 + "|" + sha256_hex(card.to_json()) + "|grid" + std::to_string(recipe.color_grid) + "|windows" + std::to_string(recipe.windows.boxes.size()) + (recipe.use_model ? "" : "|nomodel") + "|v2";
}

// Record: magic, key length, key, value count, values (float32), checksum of key + values.
FeatureCache::FeatureCache(const fs::path& dir, const std::string& ns) {
  fs::create_directories(dir);
  path_ = dir / ("features-" + sha256_hex(ns).substr(0, 16) + ".log");
  uint64_t good_end = 0;
  {
    std::ifstream in(path_, std::ios::binary);
    std::vector<float> v;
    for (;;) {
      uint32_t magic = 0, klen = 0, n = 0, sum = 0;
      if (!in.read(reinterpret_cast<char*>(&magic), 4) || magic != kRecordMagic) break;
      if (!in.read(reinterpret_cast<char*>(&klen), 4) || klen > 4096) break;
      std::string key(klen, '\0');
      if (!in.read(key.data(), klen)) break;
      if (!in.read(reinterpret_cast<char*>(&n), 4) || n > (1u << 20)) break;
      const uint64_t offset = uint64_t(in.tellg());
      v.resize(n);
      if (!in.read(reinterpret_cast<char*>(v.data()), std::streamsize(n) * 4)) break;
      if (!in.read(reinterpret_cast<char*>(&sum), 4) || sum != checksum(key, v.data(), n)) break;
      map_[key] = Location{offset, n};
      good_end = uint64_t(in.tellg());
    }
  }
  loaded_ = map_.size();
  // Drop a torn tail left by an interrupted build, then append.
  if (fs::exists(path_) && fs::file_size(path_) != good_end) fs::resize_file(path_, good_end);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND, 0644);
  if (fd_ < 0) throw Error(path_.string() + ": cannot open the feature cache for writing");
  end_ = good_end;
}

FeatureCache::~FeatureCache() {
  if (fd_ >= 0) ::close(fd_);
}

bool FeatureCache::contains(const std::string& key) const {
  std::shared_lock lock(mu_);
  return map_.count(key) != 0;
}

std::optional<std::vector<float>> FeatureCache::find(const std::string& key) const {
  Location loc;
  {
    std::shared_lock lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    loc = it->second;
  }
  std::vector<float> v(loc.count);
  const size_t want = size_t(loc.count) * 4;
  if (::pread(fd_, v.data(), want, off_t(loc.offset)) != ssize_t(want)) throw Error(path_.string() + ": cannot read a cached feature record");
  return v;
}

void FeatureCache::put(const std::string& key, const std::vector<float>& v) {
  const uint32_t magic = kRecordMagic, klen = uint32_t(key.size()), n = uint32_t(v.size()), sum = checksum(key, v.data(), v.size());
  std::vector<char> rec(16 + key.size() + v.size() * 4);
  char* p = rec.data();
  std::memcpy(p, &magic, 4); p += 4;
  std::memcpy(p, &klen, 4); p += 4;
  std::memcpy(p, key.data(), key.size()); p += key.size();
  std::memcpy(p, &n, 4); p += 4;
  std::memcpy(p, v.data(), v.size() * 4); p += v.size() * 4;
  std::memcpy(p, &sum, 4);
  std::unique_lock lock(mu_);
  size_t done = 0;
  while (done < rec.size()) {  // one record, appended whole (a crash can only tear the last one)
    const ssize_t w = ::write(fd_, rec.data() + done, rec.size() - done);
    if (w <= 0) throw Error(path_.string() + ": write failed (disk full?)");
    done += size_t(w);
  }
  map_[key] = Location{end_ + 12 + key.size(), n};
  end_ += rec.size();
}

void FeatureCache::flush() {
  if (::fdatasync(fd_) != 0) throw Error(path_.string() + ": cannot sync the feature cache (disk full?)");
}

size_t FeatureCache::size() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

std::vector<std::string> FeatureCache::keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> k;
  k.reserve(map_.size());
  for (auto& [key, loc] : map_) k.push_back(key);
  return k;
}

}  // namespace nftlens
