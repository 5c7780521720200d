#include "lens.h"

#include "thumb_pack.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "distance.h"
#include "error.h"
#include "json_parse.h"
#include "verdict.h"

namespace nftlens {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A request object's fields, each read once with its type checked and named in the error.
class Fields {
 public:
  Fields(const std::string& text, const char* what) : what_(what) {
    j_ = parse_json(text.empty() ? "{}" : text);
    if (!j_.is_object()) throw Error(std::string(what) + " options are not a JSON object", errc::bad_request);
  }
  template <class T>
  void get(const char* key, T& out, const char* type) {
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (it->is_null()) { j_.erase(it); return; }  // (null = not set)
    const bool ok = std::is_same_v<T, bool> ? it->is_boolean()
                    : std::is_same_v<T, std::string> ? it->is_string()
                    : std::is_unsigned_v<T> ? it->is_number_unsigned() || (it->is_number_integer() && it->template get<int64_t>() >= 0)
                                            : it->is_number_integer();
    if (!ok) throw Error(std::string(what_) + " option \"" + key + "\" must be " + type, errc::bad_request);
    out = it->template get<T>();
    j_.erase(it);
  }
  void get_strings(const char* key, std::vector<std::string>& out) {
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (it->is_null()) { j_.erase(it); return; }
    if (!it->is_array()) throw Error(std::string(what_) + " option \"" + key + "\" must be a list of strings", errc::bad_request);
    for (auto& s : *it) {
      if (!s.is_string()) throw Error(std::string(what_) + " option \"" + key + "\" must be a list of strings", errc::bad_request);
      out.push_back(s.get<std::string>());
    }
    j_.erase(it);
  }
  void done() const {  // anything left is a typo or an option this version does not have
    if (!j_.empty()) throw Error(std::string(what_) + " option \"" + j_.begin().key() + "\" is unknown", errc::bad_request);
  }

 private:
  json j_;
  const char* what_;
};

void in_range(const char* what, size_t v, size_t lo, size_t hi) {
  if (v < lo || v > hi)
    throw Error(std::string(what) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + " (got " + std::to_string(v) + ")", errc::bad_request);
}

// The first-stage score of token t (its best entry over the query's views), for a hit that part
// codes found: re-ranking weighs it like every other hit's.
float first_stage_score(const Bundle& b, const std::vector<std::vector<int8_t>>& views, uint32_t t) {
  const float s2 = b.recipe.quant_scale * b.recipe.quant_scale;
  const L2Int8Fn fn = best_l2_int8();
  int32_t best = INT32_MAX;
  for (size_t e = 0; e < b.catalogue.entry_token.size(); ++e)
    if (b.catalogue.entry_token[e] == t)
      for (const auto& q : views) best = std::min(best, fn(q.data(), b.index.code(e), q.size()));
  return best == INT32_MAX ? -1.0f : 1.0f - float(best) / (2.0f * s2);
}

// Up to kPartCandidates tokens by zoom parts (if by_zoom) and as many by grid parts (if by_grid),
// not already among the first n hits, go into the head: after the first-stage hit of the same rank
// (zoom, then grid; locating the token in the query tries the first three); every head hit gets
// its part scores. Returns the head's new length. `covered`, if given (a query placed as a zoom:
// zoom candidates only), is set when the part codes disagree: over the first n hits and the zoom
// candidates, the best grid score beats the best zoom score. The query is then taken for a covered
// whole token (a sticker placed as a zoom) and the grid candidates join too.
size_t add_part_candidates(const Bundle& b, const QueryDescriptors& qd, const std::vector<float>& regions, const SearchOptions& opt,
                           std::vector<TokenHit>& hits, size_t n, bool by_zoom, bool by_grid, bool* covered = nullptr) {
  const std::vector<bool> allowed = allowed_collections(b, opt);
  auto allow = [&](uint32_t t) {
    if (!allowed.empty() && !allowed.at(b.catalogue.tokens[t].collection)) return false;
    return !opt.allow || opt.allow(t);
  };
  const auto gs = b.parts.grid_scores(regions), zs = b.parts.zoom_scores(regions);
  const auto zoom = b.parts.best(zs, by_zoom ? kPartCandidates : 0, allow);
  if (covered) {
    float best_grid = -2, best_zoom = -2;
    auto see = [&](uint32_t t) { best_grid = std::max(best_grid, gs[t]); best_zoom = std::max(best_zoom, zs[t]); };
    for (size_t i = 0; i < n; ++i) see(hits[i].token);
    for (const auto& z : zoom) see(z.token);
    *covered = best_grid > best_zoom;
    by_grid = by_grid || *covered;
  }
  const auto grid = b.parts.best(gs, by_grid ? kPartCandidates : 0, allow);
  std::vector<std::vector<int8_t>> views;
  for (const auto& d : qd.main) views.push_back(quantize(b.recipe, d));
  std::vector<TokenHit> head(hits.begin(), hits.begin() + long(n)), tail(hits.begin() + long(n), hits.end());
  auto in = [](const std::vector<TokenHit>& v, uint32_t t) { return std::any_of(v.begin(), v.end(), [&](const TokenHit& h) { return h.token == t; }); };
  std::vector<TokenHit> merged;
  for (size_t i = 0; i < head.size() || i < zoom.size() || i < grid.size(); ++i) {
    if (i < head.size()) merged.push_back(head[i]);
    for (const auto* found : {&zoom, &grid})
      if (i < found->size() && !in(head, (*found)[i].token) && !in(merged, (*found)[i].token)) {
        TokenHit h{(*found)[i].token, first_stage_score(b, views, (*found)[i].token)};
        h.view = 0;  // (the whole image: where its parts were found)
        merged.push_back(h);
      }
  }
  const size_t len = merged.size();
  // Every head hit's part scores: where re-ranking finds an occluder it weighs the grid's where it
  // beats the first-stage cosine (a sticker spoils the cosine, not the grid's best regions); where
  // it places the token as a zoom, the zoom's (a detail's cosine with the whole token means little).
  for (auto& h : merged) {
    h.grid_score = gs[h.token];
    h.zoom_score = zs[h.token];
  }
  for (const TokenHit& h : tail)
    if (!in(merged, h.token)) merged.push_back(h);
  hits = std::move(merged);
  return len;
}

}  // namespace

