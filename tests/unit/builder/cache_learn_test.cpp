#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <cmath>
#include <random>

#include "augment.h"
#include "builder_test_util.h"
#include "bundle_io.h"
#include "error.h"
#include "feature_cache.h"
#include "learn.h"
#include "../core/helpers.h"

using namespace nftlens;
using buildertest::TempDir;
namespace fs = std::filesystem;

namespace {
std::vector<float> value_for(int i) {
  std::vector<float> v(size_t(3 + i % 5));
  for (size_t k = 0; k < v.size(); ++k) v[k] = float(i) * 0.5f + float(k);
  return v;
}
fs::path only_log(const fs::path& dir) {
  fs::path found;
  int n = 0;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".log") { found = e.path(); ++n; }
  REQUIRE(n == 1);
  return found;
}
}  // namespace

TEST_CASE("feature cache: put, flush, reload; namespaces are separate") {
  TempDir tmp;
  {
    FeatureCache c(tmp.path, "model-a/recipe-1");
    CHECK(c.loaded() == 0);
    for (int i = 0; i < 10; ++i) c.put("key" + std::to_string(i), value_for(i));
    c.put("key3", value_for(33));  // a later record for the same key wins
    c.put("", {});                 // empty key and value are fine
    CHECK(c.size() == 11);
    REQUIRE(c.find("key4"));
    CHECK(*c.find("key4") == value_for(4));
    CHECK(c.find("missing") == std::nullopt);
    c.flush();
  }
  {
    FeatureCache c(tmp.path, "model-a/recipe-1");
    CHECK(c.loaded() == 11);
    for (int i = 0; i < 10; ++i) {
      const auto v = c.find("key" + std::to_string(i));
      REQUIRE(v);
      CHECK(*v == value_for(i == 3 ? 33 : i));
    }
    REQUIRE(c.find(""));
    CHECK(c.find("")->empty());
  }
  FeatureCache other(tmp.path, "model-b/recipe-1");
  CHECK(other.loaded() == 0);
  CHECK(other.find("key1") == std::nullopt);
}

TEST_CASE("feature cache: a torn or corrupt tail keeps every complete record") {
  TempDir tmp;
  {
    FeatureCache c(tmp.path, "ns");
    for (int i = 0; i < 10; ++i) c.put("k" + std::to_string(i), value_for(i));
    c.flush();
  }
  const fs::path log = only_log(tmp.path);
  const auto full = fs::file_size(log);
  fs::resize_file(log, full - 3);  // killed mid-write of the last record
  {
    FeatureCache c(tmp.path, "ns");
    CHECK(c.loaded() == 9);
    CHECK(c.find("k9") == std::nullopt);
    REQUIRE(c.find("k8"));
    CHECK(*c.find("k8") == value_for(8));
    c.put("k9", value_for(9));  // the torn bytes were dropped: the new record lands on a clean boundary
    c.put("k10", value_for(10));
    c.flush();
  }
  {
    FeatureCache c(tmp.path, "ns");
    CHECK(c.loaded() == 11);
    REQUIRE(c.find("k10"));
    CHECK(*c.find("k9") == value_for(9));
    CHECK(*c.find("k10") == value_for(10));
  }
  // Garbage appended after the last record is ignored, then dropped.
  {
    std::ofstream f(log, std::ios::binary | std::ios::app);
    f << "garbage that is not a record";
  }
  const auto before = fs::file_size(log);
  {
    FeatureCache c(tmp.path, "ns");
    CHECK(c.loaded() == 11);
  }
  CHECK(fs::file_size(log) == before - 28);
  // A record whose value bytes were altered fails its checksum and is not returned with wrong data.
  {
    std::fstream f(log, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(long(fs::file_size(log)) - 8);
    f.put('\x7f');
  }
  FeatureCache c(tmp.path, "ns");
  CHECK(c.loaded() == 10);
  CHECK(c.find("k10") == std::nullopt);
}

TEST_CASE("feature cache: readers on other threads while records are written") {
  TempDir tmp;
  FeatureCache c(tmp.path, "ns");
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop) {
      for (int i = 0; i < 200; ++i) {
        const std::string k = "k" + std::to_string(i);
        if (c.contains(k)) {
          const auto v = c.find(k);
          if (!v || *v != value_for(i)) ++bad;
        }
      }
    }
  });
  for (int i = 0; i < 200; ++i) c.put("k" + std::to_string(i), value_for(i));
  stop = true;
  reader.join();
  CHECK(bad == 0);
  CHECK(c.size() == 200);
  CHECK(c.keys().size() == 200);
}

