#include "catalogue.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_map>

#include "byte_io.h"
#include "error.h"

namespace nftlens {
using nlohmann::json;

namespace {
uint64_t text_hash(const std::string& s) { return std::hash<std::string>{}(s); }

// The index of `s` (hash h) among `strings` through a hash -> index table; UINT32_MAX if absent.
uint32_t find_string(const std::unordered_multimap<uint64_t, uint32_t>& table, const std::vector<std::string>& strings, uint64_t h, const std::string& s) {
  for (auto [b, e] = table.equal_range(h); b != e; ++b)
    if (strings[b->second] == s) return b->second;
  return UINT32_MAX;
}
}  // namespace

uint32_t Catalogue::intern(const std::string& s) {
  if (intern_indexed != strings.size()) {  // strings were edited directly: re-index
    intern_index.clear();
    for (size_t i = 0; i < strings.size(); ++i) {  // (of equal strings, the first one's index is kept)
      const uint64_t h = text_hash(strings[i]);
      if (find_string(intern_index, strings, h, strings[i]) == UINT32_MAX) intern_index.emplace(h, uint32_t(i));
    }
    intern_indexed = strings.size();
  }
  const uint64_t h = text_hash(s);
  if (const uint32_t at = find_string(intern_index, strings, h, s); at != UINT32_MAX) return at;
  intern_index.emplace(h, uint32_t(strings.size()));
  strings.push_back(s);
  intern_indexed = strings.size();
  return uint32_t(strings.size() - 1);
}

void Catalogue::renumber_strings() {
  std::vector<uint32_t> to(strings.size(), UINT32_MAX);  // old index -> new
  std::vector<std::string> fresh{""};
  std::unordered_multimap<uint64_t, uint32_t> where{{text_hash(""), 0}};
  auto map = [&](uint32_t& id) {
    if (to.at(id) == UINT32_MAX) {
      const uint64_t h = text_hash(strings[id]);
      to[id] = find_string(where, fresh, h, strings[id]);
      if (to[id] == UINT32_MAX) {
        to[id] = uint32_t(fresh.size());
        where.emplace(h, to[id]);
        fresh.push_back(strings[id]);
      }
    }
    id = to[id];
  };
  for (Token& t : tokens) {
    map(t.description);
    for (auto& [k, v] : t.traits) { map(k); map(v); }
  }
  strings = std::move(fresh);
  intern_index = std::move(where);
  intern_indexed = strings.size();
}

bool Catalogue::in_join_order() const {
  if (strings.empty() || !strings[0].empty()) return false;
  uint32_t next = 1;
  auto ok = [&](uint32_t id) {
    if (id == next) ++next;
    return id < next;
  };
  for (const Token& t : tokens) {
    if (!ok(t.description)) return false;
    for (auto& [k, v] : t.traits)
      if (!ok(k) || !ok(v)) return false;
  }
  if (next != strings.size()) return false;
  std::vector<uint64_t> h(strings.size());  // no two equal texts (equal hashes: not sure, say no)
  for (size_t i = 0; i < h.size(); ++i) h[i] = text_hash(strings[i]);
  std::sort(h.begin(), h.end());
  return std::adjacent_find(h.begin(), h.end()) == h.end();
}

Catalogue Catalogue::join(const std::vector<Catalogue>& parts) {
  Catalogue c;
  for (const Catalogue& part : parts) {
    if (c.collections.empty()) c.collections = part.collections;
    for (Token t : part.tokens) {
      t.description = c.intern(part.strings.at(t.description));
      for (auto& [k, v] : t.traits) { k = c.intern(part.strings.at(k)); v = c.intern(part.strings.at(v)); }
      c.tokens.push_back(std::move(t));
    }
  }
  c.entry_token.resize(c.tokens.size());
  for (size_t i = 0; i < c.tokens.size(); ++i) c.entry_token[i] = uint32_t(i);
  return c;
}

Catalogue Catalogue::slice(size_t first, size_t count) const {
  Catalogue c;
  c.collections = collections;
  c.first_token = uint32_t(first);
  for (size_t i = first; i < first + count && i < tokens.size(); ++i) {
    Token t = tokens[i];
    t.description = c.intern(strings.at(t.description));
    for (auto& [k, v] : t.traits) { k = c.intern(strings.at(k)); v = c.intern(strings.at(v)); }
    c.tokens.push_back(std::move(t));
  }
  return c;
}

void Catalogue::validate(size_t index_entries, const std::string& where) const {
  if (entry_token.size() != index_entries)
    throw Error(where + ": catalogue maps " + std::to_string(entry_token.size()) + " index entries, the index has " + std::to_string(index_entries));
  if (strings.empty()) throw Error(where + ": catalogue string table is empty");
  for (uint32_t t : entry_token)
    if (t >= tokens.size()) throw Error(where + ": catalogue maps an index entry to a missing token");
  for (const Token& t : tokens) {
    if (t.collection >= collections.size()) throw Error(where + ": token " + t.token_id + " names a missing collection");
    if (t.description >= strings.size()) throw Error(where + ": token " + t.token_id + " has a bad description reference");
    for (auto& [k, v] : t.traits)
      if (k >= strings.size() || v >= strings.size()) throw Error(where + ": token " + t.token_id + " has a bad trait reference");
  }
}

void Catalogue::compute_rarity() {
  for (uint32_t c = 0; c < collections.size(); ++c) {
    std::vector<uint32_t> members;
    for (uint32_t i = 0; i < tokens.size(); ++i)
      if (tokens[i].collection == c) members.push_back(i);
    if (members.empty()) continue;
    std::map<uint32_t, std::map<uint32_t, uint32_t>> freq;  // type -> value -> count
    for (uint32_t i : members)
      for (auto& [k, v] : tokens[i].traits) freq[k][v]++;
    const uint32_t kNone = 0;  // the empty string stands for "trait missing"
    for (auto& [k, values] : freq) {
      uint32_t present = 0;
      for (auto& [v, n] : values) present += n;
      if (present < members.size()) values[kNone] += uint32_t(members.size()) - present;
    }
    const double n = double(members.size());
    for (uint32_t i : members) {
      double score = 0;
      for (auto& [k, values] : freq) {
        uint32_t v = kNone;
        for (auto& [tk, tv] : tokens[i].traits)
          if (tk == k) { v = tv; break; }
        score += n / double(values[v]);
      }
      tokens[i].rarity_score = float(score);
    }
    std::vector<uint32_t> order = members;
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return tokens[a].rarity_score > tokens[b].rarity_score; });
    for (size_t r = 0; r < order.size(); ++r) tokens[order[r]].rarity_rank = uint32_t(r + 1);
    collections[c].token_count = uint32_t(members.size());
  }
}

