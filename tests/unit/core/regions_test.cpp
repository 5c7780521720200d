// Finding the artwork inside captures (shared/regions.h) and what the query pipeline and the
// re-ranking do with it: the disc of a round profile picture, the artwork of a post screenshot,
// neither on a plain token image; masked alignment; a zoom on a detail located as a sub-window.
#include <doctest/doctest.h>

#include <cmath>

#include "align.h"
#include "descriptor.h"
#include "helpers.h"
#include "regions.h"

using namespace nftlens;

namespace {

// A round profile picture: the art inside a disc of radius r at (cx, cy), the page colour outside.
RgbImage disc_of(const RgbImage& art, float cx, float cy, float r, Rgb page) {
  RgbImage out = art;
  for (int y = 0; y < art.height; ++y)
    for (int x = 0; x < art.width; ++x)
      if (std::hypot(x + 0.5f - cx, y + 0.5f - cy) > r) {
        uint8_t* p = &out.rgb[(size_t(y) * out.width + x) * 3];
        p[0] = page[0]; p[1] = page[1]; p[2] = page[2];
      }
  return out;
}

void paint(RgbImage& img, const Box& b, Rgb c) {
  for (int y = b.y; y < b.y + b.h; ++y)
    for (int x = b.x; x < b.x + b.w; ++x) {
      uint8_t* p = &img.rgb[(size_t(y) * img.width + x) * 3];
      p[0] = c[0]; p[1] = c[1]; p[2] = c[2];
    }
}

void paste(RgbImage& dst, const RgbImage& src, int x0, int y0) {
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x)
      for (int c = 0; c < 3; ++c) dst.rgb[(size_t(y + y0) * dst.width + x + x0) * 3 + c] = src.at(x, y)[c];
}

// A phone screenshot of a post: header bar across the top, avatar, name and text lines, the
// artwork, action icons below, on a white page.
RgbImage post_with(const RgbImage& art, int ax, int ay) {
  RgbImage page = testutil::solid(540, 675, Rgb{255, 255, 255});
  paint(page, Box{0, 0, 540, 55}, Rgb{242, 242, 242});                                  // header bar (touches the edge)
  paint(page, Box{20, 75, 36, 36}, Rgb{29, 155, 240});                                   // avatar
  paint(page, Box{68, 80, 150, 10}, Rgb{15, 20, 25});                                    // user name
  for (int i = 0; i < 3; ++i) paint(page, Box{68, 130 + 26 * i, 380 - 40 * i, 9}, Rgb{15, 20, 25});  // text lines
  paste(page, art, ax, ay);
  for (int i = 0; i < 4; ++i) paint(page, Box{70 + 110 * i, ay + art.height + 20, 16, 16}, Rgb{139, 152, 165});  // buttons
  return page;
}

}  // namespace

TEST_CASE("regions: the disc of a round profile picture is found; a plain token has none") {
  const RgbImage art = testutil::random_blocks(300, 300, 20, 5);
  const RgbImage pfp = disc_of(art, 154, 147, 141, Rgb{18, 18, 18});
  const Circle c = find_circle(pfp, Box{0, 0, pfp.width, pfp.height});
  REQUIRE(c.found());
  MESSAGE("disc at " << c.cx << "," << c.cy << " r " << c.r);
  CHECK(std::fabs(c.cx - 154) < 4);
  CHECK(std::fabs(c.cy - 147) < 4);
  CHECK(std::fabs(c.r - 141) < 4);
  CHECK_FALSE(find_circle(art, Box{0, 0, art.width, art.height}).found());
  CHECK_FALSE(find_circle(testutil::solid(100, 100, Rgb{255, 255, 255}), Box{0, 0, 100, 100}).found());
  CHECK_FALSE(find_circle(pfp, Box{0, 0, 20, 20}).found());  // too small to tell
}

TEST_CASE("regions: the artwork of a post screenshot is found; a plain token or a margin-only screenshot keeps the whole image") {
  const RgbImage art = testutil::random_blocks(240, 240, 16, 9);
  const RgbImage post = post_with(art, 150, 230);
  const Box b = find_artwork_box(post);
  MESSAGE("artwork box " << b.x << "," << b.y << " " << b.w << "x" << b.h);
  CHECK(box_iou(b, Box{150, 230, 240, 240}) > 0.9);
  const Box whole{0, 0, art.width, art.height};
  CHECK(find_artwork_box(art) == whole);
  // Art filling most of a padded screenshot is left to the margin trimmer (too large for an artwork box).
  const RgbImage padded = testutil::pad(art, 12, 12, 12, 12, Rgb{255, 255, 255});
  CHECK(find_artwork_box(padded) == Box{0, 0, padded.width, padded.height});
  CHECK(box_iou(Box{0, 0, 10, 10}, Box{20, 20, 5, 5}) == 0.0);
  CHECK(box_iou(Box{0, 0, 10, 10}, Box{0, 0, 10, 10}) == doctest::Approx(1.0));
}

