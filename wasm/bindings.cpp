// Thin embind layer over the core for the browser (and Node tests). Every method reports failure
// as {"error": "..."} JSON or null instead of throwing, so JS always gets the core's message.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "bundle.h"
#include "distance.h"
#include "error.h"
#include "search.h"
#include "text_index.h"

using emscripten::val;
using nlohmann::json;

namespace {

std::string error_json(const std::string& msg) { return json({{"error", msg}}).dump(-1, ' ', false, json::error_handler_t::replace); }

std::vector<uint8_t> bytes_of(const val& arr) {
  const size_t n = arr["length"].as<size_t>();
  std::vector<uint8_t> v(n);
  val(emscripten::typed_memory_view(n, v.data())).call<void>("set", arr);
  return v;
}
std::vector<float> floats_of(const val& arr) {
  const size_t n = arr["length"].as<size_t>();
  std::vector<float> v(n);
  val(emscripten::typed_memory_view(n, v.data())).call<void>("set", arr);
  return v;
}
val float32_copy(const std::vector<float>& v) {
  val out = val::global("Float32Array").new_(v.size());
  out.call<void>("set", val(emscripten::typed_memory_view(v.size(), v.data())));
  return out;
}

template <class F>
std::string guarded(F f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return error_json(e.what());
  }
}

