// Re-ranking by alignment (shared/align.h): finding a thumbnail inside crops, screenshots and
// mirrored copies, preferring the true token over a sibling that differs in one part, and the
// thumbnail path rule that keeps hosts inside the bundle folder.
#include <doctest/doctest.h>

#include <cmath>

#include "align.h"
#include "helpers.h"

using namespace nftlens;

namespace {

RgbImage thumb_of(const RgbImage& img) {  // the bundle's 96 px thumbnail, by box averaging
  RgbImage t{96, 96, std::vector<uint8_t>(96 * 96 * 3)};
  const int f = img.width / 96;
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 96; ++x)
      for (int c = 0; c < 3; ++c) {
        int s = 0;
        for (int dy = 0; dy < f; ++dy)
          for (int dx = 0; dx < f; ++dx) s += img.at(x * f + dx, y * f + dy)[c];
        t.rgb[(size_t(y) * 96 + x) * 3 + c] = uint8_t(s / (f * f));
      }
  return t;
}

// The same picture with one 48x48 block recoloured: a sibling token.
RgbImage sibling_of(const RgbImage& img, int bx, int by) {
  RgbImage s = img;
  for (int y = by; y < by + 48; ++y)
    for (int x = bx; x < bx + 48; ++x) {
      uint8_t* p = &s.rgb[(size_t(y) * s.width + x) * 3];
      p[0] = uint8_t(255 - p[0]); p[1] = uint8_t(p[1] / 2); p[2] = uint8_t(255 - p[2]);
    }
  return s;
}

// img turned by `deg` degrees about its centre (nearest pixel), corners filled with a page grey.
RgbImage rotated(const RgbImage& img, double deg) {
  RgbImage out = img;
  const double a = deg * 3.14159265358979 / 180, c = std::cos(a), s = std::sin(a);
  const double cx = img.width / 2.0, cy = img.height / 2.0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      const int sx = int(std::floor(cx + c * dx + s * dy)), sy = int(std::floor(cy - s * dx + c * dy));
      uint8_t* p = &out.rgb[(size_t(y) * img.width + x) * 3];
      if (sx < 0 || sy < 0 || sx >= img.width || sy >= img.height) { p[0] = p[1] = p[2] = 230; continue; }
      for (int k = 0; k < 3; ++k) p[k] = img.at(sx, sy)[k];
    }
  return out;
}

}  // namespace

TEST_CASE("align: a crop is located and the true token outscores its sibling") {
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 11);
  const RgbImage sib = sibling_of(orig, 144, 96);  // the changed part lies inside the crop
  const RgbImage query = crop(orig, Box{40, 30, 200, 180});
  const AlignQuery q(query);
  const AlignGeometry g = q.locate(thumb_of(orig));
  MESSAGE("crop: x0 " << g.x0 << " y0 " << g.y0 << " w " << g.w << " h " << g.h << " score " << g.score);
  CHECK_FALSE(g.flip);
  // The whole 288 px original is about 288 query pixels wide, starting 40 px left of the crop.
  CHECK(g.w == doctest::Approx(288).epsilon(0.05));
  CHECK(g.h == doctest::Approx(288).epsilon(0.05));
  CHECK(std::fabs(g.x0 + 40) < 12);
  CHECK(std::fabs(g.y0 + 30) < 12);
  const float right = q.score(g, thumb_of(orig)), wrong = q.score(g, thumb_of(sib));
  MESSAGE("true " << right << ", sibling " << wrong);
  CHECK(right > 0.9f);
  CHECK(right > wrong + 0.05f);
}

TEST_CASE("align: a screenshot (margins around a smaller copy) and a mirrored copy") {
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 12);
  const RgbImage shot = testutil::pad(orig, 60, 20, 40, 90, Rgb{240, 240, 245});
  const AlignGeometry g = AlignQuery(shot).locate(thumb_of(orig));
  CHECK_FALSE(g.flip);
  CHECK(std::fabs(g.x0 - 60 * 256.0 / 388) < 8);  // (the query is scaled to 256 px on its long side)
  CHECK(g.w == doctest::Approx(288 * 256.0 / 388).epsilon(0.05));
  CHECK(g.score > 0.9f);

  const AlignGeometry m = AlignQuery(mirror(orig)).locate(thumb_of(orig));
  CHECK(m.flip);
  CHECK(m.score > 0.9f);
}