ImageRequest ImageRequest::from_json(const std::string& text) {
  ImageRequest r;
  Fields f(text, "search");
  f.get("k", r.k, "a whole number");
  f.get("rerank", r.rerank, "a whole number");
  f.get("probe", r.probe, "a whole number");
  f.get("ef", r.ef, "a whole number");
  f.get("exact", r.exact, "true or false");
  f.get("facets", r.facets, "true or false");
  f.get("parts", r.parts, "true or false");
  f.get_strings("collections", r.collections);
  f.get("filter", r.filter, "a string");
  f.done();
  r.validate();
  return r;
}

void ImageRequest::validate() const {
  in_range("k", k, 1, kMaxK);
  in_range("rerank", rerank, 0, kMaxRerank);
  in_range("probe", probe, 0, kMaxProbe);
  if (ef < 0 || ef > kMaxEf) throw Error("ef must be 0.." + std::to_string(kMaxEf) + " (got " + std::to_string(ef) + ")", errc::bad_request);
}

namespace {
// A request of a string and a count ({"query", "k"}, {"prefix", "n"}), read and checked.
template <class Request>
Request string_and_count(const std::string& text, const char* what, const char* text_key, std::string Request::*str,
                         const char* count_key, size_t Request::*count) {
  Request r;
  Fields f(text, what);
  f.get(text_key, r.*str, "a string");
  f.get(count_key, r.*count, "a whole number");
  f.done();
  r.validate();
  return r;
}
}  // namespace

TextRequest TextRequest::from_json(const std::string& text) {
  return string_and_count(text, "text search", "query", &TextRequest::query, "k", &TextRequest::k);
}
void TextRequest::validate() const { in_range("k", k, 1, kMaxK); }

SuggestRequest SuggestRequest::from_json(const std::string& text) {
  return string_and_count(text, "suggest", "prefix", &SuggestRequest::prefix, "n", &SuggestRequest::n);
}
void SuggestRequest::validate() const { in_range("n", n, 1, kMaxN); }

const char* kind_name(Need::Kind k) {
  switch (k) {
    case Need::Kind::shard: return "shard";
    case Need::Kind::fragment: return "fragment";
    case Need::Kind::thumb: return "thumb";
    case Need::Kind::lexicon: return "lexicon";
    case Need::Kind::parts: return "parts";
    case Need::Kind::directory: return "directory";
    default: return "words";
  }
}

