#include "part_codes_build.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "bundle_io.h"
#include "descriptor.h"
#include "embedder.h"
#include "error.h"
#include "image_file.h"
#include "learn.h"
#include "part_codes.h"

namespace nftlens {

std::vector<uint8_t> build_part_codes(const std::vector<std::string>& images, const std::string& onnx_path, const ModelCard& card,
                                      const PartCodesOptions& opt) {
  const int channels = card.part_channels();
  if (channels == 0) throw Error("--part-codes: the model " + card.name + " has no parts map (use models/mnv2-b13-576-parts.card.json)");
  if (images.empty()) throw Error("--part-codes: no tokens");
  const int dim = std::min(opt.dim, channels);
  const auto t0 = std::chrono::steady_clock::now();
  EmbedderOptions eo{1, true};
  eo.allow_spinning = false;
  ModelCard zoom_card = card;  // the same model at twice the size: each half-side region then looks like a zoom on it
  zoom_card.width *= 2;
  zoom_card.height *= 2;
  Embedder at2(onnx_path, zoom_card, eo);
  std::unique_ptr<Embedder> at1;  // the card's size: made only if some token's grid regions were not handed over
  std::once_flag at1_made;
  auto card_size = [&]() -> Embedder& {
    std::call_once(at1_made, [&] { at1 = std::make_unique<Embedder>(onnx_path, card, eo); });
    return *at1;
  };

  // Region means of token i: the grid's at the card's size (kParts x channels), the zoom windows'
  // at twice the size (kZoomWindows x channels); the whole map's row dropped.
  const size_t per = size_t(kParts) * size_t(channels), zoom_per = size_t(kZoomWindows) * size_t(channels);
  std::atomic<size_t> handed{0};  // tokens whose grid regions came from opt.grid_regions
  auto regions = [&](size_t i, std::vector<float>& grid, std::vector<float>& zoom) {
    const RgbImage img = decode_any(read_bytes(images[i], 64u << 20), card.background);
    const Box whole{0, 0, img.width, img.height};
    std::vector<std::vector<float>> p1, p2;
    if (opt.grid_regions && opt.grid_regions(i, grid)) {
      if (grid.size() != per) throw Error("the grid regions handed over have the wrong size");
      ++handed;
    } else {
      card_size().run({make_input_tensor(card, img, whole)}, &p1);
      grid.assign(p1.at(0).begin(), p1.at(0).begin() + long(per));
    }
    at2.run({make_input_tensor(zoom_card, img, whole)}, &p2);
    zoom.assign(p2.at(0).begin(), p2.at(0).begin() + long(zoom_per));
  };
  // Runs f(i) for every i in `order` on the workers; the first error stops them and is rethrown.
  const int workers = std::max(1, opt.threads > 0 ? opt.threads : int(std::thread::hardware_concurrency()));
  auto parallel = [&](const std::vector<size_t>& order, auto&& f) {
    std::atomic<size_t> next{0};
    std::mutex m;
    std::string failure;
    std::vector<std::thread> ts;
    for (int w = 0; w < workers; ++w)
      ts.emplace_back([&] {
        for (size_t j; (j = next++) < order.size();) {
          try {
            f(order[j]);
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(m);
            if (failure.empty()) failure = images[order[j]] + ": " + e.what();
            next = order.size();
          }
        }
      });
    for (auto& t : ts) t.join();
    if (!failure.empty()) throw Error("--part-codes: " + failure);
  };

  // 1. The sample (evenly spaced tokens): their regions teach each set's whitening.
  const size_t n = images.size(), m = std::min(n, std::max<size_t>(2, opt.learn_tokens));
  std::vector<size_t> sample(m);
  for (size_t j = 0; j < m; ++j) sample[j] = j * n / m;
  std::vector<float> grid_rows(m * per), zoom_rows(m * zoom_per);
  {
    std::vector<size_t> slot(n, SIZE_MAX);
    for (size_t j = 0; j < m; ++j) slot[sample[j]] = j;
    parallel(sample, [&](size_t i) {
      std::vector<float> g, z;
      regions(i, g, z);
      std::copy(g.begin(), g.end(), grid_rows.begin() + long(slot[i] * per));
      std::copy(z.begin(), z.end(), zoom_rows.begin() + long(slot[i] * zoom_per));
    });
  }
  PartSet grid_set = learn_part_set(grid_rows, channels, dim), zoom_set = learn_part_set(zoom_rows, channels, dim);
  round_weights(grid_set.projection);  // (as the file stores them: the browser codes with these)
  round_weights(zoom_set.projection);
  const PartCodes coder(channels, dim, grid_set, zoom_set, {}, {});

  // 2. Every token's codes (the sample's from its rows; the rest through the model now).
  std::vector<int8_t> grid_codes(n * size_t(kParts) * dim), zoom_codes(n * size_t(kZoomWindows) * dim);
  auto put = [&](size_t i, const float* g, const float* z) {
    for (int r = 0; r < kParts; ++r) {
      const auto gc = coder.code(grid_set, g + size_t(r) * channels);
      std::copy(gc.begin(), gc.end(), grid_codes.begin() + long((i * kParts + size_t(r)) * size_t(dim)));
    }
    for (int r = 0; r < kZoomWindows; ++r) {
      const auto zc = coder.code(zoom_set, z + size_t(r) * channels);
      std::copy(zc.begin(), zc.end(), zoom_codes.begin() + long((i * kZoomWindows + size_t(r)) * size_t(dim)));
    }
  };
  for (size_t j = 0; j < m; ++j) put(sample[j], grid_rows.data() + j * per, zoom_rows.data() + j * zoom_per);
  std::vector<size_t> rest;
  {
    std::vector<char> in_sample(n, 0);
    for (size_t i : sample) in_sample[i] = 1;
    for (size_t i = 0; i < n; ++i)
      if (!in_sample[i]) rest.push_back(i);
  }
  parallel(rest, [&](size_t i) {
    std::vector<float> g, z;
    regions(i, g, z);
    put(i, g.data(), z.data());
  });
  if (!opt.quiet)
    std::cerr << "parts: " << n << " tokens x " << kParts + kZoomWindows << " part codes of " << dim << " bytes in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s (grid regions of "
              << handed.load() << " from the embed pass)\n";
  return PartCodes(channels, dim, grid_set, zoom_set, std::move(grid_codes), std::move(zoom_codes)).serialize();
}

}  // namespace nftlens
