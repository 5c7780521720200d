// The token catalogue: what a search result shows (collection, token id, name, image, traits,
// rarity) and which token each index entry belongs to. Strings repeated across tokens (trait types,
// trait values, descriptions) are stored once.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace nftlens {

struct Collection {
  std::string slug, name, description, chain, contract;
  std::string link_template;  // e.g. https://opensea.io/assets/{chain}/{contract}/{token_id}
  uint32_t token_count = 0;
};

// Where a token's result thumbnail sits: bytes [offset, offset + bytes) of the bundle's thumbnail
// pack number `pack` (the manifest's "thumbs" files in order; shared/thumb_pack.h). The digest lets
// a host check the one thumbnail it fetched by byte range without the rest of the pack.
struct ThumbRef {
  uint32_t pack = 0, bytes = 0;  // bytes 0: the token has no thumbnail
  uint64_t offset = 0;
  std::array<uint8_t, 8> digest{};  // first 64 bits of the thumbnail's SHA-256
  bool present() const { return bytes > 0; }
  bool operator==(const ThumbRef& o) const { return pack == o.pack && bytes == o.bytes && offset == o.offset && digest == o.digest; }
};

struct Token {
  uint32_t collection = 0;
  std::string token_id, name, image, external_url;
  ThumbRef thumb;
  uint32_t description = 0;                           // string table index (0 = "")
  std::vector<std::pair<uint32_t, uint32_t>> traits;  // (trait type, value) string indices
  float rarity_score = 0;
  uint32_t rarity_rank = 0;                           // 1 = rarest within its collection
};

struct Catalogue {
  std::vector<Collection> collections;
  std::vector<Token> tokens;
  std::vector<std::string> strings{""};
  std::vector<uint32_t> entry_token;  // index entry -> token
  uint32_t first_token = 0;           // a partitioned bundle's fragment: global index of tokens[0]
  // Builder cache, not stored: hash of a string -> its index (hashes, not copies of the strings:
  // a million unique descriptions would be held twice); intern_indexed = strings it covers.
  std::unordered_multimap<uint64_t, uint32_t> intern_index;
  size_t intern_indexed = 0;

  uint32_t intern(const std::string& s);  // builder side (index built on first use)
  // Tokens [first, first + count) with the collections and only the strings they use (the
  // catalogue fragments of a partitioned bundle); count 0 gives the collections alone.
  Catalogue slice(size_t first, size_t count) const;
  // The inverse: fragments (slices of one catalogue, in order) joined back into one.
  static Catalogue join(const std::vector<Catalogue>& parts);
  // In place, the string numbering join({*this}) gives (strings in order of first use, token after
  // token: description, then trait types and values; equal texts merged, unused ones dropped),
  // without join's copy of every token. in_join_order() tells whether the numbering is already so.
  void renumber_strings();
  bool in_join_order() const;
  // Compact binary form: per-collection common prefixes/suffixes of every text column are stored
  // once, numbers as varints (about 40-60 bytes per token for typical collections).
  std::vector<uint8_t> encode() const;
  static Catalogue decode(const uint8_t* data, size_t size, const std::string& where);

  // Validate references after loading untrusted bytes.
  void validate(size_t index_entries, const std::string& where) const;
  // The rarity.tools method per collection: score = sum over the collection's trait types of
  // 1 / frequency of the token's value (a missing trait counts as the value "none"); rank 1 = rarest.
  void compute_rarity();
  // Result/detail view of a token as JSON (marketplace link filled in; only http(s) links kept).
  // `packs` names the thumbnail packs ("thumb": {"pack", "offset", "bytes"}; null without one).
  std::string token_json(uint32_t token, double score = -2, const std::vector<std::string>* packs = nullptr) const;  // score < -1.5: no "score" field
  std::string collections_json() const;
  // Trait type -> value -> count for one collection (or all if collection < 0), as JSON.
  std::string trait_stats_json(int collection) const;
};

// Trait type -> value -> count, added up token by token: trait statistics and search facets.
class TraitCounts {
 public:
  void add(const Catalogue& cat, const Token& token);  // `token` belongs to `cat` (its strings)
  std::string json() const;                            // {"type": {"value": count}}
 private:
  std::map<std::string, std::map<std::string, uint32_t>> counts_;
};

// Keep a link only if it is an absolute http(s) URL without control characters.
std::string safe_http_url(const std::string& url);
// A collection slug as a bundle file may name one: 1-200 letters, digits, - and _ (what the
// builder accepts), checked where the manifest's verdict and the style file name collections.
bool is_collection_slug(const std::string& s);
std::string fill_link_template(const Collection& c, const std::string& token_id);

}  // namespace nftlens
