// nftlens site BUNDLE --out DIR: a self-contained static folder that any static host serves as is
// (Pagefind's shape: the UI written next to the index in one run):
//   index.html                 the page: one <nft-lens> tag, strict CSP in a meta tag
//   site.css, site.js          its few styles, and the registration of the offline service worker
//   nft-lens-sw.js             the widget's service worker (web/src/sw.js) at the root it controls
//   nft-lens/src/, dist/       the widget, its worker, the wasm core, onnxruntime-web's runtime
//   bundle/                    the bundle's files (checked against its manifest first)
//   _headers                   MIME types, CSP and caching for hosts that read it (Netlify, Cloudflare Pages)
//   README.md                  how to serve it, with the sizes measured here
//   LICENSE, THIRD_PARTY_NOTICES.md
// Every text, wasm and binary file (but thumbnail packs) that compresses by at least 5% gets
// precompressed .gz and .br siblings (for nginx gzip_static/brotli_static, Caddy `precompressed`, ...). The folder is built
// beside DIR and swapped in at the end, so an interrupted run leaves an earlier site whole; DIR
// must be empty, absent or an earlier site (it holds the `.nftlens-site` marker).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "bundle_io.h"
#include "commands.h"
#include "compress.h"
#include "error.h"
#include "html_escape.h"
#include "sha256.h"

namespace fs = std::filesystem;

namespace nftlens {
namespace {

constexpr const char* kMarker = ".nftlens-site";
constexpr const char* kCsp =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self' https: data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'";

// The repository's web/ folder: --web, else next to the binary (build/native/bin -> ../../../web).
fs::path find_web(const std::string& given) {
  fs::path web = given;
  if (web.empty()) {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) web = fs::path(std::string(buf, size_t(n))).parent_path() / ".." / ".." / ".." / "web";
  }
  for (const char* need : {"src/nft-lens-element.js", "src/worker.js", "dist/nftlens-core.js", "dist/nftlens-core.wasm", "dist/ort"})
    if (!fs::exists(web / need))
      throw Error((web / need).string() + ": missing (the widget and its runtime; build them with scripts/setup, or pass --web DIR)");
  return fs::weakly_canonical(web);
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  write_file_atomic(p, text.data(), text.size(), false);
}

// Thumbnail packs, and the files of shards and catalogue fragments (partition table version 4), are
// read by byte range, which must address the file itself: never precompressed.
bool compressible(const fs::path& p) {
  for (const char* ranged : {"thumbs.", "shards.", "tokens."})
    if (p.filename().string().rfind(ranged, 0) == 0) return false;
  static const char* exts[] = {".html", ".css", ".js", ".mjs", ".json", ".wasm", ".bin", ".onnx", ".md", ".txt", ".svg"};
  const std::string e = p.extension().string();
  return std::find(std::begin(exts), std::end(exts), e) != std::end(exts);
}

std::string mb(uint64_t b) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(2) << double(b) / 1e6 << " MB";
  return o.str();
}

}  // namespace