TEST_CASE("rerank_by_alignment puts the aligned token first; missing thumbnails sink") {
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 13);
  const RgbImage sib = sibling_of(orig, 48, 48);
  const RgbImage query = crop(orig, Box{20, 20, 230, 240});
  // The global descriptor ranked the sibling first; the true token second; a third without thumbnail.
  std::vector<TokenHit> hits = {{7, 0.91f}, {3, 0.90f}, {9, 0.95f}, {4, 0.5f}};
  std::vector<RgbImage> thumbs = {thumb_of(sib), thumb_of(orig), RgbImage{}};
  REQUIRE(rerank_by_alignment(hits, query, thumbs));
  CHECK(hits[0].token == 3);
  CHECK(hits[1].token == 7);
  CHECK(hits[2].token == 9);   // no thumbnail: alignment -1, last of the re-ranked three
  CHECK(hits[3].token == 4);   // beyond the re-ranked head: untouched
  CHECK(hits[3].alignment == TokenHit::kNotAligned);
  CHECK(hits[0].alignment > hits[1].alignment);

  std::vector<TokenHit> none = {{1, 0.9f}, {2, 0.8f}};
  CHECK_FALSE(rerank_by_alignment(none, query, {RgbImage{}, thumb_of(orig)}));  // no first thumbnail: unchanged
  CHECK(none[0].token == 1);
  CHECK_FALSE(rerank_by_alignment(none, RgbImage{}, {thumb_of(orig)}));          // empty query: unchanged
}


// Part scores (bundles with part codes) count where they tell more than the whole-image cosine:
// the zoom windows' for a query placed as a zoom on a detail, nothing for a plain copy (and the
// grid's only with an occluder, which these clean queries have not).
TEST_CASE("rerank_by_alignment weighs the zoom part score for a zoom on a detail, not for a plain copy") {
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 17);
  RgbImage detail{240, 240, std::vector<uint8_t>(240 * 240 * 3)};  // 40% of each side from (96, 72), at 2x
  for (int y = 0; y < 240; ++y)
    for (int x = 0; x < 240; ++x)
      for (int ch = 0; ch < 3; ++ch) detail.rgb[(size_t(y) * 240 + x) * 3 + ch] = orig.at(96 + x * 115 / 240, 72 + y * 115 / 240)[ch];
  const RgbImage plain = crop(orig, Box{10, 10, 270, 270});
  // Two hits with the same thumbnail (their alignment ties): the first has the better cosine, the
  // second the better zoom score (and a better grid score, which must not count here).
  auto head = [] {
    std::vector<TokenHit> h = {{1, 0.60f}, {2, 0.50f}};
    h[0].zoom_score = 0.20f; h[0].grid_score = 0.1f;
    h[1].zoom_score = 0.90f; h[1].grid_score = 0.9f;
    return h;
  };
  const std::vector<RgbImage> thumbs = {thumb_of(orig), thumb_of(orig)};
  AlignGeometry placed;
  bool occluder = true;
  std::vector<TokenHit> hits = head();
  REQUIRE(rerank_by_alignment(hits, detail, thumbs, {}, kRerankCosineWeight, {}, &placed, &occluder));
  MESSAGE("detail placed " << placed.w << " px wide for a 240 px query");
  CHECK(placed.w > kPartZoom * 240);
  CHECK_FALSE(occluder);
  CHECK(hits[0].token == 2);
  CHECK(hits[0].part_score == doctest::Approx(0.9f));
  hits = head();
  REQUIRE(rerank_by_alignment(hits, plain, thumbs, {}, kRerankCosineWeight, {}, &placed, &occluder));
  CHECK(hits[0].token == 1);
  CHECK(hits[0].part_score == -1.0f);
  CHECK(hits[1].part_score == -1.0f);
}

