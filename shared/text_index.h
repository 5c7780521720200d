// Words -> tokens: trait and text search over a bundle's catalogue, identical natively and in wasm.
// Built from the catalogue when a bundle loads (10k tokens: ~15 ms natively, ~80 ms in wasm; about
// 220 bytes of memory per token), so it adds no bytes to the bundle; a typed query over 100k
// tokens takes under 1 ms in wasm (bench/text_compare.sh). Handles case, punctuation, camelCase,
// plurals and misspellings (edit distance 1 on words of 4+ letters, 2 on 8+); ranks by matched
// query words weighted by rarity (idf), field (trait value > name > trait type > collection >
// description) and exact trait phrases.
// Structured filters in the query: `type:value` (e.g. glasses:red, "head":"pizza"),
// `collection:slug`, `rank:1-100` (rarity rank range).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalogue.h"
#include "word_chunks.h"

namespace nftlens {

// Lower-case words of a text: splits on non-alphanumerics and camelCase; plural "s"/"es" dropped.
std::vector<std::string> text_words(const std::string& text);
int edit_distance(std::string_view a, std::string_view b, int limit);

struct TextFilter {
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> traits;  // (type words, value words)
  std::vector<std::string> collections;
  uint32_t rank_min = 0, rank_max = UINT32_MAX;
  // Per trait filter: true if some trait value reads exactly like it, then only that value
  // matches ("square blue" must not also match "square blue med saturated"). Set by resolve().
  std::vector<bool> exact;
  // A chunked index (partitioned bundles): per trait filter the trait pairs matching it (set by
  // resolve()), and once their chunks are loaded the tokens carrying them (bind()).
  std::vector<std::vector<uint32_t>> pairs;
  struct Tokens {
    std::vector<std::vector<uint32_t>> sets;               // per trait filter, ascending
    std::vector<std::pair<uint32_t, uint32_t>> ranks;      // (token, rarity rank) of those tokens
  };
  std::shared_ptr<const Tokens> bound;
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
  // Over a whole catalogue (kept by reference): every posting in memory.
  explicit TextIndex(const Catalogue& cat);
  // Over a partitioned bundle's word lexicon (word_chunks.h): the vocabulary in memory, postings
  // as their chunks are added. The same search code runs on both and scores alike; a call
  // whose chunks are not all added throws (ask missing_chunks() first).
  TextIndex(WordLexicon lexicon, std::vector<Collection> collections);
  bool chunked() const { return lex_ != nullptr; }
  const WordLexicon& lexicon() const { return *lex_; }
  // Chunked: the chunks a query, or a resolved filter, needs that are not added yet.
  std::vector<uint32_t> missing_chunks(const TextQuery& q) const;
  std::vector<uint32_t> missing_chunks(const TextFilter& f) const;
  void add_chunk(uint32_t id, WordChunk chunk);
  bool has_chunk(uint32_t id) const { return chunks_.count(id) != 0; }
  // Drop the least recently used chunks beyond `bytes` of postings (never those in `keep`).
  void trim_chunks(size_t bytes, const std::vector<uint32_t>& keep);
  size_t chunk_count() const { return chunks_.size(); }
  // Chunked: the tokens of a resolved filter's trait pairs (their chunks added); a no-op otherwise.
  void bind(TextFilter& f) const;
  // Chunked: trait type -> value -> count for one collection (or all), from the lexicon.
  std::string trait_stats_json(int collection) const;
  // Ranked tokens for free words within the filter; with no free words, filtered tokens by rarity.
  // `total` (if given) gets how many tokens match in all (a word, or the filter alone), not only k.
  std::vector<TextHit> search(const std::string& query, size_t k, size_t* total = nullptr) const;
  std::vector<TextHit> search(const TextQuery& q, size_t k, size_t* total = nullptr) const;
  // Does a token pass a filter? (also used to restrict image search). Call resolve() first.
  bool passes(uint32_t token, const TextFilter& f) const;
  void resolve(TextFilter& f) const;
  // Trait values starting with the last word typed: [{"type","value","count"}], most common first.
  std::string suggest_json(const std::string& prefix, size_t n) const;
  // Trait type -> value -> count over the given tokens.
  std::string facets_json(const std::vector<uint32_t>& tokens) const;
  size_t terms() const { return vocab_off_.size() - 1; }
  size_t postings() const;

