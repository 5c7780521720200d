#include "text_index.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "error.h"

namespace nftlens {

// The wasm module is built with -Oz, which leaves even tiny helpers as calls: the hot paths use raw
// pointers and force-inline their helpers.
#define NFTLENS_INLINE __attribute__((always_inline)) inline

namespace {
// ASCII classes (what <cctype> gives in the "C" locale, without its locale lookups).
NFTLENS_INLINE bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
NFTLENS_INLINE bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
NFTLENS_INLINE bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
NFTLENS_INLINE bool is_alpha(unsigned char c) { return is_lower(c) || is_upper(c); }

// Calls f(word) for each word of a text (see text_words); the view points into a buffer reused
// between calls.
template <class F>
void each_word(std::string_view text, F&& f) {
  if (text.empty()) return;
  std::unique_ptr<char[]> buf(new char[text.size()]);  // no word is longer than the text
  char* cur = buf.get();
  size_t len = 0;
  auto flush = [&] {
    if (len == 0) return;
    // Plurals: "glasses" -> "glass", "earrings" -> "earring", "boxes" -> "box"; keep short words.
    if (len > 4 && cur[len - 1] == 's' && cur[len - 2] == 'e' && (cur[len - 3] == 's' || cur[len - 3] == 'x')) len -= 2;
    else if (len > 3 && cur[len - 1] == 's' && cur[len - 2] != 's') len -= 1;
    f(std::string_view(cur, len));
    len = 0;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (is_alpha(c) || is_digit(c)) {
      // camelCase boundary: lower->Upper, or letter<->digit
      if (len != 0) {
        const unsigned char prev = static_cast<unsigned char>(text[i - 1]);
        if ((is_lower(prev) && is_upper(c)) || (is_alpha(prev) && is_digit(c)) || (is_digit(prev) && is_alpha(c))) flush();
      }
      cur[len++] = is_upper(c) ? char(c - 'A' + 'a') : char(c);
      if (len > 40) flush();  // absurdly long "words" from hostile metadata
    } else if (c >= 0x80) {
      cur[len++] = char(c);  // keep UTF-8 bytes of non-ASCII letters
    } else {
      flush();
    }
  }
  flush();
}
}  // namespace

std::vector<std::string> text_words(const std::string& text) {
  std::vector<std::string> out;
  each_word(text, [&](std::string_view w) { out.emplace_back(w); });
  return out;
}

int edit_distance(std::string_view a, std::string_view b, int limit) {
  const int n = int(a.size()), m = int(b.size());
  if (std::abs(n - m) > limit) return limit + 1;
  int buf[2 * 64];  // two DP rows on the stack for words up to 63 bytes
  std::vector<int> big;
  int* prev = buf;
  int* cur = buf + 64;
  if (m + 1 > 64) {
    big.resize(2 * size_t(m + 1));
    prev = big.data();
    cur = prev + m + 1;
  }
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
// Fields a term occurs in, best first; a posting keeps the best field's index.
enum Field : uint8_t { kValue, kName, kType, kCollection, kDescription };
constexpr float kFieldWeight[] = {2.0f, 1.5f, 0.6f, 0.5f, 0.2f};
constexpr size_t kMaxLengthBucket = 48;
constexpr uint32_t kBlock = 32;  // terms per block of masks

bool contains_all(const std::vector<std::string>& hay, const std::vector<std::string>& needles) {
  for (auto& n : needles)
    if (std::find(hay.begin(), hay.end(), n) == hay.end()) return false;
  return true;
}

NFTLENS_INLINE uint64_t hash_bytes(std::string_view s) {  // FNV-1a
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h ^ (h >> 29);
}

// One bit per character class (a-z, 0-9; other bytes share bits). A word has at least as many edits
// to a term as it has characters whose bit the term lacks, and the other way round.
uint64_t char_mask(std::string_view s) {
  uint64_t m = 0;
  for (unsigned char c : s) {
    const unsigned bit = c >= 'a' && c <= 'z' ? c - 'a' : c >= '0' && c <= '9' ? 26 + (c - '0') : 36 + c % 28;
    m |= uint64_t(1) << bit;
  }
  return m;
}
// Buckets of terms by their first three bytes.
size_t prefix_buckets(size_t terms) {
  size_t n = 16;
  while (n < terms / 4) n *= 2;
  return n;
}
NFTLENS_INLINE int mask_distance_bound(uint64_t a, uint64_t b) {
  return std::max(__builtin_popcountll(a & ~b), __builtin_popcountll(b & ~a));
}
}  // namespace

uint32_t TextIndex::find_term(std::string_view w) const {
  if (term_slots_.empty()) return UINT32_MAX;
  const size_t mask = term_slots_.size() - 1;
  for (size_t i = hash_bytes(w) & mask;; i = (i + 1) & mask) {
    const uint32_t s = term_slots_[i];
    if (s == 0) return UINT32_MAX;
    if (term(s - 1) == w) return s - 1;
  }
}

uint32_t TextIndex::add_term(std::string_view w) {
  const uint32_t n = uint32_t(terms());
  if (size_t(n + 1) * 2 > term_slots_.size()) {  // keep the table at most half full
    term_slots_.assign(std::max<size_t>(64, term_slots_.size() * 2), 0);
    const size_t mask = term_slots_.size() - 1;
    for (uint32_t id = 0; id < n; ++id) {
      size_t i = hash_bytes(term(id)) & mask;
      while (term_slots_[i] != 0) i = (i + 1) & mask;
      term_slots_[i] = id + 1;
    }
  }
  const size_t mask = term_slots_.size() - 1;
  size_t i = hash_bytes(w) & mask;
  for (; term_slots_[i] != 0; i = (i + 1) & mask)
    if (term(term_slots_[i] - 1) == w) return term_slots_[i] - 1;
  term_slots_[i] = n + 1;
  vocab_text_ += w;
  vocab_off_.push_back(uint32_t(vocab_text_.size()));
  return n;
}

uint32_t TextIndex::prefix_bucket(std::string_view w) const {
  uint32_t h = (uint32_t(uint8_t(w[0])) | uint32_t(uint8_t(w[1])) << 8 | uint32_t(uint8_t(w[2])) << 16) * 2654435761u;
  h ^= h >> 15;
  return h & uint32_t(prefix_begin_.size() - 2);  // buckets: a power of two
}

const std::vector<std::string>& TextIndex::words_of(uint32_t string_id) const {
  static const std::vector<std::string> none;
  const uint32_t slot = string_id < value_slot_.size() ? value_slot_[string_id] : UINT32_MAX;
  return slot == UINT32_MAX ? none : value_words_[slot];
}

TextIndex::TextIndex(const Catalogue& cat) : cat_(&cat) {
  const size_t ns = cat.strings.size(), nt = cat.tokens.size();
  // Words of trait types and values (kept).
  value_slot_.assign(ns, UINT32_MAX);
  std::vector<uint32_t> uses(ns, 0);  // tokens using a string as their description
  for (const Token& tk : cat.tokens) {
    for (auto& [k, v] : tk.traits)
      for (uint32_t s : {k, v})
        if (value_slot_[s] == UINT32_MAX) {
          value_slot_[s] = uint32_t(value_words_.size());
          value_words_.push_back(text_words(cat.strings[s]));
        }
    uses[tk.description]++;
  }
  // Terms of each token with the best field it has them in, token after token (a term gets its
  // id when a token first has it, so every term has postings). Trait strings, collections and
  // descriptions shared by several tokens are split once (cached: string id -> row of term ids).
  std::vector<uint32_t> cache_row(ns, UINT32_MAX), coll_row(cat.collections.size(), UINT32_MAX);
  std::vector<std::vector<uint32_t>> cached;
  std::vector<uint32_t> tok_end(nt + 1, 0), tok_terms, seen, pos;
  std::vector<uint8_t> tok_fields;
  auto ids_of = [&](uint32_t& row, const std::string& text) -> const std::vector<uint32_t>& {
    if (row == UINT32_MAX) {
      row = uint32_t(cached.size());
      std::vector<uint32_t> ids;
      for (auto& w : text_words(text)) ids.push_back(add_term(w));
      cached.push_back(std::move(ids));
    }
    return cached[row];
  };
  for (uint32_t t = 0; t < nt; ++t) {
    const Token& tk = cat.tokens[t];
    auto add = [&](uint32_t id, Field f) {
      if (id >= seen.size()) { seen.resize(std::max<size_t>(id + 1, seen.size() * 2), 0); pos.resize(seen.size()); }
      if (seen[id] == t + 1) {
        tok_fields[pos[id]] = std::min<uint8_t>(tok_fields[pos[id]], f);
      } else {
        seen[id] = t + 1;
        pos[id] = uint32_t(tok_terms.size());
        tok_terms.push_back(id);
        tok_fields.push_back(f);
      }
    };
    auto add_all = [&](const std::vector<uint32_t>& ids, Field f) {
      for (uint32_t id : ids) add(id, f);
    };
    auto add_text = [&](const std::string& text, Field f) {
      each_word(text, [&](std::string_view w) { add(add_term(w), f); });
    };
    for (auto& [k, v] : tk.traits) {
      add_all(ids_of(cache_row[v], cat.strings[v]), kValue);
      add_all(ids_of(cache_row[k], cat.strings[k]), kType);
    }
    add_text(tk.name, kName);
    const Collection& c = cat.collections[tk.collection];
    add_all(ids_of(coll_row[tk.collection], c.name + " " + c.slug), kCollection);
    if (uses[tk.description] > 1) add_all(ids_of(cache_row[tk.description], cat.strings[tk.description]), kDescription);
    else add_text(cat.strings[tk.description], kDescription);
    tok_end[t + 1] = uint32_t(tok_terms.size());
  }
  const size_t nterms = terms();
  // Postings in compressed rows, tokens ascending within a term.
  post_begin_.assign(nterms + 1, 0);
  for (uint32_t id : tok_terms) post_begin_[id + 1]++;
  for (size_t i = 0; i < nterms; ++i) post_begin_[i + 1] += post_begin_[i];
  post_token_.resize(tok_terms.size());
  post_field_.resize(tok_terms.size());
  {
    std::vector<uint32_t> fill(post_begin_.begin(), post_begin_.end() - 1);
    for (uint32_t t = 0; t < nt; ++t)
      for (uint32_t j = tok_end[t]; j < tok_end[t + 1]; ++j) {
        const uint32_t at = fill[tok_terms[j]]++;
        post_token_[at] = t;
        post_field_[at] = tok_fields[j];
      }
  }
  std::vector<uint32_t>().swap(tok_terms);
  std::vector<uint8_t>().swap(tok_fields);
  const double n = double(std::max<size_t>(1, nt));
  idf_.resize(nterms);
  for (size_t i = 0; i < nterms; ++i) idf_[i] = float(std::log(1.0 + n / double(post_begin_[i + 1] - post_begin_[i])));
  index_vocabulary();
  // Distinct (type, value) pairs with counts: trait occurrences grouped by value (counting sort),
  // then each value's types told apart with a stamp per type string.
  std::vector<uint32_t> by_value_begin(value_words_.size() + 1, 0), by_value_type;
  for (const Token& tk : cat.tokens)
    for (auto& [k, v] : tk.traits) by_value_begin[value_slot_[v] + 1]++;
  for (size_t i = 0; i < value_words_.size(); ++i) by_value_begin[i + 1] += by_value_begin[i];
  by_value_type.resize(by_value_begin.back());
  std::vector<uint32_t> value_string(value_words_.size(), 0);
  {
    std::vector<uint32_t> fill(by_value_begin.begin(), by_value_begin.end() - 1);
    for (const Token& tk : cat.tokens)
      for (auto& [k, v] : tk.traits) {
        by_value_type[fill[value_slot_[v]]++] = k;
        value_string[value_slot_[v]] = v;
      }
  }
  {
    std::vector<uint32_t> stamp(ns, UINT32_MAX), at(ns, 0);
    for (uint32_t slot = 0; slot < value_words_.size(); ++slot)
      for (uint32_t j = by_value_begin[slot]; j < by_value_begin[slot + 1]; ++j) {
        const uint32_t k = by_value_type[j];
        if (stamp[k] != slot) {
          stamp[k] = slot;
          at[k] = uint32_t(trait_key_.size());
          trait_key_.push_back(uint64_t(k) << 32 | value_string[slot]);
          trait_count_.push_back(0);
        }
        trait_count_[at[k]]++;
      }
  }
  // Multi-word values (phrases): the tokens carrying each, and the phrases by their first word's term.
  std::vector<uint32_t> phrase_of(value_words_.size(), UINT32_MAX);
  for (uint32_t slot = 0; slot < value_words_.size(); ++slot)
    if (value_words_[slot].size() > 1 && by_value_begin[slot + 1] > by_value_begin[slot]) {
      phrase_of[slot] = uint32_t(phrase_value_.size());
      phrase_value_.push_back(value_string[slot]);
      phrase_tok_begin_.push_back(by_value_begin[slot + 1] - by_value_begin[slot]);  // counts for now
    }
  {
    uint32_t sum = 0;  // counts -> row starts
    for (uint32_t& x : phrase_tok_begin_) { const uint32_t c = x; x = sum; sum += c; }
    phrase_tok_begin_.push_back(sum);
    phrase_tokens_.resize(sum);
    std::vector<uint32_t> fill(phrase_tok_begin_.begin(), phrase_tok_begin_.end() - 1);
    for (uint32_t t = 0; t < nt; ++t)
      for (auto& [k, v] : cat.tokens[t].traits)
        if (const uint32_t p = phrase_of[value_slot_[v]]; p != UINT32_MAX) phrase_tokens_[fill[p]++] = t;
  }
  phrase_by_term_begin_.assign(nterms + 1, 0);
  for (uint32_t v : phrase_value_) phrase_by_term_begin_[find_term(words_of(v)[0]) + 1]++;
  for (size_t i = 0; i < nterms; ++i) phrase_by_term_begin_[i + 1] += phrase_by_term_begin_[i];
  phrase_by_term_.resize(phrase_value_.size());
  {
    std::vector<uint32_t> fill(phrase_by_term_begin_.begin(), phrase_by_term_begin_.end() - 1);
    for (uint32_t p = 0; p < phrase_value_.size(); ++p) phrase_by_term_[fill[find_term(words_of(phrase_value_[p])[0])]++] = p;
  }
}

void TextIndex::index_vocabulary() {
  const size_t nterms = terms();
  // Terms by length with their character masks, in each length those with letters before the
  // digit-only ones (numbers, which a word with letters is never near: whole blocks are skipped).
  constexpr uint64_t kDigitBits = uint64_t(1023) << 26;
  auto group = [&](uint32_t id, uint64_t mask) { return std::min(term(id).size(), kMaxLengthBucket) * 2 + ((mask & ~kDigitBits) == 0); };
  std::vector<uint32_t> group_begin(2 * (kMaxLengthBucket + 1) + 1, 0);
  for (uint32_t i = 0; i < nterms; ++i) group_begin[group(i, char_mask(term(i))) + 1]++;
  for (size_t g = 0; g + 1 < group_begin.size(); ++g) group_begin[g + 1] += group_begin[g];
  len_begin_.resize(kMaxLengthBucket + 2);
  for (size_t b = 0; b < len_begin_.size(); ++b) len_begin_[b] = group_begin[2 * b];
  len_term_.resize(nterms);
  len_mask_.resize(nterms);
  for (uint32_t i = 0; i < nterms; ++i) {
    const uint64_t mask = char_mask(term(i));
    const uint32_t at = group_begin[group(i, mask)]++;
    len_term_[at] = i;
    len_mask_[at] = mask;
  }
  len_block_mask_.assign((nterms + kBlock - 1) / kBlock, 0);
  for (size_t i = 0; i < nterms; ++i) len_block_mask_[i / kBlock] |= len_mask_[i];
  // 3-letter words match as prefixes: terms of 4+ bytes by their first three.
  prefix_begin_.assign(prefix_buckets(nterms) + 1, 0);
  for (uint32_t i = 0; i < nterms; ++i)
    if (term(i).size() > 3) prefix_begin_[prefix_bucket(term(i)) + 1]++;
  for (size_t b = 0; b + 1 < prefix_begin_.size(); ++b) prefix_begin_[b + 1] += prefix_begin_[b];
  prefix_term_.resize(prefix_begin_.back());
  {
    std::vector<uint32_t> fill(prefix_begin_.begin(), prefix_begin_.end() - 1);
    for (uint32_t i = 0; i < nterms; ++i)
      if (term(i).size() > 3) prefix_term_[fill[prefix_bucket(term(i))]++] = i;
  }
}

size_t TextIndex::postings() const { return post_token_.size(); }

// ---- The chunked index (a partitioned bundle's lexicon; postings arrive as chunks) ----

TextIndex::TextIndex(WordLexicon lexicon, std::vector<Collection> collections)
    : lex_(std::make_unique<const WordLexicon>(std::move(lexicon))), collections_(std::move(collections)) {
  const WordLexicon& L = *lex_;
  for (auto& [c, n] : L.collection_runs) {
    if (c >= collections_.size()) throw Error("word lexicon: a token's collection is missing");
    run_end_.push_back((run_end_.empty() ? 0 : run_end_.back()) + n);
  }
  for (auto& c : L.counts)
    if (c.collection >= collections_.size()) throw Error("word lexicon: a trait count's collection is missing");
  for (auto& t : L.terms) add_term(t);
  index_vocabulary();
  // Every lexicon string is a trait type or value: its words, by its own id.
  value_slot_.resize(L.strings.size());
  for (uint32_t s = 0; s < L.strings.size(); ++s) {
    value_slot_[s] = s;
    value_words_.push_back(text_words(L.strings[s]));
  }
  trait_key_.resize(L.pairs.size());
  trait_count_.assign(L.pairs.size(), 0);
  for (uint32_t p = 0; p < L.pairs.size(); ++p) trait_key_[p] = uint64_t(L.pairs[p].first) << 32 | L.pairs[p].second;
  for (auto& c : L.counts) trait_count_[c.pair] += c.count;
  // Phrases: multi-word values some trait carries; their tokens are the merged postings of the
  // pairs with that value.
  std::map<uint32_t, uint32_t> phrase_of;
  for (uint32_t p = 0; p < L.pairs.size(); ++p) {
    const uint32_t v = L.pairs[p].second;
    if (value_words_[v].size() < 2 || trait_count_[p] == 0) continue;
    auto [it, fresh] = phrase_of.try_emplace(v, uint32_t(phrase_value_.size()));
    if (fresh) {
      phrase_value_.push_back(v);
      value_pairs_.emplace_back();
      phrase_by_word_[value_words_[v][0]].push_back(it->second);
    }
    value_pairs_[it->second].push_back(p);
  }
}

uint32_t TextIndex::numeric_term(std::string_view w) const {
  if (auto it = numeric_ids_.find(w); it != numeric_ids_.end()) return it->second;
  const uint32_t id = uint32_t(terms() + numeric_terms_.size());
  numeric_terms_.emplace_back(w);
  numeric_ids_.emplace(std::string(w), id);
  return id;
}

uint32_t TextIndex::collection_of(uint32_t token) const {
  const size_t r = size_t(std::upper_bound(run_end_.begin(), run_end_.end(), token) - run_end_.begin());
  return lex_->collection_runs.at(r).first;
}

TextIndex::PostingView TextIndex::postings(uint32_t id) const {
  if (!lex_) {
    const uint32_t b = post_begin_[id];
    return {post_token_.data() + b, post_field_.data() + b, post_begin_[id + 1] - b, idf_[id]};
  }
  const std::string_view t = term(id);
  const uint32_t c = lex_->chunk_of_term(t);
  auto it = chunks_.find(c);
  if (it == chunks_.end()) throw Error("word chunk " + std::to_string(c) + " is not loaded");
  it->second.used = clock_;
  const WordChunk& ch = it->second.chunk;
  auto at = std::lower_bound(ch.terms.begin(), ch.terms.end(), t, [](const std::string& x, std::string_view y) { return x < y; });
  if (at == ch.terms.end() || *at != t) return {nullptr, nullptr, 0, 0.0f};  // (a damaged lexicon: no postings)
  const size_t r = size_t(at - ch.terms.begin());
  const uint32_t b = ch.begin[r], n = ch.begin[r + 1] - b;
  // (the formula of the whole-catalogue index, so scores are equal)
  const double nt = double(std::max<size_t>(1, token_count()));
  return {ch.tokens.data() + b, ch.fields.data() + b, n, float(std::log(1.0 + nt / double(n)))};
}

void TextIndex::phrase_tokens(uint32_t p, std::vector<uint32_t>& scratch, const uint32_t*& b, const uint32_t*& e) const {
  if (!lex_) {
    b = phrase_tokens_.data() + phrase_tok_begin_[p];
    e = phrase_tokens_.data() + phrase_tok_begin_[p + 1];
    return;
  }
  scratch.clear();
  std::vector<uint32_t> merged;
  for (uint32_t pair : value_pairs_[p]) {
    auto it = chunks_.find(lex_->chunk_of_pair(pair));
    if (it == chunks_.end()) throw Error("trait chunk for pair " + std::to_string(pair) + " is not loaded");
    const WordChunk& ch = it->second.chunk;
    const uint32_t r = pair - ch.first_pair;
    merged.clear();
    std::merge(scratch.begin(), scratch.end(), ch.tokens.begin() + ch.begin[r], ch.tokens.begin() + ch.begin[r + 1], std::back_inserter(merged));
    scratch.swap(merged);
  }
  b = scratch.data();
  e = scratch.data() + scratch.size();
}

std::vector<uint32_t> TextIndex::phrases_starting(const std::string& w) const {
  if (lex_) {
    auto it = phrase_by_word_.find(w);
    return it == phrase_by_word_.end() ? std::vector<uint32_t>() : it->second;
  }
  const uint32_t id = find_term(w);
  if (id == UINT32_MAX) return {};
  return std::vector<uint32_t>(phrase_by_term_.begin() + phrase_by_term_begin_[id], phrase_by_term_.begin() + phrase_by_term_begin_[id + 1]);
}

void TextIndex::add_chunk(uint32_t id, WordChunk chunk) {
  if (!lex_) throw Error("word chunks belong to a partitioned bundle's index", errc::bad_request);
  chunks_[id] = Loaded{std::move(chunk), ++clock_};
}

void TextIndex::trim_chunks(size_t bytes, const std::vector<uint32_t>& keep) {
  size_t total = 0;
  for (auto& [id, c] : chunks_) total += c.chunk.memory();
  while (total > bytes) {
    auto victim = chunks_.end();
    for (auto it = chunks_.begin(); it != chunks_.end(); ++it)
      if (std::find(keep.begin(), keep.end(), it->first) == keep.end() && (victim == chunks_.end() || it->second.used < victim->second.used)) victim = it;
    if (victim == chunks_.end()) return;
    total -= victim->second.chunk.memory();
    chunks_.erase(victim);
  }
}

uint32_t TextIndex::rank_of(uint32_t token, const TextFilter& f) const {
  if (!lex_) return cat_->tokens.at(token).rarity_rank;
  const auto& r = f.bound->ranks;
  auto it = std::lower_bound(r.begin(), r.end(), std::make_pair(token, uint32_t(0)));
  return it != r.end() && it->first == token ? it->second : 0;
}

void TextIndex::bind(TextFilter& f) const {
  if (!lex_ || f.bound) return;
  auto bound = std::make_shared<TextFilter::Tokens>();
  for (auto& pairs : f.pairs) {
    std::vector<uint32_t> set;
    for (uint32_t pair : pairs) {
      auto it = chunks_.find(lex_->chunk_of_pair(pair));
      if (it == chunks_.end()) throw Error("trait chunk for pair " + std::to_string(pair) + " is not loaded");
      const WordChunk& ch = it->second.chunk;
      const uint32_t r = pair - ch.first_pair;
      for (uint32_t j = ch.begin[r]; j < ch.begin[r + 1]; ++j) {
        set.push_back(ch.tokens[j]);
        bound->ranks.push_back({ch.tokens[j], ch.ranks[j]});
      }
    }
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    bound->sets.push_back(std::move(set));
  }
  std::sort(bound->ranks.begin(), bound->ranks.end());
  bound->ranks.erase(std::unique(bound->ranks.begin(), bound->ranks.end()), bound->ranks.end());
  f.bound = std::move(bound);
}

std::vector<uint32_t> TextIndex::missing_chunks(const TextFilter& f) const {
  std::vector<uint32_t> out;
  if (!lex_) return out;
  for (auto& pairs : f.pairs)
    for (uint32_t p : pairs)
      if (const uint32_t c = lex_->chunk_of_pair(p); !has_chunk(c) && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

std::string TextIndex::trait_stats_json(int collection) const {
  std::map<std::string, std::map<std::string, uint32_t>> counts;  // (as TraitCounts)
  for (auto& c : lex_->counts)
    if (collection < 0 || c.collection == uint32_t(collection)) counts[lex_->strings[lex_->pairs[c.pair].first]][lex_->strings[lex_->pairs[c.pair].second]] += c.count;
  return nlohmann::json(counts).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---- Filters ----

void TextIndex::resolve(TextFilter& f) const {
  // Exact when some trait of a matching type has exactly this value.
  f.exact.assign(f.traits.size(), false);
  for (size_t i = 0; i < f.traits.size(); ++i)
    for (uint64_t key : trait_key_)
      if (words_of(uint32_t(key)) == f.traits[i].second && contains_all(words_of(uint32_t(key >> 32)), f.traits[i].first)) { f.exact[i] = true; break; }
  if (!lex_) return;
  // Chunked: the pairs each trait filter accepts (their postings are its tokens); a rank has to
  // come from those postings, so a rank range needs a trait filter beside it.
  if ((f.rank_min != 0 || f.rank_max != UINT32_MAX) && f.traits.empty())
    throw Error("rank:A-B on a partitioned bundle this large needs a trait filter too (type:value): the browser does not load every token's rank",
                errc::unsupported);
  f.pairs.assign(f.traits.size(), {});
  f.bound.reset();
  for (size_t i = 0; i < f.traits.size(); ++i)
    for (uint32_t p = 0; p < trait_key_.size(); ++p) {
      const auto& [type, value] = f.traits[i];
      const uint64_t key = trait_key_[p];
      const auto& vw = words_of(uint32_t(key));
      if (contains_all(words_of(uint32_t(key >> 32)), type) && (f.exact[i] ? vw == value : contains_all(vw, value))) f.pairs[i].push_back(p);
    }
}

bool TextIndex::passes(uint32_t token, const TextFilter& f) const {
  if (lex_) {
    if (!f.bound) throw Error("filter not bound to its chunks");
    if (f.rank_min != 0 || f.rank_max != UINT32_MAX) {
      const uint32_t rank = rank_of(token, f);
      if (rank < f.rank_min || rank > f.rank_max) return false;
    }
    if (!f.collections.empty() &&
        std::find(f.collections.begin(), f.collections.end(), collections_[collection_of(token)].slug) == f.collections.end())
      return false;
    for (auto& set : f.bound->sets)
      if (!std::binary_search(set.begin(), set.end(), token)) return false;
    return true;
  }
  const Token& tk = cat_->tokens.at(token);
  if (tk.rarity_rank < f.rank_min || tk.rarity_rank > f.rank_max) return false;
  if (!f.collections.empty() &&
      std::find(f.collections.begin(), f.collections.end(), cat_->collections[tk.collection].slug) == f.collections.end())
    return false;
  for (size_t i = 0; i < f.traits.size(); ++i) {
    const auto& [type, value] = f.traits[i];
    const bool exact = i < f.exact.size() && f.exact[i];
    bool ok = false;
    for (auto& [k, v] : tk.traits)
      if (contains_all(words_of(k), type) && (exact ? words_of(v) == value : contains_all(words_of(v), value))) { ok = true; break; }
    if (!ok) return false;
  }
  return true;
}

// ---- Matching words to terms ----

namespace {
// Strings one edit from w (deletions; digits substituted or inserted): a number within edit
// distance d of w is reached by d such edits, since what edits insert is the number's own digits.
void digit_edits(const std::string& w, std::vector<std::string>& out) {
  for (size_t i = 0; i < w.size(); ++i) out.push_back(w.substr(0, i) + w.substr(i + 1));
  for (size_t i = 0; i <= w.size(); ++i)
    for (char c = '0'; c <= '9'; ++c) {
      out.push_back(w.substr(0, i) + c + w.substr(i));
      if (i < w.size() && w[i] != c) out.push_back(w.substr(0, i) + c + w.substr(i + 1));
    }
}
}  // namespace

std::vector<std::pair<uint32_t, float>> TextIndex::match_terms(const std::string& w) const {
  std::vector<std::pair<uint32_t, float>> terms;
  if (const uint32_t id = find_term(w); id != UINT32_MAX) {
    terms.emplace_back(id, 1.0f);
    return terms;
  }
  if (lex_ && is_numeric_term(w) && lex_->has_numeric(w)) {
    terms.emplace_back(numeric_term(w), 1.0f);
    return terms;
  }
  const int limit = w.size() >= 8 ? 2 : w.size() >= 4 ? 1 : 0;
  if (limit == 0) {  // short words: prefix match ("piz" finds "pizza")
    if (w.size() == 3) {  // (longer words have an edit budget; 4+-byte terms are bucketed by prefix)
      const uint32_t b = prefix_bucket(w);
      for (uint32_t i = prefix_begin_[b]; i < prefix_begin_[b + 1]; ++i)
        if (term(prefix_term_[i]).substr(0, 3) == w) terms.emplace_back(prefix_term_[i], 0.6f);
      if (lex_ && is_numeric_term(w)) {  // chunked: the numbers starting with w, from their ranges
        const uint64_t p = std::stoull(w);
        uint64_t scale = 1;
        for (size_t d = 4; d < lex_->numeric.size(); ++d) {
          scale *= 10;
          for (auto& [lo, hi] : lex_->numeric[d]) {
            const uint64_t a = std::max(lo, p * scale), z = std::min(hi, (p + 1) * scale - 1);
            for (uint64_t v = a; v <= z && a <= z; ++v) {
              std::string s = std::to_string(v);
              terms.emplace_back(numeric_term(std::string(d - s.size(), '0') + s), 0.6f);
            }
          }
        }
      }
    }
    return terms;
  }
  // The closest terms within the edit budget for the word's length.
  const uint64_t wm = char_mask(w);
  int best = limit + 1;
  for (size_t len = w.size() > size_t(limit) ? w.size() - limit : 0; len <= w.size() + limit && len <= kMaxLengthBucket; ++len)
    for (uint32_t i = len_begin_[len], end = len_begin_[len + 1]; i < end; ++i) {
      const int cap = std::min(best, limit);  // farther terms are never kept
      if (i % kBlock == 0 && __builtin_popcountll(wm & ~len_block_mask_[i / kBlock]) > cap) {  // no term of the block is near
        i += kBlock - 1;
        continue;
      }
      if (mask_distance_bound(wm, len_mask_[i]) > cap) continue;
      const int d = edit_distance(w, term(len_term_[i]), cap);
      if (d > cap) continue;
      if (d < best) { best = d; terms.clear(); }
      terms.emplace_back(len_term_[i], d == 1 ? 0.75f : 0.5f);
    }
  // Chunked: the numbers the lexicon keeps as ranges, by enumerating w's edits (only a word of at
  // most `limit` non-digits can be that near a number).
  if (lex_ && size_t(std::count_if(w.begin(), w.end(), [](char c) { return c < '0' || c > '9'; })) <= size_t(limit)) {
    std::vector<std::string> level{w}, next;
    for (int d = 1; d <= limit && d <= best; ++d) {
      next.clear();
      for (auto& s : level) digit_edits(s, next);
      std::sort(next.begin(), next.end());
      next.erase(std::unique(next.begin(), next.end()), next.end());
      bool found = false;
      for (auto& s : next)
        if (is_numeric_term(s) && lex_->has_numeric(s) && edit_distance(w, s, d) == d) {
          if (d < best) { best = d; terms.clear(); }
          terms.emplace_back(numeric_term(s), d == 1 ? 0.75f : 0.5f);
          found = true;
        }
      if (found) break;
      level.swap(next);
    }
  }
  return terms;
}

// ---- Search ----

struct TextIndex::Plan {
  TextQuery q;                     // its filter resolved
  std::vector<std::string> words;  // free words, each once
  std::vector<std::vector<std::pair<uint32_t, float>>> word_terms;
  std::vector<uint32_t> phrases;   // multi-word trait values every word of which the query has
};

TextIndex::Plan TextIndex::plan(const TextQuery& query) const {
  Plan p;
  p.q = query;
  resolve(p.q.filter);
  for (auto& w : p.q.words)  // repeated words count once
    if (std::find(p.words.begin(), p.words.end(), w) == p.words.end()) p.words.push_back(w);
  if (lex_ && p.words.empty() && p.q.filter.traits.empty())
    throw Error("on a partitioned bundle this large a search needs words or a trait filter (type:value)", errc::unsupported);
  for (const std::string& w : p.words) p.word_terms.push_back(match_terms(w));
  // Exact trait phrases: such a value's first word is one of the query's words.
  for (const std::string& w : p.words)
    for (uint32_t ph : phrases_starting(w))
      if (contains_all(p.words, words_of(phrase_value_[ph]))) p.phrases.push_back(ph);
  return p;
}

std::vector<uint32_t> TextIndex::missing_chunks(const TextQuery& q) const {
  if (!lex_) return {};
  const Plan p = plan(q);
  std::vector<uint32_t> out = missing_chunks(p.q.filter);
  auto want = [&](uint32_t c) {
    if (!has_chunk(c) && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  };
  for (auto& terms : p.word_terms)
    for (auto& [id, factor] : terms) want(lex_->chunk_of_term(term(id)));
  for (uint32_t ph : p.phrases)
    for (uint32_t pair : value_pairs_[ph]) want(lex_->chunk_of_pair(pair));
  return out;
}

std::vector<TextHit> TextIndex::search(const std::string& query, size_t k, size_t* total) const {
  return search(parse_text_query(query), k, total);
}

std::vector<TextHit> TextIndex::search(const TextQuery& query, size_t k, size_t* total) const {
  if (total) *total = 0;
  if (k == 0 && !total) return {};
  ++clock_;
  Plan p = plan(query);
  bind(p.q.filter);
  return run(p, k, total);
}

std::vector<TextHit> TextIndex::run(const Plan& plan, size_t k, size_t* total) const {
  const TextQuery& q = plan.q;
  const std::vector<std::string>& words = plan.words;
  // The k best as a heap whose front is the worst kept (same order as sorting every hit).
  auto better = [](const TextHit& a, const TextHit& b) { return a.score != b.score ? a.score > b.score : a.token < b.token; };
  std::vector<TextHit> top;
  auto offer = [&](TextHit h) {
    if (top.size() < k) {
      top.push_back(h);
      std::push_heap(top.begin(), top.end(), better);
    } else if (better(h, top.front())) {
      std::pop_heap(top.begin(), top.end(), better);
      top.back() = h;
      std::push_heap(top.begin(), top.end(), better);
    }
  };
  auto hopeless = [&](float score) { return top.size() == k && score < top.front().score; };  // cannot enter the top k
  auto result = [&] {
    std::sort_heap(top.begin(), top.end(), better);
    return top;
  };
  const size_t n = token_count();
  if (words.empty()) {  // filters only: rarest first
    // (chunked: the tokens of the smallest trait filter, the only ones that can pass)
    const std::vector<uint32_t>* cands = nullptr;
    if (lex_)
      for (auto& set : q.filter.bound->sets)
        if (!cands || set.size() < cands->size()) cands = &set;
    for (size_t i = 0, end = cands ? cands->size() : n; i < end; ++i) {
      const uint32_t t = cands ? (*cands)[i] : uint32_t(i);
      const float score = 1.0f / float(std::max<uint32_t>(1, rank_of(t, q.filter)));
      if (total) {  // (every token's filter is evaluated to count them)
        if (!passes(t, q.filter)) continue;
        ++*total;
        if (k > 0 && !hopeless(score)) offer(TextHit{t, score});
      } else if (!hopeless(score) && passes(t, q.filter)) {
        offer(TextHit{t, score});
      }
    }
    return result();
  }
  // Each word's terms; the postings they cover choose between a list of the tokens touched
  // (few) and a scan of every token (many).
  const auto& word_terms = plan.word_terms;
  size_t volume = 0;
  for (auto& terms : word_terms)
    for (auto& [id, factor] : terms) volume += postings(id).size;
  const bool dense = volume >= n / 8;
  // Per-token accumulators; per word, its best term's idf x field weight x match factor.
  std::unique_ptr<float[]> score_buf(new float[n]()), word_best_buf;
  std::unique_ptr<uint16_t[]> matched_buf(new uint16_t[n]());
  float* const score = score_buf.get();
  uint16_t* const matched = matched_buf.get();
  float* word_best = nullptr;
  std::vector<uint32_t> touched, word_touched;
  for (const auto& terms : word_terms) {
    if (terms.size() == 1) {  // one term: each token is in its postings once
      const auto [id, factor] = terms[0];
      const PostingView pv = postings(id);
      float value[std::size(kFieldWeight)];
      for (size_t f = 0; f < std::size(kFieldWeight); ++f) value[f] = pv.idf * kFieldWeight[f] * factor;
      const uint32_t* const tok = pv.tok;
      const uint8_t* const field = pv.field;
      const uint32_t b = 0, e = pv.size;
      if (dense) {
        for (uint32_t i = b; i < e; ++i) {
          const uint32_t t = tok[i];
          score[t] += value[field[i]];
          matched[t]++;
        }
      } else {
        for (uint32_t i = b; i < e; ++i) {
          const uint32_t t = tok[i];
          if (matched[t] == 0) touched.push_back(t);
          score[t] += value[field[i]];
          matched[t]++;
        }
      }
      continue;
    }
    if (terms.empty()) continue;
    if (!word_best) {
      word_best_buf.reset(new float[n]());
      word_best = word_best_buf.get();
    }
    size_t word_volume = 0;
    for (auto& [id, factor] : terms) word_volume += postings(id).size;
    const bool sweep = word_volume >= n / 8;  // (then the query is dense too)
    word_touched.clear();
    for (auto& [id, factor] : terms) {  // a word counts once per token (its best term)
      const PostingView pv = postings(id);
      for (uint32_t i = 0; i < pv.size; ++i) {
        const uint32_t t = pv.tok[i];
        const float v = pv.idf * kFieldWeight[pv.field[i]] * factor;
        if (!sweep && word_best[t] == 0.0f) word_touched.push_back(t);
        if (v > word_best[t]) word_best[t] = v;
      }
    }
    auto settle = [&](uint32_t t) {
      if (matched[t] == 0 && !dense) touched.push_back(t);
      score[t] += word_best[t];
      matched[t]++;
      word_best[t] = 0.0f;
    };
    if (sweep) {
      for (uint32_t t = 0; t < n; ++t)
        if (word_best[t] != 0.0f) settle(t);
    } else {
      for (uint32_t t : word_touched) settle(t);
    }
  }
  // Exact trait phrases: every word of a multi-word trait value appears in the query (x1.25 per
  // trait carrying one). Such a value's first word is one of the query's words.
  std::vector<uint32_t> with, merged, scratch;  // tokens carrying them, ascending, once per trait
  for (uint32_t p : plan.phrases) {
    const uint32_t *b, *e;
    phrase_tokens(p, scratch, b, e);
    merged.clear();
    std::merge(with.begin(), with.end(), b, e, std::back_inserter(merged));
    with.swap(merged);
  }
  const float nw = float(words.size());
  const bool filtered = !q.filter.empty();
  float floor = -1.0f;  // the k-th best total so far (totals are > 0)
  // A matching token with its total: offered unless below the k-th best so far (then, when
  // counting, its filter is still checked).
  auto take = [&](uint32_t t, float sum) {
    if (sum < floor && !total) return;
    if (filtered && !passes(t, q.filter)) return;
    if (total) ++*total;
    if (sum < floor || k == 0) return;
    offer(TextHit{t, sum});
    if (top.size() == k) floor = top.front().score;
  };
  // Tokens with phrases first, then marked done (matched = 0).
  for (size_t i = 0, j; i < with.size(); i = j) {
    const uint32_t t = with[i];
    for (j = i + 1; j < with.size() && with[j] == t; ++j) {}
    if (matched[t] == 0) continue;
    float sum = score[t] * float(matched[t]) / nw;  // reward matching more of the query
    for (size_t b = i; b < j; ++b) sum *= 1.25f;    // one per trait carrying a phrase
    take(t, sum);
    matched[t] = 0;
  }
  // Every other touched token: its total, offered unless below the k-th best so far.
  if (dense) {
    for (uint32_t t = 0; t < n; ++t)
      if (matched[t] != 0) take(t, score[t] * float(matched[t]) / nw);
  } else {
    for (uint32_t t : touched)
      if (matched[t] != 0) take(t, score[t] * float(matched[t]) / nw);
  }
  return result();
}

std::string TextIndex::suggest_json(const std::string& prefix, size_t n) const {
  const auto words = text_words(prefix);
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> counts;  // (type, value) -> tokens
  if (!words.empty()) {
    const std::string& last = words.back();
    for (size_t i = 0; i < trait_key_.size(); ++i)
      for (auto& w : words_of(uint32_t(trait_key_[i])))
        if (w.compare(0, last.size(), last) == 0) { counts[{uint32_t(trait_key_[i] >> 32), uint32_t(trait_key_[i])}] += trait_count_[i]; break; }
  }
  std::vector<std::pair<std::pair<uint32_t, uint32_t>, uint32_t>> v(counts.begin(), counts.end());
  // Values that also contain the earlier words ("square re" -> "Square Red") first, then by count.
  auto context = [&](uint32_t value) {
    int n = 0;
    const auto& vw = words_of(value);
    for (size_t i = 0; i + 1 < words.size(); ++i) n += std::find(vw.begin(), vw.end(), words[i]) != vw.end();
    return n;
  };
  std::stable_sort(v.begin(), v.end(), [&](auto& a, auto& b) {
    const int ca = context(a.first.second), cb = context(b.first.second);
    return ca != cb ? ca > cb : a.second > b.second;
  });
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < v.size() && i < n; ++i)
    out.push_back({{"type", string_at(v[i].first.first)}, {"value", string_at(v[i].first.second)}, {"count", v[i].second}});
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string TextIndex::facets_json(const std::vector<uint32_t>& tokens) const {
  if (!cat_) throw Error("facets of a partitioned bundle come from its catalogue fragments");
  TraitCounts f;
  for (uint32_t t : tokens) f.add(*cat_, cat_->tokens.at(t));
  return f.json();
}

}  // namespace nftlens
