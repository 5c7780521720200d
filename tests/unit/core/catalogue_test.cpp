#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "catalogue.h"
#include "helpers.h"

using namespace nftlens;
using nlohmann::json;
using testutil::contains;
using testutil::error_of;

namespace {
Token token(uint32_t collection, const std::string& id, std::vector<std::pair<uint32_t, uint32_t>> traits) {
  Token t;
  t.collection = collection;
  t.token_id = id;
  t.name = "#" + id;
  t.traits = std::move(traits);
  return t;
}
}  // namespace

TEST_CASE("catalogue: intern stores each string once") {
  Catalogue c;
  CHECK(c.intern("") == 0);
  const uint32_t a = c.intern("a"), b = c.intern("b");
  CHECK(a == 1);
  CHECK(b == 2);
  CHECK(c.intern("a") == 1);
  CHECK(c.strings.size() == 3);
}

TEST_CASE("catalogue: rarity = sum over trait types of 1/frequency, ranked per collection") {
  Catalogue c;
  c.collections.resize(3);
  const uint32_t hat = c.intern("Hat"), eyes = c.intern("Eyes");
  const uint32_t red = c.intern("red"), blue = c.intern("blue"), x = c.intern("x"), y = c.intern("y");
  // Collection 0 (4 tokens): Hat red/red/blue/missing, Eyes x/x/x/y. Collection 1 interleaved.
  c.tokens.push_back(token(0, "a0", {{hat, red}, {eyes, x}}));
  c.tokens.push_back(token(1, "b0", {{hat, red}}));
  c.tokens.push_back(token(0, "a1", {{eyes, x}, {hat, red}}));
  c.tokens.push_back(token(0, "a2", {{hat, blue}, {eyes, x}}));
  c.tokens.push_back(token(1, "b1", {{hat, blue}}));
  c.tokens.push_back(token(0, "a3", {{eyes, y}}));
  c.tokens.push_back(token(1, "b2", {{hat, blue}}));
  c.compute_rarity();
  // 1/frequency = n/count: Hat red 4/2, blue 4/1, none 4/1; Eyes x 4/3, y 4/1.
  CHECK(c.tokens[0].rarity_score == doctest::Approx(2.0 + 4.0 / 3));
  CHECK(c.tokens[2].rarity_score == doctest::Approx(2.0 + 4.0 / 3));
  CHECK(c.tokens[3].rarity_score == doctest::Approx(4.0 + 4.0 / 3));
  CHECK(c.tokens[5].rarity_score == doctest::Approx(4.0 + 4.0));
  CHECK(c.tokens[5].rarity_rank == 1);
  CHECK(c.tokens[3].rarity_rank == 2);
  CHECK(c.tokens[0].rarity_rank == 3);  // ties keep catalogue order
  CHECK(c.tokens[2].rarity_rank == 4);
  CHECK(c.collections[0].token_count == 4);
  // Collection 1 is ranked on its own: Hat red 3/1, blue 3/2.
  CHECK(c.tokens[1].rarity_score == doctest::Approx(3.0));
  CHECK(c.tokens[4].rarity_score == doctest::Approx(1.5));
  CHECK(c.tokens[6].rarity_score == doctest::Approx(1.5));
  CHECK(c.tokens[1].rarity_rank == 1);
  CHECK(c.tokens[4].rarity_rank == 2);
  CHECK(c.tokens[6].rarity_rank == 3);
  CHECK(c.collections[1].token_count == 3);
  CHECK(c.collections[2].token_count == 0);  // empty collection untouched

  const json stats = json::parse(c.trait_stats_json(0));
  CHECK(stats["Hat"]["red"] == 2);
  CHECK(stats["Eyes"]["y"] == 1);
  CHECK(json::parse(c.trait_stats_json(-1))["Hat"]["blue"] == 3);
}

TEST_CASE("catalogue: safe_http_url keeps only plain absolute http(s) links") {
  CHECK(safe_http_url("https://example.com/a?b=1#c") == "https://example.com/a?b=1#c");
  CHECK(safe_http_url("http://example.com") == "http://example.com");
  CHECK(safe_http_url("HTTPS://EXAMPLE.COM/X") == "HTTPS://EXAMPLE.COM/X");
  for (const char* bad : {"javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>",
                          "data:image/png;base64,AAAA", "vbscript:x", "ftp://example.com/", "//evil.example/x", "/relative",
                          "https://", "http:/x", " https://example.com", "https://example.com/\nSet-Cookie:x",
                          "https://example.com/\t", "https://example.com/\x7f", "https://example.com/\"onmouseover=\"x",
                          "https://example.com/<script>", "https://exa mple.com", "https://example.com\\@evil", ""})
    CHECK_MESSAGE(safe_http_url(bad) == "", bad);
  CHECK(safe_http_url(std::string("https://example.com/\0x", 22)) == "");
}

