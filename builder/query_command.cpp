// nftlens query: image files -> best-matching tokens (one model load for all images).
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bundle_io.h"
#include "commands.h"
#include "error.h"
#include "image_file.h"
#include "native_search.h"
#include "text_index.h"
#include "bundle_io.h"

namespace nftlens {

int run_query(const QueryArgs& a) {
  NativeSearcher s(a.bundle, a.threads);
  SearchOptions opt;
  opt.k = size_t(std::max(1, a.k));
  opt.ef = a.ef;
  opt.exact = a.exact;
  opt.collections = a.collections;
  opt.probe = size_t(std::max(0, a.probe));
  TextIndex text(s.bundle().partitioned() && !a.filter.empty() ? s.full_catalogue() : s.bundle().catalogue);
  TextQuery filter = parse_text_query(a.filter);
  text.resolve(filter.filter);
  if (!a.filter.empty()) {
    if (s.bundle().partitioned()) throw Error("--filter is not available on a partitioned bundle yet (trait filters need the whole catalogue)");
    if (!filter.words.empty()) throw Error("--filter takes type:value, collection:slug or rank:A-B terms, not free words (\"" + filter.words[0] + "\")");
    opt.allow = [&](uint32_t t) { return text.passes(t, filter.filter); };
  }
  int failures = 0;
  for (const auto& path : a.images) {
    try {
      const auto hits = s.search(read_bytes(path, 64u << 20), opt, size_t(std::max(0, a.rerank)));
      auto j = nlohmann::json::parse(s.results_json(hits));
      if (a.json) {
        nlohmann::json line = {{"query", path}, {"match", j["match"]}, {"threshold", j["threshold"]}, {"results", j["results"]}};
        std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      } else {
        std::cout << path << (j["match"].get<bool>() ? "  (match)" : "  (no match above threshold)") << "\n";
        int rank = 1;
        for (auto& r : j["results"])
          std::cout << "  " << std::setw(2) << rank++ << ". " << std::fixed << std::setprecision(4) << r["score"].get<double>() << "  "
                    << r["collection"].get<std::string>() << " #" << r["token_id"].get<std::string>() << "  " << r["name"].get<std::string>() << "\n";
      }
    } catch (const Error& e) {
      ++failures;
      if (a.json) std::cout << nlohmann::json({{"query", path}, {"error", e.what()}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      std::cerr << "error: " << e.what() << "\n";
    }
  }
  return failures ? 1 : 0;
}

}  // namespace nftlens

namespace nftlens {

// nftlens describe: the query pipeline's intermediate values for one image (parity tests, debugging).
int run_describe(const std::string& bundle, const std::string& image, const std::string& dump_input,
                 const std::string& dump_features, int threads) {
  NativeSearcher s(bundle, threads);
  const auto bytes = read_bytes(image, 64u << 20);
  if (!dump_input.empty() || !dump_features.empty()) {
    QuerySession q(s.bundle(), decode_image(bytes.data(), bytes.size(), s.bundle().manifest.model.background));
    const auto t = q.model_input(0);
    if (!dump_input.empty()) write_file_atomic(dump_input, t.data(), t.size() * sizeof(float));
    if (!dump_features.empty()) {  // the model's pooled output for that tensor, native ONNX Runtime
      const auto f = s.embed({t});
      write_file_atomic(dump_features, f[0].data(), f[0].size() * sizeof(float));
    }
  }
  const auto d = s.describe(bytes);
  nlohmann::json j = {{"query", image}, {"descriptors", d.main}, {"window_descriptors", d.windows}};
  std::cout << j.dump() << "\n";
  return 0;
}

}  // namespace nftlens

namespace nftlens {

int run_text(const TextArgs& a) {
  const Bundle b0 = load_bundle_dir(a.bundle);
  Catalogue joined;
  if (b0.partitioned()) {  // natively the whole catalogue is on disk: join the fragments
    std::vector<Catalogue> parts;
    for (size_t f = 0; f < b0.layout.fragments.size(); ++f) {
      const std::string name = b0.layout.fragments[f].name("tokens");
      const auto bytes = read_bytes(std::filesystem::path(a.bundle) / name, size_t(64) << 20);
      verify_part(b0.layout.fragments[f], name, bytes.data(), bytes.size());
      parts.push_back(deserialize_catalogue(bytes.data(), bytes.size(), name));
    }
    joined = Catalogue::join(parts);
  }
  const Catalogue& cat = b0.partitioned() ? joined : b0.catalogue;
  const TextIndex index(cat);
  const auto hits = index.search(a.query, size_t(std::max(1, a.k)));
  if (a.json) {
    nlohmann::json res = nlohmann::json::array();
    for (auto& h : hits) res.push_back(nlohmann::json::parse(cat.token_json(h.token, h.score)));
    std::cout << nlohmann::json({{"query", a.query}, {"results", res}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  int rank = 1;
  for (auto& h : hits) {
    const Token& t = cat.tokens[h.token];
    std::cout << std::setw(3) << rank++ << ". " << std::fixed << std::setprecision(2) << std::setw(6) << h.score << "  "
              << cat.collections[t.collection].slug << " #" << t.token_id << "  " << t.name << "  [";
    for (size_t i = 0; i < t.traits.size(); ++i)
      std::cout << (i ? ", " : "") << cat.strings[t.traits[i].first] << ": " << cat.strings[t.traits[i].second];
    std::cout << "]\n";
  }
  if (hits.empty()) std::cout << "no tokens match\n";
  return 0;
}

}  // namespace nftlens