class Lens {
 public:
  // Step 1: parse and check the manifest; returns the files to fetch.
  std::string openManifest(const std::string& text) {
    return guarded([&] {
      manifest_ = nftlens::parse_manifest(text);
      files_.clear();
      bundle_.reset();
      json files = json::array();
      for (auto& f : manifest_->files) files.push_back({{"role", f.role}, {"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
      return json({{"files", files}, {"model", json::parse(manifest_->model.to_json())}}).dump();
    });
  }
  // Step 2: hand over each file's bytes (checked against the manifest here).
  std::string addFile(const std::string& role, const val& bytes) {
    return guarded([&] {
      if (!manifest_) throw nftlens::Error("openManifest first");
      std::vector<uint8_t> b = bytes_of(bytes);
      nftlens::verify_file(manifest_->file(role), b.data(), b.size());
      if (role != "model") files_[role] = std::move(b);  // the model itself lives in onnxruntime-web
      return std::string("{}");
    });
  }
  // Step 3: parse and cross-check the parts.
  std::string finish() {
    return guarded([&] {
      if (!manifest_) throw nftlens::Error("openManifest first");
      text_.reset();
      bundle_ = std::make_unique<nftlens::Bundle>(nftlens::load_bundle(*manifest_, files_));
      files_.clear();
      text_ = std::make_unique<nftlens::TextIndex>(bundle_->catalogue);
      return json({{"tokens", bundle_->catalogue.tokens.size()},
                   {"entries", bundle_->index.size()},
                   {"threshold", bundle_->recipe.match_threshold},
                   {"kernel", nftlens::best_l2_int8_name()}})
          .dump();
    });
  }

  std::string collections() const { return bundle_ ? bundle_->catalogue.collections_json() : error_json("no bundle"); }
  std::string token(int i) const {
    return guarded([&] {
      if (!bundle_ || i < 0 || size_t(i) >= bundle_->catalogue.tokens.size()) throw nftlens::Error("no such token");
      return bundle_->catalogue.token_json(uint32_t(i));
    });
  }
  std::string traitStats(int collection) const { return bundle_ ? bundle_->catalogue.trait_stats_json(collection) : error_json("no bundle"); }

  // A query from encoded bytes (PNG/JPEG/GIF/BMP via stb) or from RGBA pixels the platform decoded.
  std::string beginQueryEncoded(const val& bytes) {
    return guarded([&] {
      need_bundle();
      const auto b = bytes_of(bytes);
      return begin(nftlens::decode_image(b.data(), b.size(), bundle_->manifest.model.background));
    });
  }
  std::string beginQueryRGBA(const val& rgba, int width, int height) {
    return guarded([&] {
      need_bundle();
      const auto b = bytes_of(rgba);
      if (width <= 0 || height <= 0 || b.size() != size_t(width) * size_t(height) * 4) throw nftlens::Error("RGBA buffer does not match width x height");
      return begin(nftlens::from_rgba(b.data(), width, height, bundle_->manifest.model.background));
    });
  }
  val modelInput(int run) const {
    if (!query_ || run < 0 || size_t(run) >= query_->model_runs()) return val::null();
    return float32_copy(query_->model_input(size_t(run)));
  }
  // outputs: JS array of Float32Array, in the card's output order.
  std::string setModelOutput(int run, const val& outputs) {
    return guarded([&] {
      if (!query_) throw nftlens::Error("no query");
      std::vector<std::vector<float>> outs;
      const size_t n = outputs["length"].as<size_t>();
      for (size_t i = 0; i < n; ++i) outs.push_back(floats_of(outputs[i]));
      std::vector<const float*> ptrs;
      std::vector<size_t> sizes;
      for (auto& o : outs) { ptrs.push_back(o.data()); sizes.push_back(o.size()); }
      query_->set_model_output(size_t(run), ptrs, sizes);
      return std::string("{}");
    });
  }
  // options: {"k": 10, "collections": ["slug"], "exact": false, "ef": 0}
  std::string search(const std::string& options) {
    return guarded([&] {
      if (!query_) throw nftlens::Error("no query");
      json o = json::parse(options.empty() ? "{}" : options);
      nftlens::SearchOptions opt;
      opt.k = size_t(std::clamp(o.value("k", 10), 1, 1000));
      opt.exact = o.value("exact", false);
      opt.ef = o.value("ef", 0);
      if (o.contains("collections") && o["collections"].is_array())
        for (auto& c : o["collections"]) opt.collections.push_back(c.get<std::string>());
      nftlens::TextQuery filter;
      if (o.contains("filter") && o["filter"].is_string() && !o["filter"].get<std::string>().empty()) {
        filter = nftlens::parse_text_query(o["filter"].get<std::string>());
        text_->resolve(filter.filter);
        opt.allow = [&](uint32_t t) { return text_->passes(t, filter.filter); };
      }
      return nftlens::results_json(*bundle_, nftlens::search_tokens(*bundle_, {query_->descriptors(), query_->window_descriptors()}, opt));
    });
  }
  // Words and trait filters -> {"results": [token + score], "facets": {type: {value: count}}}.
  std::string textSearch(const std::string& query, int k) {
    return guarded([&] {
      need_bundle();
      const auto hits = text_->search(query, size_t(std::clamp(k, 1, 1000)));
      json res = json::array();
      std::vector<uint32_t> tokens;
      for (auto& h : hits) {
        res.push_back(json::parse(bundle_->catalogue.token_json(h.token, h.score)));
        tokens.push_back(h.token);
      }
      return json({{"results", res}, {"facets", json::parse(text_->facets_json(tokens))}}).dump(-1, ' ', false, json::error_handler_t::replace);
    });
  }
  // Trait values completing the last typed word.
  std::string suggest(const std::string& prefix, int n) {
    return guarded([&] {
      need_bundle();
      return text_->suggest_json(prefix, size_t(std::clamp(n, 1, 100)));
    });
  }

  // All view descriptors, concatenated (for parity tests).
  val descriptors() const {
    if (!query_) return val::null();
    std::vector<float> all;
    for (auto& d : query_->descriptors()) all.insert(all.end(), d.begin(), d.end());
    return float32_copy(all);
  }

 private:
  void need_bundle() const {
    if (!bundle_) throw nftlens::Error("bundle not loaded");
  }
  std::string begin(nftlens::RgbImage img) {
    query_ = std::make_unique<nftlens::QuerySession>(*bundle_, std::move(img));
    const auto& card = bundle_->manifest.model;
    json shape = card.layout == "NHWC" ? json::array({1, card.height, card.width, 3}) : json::array({1, 3, card.height, card.width});
    json outs = json::array();
    for (auto& o : card.outputs) outs.push_back(o.name);
    return json({{"runs", query_->model_runs()},
                 {"views", query_->plan().views.size()},
                 {"width", query_->image().width},
                 {"height", query_->image().height},
                 {"input", card.input_name},
                 {"shape", shape},
                 {"outputs", outs},
                 {"use_model", bundle_->recipe.use_model}})
        .dump();
  }

  std::optional<nftlens::Manifest> manifest_;
  std::map<std::string, std::vector<uint8_t>> files_;
  std::unique_ptr<nftlens::Bundle> bundle_;
  std::unique_ptr<nftlens::QuerySession> query_;
  std::unique_ptr<nftlens::TextIndex> text_;  // refers to bundle_->catalogue
};

}  // namespace

EMSCRIPTEN_BINDINGS(nftlens) {
  emscripten::class_<Lens>("Lens")
      .constructor<>()
      .function("openManifest", &Lens::openManifest)
      .function("addFile", &Lens::addFile)
      .function("finish", &Lens::finish)
      .function("collections", &Lens::collections)
      .function("token", &Lens::token)
      .function("traitStats", &Lens::traitStats)
      .function("beginQueryEncoded", &Lens::beginQueryEncoded)
      .function("beginQueryRGBA", &Lens::beginQueryRGBA)
      .function("modelInput", &Lens::modelInput)
      .function("setModelOutput", &Lens::setModelOutput)
      .function("search", &Lens::search)
      .function("textSearch", &Lens::textSearch)
      .function("suggest", &Lens::suggest)
      .function("descriptors", &Lens::descriptors);
  emscripten::function("distanceKernel", emscripten::optional_override([]() { return std::string(nftlens::best_l2_int8_name()); }));
}
