#include "collection.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "error.h"
#include "http_fetch.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace nftlens {
namespace {

constexpr size_t kMaxMetadataBytes = 1 << 20;  // 1 MB per token is far beyond any real metadata
constexpr size_t kMaxField = 4096;             // longer names/values are cut

std::string read_file(const fs::path& p, size_t limit) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error(p.string() + ": cannot open");
  std::string s;
  char buf[65536];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    s.append(buf, size_t(f.gcount()));
    if (s.size() > limit) throw Error(p.string() + ": larger than " + std::to_string(limit) + " bytes");
  }
  return s;
}

// nlohmann's parser recurses per nesting level: refuse deep nesting before parsing.
void check_depth(const std::string& text, const std::string& where) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (char c : text) {
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
    } else if (c == '"') in_str = true;
    else if (c == '{' || c == '[') {
      if (++depth > 32) throw Error(where + ": JSON nested deeper than 32 levels");
    } else if (c == '}' || c == ']') --depth;
  }
}

std::string as_text(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : (v.is_null() ? "" : v.dump(-1, ' ', false, json::error_handler_t::replace));
  if (s.size() > kMaxField) s.resize(kMaxField);
  return s;
}

std::string str_field(const json& j, const char* key) { return j.contains(key) ? as_text(j[key]) : ""; }

// Resolve a relative path inside `root`; anything escaping it (.., absolute, symlink out) is refused.
fs::path inside(const fs::path& root, const std::string& rel) {
  if (rel.empty() || rel.find('\0') != std::string::npos) return {};
  fs::path p = fs::weakly_canonical(root / fs::path(rel).relative_path());
  fs::path r = fs::weakly_canonical(root);
  auto [a, b] = std::mismatch(r.begin(), r.end(), p.begin(), p.end());
  if (a != r.end()) return {};
  return p;
}

}  // namespace

SourceToken parse_token_metadata(const std::string& text, const std::string& fallback_id, const std::string& where) {
  check_depth(text, where);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(where + ": metadata is not valid JSON");
  if (!j.is_object()) throw Error(where + ": metadata is not a JSON object");
  SourceToken t;
  t.source = where;
  t.token_id = j.contains("token_id") ? as_text(j["token_id"]) : j.contains("id") ? as_text(j["id"]) : fallback_id;
  if (t.token_id.empty()) throw Error(where + ": token has no id");
  t.name = str_field(j, "name");
  t.description = str_field(j, "description");
  t.image_ref = j.contains("image") ? str_field(j, "image") : str_field(j, "image_url");
  t.external_url = str_field(j, "external_url");
  const json* attrs = j.contains("attributes") ? &j["attributes"] : j.contains("traits") ? &j["traits"] : nullptr;
  if (attrs && !attrs->is_null()) {
    if (!attrs->is_array()) throw Error(where + ": \"attributes\" is not a list");
    for (auto& a : *attrs) {
      if (!a.is_object()) throw Error(where + ": an entry of \"attributes\" is not an object");
      std::string type = str_field(a, "trait_type"), value = str_field(a, "value");
      if (type.empty() && value.empty()) continue;
      t.traits.emplace_back(type, value);
    }
  }
  return t;
}

