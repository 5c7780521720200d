// Partitioned bundles: layout round trip, on-demand parts checked against the table, search equal
// to the one-index bundle when every partition is probed, and damage named by file.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "bundle.h"
#include "distance.h"
#include "helpers.h"
#include "lens.h"
#include "partitions.h"
#include "search.h"
#include "sha256.h"
#include "thumb_pack.h"

using namespace nftlens;
using testutil::contains;
using testutil::error_of;

namespace {
struct Partitioned {
  testutil::TestBundle tb;
  Bundle flat;                                     // the same tokens as one index
  PartitionedParts parts;
  std::map<std::string, std::vector<uint8_t>> files, disk;  // role -> bytes; part name -> bytes
  std::string manifest_json;
  std::vector<uint32_t> token_of_image;            // original token t -> its partition-order index
};

const Partitioned& partitioned() {
  static const Partitioned P = [] {
    Partitioned p;
    p.tb = testutil::make_test_bundle(20);  // 40 tokens in two collections
    p.flat = load_bundle(parse_manifest(p.tb.manifest_json), p.tb.files);
    Catalogue cat = p.flat.catalogue;
    std::vector<int8_t> codes;
    for (size_t i = 0; i < p.flat.index.size(); ++i) codes.insert(codes.end(), p.flat.index.code(i), p.flat.index.code(i) + p.flat.index.dim());
    p.parts = partition_bundle(cat, codes, p.flat.index.dim(), 5, 2, 8, 2);
    for (size_t i = 0; i < cat.tokens.size(); ++i)
      for (size_t t = 0; t < p.flat.catalogue.tokens.size(); ++t)
        if (p.flat.catalogue.tokens[t].image == cat.tokens[i].image) {
          if (p.token_of_image.size() <= t) p.token_of_image.resize(t + 1);
          p.token_of_image[t] = uint32_t(i);
        }
    p.files["recipe"] = p.tb.files.at("recipe");
    p.files["partitions"] = p.parts.table;
    p.files["catalogue"] = p.parts.head_catalogue;
    std::vector<FileEntry> entries;
    for (auto& e : p.tb.entries)
      if (e.role == "model" || e.role == "recipe") entries.push_back(e);
    for (const char* role : {"partitions", "catalogue"}) {
      const auto& b = p.files[role];
      FileEntry f{role, "", sha256_hex(b.data(), b.size()), b.size()};
      f.name = hashed_name(role, "bin", f.sha256);
      entries.push_back(f);
    }
    p.manifest_json = make_manifest_json(p.tb.card, p.flat.recipe, CodeIndex(), cat.slice(0, 0), entries, "core_tests", &p.parts.layout);
    for (const auto& g : p.parts.layout.shard_files()) p.disk[g.name] = join_parts(p.parts.shards, g.first_part, g.parts);
    for (const auto& g : p.parts.layout.fragment_files()) p.disk[g.name] = join_parts(p.parts.fragments, g.first_part, g.parts);
    p.disk[p.parts.layout.directory.name("directory")] = p.parts.directory;
    return p;
  }();
  return P;
}
}  // namespace

TEST_CASE("partitions: layout, tokens in partition order, parts named by content") {
  const auto& P = partitioned();
  const PartitionLayout& L = P.parts.layout;
  CHECK(L.partitions() >= 2);
  CHECK(L.partitions() <= 5);
  CHECK(L.tokens() == 40);
  CHECK(L.fragments.size() == 5);  // 40 tokens / 8 per fragment
  CHECK(P.token_of_image.size() == 40);
  // The table survives a round trip, and k-means is deterministic.
  const PartitionLayout back = PartitionLayout::deserialize(P.parts.table.data(), P.parts.table.size(), L.dim, 40, "partitions.bin");
  CHECK(back.serialize() == P.parts.table);
  CHECK(back.first(1) == L.counts[0]);
  Catalogue cat = P.flat.catalogue;
  std::vector<int8_t> codes;
  for (size_t i = 0; i < P.flat.index.size(); ++i) codes.insert(codes.end(), P.flat.index.code(i), P.flat.index.code(i) + P.flat.index.dim());
  CHECK(partition_bundle(cat, codes, L.dim, 5, 2, 8, 1).table == P.parts.table);
  // Names carry the content hash: shards and fragments are byte ranges of files named by theirs.
  REQUIRE(L.grouped());
  const auto sf = L.shard_files();
  const auto first_file = join_parts(P.parts.shards, 0, sf[0].parts);
  CHECK(sf[0].name == "shards." + sha256_hex(first_file.data(), first_file.size()).substr(0, 16) + ".bin");
  CHECK(L.shard_place(0).file == sf[0].name);
  CHECK(L.shard_place(0).ranged);
  // Fragments joined give back every token with its strings.
  std::vector<Catalogue> frags;
  for (auto& f : P.parts.fragments) frags.push_back(deserialize_catalogue(f.data(), f.size(), "fragment"));
  const Catalogue joined = Catalogue::join(frags);
  REQUIRE(joined.tokens.size() == 40);
  CHECK(joined.token_json(P.token_of_image[7]).find("\"name\":\"Alpha #7\"") != std::string::npos);
}

