#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "catalogue.h"
#include "text_index.h"

using namespace nftlens;
using nlohmann::json;

namespace {
// A small collection: token i has traits from the lists below, name "Noun i", one shared description.
Catalogue small_catalogue() {
  Catalogue c;
  Collection col;
  col.slug = "nouns";
  col.name = "Nouns";
  c.collections.push_back(col);
  Collection other;
  other.slug = "other";
  other.name = "Other Things";
  c.collections.push_back(other);
  const uint32_t bg = c.intern("Background"), head = c.intern("Head"), glasses = c.intern("Glasses"), acc = c.intern("Accessory");
  const uint32_t desc = c.intern("A noun from the example set.");
  const char* heads[] = {"Pizza", "Shark", "Rainbow", "Crane", "Pizza", "Whale", "Shark", "Mouse"};
  const char* glass[] = {"Square Red", "Square Blue Med Saturated", "Square Blue", "Round Gold", "Square Red", "Square Blue", "Deep Teal", "Square Red"};
  const char* accs[] = {"Rainbow Steps", "Tie Red", "None", "Bling Anchor", "Tie Red", "Rainbow Steps", "Bling Anchor", "None"};
  for (uint32_t i = 0; i < 8; ++i) {
    Token t;
    t.collection = i < 7 ? 0 : 1;
    t.token_id = std::to_string(i);
    t.name = "Noun " + std::to_string(i);
    t.description = desc;
    t.traits = {{bg, c.intern(i % 2 ? "Cool" : "Warm")}, {head, c.intern(heads[i])}, {glasses, c.intern(glass[i])}, {acc, c.intern(accs[i])}};
    c.tokens.push_back(t);
  }
  c.entry_token = {0, 1, 2, 3, 4, 5, 6, 7};
  c.compute_rarity();
  return c;
}

std::vector<uint32_t> tokens_of(const std::vector<TextHit>& hits) {
  std::vector<uint32_t> out;
  for (auto& h : hits) out.push_back(h.token);
  return out;
}
bool has(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }
}  // namespace

TEST_CASE("text: words are lower-cased, split on punctuation, camelCase and digits; plurals folded") {
  CHECK(text_words("GlassesRed, square-BLUE!") == std::vector<std::string>{"glass", "red", "square", "blue"});
  CHECK(text_words("Noun 42abc") == std::vector<std::string>{"noun", "42", "abc"});
  CHECK(text_words("earrings boxes bus glass") == std::vector<std::string>{"earring", "box", "bus", "glass"});
  CHECK(text_words("").empty());
  CHECK(text_words(std::string(100, 'a')).size() == 3);  // very long runs are cut into words of <= 41 letters
}

TEST_CASE("text: edit distance with a limit") {
  CHECK(edit_distance("pizza", "pizza", 1) == 0);
  CHECK(edit_distance("pizza", "piza", 1) == 1);
  CHECK(edit_distance("pizza", "pizaz", 2) == 2);
  CHECK(edit_distance("pizza", "shark", 1) == 2);  // over the limit: limit + 1
  CHECK(edit_distance("watermelon", "watremelon", 2) == 2);
  CHECK(edit_distance("a", "abcd", 1) == 2);
  CHECK(edit_distance("", "ab", 2) == 2);
  const std::string long_a(70, 'x'), long_b = std::string(69, 'x') + "y";
  CHECK(edit_distance(long_a, long_b, 2) == 1);
}

TEST_CASE("text: query parsing splits words and filters") {
  const TextQuery q = parse_text_query("red glasses:\"square blue\" collection:nouns rank:1-100 Head:pizza rank:x");
  CHECK(q.words == std::vector<std::string>{"red", "rank", "x"});
  REQUIRE(q.filter.traits.size() == 2);
  CHECK(q.filter.traits[0].first == std::vector<std::string>{"glass"});
  CHECK(q.filter.traits[0].second == std::vector<std::string>{"square", "blue"});
  CHECK(q.filter.collections == std::vector<std::string>{"nouns"});
  CHECK(q.filter.rank_min == 1);
  CHECK(q.filter.rank_max == 100);
}