namespace {
std::string gateway_url(const std::string& ref, const std::string& gateway) {
  if (ref.rfind("ipfs://", 0) == 0) {
    std::string rest = ref.substr(7);
    if (rest.rfind("ipfs/", 0) == 0) rest = rest.substr(5);
    return gateway + rest;
  }
  return ref;
}

// Remote collection: download metadata and images (cached by URL), then resolve like local files.
void load_remote(SourceCollection& c, const json& cfg, const fs::path& cache) {
  const std::string base = str_field(cfg, "base_uri");
  std::string gateway = cfg.contains("ipfs_gateway") ? str_field(cfg, "ipfs_gateway") : "https://ipfs.io/ipfs/";
  if (!gateway.empty() && gateway.back() != '/') gateway += '/';
  std::vector<std::string> ids;
  const json& t = cfg.contains("token_ids") ? cfg["token_ids"] : json();
  if (t.is_string()) {
    const std::string r = t.get<std::string>();
    const size_t dash = r.find('-');
    if (dash == std::string::npos) throw Error("collection.json: token_ids must look like \"0-99\" or be a list");
    const long a = std::stol(r.substr(0, dash)), b = std::stol(r.substr(dash + 1));
    if (a < 0 || b < a || b - a > 10'000'000) throw Error("collection.json: token_ids range is invalid");
    for (long i = a; i <= b; ++i) ids.push_back(std::to_string(i));
  } else if (t.is_array()) {
    for (auto& v : t) ids.push_back(as_text(v));
  } else {
    throw Error("collection.json: a remote collection needs \"token_ids\"");
  }
  const std::string base_url = gateway_url(base, gateway);
  std::vector<std::string> meta_urls;
  for (auto& id : ids) {
    std::string u = base_url;
    const size_t p = u.find("{id}");
    if (p != std::string::npos) u.replace(p, 4, id);
    else u += id;
    meta_urls.push_back(u);
  }
  const fs::path dl = cache.empty() ? c.dir / ".downloads" : cache;
  const auto metas = fetch_all(meta_urls, dl);
  std::vector<SourceToken> pending;
  std::vector<std::string> image_urls;
  std::set<std::string> seen;
  for (size_t i = 0; i < ids.size(); ++i) {
    try {
      if (metas[i].file.empty()) throw Error(metas[i].error);
      SourceToken tk = parse_token_metadata(read_file(metas[i].file, kMaxMetadataBytes), ids[i], meta_urls[i]);
      if (!seen.insert(tk.token_id).second) throw Error(meta_urls[i] + ": duplicate token id " + tk.token_id);
      std::string img = gateway_url(tk.image_ref, gateway);
      if (img.rfind("http://", 0) != 0 && img.rfind("https://", 0) != 0) {
        if (img.empty() || img.find("://") != std::string::npos) throw Error(meta_urls[i] + ": image \"" + img.substr(0, 100) + "\" is not an http(s) or ipfs URL");
        img = meta_urls[i].substr(0, meta_urls[i].rfind('/') + 1) + img;  // relative to the metadata URL
      }
      image_urls.push_back(img);
      pending.push_back(std::move(tk));
    } catch (const Error& e) {
      c.skipped.push_back({c.info.slug, ids[i], meta_urls[i], e.what()});
    }
  }
  const auto images = fetch_all(image_urls, dl);
  for (size_t i = 0; i < pending.size(); ++i) {
    if (images[i].file.empty()) {
      c.skipped.push_back({c.info.slug, pending[i].token_id, image_urls[i], images[i].error});
      continue;
    }
    pending[i].image_path = images[i].file;
    c.tokens.push_back(std::move(pending[i]));
  }
}
}  // namespace

SourceCollection load_collection(const fs::path& dir_in, const fs::path& download_cache) {
  std::vector<SourceToken> tokens;
  SourceCollection c = load_collection(dir_in, download_cache, [&](SourceToken&& t) { tokens.push_back(std::move(t)); });
  c.tokens = std::move(tokens);
  return c;
}

