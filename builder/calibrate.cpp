#include "calibrate.h"

#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "augment.h"
#include "bundle_io.h"
#include "error.h"
#include "learn.h"
#include "native_lens.h"
#include "verdict.h"

namespace nftlens {

RgbImage unrelated_image(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  RgbImage img;
  img.width = 160 + int(rng() % 240);
  img.height = 160 + int(rng() % 240);
  img.rgb.resize(size_t(img.width) * size_t(img.height) * 3);
  double c0[3], c1[3];
  for (int c = 0; c < 3; ++c) { c0[c] = uni(0, 255); c1[c] = uni(0, 255); }
  const double angle = uni(0, 6.283), noise = rng() % 3 == 0 ? uni(10, 60) : 0;
  const int shapes = int(rng() % 12);
  struct Shape { double x, y, rx, ry; uint8_t col[3]; bool ellipse; };
  std::vector<Shape> sh(static_cast<size_t>(shapes));
  for (auto& s : sh) {
    s = {uni(0, img.width), uni(0, img.height), uni(8, img.width / 2.0), uni(8, img.height / 2.0), {}, rng() % 2 == 0};
    for (auto& v : s.col) v = uint8_t(rng() % 256);
  }
  std::normal_distribution<double> gauss(0, 1);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const double t = 0.5 + 0.5 * std::sin(angle) * (x / double(img.width) - 0.5) * 2 + 0.5 * std::cos(angle) * (y / double(img.height) - 0.5);
      double px[3];
      for (int c = 0; c < 3; ++c) px[c] = c0[c] + (c1[c] - c0[c]) * std::clamp(t, 0.0, 1.0);
      for (const auto& s : sh) {
        const double dx = (x - s.x) / s.rx, dy = (y - s.y) / s.ry;
        if (s.ellipse ? dx * dx + dy * dy <= 1 : std::abs(dx) <= 1 && std::abs(dy) <= 1)
          for (int c = 0; c < 3; ++c) px[c] = s.col[c];
      }
      uint8_t* o = &img.rgb[(size_t(y) * size_t(img.width) + size_t(x)) * 3];
      for (int c = 0; c < 3; ++c) o[c] = uint8_t(std::clamp(px[c] + (noise > 0 ? noise * gauss(rng) : 0.0), 0.0, 255.0));
    }
  return img;
}

