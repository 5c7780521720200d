#include "bundle.h"

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>
#include <nlohmann/json.hpp>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "byte_io.h"
#include "json_parse.h"
#include "error.h"
#include "sha256.h"

namespace nftlens {
namespace detail {
// cereal's BinaryInputArchive sizes a vector or string from the length the file claims before
// reading it, so a few hostile bytes could ask for terabytes (found by tests/fuzz). This reads the
// same format from memory, refusing any length larger than the bytes left (every element takes at
// least one byte) and reading bools as 0/1.
class BoundedInputArchive : public cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision> {
 public:
  BoundedInputArchive(const uint8_t* data, size_t size) : InputArchive(this), p_(data), n_(size) {}
  void loadBinary(void* out, size_t size) {
    if (size > n_ - pos_) throw std::runtime_error("truncated");
    if (size) std::memcpy(out, p_ + pos_, size);
    pos_ += size;
  }
  size_t remaining() const { return n_ - pos_; }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
};

template <class T>
std::enable_if_t<std::is_arithmetic<T>::value && !std::is_same<T, bool>::value> CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof(t));
}
inline void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, bool& t) {
  uint8_t b = 0;
  ar.loadBinary(&b, 1);
  t = b != 0;
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::NameValuePair<T>& t) { ar(t.value); }
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
  if (t.size > ar.remaining()) throw std::runtime_error("a length larger than the file");
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::BinaryData<T>& t) { ar.loadBinary(t.data, static_cast<size_t>(t.size)); }
}  // namespace detail
}  // namespace nftlens
namespace cereal::traits::detail {
template <>
struct get_output_from_input<nftlens::detail::BoundedInputArchive> { using type = cereal::BinaryOutputArchive; };
}  // namespace cereal::traits::detail

