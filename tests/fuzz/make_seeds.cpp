// Writes the fuzz_bundle seed corpus (see fuzz_bundle.cpp for the input layout):
//   real.bin         a real bundle's manifest and catalogue, its recipe cut to 4 output dims
//                    (still valid for its model card) and an index rebuilt over those 4 dims: a
//                    whole bundle that loads and answers a query (with sizes/SHA-256 patched)
//   real-index.bin   that bundle's manifest and full 48-d index only
//   synthetic.bin    a tiny consistent bundle with two collections, traits, several index entries
//                    per token and a windows file
// Usage: make_seeds EXAMPLE_BUNDLE_DIR NOUNS_METADATA_DIR OUT_DIR
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "bundle.h"
#include "part_codes.h"
#include "style_model.h"
#include "collection.h"
#include "error.h"
#include "sha256.h"

using namespace nftlens;
namespace fs = std::filesystem;

namespace {
std::vector<uint8_t> read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}
fs::path find_role(const fs::path& dir, const std::string& stem) {
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(stem + ".", 0) == 0) return e.path();
  throw Error("no " + stem + " file in " + dir.string());
}
void put(std::vector<uint8_t>& out, const std::vector<uint8_t>& part) {
  const uint32_t n = uint32_t(part.size());
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(n >> (8 * i)));
  out.insert(out.end(), part.begin(), part.end());
}
std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
void write_seed(const fs::path& p, const std::vector<std::vector<uint8_t>>& parts) {
  std::vector<uint8_t> out;
  for (auto& part : parts) put(out, part);
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
  std::cout << p.string() << ": " << out.size() << " bytes\n";
}
}  // namespace

int run(int argc, char** argv);
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "make_seeds: " << e.what() << " (is the bundle from the current sources?)\n";
    return 1;
  }
}

