// The wasm host: a thin embind layer over the core's query engine (shared/lens.h). It converts
// arguments, calls the engine and converts the answer; no search logic lives here. Every method
// reports failure as {"error": message, "code": errc} JSON instead of throwing, so JS always gets
// the core's message and a machine-readable code.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "bundle.h"
#include "error.h"
#include "json_parse.h"
#include "lens.h"

using emscripten::val;
using nlohmann::json;

namespace {

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

// Runs f; an exception becomes {"error", "code"} (`code` for errors the core did not classify).
template <class F>
std::string guarded(F f, const char* code = nftlens::errc::general) {
  try {
    return f();
  } catch (const nftlens::Error& e) {
    const char* c = std::string(e.code()) == nftlens::errc::general ? code : e.code();
    return json({{"error", e.what()}, {"code", c}}).dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return json({{"error", e.what()}, {"code", code}}).dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

class LensHost {
 public:
  // Step 1: parse and check the manifest; returns the files to fetch and the model card.
  std::string openManifest(const std::string& text) {
    return guarded([&] {
      manifest_ = nftlens::parse_manifest(text);
      files_.clear();
      lens_.reset();
      json files = json::array();
      for (auto& f : manifest_->files)  // (thumbnail packs are fetched per query, as needs)
        if (nftlens::Manifest::loaded_at_open(f.role)) files.push_back({{"role", f.role}, {"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
      // The card as the manifest states it (parse_manifest has checked it); re-serialising the
      // parsed card would link ModelCard::to_json, which only the builder needs.
      return json({{"files", files}, {"model", nftlens::parse_json(text).at("model")}}).dump();
    }, nftlens::errc::bad_bundle);
  }
  // Step 2: hand over each file's bytes (checked against the manifest here).
  std::string addFile(const std::string& role, const val& bytes) {
    return guarded([&] {
      if (!manifest_) throw nftlens::Error("openManifest first", nftlens::errc::no_bundle);
      std::vector<uint8_t> b = bytes_of(bytes);
      nftlens::verify_file(manifest_->file(role), b.data(), b.size());
      if (role != "model") files_[role] = std::move(b);  // the model itself lives in onnxruntime-web
      return std::string("{}");
    }, nftlens::errc::bad_bundle);
  }
  // Step 3: parse and cross-check the parts; the bundle summary. options: {} or
  // {"whole_catalogue_bytes": n} (a partitioned bundle's text calls load the whole catalogue up to
  // n bytes, else use its word chunks; default: the browser's 4 MB).
  std::string finish(const std::string& options) {
    return guarded([&] {
      if (!manifest_) throw nftlens::Error("openManifest first", nftlens::errc::no_bundle);
      query_.reset();
      nftlens::LensSettings settings;  // browser settings
      const json o = nftlens::parse_json(options.empty() ? "{}" : options);
      if (o.is_object() && o.contains("whole_catalogue_bytes") && o["whole_catalogue_bytes"].is_number_unsigned())
        settings.whole_catalogue_bytes = o["whole_catalogue_bytes"].get<uint64_t>();
      lens_ = std::make_unique<nftlens::Lens>(nftlens::load_bundle(*manifest_, files_), settings);
      files_.clear();
      return lens_->info_json();
    }, nftlens::errc::bad_bundle);
  }

  std::string collections() { return guarded([&] { return lens().bundle().catalogue.collections_json(); }); }
  std::string token(int i) { return guarded([&] { return lens().token(i < 0 ? UINT32_MAX : uint32_t(i)).to_json(); }); }
  std::string traitStats(int collection) { return guarded([&] { return lens().trait_stats(collection).to_json(); }); }
  // A part a {"need": [...]} asked for: its kind ("shard", "fragment", "thumb", "directory", ...; empty thumbnail bytes = unavailable).
  std::string addPart(const std::string& kind, int id, const val& bytes) {
    return guarded([&] {
      const auto b = bytes_of(bytes);
      lens().add_part(nftlens::parse_kind(kind), id < 0 ? UINT32_MAX : uint32_t(id), b.data(), b.size());
      return std::string("{}");
    });
  }

  // A query from encoded bytes (PNG/JPEG/GIF/BMP via stb) or from RGBA pixels the platform decoded.
  std::string beginQueryEncoded(const val& bytes) {
    return guarded([&] {
      const auto b = bytes_of(bytes);
      return begin(nftlens::decode_image(b.data(), b.size(), lens().bundle().manifest.model.background));
    });
  }
  std::string beginQueryRGBA(const val& rgba, int width, int height) {
    return guarded([&] {
      const auto b = bytes_of(rgba);
      if (width <= 0 || height <= 0 || b.size() != size_t(width) * size_t(height) * 4)
        throw nftlens::Error("RGBA buffer does not match width x height", nftlens::errc::bad_image);
      return begin(nftlens::from_rgba(b.data(), width, height, lens().bundle().manifest.model.background));
    });
  }
  val modelInput(int run) const {
    if (!query_ || run < 0 || size_t(run) >= query_->model_runs()) return val::null();
    return float32_copy(query_->model_input(size_t(run)));
  }
  // outputs: JS array of Float32Array, in the card's output order.
  std::string setModelOutput(int run, const val& outputs) {
    return guarded([&] {
      std::vector<std::vector<float>> outs;
      for (size_t i = 0; i < outputs["length"].as<size_t>(); ++i) outs.push_back(floats_of(outputs[i]));
      std::vector<const float*> ptrs;
      std::vector<size_t> sizes;
      for (auto& o : outs) { ptrs.push_back(o.data()); sizes.push_back(o.size()); }
      query().set_model_output(size_t(run), ptrs, sizes);
      return std::string("{}");
    });
  }
  // The engine's requests as JSON (only the fields the caller set; the rest take the core's defaults).
  std::string search(const std::string& request) {
    return guarded([&] { return lens().search(query(), nftlens::ImageRequest::from_json(request)).to_json(); });
  }
  std::string textSearch(const std::string& request) {
    return guarded([&] { return lens().text(nftlens::TextRequest::from_json(request)).to_json(); });
  }
  std::string suggest(const std::string& request) {
    return guarded([&] { return lens().suggest(nftlens::SuggestRequest::from_json(request)).to_json(); });
  }

  // All view descriptors of the current query, concatenated (for parity tests).
  val descriptors() const {
    if (!query_) return val::null();
    std::vector<float> all;
    for (auto& d : query_->descriptors()) all.insert(all.end(), d.begin(), d.end());
    return float32_copy(all);
  }

 private:
  nftlens::Lens& lens() {
    if (!lens_) throw nftlens::Error("bundle not loaded", nftlens::errc::no_bundle);
    return *lens_;
  }
  nftlens::QuerySession& query() {
    if (!query_) throw nftlens::Error("no query (beginQuery first)", nftlens::errc::no_bundle);
    return *query_;
  }
  std::string begin(nftlens::RgbImage img) {
    query_ = std::make_unique<nftlens::QuerySession>(lens().bundle(), std::move(img));
    return lens_->session_json(*query_);
  }

  std::optional<nftlens::Manifest> manifest_;
  std::map<std::string, std::vector<uint8_t>> files_;
  std::unique_ptr<nftlens::Lens> lens_;
  std::unique_ptr<nftlens::QuerySession> query_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(nftlens) {
  emscripten::class_<LensHost>("Lens")
      .constructor<>()
      .function("openManifest", &LensHost::openManifest)
      .function("addFile", &LensHost::addFile)
      .function("finish", &LensHost::finish)
      .function("collections", &LensHost::collections)
      .function("token", &LensHost::token)
      .function("traitStats", &LensHost::traitStats)
      .function("beginQueryEncoded", &LensHost::beginQueryEncoded)
      .function("beginQueryRGBA", &LensHost::beginQueryRGBA)
      .function("modelInput", &LensHost::modelInput)
      .function("setModelOutput", &LensHost::setModelOutput)
      .function("search", &LensHost::search)
      .function("addPart", &LensHost::addPart)
      .function("textSearch", &LensHost::textSearch)
      .function("suggest", &LensHost::suggest)
      .function("descriptors", &LensHost::descriptors);
}
