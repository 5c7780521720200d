// libFuzzer target: attacker-controlled token metadata (builder/collection.cpp) and text queries
// (shared/text_index.h). The input is the metadata JSON; the part after the first NUL byte (or the
// whole input if there is none) is also used as a text-search query. A parsed token goes into a
// one-token catalogue, which is then indexed, searched and rendered as JSON like a bundle would be.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "catalogue.h"
#include "collection.h"
#include "error.h"
#include "text_index.h"

using namespace nftlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string text = all.substr(0, nul);
  const std::string query = nul == std::string::npos ? all : all.substr(nul + 1);

  // Text search side: never throws.
  (void)text_words(query);
  const TextQuery q = parse_text_query(query);
  for (auto& w : q.words) (void)edit_distance(w, "glasses", 2);

  SourceToken t;
  try {
    t = parse_token_metadata(text, "7", "fuzz.json");
  } catch (const Error&) {
    return 0;
  }
  if (t.token_id.empty()) __builtin_trap();
  Catalogue cat;
  Collection col;
  col.slug = "fuzz";
  col.name = "Fuzz";
  col.link_template = "https://example.org/{chain}/{contract}/{token_id}";
  cat.collections.push_back(col);
  Token tk;
  tk.token_id = t.token_id;
  tk.name = t.name;
  tk.image = t.image_ref;
  tk.external_url = t.external_url;
  tk.description = cat.intern(t.description);
  for (auto& [k, v] : t.traits) tk.traits.emplace_back(cat.intern(k), cat.intern(v));
  cat.tokens.push_back(tk);
  cat.tokens.push_back(tk);  // two tokens: rarity and ranking see ties
  cat.entry_token = {0, 1};
  cat.compute_rarity();
  cat.validate(2, "fuzz");
  (void)cat.token_json(0, 0.5);
  (void)cat.trait_stats_json(-1);
  (void)cat.collections_json();
  // Round trip through the bundle's compact form.
  const std::vector<uint8_t> bytes = cat.encode();
  const Catalogue back = Catalogue::decode(bytes.data(), bytes.size(), "round trip");
  back.validate(2, "round trip");
  if (back.tokens.size() != 2 || back.tokens[0].token_id != tk.token_id || back.tokens[1].name != tk.name ||
      back.tokens[0].external_url != tk.external_url || back.strings[back.tokens[1].description] != t.description ||
      back.tokens[0].traits.size() != tk.traits.size())
    __builtin_trap();  // the compact form must round-trip any metadata
  for (size_t i = 0; i < tk.traits.size(); ++i)
    if (back.strings[back.tokens[0].traits[i].first] != cat.strings[tk.traits[i].first] ||
        back.strings[back.tokens[0].traits[i].second] != cat.strings[tk.traits[i].second])
      __builtin_trap();
  const TextIndex index(cat);
  (void)index.search(q, 10);
  (void)index.search(text.substr(0, 256), 10);
  (void)index.suggest_json(query, 5);
  (void)index.facets_json({0, 1});
  return 0;
}
