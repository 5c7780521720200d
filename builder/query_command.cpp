// nftlens query / describe / text: image files or words -> tokens, through the one query engine
// (NativeLens: shared/lens.h with a disk reader). One model load for all images.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bundle_io.h"
#include "commands.h"
#include "error.h"
#include "image_file.h"
#include "native_lens.h"

namespace nftlens {

namespace {
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// The verdict in words, as the widget says it.
std::string verdict_words(const nlohmann::json& j) {
  const std::string v = j["verdict"];
  std::string conf;
  if (j["confidence"].is_number()) conf = " (confidence " + std::to_string(int(std::lround(100 * j["confidence"].get<double>()))) + "%)";
  const std::string close = j["close_call"].get<bool>() ? ", a close call" : "";
  if (v == "token") {
    const auto& r = j["results"][0];
    return "this is " + r["collection"].get<std::string>() + " #" + r["token_id"].get<std::string>() + conf + close;
  }
  if (v == "collection") return "looks like a token of " + j["collection"].get<std::string>() + ", but not one in this bundle" + conf + close + "; closest:";
  return "no NFT we know; closest:";
}
}  // namespace

int run_query(const QueryArgs& a) {
  a.request.validate();  // (before the model loads: a bad option is named at once)
  NativeLens lens(a.bundle, a.threads);
  int failures = 0;
  for (const auto& path : a.images) {
    try {
      if (std::filesystem::is_directory(path)) throw Error("is a folder, not an image file");
      const auto q = lens.session(lens.decode(read_bytes(path, 64u << 20)));
      const auto j = nlohmann::json::parse(lens.search(*q, a.request).json);
      if (a.json) {
        nlohmann::json line = {{"query", path}, {"match", j["match"]}, {"verdict", j["verdict"]}, {"confidence", j["confidence"]},
                               {"close_call", j["close_call"]}, {"threshold", j["threshold"]}, {"results", j["results"]}};
        if (j.contains("collection")) line["collection"] = j["collection"];
        std::cout << dump(line) << "\n";
      } else {
        std::cout << path << "  " << verdict_words(j) << "\n";
        int rank = 1;
        for (auto& r : j["results"])
          std::cout << "  " << std::setw(2) << rank++ << ". " << std::fixed << std::setprecision(4) << r["relevance"].get<double>() << "  "
                    << r["collection"].get<std::string>() << " #" << r["token_id"].get<std::string>() << "  " << r["name"].get<std::string>() << "\n";
      }
    } catch (const Error& e) {
      ++failures;
      const std::string msg = e.what();
      const std::string named = msg.rfind(path, 0) == 0 ? msg : path + ": " + msg;  // every error names its file
      if (a.json) std::cout << dump({{"query", path}, {"error", named}, {"code", e.code()}}) << "\n";
      std::cerr << "error: " << named << "\n";
    }
  }
  return failures ? 1 : 0;
}

// nftlens describe: the query pipeline's intermediate values for one image (parity tests, debugging).
int run_describe(const std::string& bundle, const std::string& image, const std::string& dump_input,
                 const std::string& dump_features, int threads) {
  NativeLens lens(bundle, threads);
  const auto bytes = read_bytes(image, 64u << 20);
  const auto q = lens.session(lens.decode(bytes));
  if (!dump_input.empty() || !dump_features.empty()) {
    const auto t = q->model_input(0);
    if (!dump_input.empty()) write_file_atomic(dump_input, t.data(), t.size() * sizeof(float));
    if (!dump_features.empty()) {  // the model's pooled output for that tensor, native ONNX Runtime
      const auto f = lens.embed({t});
      write_file_atomic(dump_features, f[0].data(), f[0].size() * sizeof(float));
    }
  }
  const auto d = lens.describe(*q);
  nlohmann::json views = nlohmann::json::array();  // the regions described (the capture pipeline's choices)
  for (const View& v : q->plan().views) {
    views.push_back({{"box", {v.box.x, v.box.y, v.box.w, v.box.h}}, {"mirrored", v.mirrored}, {"model_run", v.model_run}, {"filled", v.filled}});
    if (v.circle.found()) views.back()["circle"] = {v.circle.cx, v.circle.cy, v.circle.r};
  }
  nlohmann::json j = {{"query", image}, {"views", views}, {"descriptors", d.main}, {"window_descriptors", d.windows}};
  std::cout << j.dump() << "\n";
  return 0;
}

int run_text(const TextArgs& a) {
  a.request.validate();
  NativeLens lens(a.bundle, 0, /*with_model=*/false);
  const std::string doc = lens.text(a.request).json;
  if (a.json) {
    std::cout << doc << "\n";
    return 0;
  }
  const auto j = nlohmann::json::parse(doc);
  int rank = 1;
  for (auto& r : j["results"]) {
    std::cout << std::setw(3) << rank++ << ". " << std::fixed << std::setprecision(2) << std::setw(6) << r["score"].get<double>() << "  "
              << r["collection"].get<std::string>() << " #" << r["token_id"].get<std::string>() << "  " << r["name"].get<std::string>() << "  [";
    bool first = true;
    for (auto& t : r["attributes"]) {
      std::cout << (first ? "" : ", ") << t["trait_type"].get<std::string>() << ": " << t["value"].get<std::string>();
      first = false;
    }
    std::cout << "]\n";
  }
  if (j["results"].empty()) std::cout << "no tokens match\n";
  return 0;
}

}  // namespace nftlens
