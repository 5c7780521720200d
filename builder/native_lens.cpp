#include "native_lens.h"

#include <algorithm>
#include <fstream>

#include "bundle_io.h"
#include "error.h"
#include "image_file.h"

namespace nftlens {

namespace {
// Natively every part is on disk: budgets that keep a whole large bundle in memory if a run needs
// it, and text search, trait filters and statistics on partitioned bundles (the whole catalogue).
LensSettings native_settings() {
  LensSettings s;
  s.part_budget = size_t(1) << 30;
  s.thumb_budget = 4096;
  s.whole_catalogue_bytes = UINT64_MAX;
  return s;
}
}  // namespace

NativeLens::NativeLens(const std::filesystem::path& dir, int threads, bool with_model)
    : dir_(dir), lens_(load_bundle_dir(dir), native_settings()) {
  if (!with_model || !bundle().recipe.use_model) return;
  const FileEntry& mf = bundle().manifest.file("model");
  const auto path = dir / mf.name;
  const auto bytes = read_bytes(path, mf.bytes + 1);
  verify_file(mf, bytes.data(), bytes.size());
  embedder_ = std::make_unique<Embedder>(path.string(), bundle().manifest.model, EmbedderOptions{threads, true});
}

RgbImage NativeLens::decode(const std::vector<uint8_t>& bytes) const { return decode_any(bytes, bundle().manifest.model.background); }

std::unique_ptr<QuerySession> NativeLens::session(const RgbImage& image) {
  auto q = std::make_unique<QuerySession>(bundle(), image);
  if (embedder_) {
    std::vector<std::vector<float>> inputs;
    for (size_t r = 0; r < q->model_runs(); ++r) inputs.push_back(q->model_input(r));
    std::vector<std::vector<float>> parts;
    const auto feats = embedder_->run(inputs, &parts);  // (pooled already: handed over as such)
    for (size_t r = 0; r < feats.size(); ++r) q->set_pooled_features(r, feats[r]);
    if (!parts.empty()) q->set_part_regions(parts[0]);  // (run 0: the whole image)
  }
  return q;
}

const Catalogue& NativeLens::whole_catalogue() {
  settle([&] { return lens_.load_whole_catalogue(); });
  return lens_.whole_catalogue();
}

bool NativeLens::check_thumbnail(uint32_t t) {
  settle([&] { return lens_.token(t); });  // (its catalogue fragment, in a partitioned bundle)
  Need need;
  if (!lens_.thumb_need(t, need)) return false;
  answer(need);
  return true;
}

void NativeLens::answer(const Need& n) {
  const auto path = dir_ / n.name;
  const char* listed = n.kind == Need::Kind::parts ? "manifest.json" : n.kind == Need::Kind::thumb ? "the bundle's list of thumbnail packs" : "the partition table";
  if (n.ranged) {  // a byte range (a thumbnail in its pack, a shard or fragment in its file), checked by the engine
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path.string() + ": missing (listed in " + listed + ")", errc::bad_bundle);
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    const uint64_t have = ec || n.offset >= size ? 0 : size - n.offset;
    std::vector<uint8_t> bytes(size_t(std::min(n.bytes, have)));  // (a table claiming more than the file holds allocates no more)
    in.seekg(std::streamoff(n.offset));
    in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size()));
    bytes.resize(in ? bytes.size() : size_t(std::max<std::streamsize>(0, in.gcount())));  // short: named by the check
    if (bytes.empty() && n.bytes > 0) bytes.push_back(0);  // (an empty thumbnail would mean "not fetched"; this is damage)
    lens_.add_part(n.kind, n.id, bytes.data(), bytes.size());
    return;
  }
  if (!std::filesystem::exists(path)) throw Error(path.string() + ": missing (listed in " + listed + ")", errc::bad_bundle);
  const auto bytes = read_bytes(path, std::max<size_t>(size_t(64) << 20, size_t(n.bytes) + 1));  // (a wrong size is named by the check)
  lens_.add_part(n.kind, n.id, bytes.data(), bytes.size());
}

}  // namespace nftlens
