// Append-only cache of per-image features, keyed by (image bytes hash, model hash, recipe part).
// Each record carries a checksum and is flushed per batch, so a build killed at any moment
// resumes from every complete record; a torn last record is ignored and overwritten.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace nftlens {

class FeatureCache {
 public:
  explicit FeatureCache(const std::filesystem::path& dir, const std::string& namespace_key);
  ~FeatureCache();
  const std::vector<float>* find(const std::string& key) const;
  void put(const std::string& key, const std::vector<float>& value);
  void flush();
  size_t size() const { return map_.size(); }
  const std::unordered_map<std::string, std::vector<float>>& entries() const { return map_; }
  size_t loaded() const { return loaded_; }

 private:
  std::unordered_map<std::string, std::vector<float>> map_;
  std::FILE* file_ = nullptr;
  size_t loaded_ = 0;
};

}  // namespace nftlens
