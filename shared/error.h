// One exception type for every user-facing failure: the message names the file/field at fault.
#pragma once
#include <stdexcept>
#include <string>

namespace nftlens {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace nftlens
