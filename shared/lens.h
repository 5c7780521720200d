// A Lens is a loaded bundle you can query: the one query engine that both hosts drive (Pagefind's
// shape: one search core, a wasm host and a native host). It owns
//   - the requests with their defaults and limits (ImageRequest, TextRequest, SuggestRequest),
//   - trait-filter parsing (the same errors on both hosts),
//   - the flat and the partitioned paths, one part store and one thumbnail cache (LensSettings),
//   - re-ranking by alignment, the cut to k, the result JSON, text results with facets.
// The caller runs the model (QuerySession, search.h) and moves bytes. Every call answers either a
// final document or a list of needs — bundle files to fetch (shards, catalogue fragments,
// thumbnails: one protocol for all) — which the host reads or fetches, hands back with add_part(),
// and then repeats the same call. Every part handed back is checked here before it is used.
//   native host: builder/native_lens.cpp answers needs from the bundle folder
//   wasm host:   wasm/bindings.cpp passes them to web/src/worker.js, which fetches them
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "align.h"
#include "bundle.h"
#include "search.h"
#include "text_index.h"

namespace nftlens {

// One image query. The defaults here are the only ones: the CLI's options and the browser's
// requests start from them (JS forwards only what its caller set).
struct ImageRequest {
  static constexpr size_t kDefaultK = 10, kMaxK = 1000, kMaxRerank = 100, kMaxProbe = size_t(1) << 20;
  static constexpr int kMaxEf = 1 << 16;
  size_t k = kDefaultK;
  size_t rerank = kRerankCandidates;  // first hits re-ranked by alignment with their thumbnails (0 = off)
  size_t probe = 0;                   // partitioned bundles: partitions searched (0 = bundle default)
  int ef = 0;                         // HNSW search breadth (0 = index default)
  bool exact = false;                 // exhaustive scan instead of HNSW (or of every partition)
  bool facets = false;                // also count the results' traits ("facets" in the answer)
  bool parts = true;                  // part codes join the candidates when the query looks like a part (bundles with part codes)
  std::vector<std::string> collections;  // only these slugs (empty = all)
  std::string filter;                    // trait filters: type:value, collection:slug, rank:A-B
  std::vector<uint32_t> exclude;  // tokens left out of the search (calibration and evaluation; not in JSON)
  // From a JSON object such as {"k": 5, "rerank": 0}; unknown keys and wrong types are refused by name.
  static ImageRequest from_json(const std::string& text);
  void validate() const;  // Error(bad_request) naming the field out of range
};

inline constexpr size_t kPartCandidates = 5;  // tokens by zoom parts, and as many by grid parts, that may join the re-ranked head

struct TextRequest {
  static constexpr size_t kDefaultK = 20, kMaxK = 1000;
  std::string query;
  size_t k = kDefaultK;
  static TextRequest from_json(const std::string& text);  // {"query": "...", "k": 20}
  void validate() const;
};

struct SuggestRequest {
  static constexpr size_t kDefaultN = 8, kMaxN = 100;
  std::string prefix;
  size_t n = kDefaultN;
  static SuggestRequest from_json(const std::string& text);  // {"prefix": "...", "n": 8}
  void validate() const;
};

// A bundle file, or a byte range of one (a thumbnail in its pack; a shard or catalogue fragment in
// its group file, partition table version 4), a call needs before it can answer. `directory`
// (partition table version 5): where every catalogue fragment is, needed by text calls and any
// call that wants a fragment no loaded shard has placed.
struct Need {
  enum class Kind { shard, fragment, thumb, lexicon, words, parts, directory };
  Kind kind;
  uint32_t id;       // partition, fragment, token index or word chunk (lexicon, parts, directory: 0)
  std::string name;  // a file name from the manifest or the partition table (plain: never leaves the bundle)
  uint64_t bytes;    // expected size (of the range, if ranged)
  uint64_t offset = 0;  // where the range starts in the file `name` (hosts fetch just it, or the whole file and cut it)
  bool ranged = false;  // bytes [offset, offset + bytes) of `name`, not the whole file (thumbnails always)
};
const char* kind_name(Need::Kind kind);
Need::Kind parse_kind(const std::string& name);  // Error(bad_request) for an unknown kind

// What a call answers: needs to fetch, or the final JSON document (and, for image queries, hits).
struct Answer {
  std::vector<Need> needs;
  std::string json;
  std::vector<TokenHit> hits;
  // Image queries: the query region the first stage's best hit came from (re-ranking aligned
  // there), its disc if a round picture, and where the token was placed in the image (w == 0: not
  // re-ranked). For reports; not in the JSON.
  Box region;
  Circle circle;
  AlignGeometry placed;
  // Bundles with part codes: the query looked like a part (an occluder, a zoom on a detail, a
  // poor fit) and the part codes' candidates were re-ranked with the first stage's. For reports.
  bool parts_used = false;
  // The verdict's style test (style_model.h), where the first result's collection has a model:
  // the query's residual, its outside score and the model's threshold on it (style_residual -1: no
  // test). For evaluation; not in the JSON.
  double style_residual = -1, style_outside = 0, style_threshold = 0;
  bool done() const { return needs.empty(); }
  std::string to_json() const;  // {"need": [{"kind", "id", "name", "bytes"[, "offset" (ranged)]}...]} or the document
};

struct LensSettings {
  size_t part_budget = size_t(48) << 20;  // decoded shards + catalogue fragments kept across queries
  size_t thumb_budget = 2048;             // decoded thumbnails kept (~27 KB each; >= 2 x kMaxRerank)
  // Partitioned bundles: trait filters, text search, suggestions and trait statistics either
  // fetch every catalogue fragment once (then answer from memory), when their total is at most
  // this many bytes (natively unlimited: they are on disk; in the browser 4 MB, about 55,000
  // tokens at ~72 bytes each), or else use the bundle's word index in chunks: the lexicon once,
  // then per query the chunks of its words and the fragments of the results it shows. A bundle
  // without word chunks (partition table version 1) refuses them beyond (code unsupported).
  uint64_t whole_catalogue_bytes = uint64_t(4) << 20;
};

class Lens {
 public:
  explicit Lens(Bundle bundle, LensSettings settings = {});
  Lens(const Lens&) = delete;
  Lens& operator=(const Lens&) = delete;
  const Bundle& bundle() const { return *bundle_; }
  const LensSettings& settings() const { return settings_; }
  // {"tokens", "entries", "threshold", "kernel", "max_pixels" (images beyond are refused), "partitioned",
  // "text" (text search, suggestions and trait filters available)[, "layout" (+ "catalogue_bytes")]}
  std::string info_json() const;
  // Text search, suggestions, trait filters and statistics: always on a one-index bundle; on a
  // partitioned one through its word chunks, or if its whole catalogue is within
  // settings().whole_catalogue_bytes.
  bool text_available() const;
  // A partitioned bundle whose text calls go through the word chunks (not the whole catalogue).
  bool uses_word_chunks() const;
  // What a host needs to run the model for a query: {"runs", "views", "width", "height", "input",
  // "shape", "outputs", "use_model"}.
  std::string session_json(const QuerySession& query) const;

