#include "calibrate.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "augment.h"
#include "bundle.h"
#include "sha256.h"
#include "style_model.h"
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

std::vector<size_t> calibration_sample(const std::vector<uint32_t>& token_collection, size_t collections, size_t per_collection, size_t max_total) {
  std::vector<size_t> order(token_collection.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(777));
  const size_t n = std::max<size_t>(1, collections), total = std::max(per_collection, max_total);
  const size_t per = per_collection == 0 ? 0 : per_collection * n <= total ? per_collection : std::max<size_t>(1, total / n);
  std::vector<size_t> taken(n, 0), out;
  for (size_t i : order)
    if (token_collection[i] < n && taken[token_collection[i]] < per) {
      ++taken[token_collection[i]];
      out.push_back(i);
    }
  return out;
}

namespace {

struct Fitted {
  VerdictModel m;
  bool own_weights = false, own_points = false;
};

// The verdict model of `ex` (the global one: `global` null, every weight fitted; a collection's:
// what it has too few examples for is taken from `global`). sibling_top: first-result cosines of
// its left-out searches (first stage); unrelated_top: those of the unrelated images.
Fitted fit_model(const std::vector<const CalibrationExample*>& ex, const std::vector<double>& sibling_top, const std::vector<double>& unrelated_top,
                 double match_threshold, const VerdictModel* global) {
  Fitted f;
  VerdictModel& m = f.m;
  if (global) m = *global;
  m.positives = m.negatives = 0;
  const size_t min_class = global ? kOwnWeightsMin : 5;
  for (const bool aligned : {true, false}) {
    std::vector<std::vector<double>> x;
    std::vector<int> y;
    for (const CalibrationExample* e : ex)
      if (e->evidence.aligned == aligned && e->fit) {
        x.push_back(e->evidence.features());
        y.push_back(e->label);
      }
    size_t pos = 0;
    for (int l : y) pos += size_t(l);
    if (pos >= min_class && x.size() - pos >= min_class) {  // (else too few of a class to fit)
      const auto w = fit_logistic(x, y);
      if (aligned) std::copy(w.begin(), w.end(), m.aligned.begin()), m.fitted_aligned = true;
      else std::copy(w.begin(), w.end(), m.plain.begin()), m.fitted_plain = true;
      f.own_weights = true;
    }
    if (aligned ? m.fitted_aligned : m.fitted_plain) {  // (the examples its weights answer)
      m.positives += pos;
      m.negatives += x.size() - pos;
    }
  }
  // The operating points: naming a token that is not in the bundle is the most harmful answer, so
  // "token" needs a confidence that at most 5% of the left-out searches reach (never below 0.5) —
  // of each kind of query on its own (a clean original image of a missing token reaches higher
  // confidences than edited copies: pooled with them, 10% of such originals were named), and for
  // each kind of evidence on its own (a re-ranked query is decided on re-ranked searches only).
  std::vector<double> lp[2][4];  // [re-ranked][CalibrationQuery]
  size_t left_out = 0;
  for (const CalibrationExample* e : ex)
    if (e->left_out && (e->evidence.aligned ? m.fitted_aligned : m.fitted_plain)) {
      lp[e->evidence.aligned][size_t(e->query)].push_back(verdict_probability(m, e->evidence));
      ++left_out;
    }
  auto operating_point = [&](bool aligned) {  // (-1: no left-out searches of that evidence)
    std::vector<double> all;
    for (const auto& k : lp[aligned]) all.insert(all.end(), k.begin(), k.end());
    if (all.empty()) return -1.0;
    double p = percentile(all, 0.95);
    for (size_t k = 0; k < 3; ++k)
      if (lp[aligned][k].size() >= kOwnPointsMin / 6) p = std::max(p, percentile(lp[aligned][k], 0.95));
    return std::max(0.5, p);
  };
  // "Sits among the collection's tokens": keep 95% of left-out tokens' nearest-sibling cosines above
  // the collection threshold, unless that would let in 1% of the unrelated images. (Own weights
  // need their own operating point: the global one belongs to the global weights.)
  if (!global || f.own_weights || (left_out >= kOwnPointsMin && sibling_top.size() >= kOwnPointsMin / 2)) {
    const double aligned_point = operating_point(true), plain_point = operating_point(false);
    m.token_confidence = aligned_point >= 0 ? aligned_point : plain_point >= 0 ? plain_point : m.token_confidence;
    m.plain_token_confidence = aligned_point >= 0 ? plain_point : -1;
    if (!sibling_top.empty() && !unrelated_top.empty())
      m.collection_threshold = std::min(match_threshold, std::max(percentile(sibling_top, 0.05), percentile(unrelated_top, 0.99) + 0.02));
    f.own_points = true;
  }
  return f;
}

// A model's operating points, as the build's report says them.
std::string points_text(const VerdictModel& m) {
  std::ostringstream o;
  o << "token at confidence >= " << m.token_confidence;
  if (m.plain_token_confidence >= 0) o << " (" << m.plain_token_confidence << " without re-ranking)";
  return o.str();
}

}  // namespace

