// One exception type for every user-facing failure: the message names the file/field at fault, and
// a machine-readable code (errc below) lets hosts and callers branch without reading the text.
#pragma once
#include <stdexcept>
#include <string>

namespace nftlens {

namespace errc {
inline constexpr const char* general = "error";
inline constexpr const char* bad_request = "bad_request";  // a request's option is out of range or of the wrong type
inline constexpr const char* not_image = "not_image";      // bytes no decoder here reads (a host may try its platform's)
inline constexpr const char* bad_image = "bad_image";      // an image that is corrupt, truncated or over the limits
inline constexpr const char* bad_bundle = "bad_bundle";    // a bundle file or part failed its checks
inline constexpr const char* unsupported = "unsupported";  // not available on this bundle
inline constexpr const char* no_bundle = "no_bundle";      // called before a bundle (or a query) was loaded
}  // namespace errc

struct Error : std::runtime_error {
  explicit Error(const std::string& what, const char* code = errc::general) : std::runtime_error(what), code_(code) {}
  const char* code() const { return code_; }

 private:
  const char* code_;  // one of errc (static strings)
};

}  // namespace nftlens