TEST_CASE("learn_projection: learned whitening shrinks copy differences relative to item differences") {
  const int d = 16, n = 300;
  std::mt19937 rng(17);
  std::normal_distribution<float> g;
  std::vector<Vec> items, copies;
  std::vector<std::pair<Vec, Vec>> pairs;
  for (int i = 0; i < n; ++i) {
    Vec x(d), y(d);
    for (int k = 0; k < d; ++k) x[size_t(k)] = g(rng) + (k == 0 ? 3.0f : 0.0f);
    // Copies differ a lot along 4 "nuisance" directions and hardly elsewhere.
    for (int k = 0; k < d; ++k) y[size_t(k)] = x[size_t(k)] + g(rng) * (k < 4 ? 2.0f : 0.05f);
    items.push_back(x);
    copies.push_back(y);
    pairs.emplace_back(x, y);
  }
  Recipe r;
  learn_projection(r, items, pairs, 8);
  CHECK(r.in_dim == d);
  CHECK(r.out_dim == 8);
  CHECK(r.mean.size() == size_t(d));
  CHECK(r.mean[0] == doctest::Approx(3.0).epsilon(0.1));
  CHECK(r.projection.size() == size_t(8 * d));
  for (float v : r.projection) CHECK(std::isfinite(v));

  auto dist = [](const Vec& a, const Vec& b) {
    double s = 0;
    for (size_t k = 0; k < a.size(); ++k) s += double(a[k] - b[k]) * (a[k] - b[k]);
    return std::sqrt(s);
  };
  Recipe identity;
  identity.in_dim = identity.out_dim = d;
  identity.mean = r.mean;
  auto ratio = [&](const Recipe& rr) {  // mean copy distance / mean distance between different items
    double within = 0, between = 0;
    for (int i = 0; i < n; ++i) {
      within += dist(project(rr, items[size_t(i)]), project(rr, copies[size_t(i)]));
      between += dist(project(rr, items[size_t(i)]), project(rr, items[size_t((i + 1) % n)]));
    }
    return within / between;
  };
  const double before = ratio(identity), after = ratio(r);
  MESSAGE("within/between distance ratio: " << before << " -> " << after);
  CHECK(after < 0.5 * before);
  CHECK(after < 0.2);

  std::vector<Vec> projected;
  for (auto& x : items) projected.push_back(project(r, x));
  learn_quantizer(r, projected);
  CHECK(r.quant_scale > 127.0f);  // unit vectors: |values| <= 1, so scale >= 127
  CHECK(std::isfinite(r.quant_scale));
  CHECK_THROWS_AS(learn_projection(r, {}, {}, 4), Error);
}