SourceCollection load_collection(const fs::path& dir_in, const fs::path& download_cache, const std::function<void(SourceToken&&)>& sink) {
  SourceCollection c;
  if (!fs::is_directory(dir_in)) throw Error(dir_in.string() + ": not a collection folder");
  c.dir = fs::canonical(dir_in);
  c.info.slug = c.dir.filename().string();
  c.info.name = c.info.slug;
  json remote;
  const fs::path cfg = c.dir / "collection.json";
  if (fs::exists(cfg)) {
    const std::string text = read_file(cfg, kMaxMetadataBytes);
    check_depth(text, cfg.string());
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw Error(cfg.string() + ": not a JSON object");
    c.info.slug = j.contains("slug") ? str_field(j, "slug") : c.info.slug;
    c.info.name = j.contains("name") ? str_field(j, "name") : c.info.slug;
    c.info.description = str_field(j, "description");
    c.info.chain = str_field(j, "chain");
    c.info.contract = str_field(j, "contract");
    c.info.link_template = str_field(j, "link_template");
    if (j.contains("base_uri")) remote = j;
  }
  if (c.info.slug.empty()) throw Error(cfg.string() + ": slug is empty (letters, digits, - and _)");
  // (The rule the bundle readers check, catalogue.h is_collection_slug: a slug the builder let
  // through would make a bundle that does not load.)
  if (c.info.slug.size() > 200)
    throw Error(cfg.string() + ": slug is " + std::to_string(c.info.slug.size()) + " characters long (at most 200)");
  if (!is_collection_slug(c.info.slug))
    throw Error(cfg.string() + ": slug \"" + c.info.slug + "\" may only hold letters, digits, - and _");

  if (!remote.is_null()) {
    load_remote(c, remote, download_cache);
    for (auto& t : c.tokens) sink(std::move(t));
    c.tokens.clear();
    return c;
  }
  // Every token's metadata (id, text, where), parsed as it is read and handed to the sink: at a
  // million tokens holding every text first cost ~1 GB at the builder's peak. Unreadable files are listed first, then tokens that
  // fail to parse or resolve, each in token order (as when every text was gathered first).
  const fs::path jsonl = c.dir / "metadata.jsonl", mdir = c.dir / "metadata";
  std::vector<Skipped> unreadable;
  std::map<std::string, fs::path> by_stem;  // images/<stem>.<ext>, listed when first needed
  bool listed = false;
  auto image_by_stem = [&](const std::string& stem) -> const fs::path* {
    if (!listed) {
      listed = true;
      if (fs::is_directory(c.dir / "images"))
        for (auto& e : fs::directory_iterator(c.dir / "images"))
          if (e.is_regular_file()) by_stem.emplace(e.path().stem().string(), e.path());
    }
    auto it = by_stem.find(stem);
    return it == by_stem.end() ? nullptr : &it->second;
  };
  std::set<std::string> seen;
  auto add = [&](const std::string& id, const std::string& text, const std::string& where) {
    SourceToken t;
    try {
      t = parse_token_metadata(text, id, where);
      if (!seen.insert(t.token_id).second) throw Error(where + ": duplicate token id " + t.token_id);
      const std::string& ref = t.image_ref;
      if (ref.rfind("ipfs://", 0) == 0) {
        std::string rest = ref.substr(7);
        if (rest.rfind("ipfs/", 0) == 0) rest = rest.substr(5);
        t.image_path = inside(c.dir / "ipfs", rest);
        if (t.image_path.empty() || !fs::is_regular_file(t.image_path))
          throw Error(where + ": image " + ref + " is not in the local IPFS mirror " + (c.dir / "ipfs").string());
      } else if (ref.rfind("http://", 0) == 0 || ref.rfind("https://", 0) == 0 || ref.rfind("data:", 0) == 0) {
        const fs::path* p = image_by_stem(t.token_id);
        if (!p) throw Error(where + ": image " + ref.substr(0, 80) + " is remote and no local copy is in images/");
        t.image_path = *p;
      } else if (!ref.empty()) {
        t.image_path = inside(c.dir, ref);
        if (t.image_path.empty()) throw Error(where + ": image path \"" + ref.substr(0, 200) + "\" points outside the collection folder");
        if (!fs::is_regular_file(t.image_path)) throw Error(where + ": image file " + t.image_path.string() + " is missing");
      } else {
        const fs::path* p = image_by_stem(t.token_id);
        if (!p) p = image_by_stem(id);
        if (!p) throw Error(where + ": no \"image\" field and no images/" + t.token_id + ".* file");
        t.image_path = *p;
      }
    } catch (const Error& e) {
      c.skipped.push_back({c.info.slug, id, where, e.what()});
      return;
    } catch (const std::exception& e) {
      c.skipped.push_back({c.info.slug, id, where, std::string("unexpected error: ") + e.what()});
      return;
    }
    sink(std::move(t));  // (outside the try: what the caller throws is not this token's fault)
  };
  if (fs::is_directory(mdir)) {
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(mdir))
      if (e.is_regular_file() && (e.path().extension() == ".json" || e.path().extension().empty())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      std::string text;
      try {
        text = read_file(f, kMaxMetadataBytes);
      } catch (const Error& e) {
        unreadable.push_back({c.info.slug, f.stem().string(), f.string(), e.what()});
        continue;
      }
      add(f.stem().string(), text, f.string());
    }
  } else if (fs::exists(jsonl)) {
    std::ifstream in(jsonl);
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      add(std::to_string(n - 1), line, jsonl.string() + ":" + std::to_string(n));
    }
  } else {
    throw Error(c.dir.string() + ": no metadata/ folder or metadata.jsonl");
  }
  c.skipped.insert(c.skipped.begin(), unreadable.begin(), unreadable.end());
  return c;
}

}  // namespace nftlens
