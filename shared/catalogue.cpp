#include "catalogue.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "error.h"

namespace nftlens {
using nlohmann::json;

uint32_t Catalogue::intern(const std::string& s) {
  for (size_t i = 0; i < strings.size(); ++i)
    if (strings[i] == s) return uint32_t(i);
  strings.push_back(s);
  return uint32_t(strings.size() - 1);
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

std::string Catalogue::token_json(uint32_t t, double score) const {
  const Token& tk = tokens.at(t);
  const Collection& c = collections.at(tk.collection);
  json attrs = json::array();
  for (auto& [k, v] : tk.traits) attrs.push_back({{"trait_type", strings[k]}, {"value", strings[v]}});
  json j = {{"index", t},
            {"collection", c.slug},
            {"collection_name", c.name},
            {"token_id", tk.token_id},
            {"name", tk.name},
            {"description", strings[tk.description]},
            {"image", tk.image},
            {"thumb", tk.thumb},
            {"external_url", safe_http_url(tk.external_url)},
            {"link", fill_link_template(c, tk.token_id)},
            {"attributes", attrs},
            {"rarity_score", tk.rarity_score},
            {"rarity_rank", tk.rarity_rank},
            {"collection_size", c.token_count}};
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
  std::map<std::string, std::map<std::string, uint32_t>> freq;
  for (const Token& t : tokens)
    if (collection < 0 || t.collection == uint32_t(collection))
      for (auto& [k, v] : t.traits) freq[strings[k]][strings[v]]++;
  json j = json::object();
  for (auto& [k, values] : freq) j[k] = values;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace nftlens