int run_site(const SiteArgs& a) {
  const fs::path bundle = a.bundle, out = fs::path(a.out).lexically_normal();
  if (out.empty() || out == "." || out == "/") throw Error("--out must name a folder for the site", errc::bad_request);
  // 1. The bundle must be whole: every listed file, and every shard and fragment, checked.
  Bundle b = load_bundle_dir(bundle);
  load_directory_file(b, bundle);  // (partition table version 5: where the fragments are)
  std::vector<std::string> files{"manifest.json"};
  auto check = [&](const std::string& name, uint64_t listed_bytes, const auto& verify) {
    const auto bytes = read_bytes(bundle / name, listed_bytes + 1);  // (one more: a longer file is named by the check)
    verify(bytes);
    files.push_back(name);
  };
  for (auto& f : b.manifest.files) check(f.name, f.bytes, [&](const std::vector<uint8_t>& x) { verify_file(f, x.data(), x.size()); });
  if (b.partitioned()) {
    for (const auto& gfs : {b.layout.shard_files(), b.layout.fragment_files()})  // (whole files: their parts are checked by verify)
      for (const auto& g : gfs) check(g.name, g.file.bytes, [&](const std::vector<uint8_t>& x) { verify_part(g.file, g.name, x.data(), x.size()); });
    if (b.layout.has_directory()) {  // (version 5) the directory and the thumbnail packs the table lists
      const PartFile& d = b.layout.directory;
      check(d.name("directory"), d.bytes, [&](const std::vector<uint8_t>& x) { verify_part(d, d.name("directory"), x.data(), x.size()); });
      for (auto& p : b.layout.packs) check(p.name("thumbs"), p.bytes, [&](const std::vector<uint8_t>& x) { verify_part(p, p.name("thumbs"), x.data(), x.size()); });
    }
    if (b.layout.has_words()) {  // the word index
      const PartFile& l = b.layout.lexicon;
      check(l.name("lexicon"), l.bytes, [&](const std::vector<uint8_t>& x) { verify_part(l, l.name("lexicon"), x.data(), x.size()); });
      for (auto& w : b.layout.words) check(w.name("words"), w.bytes, [&](const std::vector<uint8_t>& x) { verify_part(w, w.name("words"), x.data(), x.size()); });
    }
  }
  const fs::path web = find_web(a.web);
  if (fs::exists(out) && !fs::is_empty(out) && !fs::exists(out / kMarker))
    throw Error(out.string() + ": exists and is not an earlier NFT Lens site (not replaced; choose another --out)");

  // 2. Everything into a fresh folder beside the target.
  const fs::path tmp = out.parent_path() / (out.filename().string() + ".new-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    fs::create_directories(tmp / "bundle");
    for (auto& n : files) fs::copy_file(bundle / n, tmp / "bundle" / n);
    fs::create_directories(tmp / "nft-lens");
    fs::copy(web / "src", tmp / "nft-lens" / "src", fs::copy_options::recursive);
    fs::create_directories(tmp / "nft-lens" / "dist");
    for (const char* f : {"nftlens-core.js", "nftlens-core.wasm"}) fs::copy_file(web / "dist" / f, tmp / "nft-lens" / "dist" / f);
    fs::copy(web / "dist" / "ort", tmp / "nft-lens" / "dist" / "ort", fs::copy_options::recursive);
    const fs::path root = web.parent_path();
    for (const char* f : {"LICENSE", "THIRD_PARTY_NOTICES.md"})
      if (fs::exists(root / f)) fs::copy_file(root / f, tmp / f);

    std::string names;
    for (auto& c : b.catalogue.collections) names += (names.empty() ? "" : ", ") + c.name;
    const std::string title = names.empty() ? "NFT Lens" : "NFT Lens: " + names;
    write(tmp / "index.html",
          "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"" + std::string(kCsp) + "\">\n"
          "<title>" + html_escape(title) + "</title>\n<link rel=\"stylesheet\" href=\"site.css\">\n"
          "<script type=\"module\" src=\"nft-lens/src/nft-lens-element.js\"></script>\n"
          "<script type=\"module\" src=\"site.js\"></script>\n</head>\n<body>\n<main>\n"
          "<h1>" + html_escape(title) + "</h1>\n"
          "<p>Drop, paste or choose an image of an NFT to learn which token it is. It is identified in this browser and never uploaded.</p>\n"
          "<nft-lens bundle=\"bundle/\"></nft-lens>\n</main>\n</body>\n</html>\n");
    write(tmp / "site.css",
          "body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1f; background: #fafafa; }\n"
          "main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }\n"
          "h1 { font-size: 1.6rem; margin: 0 0 .25rem; }\n"
          "@media (prefers-color-scheme: dark) { body { color: #ececf1; background: #141417; } }\n");
    // After one visit the page works offline: the service worker keeps what it served, and the widget
    // then fetches the runtime and model on idle (web/README.md, "Offline").
    fs::copy_file(web / "src" / "sw.js", tmp / "nft-lens-sw.js");
    write(tmp / "site.js",
          "// Offline after one visit (nft-lens-sw.js: the widget's service worker, at the root it controls).\n"
          "if ('serviceWorker' in navigator) navigator.serviceWorker.register('nft-lens-sw.js').catch(() => {});\n");
    write(tmp / "_headers",
          "# Netlify / Cloudflare Pages: headers per path (other hosts: see README.md)\n"
          "/*\n  Content-Security-Policy: " + std::string(kCsp) + "\n  X-Content-Type-Options: nosniff\n  Referrer-Policy: no-referrer\n"
          "/*.wasm\n  Content-Type: application/wasm\n"
          "/*.mjs\n  Content-Type: text/javascript\n"
          "/bundle/manifest.json\n  Cache-Control: no-cache\n"
          "/bundle/*.bin\n  Cache-Control: public, max-age=31536000, immutable\n"
          "/bundle/*.onnx\n  Cache-Control: public, max-age=31536000, immutable\n  Content-Type: application/octet-stream\n"
          "/bundle/stats-*\n  Cache-Control: public, max-age=31536000, immutable\n"
          "/nft-lens/*\n  Cache-Control: public, max-age=3600\n"
          "/nft-lens-sw.js\n  Cache-Control: no-cache\n");

    // 3. Precompressed siblings, and the sizes the README states.
    uint64_t raw = 0, gz = 0, br = 0, nfiles = 0;
    std::vector<fs::path> all;
    for (auto& e : fs::recursive_directory_iterator(tmp))
      if (e.is_regular_file()) all.push_back(e.path());
    std::sort(all.begin(), all.end());
    for (const fs::path& p : all) {
      const auto bytes = read_bytes(p);
      raw += bytes.size();
      ++nfiles;
      uint64_t g = bytes.size(), r = bytes.size();
      if (compressible(p) && bytes.size() >= 256) {
        const auto gzb = gzip_bytes(bytes), brb = brotli_bytes(bytes);
        if (gzb.size() * 20 <= bytes.size() * 19) {  // (at least 5% smaller, else not worth a file)
          write_file_atomic(p.string() + ".gz", gzb.data(), gzb.size(), false);
          g = gzb.size();
        }
        if (brb.size() * 20 <= bytes.size() * 19) {
          write_file_atomic(p.string() + ".br", brb.data(), brb.size(), false);
          r = brb.size();
        }
      }
      gz += g;
      br += r;
    }
    const uint64_t model = b.manifest.file("model").bytes;
    std::ostringstream readme;
    readme << "# " << title << "\n\n"
           << "A static site made by `nftlens site` (NFT Lens " NFTLENS_VERSION "). Serve this folder as it is with any static\n"
           << "web server, e.g. `python3 -m http.server -d .` and open http://localhost:8000/. Images are identified in\n"
           << "the visitor's browser (a Web Worker runs the model with onnxruntime-web and searches the bundle with a\n"
           << "WebAssembly core); nothing is uploaded.\n\n"
           << "| | |\n| --- | --- |\n"
           << "| files | " << nfiles << " (plus .gz/.br siblings) |\n"
           << "| size | " << mb(raw) << " raw, " << mb(gz) << " gzip, " << mb(br) << " brotli |\n"
           << "| tokens | " << b.manifest.tokens << " in " << b.catalogue.collections.size() << " collection(s) |\n"
           << "| model | " << mb(model) << " (bundle/" << b.manifest.file("model").name << ") |\n\n"
           << "## Serving notes\n\n"
           << "- **MIME types**: `.wasm` must be `application/wasm` and `.mjs`/`.js` `text/javascript` (module scripts\n"
           << "  are refused otherwise). `_headers` sets them on Netlify and Cloudflare Pages; Python, nginx and Caddy\n"
           << "  know them.\n"
           << "- **Content-Security-Policy**: `index.html` carries `" << kCsp << "`\n"
           << "  in a meta tag; `_headers` sends it as a header too.\n"
           << "- **Caching**: every file under `bundle/` except `manifest.json` has a content hash in its name: cache it\n"
           << "  forever (`immutable`); `manifest.json` must be revalidated (`no-cache`). `_headers` says so.\n"
           << "- **Byte ranges**: result thumbnails are read from `bundle/thumbs.*.bin` packs by HTTP Range; a server\n"
           << "  without Range support (like `python3 -m http.server`) still works, the browser then downloads whole packs.\n"
           << "- **Precompressed files**: `*.gz` and `*.br` sit beside every file they shrink by 5% or more. Let the\n"
           << "  server use them (nginx `gzip_static on; brotli_static on;`, Caddy `file_server { precompressed br gzip }`);\n"
           << "  Cloudflare Pages and Netlify compress on their own and ignore them. Do not serve thumbnail packs with\n"
           << "  a Content-Encoding (byte ranges must address the file itself; they do not compress anyway).\n"
           << "- **Offline**: `site.js` registers `nft-lens-sw.js`, which keeps what it serves; after one visit the\n"
           << "  page, the widget and the bundle work without a network (the widget fetches the runtime and model\n"
           << "  on idle once the service worker controls the page). Delete `site.js`'s line to opt out.\n"
           << "- **File count**: " << nfiles << " files without the siblings (static hosts cap files per deployment, e.g.\n"
           << "  Cloudflare Pages at 20,000).\n\n"
           << "Licences: `LICENSE` (NFT Lens) and `THIRD_PARTY_NOTICES.md` (onnxruntime-web and the libraries compiled in).\n";
    write(tmp / "README.md", readme.str());
    write(tmp / kMarker, "made by nftlens site from " + fs::weakly_canonical(bundle).string() + "\n");

    // 4. Swap in: an earlier site goes only once the new one is complete.
    const int dfd = ::open(tmp.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { ::syncfs(dfd); ::close(dfd); }
    const fs::path old = out.parent_path() / (out.filename().string() + ".old-" + std::to_string(::getpid()));
    if (fs::exists(out)) fs::rename(out, old);
    fs::rename(tmp, out);
    fs::remove_all(old);
    std::cerr << "site: " << out.string() << " (" << nfiles << " files, " << mb(raw) << " raw, " << mb(gz) << " gzip, " << mb(br)
              << " brotli; serve it with any static server, e.g. python3 -m http.server -d " << out.string() << ")\n";
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  return 0;
}

}  // namespace nftlens
