// Build-time calibration of the verdict (shared/verdict.h): fits the model that turns a query's
// evidence into "this token" / "this collection" / "nothing known" on the bundle just written.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "image.h"

namespace nftlens {

struct CalibrationToken {
  uint32_t collection = 0;  // index in the catalogue's collections
  std::string token_id, image_path;
};

// Runs synthetic copies and original images of `sample` (with and without their own token in the
// search) and synthetic unrelated images through the bundle at `dir`, exactly as `nftlens query`
// would, fits the verdict model and writes it into the bundle's manifest.json (atomically).
// Returns the number of examples used.
size_t calibrate_verdict(const std::filesystem::path& dir, const std::vector<CalibrationToken>& sample, int threads, bool quiet);

// A synthetic image unrelated to any collection (gradients, shapes, noise), the same for a seed.
RgbImage unrelated_image(uint64_t seed);

}  // namespace nftlens
