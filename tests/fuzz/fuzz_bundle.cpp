// libFuzzer target: every parser of bundle files, then what a loaded bundle is used for.
// Input layout (see make_seeds.cpp): ten parts, each a u32 little-endian length then that many
// bytes (a length past the end takes what is left; missing parts are empty):
//   manifest.json text, recipe, index, catalogue, windows, part codes, style models, a
//   partition table (a u32 token count, then the table), its directory and its first shard.
// 1. Each parser alone: parse_manifest, deserialize_recipe (+ validate), CodeIndex::deserialize
//    (+ HNSW and exact search with a fixed query), deserialize_catalogue (+ validate, token_json of
//    every token, text index and search), WindowIndex::deserialize (+ search), PartCodes::deserialize
//    (+ grid and zoom search), StyleModels::deserialize (+ a residual per model),
//    PartitionLayout::deserialize (+ every part's place in its file, the files, a round trip; the
//    directory and a shard with the fragment entries it carries, each given the table's digest). Dimensions come from
//    the part's own header so each parser is reached even when the parts disagree.
// 2. The whole bundle: the manifest's size and SHA-256 of each part are rewritten to match the
//    given bytes (the check a fuzzer cannot pass by chance), then load_bundle with its cross-checks,
//    and on success a query (synthetic image, constant model features) through the Lens (shared/lens.h).
// Only nftlens::Error may escape; anything else is a finding.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bundle.h"
#include "error.h"
#include "lens.h"
#include "part_codes.h"
#include "partitions.h"
#include "style_model.h"
#include "search.h"
#include "sha256.h"
#include "text_index.h"

using namespace nftlens;

