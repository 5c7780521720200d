#include "word_chunks.h"

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>

#include "bundle.h"
#include "byte_io.h"
#include "error.h"
#include "text_index.h"

namespace nftlens {
namespace {
constexpr uint32_t kLexiconMagic = 0x584c574e, kChunkMagic = 0x4b43574e;  // "NWLX", "NWCK"
constexpr uint32_t kVersion = 1;
constexpr uint8_t kFields = 5;  // text_index.cpp's Field values

uint64_t numeric_value(std::string_view w) {
  uint64_t v = 0;
  for (char c : w) v = v * 10 + uint64_t(c - '0');
  return v;
}

size_t shared_prefix(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}
void write_sorted(ByteWriter& w, const std::vector<std::string>& v) {
  w.varint(v.size());
  const std::string* prev = nullptr;
  for (auto& s : v) {
    const size_t k = prev ? shared_prefix(*prev, s) : 0;
    w.varint(k);
    w.str(s.substr(k));
    prev = &s;
  }
}
// Front-coded strings, strictly ascending (checked: lookups binary-search them).
std::vector<std::string> read_sorted(ByteReader& r, const std::string& where) {
  std::vector<std::string> v(size_t(r.count(2)));
  for (size_t i = 0; i < v.size(); ++i) {
    const uint64_t k = r.varint();
    if (k > (i ? v[i - 1].size() : 0)) throw Error(where + ": malformed term list");
    v[i] = (i ? v[i - 1].substr(0, size_t(k)) : std::string()) + r.str();
    if (i && !(v[i - 1] < v[i])) throw Error(where + ": terms out of order");
  }
  return v;
}

// Postings of one term: the count, then either runs of consecutive tokens as (gap << 1 | is_run[,
// length - 2]) or, when smaller (a common word: "cool" in half the tokens), a bitmap from the first
// token; then the fields as (field, length) runs. A term every token has takes a few bytes.
void write_postings(ByteWriter& w, const uint32_t* tok, const uint8_t* field, size_t n) {
  w.varint(n);
  ByteWriter runs;
  uint64_t expect = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && tok[j] == tok[j - 1] + 1) ++j;
    runs.varint((uint64_t(tok[i]) - expect) << 1 | (j - i > 1));
    if (j - i > 1) runs.varint(j - i - 2);
    expect = uint64_t(tok[j - 1]) + 1;
    i = j;
  }
  const size_t bitmap = n ? (tok[n - 1] - tok[0]) / 8 + 1 : 0;
  if (n && bitmap + 8 < runs.out.size()) {
    std::vector<uint8_t> bits(bitmap, 0);
    for (size_t i = 0; i < n; ++i) bits[(tok[i] - tok[0]) / 8] |= uint8_t(1u << ((tok[i] - tok[0]) % 8));
    w.u8(1);
    w.varint(tok[0]);
    w.varint(bitmap);
    w.bytes(bits.data(), bits.size());
  } else {
    w.u8(0);
    w.bytes(runs.out.data(), runs.out.size());
  }
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && field[j] == field[i]) ++j;
    w.u8(field[i]);
    w.varint(j - i);
    i = j;
  }
}
}  // namespace

bool is_numeric_term(std::string_view w) {
  if (w.empty() || w.size() > kMaxNumericDigits) return false;
  for (char c : w)
    if (c < '0' || c > '9') return false;
  return true;
}

bool WordLexicon::has_numeric(std::string_view w) const {
  if (w.size() >= numeric.size()) return false;
  const auto& r = numeric[w.size()];
  const uint64_t v = numeric_value(w);
  auto it = std::upper_bound(r.begin(), r.end(), v, [](uint64_t x, const std::pair<uint64_t, uint64_t>& p) { return x < p.first; });
  return it != r.begin() && std::prev(it)->second >= v;
}

uint32_t WordLexicon::chunk_of_term(std::string_view t) const {
  auto it = std::upper_bound(chunk_first.begin(), chunk_first.end(), t, [](std::string_view x, const std::string& s) { return x < s; });
  return it == chunk_first.begin() ? 0 : uint32_t(it - chunk_first.begin() - 1);
}

uint32_t WordLexicon::chunk_of_pair(uint32_t p) const {
  auto it = std::upper_bound(pair_chunk_first.begin(), pair_chunk_first.end(), p);
  return uint32_t(word_chunks() + size_t(it - pair_chunk_first.begin()) - 1);
}

