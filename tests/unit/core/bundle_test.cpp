#include <doctest/doctest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "bundle.h"
#include "helpers.h"
#include "lens.h"
#include "search.h"
#include "sha256.h"

using namespace nftlens;
using nlohmann::json;
using testutil::contains;
using testutil::error_of;

namespace {
const testutil::TestBundle& shared_bundle() {
  static const testutil::TestBundle tb = testutil::make_test_bundle(20);
  return tb;
}
std::string name_of(const testutil::TestBundle& tb, const std::string& role) {
  for (auto& f : tb.entries)
    if (f.role == role) return f.name;
  return "?";
}
std::string edited_manifest(const std::string& text, const std::function<void(json&)>& edit) {
  json j = json::parse(text);
  edit(j);
  return j.dump();
}
// Replace one file's bytes and re-list it (size + hash) in the manifest, so only the contents are wrong.
Manifest relisted(const testutil::TestBundle& tb, const std::string& role, const std::vector<uint8_t>& bytes) {
  return parse_manifest(edited_manifest(tb.manifest_json, [&](json& j) {
    for (auto& f : j["files"])
      if (f["role"] == role) {
        f["bytes"] = bytes.size();
        f["sha256"] = sha256_hex(bytes.data(), bytes.size());
      }
  }));
}
}  // namespace

TEST_CASE("bundle: recipe serialisation round trip and damage") {
  Recipe r;
  r.color_grid = 4;
  r.use_model = false;
  r.model_weight = 0.7f;
  r.trim_margins = false;
  r.collection_backgrounds = {Rgb{1, 2, 3}, Rgb{250, 251, 252}};
  r.in_dim = 3;
  r.out_dim = 2;
  r.mean = {0.1f, -0.2f, 0.3f};
  r.projection = {1, 2, 3, 4, 5, 6};
  r.quant_scale = 99.5f;
  r.match_threshold = 0.8f;
  const std::vector<uint8_t> bytes = serialize_recipe(r);
  const Recipe b = deserialize_recipe(bytes.data(), bytes.size(), "recipe.bin");
  CHECK(b.color_grid == 4);
  CHECK_FALSE(b.use_model);
  CHECK(b.model_weight == 0.7f);
  CHECK_FALSE(b.trim_margins);
  CHECK(b.mirror_queries);
  CHECK(b.collection_backgrounds == r.collection_backgrounds);
  CHECK(b.in_dim == 3);
  CHECK(b.out_dim == 2);
  CHECK(b.mean == r.mean);
  std::vector<float> rounded = r.projection;
  round_weights(rounded);
  CHECK(b.projection == rounded);  // 16-bit floats: within 2^-11 relative
  for (size_t i = 0; i < rounded.size(); ++i) CHECK(rounded[i] == doctest::Approx(r.projection[i]).epsilon(1.0 / 2048));
  round_weights(rounded);
  CHECK(b.projection == rounded);  // rounding twice changes nothing
  CHECK(b.quant_scale == 99.5f);
  CHECK(b.match_threshold == 0.8f);
  CHECK(serialize_recipe(b) == bytes);

  int bad = 0;
  for (size_t n = 0; n < bytes.size(); ++n)
    if (error_of([&] { deserialize_recipe(bytes.data(), n, "recipe.bin"); }).rfind("recipe.bin: ", 0) != 0) ++bad;
  CHECK(bad == 0);
  std::vector<uint8_t> x = bytes;
  x.push_back(0);
  CHECK(contains(error_of([&] { deserialize_recipe(x.data(), x.size(), "recipe.bin"); }), "recipe.bin: recipe file has trailing bytes"));
  x = bytes;
  x[4] = 9;
  CHECK(contains(error_of([&] { deserialize_recipe(x.data(), x.size(), "recipe.bin"); }), "unsupported recipe format version 9"));
  const std::vector<uint8_t> cat = serialize_catalogue(Catalogue{});
  CHECK(contains(error_of([&] { deserialize_recipe(cat.data(), cat.size(), "recipe.bin"); }), "recipe.bin: not an NFT Lens recipe file"));
  CHECK(contains(error_of([&] { deserialize_catalogue(bytes.data(), bytes.size(), "cat.bin"); }), "cat.bin: not an NFT Lens catalogue file"));
}

