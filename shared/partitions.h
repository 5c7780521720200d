// Partitioned bundles (large collections): the browser downloads only what one query needs.
//   partitions.<hash>.bin   always loaded: coarse centroids (in code space, 16 levels per dimension), a table of
//                           every shard (size + SHA-256 prefix) and of the files holding them, the thumbnail packs
//                           and the directory (version 5; before it the table listed the fragments too)
//   directory.<hash>.bin    (version 5) every catalogue fragment (size + SHA-256 prefix) and the files holding them:
//                           fetched by text calls and verify. An image query does without: each shard carries the
//                           entries of the fragments overlapping its partition, so the head a page loads at open
//                           no longer grows with the fragments (~80 KB at a million tokens)
//   shards.<hash>.bin       the shards of consecutive partitions, back to back (at least kPartitionPackTokens
//                           tokens per file, as the thumbnail packs): one partition's codes (4-bit, 16 levels
//                           per dimension; a flat list: ~500 entries scan in < 1 ms) is a byte range of it
//   tokens.<hash>.bin       consecutive catalogue fragments (`fragment_tokens` tokens each) back to back, as many
//                           as make kPartitionPackTokens tokens; one fragment is a byte range of it
//   lexicon.<hash>.bin, words.<hash>.bin   the word index: its lexicon and chunks (word_chunks.h)
// Grouping parts into files keeps the file count O(tokens / 1,000) whatever the partition and
// fragment sizes (static hosts cap files per site), while a query still fetches only its parts, by
// HTTP Range; each part is checked against its own digest. Tables before version 4 have one file per
// part (shard.<hash>.bin, tokens.<hash>.bin), which still load.
// Tokens are stored in partition order, so partition p holds the token range
// [first(p), first(p) + count(p)) (entry = token: partitioned bundles have one entry per token),
// and the hits of one query, being similar, tend to share catalogue fragments.
// A query embeds, ranks the centroids, fetches the `probe` nearest shards, scans them, then fetches
// the fragments of its hits. Every part is checked against the table before it is parsed.
#pragma once
#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <vector>

#include "catalogue.h"

namespace nftlens {

struct PartFile {
  uint64_t bytes = 0;
  std::array<uint8_t, 16> digest{};  // first 128 bits of the file's SHA-256 (of which `digest_bytes` are checked)
  uint8_t digest_bytes = 16;         // 8 in table version 4 (as thumbnails): half the table's bytes per part
  std::string name(const char* stem) const;  // "<stem>.<first 16 hex>.bin"
};

// Where a part's bytes are: a whole file, or (table version 4) a byte range of a group file.
struct PartPlace {
  std::string file;
  uint64_t offset = 0, bytes = 0;
  bool ranged = false;    // a byte range of `file` (hosts may fetch just it)
  std::string label(const char* what, uint32_t id) const;  // for errors: "shards.<hash>.bin (shard 3, bytes 0-99)" or the file name
};

// Where a catalogue fragment is (as the directory and the shards carry it): its file, its offset there, itself.
struct FragmentEntry {
  PartFile file;
  uint64_t offset = 0;
  PartFile part;
  bool operator==(const FragmentEntry& o) const;
};

// Parts of one kind stored back to back in one file: `parts` consecutive ones (table version 4).
struct PartGroup {
  uint32_t parts = 0;
  PartFile file;  // the whole file (its name; verify checks it whole)
};

struct PartitionLayout {
  int dim = 0;
  uint32_t default_probe = 12;      // partitions searched per query unless the caller says otherwise
  uint32_t fragment_tokens = 32;    // tokens per catalogue fragment (the builder's default since table version 5; 128 in version 4, 512 before)
  std::vector<int8_t> centroids;    // partitions() x dim (decoded; stored in 4 bits where each dimension has <= 16 values)
  std::vector<uint32_t> counts;     // entries per partition (first(p) = sum of earlier counts)
  uint32_t version = 0;             // as read (the builder's: 5 once group_parts ran); serialize writes 5 when grouped, else 3 (2: 8-bit centroids)
  std::vector<PartFile> shards;
  // Every fragment (size F); in version 5 an entry is known (bytes > 0) once a shard carrying it
  // or the directory has been loaded (fragment_known).
  std::vector<PartFile> fragments;
  // The word index in chunks (word_chunks.h; table version 2): a lexicon fetched at the first
  // text call, then the chunks of each query's words. Version 1 tables have none.
  PartFile lexicon;
  std::vector<PartFile> words;
  bool has_words() const { return lexicon.bytes > 0; }
  // Table version 4: the files holding the shards and the fragments (empty: one file per part).
  // In version 5 the fragments' files are in the directory (known once it is loaded).
  std::vector<PartGroup> shard_groups, fragment_groups;
  bool grouped() const { return !shard_groups.empty(); }
  // Table version 5: the directory file, every fragment's bytes (summed: what loading the whole
  // catalogue costs) and the thumbnail packs in ThumbRef::pack order (manifest.json listed them
  // before: ~200 bytes of JSON each, ~200 KB at a million tokens; 10-13 bytes here).
  PartFile directory;
  uint64_t catalogue_bytes = 0;
  std::vector<PartFile> packs;
  bool has_directory() const { return directory.bytes > 0; }
  bool directory_loaded() const { return directory_loaded_; }
  bool fragment_known(uint32_t f) const { return f < fragments.size() && fragments[f].bytes > 0; }
  // Learn a fragment's entry from a checked shard (`where` names it); one that disagrees with what
  // is known is refused (a bundle mixed from two builds).
  void learn_fragment(uint32_t f, const FragmentEntry& e, const std::string& where);
  void learn_fragments(const std::vector<std::pair<uint32_t, FragmentEntry>>& entries, const std::string& where);  // all or none
  // Check the directory file's bytes against the table, parse them, learn every fragment.
  void load_directory(const uint8_t* data, size_t size);
  std::vector<uint8_t> serialize_directory() const;  // (builder; after group_parts)
  FragmentEntry fragment_entry(uint32_t f) const;    // (a known fragment; what a shard carries)
  PartPlace shard_place(uint32_t p) const;
  PartPlace fragment_place(uint32_t f) const;
  // Every file holding shards (or fragments): name, size and the parts in it, in table order.
  struct GroupFile { std::string name; PartFile file; uint32_t first_part = 0, parts = 0; };
  std::vector<GroupFile> shard_files() const;
  std::vector<GroupFile> fragment_files() const;

