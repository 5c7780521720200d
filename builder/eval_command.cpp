// nftlens eval: for each query image of a CSV (query,original,transform[,params]), the rank of its
// original token; a table per transform of top-1, top-10 and micro-average precision (µAP), for
// the shipped path (quantised HNSW) beside an exhaustive scan of the same codes; JSON output too.
#include <algorithm>
#include <cmath>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "bundle_io.h"
#include "commands.h"
#include "error.h"
#include "eval_report.h"
#include "native_lens.h"

namespace fs = std::filesystem;

namespace nftlens {
namespace {

std::vector<std::string> parse_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') { cur += '"'; ++i; }
      else if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"') quoted = true;
    else if (c == ',') { out.push_back(cur); cur.clear(); }
    else if (c != '\r') cur += c;
  }
  out.push_back(cur);
  return out;
}

struct Tally {
  int n = 0, top1 = 0, top10 = 0;
  std::vector<std::pair<float, bool>> scored;  // (score, correct) of every returned result
  double micro_ap() const {
    auto s = scored;
    std::stable_sort(s.begin(), s.end(), [](auto& a, auto& b) { return a.first > b.first; });
    double ap = 0;
    int hits = 0;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i].second) ap += double(++hits) / double(i + 1);
    return n ? ap / n : 0;
  }
};

}  // namespace