TEST_CASE("bundle: catalogue serialisation round trip and damage") {
  Catalogue c = shared_bundle().catalogue;
  c.tokens[1].thumb = ThumbRef{3, 2500, 123456, {1, 2, 3, 4, 5, 6, 7, 8}};  // (and token 0 has none)
  const std::vector<uint8_t> bytes = serialize_catalogue(c);
  const Catalogue b = deserialize_catalogue(bytes.data(), bytes.size(), "catalogue.bin");
  REQUIRE(b.tokens.size() == c.tokens.size());
  CHECK(b.collections.size() == 2);
  CHECK(b.collections[0].slug == "alpha");
  CHECK(b.collections[0].link_template == c.collections[0].link_template);
  CHECK(b.collections[1].token_count == 20);
  CHECK(b.entry_token == c.entry_token);
  // String indices are renumbered by the compact form; the texts must survive.
  auto traits_text = [](const Catalogue& cat, const Token& t) {
    std::vector<std::pair<std::string, std::string>> v;
    for (auto& [k, val] : t.traits) v.emplace_back(cat.strings[k], cat.strings[val]);
    return v;
  };
  for (size_t i = 0; i < c.tokens.size(); ++i) {
    CHECK(b.tokens[i].token_id == c.tokens[i].token_id);
    CHECK(b.tokens[i].name == c.tokens[i].name);
    CHECK(b.tokens[i].thumb == c.tokens[i].thumb);
    CHECK(b.strings[b.tokens[i].description] == c.strings[c.tokens[i].description]);
    CHECK(traits_text(b, b.tokens[i]) == traits_text(c, c.tokens[i]));
    CHECK(b.tokens[i].rarity_score == c.tokens[i].rarity_score);
    CHECK(b.tokens[i].rarity_rank == c.tokens[i].rarity_rank);
  }
  CHECK(serialize_catalogue(b) == bytes);

  int bad = 0;
  for (size_t n = 0; n < bytes.size(); n += (n < 200 ? 1 : 7))
    if (error_of([&] { deserialize_catalogue(bytes.data(), n, "catalogue.bin"); }).rfind("catalogue.bin: ", 0) != 0) ++bad;
  CHECK(bad == 0);
  // Absurd lengths (collection count, first string's length) must fail cleanly, not allocate forever.
  for (size_t off : {size_t(8), size_t(16)}) {
    std::vector<uint8_t> x = bytes;
    for (size_t i = 0; i < 8; ++i) x[off + i] = 0xff;
    CHECK(error_of([&] { deserialize_catalogue(x.data(), x.size(), "catalogue.bin"); }).rfind("catalogue.bin: ", 0) == 0);
    x[off + 7] = 0x00;
    x[off + 6] = 0x01;  // 2^48-ish
    CHECK(error_of([&] { deserialize_catalogue(x.data(), x.size(), "catalogue.bin"); }).rfind("catalogue.bin: ", 0) == 0);
  }
}

TEST_CASE("bundle: parse_manifest") {
  const auto& tb = shared_bundle();
  const Manifest m = parse_manifest(tb.manifest_json);
  CHECK(m.version == kBundleVersion);
  CHECK(m.generator == "core_tests");
  CHECK(m.descriptor_dim == 192);
  CHECK(m.tokens == 40);
  CHECK(m.entries == 40);
  CHECK(m.model.name == "mnv2-b13-576");
  CHECK(m.model.file == name_of(tb, "model"));
  REQUIRE(m.files.size() == 4);
  CHECK(m.file("index").name == name_of(tb, "index"));
  CHECK(m.file("index").bytes == tb.files.at("index").size());
  CHECK(m.file("recipe").name.rfind("recipe.", 0) == 0);
  CHECK(m.json_text == tb.manifest_json);
  CHECK(contains(error_of([&] { m.file("thumbs"); }), "no \"thumbs\" file"));
  const json j = json::parse(tb.manifest_json);
  CHECK(j["collections"][1]["slug"] == "beta");
  CHECK(j["dims"]["raw"] == 192);

  auto err = [&](const std::function<void(json&)>& edit) { return error_of([&] { parse_manifest(edited_manifest(tb.manifest_json, edit)); }); };
  CHECK(contains(error_of([] { parse_manifest("{\"format\": \"nftlens-bundle\", "); }), "manifest.json: not valid JSON"));
  CHECK(contains(error_of([] { parse_manifest("[]"); }), "not valid JSON"));
  CHECK(contains(err([](json& j) { j["format"] = "something-else"; }), "not an NFT Lens bundle manifest"));
  const std::string ev = err([](json& j) { j["version"] = 1; });  // (format 1: loose thumbnail files)
  CHECK(contains(ev, "version 1 is not supported"));
  CHECK(contains(ev, "reads version " + std::to_string(kBundleVersion)));
  CHECK(contains(err([](json& j) { j.erase("version"); }), "missing or mistyped field"));
  CHECK(contains(err([](json& j) { j["version"] = "1"; }), "missing or mistyped field"));
  CHECK(contains(err([](json& j) { j["counts"].erase("tokens"); }), "missing or mistyped field"));
  CHECK(contains(err([](json& j) { j["model"]["input"].erase("width"); }), "manifest.json \"model\": model card is missing \"input.width\""));
  for (const char* bad : {"../recipe.bin", "sub/recipe.bin", "..", ".hidden", "a\\b.bin", "x%2f.bin", "c:evil", "r.bin?x", ""}) {
    const std::string e = err([&](json& j) { j["files"][1]["name"] = bad; });
    CHECK_MESSAGE(contains(e, "is not a plain file name"), bad, " -> ", e);
  }
  CHECK(contains(err([](json& j) { j["files"][2]["sha256"] = "abc"; }), "no valid sha256"));
  CHECK(contains(err([](json& j) { j["files"].erase(2); }), "no \"index\" file listed"));
  CHECK(contains(err([](json& j) { j["model"]["file"] = "other.onnx"; }), "model file name does not match the model card"));
}