std::vector<uint8_t> WordLexicon::encode() const {
  ByteWriter w;
  w.u32(kLexiconMagic);
  w.u32(kVersion);
  w.varint(tokens);
  write_sorted(w, terms);
  w.varint(numeric.size());
  for (auto& ranges : numeric) {
    w.varint(ranges.size());
    uint64_t at = 0;
    for (auto& [lo, hi] : ranges) { w.varint(lo - at); w.varint(hi - lo); at = hi + 1; }
  }
  write_sorted(w, chunk_first);
  w.varint(strings.size());
  for (auto& s : strings) w.str(s);
  w.varint(pairs.size());
  for (auto& [k, v] : pairs) { w.varint(k); w.varint(v); }
  w.varint(counts.size());
  for (auto& c : counts) { w.varint(c.pair); w.varint(c.collection); w.varint(c.count); }
  w.varint(pair_chunk_first.size());
  for (uint32_t f : pair_chunk_first) w.varint(f);
  w.varint(collection_runs.size());
  for (auto& [c, n] : collection_runs) { w.varint(c); w.varint(n); }
  return std::move(w.out);
}

WordLexicon WordLexicon::decode(const uint8_t* data, size_t size, const std::string& where) {
  ByteReader r(data, size, where);
  if (size < 8 || r.u32() != kLexiconMagic) throw Error(where + ": not an NFT Lens word lexicon");
  if (const uint32_t v = r.u32(); v != kVersion) throw Error(where + ": unsupported word lexicon version " + std::to_string(v));
  WordLexicon L;
  L.tokens = r.varint();
  L.terms = read_sorted(r, where);
  L.numeric.resize(size_t(r.count(1)));
  if (L.numeric.size() > kMaxNumericDigits + 1) throw Error(where + ": numbers longer than " + std::to_string(kMaxNumericDigits) + " digits");
  for (size_t d = 0; d < L.numeric.size(); ++d) {
    L.numeric[d].resize(size_t(r.count(2)));
    uint64_t at = 0, limit = 1;
    for (size_t i = 0; i < d; ++i) limit *= 10;
    for (auto& [lo, hi] : L.numeric[d]) {
      lo = at + r.varint();
      hi = lo + r.varint();
      if (lo < at || hi < lo || hi >= limit) throw Error(where + ": malformed number ranges");
      at = hi + 1;
    }
  }
  L.chunk_first = read_sorted(r, where);
  const uint64_t ns = r.count(1);
  for (uint64_t i = 0; i < ns; ++i) L.strings.push_back(r.str());
  L.pairs.resize(size_t(r.count(2)));
  for (auto& [k, v] : L.pairs) {
    k = uint32_t(r.varint());
    v = uint32_t(r.varint());
    if (k >= ns || v >= ns) throw Error(where + ": trait pair names a missing string");
  }
  L.counts.resize(size_t(r.count(3)));
  for (auto& c : L.counts) {
    c.pair = uint32_t(r.varint());
    c.collection = uint32_t(r.varint());
    c.count = uint32_t(r.varint());
    if (c.pair >= L.pairs.size()) throw Error(where + ": trait count names a missing pair");
  }
  L.pair_chunk_first.resize(size_t(r.count(1)));
  for (size_t i = 0; i < L.pair_chunk_first.size(); ++i) {
    L.pair_chunk_first[i] = uint32_t(r.varint());
    if ((i == 0 && L.pair_chunk_first[0] != 0) || (i && L.pair_chunk_first[i] <= L.pair_chunk_first[i - 1]) || L.pair_chunk_first[i] >= L.pairs.size())
      throw Error(where + ": malformed trait chunk table");
  }
  if (!L.pairs.empty() && L.pair_chunk_first.empty()) throw Error(where + ": trait pairs without chunks");
  L.collection_runs.resize(size_t(r.count(2)));
  uint64_t covered = 0;
  for (auto& [c, n] : L.collection_runs) {
    c = uint32_t(r.varint());
    n = uint32_t(r.varint());
    covered += n;
  }
  if (covered != L.tokens) throw Error(where + ": collection runs do not cover the tokens");
  if (!r.at_end()) throw Error(where + ": word lexicon has trailing bytes");
  return L;
}