  size_t partitions() const { return counts.size(); }
  uint64_t tokens() const;
  uint32_t first(size_t p) const { return firsts_.at(p); }
  size_t fragment_of(uint32_t token) const { return token / fragment_tokens; }

  // Partitions ranked by their centroid's distance to the nearest of the query codes; the first `probe`.
  std::vector<uint32_t> probe(const std::vector<std::vector<int8_t>>& queries, size_t probe) const;

  std::vector<uint8_t> serialize() const;
  static PartitionLayout deserialize(const uint8_t* data, size_t size, int expected_dim, uint64_t expected_tokens, const std::string& where);
  void index_firsts();  // recompute first(p) and the parts' places in their files after editing counts or groups (builder)

 private:
  std::vector<uint32_t> firsts_;
  std::vector<uint64_t> shard_offsets_, fragment_offsets_;  // (version 4) within the part's group file
  std::vector<uint32_t> shard_group_;                       // (version 4) the shard's group
  std::vector<PartFile> fragment_file_;                     // (version 4) the file holding the fragment
  bool directory_loaded_ = false;
};

// One partition's entries: int8 codes and the collection of each entry (for collection filters
// before the catalogue fragments are loaded). In the file, codes are 4-bit indices into 16
// levels per dimension fitted to the partition (partitions.cpp); `codes` holds them decoded.
// Under a table of version 5 it also carries the entries of the catalogue fragments overlapping its
// partition (which the table leaves out of the head): appended by carry_fragments.
struct Shard {
  uint32_t partition = 0, first = 0;
  std::vector<int8_t> codes;
  std::vector<uint32_t> collection;
  std::vector<std::pair<uint32_t, FragmentEntry>> carried;  // (fragment, entry), in fragment order
  size_t size() const { return collection.size(); }

