// HNSW (hnswlib) over int8 codes with our SIMD distance, plus a portable, compact serialised form.
// hnswlib's own saveIndex writes size_t fields (8 bytes natively, 4 in wasm32) and per-element
// padding, so we store the graph ourselves: codes, levels and neighbour lists, and rebuild the
// hnswlib structure in memory on load after checking every id (a hostile file cannot make search
// read out of bounds).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nftlens {

struct IndexParams {
  int M = 12;                 // graph degree (level 0 has 2*M)
  int ef_construction = 200;
  int ef_search = 96;         // default search breadth
};

struct Neighbor {
  int32_t distance;  // squared L2 between int8 codes
  uint32_t entry;
};

class CodeIndex {
 public:
  CodeIndex();
  ~CodeIndex();
  CodeIndex(CodeIndex&&) noexcept;
  CodeIndex& operator=(CodeIndex&&) noexcept;

  // Build over `count` codes of `dim` bytes each (entry i = codes[i*dim ...]). Deterministic.
  static CodeIndex build(const std::vector<int8_t>& codes, int dim, const IndexParams& params);

  // Serialised form (little-endian, fixed-width): see code_index.cpp for the layout.
  std::vector<uint8_t> serialize() const;
  static CodeIndex deserialize(const uint8_t* data, size_t size, int expected_dim, const std::string& where);

  // k nearest entries, closest first. ef <= 0 uses the default.
  std::vector<Neighbor> search(const int8_t* query, size_t k, int ef = 0) const;
  // Exhaustive scan over the same codes (for evaluation and small indexes).
  std::vector<Neighbor> exact(const int8_t* query, size_t k) const;

  size_t size() const { return count_; }
  int dim() const { return dim_; }
  const IndexParams& params() const { return params_; }
  const int8_t* code(size_t i) const { return codes_.data() + i * size_t(dim_); }

 private:
  struct Graph;
  std::unique_ptr<Graph> graph_;
  std::vector<int8_t> codes_;
  size_t count_ = 0;
  int dim_ = 0;
  IndexParams params_;
};

}  // namespace nftlens