TEST_CASE("bundle: load_bundle round trip and verification") {
  const auto& tb = shared_bundle();
  const Manifest m = parse_manifest(tb.manifest_json);
  const Bundle b = load_bundle(m, tb.files);
  CHECK(serialize_recipe(b.recipe) == tb.files.at("recipe"));
  CHECK(b.index.serialize() == tb.files.at("index"));
  CHECK(serialize_catalogue(b.catalogue) == tb.files.at("catalogue"));
  CHECK(b.index.size() == 40);
  CHECK(b.index.dim() == 192);
  CHECK(b.manifest.model.file == name_of(tb, "model"));

  for (const char* role : {"recipe", "index", "catalogue"}) {
    CAPTURE(role);
    const std::string name = name_of(tb, role);
    auto files = tb.files;
    files[role][files[role].size() / 2] ^= 0x10;
    std::string e = error_of([&] { load_bundle(m, files); });
    CHECK(e.rfind(name + ": ", 0) == 0);
    CHECK(contains(e, "SHA-256 does not match"));
    files = tb.files;
    files[role].pop_back();
    e = error_of([&] { load_bundle(m, files); });
    CHECK(e.rfind(name + ": ", 0) == 0);
    CHECK(contains(e, "size is"));
    files = tb.files;
    files.erase(role);
    CHECK(contains(error_of([&] { load_bundle(m, files); }), name + ": file was not loaded"));
  }
  auto swapped = tb.files;
  std::swap(swapped["recipe"], swapped["catalogue"]);
  CHECK(error_of([&] { load_bundle(m, swapped); }).rfind(name_of(tb, "recipe") + ": ", 0) == 0);
  swapped = tb.files;
  std::swap(swapped["index"], swapped["catalogue"]);
  CHECK(error_of([&] { load_bundle(m, swapped); }).rfind(name_of(tb, "index") + ": ", 0) == 0);

  SUBCASE("files that match their hashes but not each other") {
    // A catalogue relisted with a valid hash but as a recipe: the magic check names the file.
    const Manifest m1 = relisted(tb, "recipe", tb.files.at("catalogue"));
    auto files = tb.files;
    files["recipe"] = tb.files.at("catalogue");
    CHECK(contains(error_of([&] { load_bundle(m1, files); }), name_of(tb, "recipe") + ": not an NFT Lens recipe file"));
    // A recipe for another model.
    Recipe other = tb.recipe;
    other.use_model = true;
    files = tb.files;
    files["recipe"] = serialize_recipe(other);
    CHECK(contains(error_of([&] { load_bundle(relisted(tb, "recipe", files["recipe"]), files); }), "recipe input size 192 does not match the model card (768)"));
    // Counts that disagree with the manifest.
    const Manifest m2 = parse_manifest(edited_manifest(tb.manifest_json, [](json& j) { j["counts"]["tokens"] = 41; }));
    CHECK(contains(error_of([&] { load_bundle(m2, tb.files); }), name_of(tb, "catalogue") + ": token count does not match"));
    const Manifest m3 = parse_manifest(edited_manifest(tb.manifest_json, [](json& j) { j["counts"]["entries"] = 39; }));
    CHECK(contains(error_of([&] { load_bundle(m3, tb.files); }), name_of(tb, "index") + ": entry count does not match"));
    const Manifest m4 = parse_manifest(edited_manifest(tb.manifest_json, [](json& j) { j["dims"]["descriptor"] = 100; }));
    CHECK(contains(error_of([&] { load_bundle(m4, tb.files); }), name_of(tb, "recipe") + ": descriptor size does not match"));
    // A catalogue that maps a missing token.
    Catalogue cat = tb.catalogue;
    cat.entry_token[3] = 1000;
    files = tb.files;
    files["catalogue"] = serialize_catalogue(cat);
    CHECK(contains(error_of([&] { load_bundle(relisted(tb, "catalogue", files["catalogue"]), files); }), "missing token"));
  }
}