// Runs a Lens call to the end, answering its needs from P.disk; counts the parts handed over.
template <class Call, class Disk>
Answer settle(Lens& lens, const Disk& P, Call call, size_t* parts = nullptr) {
  for (int round = 0; round < 8; ++round) {
    Answer a = call();
    if (a.done()) return a;
    for (const Need& n : a.needs) {
      REQUIRE(n.kind != Need::Kind::thumb);  // (this bundle has no thumbnails)
      const auto& file = P.disk.at(n.name);
      REQUIRE(n.offset + n.bytes <= file.size());
      CHECK((n.ranged || n.bytes == file.size()));
      lens.add_part(n.kind, n.id, file.data() + n.offset, size_t(n.bytes));
      if (parts) ++*parts;
    }
  }
  FAIL("the lens kept asking for parts");
  return {};
}

TEST_CASE("partitions: bundle loads the head only; search probing every partition equals the one-index search") {
  const auto& P = partitioned();
  const Bundle b = load_bundle(parse_manifest(P.manifest_json), P.files);
  REQUIRE(b.partitioned());
  CHECK(b.catalogue.tokens.empty());
  CHECK(b.manifest.tokens == 40);
  CHECK(contains(error_of([&] { search_tokens(b, {}, SearchOptions{}); }), "partitioned"));

  for (int t : {0, 7, 26, 39}) {
    Lens lens(load_bundle(parse_manifest(P.manifest_json), P.files));
    QuerySession q(lens.bundle(), P.tb.images[size_t(t)]);
    ImageRequest all;
    all.k = 5;
    all.exact = true;
    const Answer a = settle(lens, P, [&] { return lens.search(q, all); });
    const auto doc = nlohmann::json::parse(a.json);
    REQUIRE(a.hits.size() == 5);
    CHECK(a.hits[0].token == P.token_of_image[size_t(t)]);
    CHECK(doc["match"] == true);
    CHECK(doc["results"][0]["index"] == P.token_of_image[size_t(t)]);
    CHECK(doc["results"][0]["image"] == P.flat.catalogue.tokens[size_t(t)].image);
    // The scores of an exact scan of the one-index bundle (partitions this small have exact 4-bit codes).
    QuerySession qf(P.flat, P.tb.images[size_t(t)]);
    SearchOptions five;
    five.k = 5;
    five.exact = true;
    const auto flat = search_tokens(P.flat, QueryDescriptors{qf.descriptors(), {}}, five);
    for (size_t i = 0; i < 5; ++i) CHECK(a.hits[i].score == doctest::Approx(flat[i].score));
    // The default probe fetches only some shards and still finds the token itself.
    Lens few(load_bundle(parse_manifest(P.manifest_json), P.files));
    QuerySession q2(few.bundle(), P.tb.images[size_t(t)]);
    ImageRequest def;
    def.k = 3;
    CHECK(shards_to_probe(few.bundle(), {q2.descriptors(), {}}, SearchOptions{}).size() == 2);
    size_t parts = 0;
    const Answer d = settle(few, P, [&] { return few.search(q2, def); }, &parts);
    CHECK(d.hits[0].token == P.token_of_image[size_t(t)]);
    // Asked again: every part is held, nothing more to fetch.
    size_t again = 0;
    settle(few, P, [&] { return few.search(q2, def); }, &again);
    CHECK(parts >= 2);
    CHECK(again == 0);
    // Table version 5: the fragments of its hits were placed by the shards that found them.
    CHECK(few.bundle().layout.version == 5);
    CHECK_FALSE(few.bundle().layout.directory_loaded());
  }
  // Collection filter works from the shards alone (no catalogue needed).
  Lens lens(load_bundle(parse_manifest(P.manifest_json), P.files));
  QuerySession q(lens.bundle(), P.tb.images[3]);
  ImageRequest beta;
  beta.exact = true;
  beta.collections = {"beta"};
  const auto doc = nlohmann::json::parse(settle(lens, P, [&] { return lens.search(q, beta); }).json);
  REQUIRE(doc["results"].size() == 10);
  for (auto& r : doc["results"]) CHECK(r["collection"] == "beta");
  // Trait filters need every fragment: refused when the host may not load them all (here: none)...
  ImageRequest filtered;
  filtered.filter = "rank:1-5";
  LensSettings none;
  none.whole_catalogue_bytes = 0;
  Lens refusing(load_bundle(parse_manifest(P.manifest_json), P.files), none);
  QuerySession qr(refusing.bundle(), P.tb.images[3]);
  CHECK(contains(error_of([&] { refusing.search(qr, filtered); }), "needs the whole catalogue"));
  CHECK(contains(error_of([&] { refusing.text(TextRequest{"Alpha", 5}); }), "not available on a partitioned bundle this large"));
  CHECK(nlohmann::json::parse(refusing.info_json())["text"] == false);
  // ...a browser's default budget (4 MB) holds this small bundle's catalogue...
  CHECK(nlohmann::json::parse(lens.info_json())["text"] == true);
  CHECK(nlohmann::json::parse(lens.info_json())["layout"]["catalogue_bytes"].get<uint64_t>() > 0);
  // ...and natively (unlimited) they work, like text search.
  LensSettings native;
  native.whole_catalogue_bytes = UINT64_MAX;
  Lens whole(load_bundle(parse_manifest(P.manifest_json), P.files), native);
  QuerySession qw(whole.bundle(), P.tb.images[3]);
  size_t parts = 0;
  const auto fd = nlohmann::json::parse(settle(whole, P, [&] { return whole.search(qw, filtered); }, &parts).json);
  CHECK(parts == whole.bundle().layout.fragments.size() + whole.bundle().layout.default_probe + 1);  // (+ the directory)
  REQUIRE_FALSE(fd["results"].empty());
  for (auto& r : fd["results"]) CHECK(r["rarity_rank"].get<int>() <= 5);
  CHECK(whole.bundle().layout.directory_loaded());  // (every fragment: the directory placed them)
  const auto text = nlohmann::json::parse(settle(whole, P, [&] { return whole.text(TextRequest{"Alpha", 5}); }).json);
  CHECK(text["results"].size() == 5);
  CHECK(text["facets"].is_object());
}