int run(int argc, char** argv) {
  if (argc != 4) { std::cerr << "usage: make_seeds EXAMPLE_BUNDLE_DIR NOUNS_METADATA_DIR OUT_DIR\n"; return 2; }
  const fs::path bdir = argv[1], mdir = argv[2], out = argv[3];
  fs::create_directories(out);
  const auto mtext = read(bdir / "manifest.json");
  const Manifest m = parse_manifest(std::string(mtext.begin(), mtext.end()));
  const auto rbytes = read(find_role(bdir, "recipe")), ibytes = read(find_role(bdir, "index")), cbytes = read(find_role(bdir, "catalogue"));
  Recipe r = deserialize_recipe(rbytes.data(), rbytes.size(), "recipe");
  const CodeIndex full = CodeIndex::deserialize(ibytes.data(), ibytes.size(), m.descriptor_dim, "index");

  // real.bin: 4 output dims.
  const int D = 4;
  r.out_dim = D;
  r.projection.resize(size_t(D) * size_t(r.in_dim));
  r.windows = WindowRecipe{};
  std::vector<int8_t> codes;
  for (size_t i = 0; i < full.size(); ++i) codes.insert(codes.end(), full.code(i), full.code(i) + D);
  const CodeIndex small = CodeIndex::build(codes, D, IndexParams{6, 40, 32});
  nlohmann::json mj = nlohmann::json::parse(mtext);
  mj["dims"]["descriptor"] = D;
  write_seed(out / "real.bin", {bytes_of(mj.dump(1)), serialize_recipe(r), small.serialize(), cbytes, {}});
  write_seed(out / "real-index.bin", {mtext, {}, ibytes, {}, {}});

  // synthetic.bin: model card with one 4-d output, 2x2 colour grid (12) + 4 = 16 raw dims -> 8.
  ModelCard card;
  card.name = "tiny";
  card.file = "model.0123456789abcdef.onnx";
  card.sha256 = std::string(64, '0');
  card.bytes = 1000;
  card.width = card.height = 8;
  card.outputs.push_back(ModelOutput{"features", "NC", "none", 4});
  const ModelCard parsed_card = parse_model_card(card.to_json(), "card");
  Recipe s;
  s.color_grid = 2;
  s.in_dim = s.raw_dim(parsed_card);
  s.out_dim = 8;
  s.mean.assign(size_t(s.in_dim), 0.1f);
  for (int o = 0; o < s.out_dim; ++o)
    for (int i = 0; i < s.in_dim; ++i) s.projection.push_back(float((o * 31 + i * 7) % 13) / 13.0f - 0.4f);
  s.match_threshold = 0.5f;
  s.collection_backgrounds = {Rgb{213, 215, 225}};
  s.windows.boxes = {{0, 0, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f, 0.5f}};
  s.windows.in_dim = s.color_dim();
  s.windows.out_dim = 4;
  s.windows.mean.assign(size_t(s.windows.in_dim), 0.0f);
  for (int i = 0; i < s.windows.out_dim * s.windows.in_dim; ++i) s.windows.projection.push_back(float(i % 5) / 5.0f);
  s.validate(parsed_card, "synthetic recipe");

  Catalogue cat;
  Collection a{"nouns", "Nouns", "desc", "ethereum", "0xabc", "https://opensea.io/assets/{chain}/{contract}/{token_id}", 0};
  Collection b{"other", "Other <b>", "", "", "", "", 0};
  cat.collections = {a, b};
  std::vector<fs::path> metas;
  for (auto& e : fs::directory_iterator(mdir)) metas.push_back(e.path());
  std::sort(metas.begin(), metas.end());
  for (size_t i = 0; i < 6 && i < metas.size(); ++i) {
    const auto t = read(metas[i]);
    const SourceToken st = parse_token_metadata(std::string(t.begin(), t.end()), metas[i].stem().string(), metas[i].string());
    Token tk;
    tk.collection = uint32_t(i % 2);
    tk.token_id = st.token_id;
    tk.name = st.name;
    tk.image = st.image_ref;
    tk.thumb = ThumbRef{0, 2400, 2400ull * i, {1, 2, 3, 4, 5, 6, 7, 8}};
    tk.external_url = i == 1 ? "javascript:alert(1)" : "https://example.org/" + st.token_id;
    tk.description = cat.intern(st.description);
    for (auto& [k, v] : st.traits) tk.traits.emplace_back(cat.intern(k), cat.intern(v));
    cat.tokens.push_back(tk);
  }
  cat.compute_rarity();
  std::vector<int8_t> scodes;
  for (size_t e = 0; e < cat.tokens.size() * 2; ++e) {
    cat.entry_token.push_back(uint32_t(e / 2));
    for (int d = 0; d < s.out_dim; ++d) scodes.push_back(int8_t((e * 13 + size_t(d) * 29) % 200 - 100));
  }
  const CodeIndex sidx = CodeIndex::build(scodes, s.out_dim, IndexParams{4, 20, 16});
  std::vector<int8_t> wcodes;
  for (size_t i = 0; i < cat.tokens.size() * 2 * 4; ++i) wcodes.push_back(int8_t(i * 11 % 100));
  const WindowIndex widx(4, 2, wcodes);
  const auto rb = serialize_recipe(s), ib = sidx.serialize(), cb = serialize_catalogue(cat), wb = widx.serialize();
  auto entry = [](const std::string& role, const std::string& ext, const std::vector<uint8_t>& b) {
    const std::string h = sha256_hex(b.data(), b.size());
    return FileEntry{role, hashed_name(role, ext, h), h, b.size()};
  };
  const std::vector<FileEntry> files = {FileEntry{"model", card.file, card.sha256, uint64_t(card.bytes)}, entry("recipe", "bin", rb),
                                        entry("index", "bin", ib), entry("catalogue", "bin", cb), entry("windows", "bin", wb)};
  const std::string sm = make_manifest_json(parsed_card, s, sidx, cat, files, "make_seeds");
  // Sanity: the synthetic bundle loads.
  const Bundle check = load_bundle(parse_manifest(sm), {{"recipe", rb}, {"index", ib}, {"catalogue", cb}, {"windows", wb}});
  write_seed(out / "synthetic.bin", {bytes_of(sm), rb, ib, cb, wb});
  // A part code file (part 6): 8 channels, 4 dims, 3 tokens.
  PartSet ps;
  ps.mean.assign(8, 0.125f);
  for (int i = 0; i < 4 * 8; ++i) ps.projection.push_back(float(i % 3) - 1.0f);
  std::vector<int8_t> pcodes(size_t(3) * kParts * 4), zcodes(size_t(3) * kZoomWindows * 4);
  for (size_t i = 0; i < zcodes.size(); ++i) zcodes[i] = int8_t(int(i * 37 % 255) - 127);
  std::copy(zcodes.begin(), zcodes.begin() + long(pcodes.size()), pcodes.begin());
  write_seed(out / "parts.bin", {{}, {}, {}, {}, {}, PartCodes(8, 4, ps, ps, pcodes, zcodes).serialize()});
  write_seed(out / "parts-v1.bin", {{}, {}, {}, {}, {}, PartCodes(8, 4, ps, ps, pcodes, pcodes, kParts).serialize()});  // (file version 1)
  // A style file (part 7): 8 features, 2 directions, two collections.
  StyleModels sty;
  sty.channels = 8;
  sty.dims = 2;
  for (const char* slug : {"nouns", "other"}) {
    StyleModel m;
    m.slug = slug;
    m.log_mean = -5.0f;
    m.log_sd = 0.8f;
    m.cos_mean = 0.4f;
    m.cos_sd = 0.1f;
    m.threshold = 1.6f;
    m.max_residual = 0.05f;
    m.mean.assign(8, 0.3f);
    for (int i = 0; i < 2 * 8; ++i) m.basis.push_back(i % 9 == 0 ? 1.0f : 0.0f);
    sty.collections.push_back(m);
  }
  write_seed(out / "style.bin", {{}, {}, {}, {}, {}, {}, sty.serialize()});
  // A partition table (part 8: its token count, then the table): the partitioned example's
  // (version 5: shards and fragments in group files, the fragments in the directory), next to the example bundle.
  const fs::path pdir = bdir.parent_path() / "bundle-partitioned";
  if (fs::exists(pdir / "manifest.json")) {
    const auto ptext = read(pdir / "manifest.json");
    const Manifest pm = parse_manifest(std::string(ptext.begin(), ptext.end()));
    std::vector<uint8_t> table;
    const uint32_t tokens = uint32_t(pm.tokens);
    for (int i = 0; i < 4; ++i) table.push_back(uint8_t(tokens >> (8 * i)));
    const auto tb = read(pdir / pm.file("partitions").name);
    table.insert(table.end(), tb.begin(), tb.end());
    // (table version 5: its directory and first shard too, parts 9 and 10)
    Bundle pb;
    pb.layout = PartitionLayout::deserialize(tb.data(), tb.size(), pm.descriptor_dim, pm.tokens, "partitions");
    const auto dir = read(pdir / pb.layout.directory.name("directory"));
    const PartPlace s0 = pb.layout.shard_place(0);
    const auto shards = read(pdir / s0.file);
    write_seed(out / "partitions.bin", {{}, {}, {}, {}, {}, {}, {}, table, dir,
                                        std::vector<uint8_t>(shards.begin() + long(s0.offset), shards.begin() + long(s0.offset + s0.bytes))});
  }
  return check.catalogue.tokens.size() == 6 ? 0 : 1;
}
