#include "text_index.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace nftlens {

std::vector<std::string> text_words(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    // Plurals: "glasses" -> "glass", "earrings" -> "earring", "boxes" -> "box"; keep short words.
    if (cur.size() > 4 && cur.compare(cur.size() - 3, 3, "ses") == 0) cur.resize(cur.size() - 2);
    else if (cur.size() > 4 && cur.compare(cur.size() - 3, 3, "xes") == 0) cur.resize(cur.size() - 2);
    else if (cur.size() > 3 && cur.back() == 's' && cur[cur.size() - 2] != 's') cur.pop_back();
    out.push_back(cur);
    cur.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isalnum(c)) {
      // camelCase boundary: lower->Upper, or letter<->digit
      if (!cur.empty()) {
        const unsigned char prev = static_cast<unsigned char>(text[i - 1]);
        if ((std::islower(prev) && std::isupper(c)) || (std::isalpha(prev) && std::isdigit(c)) || (std::isdigit(prev) && std::isalpha(c))) flush();
      }
      cur += char(std::tolower(c));
      if (cur.size() > 40) flush();  // absurdly long "words" from hostile metadata
    } else if (c >= 0x80) {
      cur += char(c);  // keep UTF-8 bytes of non-ASCII letters
    } else {
      flush();
    }
  }
  flush();
  return out;
}

int edit_distance(const std::string& a, const std::string& b, int limit) {
  const int n = int(a.size()), m = int(b.size());
  if (std::abs(n - m) > limit) return limit + 1;
  std::vector<int> prev(m + 1), cur(m + 1);
  for (int j = 0; j <= m; ++j) prev[j] = j;
  for (int i = 1; i <= n; ++i) {
    cur[0] = i;
    int row_min = cur[0];
    for (int j = 1; j <= m; ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(prev, cur);
  }
  return prev[m];
}

TextQuery parse_text_query(const std::string& query) {
  TextQuery q;
  // Split on spaces outside quotes; a part with ':' is a filter.
  std::vector<std::string> parts;
  std::string cur;
  bool quoted = false;
  for (char c : query) {
    if (c == '"') quoted = !quoted;
    else if (std::isspace(static_cast<unsigned char>(c)) && !quoted) { if (!cur.empty()) parts.push_back(cur); cur.clear(); }
    else cur += c;
  }
  if (!cur.empty()) parts.push_back(cur);
  for (const std::string& p : parts) {
    const size_t colon = p.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == p.size()) {
      for (auto& w : text_words(p)) q.words.push_back(w);
      continue;
    }
    const std::string key = p.substr(0, colon), val = p.substr(colon + 1);
    const auto kw = text_words(key);
    const std::string k = kw.size() == 1 ? kw[0] : "";
    if (k == "collection") {
      q.filter.collections.push_back(val);
    } else if (k == "rank") {
      const size_t dash = val.find('-');
      try {
        q.filter.rank_min = uint32_t(std::stoul(val.substr(0, dash)));
        q.filter.rank_max = dash == std::string::npos ? q.filter.rank_min : uint32_t(std::stoul(val.substr(dash + 1)));
      } catch (...) {
        for (auto& w : text_words(p)) q.words.push_back(w);
      }
    } else {
      q.filter.traits.emplace_back(kw, text_words(val));
    }
  }
  return q;
}

namespace {
constexpr float kValueWeight = 2.0f, kNameWeight = 1.5f, kTypeWeight = 0.6f, kCollectionWeight = 0.5f, kDescriptionWeight = 0.2f;
bool contains_all(const std::vector<std::string>& hay, const std::vector<std::string>& needles) {
  for (auto& n : needles)
    if (std::find(hay.begin(), hay.end(), n) == hay.end()) return false;
  return true;
}
}  // namespace

