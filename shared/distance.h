// Squared L2 distance between int8 codes, the index's only hot loop. Kernels: scalar (reference),
// SSE4.1 and AVX2 (native, chosen at run time), wasm simd128 (browser). Tests check they agree.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nftlens {

using L2Int8Fn = int32_t (*)(const int8_t*, const int8_t*, size_t);

int32_t l2_int8_scalar(const int8_t* a, const int8_t* b, size_t n);
#if defined(__x86_64__) || defined(__i386__)
int32_t l2_int8_sse41(const int8_t* a, const int8_t* b, size_t n);
int32_t l2_int8_avx2(const int8_t* a, const int8_t* b, size_t n);
#endif
#if defined(__wasm_simd128__)
int32_t l2_int8_wasm_simd(const int8_t* a, const int8_t* b, size_t n);
#endif

// The fastest kernel this CPU supports, and its name (for benchmarks and `nftlens info`).
L2Int8Fn best_l2_int8();
const char* best_l2_int8_name();

}  // namespace nftlens