 private:
  friend WordParts build_word_parts(const Catalogue&, size_t);
  struct Plan;
  struct PostingView {
    const uint32_t* tok;
    const uint8_t* field;
    uint32_t size;
    float idf;
  };
  Plan plan(const TextQuery& q) const;
  std::vector<TextHit> run(const Plan& p, size_t k, size_t* total) const;
  PostingView postings(uint32_t term) const;
  // Tokens carrying phrase p (once per trait): [*b, *e), in `scratch` when they had to be merged.
  void phrase_tokens(uint32_t p, std::vector<uint32_t>& scratch, const uint32_t*& b, const uint32_t*& e) const;
  std::vector<uint32_t> phrases_starting(const std::string& w) const;
  size_t token_count() const { return cat_ ? cat_->tokens.size() : size_t(lex_->tokens); }
  const std::string& string_at(uint32_t id) const { return cat_ ? cat_->strings[id] : lex_->strings[id]; }
  uint32_t rank_of(uint32_t token, const TextFilter& f) const;
  uint32_t collection_of(uint32_t token) const;  // chunked
  uint32_t numeric_term(std::string_view w) const;  // chunked: an id for a number the lexicon has
  void index_vocabulary();                          // length and prefix buckets of the terms so far
  void index_phrases(const std::vector<uint32_t>& phrase_values);
  const std::vector<std::string>& words_of(uint32_t string_id) const;  // trait types and values only
  uint32_t find_term(std::string_view w) const;  // UINT32_MAX if absent
  uint32_t add_term(std::string_view w);
  __attribute__((always_inline)) std::string_view term(uint32_t id) const {
    if (id >= vocab_off_.size() - 1) return numeric_terms_[id - (vocab_off_.size() - 1)];
    return {vocab_text_.data() + vocab_off_[id], size_t(vocab_off_[id + 1] - vocab_off_[id])};
  }
  // Terms a query word matches, with their factor: exact (1), else nearest within the edit budget
  // (0.75 at distance 1, 0.5 at 2), else for 3-letter words prefixes (0.6).
  std::vector<std::pair<uint32_t, float>> match_terms(const std::string& w) const;

  const Catalogue* cat_ = nullptr;                 // whole-catalogue index
  std::unique_ptr<const WordLexicon> lex_;         // chunked index
  std::vector<Collection> collections_;            // chunked: for collection:slug filters
  std::vector<uint32_t> run_end_;                  // chunked: end token of each collection run
  struct Loaded { WordChunk chunk; mutable uint64_t used; };
  std::map<uint32_t, Loaded> chunks_;
  mutable uint64_t clock_ = 0;
  // Chunked: numbers the lexicon holds as ranges get ids after the listed terms when a query
  // first names them (term(id) reads them here).
  mutable std::vector<std::string> numeric_terms_;
  mutable std::map<std::string, uint32_t, std::less<>> numeric_ids_;
  std::map<std::string, std::vector<uint32_t>, std::less<>> phrase_by_word_;  // chunked
  std::vector<std::vector<uint32_t>> value_pairs_;  // chunked: phrase -> its trait pairs
  // Vocabulary: term texts back to back (vocab_off_: n + 1 offsets) and an open-addressing table
  // of term ids + 1 (0 = empty slot).
  std::string vocab_text_;
  std::vector<uint32_t> vocab_off_{0};
  std::vector<uint32_t> term_slots_;
  // Postings, compressed rows: term t's tokens are post_token_[post_begin_[t] .. post_begin_[t+1]),
  // ascending; post_field_ is the best field each token has the term in (index of its weight).
  std::vector<uint32_t> post_begin_, post_token_;
  std::vector<uint8_t> post_field_;
  std::vector<float> idf_;
  // Fuzzy matching: term ids grouped by length (bucket b = min(length, 48) holds
  // len_term_[len_begin_[b] .. len_begin_[b+1]), digit-only terms last) with a bitmask of the
  // characters each holds (len_mask_, same order): the masks give a lower bound on the edit distance.
  std::vector<uint32_t> len_begin_, len_term_;
  std::vector<uint64_t> len_mask_, len_block_mask_;  // block b: union of len_mask_[32b .. 32b+32)
  // Terms of 4+ bytes by a hash of their first three (3-letter words match as prefixes):
  // bucket b holds prefix_term_[prefix_begin_[b] .. prefix_begin_[b+1]).
  uint32_t prefix_bucket(std::string_view w) const;
  std::vector<uint32_t> prefix_begin_, prefix_term_;
  // Words of the strings used as trait types or values (value_slot_: string id -> row).
  std::vector<uint32_t> value_slot_;
  std::vector<std::vector<std::string>> value_words_;
  // Distinct (type, value) pairs as type << 32 | value, with the number of token traits carrying
  // each (filters, suggestions).
  std::vector<uint64_t> trait_key_;
  std::vector<uint32_t> trait_count_;
  // Multi-word trait values ("phrases"): phrase p is value string phrase_value_[p], carried by
  // phrase_tokens_[phrase_tok_begin_[p] .. phrase_tok_begin_[p+1]) (ascending, a token once per
  // trait with it); the phrases whose first word is term t are
  // phrase_by_term_[phrase_by_term_begin_[t] .. phrase_by_term_begin_[t+1]).
  std::vector<uint32_t> phrase_value_, phrase_tok_begin_, phrase_tokens_, phrase_by_term_begin_, phrase_by_term_;
};

}  // namespace nftlens
