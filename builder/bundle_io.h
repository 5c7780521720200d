// Bundle files on disk (native): load a bundle folder with full verification, and write one
// atomically: content-hashed files first, manifest.json last by rename (the commit point), then
// files no longer referenced are removed. A crash at any moment leaves the previous bundle usable.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "bundle.h"

namespace nftlens {

// A string as a file-name part: letters, digits, '-' and '_' (others become '_'), at most 80.
std::string safe_file_part(const std::string& s);
std::vector<uint8_t> read_bytes(const std::filesystem::path& p, size_t limit = size_t(1) << 34);
// sync = false leaves the data to a later sync (syncfs) of the caller.
void write_file_atomic(const std::filesystem::path& p, const void* data, size_t size, bool sync = true);

Bundle load_bundle_dir(const std::filesystem::path& dir);
// Partition table version 5: read and check the directory, so that every fragment's place is known
// (info, verify; a query fetches it only when it needs it). Nothing for other bundles.
void load_directory_file(Bundle& b, const std::filesystem::path& dir);

struct BundleParts {
  std::vector<uint8_t> model, recipe, index, catalogue, windows, parts;  // windows, parts: empty if none
  // Partitioned bundles: the table (then index is empty), and the parts it lists, in its order.
  std::vector<uint8_t> partitions;
  std::vector<uint8_t> directory;  // (partition table version 5) where every catalogue fragment is
  std::vector<std::vector<uint8_t>> shards, fragments;
  std::vector<uint8_t> lexicon;               // the word index (lexicon + chunks), if any
  std::vector<std::vector<uint8_t>> words;
  const PartitionLayout* layout = nullptr;
  std::vector<std::vector<uint8_t>> packs;  // thumbnail packs, in ThumbRef::pack order (role "thumbs")
  // Packs already written into the bundle folder by write_pack_file (the builder writes each as it
  // is made, so a million tokens' thumbnails are never all in memory); listed after `packs`.
  std::vector<FileEntry> written_packs;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> stats;  // (collection slug, JSON) (role "stats")
};
// Write one thumbnail pack into bundle folder `dir` under its content-hashed name (kept if an
// intact file of that name is there already), for BundleParts::written_packs.
FileEntry write_pack_file(const std::filesystem::path& dir, const std::vector<uint8_t>& bytes);
// Returns the manifest text written.
std::string write_bundle_dir(const std::filesystem::path& dir, ModelCard card, const Recipe& recipe,
                             const CodeIndex& index, const Catalogue& catalogue, const BundleParts& parts);

}  // namespace nftlens
