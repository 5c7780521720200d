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
#include "align.h"
#include "json_parse.h"
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
      // The card as the manifest states it (parse_manifest has checked it); re-serialising the
      // parsed card would link ModelCard::to_json, which only the builder needs.
      return json({{"files", files}, {"model", nftlens::parse_json(text).at("model")}}).dump();
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
      store_ = nftlens::PartStore(kPartBudget);
      thumbs_.clear();
      json info = {{"tokens", bundle_->manifest.tokens},
                   {"entries", bundle_->manifest.entries},
                   {"threshold", bundle_->recipe.match_threshold},
                   {"kernel", nftlens::best_l2_int8_name()},
                   {"partitioned", bundle_->partitioned()}};
      if (bundle_->partitioned())
        info["layout"] = {{"partitions", bundle_->layout.partitions()}, {"probe", bundle_->layout.default_probe},
                          {"fragments", bundle_->layout.fragments.size()}, {"fragment_tokens", bundle_->layout.fragment_tokens}};
      return info.dump();
    });
  }

  std::string collections() const { return bundle_ ? bundle_->catalogue.collections_json() : error_json("no bundle"); }
  // One token's details; on a partitioned bundle {"need": [...]} until its fragment is added.
  std::string token(int i) {
    return guarded([&] {
      if (!bundle_ || i < 0 || uint64_t(i) >= bundle_->manifest.tokens) throw nftlens::Error("no such token");
      if (!bundle_->partitioned()) return bundle_->catalogue.token_json(uint32_t(i));
      const uint32_t f = uint32_t(bundle_->layout.fragment_of(uint32_t(i)));
      if (!store_.has_fragment(f)) return needs({}, {f});
      return store_.fragment(f).token_json(uint32_t(i) - f * bundle_->layout.fragment_tokens);
    });
  }
  std::string traitStats(int collection) const {
    return guarded([&] {
      need_bundle();
      need_whole_catalogue("trait statistics");
      return bundle_->catalogue.trait_stats_json(collection);
    });
  }
  // A shard or catalogue fragment the last {"need": ...} asked for (checked against the table).
  std::string addPart(const std::string& kind, int id, const val& bytes) {
    return guarded([&] {
      need_bundle();
      const std::vector<uint8_t> b = bytes_of(bytes);
      if (id < 0) throw nftlens::Error("no such part");
      if (kind == "thumb") {  // a result thumbnail for re-ranking; no bytes = unavailable (scores low)
        if (uint64_t(id) >= bundle_->catalogue.tokens.size()) throw nftlens::Error("no such token");
        if (thumbs_.size() >= kMaxThumbs) thumbs_.clear();
        nftlens::RgbImage img;
        if (!b.empty()) {
          try {
            img = nftlens::decode_image(b.data(), b.size(), bundle_->manifest.model.background);
          } catch (const nftlens::Error&) {  // a broken thumbnail is treated as a missing one
          }
        }
        thumbs_.emplace_back(uint32_t(id), std::move(img));
        return std::string("{}");
      }
      if (!bundle_->partitioned()) throw nftlens::Error("this bundle is not partitioned");
      if (kind == "shard") store_.add_shard(bundle_->layout, bundle_->catalogue.collections.size(), uint32_t(id), b.data(), b.size());
      else if (kind == "fragment") store_.add_fragment(bundle_->layout, uint32_t(id), b.data(), b.size());
      else throw nftlens::Error("unknown part kind " + kind);
      return std::string("{}");
    });
  }

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
      json o = nftlens::parse_json(options.empty() ? "{}" : options);
      if (!o.is_object()) throw nftlens::Error("search options are not a JSON object");
      nftlens::SearchOptions opt;
      opt.k = size_t(std::clamp(o.value("k", 10), 1, 1000));
      opt.exact = o.value("exact", false);
      opt.ef = o.value("ef", 0);
      opt.probe = size_t(std::clamp(o.value("probe", 0), 0, 1 << 20));
      if (o.contains("collections") && o["collections"].is_array())
        for (auto& c : o["collections"]) opt.collections.push_back(c.get<std::string>());
      nftlens::TextQuery filter;
      if (o.contains("filter") && o["filter"].is_string() && !o["filter"].get<std::string>().empty()) {
        need_whole_catalogue("trait filters");
        filter = nftlens::parse_text_query(o["filter"].get<std::string>());
        text_->resolve(filter.filter);
        opt.allow = [&](uint32_t t) { return text_->passes(t, filter.filter); };
      }
      const nftlens::QueryDescriptors qd{query_->descriptors(), query_->window_descriptors()};
      if (!bundle_->partitioned()) {
        // "rerank": N re-ranks the first N hits by alignment with their thumbnails (shared/align.h),
        // as `nftlens query` does; {"need": [{"kind": "thumb", ...}]} until the caller has added them.
        const size_t rerank = size_t(std::clamp(o.value("rerank", 0), 0, 100)), k = opt.k;
        opt.k = std::max(k, rerank);
        auto hits = nftlens::search_tokens(*bundle_, qd, opt);
        if (rerank > 0 && !hits.empty()) {
          std::string need;  // (built as text: is_thumb_path admits nothing that needs escaping)
          std::vector<nftlens::RgbImage> thumbs;
          for (size_t i = 0; i < std::min(rerank, hits.size()); ++i) {
            const std::string& rel = bundle_->catalogue.tokens[hits[i].token].thumb;
            const nftlens::RgbImage* have = nullptr;
            for (auto& [t, img] : thumbs_)
              if (t == hits[i].token) have = &img;
            if (have) thumbs.push_back(*have);
            else if (!nftlens::is_thumb_path(rel)) thumbs.emplace_back();
            else need += std::string(need.empty() ? "" : ",") + "{\"kind\":\"thumb\",\"id\":" + std::to_string(hits[i].token) + ",\"name\":\"" + rel + "\"}";
          }
          if (!need.empty()) return "{\"need\":[" + need + "]}";
          nftlens::rerank_by_alignment(hits, query_->image(), thumbs);
        }
        if (hits.size() > k) hits.resize(k);
        return nftlens::results_json(*bundle_, hits);
      }
      // Partitioned: ask for missing shards, then for the fragments of the hits; the caller
      // fetches them (in parallel, cached), hands them over with addPart and calls search again.
      std::vector<uint32_t> missing;
      for (uint32_t p : nftlens::shards_to_probe(*bundle_, qd, opt))
        if (!store_.has_shard(p)) missing.push_back(p);
      if (!missing.empty()) return needs(missing, {});
      const auto hits = nftlens::search_partitions(*bundle_, store_, qd, opt);
      for (uint32_t f : nftlens::fragments_for(*bundle_, hits))
        if (!store_.has_fragment(f)) missing.push_back(f);
      if (!missing.empty()) return needs({}, missing);
      return nftlens::results_json(*bundle_, store_, hits);
    });
  }
  // Words and trait filters -> {"results": [token + score], "facets": {type: {value: count}}}.
  std::string textSearch(const std::string& query, int k) {
    return guarded([&] {
      need_bundle();
      need_whole_catalogue("text search");
      const auto hits = text_->search(query, size_t(std::clamp(k, 1, 1000)));
      json res = json::array();
      std::vector<uint32_t> tokens;
      for (auto& h : hits) {
        res.push_back(nftlens::parse_json(bundle_->catalogue.token_json(h.token, h.score)));
        tokens.push_back(h.token);
      }
      return json({{"results", res}, {"facets", nftlens::parse_json(text_->facets_json(tokens))}}).dump(-1, ' ', false, json::error_handler_t::replace);
    });
  }
  // Trait values completing the last typed word.
  std::string suggest(const std::string& prefix, int n) {
    return guarded([&] {
      need_bundle();
      need_whole_catalogue("suggestions");
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
  void need_whole_catalogue(const char* what) const {
    if (bundle_->partitioned()) throw nftlens::Error(std::string(what) + " is not available on a partitioned bundle yet (it needs the whole catalogue)");
  }
  // {"need": [{"kind", "id", "name", "bytes"}...]}: parts to fetch from the bundle folder.
  std::string needs(const std::vector<uint32_t>& shards, const std::vector<uint32_t>& fragments) const {
    // (Built as text: names are "<stem>.<hex>.bin", so nothing needs escaping; json objects here
    // cost ~1 KB of module size.)
    std::string out = "{\"need\":[";
    auto add = [&](const char* kind, uint32_t id, const nftlens::PartFile& f, const char* stem) {
      if (out.back() != '[') out += ',';
      out += std::string("{\"kind\":\"") + kind + "\",\"id\":" + std::to_string(id) + ",\"name\":\"" + f.name(stem) +
             "\",\"bytes\":" + std::to_string(f.bytes) + "}";
    };
    for (uint32_t p : shards) add("shard", p, bundle_->layout.shards[p], "shard");
    for (uint32_t f : fragments) add("fragment", f, bundle_->layout.fragments[f], "tokens");
    return out + "]}";
  }
  static constexpr size_t kPartBudget = size_t(48) << 20;  // decoded shards + fragments kept across queries
  static constexpr size_t kMaxThumbs = 2048;                // decoded thumbnails kept (~27 KB each)
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
  nftlens::PartStore store_{kPartBudget};     // partitioned bundles: parts fetched so far
  std::vector<std::pair<uint32_t, nftlens::RgbImage>> thumbs_;  // result thumbnails for re-ranking (a list: smaller code than a map)
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
      .function("addPart", &Lens::addPart)
      .function("textSearch", &Lens::textSearch)
      .function("suggest", &Lens::suggest)
      .function("descriptors", &Lens::descriptors);
}
