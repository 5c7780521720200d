// One way to parse JSON text in the core. nlohmann's json::parse compiles two parsers (with and
// without a callback) into every caller; going through sax_parse with the plain DOM builder links
// only one, ~4 KB gzipped less in the browser module.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace nftlens {

// Parsed value, or a discarded value (is_discarded()) if `text` is not valid JSON.
inline nlohmann::json parse_json(const std::string& text) {
  nlohmann::json out;
  nlohmann::detail::json_sax_dom_parser<nlohmann::json> sax(out, false);
  if (!nlohmann::json::sax_parse(text, &sax) || sax.is_errored()) return nlohmann::json(nlohmann::json::value_t::discarded);
  return out;
}

}  // namespace nftlens
