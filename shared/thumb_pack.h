// Thumbnail packs: the 96 px result thumbnails of many tokens concatenated into one content-hashed
// file ("thumbs.<hash>.bin"), so that a bundle has O(partitions) files instead of one per token
// (static hosts cap file counts: Cloudflare Pages at 20,000). The offset table is the catalogue's:
// each token's ThumbRef says which pack, where, how long, and the first 64 bits of the thumbnail's
// SHA-256, so a host may fetch one thumbnail by HTTP Range and still check it. Packs hold whole
// consecutive partitions in a partitioned bundle (a query's candidates share partitions; at least
// `kPartitionPackTokens` tokens per pack) and `kPackTokens` consecutive tokens in a one-index bundle. The whole pack is listed, with its size and
// SHA-256, in manifest.json (role "thumbs", in pack order).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "catalogue.h"

namespace nftlens {

constexpr uint32_t kPackTokens = 512;  // one-index bundles: tokens per pack (~1.3 MB of 96 px PNGs)
constexpr uint32_t kPartitionPackTokens = 1000;  // partitioned bundles: at least this many tokens per pack (whole partitions)

// A pack of the given thumbnails (empty ones are skipped: their ref says "none"), with the
// reference of each into it as pack number `pack`.
std::vector<uint8_t> make_thumb_pack(const std::vector<const std::vector<uint8_t>*>& thumbs, uint32_t pack,
                                     std::vector<ThumbRef>& refs);
// The packs of a partitioned bundle: [first, first + count) of the catalogue for each, whole
// consecutive partitions (`counts`, in order) until a pack holds kPartitionPackTokens or more.
std::vector<std::pair<size_t, size_t>> partition_pack_groups(const std::vector<uint32_t>& counts);
// Do these bytes equal the thumbnail `ref` describes (size and digest)?
bool thumb_matches(const ThumbRef& ref, const uint8_t* data, size_t size);

}  // namespace nftlens
