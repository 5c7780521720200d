// Finding the model card and ONNX file: explicit flags first, else the project's default model
// (models/<name>.card.json in the source tree, the .onnx produced by scripts/make-model).
#pragma once
#include <filesystem>
#include <string>

#include "model_card.h"

namespace nftlens {

struct ModelFiles {
  ModelCard card;
  std::filesystem::path onnx;
};

// card_path/onnx_path may be empty (defaults). Verifies the ONNX file's SHA-256 against the card.
ModelFiles resolve_model(const std::string& card_path, const std::string& onnx_path);

}  // namespace nftlens
