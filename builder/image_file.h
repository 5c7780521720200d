// Native image decoding for the builder and CLI: the core's stb decoder, plus formats only the
// native side decodes itself (the browser uses the platform for these).
#pragma once
#include <cstdint>
#include <vector>

#include "image.h"

namespace nftlens {
RgbImage decode_any(const std::vector<uint8_t>& bytes, Rgb background);
}
