// Shared helpers for core_tests: image encoders (stb_image_write, compiled static in helpers.cpp),
// PNG chunk crafting, synthetic images, error capture and a small in-memory bundle.
#pragma once
#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "bundle.h"
#include "error.h"
#include "image.h"

namespace testutil {

using nftlens::Rgb;
using nftlens::RgbImage;

// Encoders (comp = channels of `px`: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
std::vector<uint8_t> encode_png(const uint8_t* px, int w, int h, int comp);
std::vector<uint8_t> encode_png(const RgbImage& img);
std::vector<uint8_t> encode_jpg(const RgbImage& img, int quality);
std::vector<uint8_t> encode_bmp(const RgbImage& img);

uint32_t crc32(const uint8_t* p, size_t n);
// PNG signature + IHDR (correct CRC) claiming w x h, 8-bit, `color_type`, then IEND.
std::vector<uint8_t> png_header_only(uint32_t w, uint32_t h, uint8_t color_type);

RgbImage solid(int w, int h, Rgb c);
// Random colour blocks of block x block pixels (distinct images for distinct seeds).
RgbImage random_blocks(int w, int h, int block, uint32_t seed);
// Surround with uniform margins of colour c.
RgbImage pad(const RgbImage& img, int left, int top, int right, int bottom, Rgb c);

bool contains(const std::string& haystack, const std::string& needle);

// Runs f and returns the message of the nftlens::Error it throws; "<no error>" if it returns,
// "<other exception: ...>" for any other exception type.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const nftlens::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<other exception: ") + e.what() + ">";
  } catch (...) {
    return "<other exception>";
  }
  return "<no error>";
}

// models/mnv2-b13-576.card.json, verbatim.
extern const char* const kMnv2Card;

// Two collections ("alpha", "beta") of `per_collection` tokens made from random_blocks images,
// colour-layout-only recipe (use_model=false, identity projection), HNSW index, catalogue,
// manifest. Token t has image images[t] and index entry t.
struct TestBundle {
  nftlens::ModelCard card;
  nftlens::Recipe recipe;
  nftlens::Catalogue catalogue;
  std::vector<RgbImage> images;
  std::map<std::string, std::vector<uint8_t>> files;  // role -> bytes (model, recipe, index, catalogue)
  std::vector<nftlens::FileEntry> entries;
  std::string manifest_json;
};
TestBundle make_test_bundle(int per_collection);

}  // namespace testutil