TEST_CASE("text: exact words, misspellings, prefixes and fields rank tokens") {
  const Catalogue c = small_catalogue();
  const TextIndex idx(c);
  CHECK(idx.terms() > 20);
  CHECK(idx.postings() > 8 * 8);
  // Exact trait words: the pizza token with "tie red" first, then the other pizza one.
  auto hits = idx.search("pizza square red tie", 10);
  REQUIRE(hits.size() >= 2);
  CHECK(tokens_of(hits)[0] == 4);
  CHECK(tokens_of(hits)[1] == 0);
  CHECK(hits[0].score > hits[1].score);
  for (size_t i = 1; i < hits.size(); ++i) CHECK(hits[i - 1].score >= hits[i].score);
  // Misspelt (edit distance 1 on 4+ letters, 2 on 8+) and plural forms.
  CHECK(tokens_of(idx.search("sharrk", 10)) == std::vector<uint32_t>{1, 6});
  CHECK(tokens_of(idx.search("sharks", 10)) == std::vector<uint32_t>{1, 6});
  CHECK(tokens_of(idx.search("saturatde", 10)) == std::vector<uint32_t>{1});
  // Short words: prefixes ("piz" -> pizza); shorter unknown words match nothing.
  CHECK(tokens_of(idx.search("piz", 10)) == std::vector<uint32_t>{0, 4});
  CHECK(idx.search("pi", 10).empty());
  CHECK(idx.search("zzzzzz", 10).empty());
  // k limits; ties break by token.
  hits = idx.search("noun", 3);
  CHECK(tokens_of(hits) == std::vector<uint32_t>{0, 1, 2});
  // Field weights: a trait value outranks a collection name and a description word.
  hits = idx.search("other", 10);
  CHECK(tokens_of(hits) == std::vector<uint32_t>{7});
  // Name: "Noun 3" finds token 3 first.
  CHECK(tokens_of(idx.search("noun 3", 10))[0] == 3);
  // The whole multi-word trait value in the query ranks above a partial one.
  hits = idx.search("square blue", 10);
  REQUIRE(hits.size() >= 3);
  CHECK(has({tokens_of(hits)[0], tokens_of(hits)[1]}, 2));
  CHECK(has({tokens_of(hits)[0], tokens_of(hits)[1]}, 5));
  CHECK(tokens_of(hits)[2] == 1);
  // Repeated words count once.
  CHECK(idx.search("shark shark", 10)[0].score == idx.search("shark", 10)[0].score);
}

TEST_CASE("text: filters restrict results; a filter alone lists tokens rarest first") {
  const Catalogue c = small_catalogue();
  const TextIndex idx(c);
  auto all = tokens_of(idx.search("glasses:red", 10));
  CHECK(all.size() == 3);
  for (uint32_t t : {0u, 4u, 7u}) CHECK(has(all, t));
  // An exact value matches only itself: "square blue" is not "square blue med saturated".
  all = tokens_of(idx.search("glasses:\"square blue\"", 10));
  CHECK(all.size() == 2);
  CHECK(has(all, 2));
  CHECK(has(all, 5));
  // Rarest first.
  const auto hits = idx.search("glasses:red", 10);
  for (size_t i = 1; i < hits.size(); ++i) CHECK(c.tokens[hits[i - 1].token].rarity_rank <= c.tokens[hits[i].token].rarity_rank);
  CHECK(tokens_of(idx.search("collection:other", 10)) == std::vector<uint32_t>{7});
  CHECK(tokens_of(idx.search("shark collection:nouns", 10)) == std::vector<uint32_t>{1, 6});
  CHECK(tokens_of(idx.search("noun collection:other", 10)) == std::vector<uint32_t>{7});
  // Rank range.
  const uint32_t r = c.tokens[3].rarity_rank;
  for (uint32_t t : tokens_of(idx.search("noun rank:1-" + std::to_string(r), 10))) CHECK(c.tokens[t].rarity_rank <= r);
  // Filters combine with words.
  CHECK(tokens_of(idx.search("pizza glasses:red", 10)) == std::vector<uint32_t>{0, 4});
  CHECK(idx.search("crane glasses:red", 10).empty());
  // passes() after resolve().
  TextQuery q = parse_text_query("head:shark");
  idx.resolve(q.filter);
  CHECK(idx.passes(1, q.filter));
  CHECK(!idx.passes(0, q.filter));
}

TEST_CASE("text: a value that exists for another trait type does not make a filter exact") {
  // "Rainbow" is a Head value; accessory:rainbow must still match "Rainbow Steps".
  const Catalogue c = small_catalogue();
  const TextIndex idx(c);
  const auto acc = tokens_of(idx.search("accessory:rainbow", 10));
  CHECK(acc.size() == 2);
  CHECK(has(acc, 0));
  CHECK(has(acc, 5));
  CHECK(tokens_of(idx.search("head:rainbow", 10)) == std::vector<uint32_t>{2});
}

