// The only translation unit that includes hnswlib (Debian's 0.6.2 header defines non-inline
// functions, so a second includer would break the link).
#include "code_index.h"

// hnswlib 0.6.2's SSE prefetch hints read one id past a full neighbour list, which is past the end
// of an upper-level list allocation (heap over-read found by ASan). The hints gain nothing measurable
// here (bench/index_bench), so leave them out; wasm never had them.
#define NO_MANUAL_VECTORIZATION
// hnswlib's constructor warns on std::cerr when M > 10000 (we never ask for that). That single
// reference links libc++'s standard streams, and with them every locale facet, into the wasm
// module (~20 KB gzipped): while the header is compiled, `cerr` names a sink instead.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <fstream>
#include <iostream>
#include <list>
#include <mutex>
#include <queue>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <vector>
namespace std {
struct nftlens_hnswlib_sink {
  template <class T> const nftlens_hnswlib_sink& operator<<(const T&) const { return *this; }
  const nftlens_hnswlib_sink& operator<<(std::ostream& (*)(std::ostream&)) const { return *this; }
};
inline constexpr nftlens_hnswlib_sink nftlens_hnswlib_cerr{};
}  // namespace std
#define cerr nftlens_hnswlib_cerr
#include <hnswlib/hnswlib.h>
#undef cerr

// We never use hnswlib's file I/O (our own serialised form is below), but saveIndex is virtual,
// so the class instantiation would pull std::ofstream and the iostream machinery into the wasm
// module (~15 KB gzipped). An explicit specialisation for our one instantiation replaces it.
template <>
void hnswlib::HierarchicalNSW<int>::saveIndex(const std::string&) {
  throw std::runtime_error("hnswlib file I/O is not used by nftlens");
}
// Likewise the virtual addPoint would keep graph construction (~3 KB gzipped) in the browser
// module, which only loads graphs: CodeIndex::build calls the non-virtual overload instead.
template <>
void hnswlib::HierarchicalNSW<int>::addPoint(const void*, labeltype) {
  throw std::logic_error("use addPoint(point, label, -1)");
}

#include <algorithm>
#include <cstring>
#include <queue>

#include "distance.h"
#include "byte_io.h"
#include "error.h"