TEST_CASE("partitions: table version 5 places fragments from the shards or the directory, and refuses either when they disagree") {
  const auto& P = partitioned();
  const Bundle b = load_bundle(parse_manifest(P.manifest_json), P.files);
  const PartitionLayout& L = b.layout;
  const size_t ncol = b.catalogue.collections.size();
  REQUIRE(L.has_directory());
  for (uint32_t f = 0; f < L.fragments.size(); ++f) CHECK_FALSE(L.fragment_known(f));
  // Its thumbnail packs are the table's: a manifest that lists packs too is refused.
  auto m = nlohmann::json::parse(P.manifest_json);
  m["files"].push_back({{"role", "thumbs"}, {"name", "thumbs.0123456789abcdef.bin"}, {"bytes", 10}, {"sha256", std::string(64, 'a')}});
  CHECK(contains(error_of([&] { load_bundle(parse_manifest(m.dump()), P.files); }), "manifest.json: lists thumbnail packs, which this bundle's partition table lists"));
  CHECK(contains(error_of([&] { L.fragment_place(0); }), "its place is not known yet"));
  CHECK(contains(error_of([&] { L.fragment_files(); }), "directory, which is not loaded"));
  // A shard carries exactly the fragments overlapping its partition, as the builder placed them.
  PartitionLayout learnt = L;
  PartStore store;
  for (uint32_t p = 0; p < L.partitions(); ++p) {
    store.add_shard(L, ncol, p, P.parts.shards[p].data(), P.parts.shards[p].size());
    const Shard& s = store.shard(p);
    REQUIRE_FALSE(s.carried.empty());
    CHECK(s.carried.front().first == L.first(p) / L.fragment_tokens);
    CHECK(s.carried.back().first == (L.first(p) + L.counts[p] - 1) / L.fragment_tokens);
    for (const auto& [f, e] : s.carried) {
      learnt.learn_fragment(f, e, "s");
      CHECK(e == P.parts.layout.fragment_entry(f));
    }
  }
  for (uint32_t f = 0; f < L.fragments.size(); ++f) CHECK(learnt.fragment_place(f).offset == P.parts.layout.fragment_place(f).offset);
  // The directory agrees with them; a damaged or foreign one is named.
  CHECK_NOTHROW(learnt.load_directory(P.parts.directory.data(), P.parts.directory.size()));
  CHECK(learnt.directory_loaded());
  auto dir = P.parts.directory;
  dir.back() ^= 1;
  PartitionLayout fresh = L;
  CHECK(contains(error_of([&] { fresh.load_directory(dir.data(), dir.size()); }), L.directory.name("directory") + ": SHA-256 does not match"));
  CHECK(contains(error_of([&] { fresh.load_directory(dir.data(), dir.size() - 1); }), "truncated or from another bundle"));
  // A shard (hash matching a lying table) that places a fragment unlike the directory: refused by name.
  PartitionLayout other = P.parts.layout;
  const FragmentEntry e0 = other.fragment_entry(0);
  FragmentEntry moved = e0;
  moved.offset += 1;
  moved.file.bytes += 1;
  PartitionLayout loaded = L;
  loaded.load_directory(P.parts.directory.data(), P.parts.directory.size());
  CHECK(contains(error_of([&] { loaded.learn_fragment(0, moved, "shards.x.bin (shard 0)"); }), "shards.x.bin (shard 0): places catalogue fragment 0 unlike the rest of the bundle"));
  CHECK(contains(error_of([&] { loaded.learn_fragment(99, e0, "s"); }), "which the partition table does not have"));
  // Learning is all or none: a shard whose second entry disagrees leaves its first one unlearnt.
  PartitionLayout half = L;
  half.learn_fragment(0, e0, "s");
  const FragmentEntry e1 = other.fragment_entry(1);
  CHECK(contains(error_of([&] { half.learn_fragments({{1, e1}, {0, moved}}, "shards.y.bin (shard 1)"); }), "shards.y.bin (shard 1): places catalogue fragment 0"));
  CHECK_FALSE(half.fragment_known(1));
  // The shard's bytes: every truncation fails cleanly; carried entries are re-made exactly.
  const auto& s0 = P.parts.shards[0];
  for (size_t n = 0; n < s0.size(); ++n) CHECK(error_of([&] { Shard::deserialize(s0.data(), n, L, 0, ncol, "s"); }) != "<no error>");
  Shard plain = Shard::deserialize(s0.data(), s0.size(), L, 0, ncol, "s");
  const auto codes = plain.serialize(L.dim);
  const auto bytes = carry_fragments(codes, P.parts.layout, 0);
  CHECK(bytes == s0);
  auto tail = bytes;
  tail.push_back(0);
  CHECK(contains(error_of([&] { Shard::deserialize(tail.data(), tail.size(), L, 0, ncol, "s"); }), "shard size does not match its header"));
  // Carrying another partition's fragments, or a fragment outside its file: refused by the parser.
  auto trailer = [&](uint64_t f0, uint64_t n, uint64_t offset) {
    std::vector<uint8_t> b = codes;
    auto varint = [&](uint64_t v) { while (v >= 0x80) { b.push_back(uint8_t(v | 0x80)); v >>= 7; } b.push_back(uint8_t(v)); };
    varint(f0);
    varint(n);
    for (uint64_t i = 0; i < n; ++i) {
      const FragmentEntry e = other.fragment_entry(uint32_t(f0 + i));
      varint(e.file.bytes); b.insert(b.end(), e.file.digest.begin(), e.file.digest.begin() + 8);
      varint(offset == UINT64_MAX ? e.offset : offset);
      varint(e.part.bytes); b.insert(b.end(), e.part.digest.begin(), e.part.digest.begin() + 8);
    }
    return b;
  };
  const auto& c0 = plain.carried;
  const auto good = trailer(c0.front().first, c0.size(), UINT64_MAX);
  CHECK(good == s0);
  const auto wrong = trailer(c0.front().first + 1, c0.size(), UINT64_MAX);
  CHECK(contains(error_of([&] { Shard::deserialize(wrong.data(), wrong.size(), L, 0, ncol, "s"); }), "s: the catalogue fragments it carries are not those of its partition"));
  const auto outside = trailer(c0.front().first, c0.size(), other.fragment_entry(c0.front().first).file.bytes);
  CHECK(contains(error_of([&] { Shard::deserialize(outside.data(), outside.size(), L, 0, ncol, "s"); }), "s: carries a catalogue fragment outside its file"));
  // The directory: another file's bytes (its digest made to match), trailing bytes, a wrong count,
  // or a place unlike what a shard carried: each refused by name.
  auto directory_error = [&](std::vector<uint8_t> d, const PartitionLayout& with) {
    PartitionLayout x = with;
    x.directory = describe_part(d);
    return error_of([&] { x.load_directory(d.data(), d.size()); });
  };
  CHECK(contains(directory_error(P.parts.table, L), "not an NFT Lens catalogue directory"));
  auto longer = P.parts.directory;
  longer.push_back(0);
  CHECK(contains(directory_error(longer, L), ": trailing bytes"));
  PartitionLayout fewer = P.parts.layout;
  fewer.fragments.pop_back();
  CHECK(contains(directory_error(fewer.serialize_directory(), L), "fragment count does not match the partition table"));
  PartitionLayout placed_otherwise = L;
  placed_otherwise.learn_fragment(0, moved, "s");
  CHECK(contains(directory_error(P.parts.directory, placed_otherwise), "places catalogue fragment 0 unlike the shard that carried it"));
  // Every truncation of the directory fails cleanly.
  for (size_t n = 0; n < P.parts.directory.size(); ++n) {
    PartitionLayout x = L;
    x.directory = describe_part(std::vector<uint8_t>(P.parts.directory.begin(), P.parts.directory.begin() + long(n)));
    x.directory.digest_bytes = 8;
    CHECK(error_of([&] { x.load_directory(P.parts.directory.data(), n); }) != "<no error>");
  }
}