// Where no placement fits well (and the query is no zoom), the alignment says little: with part
// codes the grid score leads; without them the order is alignment + cosine as before.
TEST_CASE("rerank_by_alignment lets the grid part score lead where nothing fits well") {
  const RgbImage query = testutil::random_blocks(288, 288, 24, 21);
  const RgbImage other = testutil::random_blocks(288, 288, 24, 22);  // nothing of the query's
  const std::vector<RgbImage> thumbs = {thumb_of(other), thumb_of(other)};  // (alignments tie)
  auto head = [](bool parts) {
    std::vector<TokenHit> h = {{1, 0.60f}, {2, 0.50f}};
    if (parts) {
      h[0].grid_score = 0.2f; h[0].zoom_score = 0.3f;
      h[1].grid_score = 0.9f; h[1].zoom_score = 0.3f;
    }
    return h;
  };
  AlignGeometry placed;
  std::vector<TokenHit> hits = head(true);
  REQUIRE(rerank_by_alignment(hits, query, thumbs, {}, kRerankCosineWeight, {}, &placed));
  MESSAGE("fit " << placed.score << ", placed " << placed.w << " px wide");
  REQUIRE(placed.score < kGoodFit);
  REQUIRE(placed.w <= kPartZoom * 288);
  CHECK(hits[0].token == 2);
  CHECK(hits[0].relevance == doctest::Approx((hits[0].alignment + kPoorFitPartWeight * 0.9f) / (1 + kPoorFitPartWeight)));
  CHECK(hits[0].relevance >= hits[1].relevance);
  hits = head(false);
  REQUIRE(rerank_by_alignment(hits, query, thumbs));
  CHECK(hits[0].token == 1);
  CHECK(hits[0].relevance == doctest::Approx((hits[0].alignment + kRerankCosineWeight * 0.6f) / (1 + kRerankCosineWeight)));
}

// make_template reads a thumbnail already n x n directly instead of resizing it: only exact if
// the resampler returns a same-size image unchanged, bit for bit (so the ranking is unchanged).
TEST_CASE("align: a same-size resize is the identity, so make_template may skip it") {
  for (int w : {96, 64, 95}) {
    const RgbImage img = testutil::random_blocks(w, w, 3, uint32_t(w));
    const std::vector<float> px = resize_to_float(img, w, w);
    size_t diffs = 0;
    for (size_t i = 0; i < px.size(); ++i) diffs += px[i] != img.rgb[i] * (1.0f / 255.0f);
    CHECK(diffs == 0);
    // and the template of the grid the thumbnail already has equals the resized one, mirrored too
    for (bool flip : {false, true}) {
      const std::vector<float> r = resize_to_float(flip ? mirror(img) : img, w, w);
      const AlignQuery::Template t = AlignQuery::make_template(img, w, 0, flip, false);
      REQUIRE(t.coarse.size() == r.size());
      size_t bad = 0;
      for (size_t i = 0; i < r.size(); ++i) bad += t.coarse[i] != double(r[i]) * 255.0;
      CHECK(bad == 0);
    }
  }
}

// The wide try resumes the narrow search of the same thumbnail: the same placement as a search
// from scratch, bit for bit.
TEST_CASE("align: locate resumed at a larger max_scale equals a search from scratch") {
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 7);
  const RgbImage thumb = thumb_of(orig);
  for (const Box& b : {Box{100, 90, 90, 100}, Box{20, 20, 250, 240}}) {
    const AlignQuery q(crop(orig, b));
    AlignOptions narrow;
    narrow.max_scale = 2.0;
    LocateState st;
    (void)q.locate(thumb, narrow, &st);
    const AlignGeometry resumed = q.locate(thumb, AlignOptions{}, &st);
    const AlignGeometry fresh = q.locate(thumb, AlignOptions{});
    CHECK(resumed.flip == fresh.flip);
    CHECK(resumed.x0 == fresh.x0);
    CHECK(resumed.y0 == fresh.y0);
    CHECK(resumed.w == fresh.w);
    CHECK(resumed.h == fresh.h);
    CHECK(resumed.score == fresh.score);
  }
}