  // Image query over a session whose model outputs are set: {"match", "verdict", "confidence",
  // "close_call"[, "collection"], "threshold", "results": [token + score (+ alignment)...][, "facets"]}
  // (verdict: shared/verdict.h; "match" is verdict == "token").
  Answer search(const QuerySession& query, const ImageRequest& request);
  // Words and filters: {"query", "total" (tokens matching in all), "results": [token + score...],
  // "facets": {type: {value: count}} (of the results)}.
  Answer text(const TextRequest& request);
  // Trait values completing the last typed word: [{"type", "value", "count"}].
  Answer suggest(const SuggestRequest& request);
  // One token's details, by index.
  Answer token(uint32_t index);
  // Trait type -> value -> count for one collection index, or all (-1).
  Answer trait_stats(int collection);
  // Every token (a partitioned bundle's fragments joined): done, or needs every missing fragment.
  Answer load_whole_catalogue();
  const Catalogue& whole_catalogue() const;  // after load_whole_catalogue() is done

  // A part a need asked for. Shards, fragments, the lexicon and word chunks are checked against the partition table, a
  // thumbnail against its token's catalogue entry (size and digest): a mismatch is
  // Error(bad_bundle) naming the file or pack. An empty thumbnail (the host could not fetch it)
  // just makes that hit score low in re-ranking. Hosts also hand in the thumbnails they display.
  void add_part(Need::Kind kind, uint32_t id, const uint8_t* data, size_t size);
  // Token t's thumbnail as a need (a byte range of its pack); false if it has none.
  // Error(bad_bundle) if its catalogue entry points outside the pack.
  bool thumb_need(uint32_t t, Need& need) const;

 private:
  const TextIndex& text_index(const char* what, std::vector<Need>& needs);  // null needs = ready
  // The catalogue holding token t (the bundle's, the joined one, or its fragment, which must be in
  // the store) and its index there.
  std::pair<const Catalogue*, uint32_t> locate(uint32_t t) const;
  const Token& token_of(uint32_t t) const;
  std::string token_json(uint32_t t, double score = -2) const;
  // Fragment f, or (table version 5, its place not known yet) the directory, once, into `needs`.
  void need_fragment(uint32_t f, std::vector<Need>& needs) const;
  Need directory_need() const;  // (table version 5) the directory file, whole
  // Word chunks a query or a filter needs (empty: all there); keeps them from being dropped.
  void need_chunks(const std::vector<uint32_t>& chunks, std::vector<Need>& needs) const;
  std::string facets_json(const std::vector<uint32_t>& tokens) const;
  void need_fragments(const std::vector<TokenHit>& hits, std::vector<Need>& needs) const;
  bool rerank_head(const QuerySession& query, std::vector<TokenHit>& hits, size_t n, Answer& a, bool* occluder, LocateMemo* memo,
                   const AlignOptions& align = {});

  std::unique_ptr<Bundle> bundle_;  // (heap: sessions and the text index keep references)
  LensSettings settings_;
  PartStore store_;
  Catalogue whole_;  // partitioned bundles, once loaded
  bool have_whole_ = false;
  std::unique_ptr<TextIndex> text_;  // over the bundle's catalogue, or whole_
  std::vector<std::string> pack_names_;  // thumbnail packs, in ThumbRef::pack order
  std::map<uint32_t, RgbImage> thumbs_;  // decoded result thumbnails by token
  std::deque<uint32_t> thumb_order_;     // insertion order, for eviction
  // The last image query's first re-ranking. One that looked like a part is kept for its session's
  // next call: a host repeats the call after fetching the part codes or the part candidates'
  // thumbnails, and the same session with the same first-stage hits re-ranks the same way
  // (re-ranking is most of a query's time). Dropped once the second pass has run.
  struct FirstPass {
    uint64_t session = 0;               // QuerySession::serial() (0: nothing kept)
    size_t n = 0;
    std::vector<TokenHit> first_stage;  // the hits it re-ranked (their first n) ...
    std::vector<TokenHit> hits;         // ... re-ranked,
    Box region;                         // the Answer fields it set,
    Circle circle;
    AlignGeometry placed;
    bool occluder = false;
    LocateMemo memo;                    // and its placements (the second pass's memo)
  } first_pass_;
};

}  // namespace nftlens