TEST_CASE("partitions: shards hold 4-bit codes, 16 levels per dimension fitted to the partition") {
  // Small partitions (at most 16 values per dimension) are exact: the decoded codes are the originals.
  const auto& P = partitioned();
  const PartitionLayout& L = P.parts.layout;
  const size_t D = size_t(L.dim), ncol = P.flat.catalogue.collections.size();
  size_t checked = 0;
  for (uint32_t p = 0; p < L.partitions(); ++p) {
    const Shard s = Shard::deserialize(P.parts.shards[p].data(), P.parts.shards[p].size(), L, p, ncol, "s");
    REQUIRE(s.size() <= 16);
    for (size_t t = 0; t < P.token_of_image.size(); ++t)
      if (P.token_of_image[t] >= s.first && P.token_of_image[t] < s.first + s.size()) {
        CHECK(std::equal(P.flat.index.code(t), P.flat.index.code(t) + D, s.codes.data() + size_t(P.token_of_image[t] - s.first) * D));
        ++checked;
      }
  }
  CHECK(checked == P.token_of_image.size());
  // A large partition: half a byte per dimension, and no more error than 16 even steps over the
  // range (less where one outlier stretches it).
  PartitionLayout big;
  big.dim = 8;
  big.counts = {1000};
  big.centroids.assign(8, 0);
  big.index_firsts();
  Shard s;
  std::mt19937 rng(7);
  std::normal_distribution<double> g(0, 12);
  for (int i = 0; i < 1000; ++i) {
    for (int d = 0; d < 8; ++d) s.codes.push_back(int8_t(std::clamp(int(std::lround(g(rng))), -127, 127)));
    s.collection.push_back(0);
  }
  s.codes[5 * 8 + 3] = 120;  // the outlier
  const auto bytes = s.serialize(8);
  CHECK(bytes.size() < 1000 * 8 / 2 + 8 * 16 + 40);
  const Shard back = Shard::deserialize(bytes.data(), bytes.size(), big, 0, 1, "big");
  for (int d = 0; d < 8; ++d) {
    int lo = 127, hi = -128;
    for (int i = 0; i < 1000; ++i) {
      lo = std::min(lo, int(s.codes[size_t(i * 8 + d)]));
      hi = std::max(hi, int(s.codes[size_t(i * 8 + d)]));
    }
    double err = 0, even = 0;
    for (int i = 0; i < 1000; ++i) {
      const int x = s.codes[size_t(i * 8 + d)];
      const double e = double(back.codes[size_t(i * 8 + d)]) - x;
      err += e * e / 1000;
      int best = 1 << 20;
      for (int l = 0; l < 16; ++l) best = std::min(best, std::abs(x - int(std::lround(lo + (hi - lo) * l / 15.0))));
      even += double(best) * best / 1000;
    }
    CHECK(err <= even);
    if (d == 3) CHECK(err < 0.8 * even);  // the outlier's dimension
  }
}

