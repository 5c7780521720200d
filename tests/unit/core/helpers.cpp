#include "helpers.h"

#include <algorithm>
#include <random>
#include <stdexcept>

#include "code_index.h"
#include "descriptor.h"
#include "sha256.h"

// The test binary's own stb_image_write: static, so it cannot clash with the copy that
// shared/augment.cpp compiles into nftlens_learn.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

namespace testutil {
namespace {
void sink(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}
void put32be(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}
void png_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put32be(out, uint32_t(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  out.insert(out.end(), body.begin(), body.end());
  put32be(out, crc32(body.data(), body.size()));
}
}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* px, int w, int h, int comp) {
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(sink, &out, w, h, comp, px, w * comp)) throw std::runtime_error("png encode failed");
  return out;
}
std::vector<uint8_t> encode_png(const RgbImage& img) { return encode_png(img.rgb.data(), img.width, img.height, 3); }

std::vector<uint8_t> encode_jpg(const RgbImage& img, int quality) {
  std::vector<uint8_t> out;
  if (!stbi_write_jpg_to_func(sink, &out, img.width, img.height, 3, img.rgb.data(), quality))
    throw std::runtime_error("jpeg encode failed");
  return out;
}

std::vector<uint8_t> encode_bmp(const RgbImage& img) {
  std::vector<uint8_t> out;
  if (!stbi_write_bmp_to_func(sink, &out, img.width, img.height, 3, img.rgb.data())) throw std::runtime_error("bmp encode failed");
  return out;
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::vector<uint8_t> png_header_only(uint32_t w, uint32_t h, uint8_t color_type) {
  std::vector<uint8_t> out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put32be(ihdr, w);
  put32be(ihdr, h);
  ihdr.insert(ihdr.end(), {8, color_type, 0, 0, 0});  // depth, colour type, compression, filter, interlace
  png_chunk(out, "IHDR", ihdr);
  png_chunk(out, "IEND", {});
  return out;
}

RgbImage solid(int w, int h, Rgb c) {
  RgbImage img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w) * h * 3);
  for (size_t i = 0; i < img.rgb.size(); i += 3) std::copy(c.begin(), c.end(), &img.rgb[i]);
  return img;
}

RgbImage random_blocks(int w, int h, int block, uint32_t seed) {
  std::mt19937 rng(seed);
  RgbImage img = solid(w, h, {0, 0, 0});
  const int bw = (w + block - 1) / block, bh = (h + block - 1) / block;
  std::vector<Rgb> colours(size_t(bw) * bh);
  for (auto& c : colours) c = Rgb{uint8_t(rng() % 200), uint8_t(rng() % 200), uint8_t(rng() % 200)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const Rgb& c = colours[size_t(y / block) * bw + x / block];
      std::copy(c.begin(), c.end(), &img.rgb[(size_t(y) * w + x) * 3]);
    }
  return img;
}

RgbImage pad(const RgbImage& src, int l, int t, int r, int b, Rgb c) {
  RgbImage out = solid(src.width + l + r, src.height + t + b, c);
  for (int y = 0; y < src.height; ++y)
    std::copy_n(src.at(0, y), size_t(src.width) * 3, &out.rgb[(size_t(y + t) * out.width + l) * 3]);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

const char* const kMnv2Card = R"json({
  "format": "nftlens-model-card/1",
  "name": "mnv2-b13-576",
  "description": "Default. MobileNetV2 (nsfwjs) cut after block_13_expand_relu, mean-pooled over the 14x14 map: a 576-d mid-level feature vector. Found altered copies better than the final 1280-d embedding in our tests.",
  "file": "mnv2-b13-576.onnx",
  "sha256": "6ba9b8c50f045bc01b3f6e9ac411f7d4379aeaaff00caaab2daf08506426b756",
  "bytes": 2382016,
  "input": {"name": "input", "layout": "NHWC", "width": 224, "height": 224, "channels": 3,
            "color": "RGB", "mean": [0,0,0], "std": [1,1,1], "resize": "stretch", "background": [255,255,255]},
  "outputs": [{"name": "gap_block_13_expand_relu", "shape": "NC", "dim": 576, "pooling": "none"}],
  "license": "MIT", "source": "npm nsfwjs@4.4.0 (dist/models/mobilenet_v2), converted by scripts/make-model",
  "trained_on": "ImageNet (initialisation), then fine-tuned by nsfwjs on a 5-class NSFW data set (Drawing, Hentai, Neutral, Porn, Sexy). Not trained for copy detection."
})json";