Need::Kind parse_kind(const std::string& name) {
  for (auto k : {Need::Kind::shard, Need::Kind::fragment, Need::Kind::thumb, Need::Kind::lexicon, Need::Kind::words, Need::Kind::parts,
                 Need::Kind::directory})
    if (name == kind_name(k)) return k;
  throw Error("unknown part kind \"" + name + "\" (shard, fragment, thumb, lexicon, words, parts or directory)", errc::bad_request);
}

namespace {
// A partitioned bundle's catalogue fragments, in bytes (what loading the whole catalogue fetches).
uint64_t catalogue_bytes(const Bundle& b) { return b.layout.catalogue_bytes; }
}  // namespace

std::string Answer::to_json() const {
  if (needs.empty()) return json;
  nlohmann::json a = nlohmann::json::array();
  for (auto& n : needs) {
    a.push_back({{"kind", kind_name(n.kind)}, {"id", n.id}, {"name", n.name}, {"bytes", n.bytes}});
    if (n.ranged) a.back()["offset"] = n.offset;
  }
  return dump({{"need", a}});
}

Lens::Lens(Bundle bundle, LensSettings settings)
    : bundle_(std::make_unique<Bundle>(std::move(bundle))), settings_(settings), store_(settings.part_budget) {
  if (!bundle_->partitioned()) text_ = std::make_unique<TextIndex>(bundle_->catalogue);
  for (auto& p : bundle_->manifest.packs) pack_names_.push_back(p.name);
}

std::string Lens::info_json() const {
  const Bundle& b = *bundle_;
  json info = {{"tokens", b.manifest.tokens}, {"entries", b.manifest.entries}, {"threshold", b.recipe.match_threshold},
               {"kernel", best_l2_int8_name()}, {"max_pixels", ImageLimits{}.max_pixels}, {"partitioned", b.partitioned()},
               {"text", text_available()}};
  if (b.partitioned())
    info["layout"] = {{"partitions", b.layout.partitions()}, {"probe", b.layout.default_probe},
                      {"fragments", b.layout.fragments.size()}, {"fragment_tokens", b.layout.fragment_tokens},
                      {"catalogue_bytes", catalogue_bytes(b)}};
  if (b.partitioned() && b.layout.has_words()) {
    uint64_t words = 0;
    for (auto& w : b.layout.words) words += w.bytes;
    info["layout"]["word_chunks"] = b.layout.words.size();
    info["layout"]["word_chunk_bytes"] = words;
    info["layout"]["lexicon_bytes"] = b.layout.lexicon.bytes;
  }
  // How text calls get their data: built at load, the whole catalogue once, or word chunks per query.
  info["text_index"] = !b.partitioned() ? "memory" : uses_word_chunks() ? "chunks" : text_available() ? "whole" : "none";
  return info.dump();
}

bool Lens::text_available() const {
  return !bundle_->partitioned() || bundle_->layout.has_words() || catalogue_bytes(*bundle_) <= settings_.whole_catalogue_bytes;
}

bool Lens::uses_word_chunks() const {
  return bundle_->partitioned() && bundle_->layout.has_words() && catalogue_bytes(*bundle_) > settings_.whole_catalogue_bytes;
}

std::string Lens::session_json(const QuerySession& q) const {
  const ModelCard& card = bundle_->manifest.model;
  json shape = card.layout == "NHWC" ? json::array({1, card.height, card.width, 3}) : json::array({1, 3, card.height, card.width});
  json outs = json::array();
  for (auto& o : card.outputs) outs.push_back(o.name);
  return json({{"runs", q.model_runs()}, {"views", q.plan().views.size()}, {"width", q.image().width}, {"height", q.image().height},
               {"input", card.input_name}, {"shape", shape}, {"outputs", outs}, {"use_model", bundle_->recipe.use_model}})
      .dump();
}

