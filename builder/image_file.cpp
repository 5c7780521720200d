#include "image_file.h"

#include "error.h"

namespace nftlens {

RgbImage decode_any(const std::vector<uint8_t>& bytes, Rgb background) {
  return decode_image(bytes.data(), bytes.size(), background);
}

}  // namespace nftlens