TestBundle make_test_bundle(int per_collection) {
  using namespace nftlens;
  TestBundle tb;
  const std::string model_text = "not really an ONNX model";
  tb.files["model"] = std::vector<uint8_t>(model_text.begin(), model_text.end());
  tb.card = parse_model_card(kMnv2Card, "test card");

  Recipe& r = tb.recipe;
  r.color_grid = 8;  // (the unit tests were written for an 8x8 layout)
  r.use_model = false;
  r.in_dim = r.out_dim = r.color_dim();
  r.mean.assign(size_t(r.in_dim), 0.0f);
  r.match_threshold = 0.9f;

  const int n = 2 * per_collection;
  std::vector<std::vector<float>> raw;
  for (int t = 0; t < n; ++t) {
    tb.images.push_back(random_blocks(64, 64, 8, 1000u + uint32_t(t)));
    const ImagePlan p = plan_entry(r, tb.images.back());
    raw.push_back(raw_descriptor(r, tb.images.back(), p.views[0], {}));
  }
  for (auto& v : raw)
    for (int i = 0; i < r.in_dim; ++i) r.mean[size_t(i)] += v[size_t(i)] / float(n);
  std::vector<int8_t> codes;
  for (auto& v : raw) {
    const std::vector<int8_t> q = quantize(r, project(r, v));
    codes.insert(codes.end(), q.begin(), q.end());
  }
  const CodeIndex index = CodeIndex::build(codes, r.out_dim, IndexParams{8, 100, 64});

  Catalogue& c = tb.catalogue;
  c.collections.push_back(Collection{"alpha", "Alpha", "The first", "ethereum", "0xa1", "https://example.com/{chain}/{contract}/{token_id}", 0});
  c.collections.push_back(Collection{"beta", "Beta", "The second", "polygon", "0xb2", "", 0});
  const uint32_t bg = c.intern("Background"), hat = c.intern("Hat");
  const uint32_t bgv[3] = {c.intern("Red"), c.intern("Green"), c.intern("Blue")}, cap = c.intern("Cap");
  for (int t = 0; t < n; ++t) {
    Token tk;
    tk.collection = uint32_t(t / per_collection);
    tk.token_id = std::to_string(t % per_collection);
    tk.name = (tk.collection ? "Beta #" : "Alpha #") + tk.token_id;
    tk.image = "https://example.com/img/" + std::to_string(t) + ".png";
    tk.description = c.intern("token " + std::to_string(t));
    tk.traits.emplace_back(bg, bgv[t % 3]);
    if (t % 4 == 0) tk.traits.emplace_back(hat, cap);
    c.tokens.push_back(tk);
    c.entry_token.push_back(uint32_t(t));
  }
  c.compute_rarity();

  tb.files["recipe"] = serialize_recipe(r);
  tb.files["index"] = index.serialize();
  tb.files["catalogue"] = serialize_catalogue(c);
  const std::pair<const char*, const char*> parts[] = {{"model", "onnx"}, {"recipe", "bin"}, {"index", "bin"}, {"catalogue", "bin"}};
  for (auto& [role, ext] : parts) {
    const auto& bytes = tb.files[role];
    FileEntry f{role, "", sha256_hex(bytes.data(), bytes.size()), bytes.size()};
    f.name = hashed_name(role, ext, f.sha256);
    tb.entries.push_back(f);
  }
  tb.card.file = tb.entries[0].name;
  tb.card.sha256 = tb.entries[0].sha256;
  tb.card.bytes = (long long)tb.entries[0].bytes;
  tb.manifest_json = make_manifest_json(tb.card, r, index, c, tb.entries, "core_tests");
  return tb;
}

}  // namespace testutil