Answer Lens::load_whole_catalogue() {
  Answer a;
  if (!bundle_->partitioned() || have_whole_) return a;
  const auto& frags = bundle_->layout.fragments;
  const PartitionLayout& L = bundle_->layout;
  uint32_t placed = 0;
  while (placed < frags.size() && L.fragment_known(placed)) ++placed;
  if (placed < frags.size()) {  // (version 5: the places loaded shards have not given, from the directory first, alone)
    a.needs.push_back(directory_need());
    return a;
  }
  for (uint32_t f = 0; f < frags.size(); ++f)
    if (!store_.has_fragment(f)) need_fragment(f, a.needs);
  if (!a.needs.empty()) return a;
  std::vector<Catalogue> parts;
  for (uint32_t f = 0; f < frags.size(); ++f) parts.push_back(store_.fragment(f));
  whole_ = Catalogue::join(parts);
  have_whole_ = true;
  return a;
}

const Catalogue& Lens::whole_catalogue() const {
  if (!bundle_->partitioned()) return bundle_->catalogue;
  if (!have_whole_) throw Error("the whole catalogue is not loaded (load_whole_catalogue)", errc::no_bundle);
  return whole_;
}

const TextIndex& Lens::text_index(const char* what, std::vector<Need>& needs) {
  if (text_) return *text_;
  if (!text_available()) {
    auto mb = [](uint64_t b) { return std::to_string(b / 100'000 / 10) + "." + std::to_string(b / 100'000 % 10) + " MB"; };
    throw Error(std::string(what) + " is not available on a partitioned bundle this large: it needs the whole catalogue (" +
                    mb(catalogue_bytes(*bundle_)) + "), more than this host loads (" + mb(settings_.whole_catalogue_bytes) + ")",
                errc::unsupported);
  }
  if (uses_word_chunks()) {  // the lexicon first (add_part makes the index of it)
    const PartFile& f = bundle_->layout.lexicon;
    needs.push_back({Need::Kind::lexicon, 0, f.name("lexicon"), f.bytes});
    const PartitionLayout& L = bundle_->layout;  // and the directory with it: text results are anywhere in the catalogue
    if (L.has_directory() && !L.directory_loaded()) needs.push_back(directory_need());
    return *text_;
  }
  needs = load_whole_catalogue().needs;
  if (needs.empty()) text_ = std::make_unique<TextIndex>(whole_);
  return *text_;  // (dereferenced by the caller only when needs is empty)
}

void Lens::need_chunks(const std::vector<uint32_t>& chunks, std::vector<Need>& needs) const {
  for (uint32_t c : chunks) {
    const PartFile& f = bundle_->layout.words.at(c);
    needs.push_back({Need::Kind::words, c, f.name("words"), f.bytes});
  }
}

std::pair<const Catalogue*, uint32_t> Lens::locate(uint32_t t) const {
  if (!bundle_->partitioned()) return {&bundle_->catalogue, t};
  if (have_whole_) return {&whole_, t};
  const uint32_t f = uint32_t(bundle_->layout.fragment_of(t));
  return {&store_.fragment(f), t - f * bundle_->layout.fragment_tokens};
}

const Token& Lens::token_of(uint32_t t) const {
  const auto [cat, i] = locate(t);
  return cat->tokens.at(i);
}

std::string Lens::token_json(uint32_t t, double score) const {
  const auto [cat, i] = locate(t);
  return cat->token_json(i, score, &pack_names_);
}

bool Lens::thumb_need(uint32_t t, Need& need) const {
  const ThumbRef& r = token_of(t).thumb;
  if (!r.present()) return false;
  const auto& packs = bundle_->manifest.packs;
  if (r.pack >= packs.size() || r.offset + r.bytes > packs[r.pack].bytes)
    throw Error("the catalogue places the thumbnail of token " + std::to_string(t) + " outside the bundle's thumbnail packs (damaged catalogue)", errc::bad_bundle);
  need = {Need::Kind::thumb, t, packs[r.pack].name, r.bytes, r.offset, true};
  return true;
}

std::string Lens::facets_json(const std::vector<uint32_t>& tokens) const {
  TraitCounts f;
  for (uint32_t t : tokens) f.add(*locate(t).first, token_of(t));
  return f.json();
}

Need Lens::directory_need() const {
  const PartFile& d = bundle_->layout.directory;
  return {Need::Kind::directory, 0, d.name("directory"), d.bytes};
}

