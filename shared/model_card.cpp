#include "model_card.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "error.h"
#include "json_parse.h"
#include "part_codes.h"

namespace nftlens {
using nlohmann::json;

int ModelCard::feature_dim() const {
  int d = 0;
  for (auto& o : outputs)
    if (o.pooling != "parts") d += o.dim;
  return d;
}

int ModelCard::part_channels() const {
  for (auto& o : outputs)
    if (o.pooling == "parts") return o.dim;
  return 0;
}

std::string ModelCard::to_json() const {
  json outs = json::array();
  for (auto& o : outputs) outs.push_back({{"name", o.name}, {"shape", o.shape}, {"pooling", o.pooling}, {"dim", o.dim}});
  json j = {{"format", "nftlens-model-card/1"},
            {"name", name},
            {"description", description},
            {"file", file},
            {"sha256", sha256},
            {"bytes", bytes},
            {"input",
             {{"name", input_name}, {"layout", layout}, {"width", width}, {"height", height}, {"channels", channels},
              {"color", color}, {"mean", mean}, {"std", std}, {"resize", "stretch"}, {"background", background}}},
            {"outputs", outs},
            {"license", license},
            {"source", source},
            {"trained_on", trained_on}};
  return j.dump(2);
}

ModelCard parse_model_card(const std::string& text, const std::string& where) {
  json j = parse_json(text);
  if (j.is_discarded() || !j.is_object()) throw Error(where + ": model card is not a JSON object");
  auto field = [&](const json& obj, const char* key, const std::string& path) -> const json& {
    if (!obj.contains(key)) throw Error(where + ": model card is missing \"" + path + "\"");
    return obj.at(key);
  };
  try {
    ModelCard c;
    if (field(j, "format", "format").get<std::string>() != "nftlens-model-card/1")
      throw Error(where + ": unsupported model card format \"" + j["format"].dump() + "\"");
    c.name = field(j, "name", "name").get<std::string>();
    c.file = field(j, "file", "file").get<std::string>();
    c.sha256 = j.value("sha256", "");
    c.bytes = j.value("bytes", 0LL);
    c.description = j.value("description", "");
    c.license = j.value("license", "");
    c.source = j.value("source", "");
    c.trained_on = j.value("trained_on", "");
    const json& in = field(j, "input", "input");
    c.input_name = field(in, "name", "input.name").get<std::string>();
    c.layout = in.value("layout", "NHWC");
    c.width = field(in, "width", "input.width").get<int>();
    c.height = field(in, "height", "input.height").get<int>();
    c.channels = in.value("channels", 3);
    c.color = in.value("color", "RGB");
    if (in.contains("mean")) c.mean = in["mean"].get<std::array<float, 3>>();
    if (in.contains("std")) c.std = in["std"].get<std::array<float, 3>>();
    if (in.contains("background")) c.background = in["background"].get<Rgb>();
    if (in.value("resize", "stretch") != "stretch") throw Error(where + ": input.resize must be \"stretch\"");
    if (c.layout != "NHWC" && c.layout != "NCHW") throw Error(where + ": input.layout must be NHWC or NCHW");
    if (c.color != "RGB" && c.color != "BGR") throw Error(where + ": input.color must be RGB or BGR");
    if (c.channels != 3) throw Error(where + ": input.channels must be 3");
    if (c.width < 8 || c.height < 8 || c.width > 2048 || c.height > 2048)
      throw Error(where + ": input.width/height must be within 8..2048");
    for (float s : c.std)
      if (!(std::fabs(s) > 1e-12f)) throw Error(where + ": input.std must be non-zero");
    const json& outs = field(j, "outputs", "outputs");
    if (!outs.is_array() || outs.empty()) throw Error(where + ": \"outputs\" must be a non-empty list");
    for (auto& o : outs) {
      ModelOutput m;
      m.name = field(o, "name", "outputs[].name").get<std::string>();
      m.shape = o.value("shape", "NC");
      m.pooling = o.value("pooling", "none");
      m.dim = field(o, "dim", "outputs[].dim").get<int>();
      if (m.shape != "NC" && m.shape != "NHWC" && m.shape != "NCHW")
        throw Error(where + ": outputs[].shape must be NC, NHWC or NCHW");
      if (m.shape != "NC" && m.pooling != "mean" && m.pooling != "max" && m.pooling != "parts")
        throw Error(where + ": feature-map output \"" + m.name + "\" needs pooling mean, max or parts");
      if (m.pooling == "parts" && c.part_channels() > 0) throw Error(where + ": only one output may have pooling parts");
      if (m.dim <= 0 || m.dim > 65536) throw Error(where + ": outputs[].dim out of range");
      c.outputs.push_back(m);
    }
    if (c.feature_dim() == 0) throw Error(where + ": no output gives features (every one has pooling parts)");
    if (c.part_channels() > 0 && c.width != c.height) throw Error(where + ": a model with a parts map needs a square input");
    return c;
  } catch (const json::exception& e) {
    throw Error(where + ": model card has a field of the wrong type (" + e.what() + ")");
  }
}

std::vector<float> make_input_tensor(const ModelCard& card, const RgbImage& img, const Box& box) {
  std::vector<float> hwc = resize_to_float(img, box, card.width, card.height);
  const size_t n = size_t(card.width) * card.height;
  const bool bgr = card.color == "BGR";
  std::vector<float> out(n * 3);
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      const int src = bgr ? 2 - c : c;
      const float v = (hwc[3 * i + src] - card.mean[c]) / card.std[c];
      if (card.layout == "NHWC") out[3 * i + c] = v;
      else out[size_t(c) * n + i] = v;
    }
  return out;
}

