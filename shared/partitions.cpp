#include "partitions.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include "bundle.h"
#include "byte_io.h"
#include "distance.h"
#include "error.h"
#include "sha256.h"
#include "thumb_pack.h"
#include "word_chunks.h"

namespace nftlens {
namespace {
constexpr uint32_t kLayoutMagic = 0x5450414e, kShardMagic = 0x4853414e, kDirectoryMagic = 0x5244414e;  // "NAPT", "NASH", "NADR"
constexpr uint32_t kVersion = 5;  // 2: the word index (lexicon + chunks) after the fragments; 3: centroids in 4 bits;
                                  // 4: shards and fragments in group files, 64-bit part digests;
                                  // 5: the fragments in the directory and carried by the shards, the packs here
constexpr uint32_t kShardVersion = 2;  // 2: codes as 4-bit indices into 16 levels per dimension (under a version 5 table,
                                       // the carried fragment entries follow)
constexpr uint32_t kDirectoryVersion = 1;
constexpr uint32_t kMaxFragments = uint32_t(1) << 20;  // (32M tokens at the default 32 per fragment)

// The first 128 bits of a SHA-256 given in hex (of one buffer, or of parts hashed one after another).
std::array<uint8_t, 16> digest_of_hex(const std::string& hex) {
  std::array<uint8_t, 16> d{};
  auto nibble = [](char c) { return uint8_t(c <= '9' ? c - '0' : c - 'a' + 10); };
  for (size_t i = 0; i < 16; ++i) d[i] = uint8_t(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return d;
}
std::array<uint8_t, 16> digest_of(const uint8_t* data, size_t size) { return digest_of_hex(sha256_hex(data, size)); }

// A part: its size (varint), then the first `digest_bytes` bytes of its SHA-256 (16; 8 since version 4).
void write_part(ByteWriter& w, const PartFile& f, size_t digest_bytes) {
  w.varint(f.bytes);
  w.bytes(f.digest.data(), digest_bytes);
}
PartFile read_part(ByteReader& r, size_t digest_bytes) {
  PartFile f;
  f.bytes = r.varint();
  if (f.bytes > (uint64_t(1) << 40)) throw Error(r.where + ": a part of " + std::to_string(f.bytes) + " bytes");
  r.need(digest_bytes);
  std::copy(r.p + r.pos, r.p + r.pos + digest_bytes, f.digest.begin());
  r.pos += digest_bytes;
  f.digest_bytes = uint8_t(digest_bytes);
  return f;
}
}  // namespace

std::string PartPlace::label(const char* what, uint32_t id) const {
  if (!ranged) return file;
  return file + " (" + what + " " + std::to_string(id) + ", bytes " + std::to_string(offset) + "-" + std::to_string(offset + bytes - 1) + ")";
}

PartPlace PartitionLayout::shard_place(uint32_t p) const {
  const PartFile& s = shards.at(p);
  if (!grouped()) return {s.name("shard"), 0, s.bytes, false};
  return {shard_groups.at(shard_group_.at(p)).file.name("shards"), shard_offsets_.at(p), s.bytes, true};
}

PartPlace PartitionLayout::fragment_place(uint32_t f) const {
  const PartFile& x = fragments.at(f);
  if (!grouped()) return {x.name("tokens"), 0, x.bytes, false};
  if (!fragment_known(f))
    throw Error("catalogue fragment " + std::to_string(f) + ": its place is not known yet (from a shard that carries it, or the directory)", errc::bad_request);
  return {fragment_file_.at(f).name("tokens"), fragment_offsets_.at(f), x.bytes, true};
}

bool FragmentEntry::operator==(const FragmentEntry& o) const {
  auto same = [](const PartFile& a, const PartFile& b) {
    const size_t n = std::min(a.digest_bytes, b.digest_bytes);  // (the builder's 128 bits against the 64 a reader has)
    return a.bytes == b.bytes && std::equal(a.digest.begin(), a.digest.begin() + long(n), b.digest.begin());
  };
  return same(file, o.file) && offset == o.offset && same(part, o.part);
}

FragmentEntry PartitionLayout::fragment_entry(uint32_t f) const {
  if (!fragment_known(f)) throw Error("catalogue fragment " + std::to_string(f) + ": not known");
  return {fragment_file_.at(f), fragment_offsets_.at(f), fragments[f]};
}

void PartitionLayout::learn_fragments(const std::vector<std::pair<uint32_t, FragmentEntry>>& entries, const std::string& where) {
  for (const auto& [f, e] : entries)  // (all checked before any is learnt: a refused shard changes nothing)
    if (f >= fragments.size() || (fragment_known(f) && !(fragment_entry(f) == e))) learn_fragment(f, e, where);  // (throws, naming it)
  for (const auto& [f, e] : entries) learn_fragment(f, e, where);
}

void PartitionLayout::learn_fragment(uint32_t f, const FragmentEntry& e, const std::string& where) {
  if (f >= fragments.size()) throw Error(where + ": carries catalogue fragment " + std::to_string(f) + ", which the partition table does not have", errc::bad_bundle);
  if (fragment_known(f)) {
    if (!(fragment_entry(f) == e))
      throw Error(where + ": places catalogue fragment " + std::to_string(f) + " unlike the rest of the bundle (files from two builds?)", errc::bad_bundle);
    return;
  }
  fragments[f] = e.part;
  fragment_file_.at(f) = e.file;
  fragment_offsets_.at(f) = e.offset;
}

namespace {
std::vector<PartitionLayout::GroupFile> group_files(const std::vector<PartGroup>& groups, const std::vector<PartFile>& parts, const char* single, const char* grouped) {
  std::vector<PartitionLayout::GroupFile> out;
  if (groups.empty()) {
    for (uint32_t i = 0; i < parts.size(); ++i) out.push_back({parts[i].name(single), parts[i], i, 1});
    return out;
  }
  uint32_t first = 0;
  for (auto& g : groups) {
    out.push_back({g.file.name(grouped), g.file, first, g.parts});
    first += g.parts;
  }
  return out;
}
}  // namespace

std::vector<PartitionLayout::GroupFile> PartitionLayout::shard_files() const { return group_files(shard_groups, shards, "shard", "shards"); }
std::vector<PartitionLayout::GroupFile> PartitionLayout::fragment_files() const {
  if (version >= 5 && fragment_groups.empty()) throw Error("the fragments' files are in the directory, which is not loaded", errc::bad_request);
  return group_files(fragment_groups, fragments, "tokens", "tokens");
}

std::string PartFile::name(const char* stem) const {
  static const char* hexd = "0123456789abcdef";
  std::string h;
  for (size_t i = 0; i < 8; ++i) { h += hexd[digest[i] >> 4]; h += hexd[digest[i] & 15]; }
  return std::string(stem) + "." + h + ".bin";
}

PartFile describe_part(const std::vector<uint8_t>& bytes) { return PartFile{bytes.size(), digest_of(bytes.data(), bytes.size())}; }
PartFile describe_file(uint64_t bytes, const std::string& sha256_hex) { return PartFile{bytes, digest_of_hex(sha256_hex)}; }

PartFile describe_parts(const std::vector<std::vector<uint8_t>>& parts, size_t first, size_t count) {
  Sha256 h;
  PartFile f;
  for (size_t i = first; i < first + count; ++i) { h.update(parts.at(i).data(), parts[i].size()); f.bytes += parts[i].size(); }
  f.digest = digest_of_hex(h.hex_digest());
  return f;
}

std::vector<uint8_t> join_parts(const std::vector<std::vector<uint8_t>>& parts, size_t first, size_t count) {
  std::vector<uint8_t> out;
  for (size_t i = first; i < first + count; ++i) out.insert(out.end(), parts.at(i).begin(), parts[i].end());
  return out;
}

void verify_part(const PartFile& f, const std::string& name, const uint8_t* data, size_t size) {
  if (size != f.bytes)
    throw Error(name + ": size is " + std::to_string(size) + " bytes, the partition table says " + std::to_string(f.bytes) + " (truncated or from another bundle)");
  const auto d = digest_of(data, size);
  if (!std::equal(d.begin(), d.begin() + f.digest_bytes, f.digest.begin()))
    throw Error(name + ": SHA-256 does not match the partition table (corrupt or from another bundle)");
}

uint64_t PartitionLayout::tokens() const { return std::accumulate(counts.begin(), counts.end(), uint64_t(0)); }

void PartitionLayout::index_firsts() {
  firsts_.assign(counts.size(), 0);
  uint64_t at = 0;
  for (size_t p = 0; p < counts.size(); ++p) { firsts_[p] = uint32_t(at); at += counts[p]; }
  auto place = [](const std::vector<PartGroup>& groups, const std::vector<PartFile>& parts, std::vector<uint64_t>& offsets, std::vector<uint32_t>* group,
                  std::vector<PartFile>* file) {
    offsets.assign(parts.size(), 0);
    if (group) group->assign(parts.size(), 0);
    if (file) file->assign(parts.size(), PartFile{});
    size_t i = 0;
    for (uint32_t g = 0; g < groups.size(); ++g) {
      uint64_t off = 0;
      for (uint32_t k = 0; k < groups[g].parts && i < parts.size(); ++k, ++i) {
        offsets[i] = off;
        if (group) (*group)[i] = g;
        if (file) (*file)[i] = groups[g].file;
        off += parts[i].bytes;
      }
    }
  };
  place(shard_groups, shards, shard_offsets_, &shard_group_, nullptr);
  place(fragment_groups, fragments, fragment_offsets_, nullptr, &fragment_file_);  // (version 5: none until the directory)
}

// 16 levels per dimension (shards since version 2, centroids since table version 3).
namespace {
constexpr size_t kLevels = 16;

// The level nearest to x (the first of equals).
size_t nearest_level(const std::array<int8_t, kLevels>& levels, int x) {
  size_t best = 0;
  for (size_t l = 1; l < kLevels; ++l)
    if (std::abs(int(levels[l]) - x) < std::abs(int(levels[best]) - x)) best = l;
  return best;
}

std::array<int8_t, kLevels> fit_levels(std::vector<int>& v) {
  std::sort(v.begin(), v.end());
  std::vector<int> distinct(v);
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::array<int8_t, kLevels> out{};
  if (distinct.empty()) return out;
  if (distinct.size() <= kLevels) {
    for (size_t l = 0; l < kLevels; ++l) out[l] = int8_t(distinct[std::min(l, distinct.size() - 1)]);
    return out;
  }
  std::array<double, kLevels> c{};
  for (size_t l = 0; l < kLevels; ++l) c[l] = v.front() + (double(v.back()) - v.front()) * double(l) / double(kLevels - 1);  // even steps, then refined
  const std::array<double, kLevels> even_steps = c;
  for (int it = 0; it < 30; ++it) {  // v is sorted: each level takes a run of values between midpoints
    std::array<double, kLevels> sum{};
    std::array<size_t, kLevels> n{};
    size_t l = 0;
    for (int x : v) {
      while (l + 1 < kLevels && double(x) > (c[l] + c[l + 1]) / 2) ++l;
      sum[l] += x;
      ++n[l];
    }
    bool moved = false;
    for (size_t k = 0; k < kLevels; ++k)
      if (n[k] && std::abs(sum[k] / double(n[k]) - c[k]) > 1e-3) { c[k] = sum[k] / double(n[k]); moved = true; }
    std::sort(c.begin(), c.end());
    if (!moved) break;
  }
  // Levels are whole code values; keep the fitted ones only if they beat even steps once rounded.
  auto rounded = [](const std::array<double, kLevels>& x) {
    std::array<int8_t, kLevels> r{};
    for (size_t l = 0; l < kLevels; ++l) r[l] = int8_t(std::clamp(int(std::lround(x[l])), -128, 127));
    std::sort(r.begin(), r.end());
    return r;
  };
  auto error = [&](const std::array<int8_t, kLevels>& r) {
    double e = 0;
    for (int x : v) {
      const int miss = x - int(r[nearest_level(r, x)]);
      e += double(miss) * miss;
    }
    return e;
  };
  out = rounded(c);
  const auto even = rounded(even_steps);
  return error(even) < error(out) ? even : out;
}

// `rows` x `dim` values (row-major) in 4 bits: per dimension its 16 levels fitted to the values
// (int8, ascending; exact where a dimension has at most 16 values), then each value's level index,
// two per byte, value by value (ceil(rows*dim/2) bytes). Shards and centroids alike.
void write_4bit(ByteWriter& w, const int8_t* values, size_t rows, size_t dim) {
  std::vector<uint8_t> packed((rows * dim + 1) / 2, 0);
  std::vector<int> column(rows);
  for (size_t d = 0; d < dim; ++d) {
    for (size_t i = 0; i < rows; ++i) column[i] = values[i * dim + d];
    const auto levels = fit_levels(column);
    w.bytes(levels.data(), kLevels);
    for (size_t i = 0; i < rows; ++i) {
      const size_t k = i * dim + d;
      packed[k / 2] |= uint8_t(nearest_level(levels, values[k]) << (4 * (k % 2)));
    }
  }
  w.bytes(packed.data(), packed.size());
}
size_t bytes_4bit(size_t rows, size_t dim) { return dim * kLevels + (rows * dim + 1) / 2; }
// write_4bit's values back (the caller has checked that bytes_4bit(rows, dim) bytes are there).
std::vector<int8_t> read_4bit(ByteReader& r, size_t rows, size_t dim) {
  const uint8_t* levels = r.p + r.pos;
  const uint8_t* packed = levels + dim * kLevels;
  std::vector<int8_t> values(rows * dim);
  for (size_t k = 0; k < values.size(); ++k) values[k] = int8_t(levels[(k % dim) * kLevels + ((packed[k / 2] >> (4 * (k % 2))) & 15)]);
  r.pos += bytes_4bit(rows, dim);
  return values;
}
}  // namespace

std::vector<uint32_t> PartitionLayout::probe(const std::vector<std::vector<int8_t>>& queries, size_t n) const {
  const L2Int8Fn fn = best_l2_int8();
  std::vector<std::pair<int32_t, uint32_t>> d(partitions(), {INT32_MAX, 0});
  for (size_t p = 0; p < partitions(); ++p) {
    d[p].second = uint32_t(p);
    for (auto& q : queries) d[p].first = std::min(d[p].first, fn(q.data(), centroids.data() + p * size_t(dim), size_t(dim)));
  }
  n = std::min(n, d.size());
  std::partial_sort(d.begin(), d.begin() + long(n), d.end());
  std::vector<uint32_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = d[i].second;
  return out;
}

// Layout: magic, version, dim, default probe, fragment tokens, partitions P, fragments F (u32s);
// (version 4) the centroids' bits (u8: 4 or 8); centroids; per partition: count (varint) + shard;
// (before version 5) per fragment: its part; the word index; (version 4) the shard files, then the
// fragment files: their count, then per file the number of parts in it (varint) and the whole file;
// (version 5: only the shard files, then) the directory (a part), the catalogue's bytes (varint)
// and the thumbnail packs (count, then each as a part). A part is its
// size (varint) and SHA-256 prefix: 128 bits before version 4, 64 since (as thumbnails: the table
// is most of what a page loads at open, and a prefix only has to catch damage and mix-ups).
// Centroids: version 3 (where every dimension takes at most 16 values, as the builder's k-means
// leaves them) per dimension its 16 levels (int8, ascending), then 4-bit level indices, two per byte,
// centroid by centroid (ceil(P*dim/2) bytes): half the bytes of the int8 centroids of version 2,
// which other centroids still get. (At 1M tokens the table is most of what a page loads at open.)
std::vector<uint8_t> PartitionLayout::serialize() const {
  bool four_bit = dim > 0;  // (then write_4bit is exact)
  for (int d = 0; d < dim && four_bit; ++d) {
    std::vector<int> distinct;
    for (size_t p = 0; p < partitions(); ++p) distinct.push_back(centroids[p * size_t(dim) + size_t(d)]);
    std::sort(distinct.begin(), distinct.end());
    four_bit = std::unique(distinct.begin(), distinct.end()) - distinct.begin() <= long(kLevels);
  }
  ByteWriter w;
  const uint32_t version = grouped() ? (has_directory() ? 5 : 4) : four_bit ? 3 : 2;  // (4: a version 4 table read back)
  const size_t db = version >= 4 ? 8 : 16;
  w.u32(kLayoutMagic); w.u32(version); w.u32(uint32_t(dim)); w.u32(default_probe); w.u32(fragment_tokens);
  w.u32(uint32_t(partitions())); w.u32(uint32_t(fragments.size()));
  if (version >= 4) w.u8(four_bit ? 4 : 8);  // (the centroids' bits: version 4 says it, earlier ones by their number)
  if (four_bit) write_4bit(w, centroids.data(), partitions(), size_t(dim));
  else w.bytes(centroids.data(), centroids.size());
  for (size_t p = 0; p < partitions(); ++p) { w.varint(counts[p]); write_part(w, shards[p], db); }
  if (version < 5)
    for (auto& f : fragments) write_part(w, f, db);
  w.u8(has_words());
  if (has_words()) {
    write_part(w, lexicon, db);
    w.varint(words.size());
    for (auto& f : words) write_part(w, f, db);
  }
  if (version == 4)
    for (const auto* groups : {&shard_groups, &fragment_groups}) {
      w.varint(groups->size());
      for (auto& g : *groups) { w.varint(g.parts); write_part(w, g.file, db); }
    }
  if (version >= 5) {
    w.varint(shard_groups.size());
    for (auto& g : shard_groups) { w.varint(g.parts); write_part(w, g.file, db); }
    write_part(w, directory, db);
    w.varint(catalogue_bytes);
    w.varint(packs.size());
    for (auto& f : packs) write_part(w, f, db);
  }
  return std::move(w.out);
}

// The directory (table version 5): magic, version, fragments F (u32s); per fragment its part; the
// fragment files: their count, then per file the number of parts in it (varint) and the whole file.
std::vector<uint8_t> PartitionLayout::serialize_directory() const {
  ByteWriter w;
  w.u32(kDirectoryMagic); w.u32(kDirectoryVersion); w.u32(uint32_t(fragments.size()));
  for (auto& f : fragments) write_part(w, f, 8);
  w.varint(fragment_groups.size());
  for (auto& g : fragment_groups) { w.varint(g.parts); write_part(w, g.file, 8); }
  return std::move(w.out);
}

namespace {
// Groups of consecutive parts: each holds whole parts, together every part in order, and each file
// is the sum of its parts.
std::vector<PartGroup> read_groups(ByteReader& r, size_t db, const std::vector<PartFile>& parts, const char* what) {
  std::vector<PartGroup> groups;
  const std::string& where = r.where;
  const uint64_t G = r.count(db + 2);
  uint64_t covered = 0;
  for (uint64_t g = 0; g < G; ++g) {
    PartGroup x;
    const uint64_t n = r.varint();
    if (n == 0 || n > parts.size() - covered) throw Error(where + ": the " + what + " files do not hold the " + what + " in order");
    x.parts = uint32_t(n);
    x.file = read_part(r, db);
    uint64_t sum = 0;  // (each part <= 2^40 bytes, so no wrap before the check)
    for (uint64_t i = covered; i < covered + n && sum <= x.file.bytes; ++i) sum += parts[i].bytes;
    if (sum != x.file.bytes) throw Error(where + ": a " + what + " file's size is not the sum of its parts");
    covered += n;
    groups.push_back(x);
  }
  if (covered != parts.size()) throw Error(where + ": the " + what + " files do not hold every one of the " + what);
  return groups;
}
}  // namespace

void PartitionLayout::load_directory(const uint8_t* data, size_t size) {
  const std::string where = directory.name("directory");
  if (!has_directory()) throw Error("this partition table has no directory (version " + std::to_string(version) + ")", errc::bad_request);
  verify_part(directory, where, data, size);
  if (directory_loaded_) return;
  ByteReader r(data, size, where);
  if (size < 12 || r.u32() != kDirectoryMagic) throw Error(where + ": not an NFT Lens catalogue directory", errc::bad_bundle);
  if (const uint32_t v = r.u32(); v != kDirectoryVersion) throw Error(where + ": unsupported directory version " + std::to_string(v), errc::bad_bundle);
  if (r.u32() != fragments.size()) throw Error(where + ": fragment count does not match the partition table", errc::bad_bundle);
  std::vector<PartFile> parts;
  r.need(fragments.size() * 9);
  uint64_t sum = 0;
  for (size_t f = 0; f < fragments.size(); ++f) {
    parts.push_back(read_part(r, 8));
    if (parts.back().bytes == 0) throw Error(where + ": catalogue fragment " + std::to_string(f) + " is empty", errc::bad_bundle);
    sum += parts.back().bytes;
  }
  if (sum != catalogue_bytes) throw Error(where + ": the fragments' sizes do not add up to the partition table's catalogue size", errc::bad_bundle);
  std::vector<PartGroup> groups = read_groups(r, 8, parts, "fragment");
  if (!r.at_end()) throw Error(where + ": trailing bytes", errc::bad_bundle);
  // What shards carried so far must agree with it.
  PartitionLayout L;
  L.fragments = parts;
  L.fragment_groups = groups;
  L.index_firsts();
  for (uint32_t f = 0; f < fragments.size(); ++f)
    if (fragment_known(f) && !(fragment_entry(f) == L.fragment_entry(f)))
      throw Error(where + ": places catalogue fragment " + std::to_string(f) + " unlike the shard that carried it (files from two builds?)", errc::bad_bundle);
  fragments = std::move(parts);
  fragment_groups = std::move(groups);
  fragment_offsets_ = std::move(L.fragment_offsets_);
  fragment_file_ = std::move(L.fragment_file_);
  directory_loaded_ = true;
}

PartitionLayout PartitionLayout::deserialize(const uint8_t* data, size_t size, int expected_dim, uint64_t expected_tokens, const std::string& where) {
  ByteReader r(data, size, where);
  if (size < 28 || r.u32() != kLayoutMagic) throw Error(where + ": not an NFT Lens partition table");
  const uint32_t version = r.u32();
  if (version < 1 || version > kVersion) throw Error(where + ": unsupported partition table version " + std::to_string(version) + " (rebuild the bundle)");
  PartitionLayout L;
  L.version = version;
  L.dim = int(r.u32());
  if (L.dim != expected_dim) throw Error(where + ": centroid size does not match the descriptor size in manifest.json");
  L.default_probe = r.u32();
  L.fragment_tokens = r.u32();
  const uint32_t P = r.u32(), F = r.u32();
  if (P == 0 || L.fragment_tokens == 0 || L.default_probe == 0) throw Error(where + ": empty partition table");
  const size_t db = version >= 4 ? 8 : 16;
  bool four_bit = version == 3;
  if (version >= 4) {
    const uint8_t bits = r.u8();
    if (bits != 4 && bits != 8) throw Error(where + ": centroids of " + std::to_string(bits) + " bits");
    four_bit = bits == 4;
  }
  const uint64_t values = uint64_t(P) * uint64_t(L.dim);
  r.need((four_bit ? uint64_t(L.dim) * kLevels + (values + 1) / 2 : values) + uint64_t(P) * (db + 1) + (version < 5 ? uint64_t(F) * (db + 1) : 0));  // every part takes >= db + 1 bytes
  if (four_bit) {
    const uint8_t* lv = r.p + r.pos;
    for (size_t d = 0; d < size_t(L.dim); ++d)
      for (size_t l = 1; l < kLevels; ++l)
        if (int8_t(lv[d * kLevels + l]) < int8_t(lv[d * kLevels + l - 1])) throw Error(where + ": centroid levels out of order");
    L.centroids = read_4bit(r, P, size_t(L.dim));
  } else {
    L.centroids.assign(reinterpret_cast<const int8_t*>(r.p + r.pos), reinterpret_cast<const int8_t*>(r.p + r.pos) + size_t(values));
    r.pos += size_t(values);
  }
  for (uint32_t p = 0; p < P; ++p) {
    const uint64_t c = r.varint();
    if (c == 0 || c > expected_tokens) throw Error(where + ": partition " + std::to_string(p) + " has an impossible entry count");
    L.counts.push_back(uint32_t(c));
    L.shards.push_back(read_part(r, db));
    if (L.shards.back().bytes == 0) throw Error(where + ": shard " + std::to_string(p) + " is empty");
  }
  for (uint32_t f = 0; f < F && version < 5; ++f) {
    L.fragments.push_back(read_part(r, db));
    if (L.fragments.back().bytes == 0) throw Error(where + ": catalogue fragment " + std::to_string(f) + " is empty");
  }
  if (version >= 2 && r.u8() != 0) {  // (version 1: no word index; text search loads the whole catalogue)
    L.lexicon = read_part(r, db);
    const uint64_t W = r.count(db + 1);
    for (uint64_t i = 0; i < W; ++i) L.words.push_back(read_part(r, db));
    if (L.lexicon.bytes == 0) throw Error(where + ": empty word lexicon");
  }
  if (version >= 4) {  // the files: each holds whole parts, together every part in order, and is their sum
    L.shard_groups = read_groups(r, db, L.shards, "shard");
    if (version == 4) L.fragment_groups = read_groups(r, db, L.fragments, "fragment");
  }
  if (version >= 5) {
    L.directory = read_part(r, db);
    L.catalogue_bytes = r.varint();
    if (L.directory.bytes == 0 || L.catalogue_bytes == 0 || L.catalogue_bytes > (uint64_t(1) << 48)) throw Error(where + ": an empty directory or catalogue");
    const uint64_t packs = r.count(db + 1);
    for (uint64_t i = 0; i < packs; ++i) {
      L.packs.push_back(read_part(r, db));
      if (L.packs.back().bytes == 0) throw Error(where + ": thumbnail pack " + std::to_string(i) + " is empty");
    }
  } else {
    for (auto& f : L.fragments) L.catalogue_bytes += f.bytes;
  }
  if (!r.at_end()) throw Error(where + ": partition table has trailing bytes");
  if (L.tokens() != expected_tokens) throw Error(where + ": partitions hold " + std::to_string(L.tokens()) + " tokens, manifest.json says " + std::to_string(expected_tokens));
  if (uint64_t(F) != (expected_tokens + L.fragment_tokens - 1) / L.fragment_tokens) throw Error(where + ": catalogue fragment count does not match the token count");
  // (a version 5 table does not list its fragments, so its size does not bound their number: cap it)
  if (version >= 5 && F > kMaxFragments) throw Error(where + ": " + std::to_string(F) + " catalogue fragments, more than a reader takes (2^20)");
  if (version >= 5) L.fragments.assign(F, PartFile{0, {}, 8});  // (known once a shard carrying them, or the directory, is loaded)
  L.index_firsts();
  return L;
}

// Layout: magic, version, partition, first, count, dim (u32s); collection runs (varint pairs
// collection, length) covering count entries; per dimension its 16 levels (int8, ascending); the
// codes as 4-bit level indices, two per byte, entry by entry (ceil(count*dim/2) bytes).
// The levels are fitted to this partition's values (1-D k-means from 16 even steps over the range,
// kept if it beats them: less error where outliers stretch the range); a dimension with at most 16
// distinct values is stored exactly. A query fetches half the bytes of int8 codes; searches use the
// decoded codes, natively and in the browser alike.
// Under a table of version 5 the entries of the catalogue fragments overlapping the partition
// follow (carry_fragments): the first one's index and their number (varints), then per fragment
// its file (a part), its offset there (varint) and itself (a part). A shard is checked against the
// table before it is parsed, so what it carries is as trusted as the table.

std::vector<uint8_t> Shard::serialize(int dim) const {
  ByteWriter w;
  w.u32(kShardMagic); w.u32(kShardVersion); w.u32(partition); w.u32(first); w.u32(uint32_t(size())); w.u32(uint32_t(dim));
  std::vector<std::pair<uint32_t, uint32_t>> runs;
  for (uint32_t c : collection) {
    if (runs.empty() || runs.back().first != c) runs.push_back({c, 0});
    ++runs.back().second;
  }
  w.varint(runs.size());
  for (auto& [c, n] : runs) { w.varint(c); w.varint(n); }
  write_4bit(w, codes.data(), size(), size_t(dim));
  return std::move(w.out);
}

Shard Shard::deserialize(const uint8_t* data, size_t size, const PartitionLayout& L, uint32_t partition, size_t collections, const std::string& where) {
  ByteReader r(data, size, where);
  if (size < 24 || r.u32() != kShardMagic) throw Error(where + ": not an NFT Lens shard file");
  if (const uint32_t v = r.u32(); v != kShardVersion) throw Error(where + ": unsupported shard file version " + std::to_string(v) + " (rebuild the bundle)");
  Shard s;
  s.partition = r.u32();
  s.first = r.u32();
  const uint32_t n = r.u32(), dim = r.u32();
  if (s.partition != partition || s.first != L.first(partition) || n != L.counts.at(partition) || int(dim) != L.dim)
    throw Error(where + ": shard header does not match the partition table");
  const uint64_t runs = r.count(2);
  uint64_t covered = 0;
  for (uint64_t i = 0; i < runs; ++i) {
    const uint64_t c = r.varint(), len = r.varint();
    if (c >= collections || len == 0 || len > n - covered) throw Error(where + ": collection runs do not match the shard");
    covered += len;
    s.collection.insert(s.collection.end(), size_t(len), uint32_t(c));
  }
  if (covered != n) throw Error(where + ": collection runs do not cover the shard");
  const size_t bytes = bytes_4bit(n, dim);
  r.need(bytes);
  if (L.version < 5 && r.n - r.pos != bytes) throw Error(where + ": shard size does not match its header");
  s.codes = read_4bit(r, n, dim);
  if (L.version >= 5) {  // the carried entries: exactly the fragments overlapping [first, first + n)
    const uint64_t f0 = r.varint(), count = r.varint();
    const uint64_t want0 = s.first / L.fragment_tokens, want = (uint64_t(s.first) + n - 1) / L.fragment_tokens - want0 + 1;
    if (f0 != want0 || count != want) throw Error(where + ": the catalogue fragments it carries are not those of its partition");
    for (uint64_t i = 0; i < count; ++i) {
      FragmentEntry e;
      e.file = read_part(r, 8);
      e.offset = r.varint();
      e.part = read_part(r, 8);
      if (e.part.bytes == 0 || e.offset > e.file.bytes || e.part.bytes > e.file.bytes - e.offset)
        throw Error(where + ": carries a catalogue fragment outside its file");
      s.carried.emplace_back(uint32_t(f0 + i), e);
    }
  }
  if (!r.at_end()) throw Error(where + ": shard size does not match its header");
  return s;
}

std::vector<uint8_t> carry_fragments(const std::vector<uint8_t>& shard, const PartitionLayout& L, uint32_t p) {
  ByteWriter w;
  w.out = shard;
  const uint32_t f0 = L.first(p) / L.fragment_tokens, f1 = uint32_t((uint64_t(L.first(p)) + L.counts.at(p) - 1) / L.fragment_tokens);
  w.varint(f0);
  w.varint(f1 - f0 + 1);
  for (uint32_t f = f0; f <= f1; ++f) {
    const FragmentEntry e = L.fragment_entry(f);
    write_part(w, e.file, 8);
    w.varint(e.offset);
    write_part(w, e.part, 8);
  }
  return std::move(w.out);
}

void PartStore::add_shard(const PartitionLayout& L, size_t collections, uint32_t p, const uint8_t* data, size_t size) {
  if (p >= L.partitions()) throw Error("shard " + std::to_string(p) + ": no such partition");
  const std::string name = L.shard_place(p).label("shard", p);
  verify_part(L.shards[p], name, data, size);
  if (has_shard(p)) return;
  shards_[p] = S{Shard::deserialize(data, size, L, p, collections, name), size, ++clock_};
  bytes_ += size;
}

void PartStore::add_fragment(const PartitionLayout& L, uint32_t f, const uint8_t* data, size_t size) {
  if (f >= L.fragments.size()) throw Error("catalogue fragment " + std::to_string(f) + ": no such fragment");
  const std::string name = L.fragment_place(f).label("fragment", f);
  verify_part(L.fragments[f], name, data, size);
  if (has_fragment(f)) return;
  Catalogue c = deserialize_catalogue(data, size, name);
  const uint64_t first = uint64_t(f) * L.fragment_tokens;
  const uint64_t want = std::min<uint64_t>(L.fragment_tokens, L.tokens() - first);
  if (c.tokens.size() != want) throw Error(name + ": holds " + std::to_string(c.tokens.size()) + " tokens, the partition table says " + std::to_string(want));
  c.validate(0, name);
  c.first_token = uint32_t(first);
  fragments_[f] = F{std::move(c), size * 4, ++clock_};  // decoded strings take a few times the bytes
  bytes_ += size * 4;
}

void PartStore::drop_shard(uint32_t p) {
  if (auto it = shards_.find(p); it != shards_.end()) {
    bytes_ -= it->second.bytes;
    shards_.erase(it);
  }
}

const Shard& PartStore::shard(uint32_t p) const {
  auto it = shards_.find(p);
  if (it == shards_.end()) throw Error("shard " + std::to_string(p) + " is not loaded");
  return it->second.shard;
}

const Catalogue& PartStore::fragment(uint32_t f) const {
  auto it = fragments_.find(f);
  if (it == fragments_.end()) throw Error("catalogue fragment " + std::to_string(f) + " is not loaded");
  return it->second.cat;
}

void PartStore::touch(const std::vector<uint32_t>& s, const std::vector<uint32_t>& f) {
  ++clock_;
  for (uint32_t p : s) if (auto it = shards_.find(p); it != shards_.end()) it->second.used = clock_;
  for (uint32_t x : f) if (auto it = fragments_.find(x); it != fragments_.end()) it->second.used = clock_;
  evict(s, f);
}

void PartStore::evict(const std::vector<uint32_t>& keep_s, const std::vector<uint32_t>& keep_f) {
  while (bytes_ > max_bytes_) {
    // The least recently used part that the current query does not need.
    uint64_t oldest = UINT64_MAX;
    int kind = -1;
    uint32_t id = 0;
    for (auto& [p, s] : shards_)
      if (s.used < oldest && std::find(keep_s.begin(), keep_s.end(), p) == keep_s.end()) { oldest = s.used; kind = 0; id = p; }
    for (auto& [x, f] : fragments_)
      if (f.used < oldest && std::find(keep_f.begin(), keep_f.end(), x) == keep_f.end()) { oldest = f.used; kind = 1; id = x; }
    if (kind < 0) return;
    if (kind == 0) { bytes_ -= shards_[id].bytes; shards_.erase(id); }
    else { bytes_ -= fragments_[id].bytes; fragments_.erase(id); }
  }
}

std::vector<int8_t> kmeans_codes(const std::vector<int8_t>& codes, int dim, size_t P, uint64_t seed, std::vector<uint32_t>& assignment, int threads,
                                 double max_ratio) {
  const size_t n = codes.size() / size_t(dim);
  if (P == 0 || P > n) throw Error("partitioning: need between 1 and " + std::to_string(n) + " partitions");
  const L2Int8Fn fn = best_l2_int8();
  std::mt19937_64 rng(seed);
  // Training sample and initial centroids: random distinct codes.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::shuffle(order.begin(), order.end(), rng);
  const size_t m = std::min(n, P * 64);
  std::vector<int8_t> cent(P * size_t(dim));
  for (size_t c = 0; c < P; ++c) std::copy_n(codes.data() + order[c] * size_t(dim), dim, cent.data() + c * size_t(dim));
  auto assign = [&](const std::vector<size_t>& items, std::vector<uint32_t>& out) {
    out.assign(items.size(), 0);
    std::vector<std::thread> pool;
#ifdef __EMSCRIPTEN__
    const int T = 1;  // (threads - never used in the browser - are not built into the wasm module)
    (void)threads;
#else
    const int T = std::max(1, threads);
#endif
    auto work = [&](int t) {
      for (size_t i = size_t(t); i < items.size(); i += size_t(T)) {
        const int8_t* x = codes.data() + items[i] * size_t(dim);
        int32_t best = INT32_MAX;
        for (size_t c = 0; c < P; ++c)
          if (const int32_t d = fn(x, cent.data() + c * size_t(dim), size_t(dim)); d < best) { best = d; out[i] = uint32_t(c); }
      }
    };
    for (int t = 1; t < T; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& th : pool) th.join();
  };
  std::vector<size_t> sample(order.begin(), order.begin() + long(m));
  std::vector<uint32_t> a;
  for (int iter = 0; iter < 12; ++iter) {
    assign(sample, a);
    std::vector<double> sum(P * size_t(dim), 0.0);
    std::vector<size_t> cnt(P, 0);
    for (size_t i = 0; i < m; ++i) {
      ++cnt[a[i]];
      const int8_t* x = codes.data() + sample[i] * size_t(dim);
      for (int d = 0; d < dim; ++d) sum[a[i] * size_t(dim) + d] += x[d];
    }
    for (size_t c = 0; c < P; ++c) {
      if (cnt[c] == 0) {  // empty cluster: restart it on a random sample point
        std::copy_n(codes.data() + sample[rng() % m] * size_t(dim), dim, cent.data() + c * size_t(dim));
        continue;
      }
      for (int d = 0; d < dim; ++d)
        cent[c * size_t(dim) + d] = int8_t(std::clamp(std::lround(sum[c * size_t(dim) + d] / double(cnt[c])), -127L, 127L));
    }
  }
  // Centroids on 16 levels per dimension (as the table stores them: half the bytes), before every
  // token is assigned, so that tokens go to the centroids a query will rank.
  for (int d = 0; d < dim; ++d) {
    std::vector<int> v(P);
    for (size_t c = 0; c < P; ++c) v[c] = cent[c * size_t(dim) + size_t(d)];
    const auto levels = fit_levels(v);
    for (size_t c = 0; c < P; ++c) {
      int8_t& x = cent[c * size_t(dim) + size_t(d)];
      x = levels[nearest_level(levels, x)];
    }
  }
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), size_t(0));
  assign(all, assignment);
  // Balance: k-means on clustered data leaves some partitions many times the mean, and every query
  // that probes one downloads all of it. Move the members of an over-full partition that are
  // closest to another centroid with room there, until none holds more than max_ratio x the mean.
  const size_t cap = std::max<size_t>(1, size_t(std::ceil(max_ratio * double(n) / double(P))));
  std::vector<size_t> count(P, 0);
  for (uint32_t a : assignment) ++count[a];
  // One pass over an over-full partition: each member's nearest other centroid with room, cheapest
  // moves first. Returns whether anything moved (targets can fill up during a pass: then repeat).
  auto rebalance = [&](size_t c) {
    std::vector<std::pair<int32_t, std::pair<size_t, uint32_t>>> moves;  // (extra distance, (item, to))
    for (size_t i = 0; i < n; ++i) {
      if (assignment[i] != c) continue;
      const int8_t* x = codes.data() + i * size_t(dim);
      const int32_t own = fn(x, cent.data() + c * size_t(dim), size_t(dim));
      int32_t best = INT32_MAX;
      uint32_t to = uint32_t(c);
      for (size_t o = 0; o < P; ++o)
        if (o != c && count[o] < cap)
          if (const int32_t d = fn(x, cent.data() + o * size_t(dim), size_t(dim)); d < best) { best = d; to = uint32_t(o); }
      if (to != c) moves.push_back({best - own, {i, to}});
    }
    std::sort(moves.begin(), moves.end());
    bool moved = false;
    for (auto& [extra, m] : moves) {
      if (count[c] <= cap) break;
      if (count[m.second] >= cap) continue;  // filled up during this pass
      assignment[m.first] = m.second;
      --count[c];
      ++count[m.second];
      moved = true;
    }
    return moved;
  };
  for (size_t c = 0; c < P; ++c)
    while (count[c] > cap && rebalance(c)) {
    }
  return cent;
}