VerdictModels fit_verdict_models(const CalibrationSet& set, const std::vector<std::string>& slugs, double match_threshold, std::string* report) {
  auto siblings_of = [&](uint32_t c) {  // (c = UINT32_MAX: all)
    std::vector<double> v;
    for (auto& [first, s] : set.sibling_top)
      if (c == UINT32_MAX || first == c) v.push_back(s);
    return v;
  };
  std::vector<const CalibrationExample*> all;
  for (const auto& e : set.examples) all.push_back(&e);
  VerdictModels models;
  models.global = fit_model(all, siblings_of(UINT32_MAX), set.unrelated_top, match_threshold, nullptr).m;
  const VerdictModel& g = models.global;
  // Several collections: one model per collection, fitted on the searches whose first result is of
  // it (the searches it will decide), where there are enough; the global one decides for the rest.
  if (slugs.size() < 2 || !(g.fitted_aligned || g.fitted_plain)) return models;
  std::ostringstream per;
  for (uint32_t c = 0; c < slugs.size(); ++c) {
    std::vector<const CalibrationExample*> ex;
    for (const auto& e : set.examples)
      if (e.first == c) ex.push_back(&e);
    const Fitted f = fit_model(ex, siblings_of(c), set.unrelated_top, match_threshold, &g);
    if (!f.own_weights && !f.own_points) {
      per << "  " << slugs[c] << ": too few examples (" << ex.size() << "), the global model decides\n";
      continue;
    }
    models.collections[slugs[c]] = f.m;
    per << "  " << slugs[c] << ": " << points_text(f.m) << ", collection threshold " << f.m.collection_threshold << " ("
        << f.m.positives << " positive, " << f.m.negatives << " negative examples; " << (f.own_weights ? "own weights" : "the global weights")
        << (f.own_points ? "" : " and operating points") << ")\n";
  }
  if (report) *report = per.str();
  return models;
}

namespace {

// Style vectors the calibration gathers per collection: `fit` (images of tokens at even places of
// the sample: originals, copies and captures, and originals of further tokens) teaches a
// collection's style model; `test` (left-out searches of the tokens at odd places, which took no
// part in the fit) sets its threshold.
struct StyleSamples {
  std::vector<std::vector<float>> fit;
  std::vector<std::pair<std::vector<float>, double>> test;  // (style vector, first-result cosine)
};

// One style model per collection with enough images, standardised on its left-out test searches;
// the threshold keeps 95% of them inside (the collection's own tokens, edited and captured, that
// the bundle lacks must still be recognised as its kind).
StyleModels fit_style_models(const std::vector<StyleSamples>& samples, const std::vector<std::string>& slugs, int channels, std::string* report) {
  StyleModels models;
  models.channels = channels;
  std::ostringstream out;
  // One size per file: at most kStyleDims directions, at most one per 8 fit images of any collection
  // that has a model (a collection with fewer than 32 fit images or kStyleTestMin tests has none).
  auto eligible = [](const StyleSamples& s) { return s.fit.size() >= 32 && s.test.size() >= kStyleTestMin; };
  models.dims = int(kStyleDims);
  for (const auto& s : samples)
    if (eligible(s)) models.dims = std::min(models.dims, int(s.fit.size() / 8));
  const int dims = models.dims;
  for (size_t c = 0; c < samples.size(); ++c) {
    const auto& s = samples[c];
    if (!eligible(s)) {
      out << "  " << slugs[c] << ": too few images for a style model (" << s.fit.size() << " + " << s.test.size() << "): the cosine floor decides\n";
      continue;
    }
    std::vector<float> rows;
    for (const auto& v : s.fit) rows.insert(rows.end(), v.begin(), v.end());
    StyleModel m = learn_style(rows, channels, dims, slugs[c]);
    std::vector<double> residuals, logs, cosines, scores;
    for (const auto& [v, cosine] : s.test) {
      residuals.push_back(m.residual(v));
      logs.push_back(std::log(std::max(residuals.back(), 1e-12)));  // (as StyleModel::outside takes it)
      cosines.push_back(cosine);
    }
    auto mean_sd = [](const std::vector<double>& x, float& mean, float& sd) {
      double a = 0, b = 0;
      for (double v : x) a += v;
      a /= double(x.size());
      for (double v : x) b += (v - a) * (v - a);
      mean = float(a);
      sd = float(std::max(1e-6, std::sqrt(b / double(x.size()))));
    };
    mean_sd(logs, m.log_mean, m.log_sd);
    mean_sd(cosines, m.cos_mean, m.cos_sd);
    for (size_t i = 0; i < residuals.size(); ++i) scores.push_back(m.outside(residuals[i], cosines[i]));
    m.max_residual = float(*std::max_element(residuals.begin(), residuals.end()));
    m.threshold = float(percentile(scores, 0.95));
    out << "  " << slugs[c] << ": style model of " << dims << " directions from " << s.fit.size() << " images; outside score <= " << m.threshold << " looks like it (95% of "
        << s.test.size() << " left-out searches)\n";
    models.collections.push_back(std::move(m));
  }
  if (report) *report = out.str();
  return models;
}

}  // namespace