TEST_CASE("partitions: damaged or swapped parts are refused, naming the file") {
  const auto& P = partitioned();
  const Bundle b = load_bundle(parse_manifest(P.manifest_json), P.files);
  const PartitionLayout& L = b.layout;
  const size_t ncol = b.catalogue.collections.size();
  PartStore store;
  auto shard = P.parts.shards[0];
  shard[shard.size() - 1] ^= 1;
  CHECK(contains(error_of([&] { store.add_shard(L, ncol, 0, shard.data(), shard.size()); }), L.shard_place(0).file + " (shard 0, bytes 0-" + std::to_string(shard.size() - 1) + "): SHA-256 does not match"));
  shard.pop_back();
  CHECK(contains(error_of([&] { store.add_shard(L, ncol, 0, shard.data(), shard.size()); }), "truncated or from another bundle"));
  CHECK(contains(error_of([&] { store.add_shard(L, ncol, 1, P.parts.shards[0].data(), P.parts.shards[0].size()); }), L.shard_place(1).label("shard", 1)));
  CHECK(contains(error_of([&] { store.add_shard(L, ncol, 99, P.parts.shards[0].data(), P.parts.shards[0].size()); }), "no such partition"));
  CHECK(contains(error_of([&] { store.add_fragment(L, 1, P.parts.fragments[0].data(), P.parts.fragments[0].size()); }), "its place is not known yet"));
  PartitionLayout placed = L;
  placed.load_directory(P.parts.directory.data(), P.parts.directory.size());
  CHECK(contains(error_of([&] { store.add_fragment(placed, 1, P.parts.fragments[0].data(), P.parts.fragments[0].size()); }), placed.fragment_place(1).label("fragment", 1)));
  CHECK(store.shard_count() == 0);
  CHECK(store.fragment_count() == 0);
  // A shard whose header disagrees with the table, even with a matching hash: refused by the parser.
  PartitionLayout lying = L;
  Shard s = Shard::deserialize(P.parts.shards[0].data(), P.parts.shards[0].size(), L, 0, ncol, "s");
  s.first = 5;
  const auto bad = s.serialize(L.dim);
  lying.shards[0] = describe_part(bad);
  CHECK(contains(error_of([&] { store.add_shard(lying, ncol, 0, bad.data(), bad.size()); }), "shard header does not match the partition table"));
  // The table itself: truncated, wrong token count, trailing bytes.
  const auto& t = P.parts.table;
  CHECK(contains(error_of([&] { PartitionLayout::deserialize(t.data(), t.size() - 3, L.dim, 40, "partitions.x.bin"); }), "partitions.x.bin"));
  CHECK(contains(error_of([&] { PartitionLayout::deserialize(t.data(), t.size(), L.dim, 41, "partitions.x.bin"); }), "partitions hold 40 tokens, manifest.json says 41"));
  auto longer = t;
  longer.push_back(0);
  CHECK(contains(error_of([&] { PartitionLayout::deserialize(longer.data(), longer.size(), L.dim, 40, "p"); }), "trailing bytes"));
  CHECK(contains(error_of([&] { PartitionLayout::deserialize(t.data(), t.size(), L.dim + 1, 40, "p"); }), "centroid size"));
  // Every truncation of the table and of a shard fails cleanly.
  for (size_t n = 0; n < t.size(); ++n) CHECK(error_of([&] { PartitionLayout::deserialize(t.data(), n, L.dim, 40, "p"); }) != "<no error>");
  const auto& s0 = P.parts.shards[0];
  for (size_t n = 0; n < s0.size(); n += 7) CHECK(error_of([&] { Shard::deserialize(s0.data(), n, L, 0, ncol, "s"); }) != "<no error>");
}

