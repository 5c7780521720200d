// Downloads for remote collections (libcurl): bounded concurrency, retries with exponential
// backoff on network errors, 429 and 5xx, a size cap, and a cache keyed by URL so a re-run
// downloads nothing twice. Cached files are written atomically.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace nftlens {

struct FetchResult {
  std::string url;
  std::filesystem::path file;  // cached body (empty on failure)
  std::string error;
  bool from_cache = false;
};

struct FetchOptions {
  int concurrency = 8;
  int retries = 3;
  double timeout_s = 30;
  size_t max_bytes = 64u << 20;
};

std::vector<FetchResult> fetch_all(const std::vector<std::string>& urls, const std::filesystem::path& cache_dir, const FetchOptions& opt = {});

}  // namespace nftlens