TEST_CASE("search: a query image finds its own token first") {
  const auto& tb = shared_bundle();
  const Bundle b = load_bundle(parse_manifest(tb.manifest_json), tb.files);
  auto top = [&](const RgbImage& img, SearchOptions opt) {
    QuerySession q(b, img);
    return search_tokens(b, QueryDescriptors{q.descriptors(), {}}, opt);
  };
  SearchOptions five;
  five.k = 5;

  QuerySession q(b, tb.images[7]);
  CHECK(q.model_runs() == 1);  // no margins to trim; no model in this recipe
  const auto d = q.descriptors();
  REQUIRE(d.size() == 2);      // whole + mirrored
  const auto hits = search_tokens(b, QueryDescriptors{d, {}}, five);
  REQUIRE(hits.size() == 5);
  CHECK(hits[0].token == 7);
  CHECK(hits[0].score == doctest::Approx(1.0).epsilon(1e-3));
  CHECK(hits[1].score < hits[0].score);
  for (size_t i = 1; i < hits.size(); ++i) CHECK(hits[i].score <= hits[i - 1].score);

  SearchOptions exact = five;
  exact.exact = true;
  const auto eh = search_tokens(b, QueryDescriptors{d, {}}, exact);
  REQUIRE(eh.size() == 5);
  CHECK(eh[0].token == 7);
  CHECK(eh[0].score == hits[0].score);

  for (int t : {0, 13, 20, 39}) {
    const auto h = top(tb.images[size_t(t)], five);
    REQUIRE_FALSE(h.empty());
    CHECK(h[0].token == uint32_t(t));
    CHECK(h[0].score > 0.999f);
  }

  SUBCASE("collection filter") {
    SearchOptions beta = five;
    beta.collections = {"beta"};
    const auto hb = top(tb.images[7], beta);  // token 7 is in alpha
    CHECK(hb.size() == 5);
    for (auto& h : hb) CHECK(b.catalogue.tokens[h.token].collection == 1);
    CHECK(hb[0].score < hits[0].score);
    SearchOptions alpha = five;
    alpha.collections = {"alpha", "nope"};
    const auto ha = top(tb.images[7], alpha);
    REQUIRE_FALSE(ha.empty());
    CHECK(ha[0].token == 7);
    for (auto& h : ha) CHECK(b.catalogue.tokens[h.token].collection == 0);
    SearchOptions none = five;
    none.collections = {"nope"};
    CHECK(top(tb.images[7], none).empty());
    SearchOptions all;
    all.k = 100;
    CHECK(top(tb.images[7], all).size() == 40);  // k beyond the index: every token once
  }
  SUBCASE("screenshot margins and mirrored copies") {
    const RgbImage framed = testutil::pad(tb.images[25], 12, 30, 12, 40, {255, 255, 255});
    QuerySession qf(b, framed);
    CHECK(qf.model_runs() == 2);
    CHECK(qf.descriptors().size() == 4);
    const auto hf = search_tokens(b, QueryDescriptors{qf.descriptors(), {}}, five);
    REQUIRE_FALSE(hf.empty());
    CHECK(hf[0].token == 25);
    CHECK(hf[0].score > 0.999f);
    const auto hm = top(mirror(tb.images[3]), five);
    REQUIRE_FALSE(hm.empty());
    CHECK(hm[0].token == 3);
    CHECK(hm[0].score > 0.99f);
  }
  SUBCASE("result document (through the Lens)") {
    Lens lens(load_bundle(parse_manifest(tb.manifest_json), tb.files));
    QuerySession ql(lens.bundle(), tb.images[7]);
    ImageRequest req;
    req.k = 5;
    req.rerank = 0;
    const Answer a = lens.search(ql, req);
    REQUIRE(a.done());
    const json r = json::parse(a.json);
    CHECK(r["match"] == true);
    CHECK(r["threshold"].get<double>() == doctest::Approx(0.9));
    REQUIRE(r["results"].size() == 5);
    CHECK(r["results"][0]["token_id"] == "7");
    CHECK(r["results"][0]["collection"] == "alpha");
    CHECK(r["results"][0]["link"] == "https://example.com/ethereum/0xa1/7");
    CHECK(r["results"][0]["score"].get<double>() == doctest::Approx(hits[0].score));
    req.collections = {"nope"};
    const json e = json::parse(lens.search(ql, req).json);
    CHECK(e["match"] == false);
    CHECK(e["results"].empty());
  }

}

