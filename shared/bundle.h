// The static bundle: manifest.json plus content-hashed binary files, servable by any static host.
//   manifest.json            format/version, model card, dims, counts, collections, file list
//   model.<hash>.onnx        the embedding model
//   recipe.<hash>.bin        descriptor recipe (projection, quantiser, thresholds)    (cereal)
//   index.<hash>.bin         int8 codes + HNSW graph                                  (code_index)
//   catalogue.<hash>.bin     tokens, collections, traits, rarity, entry->token map    (byte_io)
//   windows.<hash>.bin       sub-window codes for cropped queries (optional)          (window_index)
//   parts.<hash>.bin         part codes (optional), fetched by the first query that looks like a
//                            part of a token (a sticker, a zoom)                       (part_codes)
//   thumbs.<hash>.bin        result thumbnails, many tokens per pack, fetched (by byte range) only
//                            for re-ranking and display                              (thumb_pack)
//   stats-<slug>.<hash>.json trait statistics per collection, for pages that show them (not loaded)
// A partitioned bundle (large collections, see partitions.h) has instead of index + catalogue:
//   partitions.<hash>.bin    centroids + table of shards and catalogue fragments      (always loaded)
//   catalogue.<hash>.bin     the collections only (no tokens)
//   shard.*.bin, tokens.*.bin   fetched on demand by each query
// Loading checks version, sizes and SHA-256 of every file before parsing it, then cross-checks
// the parts against each other; any mismatch is a clear error naming the file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "catalogue.h"
#include "code_index.h"
#include "descriptor.h"
#include "model_card.h"
#include "part_codes.h"
#include "partitions.h"
#include "verdict.h"
#include "style_model.h"
#include "window_index.h"

namespace nftlens {

constexpr const char* kBundleFormat = "nftlens-bundle";
constexpr int kBundleVersion = 2;  // 2: thumbnail packs and stats listed in the manifest

struct FileEntry {
  std::string role, name, sha256;
  uint64_t bytes = 0;
};

struct Manifest {
  int version = 0;
  std::string generator;
  ModelCard model;  // model.file is the bundle's (hashed) model file name
  int descriptor_dim = 0;
  uint64_t tokens = 0, entries = 0;
  std::vector<FileEntry> files;  // roles: model, recipe, index, catalogue, windows, parts and style (optional), partitions,
                                 // thumbs (one per pack, in pack order), stats (one per collection)
  std::vector<FileEntry> packs;  // the "thumbs" files: ThumbRef::pack indexes this
  VerdictModels verdict;         // "verdict": fitted by the builder's calibration (unfitted in older bundles;
                                 // per collection in bundles of several collections)
  bool has(const std::string& role) const;
  std::string json_text;         // as parsed

  const FileEntry& file(const std::string& role) const;
  // Files a host loads and checks when it opens the bundle (the rest is fetched when needed:
  // thumbnail packs, shards and fragments; or never, by the engine: stats).
  static bool loaded_at_open(const std::string& role);
};

Manifest parse_manifest(const std::string& json_text);
// Size + SHA-256 check of one file's bytes against the manifest.
void verify_file(const FileEntry& f, const uint8_t* data, size_t size);

struct Bundle {
  Manifest manifest;
  Recipe recipe;
  CodeIndex index;
  Catalogue catalogue;
  WindowIndex windows;  // empty unless the recipe has windows
  PartCodes parts;      // empty unless built with part codes (a model with a parts map)
  StyleModels style;    // per collection (the verdict's collection test); empty in bundles calibrated before it
  PartitionLayout layout;  // partitioned bundles only (then index is empty, catalogue has no tokens)
  bool partitioned() const { return layout.partitions() > 0; }
};

// Build a bundle from verified file bytes (role -> bytes). The model file is not needed here, nor
// the part codes (loaded_at_open: a query fetches them when it needs them; if given, they are loaded).
Bundle load_bundle(const Manifest& m, const std::map<std::string, std::vector<uint8_t>>& files);
// The part codes file's bytes, checked against the manifest and the catalogue, into b.parts.
void load_part_codes(Bundle& b, const uint8_t* data, size_t size);

// Serialisation used by the builder (and by tests).
std::vector<uint8_t> serialize_recipe(const Recipe& r);
std::vector<uint8_t> serialize_catalogue(const Catalogue& c);
Recipe deserialize_recipe(const uint8_t* data, size_t size, const std::string& where);
Catalogue deserialize_catalogue(const uint8_t* data, size_t size, const std::string& where);

// Content-hashed file name: "<stem>.<first 16 hex of sha256>.<ext>".
std::string hashed_name(const std::string& stem, const std::string& ext, const std::string& sha256);

// For a partitioned bundle pass its layout (the catalogue then holds only the collections).
std::string make_manifest_json(const ModelCard& model, const Recipe& recipe, const CodeIndex& index,
                               const Catalogue& catalogue, const std::vector<FileEntry>& files,
                               const std::string& generator, const PartitionLayout* layout = nullptr);

}  // namespace nftlens