void Lens::need_fragment(uint32_t f, std::vector<Need>& needs) const {
  const PartitionLayout& L = bundle_->layout;
  if (L.grouped() && !L.fragment_known(f)) {  // (version 5: no loaded shard has placed it)
    for (auto& n : needs)
      if (n.kind == Need::Kind::directory) return;
    needs.push_back(directory_need());
    return;
  }
  const PartPlace p = L.fragment_place(f);
  needs.push_back({Need::Kind::fragment, f, p.file, p.bytes, p.offset, p.ranged});
}

void Lens::need_fragments(const std::vector<TokenHit>& hits, std::vector<Need>& needs) const {
  if (!bundle_->partitioned() || have_whole_) return;
  for (uint32_t f : fragments_for(*bundle_, hits))
    if (!store_.has_fragment(f)) need_fragment(f, needs);
}

// Whether an image query looks like a part of a token, from its first re-ranking: an occluder was
// found (a sticker), the token was placed larger than the query region by kPartZoom on each side (a
// zoom on a detail) or no placement fit well (kGoodFit; nothing placed at all scores -1).
static bool placed_as_zoom(const Answer& a) { return placed_as_zoom(a.placed, a.region.w, a.region.h); }
static bool looks_like_part(const Answer& a, bool occluder) { return occluder || placed_as_zoom(a) || a.placed.score < kGoodFit; }

// Re-rank hits[0..n) by alignment with their thumbnails, within the region whose view found the
// first hit (a post's artwork, a trimmed screenshot). False, with the missing thumbnails in
// a.needs, if some are not here yet.
bool Lens::rerank_head(const QuerySession& query, std::vector<TokenHit>& hits, size_t n, Answer& a, bool* occluder, LocateMemo* memo,
                       const AlignOptions& align) {
  std::vector<RgbImage> thumbs(n);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t t = hits[i].token;
    Need need;
    if (auto it = thumbs_.find(t); it != thumbs_.end()) thumbs[i] = it->second;
    else if (thumb_need(t, need)) a.needs.push_back(need);
  }
  if (!a.needs.empty()) return false;
  const View& v = query.plan().views.at(hits[0].view);
  Circle mask = v.circle;
  if (mask.found()) { mask.cx -= float(v.box.x); mask.cy -= float(v.box.y); }
  const bool whole = v.box == Box{0, 0, query.image().width, query.image().height};
  a.region = v.box;
  a.circle = v.circle;
  if (rerank_by_alignment(hits, whole ? query.image() : crop(query.image(), v.box), thumbs, mask, kRerankCosineWeight, align, &a.placed, occluder, memo)) {
    a.placed.x0 += v.box.x;
    a.placed.y0 += v.box.y;
  }
  return true;
}