TEST_CASE("search: a recipe with model features needs every model run") {
  // Tiny 8x8 NCHW model with a 4-d output, one entry per image.
  const char* card_json = R"({"format": "nftlens-model-card/1", "name": "tiny", "file": "tiny.onnx",
    "input": {"name": "x", "layout": "NCHW", "width": 8, "height": 8}, "outputs": [{"name": "y", "dim": 4}]})";
  Bundle b;
  b.manifest.model = parse_model_card(card_json, "tiny");
  Recipe& r = b.recipe;
  r.color_grid = 8;  // (an 8x8 layout: 192 + 4 values)
  r.in_dim = r.out_dim = r.raw_dim(b.manifest.model);
  REQUIRE(r.in_dim == 196);
  r.mean.assign(196, 0.0f);
  std::vector<RgbImage> imgs;
  std::vector<int8_t> codes;
  for (int i = 0; i < 10; ++i) {
    imgs.push_back(testutil::random_blocks(32, 32, 4, 500u + uint32_t(i)));
    const std::vector<float> feat = {float(i), 1, 2, 3};
    const auto q = quantize(r, project(r, raw_descriptor(r, imgs.back(), plan_entry(r, imgs.back()).views[0], feat)));
    codes.insert(codes.end(), q.begin(), q.end());
  }
  b.index = CodeIndex::build(codes, 196, IndexParams{});
  b.catalogue.collections.push_back(Collection{"c", "C", "", "", "", "", 10});
  for (int i = 0; i < 10; ++i) {
    Token t;
    t.token_id = std::to_string(i);
    b.catalogue.tokens.push_back(t);
    b.catalogue.entry_token.push_back(uint32_t(i));
  }
  REQUIRE(error_of([&] { r.validate(b.manifest.model, "recipe"); }) == "<no error>");

  QuerySession q(b, imgs[6]);
  REQUIRE(q.model_runs() == 1);
  CHECK(q.model_input(0).size() == size_t(8 * 8 * 3));
  CHECK(q.model_input(0) == make_input_tensor(b.manifest.model, imgs[6], Box{0, 0, 32, 32}));
  CHECK_THROWS_AS(q.model_input(1), std::out_of_range);
  CHECK(contains(error_of([&] { q.descriptors(); }), "model output for run 0 was not set"));
  CHECK(contains(error_of([&] { q.set_pooled_features(0, {1, 2, 3}); }), "wrong size"));
  const std::vector<float> out = {6, 1, 2, 3};
  CHECK(contains(error_of([&] { q.set_model_output(0, {out.data()}, {3}); }), "has 3 values"));
  q.set_model_output(0, {out.data()}, {4});
  SearchOptions one;
  one.k = 1;
  const auto h = search_tokens(b, QueryDescriptors{q.descriptors(), {}}, one);
  REQUIRE(h.size() == 1);
  CHECK(h[0].token == 6);
  CHECK(h[0].score > 0.999f);
  QuerySession p(b, imgs[6]);
  p.set_pooled_features(0, {6, 1, 2, 3});
  CHECK(p.descriptors() == q.descriptors());
  // The descriptors are kept once computed (a host repeats a search after its fetches), and a new
  // model output replaces them: the same as a fresh session's with that output.
  CHECK(p.descriptors() == p.descriptors());
  p.set_pooled_features(0, {1, 6, 2, 3});
  QuerySession fresh(b, imgs[6]);
  fresh.set_pooled_features(0, {1, 6, 2, 3});
  CHECK(p.descriptors() == fresh.descriptors());
  CHECK(p.descriptors() != q.descriptors());
  CHECK(q.serial() != p.serial());
  CHECK(q.serial() != 0);
}