TEST_CASE("rerank_by_alignment with a memo: a second re-ranking of a head sharing tokens places and ranks first as without it") {
  // A zoom on a detail that the first thumbnail (a sibling differing there) fits poorly, re-ranked
  // once, then again over a head with another token in place 2 (the part codes' second pass): with
  // the first pass's memo the second places the query and ranks the true token first exactly as a
  // fresh re-ranking. (Below the first hit, scores may differ: a zoom's placement on a token's own
  // thumbnail is kept from the first pass, refined there from that pass's shared placement.)
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 21);
  const RgbImage sib = sibling_of(orig, 180, 170), other = testutil::random_blocks(288, 288, 24, 22);
  const RgbImage query = crop(orig, Box{150, 140, 110, 120});
  const std::vector<TokenHit> head1 = {{7, 0.91f}, {3, 0.90f}, {5, 0.80f}}, head2 = {{7, 0.91f}, {9, 0.85f}, {3, 0.90f}, {5, 0.80f}};
  const std::vector<RgbImage> th1 = {thumb_of(sib), thumb_of(orig), thumb_of(other)}, th2 = {thumb_of(sib), thumb_of(other), thumb_of(orig), thumb_of(other)};
  LocateMemo memo;
  std::vector<TokenHit> a = head1;
  AlignGeometry ga;
  REQUIRE(rerank_by_alignment(a, query, th1, {}, kRerankCosineWeight, {}, &ga, nullptr, &memo));
  CHECK(memo.narrow.count(7) == 1);
  CHECK(memo.narrow.count(3) == 1);  // (the sibling fit poorly: the true token's thumbnail was tried)
  std::vector<TokenHit> b = head2, fresh = head2;
  AlignGeometry gb, gf;
  REQUIRE(rerank_by_alignment(b, query, th2, {}, kRerankCosineWeight, {}, &gb, nullptr, &memo));
  REQUIRE(rerank_by_alignment(fresh, query, th2, {}, kRerankCosineWeight, {}, &gf));
  CHECK(memo.first_token == 7);
  CHECK(memo.own.count(3) == 1);
  REQUIRE(b.size() == fresh.size());
  CHECK(b[0].token == fresh[0].token);
  CHECK(b[0].alignment == fresh[0].alignment);
  CHECK(gb.x0 == gf.x0);
  CHECK(gb.w == gf.w);
  CHECK(gb.score == gf.score);
  CHECK(b[0].token == 3);
}

TEST_CASE("rerank_by_alignment places a zoom on each candidate's own thumbnail") {
  // A zoom on a detail of `orig` (40% of each side, at 2x). The first hit is a sibling drawn 12 px
  // lower and to the right, with a block recoloured inside the detail: the placement located on
  // its thumbnail is 12 px off for the true token, which is third. Placed on its own thumbnail, the
  // true token fits best and comes first.
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 31);
  RgbImage sib = orig;
  for (int y = 0; y < 288; ++y)
    for (int x = 0; x < 288; ++x)
      for (int c = 0; c < 3; ++c) sib.rgb[(size_t(y) * 288 + x) * 3 + c] = orig.at(std::max(0, x - 12), std::max(0, y - 12))[c];
  sib = sibling_of(sib, 150, 110);
  const RgbImage other = testutil::random_blocks(288, 288, 24, 32);
  RgbImage detail{240, 240, std::vector<uint8_t>(240 * 240 * 3)};
  for (int y = 0; y < 240; ++y)
    for (int x = 0; x < 240; ++x)
      for (int ch = 0; ch < 3; ++ch) detail.rgb[(size_t(y) * 240 + x) * 3 + ch] = orig.at(96 + x * 115 / 240, 72 + y * 115 / 240)[ch];
  std::vector<TokenHit> hits = {{1, 0.90f}, {2, 0.85f}, {3, 0.80f}};
  const std::vector<RgbImage> thumbs = {thumb_of(sib), thumb_of(other), thumb_of(orig)};
  AlignGeometry placed;
  LocateMemo memo;
  REQUIRE(rerank_by_alignment(hits, detail, thumbs, {}, kRerankCosineWeight, {}, &placed, nullptr, &memo));
  CHECK(placed.w > kPartZoom * 240);
  CHECK(hits[0].token == 3);
  CHECK(hits[0].alignment > 0.9f);
  CHECK(memo.own.count(3) == 1);
  CHECK(memo.own_searched.count(3) == 1);
  // At the shared placement (located on the sibling) the true token scores less.
  const AlignQuery q(detail);
  CHECK(q.score(placed, thumbs[2]) < hits[0].alignment);
  // Re-ranked again with the memo (the part codes' second pass over the same head), the own
  // searches already made are not repeated, and every hit scores as the first time.
  std::vector<TokenHit> again = {{1, 0.90f}, {2, 0.85f}, {3, 0.80f}};
  AlignGeometry placed2;
  REQUIRE(rerank_by_alignment(again, detail, thumbs, {}, kRerankCosineWeight, {}, &placed2, nullptr, &memo));
  for (size_t i = 0; i < hits.size(); ++i) {
    CHECK(again[i].token == hits[i].token);
    CHECK(again[i].alignment == hits[i].alignment);
  }
  CHECK(placed2.x0 == placed.x0);
  CHECK(placed2.w == placed.w);
  // Told that the query is no zoom (the part codes took it for a covered whole token), re-ranking
  // places it the same way but places no candidate on its own thumbnail.
  std::vector<TokenHit> whole = {{1, 0.90f}, {2, 0.85f}, {3, 0.80f}};
  AlignOptions no_zoom;
  no_zoom.zoom = false;
  LocateMemo memo3;
  AlignGeometry placed3;
  REQUIRE(rerank_by_alignment(whole, detail, thumbs, {}, kRerankCosineWeight, no_zoom, &placed3, nullptr, &memo3));
  CHECK(placed3.w == placed.w);
  CHECK(memo3.own.empty());
}

