// Ingest a local NFT collection folder:
//   <dir>/collection.json     optional: slug, name, description, chain, contract, link_template
//   <dir>/metadata/<token>[.json] or <dir>/metadata.jsonl   ERC-721 / OpenSea metadata
//   images referenced by "image" (relative path, ipfs://CID/path inside <dir>/ipfs/, http(s) URL)
//   or found by the token's file stem under <dir>/images/.
// A remote collection is a folder whose collection.json has "base_uri" (token metadata at
// base_uri + id, or with {id} replaced), "token_ids" ("0-99" or a list) and optionally
// "ipfs_gateway" (default https://ipfs.io/ipfs/); metadata and images are downloaded into
// `download_cache` (keyed by URL) and then ingested like local files.
// Metadata is attacker-controlled: broken tokens are skipped with a reason, paths cannot escape <dir>.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "catalogue.h"

namespace nftlens {

struct SourceToken {
  std::string token_id, name, description, image_ref, external_url;
  std::vector<std::pair<std::string, std::string>> traits;
  std::filesystem::path image_path;  // resolved local file
  std::string source;                // metadata file (for error messages)
};

struct Skipped {
  std::string collection, token, source, reason;
};

struct SourceCollection {
  Collection info;
  std::filesystem::path dir;
  std::vector<SourceToken> tokens;
  std::vector<Skipped> skipped;
};

SourceCollection load_collection(const std::filesystem::path& dir, const std::filesystem::path& download_cache = {});
// The same, each token handed to `sink` as it is parsed instead of kept in `tokens` (which stays
// empty): at a million tokens the parsed sources alone were ~1.3 GB at the builder's peak.
SourceCollection load_collection(const std::filesystem::path& dir, const std::filesystem::path& download_cache,
                                 const std::function<void(SourceToken&&)>& sink);

// Parse one token's metadata JSON (exposed for tests and fuzzing). Throws Error naming `where`.
SourceToken parse_token_metadata(const std::string& text, const std::string& fallback_id, const std::string& where);

}  // namespace nftlens