  std::vector<uint8_t> serialize(int dim) const;
  static Shard deserialize(const uint8_t* data, size_t size, const PartitionLayout& layout, uint32_t partition,
                           size_t collections, const std::string& where);
};
// Builder: a shard's bytes (serialize) with the entries of the fragments overlapping partition p appended.
std::vector<uint8_t> carry_fragments(const std::vector<uint8_t>& shard, const PartitionLayout& layout, uint32_t p);

// Size + SHA-256 prefix check of a part's bytes against the table (throws naming the file).
void verify_part(const PartFile& f, const std::string& name, const uint8_t* data, size_t size);
PartFile describe_part(const std::vector<uint8_t>& bytes);
PartFile describe_file(uint64_t bytes, const std::string& sha256_hex);  // (a file hashed elsewhere: a thumbnail pack)
PartFile describe_parts(const std::vector<std::vector<uint8_t>>& parts, size_t first, size_t count);  // of their concatenation
// Builder: the bytes of a group file (parts [first, first + count) back to back).
std::vector<uint8_t> join_parts(const std::vector<std::vector<uint8_t>>& parts, size_t first, size_t count);

// The parts of a partitioned bundle loaded so far, kept within a byte budget (least recently used
// shards are dropped first; the parts a query is using are never dropped while it runs).
class PartStore {
 public:
  explicit PartStore(size_t max_bytes = size_t(64) << 20) : max_bytes_(max_bytes) {}
  bool has_shard(uint32_t p) const { return shards_.count(p) != 0; }
  bool has_fragment(uint32_t f) const { return fragments_.count(f) != 0; }
  // Verify against the layout, parse and keep. Throws nftlens::Error naming the file.
  void add_shard(const PartitionLayout& layout, size_t collections, uint32_t p, const uint8_t* data, size_t size);
  void add_fragment(const PartitionLayout& layout, uint32_t f, const uint8_t* data, size_t size);
  const Shard& shard(uint32_t p) const;
  void drop_shard(uint32_t p);  // (one the caller refused after all)
  const Catalogue& fragment(uint32_t f) const;
  // Mark parts as in use (moves them to the front) and drop others beyond the budget.
  void touch(const std::vector<uint32_t>& shards, const std::vector<uint32_t>& fragments);
  size_t bytes() const { return bytes_; }
  size_t shard_count() const { return shards_.size(); }
  size_t fragment_count() const { return fragments_.size(); }

 private:
  void evict(const std::vector<uint32_t>& keep_shards, const std::vector<uint32_t>& keep_fragments);
  size_t max_bytes_, bytes_ = 0;
  uint64_t clock_ = 0;
  struct S { Shard shard; size_t bytes; uint64_t used; };
  struct F { Catalogue cat; size_t bytes; uint64_t used; };
  std::map<uint32_t, S> shards_;
  std::map<uint32_t, F> fragments_;
};

// Builder side: k-means over int8 codes (`count` x `dim`), deterministic for a seed. Trains on a
// sample of at most 64 codes per partition, puts the centroids on 16 levels per dimension (what the
// table stores in 4 bits), then assigns every code to its nearest centroid (with
// the same int8 distance a query uses to rank partitions). Returns the centroids; `assignment`
// gets each code's partition. No partition keeps more than max_ratio x the mean count (the
// members nearest to another centroid with room move there).
std::vector<int8_t> kmeans_codes(const std::vector<int8_t>& codes, int dim, size_t partitions, uint64_t seed,
                                 std::vector<uint32_t>& assignment, int threads = 1, double max_ratio = 2.0);

// Builder side: learn the partitions, reorder `cat.tokens` and `codes` partition by partition
// (within one, by collection, then in their earlier order; empty partitions are dropped), and
// serialise every part. `cat` must hold one entry per token.
struct PartitionedParts {
  PartitionLayout layout;
  std::vector<uint8_t> table, head_catalogue;          // partitions.bin, catalogue.bin
  std::vector<std::vector<uint8_t>> shards, fragments;  // in the table's order (shards with their carried entries)
  std::vector<std::vector<uint8_t>> shard_codes;        // (builder) the shards without them (a caller that makes its own
                                                        // shards sets `shards` and leaves this empty)
  std::vector<uint8_t> directory;                       // directory.bin (group_parts)
  std::vector<uint8_t> lexicon;                         // the word index (set_word_parts)
  std::vector<std::vector<uint8_t>> words;
  std::vector<uint32_t> order;  // (builder) catalogue index -> the token's index before partitioning
};
PartitionedParts partition_bundle(Catalogue& cat, std::vector<int8_t>& codes, int dim, size_t partitions,
                                  uint32_t probe, uint32_t fragment_tokens, int threads, double max_ratio = 2.0);
// (Re)serialise the catalogue fragments and the table from `cat` in partition order (the builder
// again once the tokens know their thumbnails' places, which depend on the partitions); groups the
// shards and the fragments into files (group_parts). Set layout.packs first (the table lists them).
void serialize_fragments(PartitionedParts& parts, const Catalogue& cat);
// Shards: whole consecutive partitions per file until it holds kPartitionPackTokens tokens (the
// thumbnail packs' groups); fragments: consecutive ones until as many tokens. Then the directory,
// the shards' carried entries and the table.
void group_parts(PartitionedParts& parts);
// Builder: write the word index of `cat` (in partition order) into the parts and the table.
void add_word_parts(PartitionedParts& parts, const Catalogue& cat, size_t chunk_bytes);

}  // namespace nftlens