PartitionedParts partition_bundle(Catalogue& cat, std::vector<int8_t>& codes, int dim, size_t n_partitions, uint32_t probe,
                                  uint32_t fragment_tokens, int threads, double max_ratio) {
  if (codes.size() != cat.tokens.size() * size_t(dim)) throw Error("partitioning: one code per token expected");
  std::vector<uint32_t> assign;
  const std::vector<int8_t> cent = kmeans_codes(codes, dim, n_partitions, 0x5eed, assign, threads, max_ratio);
  std::vector<size_t> order(cat.tokens.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return assign[x] != assign[y] ? assign[x] < assign[y] : cat.tokens[x].collection < cat.tokens[y].collection;
  });
  PartitionedParts out;
  PartitionLayout& L = out.layout;
  L.dim = dim;
  L.default_probe = std::max<uint32_t>(1, probe);
  L.fragment_tokens = std::max<uint32_t>(1, fragment_tokens);
  std::vector<Token> tokens;
  std::vector<int8_t> reordered;
  tokens.reserve(order.size());
  reordered.reserve(codes.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const uint32_t p = assign[order[i]];
    if (i == 0 || assign[order[i - 1]] != p) {  // a new (non-empty) partition
      L.counts.push_back(0);
      L.centroids.insert(L.centroids.end(), cent.begin() + long(p) * dim, cent.begin() + long(p + 1) * dim);
    }
    ++L.counts.back();
    tokens.push_back(std::move(cat.tokens[order[i]]));
    reordered.insert(reordered.end(), codes.begin() + long(order[i]) * dim, codes.begin() + long(order[i] + 1) * dim);
  }
  cat.tokens = std::move(tokens);
  codes = std::move(reordered);
  out.order.assign(order.begin(), order.end());
  cat.entry_token.resize(cat.tokens.size());
  std::iota(cat.entry_token.begin(), cat.entry_token.end(), uint32_t(0));
  L.index_firsts();
  for (size_t p = 0; p < L.partitions(); ++p) {
    Shard sh;
    sh.partition = uint32_t(p);
    sh.first = L.first(p);
    sh.codes.assign(codes.begin() + long(size_t(sh.first) * dim), codes.begin() + long(size_t(sh.first + L.counts[p]) * dim));
    for (uint32_t i = 0; i < L.counts[p]; ++i) sh.collection.push_back(cat.tokens[sh.first + i].collection);
    out.shard_codes.push_back(sh.serialize(dim));
  }
  out.shards = out.shard_codes;  // (group_parts appends the carried entries)
  L.shards.assign(out.shards.size(), PartFile{});
  serialize_fragments(out, cat);
  out.head_catalogue = serialize_catalogue(cat.slice(0, 0));
  return out;
}

