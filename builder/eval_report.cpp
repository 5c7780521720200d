#include "eval_report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "bundle_io.h"
#include "error.h"
#include "html_escape.h"
#include "thumb_pack.h"

namespace fs = std::filesystem;

namespace nftlens {
namespace {

std::string num(double v, int digits = 3) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

// A file extension safe to put in a name (letters and digits only, else ".img").
std::string safe_ext(const fs::path& p) {
  std::string e = p.extension().string();
  if (e.size() < 2 || e.size() > 6) return ".img";
  for (size_t i = 1; i < e.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(e[i]))) return ".img";
  return e;
}

}  // namespace

std::vector<ReportItem> sample_report(std::vector<ReportItem> items, size_t misses, size_t hits) {
  std::map<std::string, std::pair<size_t, size_t>> kept;  // transform -> (misses, hits)
  std::vector<ReportItem> out, right;
  for (auto& it : items) {
    auto& k = kept[it.transform];
    if (it.miss() ? k.first++ < misses : k.second++ < hits) (it.miss() ? out : right).push_back(std::move(it));
  }
  auto by_transform = [](const ReportItem& a, const ReportItem& b) { return a.transform < b.transform; };
  std::stable_sort(out.begin(), out.end(), by_transform);
  std::stable_sort(right.begin(), right.end(), by_transform);
  out.insert(out.end(), std::make_move_iterator(right.begin()), std::make_move_iterator(right.end()));
  return out;
}

