// The builder's part codes (shared/part_codes.h): every token image through the model at the
// card's size (grid parts; the build's embed pass hands over the regions of the tokens it ran the
// model on) and at twice it (zoom parts); the whitening of each set learned from an even sample of
// the collection; the codes of every token. Opt-in (`build --part-codes`): about four times the
// model time of a plain build (the 2x run is four times the pixels), five for tokens whose features
// came from the cache (their card-size run is repeated here).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model_card.h"

namespace nftlens {

struct PartCodesOptions {
  int dim = 64;              // code dims per part
  size_t learn_tokens = 2000;  // tokens whose regions teach the whitening (evenly spaced)
  int threads = 0;           // workers (0 = one per core), each running the model with 1 intra-op thread
  bool quiet = false;
  // The grid regions of token i (kParts x channels: pool_parts of the card-size run without the
  // whole map's row) if the caller has them, else false and the model runs here. The build's embed
  // pass gives them for every token it ran the model on: the same decoded image, input tensor,
  // session options and batch of 1, so the same floats as running it here.
  std::function<bool(size_t i, std::vector<float>& grid)> grid_regions;
};

// images: each token's image file, in catalogue order. Returns the part code file's bytes.
std::vector<uint8_t> build_part_codes(const std::vector<std::string>& images, const std::string& onnx_path, const ModelCard& card,
                                      const PartCodesOptions& opt);

}  // namespace nftlens
