#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "builder_test_util.h"
#include "collection.h"
#include "error.h"

using namespace nftlens;
using buildertest::TempDir;
using buildertest::write_text;
namespace fs = std::filesystem;

namespace {
std::string reason_for(const SourceCollection& c, const std::string& token) {
  for (auto& s : c.skipped)
    if (s.token == token) return s.reason;
  return "<not skipped>";
}
const SourceToken* find_token(const SourceCollection& c, const std::string& id) {
  for (auto& t : c.tokens)
    if (t.token_id == id) return &t;
  return nullptr;
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("collection: metadata/ folder with every way of finding an image") {
  TempDir tmp;
  const fs::path dir = tmp.path / "coll";
  write_text(dir / "collection.json",
             R"({"slug": "my-coll", "name": "My Coll", "chain": "ethereum", "contract": "0xabc",
                 "link_template": "https://opensea.io/assets/{chain}/{contract}/{token_id}"})");
  for (const char* img : {"images/1.png", "images/2.png", "images/8.png", "ipfs/QmCID/3.png", "ipfs/QmCID/sub/33.png"})
    write_text(dir / img, "not really an image");
  write_text(tmp.path / "outside.png", "secret");
  fs::create_symlink(tmp.path / "outside.png", dir / "images" / "link.png");
  const fs::path md = dir / "metadata";
  write_text(md / "1.json", R"({"name": "One", "image": "images/1.png", "description": "first",
    "external_url": "https://example.com/1", "attributes": [{"trait_type": "Hat", "value": "red"}, {"trait_type": "Level", "value": 5}, {}]})");
  write_text(md / "2", R"({"name": "Two"})");                                              // no extension, image by stem
  write_text(md / "3.json", R"({"image": "ipfs://QmCID/3.png"})");                         // local IPFS mirror
  write_text(md / "3b.json", R"({"token_id": "33", "image": "ipfs://ipfs/QmCID/sub/33.png"})");
  write_text(md / "4.json", R"({"image": "../outside.png"})");                             // escapes the folder
  write_text(md / "5.json", R"({"name": "broken", )");                                     // broken JSON
  write_text(md / "6.json", std::string(10000, '[') + std::string(10000, ']'));           // deeply nested
  write_text(md / "7.json", R"({"token_id": "1", "image": "images/2.png"})");              // duplicate id
  write_text(md / "8.json", R"({"image": "https://example.com/8.png"})");                  // remote, local copy
  write_text(md / "9.json", R"({"image": "https://example.com/9.png"})");                  // remote, no copy
  write_text(md / "10.json", R"({"image": "/etc/passwd"})");                               // absolute: stays inside
  write_text(md / "11.json", R"({"image": "images/link.png"})");                           // symlink out
  write_text(md / "12.json", R"({"image": "ipfs://QmMissing/x.png"})");
  write_text(md / "13.json", R"({"image": "ipfs://../../outside.png"})");
  write_text(md / "14.json", R"([1, 2, 3])");
  write_text(md / "15.json", R"({"id": 15, "image": "images/1.png", "traits": [{"trait_type": "Eyes", "value": "x"}]})");
  write_text(md / "16.json", R"({"attributes": "not a list"})");
  write_text(md / "README.txt", "ignored");
  fs::create_directories(md / "subdir.json");

  const SourceCollection c = load_collection(dir);
  CHECK(c.info.slug == "my-coll");
  CHECK(c.info.name == "My Coll");
  CHECK(c.info.contract == "0xabc");
  CHECK(c.info.link_template == "https://opensea.io/assets/{chain}/{contract}/{token_id}");
  CHECK(c.dir == fs::canonical(dir));

  std::vector<std::string> ids;
  for (auto& t : c.tokens) ids.push_back(t.token_id);
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{"1", "15", "2", "3", "33", "8"});
  const fs::path root = fs::canonical(dir);
  auto image_of = [&](const std::string& id) { const SourceToken* t = find_token(c, id); return t ? t->image_path : fs::path("<none>"); };
  CHECK(image_of("1") == root / "images/1.png");
  CHECK(image_of("2") == root / "images/2.png");
  CHECK(image_of("3") == root / "ipfs/QmCID/3.png");
  CHECK(image_of("33") == root / "ipfs/QmCID/sub/33.png");
  CHECK(image_of("8") == root / "images/8.png");
  CHECK(image_of("15") == root / "images/1.png");

  const SourceToken* one = find_token(c, "1");
  REQUIRE(one);
  CHECK(one->name == "One");
  CHECK(one->description == "first");
  CHECK(one->external_url == "https://example.com/1");
  CHECK(one->traits == std::vector<std::pair<std::string, std::string>>{{"Hat", "red"}, {"Level", "5"}});
  CHECK(has(one->source, "1.json"));
  CHECK(find_token(c, "15")->traits == std::vector<std::pair<std::string, std::string>>{{"Eyes", "x"}});

  CHECK(has(reason_for(c, "4"), "points outside the collection folder"));
  CHECK(has(reason_for(c, "5"), "not valid JSON"));
  CHECK(has(reason_for(c, "6"), "nested deeper"));
  CHECK(has(reason_for(c, "7"), "duplicate token id 1"));
  CHECK(has(reason_for(c, "9"), "remote and no local copy"));
  CHECK(has(reason_for(c, "10"), "is missing"));
  CHECK(has(reason_for(c, "11"), "points outside"));
  CHECK(has(reason_for(c, "12"), "not in the local IPFS mirror"));
  CHECK(has(reason_for(c, "13"), "not in the local IPFS mirror"));
  CHECK(has(reason_for(c, "14"), "not a JSON object"));
  CHECK(has(reason_for(c, "16"), "\"attributes\" is not a list"));
  CHECK(c.skipped.size() == 11);
  for (auto& s : c.skipped) {
    CHECK(s.collection == "my-coll");
    CHECK(has(s.reason, s.source));  // every reason names its metadata file
  }
}

TEST_CASE("collection: metadata.jsonl") {
  TempDir tmp;
  const fs::path dir = tmp.path / "coll_b";
  write_text(dir / "metadata.jsonl", "{\"name\": \"Zero\"}\n\n{\"name\": \"Two\"}\r\n{broken\n{\"token_id\": \"x9\", \"image\": \"images/0.png\"}\n");
  write_text(dir / "images/0.png", "x");
  write_text(dir / "images/2.jpg", "x");
  const SourceCollection c = load_collection(dir);
  CHECK(c.info.slug == "coll_b");  // from the folder name
  CHECK(c.info.name == "coll_b");
  REQUIRE(c.tokens.size() == 3);
  CHECK(c.tokens[0].token_id == "0");
  CHECK(c.tokens[0].name == "Zero");
  CHECK(c.tokens[0].image_path.filename() == "0.png");
  CHECK(c.tokens[1].token_id == "2");  // ids are 0-based line numbers
  CHECK(c.tokens[1].image_path.filename() == "2.jpg");
  CHECK(c.tokens[2].token_id == "x9");
  REQUIRE(c.skipped.size() == 1);
  CHECK(has(c.skipped[0].source, "metadata.jsonl:4"));
  CHECK(has(c.skipped[0].reason, "not valid JSON"));
}

TEST_CASE("collection: folder-level errors") {
  TempDir tmp;
  auto load_error = [](const fs::path& d) {
    try {
      load_collection(d);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  CHECK(has(load_error(tmp.path / "nope"), "not a collection folder"));
  const fs::path empty = tmp.path / "empty";
  fs::create_directories(empty);
  CHECK(has(load_error(empty), "no metadata/ folder or metadata.jsonl"));

  const fs::path d = tmp.path / "c";
  write_text(d / "metadata.jsonl", "{\"name\": \"a\"}\n");
  for (const char* slug : {"bad/slug", "../up", "has space", "dot.dot", "<script>", ""}) {
    write_text(d / "collection.json", std::string("{\"slug\": \"") + slug + "\"}");
    const std::string e = load_error(d);
    CHECK_MESSAGE(has(e, "letters, digits, - and _"), slug, " -> ", e);
  }
  write_text(d / "collection.json", R"({"slug": "Ok_slug-1"})");
  CHECK(load_error(d) == "<no error>");
  // The bundle readers refuse slugs over 200 characters (is_collection_slug): so does the builder.
  write_text(d / "collection.json", "{\"slug\": \"" + std::string(200, 'a') + "\"}");
  CHECK(load_error(d) == "<no error>");
  write_text(d / "collection.json", "{\"slug\": \"" + std::string(201, 'a') + "\"}");
  CHECK(has(load_error(d), "slug is 201 characters long (at most 200)"));
  write_text(d / "collection.json", R"({"slug": )");
  CHECK(has(load_error(d), "not a JSON object"));
  write_text(d / "collection.json", std::string(5000, '{'));
  CHECK(has(load_error(d), "nested deeper"));
}

TEST_CASE("collection: parse_token_metadata") {
  const SourceToken t = parse_token_metadata(R"({"id": 12, "name": "N", "image_url": "x.png"})", "fallback", "m.json");
  CHECK(t.token_id == "12");
  CHECK(t.image_ref == "x.png");
  CHECK(t.source == "m.json");
  CHECK(parse_token_metadata("{}", "fb", "m.json").token_id == "fb");
  CHECK(parse_token_metadata(R"({"name": ")" + std::string(10000, 'x') + "\"}", "a", "m.json").name.size() == 4096);
  CHECK_THROWS_WITH_AS(parse_token_metadata("{}", "", "m.json"), "m.json: token has no id", Error);
  CHECK_THROWS_WITH_AS(parse_token_metadata(R"({"attributes": [1]})", "a", "m.json"),
                       "m.json: an entry of \"attributes\" is not an object", Error);
  CHECK_THROWS_AS(parse_token_metadata(std::string(10000, '[') + std::string(10000, ']'), "a", "deep.json"), Error);
  // Brackets inside strings do not count as nesting.
  CHECK(parse_token_metadata(R"({"name": ")" + std::string(100, '[') + "\"}", "a", "m.json").name.size() == 100);
}
