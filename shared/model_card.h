// The model card: everything the core needs to know about an ONNX image model (input layout,
// size, normalisation, which outputs to read and how to pool them). Read from JSON in the bundle,
// so no model detail is hard-coded in C++ or JS.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "image.h"

namespace nftlens {

struct ModelOutput {
  std::string name;
  std::string shape = "NC";     // NC (pooled vector) | NHWC | NCHW (feature map)
  std::string pooling = "none"; // none | mean | max (feature maps) | parts (a map kept for part codes, not a feature)
  int dim = 0;                  // channels after pooling
};

struct ModelCard {
  std::string name, description, file, sha256, license, source, trained_on;
  long long bytes = 0;
  std::string input_name = "input";
  std::string layout = "NHWC";  // NHWC | NCHW
  int width = 224, height = 224, channels = 3;
  std::string color = "RGB";    // RGB | BGR
  std::array<float, 3> mean{0, 0, 0}, std{1, 1, 1};
  Rgb background{255, 255, 255};
  std::vector<ModelOutput> outputs;

  int feature_dim() const;       // sum of output dims (outputs with pooling parts apart)
  int part_channels() const;     // channels of the parts map (0: the model has none)
  std::string to_json() const;   // canonical JSON (the form stored in bundles)
};

// Parse and validate; `where` names the source in error messages (file path or "manifest.json model").
ModelCard parse_model_card(const std::string& json_text, const std::string& where);

// The model's input tensor for an image region: resize to the card's size, then normalise.
std::vector<float> make_input_tensor(const ModelCard& card, const RgbImage& img, const Box& box);

// One image's model outputs (in card order, each raw as the model returned it) -> pooled features.
// `sizes` are the element counts of each output; feature maps are pooled per the card.
std::vector<float> pool_outputs(const ModelCard& card, const std::vector<const float*>& outputs,
                                const std::vector<size_t>& sizes);
// The parts map's region means (part_codes.h pool_part_regions); empty if the card has none.
std::vector<float> pool_parts(const ModelCard& card, const std::vector<const float*>& outputs, const std::vector<size_t>& sizes);

}  // namespace nftlens