TEST_CASE("text: suggestions and facets") {
  const Catalogue c = small_catalogue();
  const TextIndex idx(c);
  const json s = json::parse(idx.suggest_json("square re", 5));
  REQUIRE(s.size() >= 2);
  CHECK(s[0]["value"] == "Square Red");
  CHECK(s[0]["count"] == 3);
  CHECK(s[0]["type"] == "Glasses");
  const json s2 = json::parse(idx.suggest_json("sha", 5));
  REQUIRE(s2.size() == 1);
  CHECK(s2[0]["value"] == "Shark");
  CHECK(json::parse(idx.suggest_json("", 5)).empty());
  const json f = json::parse(idx.facets_json({0, 4, 7}));
  CHECK(f["Glasses"]["Square Red"] == 3);
  CHECK(f["Head"]["Pizza"] == 2);
}

TEST_CASE("text: an empty catalogue and empty queries") {
  Catalogue c;
  const TextIndex idx(c);
  CHECK(idx.search("anything", 10).empty());
  CHECK(idx.search("", 10).empty());
  const Catalogue s = small_catalogue();
  const TextIndex idx2(s);
  CHECK(idx2.search("", 10).size() == 8);  // no words, no filter: every token, rarest first
  CHECK(idx2.search("!!! ???", 10).size() == 8);
}

