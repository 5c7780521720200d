#include "distance.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

namespace nftlens {

int32_t l2_int8_scalar(const int8_t* a, const int8_t* b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t d = int32_t(a[i]) - int32_t(b[i]);
    s += d * d;
  }
  return s;
}

#if defined(__x86_64__) || defined(__i386__)
// Differences of int8 need 9 bits, so widen to int16 and use madd (d*d pairs summed to int32).
__attribute__((target("sse4.1"))) int32_t l2_int8_sse41(const int8_t* a, const int8_t* b, size_t n) {
  __m128i acc = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const __m128i lo = _mm_sub_epi16(_mm_cvtepi8_epi16(va), _mm_cvtepi8_epi16(vb));
    const __m128i hi = _mm_sub_epi16(_mm_cvtepi8_epi16(_mm_srli_si128(va, 8)), _mm_cvtepi8_epi16(_mm_srli_si128(vb, 8)));
    acc = _mm_add_epi32(acc, _mm_madd_epi16(lo, lo));
    acc = _mm_add_epi32(acc, _mm_madd_epi16(hi, hi));
  }
  acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4e));
  acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0xb1));
  return _mm_cvtsi128_si32(acc) + l2_int8_scalar(a + i, b + i, n - i);
}

__attribute__((target("avx2"))) int32_t l2_int8_avx2(const int8_t* a, const int8_t* b, size_t n) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i va = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i vb = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    const __m256i d = _mm256_sub_epi16(va, vb);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s) + l2_int8_scalar(a + i, b + i, n - i);
}
#endif

#if defined(__wasm_simd128__)
int32_t l2_int8_wasm_simd(const int8_t* a, const int8_t* b, size_t n) {
  v128_t acc = wasm_i32x4_splat(0);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const v128_t va = wasm_v128_load(a + i), vb = wasm_v128_load(b + i);
    const v128_t lo = wasm_i16x8_sub(wasm_i16x8_extend_low_i8x16(va), wasm_i16x8_extend_low_i8x16(vb));
    const v128_t hi = wasm_i16x8_sub(wasm_i16x8_extend_high_i8x16(va), wasm_i16x8_extend_high_i8x16(vb));
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(lo, lo));
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(hi, hi));
  }
  const int32_t s = wasm_i32x4_extract_lane(acc, 0) + wasm_i32x4_extract_lane(acc, 1) +
                    wasm_i32x4_extract_lane(acc, 2) + wasm_i32x4_extract_lane(acc, 3);
  return s + l2_int8_scalar(a + i, b + i, n - i);
}
#endif

L2Int8Fn best_l2_int8() {
#if defined(__wasm_simd128__)
  return l2_int8_wasm_simd;
#elif defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("avx2")) return l2_int8_avx2;
  if (__builtin_cpu_supports("sse4.1")) return l2_int8_sse41;
  return l2_int8_scalar;
#else
  return l2_int8_scalar;
#endif
}

const char* best_l2_int8_name() {
  const L2Int8Fn f = best_l2_int8();
#if defined(__wasm_simd128__)
  if (f == l2_int8_wasm_simd) return "wasm-simd128";
#elif defined(__x86_64__) || defined(__i386__)
  if (f == l2_int8_avx2) return "avx2";
  if (f == l2_int8_sse41) return "sse4.1";
#endif
  return "scalar";
}

}  // namespace nftlens
