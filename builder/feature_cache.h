// Append-only cache of per-image features, keyed by (image bytes hash, model hash, recipe part).
// Each record carries a checksum and is written whole, so a build killed at any moment resumes
// from every complete record; a torn last record is ignored and overwritten.
// Only keys and file offsets stay in memory (~150 bytes per record, not the ~2.7 KB of features):
// records are read back from the file when asked for, so a million-token build stays bounded.
// Safe to use from several threads (the builder's decode workers ask while the main thread writes).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "descriptor.h"
#include "model_card.h"

namespace nftlens {

// The cache's namespace for a model and the parts of a recipe that change an image's cached
// features (colour grid, sub-windows, model on/off): builds and tools that fill the cache agree on it.
std::string feature_cache_namespace(const ModelCard& card, const Recipe& recipe);

class FeatureCache {
 public:
  explicit FeatureCache(const std::filesystem::path& dir, const std::string& namespace_key);
  ~FeatureCache();
  FeatureCache(const FeatureCache&) = delete;
  FeatureCache& operator=(const FeatureCache&) = delete;
  bool contains(const std::string& key) const;
  std::optional<std::vector<float>> find(const std::string& key) const;
  void put(const std::string& key, const std::vector<float>& value);
  void flush();  // records are written as they are put; this syncs them to disk
  size_t size() const;
  std::vector<std::string> keys() const;
  size_t loaded() const { return loaded_; }

 private:
  struct Location { uint64_t offset; uint32_t count; };
  std::filesystem::path path_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Location> map_;
  int fd_ = -1;
  uint64_t end_ = 0;
  size_t loaded_ = 0;
};

}  // namespace nftlens