WordChunk WordChunk::decode(const uint8_t* data, size_t size, const WordLexicon& L, uint32_t id, const std::string& where) {
  ByteReader r(data, size, where);
  if (size < 13 || r.u32() != kChunkMagic) throw Error(where + ": not an NFT Lens word chunk");
  if (r.u32() != kVersion) throw Error(where + ": unsupported word chunk version");
  if (r.u32() != id) throw Error(where + ": chunk number does not match the partition table");
  WordChunk c;
  c.traits = r.u8() != 0;
  if (c.traits != (id >= L.word_chunks())) throw Error(where + ": chunk kind does not match the lexicon");
  // (decoded postings are bounded: the bytes cannot expand without limit)
  const uint64_t cap = 16 * L.tokens + 64 * uint64_t(size);
  if (!c.traits) {
    c.terms = read_sorted(r, where);
    const std::string* hi = id + 1 < L.word_chunks() ? &L.chunk_first[id + 1] : nullptr;
    if (c.terms.empty() || c.terms.front() < L.chunk_first[id] || (hi && !(c.terms.back() < *hi))) throw Error(where + ": terms outside the chunk's range");
    for (size_t i = 0; i < c.terms.size(); ++i) {
      const uint64_t n = r.varint();
      if (n == 0 || n > L.tokens || c.tokens.size() + n > cap) throw Error(where + ": impossible posting count");
      const uint8_t mode = r.u8();
      if (mode == 1) {  // a bitmap
        const uint64_t first = r.varint(), nb = r.varint();
        r.need(nb);
        if (first + nb * 8 > L.tokens + 8 * 8) throw Error(where + ": postings out of range");
        for (uint64_t b = 0; b < nb; ++b)
          for (int bit = 0; bit < 8; ++bit)
            if (r.p[r.pos + b] >> bit & 1) {
              const uint64_t t = first + b * 8 + uint64_t(bit);
              if (t >= L.tokens || c.tokens.size() >= c.begin.back() + n) throw Error(where + ": postings out of range");
              c.tokens.push_back(uint32_t(t));
            }
        r.pos += nb;
        if (c.tokens.size() != c.begin.back() + n) throw Error(where + ": posting count does not match the bitmap");
      } else if (mode == 0) {
        uint64_t expect = 0;
        while (c.tokens.size() < c.begin.back() + n) {
          const uint64_t x = r.varint();
          const uint64_t first = expect + (x >> 1), len = (x & 1) ? r.varint() + 2 : 1;
          if (first + len > L.tokens || c.tokens.size() + len > c.begin.back() + n) throw Error(where + ": postings out of range");
          for (uint64_t t = first; t < first + len; ++t) c.tokens.push_back(uint32_t(t));
          expect = first + len;
        }
      } else {
        throw Error(where + ": unknown postings encoding");
      }
      while (c.fields.size() < c.tokens.size()) {
        const uint8_t f = r.u8();
        const uint64_t len = r.varint();
        if (f >= kFields || len == 0 || len > c.tokens.size() - c.fields.size()) throw Error(where + ": malformed fields");
        c.fields.insert(c.fields.end(), size_t(len), f);
      }
      c.begin.push_back(uint32_t(c.tokens.size()));
    }
  } else {
    const uint32_t k = id - uint32_t(L.word_chunks());
    c.first_pair = uint32_t(r.varint());
    const uint64_t n = r.varint();
    const uint64_t end = k + 1 < L.pair_chunk_first.size() ? L.pair_chunk_first[k + 1] : L.pairs.size();
    if (c.first_pair != L.pair_chunk_first[k] || c.first_pair + n != end) throw Error(where + ": trait pairs do not match the lexicon");
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t m = r.varint();
      if (m == 0 || c.tokens.size() + m > cap) throw Error(where + ": impossible posting count");
      uint64_t t = 0;
      for (uint64_t j = 0; j < m; ++j) {
        t += r.varint();  // (ascending; a token twice when two of its traits are this pair)
        if (t >= L.tokens) throw Error(where + ": postings out of range");
        c.tokens.push_back(uint32_t(t));
      }
      for (uint64_t j = 0; j < m; ++j) c.ranks.push_back(uint32_t(r.varint()));
      c.begin.push_back(uint32_t(c.tokens.size()));
    }
  }
  if (!r.at_end()) throw Error(where + ": word chunk has trailing bytes");
  return c;
}