TextIndex::TextIndex(const Catalogue& cat) : cat_(cat) {
  value_words_.resize(cat.strings.size());
  for (size_t i = 0; i < cat.strings.size(); ++i) value_words_[i] = text_words(cat.strings[i]);
  std::vector<std::vector<std::string>> coll_words(cat.collections.size());
  for (size_t c = 0; c < cat.collections.size(); ++c) coll_words[c] = text_words(cat.collections[c].name + " " + cat.collections[c].slug);
  std::unordered_map<uint32_t, std::vector<std::string>> desc_words;  // descriptions shared by many tokens: split once
  for (uint32_t t = 0; t < cat.tokens.size(); ++t) {
    const Token& tk = cat.tokens[t];
    std::unordered_map<std::string, float> w;  // term -> best field weight for this token
    auto add = [&](const std::vector<std::string>& words, float weight) {
      for (auto& x : words) { float& v = w[x]; v = std::max(v, weight); }
    };
    for (auto& [k, v] : tk.traits) { add(value_words_[v], kValueWeight); add(value_words_[k], kTypeWeight); }
    add(text_words(tk.name), kNameWeight);
    add(coll_words[tk.collection], kCollectionWeight);
    auto it = desc_words.find(tk.description);
    if (it == desc_words.end()) it = desc_words.emplace(tk.description, text_words(cat.strings[tk.description])).first;
    add(it->second, kDescriptionWeight);
    for (auto& [term, weight] : w) {
      auto [tid, added] = term_id_.emplace(term, uint32_t(vocab_.size()));
      if (added) { vocab_.push_back(term); postings_.emplace_back(); }
      postings_[tid->second].push_back(Posting{t, weight});
    }
  }
  const double n = double(std::max<size_t>(1, cat.tokens.size()));
  idf_.resize(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) idf_[i] = float(std::log(1.0 + n / double(postings_[i].size())));
  for (uint32_t i = 0; i < vocab_.size(); ++i) {
    const size_t len = std::min<size_t>(vocab_[i].size(), 48);
    if (terms_by_length_.size() <= len) terms_by_length_.resize(len + 1);
    terms_by_length_[len].push_back(i);
  }
}

size_t TextIndex::postings() const {
  size_t n = 0;
  for (auto& p : postings_) n += p.size();
  return n;
}

void TextIndex::resolve(TextFilter& f) const {
  f.exact.assign(f.traits.size(), false);
  for (size_t i = 0; i < f.traits.size(); ++i)
    for (auto& w : value_words_)
      if (w == f.traits[i].second) { f.exact[i] = true; break; }
}

bool TextIndex::passes(uint32_t token, const TextFilter& f) const {
  const Token& tk = cat_.tokens.at(token);
  if (tk.rarity_rank < f.rank_min || tk.rarity_rank > f.rank_max) return false;
  if (!f.collections.empty() &&
      std::find(f.collections.begin(), f.collections.end(), cat_.collections[tk.collection].slug) == f.collections.end())
    return false;
  for (size_t i = 0; i < f.traits.size(); ++i) {
    const auto& [type, value] = f.traits[i];
    const bool exact = i < f.exact.size() && f.exact[i];
    bool ok = false;
    for (auto& [k, v] : tk.traits)
      if (contains_all(value_words_[k], type) && (exact ? value_words_[v] == value : contains_all(value_words_[v], value))) { ok = true; break; }
    if (!ok) return false;
  }
  return true;
}

std::vector<TextHit> TextIndex::search(const std::string& query, size_t k) const { return search(parse_text_query(query), k); }