TEST_CASE("rerank_by_alignment turns the query back for a copy rotated by a few degrees") {
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 14);
  const RgbImage sib = sibling_of(orig, 144, 144);
  for (double deg : {-9.0, 6.0}) {
    CAPTURE(deg);
    const RgbImage query = rotated(orig, deg);
    // The axis-aligned placement alone fits poorly: pixel art turned by degrees misses every block edge.
    const float straight = AlignQuery(query).locate(thumb_of(orig)).score;
    std::vector<TokenHit> hits = {{7, 0.91f}, {3, 0.90f}};
    REQUIRE(rerank_by_alignment(hits, query, {thumb_of(sib), thumb_of(orig)}));
    MESSAGE("straight " << straight << ", turned " << hits[0].alignment << ", sibling " << hits[1].alignment);
    CHECK(straight < kTurnTry);
    CHECK(hits[0].token == 3);
    CHECK(hits[0].alignment > straight + 0.05f);
    CHECK(hits[0].alignment > hits[1].alignment + 0.05f);
    CHECK(hits[0].region_worst < hits[1].region_worst);  // the sibling's changed block stands out
  }
  // turned_score (which picks the turn) measures about what turning the whole query measures.
  const AlignQuery q(rotated(orig, 7.5));
  const AlignGeometry g = q.locate(thumb_of(orig));
  const std::vector<double> g96 = AlignQuery::make_template(thumb_of(orig), 0, 0, g.flip).g96;
  for (double sn : {-0.130526192220052, 0.0, 0.130526192220052}) {
    const double cs = std::sqrt(1 - sn * sn);
    const float whole = q.turned(g.x0 + g.w / 2, g.y0 + g.h / 2, cs, sn).score(g, thumb_of(orig));
    CHECK(q.turned_score(g, g96, cs, sn) == doctest::Approx(whole).epsilon(0.03));
  }
  std::vector<TokenHit> plain = {{7, 0.91f}, {3, 0.90f}};  // (not turned: fits well as it is)
  REQUIRE(rerank_by_alignment(plain, orig, {thumb_of(sib), thumb_of(orig)}));
  CHECK(plain[0].token == 3);
  CHECK(plain[0].alignment > 0.95f);
}

