// The word index in chunks (shared/word_chunks.h): a TextIndex over the lexicon plus the chunks a
// query asks for gives exactly the whole-catalogue index's results (ids, scores, totals),
// suggestions and statistics; damaged parts are refused by name.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <random>

#include "catalogue.h"
#include "error.h"
#include "helpers.h"
#include "text_index.h"
#include "word_chunks.h"

using namespace nftlens;
using testutil::contains;
using testutil::error_of;

namespace {
// Numbers in names (every id a term), shared and unique descriptions, multi-word values, a value
// under several types, a token carrying one pair twice, non-ASCII and digit-bearing values.
Catalogue numbered_catalogue(uint32_t seed, size_t tokens) {
  std::mt19937 rng(seed);
  Catalogue c;
  Collection a, b;
  a.slug = "alpha-set", a.name = "Alpha Things";
  b.slug = "beta", b.name = "Beta Glasses";
  c.collections = {a, b};
  const char* types[] = {"Background", "Head", "Glasses", "Accessory", "Body Color"};
  const char* values[] = {"Cool", "Warm", "Pizza", "Shark", "Square Red", "Square Blue Med Saturated", "Square Blue", "Tie Red",
                          "Rainbow", "Rainbow Steps", "None", "Watermelon", "Bling Anchor", "Deep Teal", "Red", "Grayscale 1",
                          "1 Eye", "Earrings Gold", "\xc3\xa9t\xc3\xa9 Caf\xc3\xa9", "Level 0042", "x\x80" "12"};
  const uint32_t shared = c.intern("A thing from the example set.");
  for (size_t i = 0; i < tokens; ++i) {
    Token t;
    t.collection = i < tokens / 3 ? 0 : i < 2 * tokens / 3 ? 1 : 0;  // runs of collections
    t.token_id = std::to_string(i);
    t.name = (rng() % 5 ? "Thing " : "ThingSpecial #") + std::to_string(i * 7 + 3);
    t.description = rng() % 3 ? shared : c.intern("Unique words number " + std::to_string(rng() % 100000) + " zebra" + std::to_string(rng() % 7));
    const size_t nt = 1 + rng() % 5;
    for (size_t j = 0; j < nt; ++j) t.traits.emplace_back(c.intern(types[rng() % std::size(types)]), c.intern(values[rng() % std::size(values)]));
    if (rng() % 17 == 0) t.traits.push_back(t.traits[0]);
    c.tokens.push_back(t);
  }
  c.entry_token.resize(c.tokens.size());
  for (size_t i = 0; i < c.tokens.size(); ++i) c.entry_token[i] = uint32_t(i);
  c.compute_rarity();
  return c;
}

struct Chunked {
  WordParts parts;
  WordLexicon lexicon() const { return WordLexicon::decode(parts.lexicon.data(), parts.lexicon.size(), "lexicon.bin"); }
  // A fresh index holding only the chunks `q` asks for (so a missing one would show).
  std::unique_ptr<TextIndex> for_query(const Catalogue& c, const TextQuery& q, size_t* fetched = nullptr) const {
    auto idx = std::make_unique<TextIndex>(lexicon(), c.collections);
    const WordLexicon& L = idx->lexicon();
    for (uint32_t id : idx->missing_chunks(q)) {
      idx->add_chunk(id, WordChunk::decode(parts.chunks[id].data(), parts.chunks[id].size(), L, id, "words.bin"));
      if (fetched) ++*fetched;
    }
    CHECK(idx->missing_chunks(q).empty());
    return idx;
  }
};
}  // namespace

