#include <doctest/doctest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "helpers.h"
#include "model_card.h"

using namespace nftlens;
using nlohmann::json;
using testutil::contains;
using testutil::error_of;

namespace {
const char* const kTiny = R"({"format": "nftlens-model-card/1", "name": "tiny", "file": "tiny.onnx",
  "input": {"name": "x", "layout": "NHWC", "width": 8, "height": 8, "mean": [0.5, 0.25, 0.125], "std": [0.5, 0.25, 2]},
  "outputs": [{"name": "y", "dim": 4}]})";

RgbImage noise8() {
  std::mt19937 rng(11);
  RgbImage img = testutil::solid(8, 8, {0, 0, 0});
  for (auto& v : img.rgb) v = uint8_t(rng());
  return img;
}
}  // namespace

TEST_CASE("model card: the shipped default card parses") {
  const ModelCard c = parse_model_card(testutil::kMnv2Card, "models/mnv2-b13-576.card.json");
  CHECK(c.name == "mnv2-b13-576");
  CHECK(c.file == "mnv2-b13-576.onnx");
  CHECK(c.sha256 == "6ba9b8c50f045bc01b3f6e9ac411f7d4379aeaaff00caaab2daf08506426b756");
  CHECK(c.bytes == 2382016);
  CHECK(c.input_name == "input");
  CHECK(c.layout == "NHWC");
  CHECK(c.width == 224);
  CHECK(c.height == 224);
  CHECK(c.color == "RGB");
  CHECK(c.mean == std::array<float, 3>{0, 0, 0});
  CHECK(c.std == std::array<float, 3>{1, 1, 1});
  CHECK(c.background == Rgb{255, 255, 255});
  REQUIRE(c.outputs.size() == 1);
  CHECK(c.outputs[0].name == "gap_block_13_expand_relu");
  CHECK(c.outputs[0].shape == "NC");
  CHECK(c.outputs[0].pooling == "none");
  CHECK(c.feature_dim() == 576);
  CHECK(c.license == "MIT");

  // to_json is canonical: parsing it gives the same card back.
  const ModelCard d = parse_model_card(c.to_json(), "round trip");
  CHECK(d.to_json() == c.to_json());
  CHECK(d.feature_dim() == 576);
  CHECK(d.sha256 == c.sha256);
}

TEST_CASE("model card: errors name the source and the field") {
  const json base = json::parse(kTiny);
  auto err = [&](std::function<void(json&)> edit) {
    json j = base;
    edit(j);
    return error_of([&] { parse_model_card(j.dump(), "cards/tiny.json"); });
  };
  CHECK(error_of([] { parse_model_card(kTiny, "x"); }) == "<no error>");
  struct Case { std::function<void(json&)> edit; const char* expect; };
  const Case cases[] = {
      {[](json& j) { j.erase("name"); }, "missing \"name\""},
      {[](json& j) { j.erase("file"); }, "missing \"file\""},
      {[](json& j) { j.erase("format"); }, "missing \"format\""},
      {[](json& j) { j.erase("input"); }, "missing \"input\""},
      {[](json& j) { j["input"].erase("name"); }, "missing \"input.name\""},
      {[](json& j) { j["input"].erase("width"); }, "missing \"input.width\""},
      {[](json& j) { j["input"].erase("height"); }, "missing \"input.height\""},
      {[](json& j) { j.erase("outputs"); }, "missing \"outputs\""},
      {[](json& j) { j["outputs"][0].erase("name"); }, "missing \"outputs[].name\""},
      {[](json& j) { j["outputs"][0].erase("dim"); }, "missing \"outputs[].dim\""},
      {[](json& j) { j["format"] = "nftlens-model-card/2"; }, "unsupported model card format"},
      {[](json& j) { j["input"]["width"] = "8"; }, "wrong type"},
      {[](json& j) { j["input"]["mean"] = json::array({0, 0}); }, "wrong type"},
      {[](json& j) { j["input"]["layout"] = "NWHC"; }, "input.layout"},
      {[](json& j) { j["input"]["color"] = "RGBA"; }, "input.color"},
      {[](json& j) { j["input"]["channels"] = 4; }, "input.channels"},
      {[](json& j) { j["input"]["width"] = 4; }, "8..2048"},
      {[](json& j) { j["input"]["height"] = 4096; }, "8..2048"},
      {[](json& j) { j["input"]["std"] = json::array({1, 0, 1}); }, "input.std"},
      {[](json& j) { j["input"]["resize"] = "crop"; }, "input.resize"},
      {[](json& j) { j["outputs"] = json::array(); }, "non-empty"},
      {[](json& j) { j["outputs"] = json::object(); }, "non-empty"},
      {[](json& j) { j["outputs"][0]["shape"] = "NCHW"; }, "needs pooling"},
      {[](json& j) { j["outputs"][0]["shape"] = "HW"; }, "outputs[].shape"},
      {[](json& j) { j["outputs"][0]["dim"] = 0; }, "outputs[].dim"},
      {[](json& j) { j["outputs"][0]["dim"] = 100000; }, "outputs[].dim"},
  };
  for (const Case& c : cases) {
    const std::string e = err(c.edit);
    CAPTURE(e);
    CHECK(e.rfind("cards/tiny.json: ", 0) == 0);
    CHECK(contains(e, c.expect));
  }
  CHECK(contains(error_of([] { parse_model_card("{\"format\": ", "cards/bad.json"); }), "cards/bad.json: model card is not a JSON object"));
  CHECK(contains(error_of([] { parse_model_card("[1, 2]", "cards/bad.json"); }), "not a JSON object"));
  CHECK(contains(error_of([] { parse_model_card("", "cards/bad.json"); }), "not a JSON object"));
}

