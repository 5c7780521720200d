#include "thumb_pack.h"

#include "sha256.h"

namespace nftlens {
namespace {
std::array<uint8_t, 8> digest64(const uint8_t* data, size_t size) {
  const std::string hex = sha256_hex(data, size);
  std::array<uint8_t, 8> d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = uint8_t(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return d;
}
}  // namespace

std::vector<std::pair<size_t, size_t>> partition_pack_groups(const std::vector<uint32_t>& counts) {
  std::vector<std::pair<size_t, size_t>> groups;
  size_t first = 0;
  for (uint32_t c : counts) {
    if (groups.empty() || groups.back().second >= kPartitionPackTokens) groups.push_back({first, c});
    else groups.back().second += c;
    first += c;
  }
  return groups;
}

std::vector<uint8_t> make_thumb_pack(const std::vector<const std::vector<uint8_t>*>& thumbs, uint32_t pack,
                                     std::vector<ThumbRef>& refs) {
  std::vector<uint8_t> out;
  refs.assign(thumbs.size(), ThumbRef{});
  for (size_t i = 0; i < thumbs.size(); ++i) {
    if (!thumbs[i] || thumbs[i]->empty()) continue;
    refs[i].pack = pack;
    refs[i].offset = out.size();
    refs[i].bytes = uint32_t(thumbs[i]->size());
    refs[i].digest = digest64(thumbs[i]->data(), thumbs[i]->size());
    out.insert(out.end(), thumbs[i]->begin(), thumbs[i]->end());
  }
  return out;
}

bool thumb_matches(const ThumbRef& ref, const uint8_t* data, size_t size) {
  return ref.present() && size == ref.bytes && digest64(data, size) == ref.digest;
}

}  // namespace nftlens
