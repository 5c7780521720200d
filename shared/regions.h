// Where the artwork sits inside a capture. People share tokens as round profile pictures and inside
// screenshots of social posts; the query pipeline describes (and aligns) those regions besides the
// whole image. Both finders look for a flat page colour around something compact, so they cost a
// few passes over a downscaled copy and decline (return nothing) on a plain token image.
#pragma once
#include <vector>

#include "image.h"

namespace nftlens {

// A disc in image pixels (round profile pictures); r == 0: none.
struct Circle {
  float cx = 0, cy = 0, r = 0;
  bool found() const { return r > 0; }
};

// A disc of art inside `within` whose outside is one flat colour (the page behind a round avatar):
// the four corners of `within` agree on that colour and the edge of the art fits a circle.
Circle find_circle(const RgbImage& img, const Box& within);

// The artwork of a post screenshot: a compact block (one connected part, mostly filled, neither a
// text line nor a bar) standing inside a flat page colour that covers much of the image and not
// touching the image's edge. Returns the whole image's box if there is none.
Box find_artwork_box(const RgbImage& img);

// The image with every pixel outside the disc replaced by the pixel just inside the rim on the same
// ray from the centre: a round picture's page gives way to the art's own edge colours.
RgbImage fill_outside_circle(const RgbImage& img, const Circle& c);

// The 4-connected parts of the set cells of a w x h row-major mask, in scan order of their first
// cell: bounding box (inclusive) and size; `label` gets each cell's part index (-1: unset cell).
struct GridPart {
  int x0, y0, x1, y1;
  size_t count;
};
std::vector<GridPart> connected_parts(const std::vector<char>& mask, int w, int h, std::vector<int>& label);

// Intersection over union of two boxes (0 when disjoint).
double box_iou(const Box& a, const Box& b);

}  // namespace nftlens