namespace {
// FUZZ_VERBOSE=1 prints each refusal (to check that a seed reaches the stage it is meant for).
void note(const char* stage, const Error& e) {
  static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s: %s\n", stage, e.what());
}

uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

std::vector<std::vector<uint8_t>> split(const uint8_t* d, size_t n, int parts) {
  std::vector<std::vector<uint8_t>> out(static_cast<size_t>(parts));
  size_t pos = 0;
  for (auto& part : out) {
    if (n - pos < 4) break;
    const size_t len = std::min<size_t>(le32(d + pos), n - pos - 4);
    pos += 4;
    part.assign(d + pos, d + pos + len);
    pos += len;
  }
  return out;
}

int header_dim(const std::vector<uint8_t>& b, int fallback) {
  if (b.size() < 12) return fallback;
  const uint32_t d = le32(b.data() + 8);
  return d >= 1 && d <= 4096 ? int(d) : fallback;
}

std::vector<int8_t> fixed_query(int dim) {
  std::vector<int8_t> q(static_cast<size_t>(dim));
  for (int i = 0; i < dim; ++i) q[size_t(i)] = int8_t((i * 37) % 255 - 127);
  return q;
}

void use_catalogue(const Catalogue& cat) {
  for (uint32_t t = 0; t < cat.tokens.size(); ++t) (void)cat.token_json(t, t % 2 ? 0.5 : -2);
  (void)cat.collections_json();
  (void)cat.trait_stats_json(-1);
  (void)cat.trait_stats_json(0);
  const TextIndex ti(cat);
  (void)ti.search("red glasses head:pizza rank:1-50", 10);
  (void)ti.search("collection:nouns", 10);
  (void)ti.search("pizz noggles", 3);
  (void)ti.suggest_json("gla", 5);
  std::vector<uint32_t> all;
  for (uint32_t t = 0; t < cat.tokens.size(); ++t) all.push_back(t);
  (void)ti.facets_json(all);
}

std::string hex_sha(const std::vector<uint8_t>& b) { return sha256_hex(b.data(), b.size()); }

void whole_bundle(const std::string& manifest_text, const std::vector<std::vector<uint8_t>>& parts) {
  nlohmann::json j = nlohmann::json::parse(manifest_text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("files") || !j["files"].is_array()) return;
  static const char* roles[] = {"recipe", "index", "catalogue", "windows"};
  std::map<std::string, std::vector<uint8_t>> files;
  for (auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("role") || !f["role"].is_string()) continue;
    const std::string role = f["role"].get<std::string>();
    for (int r = 0; r < 4; ++r)
      if (role == roles[r]) {
        f["bytes"] = parts[size_t(r) + 1].size();
        f["sha256"] = hex_sha(parts[size_t(r) + 1]);
        files[role] = parts[size_t(r) + 1];
      }
  }
  const Manifest m = parse_manifest(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  Lens lens(load_bundle(m, files));
  const Bundle& b = lens.bundle();
  // A query: a small synthetic image, constant "model features" of the card's size.
  RgbImage img;
  img.width = 40;
  img.height = 30;
  img.rgb.resize(size_t(img.width) * img.height * 3);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t(i * 7 % 251);
  for (int x = 0; x < img.width; ++x)  // a white top margin for the trimming path
    for (int c = 0; c < 3; ++c) img.rgb[size_t(x) * 3 + size_t(c)] = 255;
  QuerySession q(b, img);
  for (size_t r = 0; r < q.model_runs(); ++r) {
    (void)q.model_input(r);
    q.set_pooled_features(r, std::vector<float>(size_t(b.manifest.model.feature_dim()), 0.25f));
  }
  ImageRequest req;  // (through the Lens, as both hosts run it; thumbnails asked for are given as missing)
  req.k = 5;
  for (int round = 0; round < 2; ++round) {
    for (int step = 0; step < 4; ++step) {
      const Answer a = lens.search(q, req);
      if (a.done()) break;
      for (const Need& n : a.needs) lens.add_part(n.kind, n.id, nullptr, 0);
    }
    req.exact = true;
    req.collections = {"nouns"};
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = split(data, size, 10);
  const std::string manifest_text(parts[0].begin(), parts[0].end());

  ModelCard card;
  try {
    card = parse_manifest(manifest_text).model;
  } catch (const Error& e) {
    note("manifest", e);
  }
  Recipe recipe;
  bool have_recipe = false;
  try {
    recipe = deserialize_recipe(parts[1].data(), parts[1].size(), "recipe.bin");
    recipe.validate(card, "recipe.bin");
    have_recipe = true;
  } catch (const Error& e) {
    note("recipe", e);
  }
  try {
    const int dim = header_dim(parts[2], have_recipe ? recipe.out_dim : 16);
    const CodeIndex index = CodeIndex::deserialize(parts[2].data(), parts[2].size(), dim, "index.bin");
    const auto q = fixed_query(dim);
    (void)index.search(q.data(), 10);
    (void)index.search(q.data(), 3, 1);
    (void)index.exact(q.data(), 5);
  } catch (const Error& e) {
    note("index", e);
  }
  try {
    const Catalogue cat = deserialize_catalogue(parts[3].data(), parts[3].size(), "catalogue.bin");
    cat.validate(cat.entry_token.size(), "catalogue.bin");
    use_catalogue(cat);
  } catch (const Error& e) {
    note("catalogue", e);
  }
  try {
    const int dim = header_dim(parts[4], 8);
    const size_t tokens = parts[4].size() >= 20 ? le32(parts[4].data() + 16) : 0;
    const WindowIndex w = WindowIndex::deserialize(parts[4].data(), parts[4].size(), dim, tokens, "windows.bin");
    const auto q = fixed_query(dim);
    (void)w.search(q.data(), 5);
  } catch (const Error& e) {
    note("windows", e);
  }
  try {
    const auto& p = parts[5];
    const int channels = p.size() >= 24 ? int(le32(p.data() + 8) & 0xfff) : 16;
    const size_t tokens = p.size() >= 24 ? le32(p.data() + 20) : 0;
    const PartCodes pc = PartCodes::deserialize(p.data(), p.size(), channels, tokens, "parts.bin");
    std::vector<float> q(size_t(kRegionRows) * size_t(channels));
    for (size_t i = 0; i < q.size(); ++i) q[i] = float(i % 7) * 0.25f;
    auto all = [](uint32_t) { return true; };
    (void)pc.search_grid(q, 5, all);
    (void)pc.search_zoom(q, 5, all);
  } catch (const Error& e) {
    note("parts", e);
  }
  try {
    const auto& p = parts[6];
    const int channels = p.size() >= 20 ? int(le32(p.data() + 8) & 0xfff) : 16;
    const StyleModels sm = StyleModels::deserialize(p.data(), p.size(), channels, "style.bin");
    std::vector<float> v(size_t(sm.channels));
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 5) * 0.1f;
    for (const auto& m : sm.collections) (void)m.residual(style_vector(v));
  } catch (const Error& e) {
    note("style", e);
  }
  try {  // a partition table: each part's place (a byte range of its file) and the files holding them
    const auto& p = parts[7];
    if (p.size() >= 4) {
      const PartitionLayout L = PartitionLayout::deserialize(p.data() + 4, p.size() - 4, header_dim(std::vector<uint8_t>(p.begin() + 4, p.end()), 8), le32(p.data()), "partitions.bin");
      // A loaded table (and directory) never places a part outside its file (a host would read past it).
      auto check_places = [](const PartitionLayout& T, bool shards) {
        for (const auto& g : shards ? T.shard_files() : T.fragment_files())
          for (uint32_t i = g.first_part; i < g.first_part + g.parts; ++i) {
            const PartPlace at = shards ? T.shard_place(i) : T.fragment_place(i);
            if (at.file != g.name || at.offset + at.bytes > g.file.bytes) std::abort();
          }
      };
      check_places(L, true);
      if (!L.has_directory()) check_places(L, false);  // (version 5: the fragments' files are in the directory)
      const auto again = L.serialize();
      (void)PartitionLayout::deserialize(again.data(), again.size(), L.dim, L.tokens(), "partitions.bin (again)");
      // Version 5: the directory and shard 0 (their digests set to match: the check a fuzzer cannot pass).
      PartitionLayout D = L;
      if (D.has_directory()) {
        D.directory = describe_part(parts[8]);
        try {
          D.load_directory(parts[8].data(), parts[8].size());
          check_places(D, false);
        } catch (const Error& e) {
          note("directory", e);
        }
      }
      D.shards.at(0) = describe_part(parts[9]);
      const Shard s = Shard::deserialize(parts[9].data(), parts[9].size(), D, 0, 16, "shard 0");
      for (const auto& [f, e] : s.carried) D.learn_fragment(f, e, "shard 0");
    }
  } catch (const Error& e) {
    note("partitions", e);
  }
  try {
    whole_bundle(manifest_text, parts);
  } catch (const Error& e) {
    note("bundle", e);
  }
  return 0;
}
