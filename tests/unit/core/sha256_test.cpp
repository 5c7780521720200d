#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "sha256.h"

using nftlens::Sha256;
using nftlens::sha256_hex;

TEST_CASE("sha256: FIPS 180-4 vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // 55/56/64 bytes straddle the padding boundary.
  CHECK(sha256_hex(std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(sha256_hex(std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(sha256_hex(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("sha256: one million 'a' streamed in odd chunks") {
  const std::string block(1000, 'a');
  Sha256 h;
  size_t done = 0, chunk = 1;
  while (done < 1000000) {
    const size_t n = std::min({chunk, size_t(1000000) - done, block.size()});
    h.update(block.data(), n);
    done += n;
    chunk = chunk * 7 % 997 + 1;  // 1, 8, 57, 400, ... odd and even sizes, crossing 64-byte blocks
  }
  CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: zero-length updates change nothing") {
  Sha256 h;
  h.update(nullptr, 0);
  h.update("ab", 2);
  h.update(nullptr, 0);
  h.update("c", 1);
  CHECK(h.hex_digest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