Answer Lens::search(const QuerySession& query, const ImageRequest& req) {
  req.validate();
  const Bundle& b = *bundle_;
  Answer a;
  SearchOptions opt;
  opt.k = std::max(req.k, req.rerank);  // re-ranking needs its candidates first
  opt.ef = req.ef;
  opt.exact = req.exact;
  opt.probe = req.probe;
  opt.collections = req.collections;
  TextQuery filter;
  const TextIndex* text = nullptr;
  if (!req.filter.empty()) {
    filter = parse_text_query(req.filter);
    if (!filter.words.empty())
      throw Error("filter takes type:value, collection:slug or rank:A-B terms, not free words (\"" + filter.words[0] + "\")", errc::bad_request);
    text = &text_index("trait filters", a.needs);
    if (!a.needs.empty()) return a;
    text->resolve(filter.filter);
    need_chunks(text->missing_chunks(filter.filter), a.needs);  // (chunked: the filter's trait postings)
    if (!a.needs.empty()) return a;
    text->bind(filter.filter);
  }
  if (text || !req.exclude.empty())
    opt.allow = [&](uint32_t t) {
      return (!text || text->passes(t, filter.filter)) && std::find(req.exclude.begin(), req.exclude.end(), t) == req.exclude.end();
    };
  const QueryDescriptors qd{query.descriptors(), query.window_descriptors()};

  // 1. The first stage: HNSW (or an exact scan) over one index, or over the probed partitions.
  std::vector<TokenHit> hits;
  if (!b.partitioned()) {
    hits = search_tokens(b, qd, opt);
  } else {
    const auto probe = shards_to_probe(b, qd, opt);
    for (uint32_t p : probe)
      if (!store_.has_shard(p)) {
        const PartPlace s = b.layout.shard_place(p);
        a.needs.push_back({Need::Kind::shard, p, s.file, s.bytes, s.offset, s.ranged});
      }
    if (!a.needs.empty()) return a;
    hits = search_partitions(b, store_, qd, opt);
    need_fragments(hits, a.needs);  // the candidates' catalogue entries (thumbnails, results)
    if (!a.needs.empty()) return a;
    std::vector<uint32_t> frags;
    if (!have_whole_) frags = fragments_for(b, hits);
    store_.touch(probe, frags);
  }

  // 2. Re-rank the first candidates by alignment with their thumbnails (fetched as needs).
  size_t n = std::min(req.rerank, hits.size());
  const bool may_use_parts = n > 0 && req.parts && !b.partitioned() && b.manifest.has("parts") && !query.part_regions().empty();
  std::vector<TokenHit> first_stage;
  if (may_use_parts) first_stage = hits;
  bool occluder = false;
  FirstPass& fp = first_pass_;  // (its memo: a second re-ranking reuses the first one's placements)
  auto same_head = [&] {  // (the same query's first stage as the kept pass: the same re-ranking)
    if (fp.session != query.serial() || fp.n != n || fp.first_stage.size() != hits.size()) return false;
    for (size_t i = 0; i < hits.size(); ++i)
      if (fp.first_stage[i].token != hits[i].token || fp.first_stage[i].score != hits[i].score || fp.first_stage[i].view != hits[i].view) return false;
    return true;
  };
  if (n > 0 && may_use_parts && same_head()) {
    hits = fp.hits;
    a.region = fp.region;
    a.circle = fp.circle;
    a.placed = fp.placed;
    occluder = fp.occluder;
  } else if (n > 0) {
    fp.session = 0;
    fp.memo = LocateMemo{};
    if (!rerank_head(query, hits, n, a, &occluder, &fp.memo)) return a;
    if (may_use_parts && looks_like_part(a, occluder)) {
      fp.session = query.serial();
      fp.n = n;
      fp.first_stage = first_stage;
      fp.hits = hits;
      fp.region = a.region;
      fp.circle = a.circle;
      fp.placed = a.placed;
      fp.occluder = occluder;
    }
  } else if (!hits.empty()) {
    a.region = query.plan().views.at(hits[0].view).box;
    a.circle = query.plan().views.at(hits[0].view).circle;
  }

  // 2b. Part codes (a one-index bundle built with them), only for a query that looks like a part
  // of a token: re-ranking found an occluder (a sticker), placed the token larger than the query (a
  // zoom on a detail) or found no good fit. Then the best tokens by the parts that reason calls for
  // (a sticker: the grid's unspoilt regions; a zoom: the zoom windows; no good fit: both) join the
  // first stage's head, each after its hit of the same rank (so that locating the token in the
  // query also tries them), and the head is re-ranked again. (Zoom candidates for a sticker and
  // grid candidates for a zoom were distractors: SEED=2/3 splits, docs/quality.md.) Other queries
  // never fetch the part codes (parts.<h>.bin, fetched as a need), and their answer does not
  // depend on whether they were fetched.
  if (may_use_parts && looks_like_part(a, occluder)) {
    if (b.parts.empty()) {
      const FileEntry& f = b.manifest.file("parts");
      a.needs.push_back({Need::Kind::parts, 0, f.name, f.bytes});
      return a;
    }
    hits = std::move(first_stage);
    const bool zoom = !occluder && placed_as_zoom(a);
    bool covered = false;
    n = add_part_candidates(b, qd, query.part_regions(), opt, hits, n, !occluder, !zoom, zoom ? &covered : nullptr);
    a.placed = {};
    AlignOptions align;
    align.zoom = !covered;
    if (!rerank_head(query, hits, n, a, nullptr, &fp.memo, align)) return a;  // (needs: the memo is as pass 1 left it)
    fp.session = 0;  // (the memo now holds this pass's placements too: a next call starts afresh)
    a.parts_used = true;
  }

  // 3. The verdict (on the first result and the runner-up), the cut to k and the result document.
  // (decided by the model of the first result's collection, if the bundle has one per collection)
  const float threshold = b.recipe.match_threshold;
  std::string first_collection;
  int style = -1;
  if (!hits.empty() && (!b.manifest.verdict.collections.empty() || !b.style.empty())) {
    const auto [cat, i] = locate(hits[0].token);
    first_collection = cat->collections.at(cat->tokens.at(i).collection).slug;
    if (const StyleModel* sm = b.style.of(first_collection)) {
      a.style_residual = sm->residual(first_view_style(query, hits[0]));
      a.style_outside = sm->outside(a.style_residual, hits[0].score);
      a.style_threshold = sm->threshold;
      style = sm->inside(a.style_residual, hits[0].score) ? 1 : 0;
    }
  }
  const Verdict v = decide_verdict(b.manifest.verdict, first_collection, threshold, hits, style);
  if (hits.size() > req.k) hits.resize(req.k);
  json res = json::array();
  std::vector<uint32_t> tokens;
  // "relevance" is the number the order follows, 0..1, never rising down the list: for re-ranked
  // hits their re-ranking key (alignment + w x cosine) / (1 + w) (TokenHit::relevance); for the
  // rest their cosine, capped by the hit above. ("score", the cosine, alone would read out of
  // order after re-ranking.)
  float above = 1.0f;
  for (auto& h : hits) {
    res.push_back(parse_json(token_json(h.token, h.score)));
    const bool aligned = h.alignment != TokenHit::kNotAligned;
    if (aligned) res.back()["alignment"] = h.alignment;
    above = std::min(above, aligned ? h.relevance : h.score);
    res.back()["relevance"] = std::max(0.0f, above);
    tokens.push_back(h.token);
  }
  json doc = {{"match", v.kind == "token"}, {"verdict", v.kind}, {"confidence", v.confidence >= 0 ? json(v.confidence) : json(nullptr)},
              {"close_call", v.close_call}, {"threshold", threshold}, {"results", res}};
  if (v.kind != "none") doc["collection"] = res[0]["collection"];
  if (req.facets) doc["facets"] = parse_json(facets_json(tokens));
  a.json = dump(doc);
  a.hits = std::move(hits);
  return a;
}