namespace nftlens {
namespace {

// hnswlib stores each entry as [links | data | label]: data padded to 4 bytes keeps the next
// entry's link counts (uint16/uint32 stores) aligned whatever the code size (found by UBSan).
size_t padded(size_t dim) { return (dim + 3) & ~size_t(3); }

struct Int8Space : hnswlib::SpaceInterface<int> {
  size_t dim;
  L2Int8Fn fn;
  explicit Int8Space(size_t d) : dim(d), fn(best_l2_int8()) {}
  size_t get_data_size() override { return padded(dim); }
  hnswlib::DISTFUNC<int> get_dist_func() override { return &Int8Space::dist; }
  void* get_dist_func_param() override { return this; }
  static int dist(const void* a, const void* b, const void* self) {
    auto s = static_cast<const Int8Space*>(self);
    return s->fn(static_cast<const int8_t*>(a), static_cast<const int8_t*>(b), s->dim);
  }
};

constexpr uint32_t kMagic = 0x4e4c4958;  // "XILN"
constexpr uint32_t kVersion = 1;

}  // namespace

struct CodeIndex::Graph {
  Int8Space space;
  hnswlib::HierarchicalNSW<int> hnsw;
  Graph(size_t dim, size_t max_elements, const IndexParams& p)
      : space(dim), hnsw(&space, std::max<size_t>(1, max_elements), size_t(p.M), size_t(p.ef_construction), 100) {}
};

CodeIndex::CodeIndex() = default;
CodeIndex::~CodeIndex() = default;
CodeIndex::CodeIndex(CodeIndex&&) noexcept = default;
CodeIndex& CodeIndex::operator=(CodeIndex&&) noexcept = default;

CodeIndex CodeIndex::build(const std::vector<int8_t>& codes, int dim, const IndexParams& params) {
  if (dim <= 0 || codes.size() % size_t(dim) != 0) throw Error("index build: codes are not a multiple of the dimension");
  CodeIndex idx;
  idx.dim_ = dim;
  idx.params_ = params;
  idx.codes_ = codes;
  idx.count_ = codes.size() / size_t(dim);
  idx.graph_ = std::make_unique<Graph>(size_t(dim), idx.count_, params);
  std::vector<int8_t> point(padded(size_t(dim)), 0);  // hnswlib copies the padded size
  for (size_t i = 0; i < idx.count_; ++i) {
    std::copy_n(idx.codes_.data() + i * dim, dim, point.data());
    idx.graph_->hnsw.addPoint(point.data(), i, -1);
  }
  return idx;
}

// Layout: magic, version, dim, count, M, ef_construction, ef_search, maxlevel, enterpoint,
// codes (count*dim bytes), then per element: level (u8), and per level 0..level: neighbour count
// (varint) and the neighbour ids sorted, delta-coded as varints.
std::vector<uint8_t> CodeIndex::serialize() const {
  ByteWriter w;
  w.u32(kMagic); w.u32(kVersion); w.u32(uint32_t(dim_)); w.u32(uint32_t(count_));
  w.u32(uint32_t(params_.M)); w.u32(uint32_t(params_.ef_construction)); w.u32(uint32_t(params_.ef_search));
  const auto& h = graph_->hnsw;
  w.u32(count_ ? uint32_t(h.maxlevel_) : 0); w.u32(count_ ? uint32_t(h.enterpoint_node_) : 0);
  w.bytes(codes_.data(), codes_.size());
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < count_; ++i) {
    const int level = h.element_levels_[i];
    w.u8(uint8_t(level));
    for (int l = 0; l <= level; ++l) {
      unsigned* list = l == 0 ? h.get_linklist0(hnswlib::tableint(i)) : h.get_linklist(hnswlib::tableint(i), l);
      const unsigned n = h.getListCount(list);
      ids.assign(list + 1, list + 1 + n);
      std::sort(ids.begin(), ids.end());
      w.varint(n);
      uint32_t prev = 0;
      for (uint32_t id : ids) { w.varint(id - prev); prev = id; }
    }
  }
  return std::move(w.out);
}