std::vector<TextHit> TextIndex::search(const TextQuery& query, size_t k) const {
  TextQuery q = query;
  resolve(q.filter);
  // Dense per-token accumulators (hash maps were the cost on common words with long postings).
  const size_t n = cat_.tokens.size();
  std::vector<float> score(n, 0.0f), word_best(n, 0.0f);
  std::vector<uint16_t> matched(n, 0);
  std::vector<uint32_t> touched, word_touched;
  std::vector<std::string> words;
  for (auto& w : q.words)  // repeated words count once
    if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
  for (const std::string& w : words) {
    // Exact term, else the closest terms within the edit budget for the word's length.
    std::vector<std::pair<uint32_t, float>> terms;
    if (auto it = term_id_.find(w); it != term_id_.end()) terms.emplace_back(it->second, 1.0f);
    else {
      const int limit = w.size() >= 8 ? 2 : w.size() >= 4 ? 1 : 0;
      if (limit == 0) {  // short words: prefix match ("piz" finds "pizza")
        if (w.size() >= 3)
          for (uint32_t i = 0; i < vocab_.size(); ++i)
            if (vocab_[i].compare(0, w.size(), w) == 0) terms.emplace_back(i, 0.6f);
      } else {
        int best = limit + 1;
        for (size_t len = w.size() > size_t(limit) ? w.size() - limit : 0; len <= w.size() + limit && len < terms_by_length_.size(); ++len)
          for (uint32_t i : terms_by_length_[len]) {
            const int d = edit_distance(w, vocab_[i], limit);
            if (d > limit) continue;
            if (d < best) { best = d; terms.clear(); }
            if (d == best) terms.emplace_back(i, d == 1 ? 0.75f : 0.5f);
          }
      }
    }
    word_touched.clear();
    for (auto& [tid, factor] : terms)  // a word counts once per token (its best term)
      for (const Posting& p : postings_[tid]) {
        const float v = idf_[tid] * p.weight * factor;
        if (word_best[p.token] == 0.0f) word_touched.push_back(p.token);
        word_best[p.token] = std::max(word_best[p.token], v);
      }
    for (uint32_t t : word_touched) {
      if (matched[t] == 0) touched.push_back(t);
      score[t] += word_best[t];
      matched[t]++;
      word_best[t] = 0.0f;
    }
  }
  std::vector<TextHit> hits;
  if (words.empty()) {  // filters only: rarest first
    for (uint32_t t = 0; t < cat_.tokens.size(); ++t)
      if (passes(t, q.filter)) hits.push_back(TextHit{t, 1.0f / float(std::max<uint32_t>(1, cat_.tokens[t].rarity_rank))});
  } else {
    for (uint32_t t : touched) {
      if (!q.filter.empty() && !passes(t, q.filter)) continue;
      float total = score[t] * float(matched[t]) / float(words.size());  // reward matching more of the query
      // Exact trait phrases: every word of a multi-word trait value appears in the query.
      for (auto& [kk, v] : cat_.tokens[t].traits)
        if (value_words_[v].size() > 1 && contains_all(words, value_words_[v])) total *= 1.25f;
      hits.push_back(TextHit{t, total});
    }
  }
  std::sort(hits.begin(), hits.end(), [](const TextHit& a, const TextHit& b) { return a.score != b.score ? a.score > b.score : a.token < b.token; });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

std::string TextIndex::suggest_json(const std::string& prefix, size_t n) const {
  const auto words = text_words(prefix);
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> counts;  // (type, value) -> tokens
  if (!words.empty()) {
    const std::string& last = words.back();
    for (const Token& t : cat_.tokens)
      for (auto& [k, v] : t.traits)
        for (auto& w : value_words_[v])
          if (w.compare(0, last.size(), last) == 0) { counts[{k, v}]++; break; }
  }
  std::vector<std::pair<std::pair<uint32_t, uint32_t>, uint32_t>> v(counts.begin(), counts.end());
  // Values that also contain the earlier words ("square re" -> "Square Red") first, then by count.
  auto context = [&](uint32_t value) {
    int n = 0;
    for (size_t i = 0; i + 1 < words.size(); ++i)
      n += std::find(value_words_[value].begin(), value_words_[value].end(), words[i]) != value_words_[value].end();
    return n;
  };
  std::stable_sort(v.begin(), v.end(), [&](auto& a, auto& b) {
    const int ca = context(a.first.second), cb = context(b.first.second);
    return ca != cb ? ca > cb : a.second > b.second;
  });
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < v.size() && i < n; ++i)
    out.push_back({{"type", cat_.strings[v[i].first.first]}, {"value", cat_.strings[v[i].first.second]}, {"count", v[i].second}});
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string TextIndex::facets_json(const std::vector<uint32_t>& tokens) const {
  std::map<std::string, std::map<std::string, uint32_t>> f;
  for (uint32_t t : tokens)
    for (auto& [k, v] : cat_.tokens.at(t).traits) f[cat_.strings[k]][cat_.strings[v]]++;
  return nlohmann::json(f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace nftlens