int run_eval(const EvalArgs& a) {
  NativeLens s(a.bundle, a.threads);
  auto request = [&](size_t k) {  // (every search: the options eval takes as query does)
    ImageRequest req;
    req.k = k;
    req.rerank = a.rerank;
    req.parts = a.parts;
    req.probe = a.probe;
    return req;
  };
  const Catalogue& cat = s.whole_catalogue();
  // image ref, image stem and token id -> token; each also as "slug:key", which names the collection
  // when several in one bundle share file names or ids (bench/mixing.sh).
  std::map<std::string, uint32_t> by_key;
  for (uint32_t t = 0; t < cat.tokens.size(); ++t) {
    const std::string& slug = cat.collections[cat.tokens[t].collection].slug;
    for (const std::string& key : {cat.tokens[t].image, fs::path(cat.tokens[t].image).stem().string(), cat.tokens[t].token_id}) {
      by_key.emplace(key, t);
      by_key.emplace(slug + ":" + key, t);
    }
  }
  std::ifstream in(a.queries_csv);
  if (!in) throw Error(a.queries_csv + ": cannot open");
  const fs::path base = fs::path(a.queries_csv).parent_path();
  std::string line;
  std::getline(in, line);
  const auto header = parse_csv_line(line);
  if (header.size() < 2 || header[0] != "query" || header[1] != "original")
    throw Error(a.queries_csv + ": expected a header starting query,original[,transform]");
  std::map<std::string, Tally> index_t, exact_t;
  nlohmann::json rows = nlohmann::json::array(), negatives = nlohmann::json::array();  // (negatives: originals not in the bundle)
  int line_no = 1, missing = 0;
  // "Is this a copy?": (top score, correct top-1) of queries whose original is in the bundle, and
  // the top score of queries whose original is not (copies of left-out tokens, unrelated images).
  std::vector<std::pair<float, bool>> pos_top;
  std::vector<float> neg_top;
  // Verdicts per transform (the shipped path: index + re-ranking), and "is this the token?" by
  // confidence: (confidence, correct top-1) of queries in the bundle, confidence of the others.
  struct Verdicts { int n = 0, token = 0, token_right = 0, collection = 0, none = 0, close = 0; };
  std::map<std::string, Verdicts> verdicts;
  std::vector<std::pair<double, bool>> pos_conf;
  std::vector<double> neg_conf;
  std::vector<ReportItem> report;  // (--report)
  auto report_item = [&](const std::vector<std::string>& f, const std::string& transform, const QuerySession& q, const Answer& ans,
                         int64_t want, int rank, const std::string& verdict) {
    if (a.report_dir.empty()) return;
    ReportItem r{f[0], base / f[0], transform, want, rank, verdict, q.image().width, q.image().height, ans.region, ans.circle, ans.placed, {}};
    r.top.assign(ans.hits.begin(), ans.hits.begin() + long(std::min<size_t>(3, ans.hits.size())));
    report.push_back(std::move(r));
  };
  auto tally = [&](const std::string& transform, const nlohmann::json& doc, bool right) {
    const std::string v = doc["verdict"];
    for (auto* t : {&verdicts[transform], &verdicts["overall"]}) {
      t->n++;
      t->token += v == "token";
      t->token_right += v == "token" && right;
      t->collection += v == "collection";
      t->none += v == "none";
      t->close += doc["close_call"].get<bool>();
    }
    // (a bundle without a verdict model: token = 1, else 0)
    return v == "none" ? 0.0 : doc["confidence"].is_number() ? doc["confidence"].get<double>() : v == "token" ? 1.0 : 0.0;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const auto f = parse_csv_line(line);
    if (f.size() < 2) throw Error(a.queries_csv + ":" + std::to_string(line_no) + ": needs query,original");
    const std::string transform = f.size() > 2 && !f[2].empty() ? f[2] : "all";
    auto it = by_key.find(f[1]);
    if (it == by_key.end()) {  // (a path given differently: by its stem, within "slug:" if it names a collection)
      const auto colon = f[1].find(':');
      const bool qualified = colon != std::string::npos &&
          std::any_of(cat.collections.begin(), cat.collections.end(), [&](const Collection& c) { return c.slug == f[1].substr(0, colon); });
      it = qualified ? by_key.find(f[1].substr(0, colon + 1) + fs::path(f[1].substr(colon + 1)).stem().string())
                     : by_key.find(fs::path(f[1]).stem().string());
    }
    if (it == by_key.end()) {
      ++missing;
      try {
        ImageRequest req = request(1);
        const auto q = s.session(s.decode(read_bytes(base / f[0], 64u << 20)));
        const Answer ans = s.search(*q, req);
        neg_top.push_back(ans.hits.empty() ? -1.0f : ans.hits[0].score);
        const auto doc = nlohmann::json::parse(ans.json);
        neg_conf.push_back(tally(transform, doc, false));
        negatives.push_back({{"query", f[0]}, {"original", f[1]}, {"transform", transform}, {"top_score", neg_top.back()},
                             {"verdict", doc["verdict"]}, {"confidence", doc["confidence"]}});
        if (ans.style_residual >= 0) negatives.back().update({{"style_residual", ans.style_residual}, {"style_outside", ans.style_outside}});
        if (ans.parts_used) negatives.back()["parts"] = true;
        report_item(f, transform, *q, ans, -1, 0, doc["verdict"]);
      } catch (const Error& e) {
        std::cerr << "warning: " << e.what() << "\n";
      }
      continue;
    }
    const uint32_t want = it->second;
    std::unique_ptr<QuerySession> query;
    try {
      query = s.session(s.decode(read_bytes(base / f[0], 64u << 20)));
    } catch (const Error& e) {
      std::cerr << "warning: " << e.what() << "\n";
      continue;
    }
    nlohmann::json row = {{"query", f[0]}, {"original", f[1]}, {"transform", transform}};
    for (bool exact : {false, true}) {
      ImageRequest req = request(10);
      req.exact = exact;
      const Answer ans = s.search(*query, req);
      const auto& hits = ans.hits;
      int rank = 0;
      for (size_t r = 0; r < hits.size(); ++r)
        if (hits[r].token == want) { rank = int(r + 1); break; }
      for (auto* t : {&(exact ? exact_t : index_t)[transform], &(exact ? exact_t : index_t)["overall"]}) {
        t->n++;
        t->top1 += rank == 1;
        t->top10 += rank >= 1 && rank <= 10;
        for (auto& h : hits) t->scored.emplace_back(h.score, h.token == want);
      }
      row[exact ? "rank_exact" : "rank"] = rank;
      if (!exact) {
        row["top_score"] = hits.empty() ? 0.0f : hits[0].score;
        pos_top.emplace_back(hits.empty() ? -1.0f : hits[0].score, rank == 1);
        const auto doc = nlohmann::json::parse(ans.json);
        pos_conf.emplace_back(tally(transform, doc, rank == 1), rank == 1);
        row["verdict"] = doc["verdict"];
        report_item(f, transform, *query, ans, want, rank, doc["verdict"]);
        row["confidence"] = doc["confidence"];
        if (ans.style_residual >= 0) row.update({{"style_residual", ans.style_residual}, {"style_outside", ans.style_outside}});
        if (ans.parts_used) row["parts"] = true;  // (the query looked like a part: part codes re-ranked)
      }
    }
    rows.push_back(row);
  }
  nlohmann::json detection = nlohmann::json::object();
  if (!neg_top.empty() && !pos_top.empty()) {
    // At threshold t: a positive is found if its top-1 is right and scores >= t; anything else
    // scoring >= t (a wrong top-1, or a query whose token is not in the bundle) is a false match.
    auto at = [&](float t) {
      int tp = 0, fp = 0;
      for (auto& [sc, right] : pos_top) if (sc >= t) (right ? tp : fp)++;
      for (float sc : neg_top) if (sc >= t) fp++;
      const double recall = double(tp) / pos_top.size(), precision = tp + fp ? double(tp) / (tp + fp) : 1.0;
      return std::make_pair(recall, precision);
    };
    std::vector<float> right_scores;
    for (auto& [sc, right] : pos_top) if (right) right_scores.push_back(sc);
    std::sort(right_scores.begin(), right_scores.end(), std::greater<float>());
    const size_t need = size_t(std::ceil(0.9 * pos_top.size()));
    const float t90 = right_scores.size() >= need && need > 0 ? right_scores[need - 1] : -1.0f;
    const float tb = s.bundle().recipe.match_threshold;
    const auto [rb, pb] = at(tb);
    std::cout << "\ncopy detection: " << pos_top.size() << " queries of tokens in the bundle, " << neg_top.size() << " of tokens/images not in it\n"
              << std::setprecision(3) << "  bundle threshold " << tb << ": recall " << rb << ", precision " << pb << "\n";
    detection = {{"positives", pos_top.size()}, {"negatives", neg_top.size()}, {"bundle_threshold", {{"threshold", tb}, {"recall", rb}, {"precision", pb}}}};
    if (t90 >= -0.5f) {
      const auto [r9, p9] = at(t90);
      std::cout << "  threshold for 90% recall " << t90 << ": recall " << r9 << ", precision " << p9 << "\n";
      detection["recall90"] = {{"threshold", t90}, {"recall", r9}, {"precision", p9}};
    } else {
      std::cout << "  90% recall is not reachable (top-1 accuracy is below 90%)\n";
    }
  } else if (missing) {
    std::cerr << "warning: " << missing << " queries name an original that is not in the bundle\n";
  }
  // Verdicts: of queries whose token is in the bundle, "token" should be right; of the others
  // (left-out tokens, unrelated images) none should be "token".
  nlohmann::json verdict_json = nlohmann::json::object();
  if (!verdicts.empty()) {
    std::cout << "\nverdicts (shipped path)\n" << std::left << std::setw(20) << "transform" << std::right << std::setw(6) << "n"
              << "   token  (right)  collection    none   close\n";
    std::vector<std::string> vnames;
    for (auto& [k, v] : verdicts) if (k != "overall") vnames.push_back(k);
    vnames.push_back("overall");
    for (auto& k : vnames) {
      const Verdicts& v = verdicts[k];
      auto pct = [&](int x) { return v.n ? 100.0 * x / v.n : 0.0; };
      std::cout << std::left << std::setw(20) << k << std::right << std::setw(6) << v.n << std::fixed << std::setprecision(1) << std::setw(8) << pct(v.token)
                << std::setw(9) << pct(v.token_right) << std::setw(12) << pct(v.collection) << std::setw(8) << pct(v.none) << std::setw(8) << pct(v.close) << "\n";
      verdict_json[k] = {{"n", v.n}, {"token", v.n ? double(v.token) / v.n : 0}, {"token_right", v.n ? double(v.token_right) / v.n : 0},
                         {"collection", v.n ? double(v.collection) / v.n : 0}, {"none", v.n ? double(v.none) / v.n : 0}, {"close_call", v.n ? double(v.close) / v.n : 0}};
    }
    // Precision at 95% recall of "this is the token" by confidence (a right top-1 is a true match).
    std::vector<double> right;
    for (auto& [c, r] : pos_conf) if (r) right.push_back(c);
    std::sort(right.begin(), right.end(), std::greater<double>());
    const size_t need = size_t(std::ceil(0.95 * pos_conf.size()));
    if (need > 0 && right.size() >= need && !neg_conf.empty()) {
      const double t = right[need - 1];
      int tp = 0, fp = 0;
      for (auto& [c, r] : pos_conf) if (c >= t) (r ? tp : fp)++;
      for (double c : neg_conf) if (c >= t) fp++;
      const double precision = tp + fp ? double(tp) / (tp + fp) : 1.0;
      std::cout << std::setprecision(3) << "  precision at 95% recall (confidence >= " << t << "): " << precision << "\n";
      verdict_json["recall95"] = {{"confidence", t}, {"recall", double(tp) / pos_conf.size()}, {"precision", precision}};
    }
  }
  nlohmann::json summary = nlohmann::json::object();
  std::cout << std::left << std::setw(12) << "transform" << std::right << std::setw(6) << "n" << "  | index: top-1  top-10    µAP  | exact: top-1  top-10    µAP\n";
  std::vector<std::string> names;
  for (auto& [k, v] : index_t) if (k != "overall") names.push_back(k);
  names.push_back("overall");
  for (auto& k : names) {
    const Tally& ti = index_t[k];
    const Tally& te = exact_t[k];
    auto pct = [](int x, int n) { return n ? 100.0 * x / n : 0.0; };
    std::cout << std::left << std::setw(12) << k << std::right << std::setw(6) << ti.n << std::fixed << std::setprecision(1) << "  |      "
              << std::setw(6) << pct(ti.top1, ti.n) << "  " << std::setw(6) << pct(ti.top10, ti.n) << std::setprecision(3) << "  " << std::setw(5)
              << ti.micro_ap() << std::setprecision(1) << "  |      " << std::setw(6) << pct(te.top1, te.n) << "  " << std::setw(6)
              << pct(te.top10, te.n) << std::setprecision(3) << "  " << std::setw(5) << te.micro_ap() << "\n";
    summary[k] = {{"n", ti.n},
                  {"index", {{"top1", ti.n ? double(ti.top1) / ti.n : 0}, {"top10", ti.n ? double(ti.top10) / ti.n : 0}, {"micro_ap", ti.micro_ap()}}},
                  {"exact", {{"top1", te.n ? double(te.top1) / te.n : 0}, {"top10", te.n ? double(te.top10) / te.n : 0}, {"micro_ap", te.micro_ap()}}}};
  }
  const std::string out = a.out_json.empty() ? "eval.json" : a.out_json;
  const std::string text = nlohmann::json({{"bundle", a.bundle}, {"queries", a.queries_csv}, {"summary", summary}, {"detection", detection}, {"verdicts", verdict_json}, {"rows", rows}, {"negatives", negatives}}).dump(1) + "\n";
  write_file_atomic(out, text.data(), text.size());
  std::cerr << "eval: wrote " << out << "\n";
  if (!a.report_dir.empty()) {
    const auto items = sample_report(std::move(report));
    write_eval_report(a.report_dir, a.bundle, s.bundle().manifest.packs, cat, items, "nftlens eval: " + a.queries_csv);
    std::cerr << "eval: wrote " << (fs::path(a.report_dir) / "index.html").string() << " (" << items.size() << " queries)\n";
  }
  return 0;
}

}  // namespace nftlens