// A sticker's edge is soft (anti-aliased, then JPEG): its outermost cells differ from the token by
// less than the occlusion cut, yet no candidate explains them. The verdict's evidence leaves them
// out with the sticker (a one-cell rim), so the true token aligns as well as an unoccluded copy.
TEST_CASE("align: the verdict's evidence leaves out an occluder with its soft edge") {
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 21);
  RgbImage query = orig;
  const double cx = 110, cy = 120, r = 46, soft = 6;  // a disc, its edge blended over `soft` px
  for (int y = 0; y < query.height; ++y)
    for (int x = 0; x < query.width; ++x) {
      const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy), a = std::clamp((r + soft - d) / soft, 0.0, 1.0);
      uint8_t* p = &query.rgb[(size_t(y) * query.width + x) * 3];
      const uint8_t sticker[3] = {250, 210, 20};
      for (int c = 0; c < 3; ++c) p[c] = uint8_t(std::lround(a * sticker[c] + (1 - a) * p[c]));
    }
  const std::vector<RgbImage> thumbs = {thumb_of(orig), thumb_of(sibling_of(orig, 48, 192)), thumb_of(sibling_of(orig, 192, 48)),
                                        thumb_of(sibling_of(orig, 192, 192)), thumb_of(sibling_of(orig, 0, 96))};
  const AlignQuery q(query);
  const AlignGeometry g = q.locate(thumbs[0]);
  std::vector<float> evidence;
  std::vector<char> occluded;
  bool occluder = false;
  const std::vector<float> sc = q.scores(g, thumbs, kOcclusionConsensus, &evidence, &occluded, &occluder);
  REQUIRE(evidence.size() == thumbs.size());
  REQUIRE(occluded.size() == size_t(AlignQuery::kGrid) * AlignQuery::kGrid);
  MESSAGE("ranking " << sc[0] << ", evidence " << evidence[0] << " (siblings " << evidence[1] << ", " << evidence[2] << ", " << evidence[3] << ", " << evidence[4] << ")");
  CHECK(evidence[0] > 0.99f);
  for (size_t i = 1; i < thumbs.size(); ++i) CHECK(evidence[0] > evidence[i] + 0.02f);
  // the soft edge is left out (the disc at 96 / 288 of its size; its faintest outer cells, a few
  // per cent of the sticker's colour, may stay: without the rim 137 of 200 stayed)
  size_t edge = 0, missed = 0;
  for (int y = 0; y < AlignQuery::kGrid; ++y)
    for (int x = 0; x < AlignQuery::kGrid; ++x) {
      const double d = std::hypot((x + 0.5) * 3 - cx, (y + 0.5) * 3 - cy);
      if (d < r || d > r + soft) continue;
      ++edge;
      missed += !occluded[size_t(y) * AlignQuery::kGrid + x];
    }
  CHECK(edge > 50);
  CHECK(missed * 5 < edge);
}

TEST_CASE("region_difference: the colour shift tells a recoloured part from an edit's noise") {
  const RgbImage orig = testutil::random_blocks(288, 288, 24, 31);
  // An edited copy: noise on every pixel, the picture moved by a pixel.
  RgbImage noisy = orig;
  uint32_t state = 12345;
  for (int y = 0; y < 288; ++y)
    for (int x = 0; x < 288; ++x)
      for (int c = 0; c < 3; ++c) {
        state = state * 1664525u + 1013904223u;
        const int v = orig.at(std::min(287, x + 1), y)[c] + int(state >> 27) * 3 - 45;
        noisy.rgb[(size_t(y) * 288 + x) * 3 + c] = uint8_t(std::clamp(v, 0, 255));
      }
  // A sibling whose one part has another tone (as a skin or fur colour trait): one region of the
  // 4x4 grid, every colour in it warmer.
  RgbImage toned = orig;
  for (int y = 72; y < 144; ++y)
    for (int x = 72; x < 144; ++x) {
      uint8_t* p = &toned.rgb[(size_t(y) * 288 + x) * 3];
      p[0] = uint8_t(std::min(255, p[0] + 60)); p[1] = uint8_t(p[1] * 4 / 5); p[2] = uint8_t(p[2] / 2);
    }
  const RgbImage t = thumb_of(orig);
  auto difference = [&](const RgbImage& query) {
    const AlignQuery q(query);
    return q.region_difference(q.locate(t), t);
  };
  const RegionDifference copy = difference(noisy), sibling = difference(toned);
  MESSAGE("copy worst " << copy.worst << " shift " << copy.shift << "; sibling worst " << sibling.worst << " shift " << sibling.shift);
  REQUIRE(copy.shift >= 0);
  CHECK(copy.shift < 0.02f);
  CHECK(sibling.shift > 0.1f);
  CHECK(sibling.shift > 10 * copy.shift);
  CHECK(sibling.shift <= sibling.worst);  // (a block's mean difference never exceeds its mean squared one)
}