TEST_CASE("model card: input tensor layout, colour order and normalisation") {
  const RgbImage img = noise8();
  ModelCard c = parse_model_card(kTiny, "tiny");
  const size_t n = 64;
  auto expect = [&](size_t i, int c_out, bool bgr) {
    const int src = bgr ? 2 - c_out : c_out;
    return (img.rgb[3 * i + size_t(src)] / 255.0f - c.mean[size_t(c_out)]) / c.std[size_t(c_out)];
  };
  SUBCASE("NHWC") {
    const std::vector<float> t = make_input_tensor(c, img, Box{0, 0, 8, 8});
    REQUIRE(t.size() == n * 3);
    for (size_t i = 0; i < n; ++i)
      for (int k = 0; k < 3; ++k) CHECK(t[3 * i + size_t(k)] == doctest::Approx(expect(i, k, false)).epsilon(1e-5));
  }
  SUBCASE("NCHW") {
    c.layout = "NCHW";
    const std::vector<float> t = make_input_tensor(c, img, Box{0, 0, 8, 8});
    REQUIRE(t.size() == n * 3);
    for (size_t i = 0; i < n; ++i)
      for (int k = 0; k < 3; ++k) CHECK(t[size_t(k) * n + i] == doctest::Approx(expect(i, k, false)).epsilon(1e-5));
  }
  SUBCASE("NCHW + BGR") {
    c.layout = "NCHW";
    c.color = "BGR";
    const std::vector<float> t = make_input_tensor(c, img, Box{0, 0, 8, 8});
    for (size_t i = 0; i < n; ++i)
      for (int k = 0; k < 3; ++k) CHECK(t[size_t(k) * n + i] == doctest::Approx(expect(i, k, true)).epsilon(1e-5));
  }
  SUBCASE("a box is resized to the card's size") {
    const std::vector<float> t = make_input_tensor(c, img, Box{2, 2, 4, 4});
    const std::vector<float> r = resize_to_float(img, Box{2, 2, 4, 4}, 8, 8);
    REQUIRE(t.size() == r.size());
    for (size_t i = 0; i < n; ++i)
      for (int k = 0; k < 3; ++k)
        CHECK(t[3 * i + size_t(k)] == doctest::Approx((r[3 * i + size_t(k)] - c.mean[size_t(k)]) / c.std[size_t(k)]));
  }
}

TEST_CASE("model card: pool_outputs for NC, NHWC and NCHW maps") {
  ModelCard c = parse_model_card(kTiny, "tiny");
  c.outputs = {ModelOutput{"a", "NHWC", "mean", 2}, ModelOutput{"b", "NCHW", "max", 3}, ModelOutput{"c", "NC", "none", 1}};
  REQUIRE(c.feature_dim() == 6);
  const std::vector<float> a = {1, 10, 2, 20, 3, 30, 6, -40};  // 4 cells x 2 channels
  const std::vector<float> b = {1, -5, -2, -3, 7, 7};          // 3 channels x 2 cells
  const std::vector<float> nc = {0.5f};
  const std::vector<float> f = pool_outputs(c, {a.data(), b.data(), nc.data()}, {a.size(), b.size(), nc.size()});
  CHECK(f == std::vector<float>{3, 5, 1, -2, 7, 0.5f});

  // The same buffer means different things in the two layouts.
  const std::vector<float> d = {1, 2, 3, 4, 5, 6};
  c.outputs = {ModelOutput{"m", "NHWC", "mean", 2}};
  CHECK(pool_outputs(c, {d.data()}, {d.size()}) == std::vector<float>{3, 4});
  c.outputs = {ModelOutput{"m", "NCHW", "mean", 2}};
  CHECK(pool_outputs(c, {d.data()}, {d.size()}) == std::vector<float>{2, 5});
  c.outputs = {ModelOutput{"m", "NHWC", "max", 2}};
  CHECK(pool_outputs(c, {d.data()}, {d.size()}) == std::vector<float>{5, 6});
  c.outputs = {ModelOutput{"m", "NCHW", "max", 3}};
  CHECK(pool_outputs(c, {d.data()}, {d.size()}) == std::vector<float>{2, 4, 6});
  const std::vector<float> neg = {-3, -1, -2};  // max pooling of all-negative values
  c.outputs = {ModelOutput{"m", "NHWC", "max", 1}};
  CHECK(pool_outputs(c, {neg.data()}, {neg.size()}) == std::vector<float>{-1});

  SUBCASE("size mismatches") {
    c.outputs = {ModelOutput{"feat", "NC", "none", 4}};
    CHECK(contains(error_of([&] { pool_outputs(c, {d.data()}, {d.size()}); }), "\"feat\" has 6 values, the card says 4"));
    CHECK(contains(error_of([&] { pool_outputs(c, {d.data(), d.data()}, {4, 4}); }), "model returned 2 outputs, the card lists 1"));
    CHECK(contains(error_of([&] { pool_outputs(c, {d.data()}, {4, 4}); }), "outputs"));
    c.outputs = {ModelOutput{"map", "NHWC", "mean", 4}};
    CHECK(contains(error_of([&] { pool_outputs(c, {d.data()}, {d.size()}); }), "\"map\" size does not match dim 4"));
    CHECK(contains(error_of([&] { pool_outputs(c, {d.data()}, {0}); }), "does not match"));
  }
}