TEST_CASE("catalogue: fill_link_template") {
  Collection c;
  c.chain = "ethereum";
  c.contract = "0xabc";
  c.link_template = "https://opensea.io/assets/{chain}/{contract}/{token_id}";
  CHECK(fill_link_template(c, "42") == "https://opensea.io/assets/ethereum/0xabc/42");
  CHECK(fill_link_template(c, "../../x?y=<z>&w") == "https://opensea.io/assets/ethereum/0xabc/....xyzw");  // only URL-safe characters
  c.link_template = "https://x.example/{token_id}/{token_id}";
  CHECK(fill_link_template(c, "a-b_c.d") == "https://x.example/a-b_c.d/a-b_c.d");
  c.link_template = "javascript:alert('{token_id}')";
  CHECK(fill_link_template(c, "1") == "");
  c.link_template = "";
  CHECK(fill_link_template(c, "1") == "");
}

TEST_CASE("catalogue: token_json is safe JSON for hostile metadata") {
  Catalogue c;
  c.collections.push_back(Collection{"evil", "Evil <b>co</b>", "", "ethereum", "0x1", "https://example.com/{token_id}", 0});
  Token t = token(0, "7", {{c.intern("Hat</script>"), c.intern("\"quoted\"")}});
  t.name = "<img src=x onerror=alert(1)>";
  t.description = c.intern("bad utf-8: \xff\xfe and \xc3( end");
  t.external_url = "javascript:alert(1)";
  t.image = "https://example.com/7.png";
  c.tokens.push_back(t);
  c.entry_token = {0};
  c.compute_rarity();

  std::string s;
  REQUIRE(error_of([&] { s = c.token_json(0, 0.75); }) == "<no error>");
  const json j = json::parse(s);
  CHECK(j["name"] == "<img src=x onerror=alert(1)>");  // a plain string: escaping is the renderer's job
  CHECK(j["collection"] == "evil");
  CHECK(j["collection_name"] == "Evil <b>co</b>");
  CHECK(j["token_id"] == "7");
  CHECK(j["external_url"] == "");
  CHECK(j["link"] == "https://example.com/7");
  CHECK(j["image"] == "https://example.com/7.png");
  CHECK(j["score"].get<double>() == doctest::Approx(0.75));
  CHECK(j["attributes"][0]["trait_type"] == "Hat</script>");
  CHECK(j["attributes"][0]["value"] == "\"quoted\"");
  CHECK(j["rarity_rank"] == 1);
  CHECK(j["collection_size"] == 1);
  const std::string d = j["description"];
  CHECK(contains(d, "\xef\xbf\xbd"));  // U+FFFD replaced the invalid bytes
  CHECK(contains(d, " end"));
  CHECK(contains(d, "bad utf-8: "));
  CHECK_FALSE(contains(d, "\xff"));
  CHECK(json::parse(c.collections_json())[0]["name"] == "Evil <b>co</b>");
}

TEST_CASE("catalogue: token_json without a score has no score field") {
  Catalogue c;
  c.collections.push_back(Collection{"c", "C", "", "", "", "", 0});
  c.tokens.push_back(token(0, "1", {}));
  CHECK_FALSE(json::parse(c.token_json(0)).contains("score"));
  CHECK(json::parse(c.token_json(0, 0.0))["score"] == 0.0);
  CHECK(json::parse(c.token_json(0, -0.5))["score"] == -0.5);
  CHECK_THROWS_AS(c.token_json(5), std::out_of_range);
}

TEST_CASE("catalogue: validate catches dangling references") {
  Catalogue c;
  c.collections.push_back(Collection{"c", "C", "", "", "", "", 0});
  c.tokens.push_back(token(0, "1", {{c.intern("k"), c.intern("v")}}));
  c.entry_token = {0, 0};
  CHECK(error_of([&] { c.validate(2, "cat.bin"); }) == "<no error>");
  CHECK(contains(error_of([&] { c.validate(3, "cat.bin"); }), "cat.bin: catalogue maps 2 index entries, the index has 3"));
  Catalogue d = c;
  d.entry_token[1] = 1;
  CHECK(contains(error_of([&] { d.validate(2, "cat.bin"); }), "missing token"));
  d = c;
  d.tokens[0].collection = 1;
  CHECK(contains(error_of([&] { d.validate(2, "cat.bin"); }), "missing collection"));
  d = c;
  d.tokens[0].traits[0].second = 99;
  CHECK(contains(error_of([&] { d.validate(2, "cat.bin"); }), "bad trait reference"));
  d = c;
  d.tokens[0].description = 99;
  CHECK(contains(error_of([&] { d.validate(2, "cat.bin"); }), "bad description reference"));
  d = c;
  d.strings.clear();
  CHECK(contains(error_of([&] { d.validate(2, "cat.bin"); }), "string table is empty"));
}

TEST_CASE("catalogue: intern after strings were edited directly keeps the first of equal strings") {
  Catalogue c;
  c.strings = {"", "x", "y", "x"};
  CHECK(c.intern("x") == 1);
  CHECK(c.intern("y") == 2);
  CHECK(c.intern("z") == 4);
  c.strings.push_back("w");  // edited again: re-indexed
  CHECK(c.intern("w") == 5);
  CHECK(c.intern("z") == 4);
}