size_t calibrate_verdict(const std::filesystem::path& dir, const std::vector<CalibrationToken>& sample, const std::vector<CalibrationToken>& style_extra,
                         int threads, bool quiet) {
  NativeLens lens(dir, threads);
  const Catalogue& cat = lens.whole_catalogue();
  std::map<std::pair<uint32_t, std::string>, uint32_t> index;
  for (uint32_t t = 0; t < cat.tokens.size(); ++t) index[{cat.tokens[t].collection, cat.tokens[t].token_id}] = t;
  const bool with_style = lens.bundle().recipe.use_model;
  std::vector<StyleSamples> style(cat.collections.size());

  // Examples of both evidence kinds (re-ranked: aligned, and first stage only: plain), and the
  // first-result cosines the collection threshold is fitted on.
  CalibrationSet set;
  // (style_fit_to / style_test_to: where the re-ranked search's first view goes, if anywhere;
  // returns the re-ranked search's hits)
  auto run = [&](const QuerySession& q, uint32_t own, bool leave_out, CalibrationQuery kind, StyleSamples* style_fit_to = nullptr,
                 StyleSamples* style_test_to = nullptr, bool fit = true) {
    std::vector<TokenHit> reranked;
    for (size_t rerank : {ImageRequest{}.rerank, size_t(0)}) {
      ImageRequest req;
      req.k = 2;  // the first result and the runner-up are the evidence
      req.rerank = rerank;
      if (leave_out) req.exclude = {own};
      const auto hits = lens.search(q, req).hits;
      if (hits.empty()) continue;
      const uint32_t first = cat.tokens.at(hits[0].token).collection;
      set.examples.push_back({VerdictEvidence::of(hits), !leave_out && hits[0].token == own ? 1 : 0, leave_out, first, kind, fit});
      if (rerank == 0) {
        if (own == UINT32_MAX) set.unrelated_top.push_back(hits[0].score);
        else if (leave_out) set.sibling_top.push_back({first, hits[0].score});
      } else {
        if (with_style && style_fit_to) style_fit_to->fit.push_back(first_view_style(q, hits[0]));
        if (with_style && style_test_to) style_test_to->test.push_back({first_view_style(q, hits[0]), hits[0].score});
        reranked = hits;
      }
    }
    return reranked;
  };
  // A style fit image that is not otherwise searched: the view a first-stage search picks.
  auto style_fit_session = [&](const QuerySession& q, std::vector<std::vector<float>>& to) {
    if (!with_style) return;
    ImageRequest req;
    req.k = 1;
    req.rerank = 0;
    const auto hits = lens.search(q, req).hits;
    if (!hits.empty()) to.push_back(first_view_style(q, hits[0]));
  };
  auto style_fit = [&](const RgbImage& img, std::vector<std::vector<float>>& to) {
    if (with_style) style_fit_session(*lens.session(img), to);
  };
  size_t done = 0;
  std::vector<size_t> seen(cat.collections.size(), 0);  // sample tokens per collection so far
  for (size_t i = 0; i < sample.size(); ++i) {
    const auto it = index.find({sample[i].collection, sample[i].token_id});
    if (it == index.end()) continue;
    RgbImage original;
    try {
      original = lens.decode(read_bytes(sample[i].image_path, 64u << 20));
    } catch (const Error&) {
      continue;
    }
    // Every second token of a collection teaches its style; the others test it (left out).
    StyleSamples& ss = style.at(sample[i].collection);
    const bool fit = seen[sample[i].collection]++ % 2 == 0;
    StyleSamples* fit_to = fit ? &ss : nullptr;
    StyleSamples* test_to = fit ? nullptr : &ss;
    // A fresh copy (seeds unlike the learning pairs'): with its token it should be named; without, not.
    const RgbImage copy = augment(original, 0x5eed0000c0ffeeull + 7919 * (i + 1));
    const auto qc = lens.session(copy);
    run(*qc, it->second, false, CalibrationQuery::copy, fit_to);
    run(*qc, it->second, true, CalibrationQuery::copy, nullptr, test_to);
    // The same for a capture (a round picture, a post, a zoom, a covered part): the query pipeline
    // finds those with little first-stage similarity, so the verdict must learn them too.
    const auto qk = lens.session(capture_copy(original, 0xca97u + 104729 * (i + 1)));
    run(*qk, it->second, false, CalibrationQuery::capture, fit_to);
    run(*qk, it->second, true, CalibrationQuery::capture, nullptr, test_to);
    // The original image of a token missing from the bundle: the nearest sibling must not be named.
    run(*lens.session(original), it->second, true, CalibrationQuery::original, fit_to, test_to);
    if (fit) {  // more edits of the fit tokens (model runs only): what edits add belongs to the style
      style_fit(augment(original, 0x57e1e0000ull + 6151 * (i + 1)), ss.fit);
      style_fit(augment(original, 0x57e1e1000ull + 6151 * (i + 1)), ss.fit);
      style_fit(capture_copy(original, 0x57e1eca9ull + 6151 * (i + 1)), ss.fit);
    }
    ++done;
  }
  // Originals of further tokens: the collection's variety for its style model, and more left-out
  // originals for the operating point only (one model run each, as the style needs anyway): the
  // kind of query that most often sets it, whose 95th percentile over the sample's 100 alone moved
  // the point by up to 0.2 from one sample to another. (Fitted on, they outweighed the sample's
  // other negatives.)
  for (const auto& t : style_extra) {
    if (t.collection >= style.size()) continue;
    try {
      const auto q = lens.session(lens.decode(read_bytes(t.image_path, 64u << 20)));
      style_fit_session(*q, style[t.collection].fit);
      if (const auto it = index.find({t.collection, t.token_id}); it != index.end()) run(*q, it->second, true, CalibrationQuery::original, nullptr, nullptr, false);
    } catch (const Error&) {
    }
  }
  const size_t unrelated = std::max<size_t>(20, done / 3);
  struct Unrelated { uint32_t collection; std::vector<float> style; double cosine; };  // (of the first result)
  std::vector<Unrelated> unrelated_style;
  for (size_t i = 0; i < unrelated; ++i) {
    const auto q = lens.session(unrelated_image(0xabcdefull + i));
    const auto hits = run(*q, UINT32_MAX, false, CalibrationQuery::unrelated);
    if (with_style && !hits.empty()) unrelated_style.push_back({cat.tokens.at(hits[0].token).collection, first_view_style(*q, hits[0]), hits[0].score});
  }

  std::vector<std::string> slugs;
  for (const auto& c : cat.collections) slugs.push_back(c.slug);
  std::string per, style_report;
  const VerdictModels models = fit_verdict_models(set, slugs, lens.bundle().recipe.match_threshold, &per);
  const VerdictModel& g = models.global;
  const StyleModels styles = with_style ? fit_style_models(style, slugs, lens.bundle().manifest.model.feature_dim(), &style_report) : StyleModels{};
  size_t unrelated_inside = 0;
  for (const auto& u : unrelated_style)
    if (const StyleModel* sm = styles.of(slugs.at(u.collection)); sm && sm->inside(sm->residual(u.style), u.cosine)) ++unrelated_inside;

  const auto mpath = dir / "manifest.json";
  const auto bytes = read_bytes(mpath, 64u << 20);
  nlohmann::json j = nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
  j["verdict"] = nlohmann::json::parse(models.to_json());
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : j.at("files"))
    if (f.value("role", "") != "style") files.push_back(f);
  if (!styles.empty()) {  // the style file first, then the manifest that lists it (the commit point)
    const auto sb = styles.serialize();
    const std::string sha = sha256_hex(sb.data(), sb.size()), name = hashed_name("style", "bin", sha);
    write_file_atomic(dir / name, sb.data(), sb.size());
    files.push_back({{"role", "style"}, {"name", name}, {"bytes", sb.size()}, {"sha256", sha}});
  }
  j["files"] = files;
  const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  write_file_atomic(mpath, text.data(), text.size());
  if (!quiet) {
    std::cerr << "verdict: " << points_text(g) << ", collection threshold " << g.collection_threshold << "; calibrated on " << done << " tokens and " << unrelated << " unrelated images (" << g.positives << " positive, "
              << g.negatives << " negative examples" << (g.fitted_aligned ? "" : "; no thumbnails: first-stage evidence only") << ")\n"
              << per << style_report;
    if (!styles.empty()) std::cerr << "  synthetic unrelated images that pass a style test: " << unrelated_inside << " of " << unrelated_style.size() << "\n";
  }
  return set.examples.size();
}

}  // namespace nftlens