TEST_CASE("random_rotation is orthogonal, seeded, and the rotated projection keeps distances but spreads variance") {
  const Eigen::MatrixXd Q = random_rotation(24, 5);
  CHECK((Q.transpose() * Q - Eigen::MatrixXd::Identity(24, 24)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((random_rotation(24, 5) - Q).cwiseAbs().maxCoeff() == 0.0);
  CHECK((random_rotation(24, 6) - Q).cwiseAbs().maxCoeff() > 0.1);

  // Items with most variance along a few directions: PCA piles it into the first output dims.
  const int d = 32, n = 400, out = 16;
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  std::vector<Vec> items;
  for (int i = 0; i < n; ++i) {
    Vec x(d);
    for (int k = 0; k < d; ++k) x[size_t(k)] = g(rng) * (k < 3 ? 10.0f : 1.0f);
    items.push_back(x);
  }
  Recipe plain, turned;
  learn_projection(plain, items, {}, out, 0);
  learn_projection(turned, items, {}, out);
  auto max_dim_share = [&](const Recipe& r, double& total) {  // largest single dimension's share of the variance
    std::vector<double> var(size_t(out), 0.0);
    total = 0;
    for (auto& x : items) {
      const Vec p = project(r, x);
      for (int k = 0; k < out; ++k) var[size_t(k)] += double(p[size_t(k)]) * p[size_t(k)];
    }
    for (double v : var) total += v;
    return *std::max_element(var.begin(), var.end()) / total;
  };
  double total_plain = 0, total_turned = 0;
  const double share_plain = max_dim_share(plain, total_plain), share_turned = max_dim_share(turned, total_turned);
  MESSAGE("largest dimension's variance share: " << share_plain << " -> " << share_turned);
  CHECK(share_plain > 0.2);
  CHECK(share_turned < 0.7 * share_plain);
  CHECK(total_turned == doctest::Approx(total_plain).epsilon(0.01));  // fp16-rounded weights: ~1e-3
  for (int i = 0; i + 1 < 50; ++i) {  // distances between projected items are kept
    const Vec a = project(plain, items[size_t(i)]), b = project(plain, items[size_t(i + 1)]);
    const Vec c = project(turned, items[size_t(i)]), e = project(turned, items[size_t(i + 1)]);
    double d1 = 0, d2 = 0;
    for (int k = 0; k < out; ++k) {
      d1 += double(a[size_t(k)] - b[size_t(k)]) * (a[size_t(k)] - b[size_t(k)]);
      d2 += double(c[size_t(k)] - e[size_t(k)]) * (c[size_t(k)] - e[size_t(k)]);
    }
    CHECK(std::sqrt(d2) == doctest::Approx(std::sqrt(d1)).epsilon(0.01));
  }
}

TEST_CASE("augment is deterministic for a seed") {
  const RgbImage src = testutil::random_blocks(96, 80, 8, 5);
  int differs = 0;
  for (uint64_t seed : {1ull, 2ull, 42ull, 12345678901ull}) {
    const RgbImage a = augment(src, seed), b = augment(src, seed);
    CHECK(a.width == b.width);
    CHECK(a.height == b.height);
    CHECK(a.rgb == b.rgb);
    CHECK(a.width > 0);
    CHECK(a.rgb.size() == size_t(a.width) * a.height * 3);
    const RgbImage c = augment(src, seed + 1000);
    differs += !(c.width == a.width && c.height == a.height && c.rgb == a.rgb);
  }
  CHECK(differs >= 3);
  int changed = 0;
  for (uint64_t seed = 100; seed < 110; ++seed) changed += augment(src, seed).rgb != src.rgb;
  CHECK(changed >= 8);
}

TEST_CASE("bundle folder: write, load with verification, and damage on disk") {
  const testutil::TestBundle tb = testutil::make_test_bundle(10);
  TempDir tmp;
  const fs::path dir = tmp.path / "bundle";
  BundleParts parts;
  parts.model = tb.files.at("model");
  parts.recipe = tb.files.at("recipe");
  parts.index = tb.files.at("index");
  parts.catalogue = tb.files.at("catalogue");
  parts.packs.push_back({1, 2, 3});
  parts.stats.push_back({"alpha", {'{', '}'}});
  const Bundle orig = load_bundle(parse_manifest(tb.manifest_json), tb.files);
  write_bundle_dir(dir, tb.card, orig.recipe, orig.index, orig.catalogue, parts);
  CHECK(fs::exists(dir / "manifest.json"));
  const Bundle b = load_bundle_dir(dir);
  REQUIRE(b.manifest.packs.size() == 1);  // packs and stats are listed, not loaded
  CHECK(fs::file_size(dir / b.manifest.packs[0].name) == 3);
  CHECK(fs::exists(dir / b.manifest.file("stats").name));
  CHECK(b.manifest.file("stats").name.rfind("stats-alpha.", 0) == 0);
  CHECK(b.index.size() == 20);
  CHECK(b.catalogue.tokens.size() == 20);
  CHECK(serialize_recipe(b.recipe) == parts.recipe);
  CHECK(fs::exists(dir / b.manifest.file("model").name));
  CHECK(b.manifest.model.file == b.manifest.file("model").name);

  // A file flipped on disk: loading names it.
  const fs::path idx = dir / b.manifest.file("index").name;
  auto bytes = buildertest::read_all(idx);
  bytes[bytes.size() / 2] ^= 1;
  fs::remove(idx);
  {
    std::ofstream f(idx, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  const std::string index_name = b.manifest.file("index").name;
  CHECK_THROWS_WITH_AS(load_bundle_dir(dir), doctest::Contains(index_name.c_str()), Error);
  fs::remove(idx);
  CHECK_THROWS_WITH_AS(load_bundle_dir(dir), doctest::Contains("missing (listed in manifest.json)"), Error);
  CHECK_THROWS_WITH_AS(load_bundle_dir(tmp.path), doctest::Contains("manifest.json: missing"), Error);

  // Rewriting with another catalogue replaces the old content-hashed file.
  Catalogue cat = orig.catalogue;
  cat.tokens[0].name = "renamed";
  parts.catalogue = serialize_catalogue(cat);
  parts.index = orig.index.serialize();
  write_bundle_dir(dir, tb.card, orig.recipe, orig.index, cat, parts);
  const Bundle c = load_bundle_dir(dir);
  CHECK(c.catalogue.tokens[0].name == "renamed");
  int catalogues = 0;
  for (auto& e : fs::directory_iterator(dir)) catalogues += e.path().filename().string().rfind("catalogue.", 0) == 0;
  CHECK(catalogues == 1);
}

TEST_CASE("fit_logistic: recovers a known model, balances the classes, stays finite when they separate") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> g(0, 1);
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  for (int i = 0; i < 4000; ++i) {
    const double a = g(rng), b = g(rng);
    const double p = 1 / (1 + std::exp(-(0.5 + 2 * a - 1 * b)));
    x.push_back({1, a, b});
    y.push_back(std::uniform_real_distribution<double>(0, 1)(rng) < p ? 1 : 0);
  }
  auto w = nftlens::fit_logistic(x, y, 1e-6);
  REQUIRE(w.size() == 3);
  CHECK(w[1] == doctest::Approx(2.0).epsilon(0.1));
  CHECK(w[2] == doctest::Approx(-1.0).epsilon(0.1));
  // 10 positives among 1,000, separable at a = 0: the even-odds point sits between the classes.
  std::vector<std::vector<double>> xs;
  std::vector<int> ys;
  for (int i = 0; i < 1000; ++i) {
    const double a = i < 10 ? 1.0 + 0.01 * i : -1.0 - 0.001 * i;
    xs.push_back({1, a});
    ys.push_back(i < 10);
  }
  w = nftlens::fit_logistic(xs, ys);
  CHECK(std::isfinite(w[0]));
  CHECK(std::isfinite(w[1]));
  CHECK(w[0] + w[1] * 1.0 > 0);   // a positive: above even odds
  CHECK(w[0] + w[1] * -1.0 < 0);  // a negative: below
}

TEST_CASE("learn_quantizer: the 99.99th percentile of |value| exactly as nth_element over a copy, nested or flat") {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<Vec> rows(size_t(1 + rng() % 3000));
    std::vector<float> flat;
    for (auto& v : rows) {
      v.resize(trial == 5 ? 1 : 24);
      for (auto& x : v) {  // heavy tails, repeated values, zeros, negatives
        const float g = std::normal_distribution<float>(0, trial % 2 ? 0.05f : 3.0f)(rng);
        x = rng() % 7 == 0 ? 0.25f : rng() % 11 == 0 ? 0.0f : g * g * g;
        flat.push_back(x);
      }
    }
    std::vector<float> mags;
    for (float x : flat) mags.push_back(std::fabs(x));
    const size_t k = std::min(mags.size() - 1, size_t(0.9999 * double(mags.size())));
    std::nth_element(mags.begin(), mags.begin() + long(k), mags.end());
    const float expected = 127.0f / std::max(mags[k], 1e-3f);
    Recipe a, b;
    learn_quantizer(a, rows);
    learn_quantizer(b, flat.data(), flat.size());
    CHECK(a.quant_scale == expected);
    CHECK(b.quant_scale == expected);
  }
  Recipe e;
  learn_quantizer(e, nullptr, 0);
  CHECK(e.quant_scale == 127.0f);
}