void write_eval_report(const fs::path& dir, const fs::path& bundle_dir, const std::vector<FileEntry>& packs, const Catalogue& cat,
                       const std::vector<ReportItem>& items, const std::string& title) {
  std::error_code ec;
  fs::create_directories(dir / "img", ec);
  if (ec) throw Error(dir.string() + ": cannot create the report folder: " + ec.message());
  std::map<uint32_t, std::string> thumb_of;  // token -> copied thumbnail (relative to dir)
  auto thumb = [&](uint32_t t) -> std::string {
    if (auto it = thumb_of.find(t); it != thumb_of.end()) return it->second;
    std::string rel;
    const ThumbRef r = t < cat.tokens.size() ? cat.tokens[t].thumb : ThumbRef{};
    if (r.present() && r.pack < packs.size()) {  // copied out of its pack (checked, as every host does)
      std::ifstream in(bundle_dir / packs[r.pack].name, std::ios::binary);
      std::vector<uint8_t> png(r.bytes);
      in.seekg(std::streamoff(r.offset));
      if (in.read(reinterpret_cast<char*>(png.data()), std::streamsize(png.size())) && thumb_matches(r, png.data(), png.size())) {
        rel = "img/t" + std::to_string(t) + ".png";
        write_file_atomic(dir / rel, png.data(), png.size(), false);
      }
    }
    return thumb_of[t] = rel;
  };
  auto card = [&](uint32_t t, const std::string& extra, bool right) {
    std::ostringstream c;
    const Token* tok = t < cat.tokens.size() ? &cat.tokens[t] : nullptr;
    const std::string th = thumb(t);
    c << "<div class=\"card" << (right ? " right" : "") << "\">";
    if (!th.empty()) c << "<img src=\"" << html_escape(th) << "\" alt=\"\">";
    c << "<div>" << html_escape(tok ? (tok->name.empty() ? "#" + tok->token_id : tok->name) : "token " + std::to_string(t)) << "</div>"
      << "<div class=\"small\">" << extra << (right ? " <b>right</b>" : "") << "</div></div>";
    return c.str();
  };

  std::ostringstream h;
  size_t n_miss = 0;
  for (auto& it : items) n_miss += it.miss();
  h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>" << html_escape(title) << "</title>\n"
    << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'\">\n"
    << "<style>body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h2{margin-top:1.6em}"
       ".row{display:flex;gap:14px;align-items:flex-start;padding:10px 0;border-top:1px solid #ddd}"
       ".q{width:240px}.q svg{width:240px;height:auto;background:#eee}.card{width:120px}.card img{width:110px;height:110px;"
       "object-fit:contain;background:#f4f4f4;border:3px solid transparent}.card.right img{border-color:#1a7f37}"
       ".small{color:#666;font-size:12px}.miss{color:#b42318;font-weight:600}.hit{color:#1a7f37;font-weight:600}"
       ".legend span{display:inline-block;margin-right:1em}</style></head><body>\n"
    << "<h1>" << html_escape(title) << "</h1>\n<p>" << items.size() << " sampled queries, " << n_miss
    << " of them misses (shown first, per transform). <span class=\"legend\"><span style=\"color:#1f6feb\">&#9632; region searched</span>"
       "<span style=\"color:#1a7f37\">&#9679; disc found</span><span style=\"color:#d1242f\">&#9632; token placed by re-ranking</span></span></p>\n";
  std::string section;
  size_t i = 0;
  for (const ReportItem& it : items) {
    const std::string sec = it.miss() ? "Misses: " + it.transform : "Found first: " + it.transform;
    if (sec != section) { h << "<h2>" << html_escape(sec) << "</h2>\n"; section = sec; }
    const std::string q = "img/q" + std::to_string(i++) + safe_ext(it.file);
    fs::copy_file(it.file, dir / q, fs::copy_options::overwrite_existing, ec);
    const int W = std::max(1, it.width), H = std::max(1, it.height);
    const double stroke = std::max(W, H) / 120.0;
    h << "<div class=\"row\"><div class=\"q\"><svg viewBox=\"0 0 " << W << " " << H << "\" xmlns=\"http://www.w3.org/2000/svg\">"
      << "<image href=\"" << html_escape(q) << "\" width=\"" << W << "\" height=\"" << H << "\"/>";
    if (it.region.w > 0 && !(it.region.w == W && it.region.h == H))
      h << "<rect x=\"" << it.region.x << "\" y=\"" << it.region.y << "\" width=\"" << it.region.w << "\" height=\"" << it.region.h
        << "\" fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"" << num(stroke, 1) << "\"/>";
    if (it.circle.found())
      h << "<circle cx=\"" << num(it.circle.cx, 1) << "\" cy=\"" << num(it.circle.cy, 1) << "\" r=\"" << num(it.circle.r, 1)
        << "\" fill=\"none\" stroke=\"#1a7f37\" stroke-width=\"" << num(stroke, 1) << "\"/>";
    if (it.placed.w > 0)
      h << "<rect x=\"" << num(it.placed.x0, 1) << "\" y=\"" << num(it.placed.y0, 1) << "\" width=\"" << num(it.placed.w, 1) << "\" height=\""
        << num(it.placed.h, 1) << "\" fill=\"none\" stroke=\"#d1242f\" stroke-dasharray=\"" << num(2 * stroke, 1) << "\" stroke-width=\""
        << num(stroke, 1) << "\"/>";
    h << "</svg><div class=\"small\">" << html_escape(it.query) << "</div><div class=\"" << (it.miss() ? "miss" : "hit") << "\">"
      << (it.want >= 0 ? (it.rank == 0 ? "not in the results" : "right token at rank " + std::to_string(it.rank)) : "token not in the bundle")
      << "; verdict " << html_escape(it.verdict) << "</div></div>";
    bool shown = false;
    for (size_t r = 0; r < it.top.size() && r < 3; ++r) {
      const TokenHit& t = it.top[r];
      const bool right = int64_t(t.token) == it.want;
      shown |= right;
      std::string extra = "#" + std::to_string(r + 1) + " cos " + num(t.score);
      if (t.alignment != TokenHit::kNotAligned) extra += ", align " + num(t.alignment);
      h << card(t.token, extra, right);
    }
    if (it.want >= 0 && !shown) h << "<div style=\"width:20px\"></div>" << card(uint32_t(it.want), "the right token", true);
    h << "</div>\n";
  }
  h << "</body></html>\n";
  const std::string text = h.str();
  write_file_atomic((dir / "index.html").string(), text.data(), text.size());
}

}  // namespace nftlens
