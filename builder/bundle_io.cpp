#include "bundle_io.h"

#include <fstream>
#include <set>
#include <unistd.h>
#include <fcntl.h>

#include "error.h"
#include "sha256.h"

namespace fs = std::filesystem;

namespace nftlens {

std::vector<uint8_t> read_bytes(const fs::path& p, size_t limit) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  if (!f) throw Error(p.string() + ": cannot open");
  const auto size = f.tellg();
  if (size < 0) throw Error(p.string() + ": cannot read");
  if (size_t(size) > limit) throw Error(p.string() + ": larger than " + std::to_string(limit) + " bytes");
  std::vector<uint8_t> out(static_cast<size_t>(size));
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(out.data()), size)) throw Error(p.string() + ": read failed");
  return out;
}

void write_file_atomic(const fs::path& p, const void* data, size_t size, bool sync) {
  const fs::path tmp = p.string() + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error(tmp.string() + ": cannot create");
  const char* c = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, c + done, size - done);
    if (n <= 0) { ::close(fd); fs::remove(tmp); throw Error(tmp.string() + ": write failed (disk full?)"); }
    done += size_t(n);
  }
  if (sync) ::fsync(fd);
  ::close(fd);
  fs::rename(tmp, p);
}

std::string safe_file_part(const std::string& s) {
  std::string o;
  for (char ch : s) o += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_') ? ch : '_';
  return o.substr(0, 80);
}

Bundle load_bundle_dir(const fs::path& dir) {
  const fs::path mpath = dir / "manifest.json";
  if (!fs::exists(mpath)) throw Error(mpath.string() + ": missing (is " + dir.string() + " a bundle folder?)");
  const auto mb = read_bytes(mpath, 64 << 20);
  Manifest m = parse_manifest(std::string(mb.begin(), mb.end()));
  std::map<std::string, std::vector<uint8_t>> files;
  for (const char* role : {"recipe", "index", "catalogue", "windows", "style", "partitions"}) {  // (parts: when a query needs them)
    if (!m.has(role)) continue;
    const FileEntry& f = m.file(role);
    const fs::path p = dir / f.name;
    if (!fs::exists(p)) throw Error(p.string() + ": missing (listed in manifest.json)");
    files[role] = read_bytes(p, f.bytes + 1);
  }
  return load_bundle(m, files);
}

void load_directory_file(Bundle& b, const fs::path& dir) {
  if (!b.partitioned() || !b.layout.has_directory() || b.layout.directory_loaded()) return;
  const fs::path p = dir / b.layout.directory.name("directory");
  if (!fs::exists(p)) throw Error(p.string() + ": missing (listed in the partition table)");
  const auto bytes = read_bytes(p, size_t(b.layout.directory.bytes) + 1);  // (a wrong size is named by the check)
  b.layout.load_directory(bytes.data(), bytes.size());
}

namespace {
// Same name = same content, unless the file on disk was damaged: check before reusing it.
void write_hashed_file(const fs::path& p, const std::string& sha, const std::vector<uint8_t>& bytes) {
  const bool intact = fs::exists(p) && fs::file_size(p) == bytes.size() && [&] {
    const auto old = read_bytes(p, bytes.size());
    return sha256_hex(old.data(), old.size()) == sha;
  }();
  if (!intact) write_file_atomic(p, bytes.data(), bytes.size());
}
FileEntry hashed_entry(const std::string& role, const std::string& stem, const std::string& ext, const std::vector<uint8_t>& bytes) {
  FileEntry f{role, "", sha256_hex(bytes.data(), bytes.size()), bytes.size()};
  f.name = hashed_name(stem, ext, f.sha256);
  return f;
}
}  // namespace

FileEntry write_pack_file(const fs::path& dir, const std::vector<uint8_t>& bytes) {
  fs::create_directories(dir);
  const FileEntry f = hashed_entry("thumbs", "thumbs", "bin", bytes);
  write_hashed_file(dir / f.name, f.sha256, bytes);
  return f;
}

