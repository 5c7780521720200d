// The query engine (shared/lens.h) on a one-index bundle: requests with their defaults and limits,
// the need protocol for thumbnails, re-ranking, the cut to k, result and text documents.
// (Partitioned bundles through the Lens: partitions_test.cpp.)
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "bundle.h"
#include "helpers.h"
#include "lens.h"
#include "search.h"
#include "sha256.h"
#include "thumb_pack.h"

using namespace nftlens;
using json = nlohmann::json;

namespace {

std::string failure(const std::function<void()>& f, std::string* code = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

// The shared test bundle with every token's thumbnail in one of two packs (first and second half).
struct ThumbBundle {
  testutil::TestBundle tb;
  std::map<std::string, std::vector<uint8_t>> files;
  std::map<std::string, std::vector<uint8_t>> packs;  // name -> bytes
  Bundle load() const { return load_bundle(parse_manifest(tb.manifest_json), files); }
  std::vector<uint8_t> range(const Need& n) const {
    const auto& p = packs.at(n.name);
    return std::vector<uint8_t>(p.begin() + long(n.offset), p.begin() + long(n.offset + n.bytes));
  }
};
const ThumbBundle& thumb_bundle() {
  static const ThumbBundle B = [] {
    ThumbBundle b{testutil::make_test_bundle(20), {}, {}};
    Catalogue cat = b.tb.catalogue;
    json m = json::parse(b.tb.manifest_json);
    const uint32_t half = uint32_t(cat.tokens.size() / 2);
    for (uint32_t first : {0u, half}) {
      std::vector<std::vector<uint8_t>> pngs;
      for (uint32_t t = first; t < first + half; ++t) pngs.push_back(testutil::encode_png(b.tb.images.at(t)));
      std::vector<const std::vector<uint8_t>*> ptrs;
      for (auto& p : pngs) ptrs.push_back(&p);
      std::vector<ThumbRef> refs;
      const auto pack = make_thumb_pack(ptrs, first / half, refs);
      for (uint32_t i = 0; i < half; ++i) cat.tokens[first + i].thumb = refs[i];
      const std::string sha = sha256_hex(pack.data(), pack.size());
      const std::string name = hashed_name("thumbs", "bin", sha);
      b.packs[name] = pack;
      m["files"].push_back({{"role", "thumbs"}, {"name", name}, {"bytes", pack.size()}, {"sha256", sha}});
    }
    b.files = b.tb.files;
    b.files["catalogue"] = serialize_catalogue(cat);
    for (auto& f : m["files"])
      if (f["role"] == "catalogue") {
        f["bytes"] = b.files["catalogue"].size();
        f["sha256"] = sha256_hex(b.files["catalogue"].data(), b.files["catalogue"].size());
      }
    b.tb.manifest_json = m.dump();
    return b;
  }();
  return B;
}

}  // namespace

TEST_CASE("lens: requests take the engine's defaults, refuse unknown options and name the field out of range") {
  const ImageRequest d = ImageRequest::from_json("{}");
  CHECK(d.k == 10);
  CHECK(d.rerank == kRerankCandidates);
  CHECK(d.probe == 0);
  CHECK_FALSE(d.exact);
  const ImageRequest r = ImageRequest::from_json(R"({"k": 3, "rerank": 0, "collections": ["a"], "filter": "rank:1-5", "exact": true, "facets": true, "probe": null})");
  CHECK(r.k == 3);
  CHECK(r.rerank == 0);
  CHECK(r.collections == std::vector<std::string>{"a"});
  CHECK(r.exact);
  CHECK(r.facets);
  std::string code;
  CHECK(failure([] { ImageRequest::from_json(R"({"k": 0})"); }, &code) == "k must be 1..1000 (got 0)");
  CHECK(code == errc::bad_request);
  CHECK(failure([] { ImageRequest::from_json(R"({"k": -3})"); }).find("\"k\" must be a whole number") != std::string::npos);
  CHECK(failure([] { ImageRequest::from_json(R"({"rerank": 500})"); }) == "rerank must be 0..100 (got 500)");
  CHECK(failure([] { ImageRequest::from_json(R"({"topk": 5})"); }) == "search option \"topk\" is unknown");
  CHECK(failure([] { ImageRequest::from_json(R"({"collections": "a"})"); }).find("list of strings") != std::string::npos);
  CHECK(failure([] { ImageRequest::from_json("[1]"); }).find("not a JSON object") != std::string::npos);
  CHECK(TextRequest::from_json(R"({"query": "red"})").k == 20);
  CHECK(SuggestRequest::from_json("{}").n == 8);
  CHECK(failure([] { SuggestRequest::from_json(R"({"n": 0})"); }) == "n must be 1..100 (got 0)");
  CHECK(failure([] { parse_kind("shrd"); }, &code).find("unknown part kind") != std::string::npos);
  CHECK(code == errc::bad_request);
}

TEST_CASE("lens: a collection filter is one flag per catalogue collection, empty when it allows all") {
  const Bundle b = thumb_bundle().load();  // collections alpha and beta
  SearchOptions opt;
  CHECK(allowed_collections(b, opt).empty());
  opt.collections = {"beta"};
  CHECK(allowed_collections(b, opt) == std::vector<bool>{false, true});
  opt.collections = {"gamma", "alpha", "beta"};
  CHECK(allowed_collections(b, opt) == std::vector<bool>{true, true});
  opt.collections = {"gamma"};  // (nothing allowed: not the same as no filter)
  CHECK(allowed_collections(b, opt) == std::vector<bool>{false, false});
}

TEST_CASE("lens: re-ranking asks for the candidates' thumbnails once, then answers; the cut to k comes last") {
  const auto& B = thumb_bundle();
  Lens lens(B.load());
  const RgbImage framed = testutil::pad(B.tb.images[7], 10, 20, 10, 30, {255, 255, 255});  // a screenshot of it
  QuerySession q(lens.bundle(), framed);
  ImageRequest req;
  req.k = 3;
  req.rerank = 12;
  Answer a = lens.search(q, req);
  REQUIRE(a.needs.size() == 12);  // one per re-ranked candidate, none for the rest
  for (const Need& n : a.needs) {  // a byte range of one of the two packs
    CHECK(n.kind == Need::Kind::thumb);
    REQUIRE(B.packs.count(n.name) == 1);
    CHECK(n.offset + n.bytes <= B.packs.at(n.name).size());
    CHECK(n.name == lens.bundle().manifest.packs[n.id / (lens.bundle().catalogue.tokens.size() / 2)].name);
  }
  const json needs = json::parse(a.to_json())["need"];
  CHECK(needs.size() == 12);
  CHECK(needs[0]["offset"].is_number());
  for (const Need& n : a.needs) {
    const auto bytes = B.range(n);
    lens.add_part(n.kind, n.id, bytes.data(), bytes.size());
  }
  a = lens.search(q, req);
  REQUIRE(a.done());
  REQUIRE(a.hits.size() == 3);
  CHECK(a.hits[0].token == 7);
  for (auto& h : a.hits) CHECK(h.alignment != TokenHit::kNotAligned);
  const json doc = json::parse(a.json);
  CHECK(doc["results"].size() == 3);
  CHECK(doc["results"][0]["alignment"].is_number());
  CHECK(doc["results"][0]["thumb"]["pack"] == lens.bundle().manifest.packs[0].name);  // (token 7: the first pack)
  CHECK(doc["results"][0]["thumb"]["bytes"].get<uint32_t>() == lens.bundle().catalogue.tokens[7].thumb.bytes);
  CHECK_FALSE(doc.contains("facets"));
  // Held now: asked again, nothing is needed.
  CHECK(lens.search(q, req).done());
  // rerank 0: the first stage alone, as search_tokens gives it.
  req.rerank = 0;
  const Answer plain = lens.search(q, req);
  SearchOptions opt;
  opt.k = 3;
  const auto first = search_tokens(lens.bundle(), {q.descriptors(), q.window_descriptors()}, opt);
  REQUIRE(plain.hits.size() == first.size());
  for (size_t i = 0; i < first.size(); ++i) CHECK(plain.hits[i].token == first[i].token);
  CHECK(json::parse(plain.json)["results"][0].count("alignment") == 0);
  // A thumbnail that could not be fetched (empty) is not an error: that hit just scores low. A
  // damaged one is refused naming its pack; one for no token too.
  CHECK_NOTHROW(lens.add_part(Need::Kind::thumb, 3, nullptr, 0));
  Need n3;
  REQUIRE(lens.thumb_need(3, n3));
  auto damaged = B.range(n3);
  damaged[damaged.size() / 2] ^= 0x40;
  std::string code;
  const std::string why = failure([&] { lens.add_part(Need::Kind::thumb, 3, damaged.data(), damaged.size()); }, &code);
  CHECK(why.find(n3.name) != std::string::npos);
  CHECK(why.find("does not match") != std::string::npos);
  CHECK(code == errc::bad_bundle);
  CHECK(failure([&] { lens.add_part(Need::Kind::thumb, 3, damaged.data(), damaged.size() - 1); }).find(n3.name) != std::string::npos);
  CHECK(failure([&] { lens.add_part(Need::Kind::thumb, 100000, nullptr, 0); }).find("no token") != std::string::npos);
  CHECK(failure([&] { lens.add_part(Need::Kind::shard, 0, nullptr, 0); }).find("not partitioned") != std::string::npos);
}

TEST_CASE("lens: facets, filters, text, tokens and trait statistics come from one place") {
  const auto& B = thumb_bundle();
  Lens lens(B.load());
  QuerySession q(lens.bundle(), B.tb.images[4]);
  ImageRequest req;
  req.k = 6;
  req.rerank = 0;
  req.facets = true;
  const json doc = json::parse(lens.search(q, req).json);
  std::map<std::string, std::map<std::string, int>> counted;
  for (auto& r : doc["results"])
    for (auto& t : r["attributes"]) counted[t["trait_type"]][t["value"]]++;
  CHECK(doc["facets"] == json(counted));
  // Trait filters: the same parser and errors on both hosts.
  req.filter = "rank:1-3";
  const json f = json::parse(lens.search(q, req).json);
  REQUIRE_FALSE(f["results"].empty());
  for (auto& r : f["results"]) CHECK(r["rarity_rank"].get<int>() <= 3);
  req.filter = "red hats";
  std::string code;
  CHECK(failure([&] { lens.search(q, req); }, &code).find("not free words (\"red\")") != std::string::npos);
  CHECK(code == errc::bad_request);
  req.k = 0;
  CHECK(failure([&] { lens.search(q, req); }) == "k must be 1..1000 (got 0)");
  // Text: {"query", "results", "facets"}.
  const json t = json::parse(lens.text(TextRequest{"alpha", 4}).json);
  CHECK(t["query"] == "alpha");
  CHECK(t["results"].size() == 4);
  CHECK(t["facets"].is_object());
  CHECK(json::parse(lens.token(5).json)["index"] == 5);
  CHECK(failure([&] { lens.token(100000); }).find("no token") != std::string::npos);
  CHECK(json::parse(lens.trait_stats(-1).json).is_object());
  CHECK(json::parse(lens.info_json())["tokens"] == 40);
}

TEST_CASE("lens: the verdict is decided by the model of the first result's collection") {
  const auto& B = thumb_bundle();  // alpha: tokens 0-19, beta: tokens 20-39
  auto lens_with = [&](const json& verdict) {
    json m = json::parse(B.tb.manifest_json);
    m["verdict"] = verdict;
    return Lens(load_bundle(parse_manifest(m.dump()), B.files));
  };
  auto verdict_of = [](Lens& lens, const RgbImage& img) {
    QuerySession q(lens.bundle(), img);
    ImageRequest req;
    req.rerank = 0;  // (first-stage evidence: the "plain" weights)
    const Answer a = lens.search(q, req);
    REQUIRE(a.done());
    return json::parse(a.json);
  };
  // Global: confidence 0.047 ("collection"); alpha's own: 0.953 ("token"); beta's: the global
  // weights with its own operating point 0.02 ("token", a close call).
  const json global = {{"plain", {-3, 0, 0}}, {"token_confidence", 0.5}};
  json per = global;
  per["collections"] = {{"alpha", {{"plain", {3, 0, 0}}, {"token_confidence", 0.8}}}, {"beta", {{"token_confidence", 0.02}}}};
  Lens lens = lens_with(per);
  json a = verdict_of(lens, B.tb.images[3]);
  REQUIRE(a["results"][0]["collection"] == "alpha");
  CHECK(a["results"][0]["token_id"] == "3");
  CHECK(a["verdict"] == "token");
  CHECK(a["collection"] == "alpha");
  CHECK(a["confidence"].get<double>() == doctest::Approx(0.9526).epsilon(1e-3));
  CHECK_FALSE(a["close_call"].get<bool>());
  json b = verdict_of(lens, B.tb.images[25]);
  REQUIRE(b["results"][0]["collection"] == "beta");
  CHECK(b["verdict"] == "token");
  CHECK(b["confidence"].get<double>() == doctest::Approx(0.0474).epsilon(1e-3));
  CHECK(b["close_call"].get<bool>());
  // Without per-collection models (older bundles, one collection) the global model decides both.
  Lens plain = lens_with(global);
  CHECK(verdict_of(plain, B.tb.images[3])["verdict"] == "collection");
  CHECK(verdict_of(plain, B.tb.images[25])["verdict"] == "collection");
  // A collection without a model of its own: the global one.
  per["collections"].erase("beta");
  Lens only_alpha = lens_with(per);
  CHECK(verdict_of(only_alpha, B.tb.images[3])["verdict"] == "token");
  CHECK(verdict_of(only_alpha, B.tb.images[25])["verdict"] == "collection");
  // A bad per-collection value: the bundle does not open, and the error names the field.
  per["collections"]["alpha"]["token_confidence"] = 3;
  json m = json::parse(B.tb.manifest_json);
  m["verdict"] = per;
  CHECK(failure([&] { parse_manifest(m.dump()); }) == "manifest.json: verdict.collections.alpha.token_confidence must be a number in 0..1");
}