TEST_CASE("word chunks: numbers are ranges, chunks cover the sorted terms, parts round-trip") {
  const Catalogue c = numbered_catalogue(5, 400);
  const Chunked ch{build_word_parts(c, 512)};
  const WordLexicon L = ch.lexicon();
  CHECK(L.tokens == 400);
  CHECK(L.chunks() == ch.parts.chunks.size());
  CHECK(L.word_chunks() > 5);
  CHECK(L.chunks() > L.word_chunks());  // trait chunks after the word chunks
  CHECK(L.encode() == ch.parts.lexicon);
  CHECK(L.has_numeric("3"));
  CHECK(L.has_numeric("2796"));       // 399 * 7 + 3
  CHECK_FALSE(L.has_numeric("2797"));
  CHECK(L.has_numeric("0042"));       // leading zeros are their own numbers
  CHECK_FALSE(L.has_numeric("42"));
  for (auto& t : L.terms) CHECK_FALSE(is_numeric_term(t));
  CHECK(std::is_sorted(L.chunk_first.begin(), L.chunk_first.end()));
  for (uint32_t id = 0; id < L.chunks(); ++id) {
    const WordChunk w = WordChunk::decode(ch.parts.chunks[id].data(), ch.parts.chunks[id].size(), L, id, "words.bin");
    CHECK(w.traits == (id >= L.word_chunks()));
    if (!w.traits)
      for (auto& t : w.terms) CHECK(L.chunk_of_term(t) == id);
  }
  // Deterministic.
  CHECK(build_word_parts(c, 512).chunks == ch.parts.chunks);
}

TEST_CASE("word chunks: search over the lexicon and the chunks a query asks for equals the whole-catalogue index") {
  for (uint32_t seed : {11u, 12u}) {
    const Catalogue c = numbered_catalogue(seed, seed == 11 ? 300 : 1200);
    const Catalogue whole = Catalogue::join({c});
    const TextIndex full(whole);
    const Chunked ch{build_word_parts(c, seed == 11 ? 300 : 2048)};
    std::vector<std::string> vocab;
    for (auto& s : whole.strings)
      for (auto& w : text_words(s)) vocab.push_back(w);
    for (auto& t : whole.tokens)
      for (auto& w : text_words(t.name)) vocab.push_back(w);
    vocab.insert(vocab.end(), {"alpha", "beta", "thing", "zzzz", "the", "a", "999999", "12345678", "004", "27"});
    std::mt19937 rng(seed * 31);
    size_t compared = 0, fetched = 0, found = 0;
    for (int qi = 0; qi < 250; ++qi) {
      std::string query;
      const size_t nw = 1 + rng() % 4;
      for (size_t j = 0; j < nw; ++j) {
        std::string w = vocab[rng() % vocab.size()];
        switch (rng() % 8) {
          case 0: if (w.size() > 3) w.erase(rng() % w.size(), 1); break;  // misspelt, numbers too
          case 1: if (!w.empty()) w[rng() % w.size()] = char(std::isdigit(static_cast<unsigned char>(w[0])) ? '0' + rng() % 10 : 'a' + rng() % 26); break;
          case 2: if (w.size() > 3) w = w.substr(0, 3); break;  // prefix
          case 3: w += char('0' + rng() % 10); break;
          default: break;
        }
        query += (query.empty() ? "" : " ") + w;
      }
      if (rng() % 2 == 0) {  // whole trait values of a token (phrases)
        const Token& t = whole.tokens[rng() % whole.tokens.size()];
        for (auto& [k, v] : t.traits)
          if (rng() % 2) query += " \"" + whole.strings[v] + "\"";
      }
      if (rng() % 5 == 0) query += " glasses:red";
      if (rng() % 7 == 0) query += " head:\"pizza\"";
      if (rng() % 9 == 0) query += " collection:beta";
      if (rng() % 9 == 0) query += " rank:1-" + std::to_string(1 + rng() % 200) + " background:cool";
      if (rng() % 11 == 0) query = "accessory:\"rainbow steps\"" + std::string(rng() % 2 ? " collection:alpha-set" : "");  // filters alone
      const TextQuery q = parse_text_query(query);
      const auto idx = ch.for_query(c, q, &fetched);
      for (size_t k : {1, 10, 50}) {
        size_t total = 0, want_total = 0;
        const auto got = idx->search(q, k, &total), want = full.search(q, k, &want_total);
        INFO("query \"" << query << "\" k " << k);
        CHECK(total == want_total);
        found += k == 10 && !want.empty();
        REQUIRE(got.size() == want.size());
        for (size_t r = 0; r < got.size(); ++r) {
          CHECK(got[r].token == want[r].token);
          CHECK(got[r].score == want[r].score);
        }
        ++compared;
      }
    }
    CHECK(compared == 750);
    CHECK(found > 200);  // (most queries find something)
    MESSAGE("seed " << seed << ": " << ch.parts.chunks.size() << " chunks, " << double(fetched) / 250 << " fetched per query");
    // Suggestions and statistics come from the lexicon alone.
    const TextIndex lex_only(ch.lexicon(), c.collections);
    for (const char* prefix : {"squ", "square bl", "r", "rainbow s", "1", "caf", "zz", "x", ""})
      CHECK(lex_only.suggest_json(prefix, 8) == full.suggest_json(prefix, 8));
    for (int col : {-1, 0, 1}) CHECK(lex_only.trait_stats_json(col) == whole.trait_stats_json(col));
    // Filters for an image search: the same tokens pass.
    for (const char* f : {"glasses:red", "head:pizza collection:beta", "glasses:\"square blue\" rank:1-50", "body:\"color\""}) {
      TextQuery fq = parse_text_query(f);
      TextFilter wf = fq.filter, cf = fq.filter;
      full.resolve(wf);
      auto idx = ch.for_query(c, fq);
      idx->resolve(cf);
      for (uint32_t id : idx->missing_chunks(cf)) idx->add_chunk(id, WordChunk::decode(ch.parts.chunks[id].data(), ch.parts.chunks[id].size(), idx->lexicon(), id, "w"));
      idx->bind(cf);
      for (uint32_t t = 0; t < whole.tokens.size(); ++t) CHECK(idx->passes(t, cf) == full.passes(t, wf));
    }
  }
}