CodeIndex CodeIndex::deserialize(const uint8_t* data, size_t size, int expected_dim, const std::string& where) {
  ByteReader r(data, size, where + ": index");
  if (r.u32() != kMagic) throw Error(where + ": not an NFT Lens index file");
  if (r.u32() != kVersion) throw Error(where + ": unsupported index format version");
  CodeIndex idx;
  idx.dim_ = int(r.u32());
  idx.count_ = r.u32();
  idx.params_.M = int(r.u32());
  idx.params_.ef_construction = int(r.u32());
  idx.params_.ef_search = int(r.u32());
  const uint32_t maxlevel = r.u32(), enter = r.u32();
  if (idx.dim_ != expected_dim) throw Error(where + ": index has dimension " + std::to_string(idx.dim_) + ", the manifest says " + std::to_string(expected_dim));
  if (idx.params_.M < 2 || idx.params_.M > 256 || idx.params_.ef_search < 1 || idx.params_.ef_search > 100000)
    throw Error(where + ": index parameters out of range");
  if (idx.count_ > (1u << 28)) throw Error(where + ": index claims too many entries");
  // Each entry needs at least dim code bytes + 2 bytes of graph: reject impossible counts before allocating.
  if (idx.count_ * (size_t(idx.dim_) + 2) > size) throw Error(where + ": index file is truncated");
  if (idx.count_ && (maxlevel > 32 || enter >= idx.count_)) throw Error(where + ": index entry point is invalid");
  r.need(idx.count_ * size_t(idx.dim_));
  idx.codes_.assign(reinterpret_cast<const int8_t*>(data + r.pos), reinterpret_cast<const int8_t*>(data + r.pos) + idx.count_ * idx.dim_);
  r.pos += idx.count_ * size_t(idx.dim_);
  idx.graph_ = std::make_unique<Graph>(size_t(idx.dim_), idx.count_, idx.params_);
  auto& h = idx.graph_->hnsw;
  const uint32_t max_m = uint32_t(h.maxM_), max_m0 = uint32_t(h.maxM0_);
  for (size_t i = 0; i < idx.count_; ++i) {
    const int level = r.u8();
    if (uint32_t(level) > maxlevel) throw Error(where + ": index entry " + std::to_string(i) + " has an invalid level");
    std::memset(h.data_level0_memory_ + i * h.size_data_per_element_, 0, h.size_links_level0_);
    std::memset(h.getDataByInternalId(hnswlib::tableint(i)), 0, padded(size_t(idx.dim_)));
    std::memcpy(h.getDataByInternalId(hnswlib::tableint(i)), idx.code(i), size_t(idx.dim_));
    h.setExternalLabel(hnswlib::tableint(i), i);
    h.element_levels_[i] = level;
    h.linkLists_[i] = nullptr;
    // From here on the destructor frees linkLists_[0..cur_element_count): keep it consistent.
    h.cur_element_count = i + 1;
    if (level > 0) {
      h.linkLists_[i] = static_cast<char*>(std::calloc(1, h.size_links_per_element_ * size_t(level)));
      if (!h.linkLists_[i]) throw Error(where + ": out of memory");
    }
    for (int l = 0; l <= level; ++l) {
      const uint32_t n = uint32_t(std::min<uint64_t>(r.varint(), 0xffffffffu));
      if (n > (l == 0 ? max_m0 : max_m)) throw Error(where + ": index entry " + std::to_string(i) + " has too many neighbours");
      unsigned* list = l == 0 ? h.get_linklist0(hnswlib::tableint(i)) : h.get_linklist(hnswlib::tableint(i), l);
      h.setListCount(list, uint16_t(n));
      uint32_t prev = 0;
      for (uint32_t k = 0; k < n; ++k) {
        const uint64_t id = uint64_t(prev) + r.varint();  // may exceed 32 bits: checked next
        if (id >= idx.count_) throw Error(where + ": index entry " + std::to_string(i) + " links to a missing entry");
        list[1 + k] = unsigned(id);
        prev = uint32_t(id);
      }
    }
    h.label_lookup_[i] = hnswlib::tableint(i);
  }
  if (r.pos != size) throw Error(where + ": index file has trailing bytes");
  // A link on level l must point to an entry that has level l, or search would read a missing list.
  for (size_t i = 0; i < idx.count_; ++i)
    for (int l = 1; l <= h.element_levels_[i]; ++l) {
      unsigned* list = h.get_linklist(hnswlib::tableint(i), l);
      for (unsigned k = 0; k < h.getListCount(list); ++k)
        if (h.element_levels_[list[1 + k]] < l)
          throw Error(where + ": index entry " + std::to_string(i) + " links to an entry without that level");
    }
  if (idx.count_) {
    if (h.element_levels_[enter] != int(maxlevel)) throw Error(where + ": index entry point is invalid");
    h.maxlevel_ = int(maxlevel);
    h.enterpoint_node_ = enter;
  }
  return idx;
}

std::vector<Neighbor> CodeIndex::search(const int8_t* query, size_t k, int ef) const {
  std::vector<Neighbor> out;
  if (count_ == 0 || k == 0) return out;
  k = std::min(k, count_);
  auto& h = graph_->hnsw;
  h.setEf(size_t(std::max<int>(ef > 0 ? ef : params_.ef_search, int(k))));  // ef_ is the only per-search state
  auto pq = h.searchKnn(query, k);
  out.resize(pq.size());
  for (size_t i = pq.size(); i-- > 0;) {
    out[i] = Neighbor{pq.top().first, uint32_t(pq.top().second)};
    pq.pop();
  }
  return out;
}

std::vector<Neighbor> CodeIndex::exact(const int8_t* query, size_t k) const {
  const L2Int8Fn fn = best_l2_int8();
  std::priority_queue<std::pair<int32_t, uint32_t>> top;
  for (size_t i = 0; i < count_; ++i) {
    const int32_t d = fn(query, code(i), size_t(dim_));
    if (top.size() < k) top.emplace(d, uint32_t(i));
    else if (d < top.top().first) { top.pop(); top.emplace(d, uint32_t(i)); }
  }
  std::vector<Neighbor> out(top.size());
  for (size_t i = top.size(); i-- > 0;) { out[i] = Neighbor{top.top().first, top.top().second}; top.pop(); }
  return out;
}

}  // namespace nftlens