TEST_CASE("partitions: shards and fragments in group files (table version 5); one file per part still loads") {
  // Enough partitions and fragments for several files of each.
  PartitionedParts parts;
  PartitionLayout& L = parts.layout;
  L.dim = 4;
  L.fragment_tokens = 300;
  for (uint32_t p = 0; p < 9; ++p) {
    L.counts.push_back(400);
    L.centroids.insert(L.centroids.end(), {int8_t(p), 0, 0, 0});
    parts.shards.push_back(std::vector<uint8_t>(10 + p, uint8_t(p)));
    L.shards.push_back(describe_part(parts.shards.back()));
  }
  for (uint32_t f = 0; f < 12; ++f) {  // 3,600 tokens / 300
    parts.fragments.push_back(std::vector<uint8_t>(20 + f, uint8_t(f)));
    L.fragments.push_back(describe_part(parts.fragments.back()));
  }
  group_parts(parts);
  // Shards: whole partitions until >= 1,000 tokens (3 x 400); fragments: 4 x 300.
  REQUIRE(L.shard_groups.size() == 3);
  CHECK(L.shard_groups[0].parts == 3);
  REQUIRE(L.fragment_groups.size() == 3);
  CHECK(L.fragment_groups[2].parts == 4);
  const PartPlace at = L.shard_place(4);
  CHECK(at.ranged);
  CHECK(at.offset == parts.shards[3].size());  // after shard 3 in the second file (each with its carried entries appended)
  CHECK(at.bytes == parts.shards[4].size());
  CHECK(parts.shards[4].size() > 14);
  CHECK(at.file == L.shard_files()[1].name);
  CHECK(at.label("shard", 4) == at.file + " (shard 4, bytes " + std::to_string(at.offset) + "-" + std::to_string(at.offset + at.bytes - 1) + ")");
  const auto file1 = join_parts(parts.shards, 3, 3);
  CHECK(std::equal(file1.begin() + long(at.offset), file1.begin() + long(at.offset + at.bytes), parts.shards[4].begin()));
  const std::vector<uint8_t> table = L.serialize();
  PartitionLayout back = PartitionLayout::deserialize(table.data(), table.size(), 4, 3600, "t");
  CHECK(back.serialize() == table);
  back.load_directory(parts.directory.data(), parts.directory.size());
  CHECK(back.fragment_place(5).offset == L.fragment_place(5).offset);
  CHECK(back.fragment_place(5).file == L.fragment_place(5).file);
  // A version 4 table (every fragment listed in it, no directory) still loads and round-trips.
  PartitionLayout v4 = L;
  v4.directory = PartFile{};
  const auto t4 = v4.serialize();
  const PartitionLayout back4 = PartitionLayout::deserialize(t4.data(), t4.size(), 4, 3600, "t");
  CHECK(back4.version == 4);
  CHECK_FALSE(back4.has_directory());
  CHECK(back4.fragment_known(5));
  CHECK(back4.fragment_place(5).offset == L.fragment_place(5).offset);
  CHECK(back4.fragment_place(5).file == L.fragment_place(5).file);
  CHECK(back4.fragment_files().size() == L.fragment_files().size());
  CHECK(back4.serialize() == t4);
  CHECK(back.shards[2].digest_bytes == 8);
  CHECK_NOTHROW(verify_part(back.shards[2], "s", parts.shards[2].data(), parts.shards[2].size()));
  auto wrong = parts.shards[2];
  wrong[0] ^= 1;
  CHECK(contains(error_of([&] { verify_part(back.shards[2], "s", wrong.data(), wrong.size()); }), "SHA-256 does not match"));
  // Files that do not hold the parts in order, or whose size is not their parts' sum: refused.
  PartitionLayout bad = L;
  bad.shard_groups[0].parts = 2;
  auto t2 = bad.serialize();
  CHECK(contains(error_of([&] { PartitionLayout::deserialize(t2.data(), t2.size(), 4, 3600, "t"); }), "t: a shard file's size is not the sum of its parts"));
  // (the fragments' files: in the directory)
  auto bad_directory = [&](const PartitionLayout& with) {
    const auto d = with.serialize_directory();
    PartitionLayout x = PartitionLayout::deserialize(table.data(), table.size(), 4, 3600, "t");
    x.directory = describe_part(d);
    return error_of([&] { x.load_directory(d.data(), d.size()); });
  };
  bad = L;
  bad.fragment_groups[1].file.bytes += 1;
  CHECK(contains(bad_directory(bad), ": a fragment file's size is not the sum of its parts"));
  bad = L;
  bad.shard_groups[2].parts = 5;
  t2 = bad.serialize();
  CHECK(contains(error_of([&] { PartitionLayout::deserialize(t2.data(), t2.size(), 4, 3600, "t"); }), "do not hold the shard in order"));
  bad = L;
  bad.fragments[3].bytes = 0;  // (a host would ask for an empty range)
  CHECK(contains(bad_directory(bad), ": catalogue fragment 3 is empty"));
  bad = L;
  bad.fragments[3].bytes += 1;  // (the catalogue's size in the table no longer adds up)
  CHECK(contains(bad_directory(bad), "do not add up to the partition table's catalogue size"));
  for (size_t n = 0; n < table.size(); ++n) CHECK(error_of([&] { PartitionLayout::deserialize(table.data(), n, 4, 3600, "t"); }) != "<no error>");
  // Without groups: a version 3 table, one file per part, as earlier builders wrote.
  PartitionLayout flat = L;
  flat.shard_groups.clear();
  flat.fragment_groups.clear();
  flat.index_firsts();
  const auto t3 = flat.serialize();
  const PartitionLayout v3 = PartitionLayout::deserialize(t3.data(), t3.size(), 4, 3600, "t");
  CHECK(!v3.grouped());
  CHECK(v3.shards[4].digest_bytes == 16);
  CHECK(v3.shard_place(4).file == L.shards[4].name("shard"));
  CHECK(!v3.shard_place(4).ranged);
  CHECK(v3.shard_files().size() == 9);
  CHECK(t3.size() > table.size());
}

