// Words -> tokens: trait and text search over a bundle's catalogue, identical natively and in wasm.
// Built from the catalogue when a bundle loads (a few ms per 10k tokens), so it adds no bytes to
// the bundle. Handles case, punctuation, camelCase, plurals and misspellings (edit distance 1 on
// words of 4+ letters, 2 on 8+); ranks by matched query words weighted by rarity (idf), field
// (trait value > name > trait type > collection > description) and exact trait phrases.
// Structured filters in the query: `type:value` (e.g. glasses:red, "head":"pizza"),
// `collection:slug`, `rank:1-100` (rarity rank range).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalogue.h"

namespace nftlens {

// Lower-case words of a text: splits on non-alphanumerics and camelCase; plural "s"/"es" dropped.
std::vector<std::string> text_words(const std::string& text);
int edit_distance(const std::string& a, const std::string& b, int limit);

struct TextFilter {
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> traits;  // (type words, value words)
  std::vector<std::string> collections;
  uint32_t rank_min = 0, rank_max = UINT32_MAX;
  // Per trait filter: true if some trait value reads exactly like it, then only that value
  // matches ("square blue" must not also match "square blue med saturated"). Set by resolve().
  std::vector<bool> exact;
  bool empty() const { return traits.empty() && collections.empty() && rank_min == 0 && rank_max == UINT32_MAX; }
};

struct TextQuery {
  std::vector<std::string> words;  // free words
  TextFilter filter;
};
TextQuery parse_text_query(const std::string& query);

struct TextHit {
  uint32_t token;
  float score;
};

class TextIndex {
 public:
  explicit TextIndex(const Catalogue& cat);
  // Ranked tokens for free words within the filter; with no free words, filtered tokens by rarity.
  std::vector<TextHit> search(const std::string& query, size_t k) const;
  std::vector<TextHit> search(const TextQuery& q, size_t k) const;
  // Does a token pass a filter? (also used to restrict image search). Call resolve() first.
  bool passes(uint32_t token, const TextFilter& f) const;
  void resolve(TextFilter& f) const;
  // Trait values starting with the last word typed: [{"type","value","count"}], most common first.
  std::string suggest_json(const std::string& prefix, size_t n) const;
  // Trait type -> value -> count over the given tokens.
  std::string facets_json(const std::vector<uint32_t>& tokens) const;
  size_t terms() const { return vocab_.size(); }
  size_t postings() const;

 private:
  struct Posting { uint32_t token; float weight; };
  const Catalogue& cat_;
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, uint32_t> term_id_;
  std::vector<std::vector<Posting>> postings_;
  std::vector<float> idf_;
  std::vector<std::vector<std::string>> value_words_;  // string table index -> its words (trait values/types)
  std::vector<std::vector<uint32_t>> terms_by_length_;
};

}  // namespace nftlens
