// HTML text and attribute escaping for the pages the CLI writes (eval --report, site): metadata
// and file names are attacker-controlled, so everything shown goes through here.
#pragma once
#include <string>

namespace nftlens {

inline std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  return o;
}

}  // namespace nftlens
