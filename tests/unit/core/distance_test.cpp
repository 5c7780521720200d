#include <doctest/doctest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "distance.h"

using namespace nftlens;

namespace {
std::vector<std::pair<std::string, L2Int8Fn>> kernels() {
  std::vector<std::pair<std::string, L2Int8Fn>> k{{"best (" + std::string(best_l2_int8_name()) + ")", best_l2_int8()}};
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("sse4.1")) k.emplace_back("sse4.1", l2_int8_sse41);
  if (__builtin_cpu_supports("avx2")) k.emplace_back("avx2", l2_int8_avx2);
#endif
#if defined(__wasm_simd128__)
  k.emplace_back("wasm-simd128", l2_int8_wasm_simd);
#endif
  return k;
}
}  // namespace

TEST_CASE("distance: the best kernel is the one this platform should pick") {
  const std::string name = best_l2_int8_name();
  MESSAGE("best int8 L2 kernel: " << name);
#if defined(__wasm_simd128__)
  CHECK(name == "wasm-simd128");
#elif defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("avx2")) CHECK(name == "avx2");
  else if (__builtin_cpu_supports("sse4.1")) CHECK(name == "sse4.1");
  else CHECK(name == "scalar");
#endif
}

TEST_CASE("distance: scalar reference values") {
  const int8_t a[3] = {1, -2, 3}, b[3] = {4, 2, -1};
  CHECK(l2_int8_scalar(a, b, 3) == 9 + 16 + 16);
  CHECK(l2_int8_scalar(a, b, 0) == 0);
  std::vector<int8_t> hi(200, 127), lo(200, -128);
  CHECK(l2_int8_scalar(hi.data(), lo.data(), 200) == 255 * 255 * 200);
}

TEST_CASE("distance: every kernel agrees with scalar on random vectors of length 0..200") {
  std::mt19937 rng(1234);
  std::vector<int8_t> a(256 + 16), b(256 + 16);
  for (const auto& kernel : kernels()) {
    const std::string name = kernel.first;  // not a structured binding: clang 14 cannot capture those
    const L2Int8Fn fn = kernel.second;
    CAPTURE(name);
    int mismatches = 0;
    for (size_t n = 0; n <= 200; ++n)
      for (int rep = 0; rep < 5; ++rep) {
        for (auto& v : a) v = int8_t(rng());
        for (auto& v : b) v = int8_t(rng());
        if (rep == 4) {  // extremes: the 9-bit difference must not overflow int16 lanes
          for (size_t i = 0; i < a.size(); ++i) { a[i] = (i % 2) ? 127 : -128; b[i] = (i % 2) ? -128 : 127; }
        }
        const size_t oa = rng() % 16, ob = rng() % 16;  // unaligned starts
        const int32_t want = l2_int8_scalar(a.data() + oa, b.data() + ob, n);
        const int32_t got = fn(a.data() + oa, b.data() + ob, n);
        if (got != want) {
          ++mismatches;
          if (mismatches < 5) MESSAGE(name << " n=" << n << " got " << got << " want " << want);
        }
      }
    CHECK(mismatches == 0);
    std::vector<int8_t> hi(200, 127), lo(200, -128);
    CHECK(fn(hi.data(), lo.data(), 200) == 255 * 255 * 200);
    CHECK(fn(hi.data(), hi.data(), 200) == 0);
  }
}
