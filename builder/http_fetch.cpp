#include "http_fetch.h"

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "bundle_io.h"
#include "sha256.h"

namespace fs = std::filesystem;

namespace nftlens {
namespace {

struct Body {
  std::string data;
  size_t limit;
  bool too_big = false;
};

size_t on_data(char* p, size_t size, size_t n, void* ctx) {
  auto* b = static_cast<Body*>(ctx);
  if (b->data.size() + size * n > b->limit) { b->too_big = true; return 0; }
  b->data.append(p, size * n);
  return size * n;
}

}  // namespace

std::vector<FetchResult> fetch_all(const std::vector<std::string>& urls, const fs::path& cache_dir, const FetchOptions& opt) {
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  std::vector<FetchResult> out(urls.size());
  fs::create_directories(cache_dir);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    CURL* h = curl_easy_init();
    for (size_t i; (i = next++) < urls.size();) {
      FetchResult& r = out[i];
      r.url = urls[i];
      const fs::path file = cache_dir / sha256_hex(urls[i]);
      if (fs::exists(file)) { r.file = file; r.from_cache = true; continue; }
      if (!curl_ready || !h) { r.error = "libcurl unavailable"; continue; }
      if (urls[i].rfind("http://", 0) != 0 && urls[i].rfind("https://", 0) != 0) { r.error = "not an http(s) URL: " + urls[i]; continue; }
      for (int attempt = 0; attempt <= opt.retries; ++attempt) {
        if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));  // 0.5 s, 1 s, 2 s ...
        Body body{{}, opt.max_bytes};
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, urls[i].c_str());
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, long(opt.timeout_s * 1000));
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "nftlens/" NFTLENS_VERSION);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        const CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (body.too_big) { r.error = urls[i] + ": larger than " + std::to_string(opt.max_bytes) + " bytes"; break; }
        if (rc != CURLE_OK) { r.error = urls[i] + ": " + curl_easy_strerror(rc); continue; }
        if (status == 429 || status >= 500) { r.error = urls[i] + ": HTTP " + std::to_string(status); continue; }
        if (status != 200) { r.error = urls[i] + ": HTTP " + std::to_string(status); break; }
        write_file_atomic(file, body.data.data(), body.data.size());
        r.file = file;
        r.error.clear();
        break;
      }
    }
    if (h) curl_easy_cleanup(h);
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, std::min<int>(opt.concurrency, int(urls.size()))); ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  return out;
}

}  // namespace nftlens