size_t calibrate_verdict(const std::filesystem::path& dir, const std::vector<CalibrationToken>& sample, int threads, bool quiet) {
  NativeLens lens(dir, threads);
  const Catalogue& cat = lens.whole_catalogue();
  std::map<std::pair<uint32_t, std::string>, uint32_t> index;
  for (uint32_t t = 0; t < cat.tokens.size(); ++t) index[{cat.tokens[t].collection, cat.tokens[t].token_id}] = t;

  // Examples per evidence kind: re-ranked (aligned) and first stage only (plain).
  std::vector<std::vector<double>> xa, xp;
  std::vector<int> ya, yp;
  std::vector<VerdictEvidence> left_out;  // evidence of searches with their own token left out
  auto add = [&](const std::vector<TokenHit>& hits, int label, bool leave_out) {
    if (hits.empty()) return;
    const VerdictEvidence e = VerdictEvidence::of(hits);
    (e.aligned ? xa : xp).push_back(e.features());
    (e.aligned ? ya : yp).push_back(label);
    if (leave_out) left_out.push_back(e);
  };
  std::vector<double> sibling_top, unrelated_top;  // first-result cosines, for the collection threshold
  auto run = [&](const QuerySession& q, uint32_t own, bool leave_out) {
    for (size_t rerank : {ImageRequest{}.rerank, size_t(0)}) {
      ImageRequest req;
      req.k = 2;  // the first result and the runner-up are the evidence
      req.rerank = rerank;
      if (leave_out) req.exclude = {own};
      const auto hits = lens.search(q, req).hits;
      add(hits, !leave_out && !hits.empty() && hits[0].token == own ? 1 : 0, leave_out);
      if (rerank == 0 && !hits.empty()) {
        if (own == UINT32_MAX) unrelated_top.push_back(hits[0].score);
        else if (leave_out) sibling_top.push_back(hits[0].score);
      }
    }
  };
  size_t done = 0;
  for (size_t i = 0; i < sample.size(); ++i) {
    const auto it = index.find({sample[i].collection, sample[i].token_id});
    if (it == index.end()) continue;
    RgbImage original;
    try {
      original = lens.decode(read_bytes(sample[i].image_path, 64u << 20));
    } catch (const Error&) {
      continue;
    }
    // A fresh copy (seeds unlike the learning pairs'): with its token it should be named; without, not.
    const RgbImage copy = augment(original, 0x5eed0000c0ffeeull + 7919 * (i + 1));
    const auto qc = lens.session(copy);
    run(*qc, it->second, false);
    run(*qc, it->second, true);
    // The same for a capture (a round picture, a post, a zoom, a covered part): the query pipeline
    // finds those with little first-stage similarity, so the verdict must learn them too.
    const auto qk = lens.session(capture_copy(original, 0xca97u + 104729 * (i + 1)));
    run(*qk, it->second, false);
    run(*qk, it->second, true);
    // The original image of a token missing from the bundle: the nearest sibling must not be named.
    run(*lens.session(original), it->second, true);
    ++done;
  }
  const size_t unrelated = std::max<size_t>(20, done / 3);
  for (size_t i = 0; i < unrelated; ++i) run(*lens.session(unrelated_image(0xabcdefull + i)), UINT32_MAX, false);

  VerdictModel m;
  auto fit = [&](auto& out, bool& fitted, const std::vector<std::vector<double>>& x, const std::vector<int>& y) {
    size_t pos = 0;
    for (int l : y) pos += size_t(l);
    if (pos < 5 || x.size() - pos < 5) return;  // too few of a class to fit
    const auto w = fit_logistic(x, y);
    for (size_t k = 0; k < out.size(); ++k) out[k] = w[k];
    fitted = true;
    m.positives += pos;
    m.negatives += x.size() - pos;
  };
  fit(m.aligned, m.fitted_aligned, xa, ya);
  fit(m.plain, m.fitted_plain, xp, yp);
  // The operating point: naming a token that is not in the bundle is the most harmful answer, so
  // "token" needs a confidence that at most 5% of the left-out searches reach (never below 0.5).
  std::vector<double> lp;
  for (const auto& e : left_out)
    if (e.aligned ? m.fitted_aligned : m.fitted_plain) lp.push_back(verdict_probability(m, e));
  if (!lp.empty()) m.token_confidence = std::max(0.5, percentile(lp, 0.95));
  // "Sits among the collection's tokens": keep 95% of left-out tokens' nearest-sibling cosines above
  // the collection threshold, unless that would let in 1% of the unrelated images.
  if (!sibling_top.empty() && !unrelated_top.empty())
    m.collection_threshold = std::min<double>(lens.bundle().recipe.match_threshold, std::max(percentile(sibling_top, 0.05), percentile(unrelated_top, 0.99) + 0.02));

  const auto mpath = dir / "manifest.json";
  const auto bytes = read_bytes(mpath, 64u << 20);
  nlohmann::json j = nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
  j["verdict"] = nlohmann::json::parse(m.to_json());
  const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  write_file_atomic(mpath, text.data(), text.size());
  if (!quiet)
    std::cerr << "verdict: token at confidence >= " << m.token_confidence << ", collection threshold " << m.collection_threshold << "; calibrated on " << done << " tokens and " << unrelated << " unrelated images (" << m.positives << " positive, "
              << m.negatives << " negative examples" << (m.fitted_aligned ? "" : "; no thumbnails: first-stage evidence only") << ")\n";
  return xa.size() + xp.size();
}

}  // namespace nftlens
