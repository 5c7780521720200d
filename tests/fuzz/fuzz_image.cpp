// libFuzzer target: image bytes -> decode_image (small pixel budget) -> the preprocessing every
// query and database image goes through (model input tensor, margin trimming, colour layouts,
// crop/mirror). Only nftlens::Error may escape the core; anything else (another exception type,
// a sanitizer report, a leak, a timeout, an allocation over -rss_limit_mb) is a finding.
#include <cstddef>
#include <cstdint>

#include "descriptor.h"
#include "error.h"
#include "image.h"
#include "model_card.h"

using namespace nftlens;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ImageLimits limits;
  limits.max_pixels = 1u << 18;         // 512x512: keeps each run well under the 5 s timeout with
                                        // ASan + UBSan + coverage (large images: tests/hostile)
  limits.max_encoded_bytes = 1u << 20;
  RgbImage img;
  try {
    img = decode_image(data, size, Rgb{255, 255, 255}, limits);
  } catch (const Error&) {
    return 0;  // a clear refusal is the expected outcome for most inputs
  }
  if (img.width <= 0 || img.height <= 0 || img.rgb.size() != size_t(img.width) * img.height * 3) __builtin_trap();
  if (uint64_t(img.width) * uint64_t(img.height) > limits.max_pixels) __builtin_trap();  // budget ignored
  ModelCard card;
  card.width = card.height = 32;
  card.layout = (size & 1) ? "NCHW" : "NHWC";
  card.color = (size & 2) ? "BGR" : "RGB";
  const Box whole{0, 0, img.width, img.height};
  (void)make_input_tensor(card, img, whole);
  const Box content = find_content_box(img, {Rgb{255, 255, 255}});
  if (content.x < 0 || content.y < 0 || content.w <= 0 || content.h <= 0 || content.x + content.w > img.width ||
      content.y + content.h > img.height)
    __builtin_trap();
  (void)color_layout(img, content, 8, false);
  (void)color_layout(img, whole, 4, true);
  (void)make_input_tensor(card, img, content);
  if (size_t(img.width) * img.height <= 65536) {
    (void)mirror(img);
    (void)crop(img, content);
  }
  return 0;
}