namespace nftlens {
using nlohmann::json;

namespace {
constexpr uint32_t kRecipeMagic = 0x5043524e, kCatalogueMagic = 0x5441434e;  // "NRCP", "NCAT"
constexpr uint32_t kPartVersion = 3;  // 2: recipe with window part; 3: 16-bit projection
constexpr uint32_t kCatalogueVersion = 3;  // 2: compact columns (byte_io); 3: thumbnails in packs (ThumbRef)

template <class T>
std::vector<uint8_t> to_bytes(const T& value, uint32_t magic) {
  std::ostringstream os(std::ios::binary);
  {
    cereal::BinaryOutputArchive ar(os);
    ar(magic, kPartVersion, value);
  }
  const std::string s = os.str();
  return std::vector<uint8_t>(s.begin(), s.end());
}

template <class T>
T from_bytes(const uint8_t* data, size_t size, uint32_t magic, const std::string& where, const char* what) {
  T value;
  size_t left = 0;
  try {
    detail::BoundedInputArchive ar(data, size);
    uint32_t m = 0, v = 0;
    ar(m, v);
    if (m != magic) throw Error(where + ": not an NFT Lens " + what + " file");
    if (v != kPartVersion) throw Error(where + ": unsupported " + what + " format version " + std::to_string(v));
    ar(value);
    left = ar.remaining();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // read past the end, a length larger than the file, out of memory
    throw Error(where + ": " + what + " file is corrupt (" + e.what() + ")");
  }
  if (left) throw Error(where + ": " + what + " file has trailing bytes");
  return value;
}
}  // namespace

const FileEntry& Manifest::file(const std::string& role) const {
  for (auto& f : files)
    if (f.role == role) return f;
  throw Error("manifest.json: no \"" + role + "\" file listed");
}

bool Manifest::loaded_at_open(const std::string& role) { return role != "thumbs" && role != "stats" && role != "parts"; }

bool Manifest::has(const std::string& role) const {
  for (auto& f : files)
    if (f.role == role) return true;
  return false;
}

Manifest parse_manifest(const std::string& text) {
  json j = parse_json(text);
  if (j.is_discarded() || !j.is_object()) throw Error("manifest.json: not valid JSON");
  Manifest m;
  m.json_text = text;
  try {
    if (j.value("format", "") != kBundleFormat) throw Error("manifest.json: not an NFT Lens bundle manifest (\"format\" is not \"nftlens-bundle\")");
    m.version = j.at("version").get<int>();
    if (m.version != kBundleVersion)
      throw Error("manifest.json: bundle format version " + std::to_string(m.version) + " is not supported (this build reads version " + std::to_string(kBundleVersion) + "; rebuild the bundle)");
    m.generator = j.value("generator", "");
    m.model = parse_model_card(j.at("model").dump(), "manifest.json \"model\"");
    m.descriptor_dim = j.at("dims").at("descriptor").get<int>();
    m.tokens = j.at("counts").at("tokens").get<uint64_t>();
    m.entries = j.at("counts").at("entries").get<uint64_t>();
    for (auto& f : j.at("files")) {
      FileEntry e{f.at("role").get<std::string>(), f.at("name").get<std::string>(), f.at("sha256").get<std::string>(), f.at("bytes").get<uint64_t>()};
      // File names are fetched relative to the bundle: no paths, no tricks.
      if (e.name.empty() || e.name.find_first_of("/\\?#%:") != std::string::npos || e.name[0] == '.')
        throw Error("manifest.json: file name \"" + e.name + "\" is not a plain file name");
      if (e.sha256.size() != 64) throw Error("manifest.json: file " + e.name + " has no valid sha256");
      m.files.push_back(e);
      if (e.role == "thumbs") m.packs.push_back(e);
    }
    if (j.contains("verdict")) m.verdict = VerdictModels::from_json(j.at("verdict").dump(), "manifest.json");
  } catch (const json::exception& e) {
    throw Error(std::string("manifest.json: missing or mistyped field (") + e.what() + ")");
  }
  for (const char* role : {"model", "recipe", m.has("partitions") ? "partitions" : "index", "catalogue"}) m.file(role);
  if (m.file("model").name != m.model.file) throw Error("manifest.json: model file name does not match the model card");
  return m;
}

void verify_file(const FileEntry& f, const uint8_t* data, size_t size) {
  if (size != f.bytes)
    throw Error(f.name + ": size is " + std::to_string(size) + " bytes, the manifest says " + std::to_string(f.bytes) + " (truncated or from another bundle)");
  if (sha256_hex(data, size) != f.sha256) throw Error(f.name + ": SHA-256 does not match the manifest (corrupt or from another bundle)");
}

Bundle load_bundle(const Manifest& m, const std::map<std::string, std::vector<uint8_t>>& files) {
  auto get = [&](const std::string& role) -> const std::vector<uint8_t>& {
    auto it = files.find(role);
    if (it == files.end()) throw Error(m.file(role).name + ": file was not loaded");
    verify_file(m.file(role), it->second.data(), it->second.size());
    return it->second;
  };
  Bundle b;
  b.manifest = m;
  const auto& rb = get("recipe");
  b.recipe = deserialize_recipe(rb.data(), rb.size(), m.file("recipe").name);
  b.recipe.validate(m.model, m.file("recipe").name);
  if (b.recipe.out_dim != m.descriptor_dim) throw Error(m.file("recipe").name + ": descriptor size does not match manifest.json");
  if (m.has("style")) {
    const auto& sb = get("style");
    b.style = StyleModels::deserialize(sb.data(), sb.size(), m.model.feature_dim(), m.file("style").name);
  }
  if (m.has("partitions")) {  // partitioned: the head only; shards and fragments come per query
    if (m.has("index") || m.has("windows") || b.recipe.windows.enabled()) throw Error("manifest.json: a partitioned bundle has no index or windows file");
    if (m.has("parts")) throw Error("manifest.json: a partitioned bundle has no part codes (not supported yet)");
    if (m.entries != m.tokens) throw Error("manifest.json: a partitioned bundle has one entry per token");
    const auto& pb = get("partitions");
    b.layout = PartitionLayout::deserialize(pb.data(), pb.size(), m.descriptor_dim, m.tokens, m.file("partitions").name);
    if (b.layout.version >= 5) {  // the thumbnail packs are listed in the table (compact; the manifest's JSON grew with them)
      if (!m.packs.empty()) throw Error("manifest.json: lists thumbnail packs, which this bundle's partition table lists");
      for (const PartFile& p : b.layout.packs) {
        const std::string name = p.name("thumbs");
        b.manifest.packs.push_back({"thumbs", name, name.substr(7, 16), p.bytes});  // (sha256: the 64-bit prefix the table checks)
      }
    }
    const auto& cb = get("catalogue");
    b.catalogue = deserialize_catalogue(cb.data(), cb.size(), m.file("catalogue").name);
    if (!b.catalogue.tokens.empty() || b.catalogue.collections.empty()) throw Error(m.file("catalogue").name + ": a partitioned bundle's catalogue lists only the collections");
    b.catalogue.validate(0, m.file("catalogue").name);
    uint64_t sum = 0;
    for (auto& c : b.catalogue.collections) sum += c.token_count;
    if (sum != m.tokens) throw Error(m.file("catalogue").name + ": collection sizes do not add up to the token count in manifest.json");
    return b;
  }
  const auto& ib = get("index");
  b.index = CodeIndex::deserialize(ib.data(), ib.size(), m.descriptor_dim, m.file("index").name);
  if (b.index.size() != m.entries) throw Error(m.file("index").name + ": entry count does not match manifest.json");
  const auto& cb = get("catalogue");
  b.catalogue = deserialize_catalogue(cb.data(), cb.size(), m.file("catalogue").name);
  b.catalogue.validate(b.index.size(), m.file("catalogue").name);
  if (b.catalogue.tokens.size() != m.tokens) throw Error(m.file("catalogue").name + ": token count does not match manifest.json");
  if (b.recipe.windows.enabled() != m.has("windows")) throw Error("manifest.json: the windows file and the recipe disagree");
  if (m.has("windows")) {
    const auto& wb = get("windows");
    b.windows = WindowIndex::deserialize(wb.data(), wb.size(), b.recipe.windows.out_dim, b.catalogue.tokens.size(), m.file("windows").name);
    if (size_t(b.windows.per_token()) != b.recipe.windows.boxes.size()) throw Error(m.file("windows").name + ": window count does not match the recipe");
  }
  if (m.has("parts")) {
    if (m.model.part_channels() == 0) throw Error("manifest.json: the bundle has part codes but its model has no parts map");
    if (auto it = files.find("parts"); it != files.end())  // (else fetched when a query needs them: Lens, Need::Kind::parts)
      load_part_codes(b, it->second.data(), it->second.size());  // (checks it against the manifest)
  }
  return b;
}

void load_part_codes(Bundle& b, const uint8_t* data, size_t size) {
  const FileEntry& f = b.manifest.file("parts");
  verify_file(f, data, size);
  b.parts = PartCodes::deserialize(data, size, b.manifest.model.part_channels(), b.catalogue.tokens.size(), f.name);
}

std::vector<uint8_t> serialize_recipe(const Recipe& r) { return to_bytes(r, kRecipeMagic); }
std::vector<uint8_t> serialize_catalogue(const Catalogue& c) {
  ByteWriter w;
  w.u32(kCatalogueMagic);
  w.u32(kCatalogueVersion);
  const auto body = c.encode();
  w.bytes(body.data(), body.size());
  return std::move(w.out);
}
Recipe deserialize_recipe(const uint8_t* d, size_t n, const std::string& where) { return from_bytes<Recipe>(d, n, kRecipeMagic, where, "recipe"); }
Catalogue deserialize_catalogue(const uint8_t* d, size_t n, const std::string& where) {
  ByteReader r(d, n, where);
  if (n < 8 || r.u32() != kCatalogueMagic) throw Error(where + ": not an NFT Lens catalogue file");
  const uint32_t v = r.u32();
  if (v != kCatalogueVersion) throw Error(where + ": unsupported catalogue format version " + std::to_string(v));
  try {
    return Catalogue::decode(d + 8, n - 8, where);
  } catch (const std::bad_alloc&) {
    throw Error(where + ": catalogue file is corrupt (too large to allocate)");
  }
}

std::string hashed_name(const std::string& stem, const std::string& ext, const std::string& sha256) {
  return stem + "." + sha256.substr(0, 16) + "." + ext;
}

std::string make_manifest_json(const ModelCard& model, const Recipe& recipe, const CodeIndex& index,
                               const Catalogue& catalogue, const std::vector<FileEntry>& files, const std::string& generator,
                               const PartitionLayout* layout) {
  json cols = json::array();
  for (auto& c : catalogue.collections) cols.push_back({{"slug", c.slug}, {"name", c.name}, {"count", c.token_count}});
  json fl = json::array();
  for (auto& f : files) fl.push_back({{"role", f.role}, {"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  json j = {{"format", kBundleFormat},
            {"version", kBundleVersion},
            {"generator", generator},
            {"model", parse_json(model.to_json())},
            {"dims", {{"descriptor", recipe.out_dim}, {"raw", recipe.in_dim}}},
            {"counts", {{"tokens", layout ? layout->tokens() : catalogue.tokens.size()},
                        {"entries", layout ? layout->tokens() : index.size()},
                        {"collections", catalogue.collections.size()}}},
            {"match_threshold", recipe.match_threshold},
            {"collections", cols},
            {"files", fl}};
  if (layout)
    j["layout"] = {{"kind", "partitioned"}, {"partitions", layout->partitions()}, {"fragments", layout->fragments.size()},
                   {"fragment_tokens", layout->fragment_tokens}, {"default_probe", layout->default_probe}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace nftlens