TEST_CASE("partitions: the store keeps within its byte budget, never dropping parts in use") {
  const auto& P = partitioned();
  const Bundle b = load_bundle(parse_manifest(P.manifest_json), P.files);
  const PartitionLayout& L = b.layout;
  const size_t one = P.parts.shards[0].size();
  PartStore store(one + 1);
  for (uint32_t p = 0; p < L.partitions(); ++p) {
    store.add_shard(L, b.catalogue.collections.size(), p, P.parts.shards[p].data(), P.parts.shards[p].size());
    store.touch({p}, {});
    CHECK(store.has_shard(p));
    CHECK(store.shard_count() <= 2);
  }
  store.touch({0, 1}, {});  // both needed now: kept even over budget
  CHECK(store.shard_count() <= 2);
}

TEST_CASE("partitions: text through the word chunks equals the whole catalogue's answers; a damaged chunk is named") {
  const auto& P = partitioned();
  // The same bundle with its word index (as the builder writes it: over the tokens in partition order).
  std::vector<Catalogue> frags;
  for (auto& f : P.parts.fragments) frags.push_back(deserialize_catalogue(f.data(), f.size(), "fragment"));
  PartitionedParts parts = P.parts;
  add_word_parts(parts, Catalogue::join(frags), 200);
  REQUIRE(parts.layout.has_words());
  struct {
    std::map<std::string, std::vector<uint8_t>> files, disk;
    std::string manifest_json;
  } W{P.files, P.disk, ""};
  W.files["partitions"] = parts.table;
  {
    auto m = nlohmann::json::parse(P.manifest_json);
    for (auto& f : m["files"])
      if (f["role"] == "partitions") {
        f["name"] = hashed_name("partitions", "bin", sha256_hex(parts.table.data(), parts.table.size()));
        f["sha256"] = sha256_hex(parts.table.data(), parts.table.size());
        f["bytes"] = parts.table.size();
      }
    W.manifest_json = m.dump();
  }
  W.disk[parts.layout.lexicon.name("lexicon")] = parts.lexicon;
  for (size_t i = 0; i < parts.words.size(); ++i) W.disk[parts.layout.words[i].name("words")] = parts.words[i];
  LensSettings chunks_only, unlimited;
  chunks_only.whole_catalogue_bytes = 0;
  unlimited.whole_catalogue_bytes = UINT64_MAX;
  Lens chunked(load_bundle(parse_manifest(W.manifest_json), W.files), chunks_only);
  Lens whole(load_bundle(parse_manifest(W.manifest_json), W.files), unlimited);
  const auto info = nlohmann::json::parse(chunked.info_json());
  CHECK(info["text"] == true);
  CHECK(info["text_index"] == "chunks");
  CHECK(info["layout"]["word_chunks"] == parts.words.size());
  CHECK(nlohmann::json::parse(whole.info_json())["text_index"] == "whole");
  size_t first = 0;
  for (const char* q : {"red", "alpha 7", "blu", "hat:cap", "background:green alpha", "beta 12 cap", "gren", "hat:cap rank:1-3", "zzz"}) {
    INFO(q);
    size_t n = 0;
    const std::string a = settle(chunked, W, [&] { return chunked.text(TextRequest{q, 7}); }, &n).json;
    CHECK(a == settle(whole, W, [&] { return whole.text(TextRequest{q, 7}); }).json);
    if (!first) first = n;
  }
  CHECK(first >= 2);  // the lexicon, a chunk, fragments
  CHECK(first < parts.words.size() + P.parts.fragments.size());
  for (const char* p : {"r", "ca", "blue", ""})
    CHECK(settle(chunked, W, [&] { return chunked.suggest(SuggestRequest{p, 5}); }).json ==
          settle(whole, W, [&] { return whole.suggest(SuggestRequest{p, 5}); }).json);
  for (int c : {-1, 0, 1})
    CHECK(settle(chunked, W, [&] { return chunked.trait_stats(c); }).json == settle(whole, W, [&] { return whole.trait_stats(c); }).json);
  // Trait filters after an image search: the trait's postings, same results.
  for (const char* f : {"background:red", "hat:cap collection:beta", "background:blue rank:1-4"}) {
    QuerySession qc(chunked.bundle(), P.tb.images[5]), qw(whole.bundle(), P.tb.images[5]);
    ImageRequest r;
    r.exact = true;
    r.filter = f;
    CHECK(settle(chunked, W, [&] { return chunked.search(qc, r); }).json == settle(whole, W, [&] { return whole.search(qw, r); }).json);
  }
  // A rank range alone needs every token's rank: refused, with its reason.
  const auto refused = [&] {
    try {
      chunked.text(TextRequest{"rank:1-5", 5});
    } catch (const Error& e) {
      return std::string(e.code()) + ": " + e.what();
    }
    return std::string("accepted");
  }();
  CHECK(contains(refused, "unsupported: rank:A-B"));
  // A damaged chunk or lexicon is refused by name (code bad_bundle).
  Lens fresh(load_bundle(parse_manifest(W.manifest_json), W.files), chunks_only);
  const Answer need = fresh.text(TextRequest{"red", 5});
  REQUIRE(need.needs.size() == 2);  // the lexicon, and with it the directory (text results are anywhere)
  REQUIRE(need.needs[0].kind == Need::Kind::lexicon);
  CHECK(need.needs[1].kind == Need::Kind::directory);
  fresh.add_part(Need::Kind::directory, 0, parts.directory.data(), parts.directory.size());
  auto bad = parts.lexicon;
  bad[bad.size() / 2] ^= 1;
  try {
    fresh.add_part(Need::Kind::lexicon, 0, bad.data(), bad.size());
    FAIL("a damaged lexicon was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.code()) == errc::bad_bundle);
    CHECK(contains(e.what(), parts.layout.lexicon.name("lexicon")));
  }
  fresh.add_part(Need::Kind::lexicon, 0, parts.lexicon.data(), parts.lexicon.size());
  const Answer chunk = fresh.text(TextRequest{"red", 5});
  REQUIRE(!chunk.needs.empty());
  CHECK(chunk.needs[0].kind == Need::Kind::words);
  CHECK(contains(chunk.needs[0].name, "words."));
  auto dam = parts.words[chunk.needs[0].id];
  dam.back() ^= 0x55;
  try {
    fresh.add_part(Need::Kind::words, chunk.needs[0].id, dam.data(), dam.size());
    FAIL("a damaged chunk was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.code()) == errc::bad_bundle);
    CHECK(contains(e.what(), chunk.needs[0].name));
  }
  // An old (version 1) table still loads: no word index, text through the whole catalogue.
  PartitionLayout v1 = P.parts.layout;
  CHECK_FALSE(v1.has_words());
}

TEST_CASE("partitions: thumbnail packs hold whole consecutive partitions, at least kPartitionPackTokens tokens each") {
  // (the builder's and partition_bench's rule: smaller partitions must not multiply the files)
  const std::vector<uint32_t> counts = {400, 500, 300, 1200, 100, 450, 600, 50};
  const auto g = partition_pack_groups(counts);
  const std::vector<std::pair<size_t, size_t>> want = {{0, 1200}, {1200, 1200}, {2400, 1150}, {3550, 50}};
  CHECK(g == want);
  size_t covered = 0;
  for (auto [first, count] : g) { CHECK(first == covered); covered += count; }
  CHECK(covered == 3600);
  CHECK(partition_pack_groups({}).empty());
  CHECK(partition_pack_groups({60}) == std::vector<std::pair<size_t, size_t>>{{0, 60}});
}

TEST_CASE("partitions: centroids stored in 4 bits (table version 3) where each dimension has <= 16 values, else int8") {
  // k-means leaves every dimension of the centroids on 16 levels, so the table stores them exactly in
  // half the bytes; the tokens were assigned to those very centroids.
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 30.0f);
  const int dim = 24;
  const size_t n = 3000, P = 40;
  std::vector<int8_t> codes(n * dim);
  for (auto& c : codes) c = int8_t(std::clamp(int(std::lround(g(rng))), -127, 127));
  std::vector<uint32_t> assignment;
  const std::vector<int8_t> cent = kmeans_codes(codes, dim, P, 0x5eed, assignment, 1);
  for (int d = 0; d < dim; ++d) {
    std::set<int> values;
    for (size_t c = 0; c < P; ++c) values.insert(cent[c * dim + d]);
    CHECK(values.size() <= 16);
  }
  const L2Int8Fn fn = best_l2_int8();
  size_t nearest = 0;  // (balancing may move a few members; most keep their nearest centroid)
  for (size_t i = 0; i < n; ++i) {
    uint32_t best = 0;
    for (uint32_t c = 1; c < P; ++c)
      if (fn(codes.data() + i * dim, cent.data() + c * dim, dim) < fn(codes.data() + i * dim, cent.data() + best * dim, dim)) best = c;
    nearest += best == assignment[i];
  }
  CHECK(nearest > n * 9 / 10);

  PartitionLayout L;
  L.dim = dim;
  L.centroids = cent;
  L.counts.assign(P, uint32_t(n / P));
  L.shards.assign(P, PartFile{100, {}});
  L.fragment_tokens = 512;
  L.fragments.assign((n + 511) / 512, PartFile{100, {}});
  L.index_firsts();
  const auto four = L.serialize();
  CHECK(four[4] == 3);  // (version, little-endian u32 after the magic)
  const auto back = PartitionLayout::deserialize(four.data(), four.size(), dim, n, "partitions.bin");
  CHECK(back.centroids == cent);
  CHECK(back.serialize() == four);

  // Centroids with more than 16 values in a dimension keep int8 (version 2), exactly.
  L.centroids[0] = int8_t(L.centroids[0] == 100 ? 101 : 100);
  for (size_t c = 0; c < P; ++c) L.centroids[c * dim + 1] = int8_t(c);
  const auto eight = L.serialize();
  CHECK(eight[4] == 2);
  CHECK(eight.size() == four.size() + P * dim - (dim * 16 + (P * dim + 1) / 2));
  CHECK(PartitionLayout::deserialize(eight.data(), eight.size(), dim, n, "partitions.bin").centroids == L.centroids);

  // Levels out of order: refused, naming the file.
  auto bad = four;
  bad[28] = 127;  // (the first dimension's levels start after the 28-byte header)
  bad[29] = 0x80;
  CHECK_THROWS_WITH_AS(PartitionLayout::deserialize(bad.data(), bad.size(), dim, n, "partitions.bin"), doctest::Contains("partitions.bin"), Error);
}