Answer Lens::text(const TextRequest& req) {
  req.validate();
  Answer a;
  TextIndex& index = const_cast<TextIndex&>(text_index("text search", a.needs));
  if (!a.needs.empty()) return a;
  const TextQuery q = parse_text_query(req.query);
  std::vector<uint32_t> chunks;
  if (index.chunked()) {  // the chunks of the query's words and filters, then the results' fragments
    chunks = index.missing_chunks(q);
    need_chunks(chunks, a.needs);
    if (!a.needs.empty()) return a;
  }
  size_t total = 0;
  const auto hits = index.search(q, req.k, &total);
  if (index.chunked()) {
    std::vector<TokenHit> th;
    for (auto& h : hits) th.push_back(TokenHit{h.token, h.score});
    need_fragments(th, a.needs);
    if (!a.needs.empty()) return a;
    store_.touch({}, fragments_for(*bundle_, th));
    index.trim_chunks(settings_.part_budget, {});
  }
  json res = json::array();
  std::vector<uint32_t> tokens;
  for (auto& h : hits) {
    res.push_back(parse_json(token_json(h.token, h.score)));
    tokens.push_back(h.token);
  }
  a.json = dump({{"query", req.query}, {"total", total}, {"results", res}, {"facets", parse_json(facets_json(tokens))}});
  return a;
}

Answer Lens::suggest(const SuggestRequest& req) {
  req.validate();
  Answer a;
  const TextIndex& index = text_index("suggestions", a.needs);
  if (a.needs.empty()) a.json = index.suggest_json(req.prefix, req.n);
  return a;
}

Answer Lens::token(uint32_t i) {
  if (i >= bundle_->manifest.tokens) throw Error("no token " + std::to_string(i) + " in this bundle", errc::bad_request);
  Answer a;
  need_fragments({TokenHit{i, 0}}, a.needs);
  if (a.needs.empty()) a.json = token_json(i);
  return a;
}

Answer Lens::trait_stats(int collection) {
  Answer a;
  if (bundle_->partitioned()) {
    const TextIndex& index = text_index("trait statistics", a.needs);  // (refused without chunks beyond the budget)
    if (!a.needs.empty()) return a;
    if (index.chunked()) {  // from the lexicon's counts
      a.json = index.trait_stats_json(collection);
      return a;
    }
  }
  a.json = whole_catalogue().trait_stats_json(collection);
  return a;
}