WordParts build_word_parts(const Catalogue& cat, size_t target_bytes) {
  // The index over the catalogue as a reader joins it back from its fragments (same string ids,
  // so suggestions break ties alike): the builder's catalogue already is (renumber_strings), others
  // are copied into it.
  const bool as_is = cat.in_join_order();
  const Catalogue joined = as_is ? Catalogue() : Catalogue::join({cat});
  const Catalogue& whole = as_is ? cat : joined;
  const TextIndex index(whole);
  WordLexicon L;
  L.tokens = whole.tokens.size();
  WordParts out;
  // Terms in byte order; numbers to ranges, the rest listed; chunks cut at about target_bytes
  // (and at 8 x target_bytes postings, which bounds a chunk's memory once decoded).
  std::vector<uint32_t> order(index.terms());
  std::iota(order.begin(), order.end(), uint32_t(0));
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return index.term(a) < index.term(b); });
  L.numeric.resize(kMaxNumericDigits + 1);
  std::vector<std::pair<size_t, uint64_t>> numbers;
  std::vector<std::string> chunk_terms;
  size_t chunk_postings = 0;
  ByteWriter body;
  auto flush = [&] {
    if (chunk_terms.empty()) return;
    ByteWriter w;
    w.u32(kChunkMagic); w.u32(kVersion); w.u32(uint32_t(out.chunks.size())); w.u8(0);
    write_sorted(w, chunk_terms);
    w.bytes(body.out.data(), body.out.size());
    L.chunk_first.push_back(chunk_terms.front());
    out.chunks.push_back(std::move(w.out));
    chunk_terms.clear();
    body.out.clear();
    chunk_postings = 0;
  };
  for (uint32_t id : order) {
    const std::string t(index.term(id));
    if (is_numeric_term(t)) numbers.push_back({t.size(), numeric_value(t)});
    else L.terms.push_back(t);
    const uint32_t b = index.post_begin_[id], n = index.post_begin_[id + 1] - b;
    ByteWriter p;
    write_postings(p, index.post_token_.data() + b, index.post_field_.data() + b, n);
    if (!chunk_terms.empty() && (body.out.size() + p.out.size() > target_bytes || chunk_postings + n > 8 * target_bytes)) flush();
    chunk_terms.push_back(t);
    body.bytes(p.out.data(), p.out.size());
    chunk_postings += n;
  }
  flush();
  std::sort(numbers.begin(), numbers.end());
  for (auto& [d, v] : numbers) {
    auto& r = L.numeric[d];
    if (!r.empty() && r.back().second + 1 == v) r.back().second = v;
    else r.push_back({v, v});
  }
  while (!L.numeric.empty() && L.numeric.back().empty()) L.numeric.pop_back();
  // Trait strings in the catalogue's order, distinct pairs with per-collection counts and postings.
  std::vector<uint32_t> remap(whole.strings.size(), UINT32_MAX);
  for (const Token& t : whole.tokens)
    for (auto& [k, v] : t.traits) remap[k] = remap[v] = 0;
  for (uint32_t s = 0; s < whole.strings.size(); ++s)
    if (remap[s] == 0) { remap[s] = uint32_t(L.strings.size()); L.strings.push_back(whole.strings[s]); }
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> pair_id;
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> post;  // (token, rank) per pair
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> counts;       // (pair, collection) -> traits
  for (uint32_t t = 0; t < whole.tokens.size(); ++t) {
    const Token& tk = whole.tokens[t];
    for (auto& [k, v] : tk.traits) {
      auto [it, fresh] = pair_id.try_emplace({remap[k], remap[v]}, uint32_t(L.pairs.size()));
      if (fresh) { L.pairs.push_back(it->first); post.emplace_back(); }
      post[it->second].push_back({t, tk.rarity_rank});
      counts[{it->second, tk.collection}]++;
    }
    if (L.collection_runs.empty() || L.collection_runs.back().first != tk.collection) L.collection_runs.push_back({tk.collection, 0});
    L.collection_runs.back().second++;
  }
  for (auto& [pc, n] : counts) L.counts.push_back({pc.first, pc.second, n});
  for (uint32_t p = 0; p < L.pairs.size();) {
    ByteWriter b;
    uint32_t q = p;
    size_t postings = 0;
    while (q < L.pairs.size() && (q == p || (b.out.size() < target_bytes && postings + post[q].size() <= 8 * target_bytes))) {
      b.varint(post[q].size());
      uint32_t at = 0;
      for (auto& [t, rank] : post[q]) { b.varint(t - at); at = t; }
      for (auto& [t, rank] : post[q]) b.varint(rank);
      postings += post[q].size();
      ++q;
    }
    ByteWriter w;
    w.u32(kChunkMagic); w.u32(kVersion); w.u32(uint32_t(out.chunks.size())); w.u8(1);
    w.varint(p); w.varint(q - p);
    w.bytes(b.out.data(), b.out.size());
    L.pair_chunk_first.push_back(p);
    out.chunks.push_back(std::move(w.out));
    p = q;
  }
  out.lexicon = L.encode();
  return out;
}

}  // namespace nftlens