TEST_CASE("word chunks: what the chunks cannot answer is refused as unsupported; damage is named") {
  const Catalogue c = numbered_catalogue(3, 200);
  const Chunked ch{build_word_parts(c, 400)};
  const TextIndex idx(ch.lexicon(), c.collections);
  for (const char* q : {"rank:1-10", "collection:beta", "", "rank:1-5 pizza"}) {
    try {
      (void)idx.missing_chunks(parse_text_query(q));
      FAIL("accepted \"" << q << "\"");
    } catch (const Error& e) {
      CHECK(std::string(e.code()) == errc::unsupported);
    }
  }
  // A chunk given for another id, a truncated chunk, a flipped byte in the lexicon.
  const WordLexicon L = ch.lexicon();
  CHECK(contains(error_of([&] { WordChunk::decode(ch.parts.chunks[1].data(), ch.parts.chunks[1].size(), L, 0, "words.x.bin"); }), "words.x.bin"));
  CHECK(contains(error_of([&] { WordChunk::decode(ch.parts.chunks[0].data(), ch.parts.chunks[0].size() - 3, L, 0, "words.x.bin"); }), "words.x.bin"));
  auto bad = ch.parts.lexicon;
  bad.resize(bad.size() - 1);
  CHECK(contains(error_of([&] { WordLexicon::decode(bad.data(), bad.size(), "lexicon.x.bin"); }), "lexicon.x.bin"));
}

TEST_CASE("word chunks: the builder's in-place renumbering equals join's, and the parts are the same bytes") {
  Catalogue c = numbered_catalogue(91, 400);
  std::shuffle(c.tokens.begin(), c.tokens.end(), std::mt19937(5));  // (as partitioning reorders them)
  c.strings.push_back("Unused string");
  c.strings.push_back(c.strings[1]);  // an equal text under a second id, used by one token
  c.tokens[7].description = uint32_t(c.strings.size() - 1);
  CHECK_FALSE(c.in_join_order());
  const Catalogue joined = Catalogue::join({c});
  const WordParts before = build_word_parts(c, 1024);
  Catalogue r = c;
  r.renumber_strings();
  CHECK(r.in_join_order());
  CHECK(r.strings == joined.strings);
  REQUIRE(r.tokens.size() == joined.tokens.size());
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    CHECK(r.tokens[i].description == joined.tokens[i].description);
    CHECK(r.tokens[i].traits == joined.tokens[i].traits);
  }
  const WordParts after = build_word_parts(r, 1024);
  CHECK(after.lexicon == before.lexicon);
  CHECK(after.chunks == before.chunks);
  const uint32_t unused = r.intern("Unused string");  // (dropped, so added again)
  CHECK(unused == r.strings.size() - 1);
  CHECK(r.intern(r.strings[1]) == 1);
}