void Lens::add_part(Need::Kind kind, uint32_t id, const uint8_t* data, size_t size) {
  const Bundle& b = *bundle_;
  if (kind == Need::Kind::thumb) {  // an empty one (not fetched) is treated as missing: that hit scores low
    if (id >= b.manifest.tokens) throw Error("thumbnail for no token (" + std::to_string(id) + ")", errc::bad_request);
    RgbImage img;
    if (size > 0) {
      Need need;
      if (!thumb_need(id, need)) throw Error("token " + std::to_string(id) + " has no thumbnail", errc::bad_request);
      if (!thumb_matches(token_of(id).thumb, data, size))
        throw Error(need.name + ": the thumbnail of token " + std::to_string(id) + " (bytes " + std::to_string(need.offset) + "-" +
                        std::to_string(need.offset + need.bytes - 1) + ") does not match the catalogue (damaged pack, or from another bundle)",
                    errc::bad_bundle);
      try {
        img = decode_image(data, size, b.manifest.model.background);
      } catch (const Error&) {  // (checked bytes the builder wrote: cannot happen short of a builder bug)
      }
    }
    if (thumbs_.count(id) == 0) thumb_order_.push_back(id);
    thumbs_[id] = std::move(img);
    while (thumbs_.size() > std::max<size_t>(settings_.thumb_budget, 2 * ImageRequest::kMaxRerank)) {
      thumbs_.erase(thumb_order_.front());
      thumb_order_.pop_front();
    }
    return;
  }
  if (kind == Need::Kind::parts) {
    if (!b.manifest.has("parts")) throw Error("this bundle has no part codes", errc::bad_request);
    if (!b.parts.empty()) return;  // (already loaded)
    try {
      load_part_codes(*bundle_, data, size);
    } catch (const Error& e) {
      throw Error(e.what(), errc::bad_bundle);
    }
    return;
  }
  if (!b.partitioned()) throw Error("this bundle is not partitioned: it has no shards or fragments", errc::bad_request);
  if (kind == Need::Kind::lexicon || kind == Need::Kind::words) {
    if (!b.layout.has_words()) throw Error("this bundle has no word index", errc::bad_request);
    if (kind == Need::Kind::words && (!text_ || !text_->chunked())) throw Error("a word chunk before the lexicon", errc::bad_request);
    if (kind == Need::Kind::words && id >= b.layout.words.size()) throw Error("word chunk " + std::to_string(id) + ": no such chunk", errc::bad_request);
    if (kind == Need::Kind::lexicon && text_) return;  // (already made)
    const PartFile& f = kind == Need::Kind::lexicon ? b.layout.lexicon : b.layout.words[id];
    const std::string name = f.name(kind == Need::Kind::lexicon ? "lexicon" : "words");
    try {
      verify_part(f, name, data, size);
      if (kind == Need::Kind::lexicon) {
        WordLexicon lex = WordLexicon::decode(data, size, name);
        if (lex.tokens != b.manifest.tokens || lex.chunks() != b.layout.words.size())
          throw Error(name + ": the lexicon does not match the partition table");
        text_ = std::make_unique<TextIndex>(std::move(lex), b.catalogue.collections);
      } else {
        text_->add_chunk(id, WordChunk::decode(data, size, text_->lexicon(), id, name));
      }
    } catch (const Error& e) {
      throw Error(e.what(), errc::bad_bundle);
    }
    return;
  }
  PartitionLayout& layout = bundle_->layout;
  try {
    if (kind == Need::Kind::directory) {
      layout.load_directory(data, size);
    } else if (kind == Need::Kind::shard) {
      const bool had = store_.has_shard(id);
      store_.add_shard(layout, b.catalogue.collections.size(), id, data, size);
      // (version 5) the places of the fragments it carries: its hits' fragments need no directory
      try {
        layout.learn_fragments(store_.shard(id).carried, layout.shard_place(id).label("shard", id));
      } catch (const Error&) {
        if (!had) store_.drop_shard(id);  // (a refused shard is not kept)
        throw;
      }
    } else {
      store_.add_fragment(layout, id, data, size);
    }
  } catch (const Error& e) {
    throw Error(e.what(), std::string(e.code()) == errc::bad_request ? errc::bad_request : errc::bad_bundle);
  }
}

}  // namespace nftlens