TEST_CASE("plan_query: a post gets a view of its artwork (within the run budget); a pfp's views carry the disc") {
  Recipe r;
  const RgbImage art = testutil::random_blocks(240, 240, 16, 9);
  const ImagePlan post = plan_query(r, post_with(art, 150, 230));
  CHECK(post.model_boxes.size() <= kMaxQueryRuns);
  bool has_art = false;
  for (const View& v : post.views) has_art |= box_iou(v.box, Box{150, 230, 240, 240}) > 0.9;
  CHECK(has_art);
  const ImagePlan plain = plan_query(r, art);
  CHECK(plain.model_boxes.size() == 1);
  for (const View& v : plain.views) CHECK_FALSE(v.circle.found());
  const ImagePlan pfp = plan_query(r, disc_of(art, 120, 120, 115, Rgb{255, 255, 255}));
  CHECK(pfp.views[0].circle.found());
  // ...and one more run of the whole image with the page filled from the rim (mirrored too).
  REQUIRE(pfp.model_boxes.size() >= 2);  // (the page's margins around the disc may also be trimmed)
  CHECK(pfp.model_boxes.size() <= kMaxQueryRuns);
  CHECK(pfp.model_filled.size() == pfp.model_boxes.size());
  CHECK(pfp.model_filled.back() == 1);
  CHECK(pfp.model_boxes.back() == Box{0, 0, 240, 240});
  CHECK(pfp.fill.found());
  size_t filled_views = 0;
  for (const View& v : pfp.views) filled_views += v.filled && v.model_run == int(pfp.model_boxes.size() - 1);
  CHECK(filled_views == 2);
}

TEST_CASE("fill_outside_circle: the page outside a disc takes the colour just inside its rim") {
  // Left half red, right half blue, inside a disc on a white page.
  RgbImage art = testutil::solid(200, 200, Rgb{220, 30, 30});
  paint(art, Box{100, 0, 100, 200}, Rgb{30, 30, 220});
  const RgbImage pfp = disc_of(art, 100, 100, 90, Rgb{255, 255, 255});
  const RgbImage f = fill_outside_circle(pfp, Circle{100, 100, 90});
  CHECK(f.at(2, 2)[0] == 220);     // top-left corner: red, like the disc's left rim
  CHECK(f.at(197, 197)[2] == 220); // bottom-right: blue
  CHECK(f.at(100, 100)[0] == pfp.at(100, 100)[0]);  // inside: untouched
  const RgbImage same = fill_outside_circle(pfp, Circle{});
  CHECK(same.rgb == pfp.rgb);
}

TEST_CASE("align: a round picture scores higher with its disc masked; a zoom on a detail is located as a sub-window") {
  const RgbImage art = testutil::random_blocks(288, 288, 24, 13);
  RgbImage thumb{96, 96, std::vector<uint8_t>(96 * 96 * 3)};
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 96; ++x)
      for (int c = 0; c < 3; ++c) {
        int s = 0;
        for (int dy = 0; dy < 3; ++dy)
          for (int dx = 0; dx < 3; ++dx) s += art.at(x * 3 + dx, y * 3 + dy)[c];
        thumb.rgb[(size_t(y) * 96 + x) * 3 + c] = uint8_t(s / 9);
      }
  const RgbImage pfp = disc_of(art, 144, 144, 130, Rgb{255, 255, 255});
  const Circle c = find_circle(pfp, Box{0, 0, 288, 288});
  REQUIRE(c.found());
  const AlignQuery plain(pfp), masked(pfp, c);
  const float s_plain = plain.score(plain.locate(thumb), thumb), s_masked = masked.score(masked.locate(thumb), thumb);
  MESSAGE("pfp: plain " << s_plain << ", masked " << s_masked);
  CHECK(s_masked > s_plain);
  CHECK(s_masked > 0.9f);

  // Keep 40% of each side, from (120, 60), upscaled 2x: the whole token is 2.5x the query.
  RgbImage detail{230, 230, std::vector<uint8_t>(230 * 230 * 3)};
  for (int y = 0; y < 230; ++y)
    for (int x = 0; x < 230; ++x)
      for (int ch = 0; ch < 3; ++ch) detail.rgb[(size_t(y) * 230 + x) * 3 + ch] = art.at(120 + x * 115 / 230, 60 + y * 115 / 230)[ch];
  const AlignQuery zq(detail);
  const AlignGeometry g = zq.locate(thumb);  // default max_scale 3 reaches it
  MESSAGE("detail: x0 " << g.x0 << " y0 " << g.y0 << " w " << g.w << " score " << g.score);
  CHECK(g.w == doctest::Approx(576).epsilon(0.08));
  CHECK(std::fabs(g.x0 + 240) < 25);
  CHECK(std::fabs(g.y0 + 120) < 25);
  CHECK(zq.score(g, thumb) > 0.8f);
}
