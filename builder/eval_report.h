// nftlens eval --report DIR: an HTML page a person can look at — for sampled queries, the query
// with the region the pipeline searched (blue), a detected disc (green) and where re-ranking
// placed the token (red), then the top 3 results with their thumbnails and scores, the right
// token marked. Misses first, per transform. Images are copied next to the page, so DIR can be
// opened from disk or served as is. Every text taken from metadata or file names is escaped.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "catalogue.h"
#include "lens.h"

namespace nftlens {

struct ReportItem {
  std::string query;      // path as written in queries.csv
  std::filesystem::path file;  // where to read it
  std::string transform;
  int64_t want = -1;       // the right token (-1: not in the bundle)
  int rank = 0;            // 1-based rank of the right token among the results (0: not found)
  std::string verdict;
  int width = 0, height = 0;
  Box region;
  Circle circle;
  AlignGeometry placed;
  std::vector<TokenHit> top;  // the first results, best first
  bool miss() const { return want >= 0 ? rank != 1 : verdict == "token"; }
};

// Keeps at most `misses` misses and `hits` right answers per transform, misses first.
std::vector<ReportItem> sample_report(std::vector<ReportItem> items, size_t misses = 12, size_t hits = 3);

// Writes DIR/index.html and DIR/img/ (queries and thumbnails). Throws Error naming what failed.
// `packs`: the bundle's thumbnail packs (Manifest::packs), which the thumbnails are copied out of.
void write_eval_report(const std::filesystem::path& dir, const std::filesystem::path& bundle_dir, const std::vector<FileEntry>& packs,
                       const Catalogue& catalogue, const std::vector<ReportItem>& items, const std::string& title);

}  // namespace nftlens