bool is_collection_slug(const std::string& s) {
  return !s.empty() && s.size() <= 200 &&
         std::all_of(s.begin(), s.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_'; });
}

std::string safe_http_url(const std::string& url) {
  auto starts = [&](const char* p) {
    const size_t n = std::char_traits<char>::length(p);
    if (url.size() <= n) return false;
    for (size_t i = 0; i < n; ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != p[i]) return false;
    return true;
  };
  if (!(starts("https://") || starts("http://"))) return "";
  for (unsigned char ch : url)
    if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '<' || ch == '>' || ch == '\\' || ch == ' ') return "";
  return url;
}

std::string fill_link_template(const Collection& c, const std::string& token_id) {
  if (c.link_template.empty()) return "";
  std::string out = c.link_template;
  auto replace = [&](const std::string& key, const std::string& val) {
    for (size_t p; (p = out.find(key)) != std::string::npos;) out.replace(p, key.size(), val);
  };
  std::string safe_id;
  for (char ch : token_id)  // ids are path segments: keep only URL-safe characters
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.') safe_id += ch;
  replace("{token_id}", safe_id);
  replace("{contract}", c.contract);
  replace("{chain}", c.chain);
  return safe_http_url(out);
}

std::string Catalogue::token_json(uint32_t t, double score, const std::vector<std::string>* packs) const {
  const Token& tk = tokens.at(t);
  const Collection& c = collections.at(tk.collection);
  json attrs = json::array();
  for (auto& [k, v] : tk.traits) attrs.push_back({{"trait_type", strings[k]}, {"value", strings[v]}});
  json j = {{"index", first_token + t},
            {"collection", c.slug},
            {"collection_name", c.name},
            {"token_id", tk.token_id},
            {"name", tk.name},
            {"description", strings[tk.description]},
            {"image", tk.image},
            {"thumb", nullptr},
            {"external_url", safe_http_url(tk.external_url)},
            {"link", fill_link_template(c, tk.token_id)},
            {"attributes", attrs},
            {"rarity_score", tk.rarity_score},
            {"rarity_rank", tk.rarity_rank},
            {"collection_size", c.token_count}};
  if (tk.thumb.present() && packs && tk.thumb.pack < packs->size())
    j["thumb"] = {{"pack", (*packs)[tk.thumb.pack]}, {"offset", tk.thumb.offset}, {"bytes", tk.thumb.bytes}};
  if (score >= -1.5) j["score"] = score;
  // Metadata is attacker-controlled and may hold invalid UTF-8: replace it rather than fail.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Catalogue::collections_json() const {
  json a = json::array();
  for (auto& c : collections)
    a.push_back({{"slug", c.slug}, {"name", c.name}, {"description", c.description}, {"chain", c.chain}, {"contract", c.contract}, {"count", c.token_count}});
  return a.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Catalogue::trait_stats_json(int collection) const {
  TraitCounts freq;
  for (const Token& t : tokens)
    if (collection < 0 || t.collection == uint32_t(collection)) freq.add(*this, t);
  return freq.json();
}

void TraitCounts::add(const Catalogue& cat, const Token& t) {
  for (auto& [k, v] : t.traits) counts_[cat.strings[k]][cat.strings[v]]++;
}

std::string TraitCounts::json() const { return nlohmann::json(counts_).dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace nftlens

namespace nftlens {
namespace {
constexpr int kColumns = 5;  // token_id, name, image, external_url, description

std::string column(const Catalogue& c, const Token& t, int k) {
  switch (k) {
    case 0: return t.token_id;
    case 1: return t.name;
    case 2: return t.image;
    case 3: return t.external_url;
    default: return c.strings[t.description];
  }
}

// Longest common prefix and (non-overlapping) suffix of a set of strings.
std::pair<std::string, std::string> affixes(const std::vector<const std::string*>& v) {
  if (v.empty()) return {};
  size_t p = v[0]->size();
  for (auto* s : v) {
    p = std::min(p, s->size());
    for (size_t i = 0; i < p; ++i)
      if ((*s)[i] != (*v[0])[i]) { p = i; break; }
  }
  size_t q = v[0]->size() - p;
  for (auto* s : v) {
    q = std::min(q, s->size() - p);
    for (size_t i = 0; i < q; ++i)
      if ((*s)[s->size() - 1 - i] != (*v[0])[v[0]->size() - 1 - i]) { q = i; break; }
  }
  return {v[0]->substr(0, p), v[0]->substr(v[0]->size() - q)};
}
}  // namespace

std::vector<uint8_t> Catalogue::encode() const {
  ByteWriter w;
  w.varint(collections.size());
  for (auto& c : collections) {
    for (auto* f : {&c.slug, &c.name, &c.description, &c.chain, &c.contract, &c.link_template}) w.str(*f);
    w.varint(c.token_count);
  }
  // Trait strings only (descriptions travel as a column); remap indices.
  std::unordered_map<uint32_t, uint32_t> remap{{0, 0}};
  std::vector<uint32_t> order{0};
  for (auto& t : tokens)
    for (auto& [k, v] : t.traits)
      for (uint32_t x : {k, v})
        if (remap.emplace(x, uint32_t(order.size())).second) order.push_back(x);
  w.varint(order.size());
  for (uint32_t x : order) w.str(strings.at(x));
  std::vector<std::array<std::pair<std::string, std::string>, kColumns>> fix(collections.size());
  std::vector<std::string> cols[kColumns];
  for (size_t c = 0; c < collections.size(); ++c)
    for (int k = 0; k < kColumns; ++k) {
      std::vector<std::string> vals;
      for (auto& t : tokens)
        if (t.collection == c) vals.push_back(column(*this, t, k));
      std::vector<const std::string*> ptrs;
      for (auto& v : vals) ptrs.push_back(&v);
      fix[c][k] = affixes(ptrs);
      w.str(fix[c][k].first);
      w.str(fix[c][k].second);
    }
  w.varint(tokens.size());
  for (auto& t : tokens) {
    w.varint(t.collection);
    for (int k = 0; k < kColumns; ++k) {
      const std::string v = column(*this, t, k);
      const auto& [pre, suf] = fix.at(t.collection)[k];
      w.str(v.substr(pre.size(), v.size() - pre.size() - suf.size()));
    }
    w.varint(t.thumb.bytes);
    if (t.thumb.present()) {
      w.varint(t.thumb.pack);
      w.varint(t.thumb.offset);
      w.bytes(t.thumb.digest.data(), t.thumb.digest.size());
    }
    w.varint(t.traits.size());
    for (auto& [k, v] : t.traits) { w.varint(remap.at(k)); w.varint(remap.at(v)); }
    w.f32(t.rarity_score);
    w.varint(t.rarity_rank);
  }
  bool identity = entry_token.size() == tokens.size();
  for (size_t i = 0; identity && i < entry_token.size(); ++i) identity = entry_token[i] == i;
  w.u8(identity ? 1 : 0);
  if (!identity) {
    w.varint(entry_token.size());
    for (uint32_t t : entry_token) w.varint(t);
  }
  return std::move(w.out);
}

Catalogue Catalogue::decode(const uint8_t* data, size_t size, const std::string& where) {
  ByteReader r(data, size, where + ": catalogue");
  Catalogue c;
  c.collections.resize(r.count(7));
  for (auto& col : c.collections) {
    for (auto* f : {&col.slug, &col.name, &col.description, &col.chain, &col.contract, &col.link_template}) *f = r.str();
    col.token_count = uint32_t(r.varint());
  }
  c.strings.resize(r.count(1));
  for (auto& s : c.strings) s = r.str();
  if (c.strings.empty() || !c.strings[0].empty()) throw Error(where + ": catalogue string table is malformed");
  std::unordered_map<std::string, uint32_t> interned;
  for (uint32_t i = 0; i < c.strings.size(); ++i) interned.emplace(c.strings[i], i);
  std::vector<std::array<std::pair<std::string, std::string>, kColumns>> fix(c.collections.size());
  for (auto& f : fix)
    for (auto& [pre, suf] : f) { pre = r.str(); suf = r.str(); }
  c.tokens.resize(r.count(kColumns + 8));  // (the smallest token record)
  for (auto& t : c.tokens) {
    t.collection = uint32_t(r.varint());
    if (t.collection >= c.collections.size()) throw Error(where + ": catalogue token names a missing collection");
    std::string v[kColumns];
    for (int k = 0; k < kColumns; ++k) v[k] = fix[t.collection][k].first + r.str() + fix[t.collection][k].second;
    t.token_id = v[0]; t.name = v[1]; t.image = v[2]; t.external_url = v[3];
    auto [it, added] = interned.emplace(v[4], uint32_t(c.strings.size()));
    if (added) c.strings.push_back(v[4]);
    const uint64_t tb = r.varint();
    if (tb > 0) {
      const uint64_t pack = r.varint(), offset = r.varint();
      if (tb > (uint64_t(1) << 26) || pack > 0xffffffffu || offset > (uint64_t(1) << 40)) throw Error(where + ": catalogue has a bad thumbnail reference");
      t.thumb.bytes = uint32_t(tb);
      t.thumb.pack = uint32_t(pack);
      t.thumb.offset = offset;
      for (auto& d : t.thumb.digest) d = r.u8();
    }
    t.description = it->second;
    t.traits.resize(r.count(2));
    for (auto& [k, val] : t.traits) {
      const uint64_t a = r.varint(), b = r.varint();
      if (a >= c.strings.size() || b >= c.strings.size()) throw Error(where + ": catalogue has a bad trait reference");
      k = uint32_t(a); val = uint32_t(b);
    }
    t.rarity_score = r.f32();
    t.rarity_rank = uint32_t(r.varint());
  }
  if (r.u8()) {
    c.entry_token.resize(c.tokens.size());
    for (uint32_t i = 0; i < c.entry_token.size(); ++i) c.entry_token[i] = i;
  } else {
    c.entry_token.resize(r.count(1));
    for (auto& e : c.entry_token) e = uint32_t(r.varint());
  }
  if (!r.at_end()) throw Error(where + ": catalogue file has trailing bytes");
  return c;
}

}  // namespace nftlens
