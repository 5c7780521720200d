// The word index of a partitioned bundle, split Pagefind-style so a text query fetches only the
// parts its words need:
//   lexicon.<hash>.bin   fetched once, at the first text call: every term that is not a plain
//                        number (sorted, front-coded), the numbers as ranges per digit count (a
//                        million token names "Noun 123456" cost a few bytes, not megabytes), where
//                        each chunk starts, the trait types/values with per-collection counts
//                        (filters, suggestions, statistics), phrases and the tokens' collections.
//   words.<hash>.bin     a chunk: the postings (token, best field) of a run of sorted terms, or
//                        the postings (token, rarity rank) of a run of distinct trait pairs.
// Both are listed (size + SHA-256 prefix) in the partition table and checked before parsing.
// The builder writes them from a TextIndex built over the whole catalogue, and the browser's
// TextIndex over a lexicon scores exactly as that one would (shared/text_index.h).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalogue.h"

namespace nftlens {

// Plain numbers of up to 18 digits are stored as ranges, not strings.
constexpr size_t kMaxNumericDigits = 18;
bool is_numeric_term(std::string_view w);

struct WordLexicon {
  uint64_t tokens = 0;
  std::vector<std::string> terms;  // every other term, sorted
  // numeric[d]: the numbers written with d digits (leading zeros count), as sorted inclusive ranges.
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> numeric;
  // Word chunk c holds the terms t with chunk_first[c] <= t < chunk_first[c + 1] (byte order).
  std::vector<std::string> chunk_first;
  // Trait types and values (in the order a joined catalogue interns them), distinct (type, value)
  // pairs in the trait chunks' order, and how many token traits carry each, per collection.
  std::vector<std::string> strings;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  struct Count { uint32_t pair, collection, count; };
  std::vector<Count> counts;
  std::vector<uint32_t> pair_chunk_first;  // trait chunk c holds pairs [first[c], first[c + 1])
  std::vector<std::pair<uint32_t, uint32_t>> collection_runs;  // (collection, tokens) in token order

  size_t word_chunks() const { return chunk_first.size(); }
  size_t chunks() const { return chunk_first.size() + pair_chunk_first.size(); }
  bool has_numeric(std::string_view w) const;  // w must be numeric
  uint32_t chunk_of_term(std::string_view term) const;
  uint32_t chunk_of_pair(uint32_t pair) const;  // (an id after the word chunks)

  std::vector<uint8_t> encode() const;
  static WordLexicon decode(const uint8_t* data, size_t size, const std::string& where);
};

// One chunk, decoded: postings in compressed rows (row i: tokens[begin[i] .. begin[i + 1])).
struct WordChunk {
  bool traits = false;             // false: terms with fields; true: trait pairs with ranks
  uint32_t first_pair = 0;         // trait chunks: the pair of row 0
  std::vector<std::string> terms;  // word chunks: row i's term, sorted
  std::vector<uint32_t> begin{0}, tokens;
  std::vector<uint8_t> fields;   // word chunks: the best field of each posting
  std::vector<uint32_t> ranks;   // trait chunks: each posting's rarity rank
  size_t memory() const { return tokens.size() * 5 + ranks.size() * 4 + terms.size() * 24; }
  // Checks the chunk against the lexicon (its id, its terms or pairs inside the chunk's range).
  static WordChunk decode(const uint8_t* data, size_t size, const WordLexicon& lex, uint32_t id, const std::string& where);
};

// Builder side: the lexicon and every chunk (word chunks first, then trait chunks), each about
// `target_bytes` (a term whose postings are larger gets a chunk of its own).
struct WordParts {
  std::vector<uint8_t> lexicon;
  std::vector<std::vector<uint8_t>> chunks;
};
WordParts build_word_parts(const Catalogue& whole, size_t target_bytes = 16 << 10);

}  // namespace nftlens