std::vector<float> pool_outputs(const ModelCard& card, const std::vector<const float*>& outputs,
                                const std::vector<size_t>& sizes) {
  if (outputs.size() != card.outputs.size() || sizes.size() != outputs.size())
    throw Error("model returned " + std::to_string(outputs.size()) + " outputs, the card lists " +
                std::to_string(card.outputs.size()));
  std::vector<float> feat;
  feat.reserve(card.feature_dim());
  for (size_t k = 0; k < outputs.size(); ++k) {
    const ModelOutput& o = card.outputs[k];
    const float* p = outputs[k];
    const size_t n = sizes[k];
    if (o.pooling == "parts") continue;  // (pool_parts)
    if (o.shape == "NC") {
      if (n != size_t(o.dim)) throw Error("model output \"" + o.name + "\" has " + std::to_string(n) + " values, the card says " + std::to_string(o.dim));
      feat.insert(feat.end(), p, p + n);
      continue;
    }
    if (n == 0 || n % size_t(o.dim) != 0) throw Error("model output \"" + o.name + "\" size does not match dim " + std::to_string(o.dim));
    const size_t cells = n / o.dim;
    const bool mean = o.pooling == "mean";
    std::vector<float> acc(o.dim, mean ? 0.0f : -INFINITY);
    for (size_t cell = 0; cell < cells; ++cell)
      for (int ch = 0; ch < o.dim; ++ch) {
        const float v = o.shape == "NHWC" ? p[cell * o.dim + ch] : p[size_t(ch) * cells + cell];
        acc[ch] = mean ? acc[ch] + v : std::max(acc[ch], v);
      }
    if (mean)
      for (float& v : acc) v /= float(cells);
    feat.insert(feat.end(), acc.begin(), acc.end());
  }
  return feat;
}

std::vector<float> pool_parts(const ModelCard& card, const std::vector<const float*>& outputs, const std::vector<size_t>& sizes) {
  for (size_t k = 0; k < card.outputs.size() && k < outputs.size() && k < sizes.size(); ++k)
    if (card.outputs[k].pooling == "parts")
      return pool_part_regions(outputs[k], sizes[k], card.outputs[k].dim, card.outputs[k].shape == "NCHW", "model output \"" + card.outputs[k].name + "\"");
  return {};
}

}  // namespace nftlens