namespace {
// The ranking as docs/text-search.md describes it, computed the plain way (maps, every term
// scanned, every hit sorted): the index must return exactly these tokens and scores.
struct Reference {
  const Catalogue& cat;
  std::map<std::string, std::map<uint32_t, float>> post;  // term -> token -> best field weight
  explicit Reference(const Catalogue& c) : cat(c) {
    for (uint32_t t = 0; t < cat.tokens.size(); ++t) {
      auto add = [&](const std::string& text, float w) {
        for (auto& x : text_words(text)) { float& v = post[x][t]; v = std::max(v, w); }
      };
      const Token& tk = cat.tokens[t];
      for (auto& [k, v] : tk.traits) { add(cat.strings[v], 2.0f); add(cat.strings[k], 0.6f); }
      add(tk.name, 1.5f);
      add(cat.collections[tk.collection].name + " " + cat.collections[tk.collection].slug, 0.5f);
      add(cat.strings[tk.description], 0.2f);
    }
  }
  std::vector<TextHit> search(const TextIndex& idx, const std::string& query, size_t k);
};

std::vector<TextHit> Reference::search(const TextIndex& idx, const std::string& query, size_t k) {
  const double n = double(std::max<size_t>(1, cat.tokens.size()));
  auto idf = [&](const std::string& term) { return float(std::log(1.0 + n / double(post[term].size()))); };
  TextQuery q = parse_text_query(query);
  idx.resolve(q.filter);
  std::vector<std::string> words;
  for (auto& w : q.words)
    if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
  std::vector<TextHit> hits;
  if (words.empty()) {
    for (uint32_t t = 0; t < cat.tokens.size(); ++t)
      if (idx.passes(t, q.filter)) hits.push_back({t, 1.0f / float(std::max<uint32_t>(1, cat.tokens[t].rarity_rank))});
  } else {
    std::map<uint32_t, float> score;
    std::map<uint32_t, int> matched;
    for (auto& w : words) {
      std::vector<std::pair<std::string, float>> terms;
      if (post.count(w)) {
        terms.emplace_back(w, 1.0f);
      } else {
        const int limit = w.size() >= 8 ? 2 : w.size() >= 4 ? 1 : 0;
        if (limit == 0) {
          if (w.size() >= 3)
            for (auto& [term, p] : post)
              if (term.compare(0, w.size(), w) == 0) terms.emplace_back(term, 0.6f);
        } else {
          int best = limit + 1;
          for (auto& [term, p] : post) {
            const long len = long(std::min<size_t>(term.size(), 48));
            if (std::labs(len - long(w.size())) > limit) continue;
            const int d = edit_distance(w, term, limit);
            if (d > limit) continue;
            if (d < best) { best = d; terms.clear(); }
            if (d == best) terms.emplace_back(term, d == 1 ? 0.75f : 0.5f);
          }
        }
      }
      std::map<uint32_t, float> word_best;
      for (auto& [term, factor] : terms)
        for (auto& [t, weight] : post[term]) word_best[t] = std::max(word_best[t], idf(term) * weight * factor);
      for (auto& [t, v] : word_best) { score[t] += v; matched[t]++; }
    }
    for (auto& [t, s] : score) {
      if (!q.filter.empty() && !idx.passes(t, q.filter)) continue;
      float total = s * float(matched[t]) / float(words.size());
      for (auto& [kk, v] : cat.tokens[t].traits) {
        const auto vw = text_words(cat.strings[v]);
        bool all = vw.size() > 1;
        for (auto& x : vw) all = all && std::find(words.begin(), words.end(), x) != words.end();
        if (all) total *= 1.25f;
      }
      hits.push_back({t, total});
    }
  }
  std::sort(hits.begin(), hits.end(), [](const TextHit& a, const TextHit& b) { return a.score != b.score ? a.score > b.score : a.token < b.token; });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

// Random catalogue: shared and unique descriptions, multi-word values, values used under several
// types, numbers in names, long non-ASCII words, two collections.
Catalogue random_catalogue(uint32_t seed, size_t tokens) {
  std::mt19937 rng(seed);
  Catalogue c;
  Collection a, b;
  a.slug = "alpha-set", a.name = "Alpha Things";
  b.slug = "beta", b.name = "Beta Glasses";
  c.collections = {a, b};
  const char* types[] = {"Background", "Head", "Glasses", "Accessory", "Body Color"};
  static const std::string long_word(60, '\xc3');  // one 60-byte "word" (non-ASCII bytes are kept whole)
  const char* values[] = {"Cool", "Warm", "Pizza", "Shark", "Square Red", "Square Blue Med Saturated", "Square Blue", "Tie Red",
                          "Rainbow", "Rainbow Steps", "None", "Watermelon", "Bling Anchor", "Deep Teal", "Crane", "Red",
                          "Grayscale 1", "Earrings Gold", "Glasses Box", "\xc3\xa9t\xc3\xa9 Caf\xc3\xa9", long_word.c_str()};
  const uint32_t shared = c.intern("A thing from the example set.");
  for (size_t i = 0; i < tokens; ++i) {
    Token t;
    t.collection = uint32_t(rng() % 2);
    t.token_id = std::to_string(i);
    t.name = (rng() % 4 ? "Thing " : "ThingSpecial") + std::to_string(i);
    t.description = rng() % 3 ? shared : c.intern("Unique words number " + std::to_string(i) + " zebra" + std::to_string(rng() % 7));
    const size_t nt = 1 + rng() % 5;
    for (size_t j = 0; j < nt; ++j)
      t.traits.emplace_back(c.intern(types[rng() % std::size(types)]), c.intern(values[rng() % std::size(values)]));
    c.tokens.push_back(t);
  }
  c.entry_token.resize(c.tokens.size());
  for (size_t i = 0; i < c.tokens.size(); ++i) c.entry_token[i] = uint32_t(i);
  c.compute_rarity();
  return c;
}
}  // namespace

TEST_CASE("text: ranking equals a plain reference implementation (random catalogues and queries)") {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const Catalogue c = random_catalogue(seed, seed == 3 ? 1500 : 300);
    const TextIndex idx(c);
    Reference ref(c);
    std::vector<std::string> vocab;  // words to build queries from
    for (auto& s : c.strings)
      for (auto& w : text_words(s)) vocab.push_back(w);
    for (auto& t : c.tokens)
      for (auto& w : text_words(t.name)) vocab.push_back(w);
    vocab.insert(vocab.end(), {"alpha", "beta", "thing", "zzzz", "the", "a", "noun", "glasses"});
    std::mt19937 rng(seed * 7919);
    size_t compared = 0;
    for (int qi = 0; qi < 300; ++qi) {
      std::string query;
      const size_t nw = 1 + rng() % 5;
      for (size_t j = 0; j < nw; ++j) {
        std::string w = vocab[rng() % vocab.size()];
        switch (rng() % 8) {
          case 0: if (w.size() > 3) w.erase(rng() % w.size(), 1); break;                 // misspelt
          case 1: if (!w.empty()) w[rng() % w.size()] = char('a' + rng() % 26); break;
          case 2: if (w.size() > 3) w = w.substr(0, 3); break;                           // prefix
          case 3: w[0] = char(std::toupper(static_cast<unsigned char>(w[0]))); break;
          default: break;
        }
        query += (query.empty() ? "" : " ") + w;
      }
      if (rng() % 2 == 0) {  // whole trait values of a token (phrases)
        const Token& t = c.tokens[rng() % c.tokens.size()];
        for (auto& [k, v] : t.traits)
          if (rng() % 2) query += " " + c.strings[v];
      }
      if (rng() % 6 == 0) query += " glasses:red";
      if (rng() % 9 == 0) query += " collection:beta";
      if (rng() % 9 == 0) query += " rank:1-" + std::to_string(1 + rng() % 200);
      const size_t all = ref.search(idx, query, size_t(1) << 30).size();  // every match
      for (size_t k : {1, 10, 50}) {
        size_t total = 0;
        const auto got = idx.search(query, k, &total), want = ref.search(idx, query, k);
        CHECK(total == all);  // (counting changes nothing else: got is compared below)
        REQUIRE(got.size() == want.size());
        for (size_t r = 0; r < got.size(); ++r) {
          INFO("query \"" << query << "\" k " << k << " rank " << r);
          CHECK(got[r].token == want[r].token);
          CHECK(got[r].score == want[r].score);
        }
        ++compared;
      }
    }
    CHECK(compared == 900);
  }
}
