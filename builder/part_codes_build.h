// The builder's part codes (shared/part_codes.h): every token image through the model twice, at
// the card's size (grid parts) and at twice it (zoom parts); the whitening of each set learned from
// an even sample of the collection; the codes of every token. Opt-in (`build --part-codes`): it
// costs about five times the model time of a plain build (the 2x run is four times the pixels).
#pragma once
#include <string>
#include <vector>

#include "model_card.h"

namespace nftlens {

struct PartCodesOptions {
  int dim = 64;              // code dims per part
  size_t learn_tokens = 2000;  // tokens whose regions teach the whitening (evenly spaced)
  int threads = 0;           // workers (0 = one per core), each running the model with 1 intra-op thread
  bool quiet = false;
};

// images: each token's image file, in catalogue order. Returns the part code file's bytes.
std::vector<uint8_t> build_part_codes(const std::vector<std::string>& images, const std::string& onnx_path, const ModelCard& card,
                                      const PartCodesOptions& opt);

}  // namespace nftlens