void serialize_fragments(PartitionedParts& out, const Catalogue& cat) {
  PartitionLayout& L = out.layout;
  out.fragments.clear();
  L.fragments.clear();
  for (size_t f = 0; f < cat.tokens.size(); f += L.fragment_tokens) {
    out.fragments.push_back(serialize_catalogue(cat.slice(f, L.fragment_tokens)));
    L.fragments.push_back(describe_part(out.fragments.back()));
  }
  group_parts(out);
  out.table = L.serialize();
}

void group_parts(PartitionedParts& out) {
  PartitionLayout& L = out.layout;
  if (out.fragments.size() > kMaxFragments)
    throw Error("partitioning: " + std::to_string(out.fragments.size()) + " catalogue fragments, more than a reader takes (2^20): raise --fragment-tokens");
  L.shard_groups.clear();
  L.fragment_groups.clear();
  const size_t per = std::max<size_t>(1, (kPartitionPackTokens + L.fragment_tokens - 1) / L.fragment_tokens);
  for (size_t f = 0; f < out.fragments.size(); f += per) {
    PartGroup g;
    g.parts = uint32_t(std::min(per, out.fragments.size() - f));
    g.file = describe_parts(out.fragments, f, g.parts);
    L.fragment_groups.push_back(g);
  }
  L.index_firsts();  // (the fragments' places, which the shards carry)
  if (out.shard_codes.size() != L.partitions()) out.shard_codes = out.shards;  // (callers that made the shards themselves)
  for (uint32_t p = 0; p < L.partitions(); ++p) {
    out.shards[p] = carry_fragments(out.shard_codes[p], L, p);
    L.shards[p] = describe_part(out.shards[p]);
  }
  size_t first = 0;
  for (const auto& range : partition_pack_groups(L.counts)) {  // (token ranges of whole partitions)
    PartGroup g;
    for (uint64_t t = 0; t < range.second; ++g.parts) t += L.counts[first + g.parts];
    g.file = describe_parts(out.shards, first, g.parts);
    first += g.parts;
    L.shard_groups.push_back(g);
  }
  L.index_firsts();
  out.directory = L.serialize_directory();
  L.directory = describe_part(out.directory);
  L.catalogue_bytes = 0;
  for (auto& f : L.fragments) L.catalogue_bytes += f.bytes;
  L.version = 5;
}

void add_word_parts(PartitionedParts& out, const Catalogue& cat, size_t chunk_bytes) {
  WordParts w = build_word_parts(cat, chunk_bytes);
  PartitionLayout& L = out.layout;
  out.lexicon = std::move(w.lexicon);
  out.words = std::move(w.chunks);
  L.lexicon = describe_part(out.lexicon);
  L.words.clear();
  for (auto& c : out.words) L.words.push_back(describe_part(c));
  out.table = L.serialize();
}

}  // namespace nftlens