std::string write_bundle_dir(const fs::path& dir, ModelCard card, const Recipe& recipe, const CodeIndex& index,
                             const Catalogue& catalogue, const BundleParts& parts) {
  fs::create_directories(dir);
  std::vector<FileEntry> files;
  std::set<std::string> keep{"manifest.json"};
  auto write_hashed = [&](const std::string& name, const std::string& sha, const std::vector<uint8_t>& bytes) {
    write_hashed_file(dir / name, sha, bytes);
    keep.insert(name);
  };
  auto put = [&](const std::string& role, const std::string& stem, const std::string& ext, const std::vector<uint8_t>& bytes) {
    const FileEntry f = hashed_entry(role, stem, ext, bytes);
    write_hashed(f.name, f.sha256, bytes);
    files.push_back(f);
    return f;
  };
  const FileEntry mf = put("model", "model", "onnx", parts.model);
  card.file = mf.name;
  card.sha256 = mf.sha256;
  card.bytes = (long long)mf.bytes;
  put("recipe", "recipe", "bin", parts.recipe);
  if (parts.layout) {  // partitioned: shards and fragments are listed in the partition table
    // (one file per group of parts in table version 4, as the table lists them; else one per part)
    for (const auto& [files_of, bytes_of] : {std::pair{parts.layout->shard_files(), &parts.shards}, std::pair{parts.layout->fragment_files(), &parts.fragments}})
      for (const auto& g : files_of) {
        const std::vector<uint8_t> bytes = join_parts(*bytes_of, g.first_part, g.parts);
        write_hashed(g.name, sha256_hex(bytes.data(), bytes.size()), bytes);
      }
    if (!parts.directory.empty())
      write_hashed(parts.layout->directory.name("directory"), sha256_hex(parts.directory.data(), parts.directory.size()), parts.directory);
    if (!parts.lexicon.empty())
      write_hashed(parts.layout->lexicon.name("lexicon"), sha256_hex(parts.lexicon.data(), parts.lexicon.size()), parts.lexicon);
    for (size_t w = 0; w < parts.words.size(); ++w)
      write_hashed(parts.layout->words.at(w).name("words"), sha256_hex(parts.words[w].data(), parts.words[w].size()), parts.words[w]);
    put("partitions", "partitions", "bin", parts.partitions);
  } else {
    put("index", "index", "bin", parts.index);
  }
  put("catalogue", "catalogue", "bin", parts.catalogue);
  if (!parts.windows.empty()) put("windows", "windows", "bin", parts.windows);
  if (!parts.parts.empty()) put("parts", "parts", "bin", parts.parts);
  for (const auto& pack : parts.packs) put("thumbs", "thumbs", "bin", pack);
  for (const auto& f : parts.written_packs) {  // (written by write_pack_file; table version 5 lists them, not the manifest)
    if (!parts.layout || parts.layout->version < 5) files.push_back(f);
    keep.insert(f.name);
  }
  for (const auto& [slug, json] : parts.stats) put("stats", "stats-" + safe_file_part(slug), "json", json);
  const std::string manifest = make_manifest_json(card, recipe, index, catalogue, files, "nftlens " NFTLENS_VERSION, parts.layout);
  write_file_atomic(dir / "manifest.json", manifest.data(), manifest.size());  // commit point
  for (auto& e : fs::directory_iterator(dir))  // garbage-collect files of earlier bundles
    if (e.is_regular_file() && !keep.count(e.path().filename().string())) {
      const std::string n = e.path().filename().string();
      for (const char* stem : {"model.", "recipe.", "index.", "catalogue.", "windows.", "parts.", "style.", "partitions.", "directory.", "shard.", "shards.", "tokens.", "lexicon.", "words.", "thumbs.", "stats-"})
        if (n.rfind(stem, 0) == 0) { fs::remove(e.path()); break; }
    }
  for (const char* old : {"thumbs", "stats"})  // bundle format 1 kept these as folders of loose files
    if (fs::is_directory(dir / old)) fs::remove_all(dir / old);
  return manifest;
}

}  // namespace nftlens
