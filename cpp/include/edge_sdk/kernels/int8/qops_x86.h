// AVX-512 (and, at the end, AVX2) versions of the int8 elementwise kernels in qops.h (Add, Mul, table lookup), 16 or 64
// values at a time, bit-identical to the portable loops: the same integer steps with
// requant_x86.h's vector form of the one rounding rule.  Squeeze-excitation scaling (Mul by a
// per-channel value), residual Adds and SiLU / sigmoid tables sit on every EfficientNet and
// MobileNet block, where the scalar 64-bit requantization was a large share of the time.
#pragma once

#include "requant_x86.h"

#if defined(EDGE_Q8_HAVE_AVX512_REQUANT) && defined(__AVX512VL__) && defined(__AVX512VBMI__)
#define EDGE_Q8_HAVE_QOPS_X86 1

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h)

namespace edge_sdk {
namespace q8 {

EDGE_Q8_INLINE __mmask16 lanes16(int n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

EDGE_Q8_INLINE __m512i load_s8x16(const int8_t* p, __mmask16 k) {
  return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, p));
}

// y = requantize(mbqm((a - zp_a) << ls, ma, sa) + mbqm((b - zp_b) << ls, mb, sb), mo, so) over n values;
// b_scalar >= -128 means b is that one value for the whole run (per-leading-dims broadcast).
// Inlined into each add_s8<P>, where the compiler folds P's multipliers and shifts into
// immediate operands (the rescaling by TFLite's exact 1/2 of the larger-scale input becomes two
// shifts): a form with prepared constants (RequantConst) measured 20% slower here.
template <typename AddP>
EDGE_Q8_INLINE void add_s8_x86(const AddP& P, const int8_t* a, const int8_t* b, int32_t b_scalar, int8_t* y, int n) {
  const __m512i zpa = _mm512_set1_epi32(P.zp_a), zpb = _mm512_set1_epi32(P.zp_b);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 k = lanes16(n - i);
    const __m512i va = _mm512_slli_epi32(_mm512_sub_epi32(load_s8x16(a + i, k), zpa), P.left_shift);
    const __m512i bx = b_scalar >= -128 ? _mm512_set1_epi32(b_scalar) : load_s8x16(b + i, k);
    const __m512i vb = _mm512_slli_epi32(_mm512_sub_epi32(bx, zpb), P.left_shift);
    const __m512i s = _mm512_add_epi32(multiply_by_quantized_multiplier_x16(va, P.mult_a, P.shift_a),
                                       multiply_by_quantized_multiplier_x16(vb, P.mult_b, P.shift_b));
    store_s8_x16(y + i, k, requantize_x16(s, P.mult_out, P.shift_out, P.zp_out, P.act_min, P.act_max));
  }
}

template <typename MulP>
EDGE_Q8_INLINE void mul_s8_x86(const MulP& P, const int8_t* a, const int8_t* b, int32_t b_scalar, int8_t* y, int n) {
  const __m512i zpa = _mm512_set1_epi32(P.zp_a), zpb = _mm512_set1_epi32(P.zp_b);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 k = lanes16(n - i);
    const __m512i bx = b_scalar >= -128 ? _mm512_set1_epi32(b_scalar) : load_s8x16(b + i, k);
    const __m512i prod = _mm512_mullo_epi32(_mm512_sub_epi32(load_s8x16(a + i, k), zpa), _mm512_sub_epi32(bx, zpb));
    store_s8_x16(y + i, k, requantize_x16(prod, P.mult, P.shift, P.zp_out, P.act_min, P.act_max));
  }
}

// y[i] = table[x[i] + 128]: the 256-byte table is four registers; vpermi2b looks up 7 bits in
// two of them and the index's top bit picks the pair.
inline void lut_s8_x86(const int8_t* x, int8_t* y, size_t n, const int8_t* table) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (size_t i = 0; i < n; i += 64) {
    const size_t left = n - i;
    const __mmask64 k = left >= 64 ? ~__mmask64{0} : ((__mmask64{1} << left) - 1);
    const __m512i idx = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, x + i), bias);  // x + 128 as u8
    const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1);
    const __m512i hi = _mm512_permutex2var_epi8(t2, idx, t3);
    _mm512_mask_storeu_epi8(y + i, k, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
  }
}

}  // namespace q8
}  // namespace edge_sdk

EDGE_Q8_AVX512_WARNINGS_ON
#endif

// AVX2 forms (x86 without AVX-512), 8 values at a time, the tail with the scalar steps: the
// same integer arithmetic as qops.h's portable loops.
#if defined(EDGE_Q8_HAVE_AVX2_REQUANT) && !defined(EDGE_Q8_HAVE_QOPS_X86)
#define EDGE_Q8_HAVE_QOPS_AVX2 1

namespace edge_sdk {
namespace q8 {

EDGE_Q8_INLINE __m256i load_s8x8(const int8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

EDGE_Q8_INLINE void store_s8x8(int8_t* p, __m256i clamped) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(clamped), _mm256_extracti128_si256(clamped, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(w, w));
}

// multiply_by_quantized_multiplier() of 8 lanes (requantize_x8 without zero point or clamp).
EDGE_Q8_INLINE __m256i mbqm_x8(__m256i v, int32_t mult, int shift) {
  return multiply_by_quantized_multiplier_add_x8(v, mult, shift, 0);
}

// As add_s8_x86: b_scalar >= -128 means b is that one value for the whole run.
template <typename AddP>
inline void add_s8_avx2(const AddP& P, const int8_t* a, const int8_t* b, int32_t b_scalar, int8_t* y, int n) {
  const __m256i zpa = _mm256_set1_epi32(P.zp_a), zpb = _mm256_set1_epi32(P.zp_b);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i va = _mm256_slli_epi32(_mm256_sub_epi32(load_s8x8(a + i), zpa), P.left_shift);
    const __m256i bx = b_scalar >= -128 ? _mm256_set1_epi32(b_scalar) : load_s8x8(b + i);
    const __m256i vb = _mm256_slli_epi32(_mm256_sub_epi32(bx, zpb), P.left_shift);
    const __m256i sum = _mm256_add_epi32(mbqm_x8(va, P.mult_a, P.shift_a), mbqm_x8(vb, P.mult_b, P.shift_b));
    store_s8x8(y + i, requantize_x8(sum, P.mult_out, P.shift_out, P.zp_out, P.act_min, P.act_max));
  }
  for (; i < n; ++i) {
    const int32_t bq = b_scalar >= -128 ? b_scalar : b[i];
    const int32_t va = (static_cast<int32_t>(a[i]) - P.zp_a) * (1 << P.left_shift);
    const int32_t vb = (bq - P.zp_b) * (1 << P.left_shift);
    y[i] = requantize(multiply_by_quantized_multiplier(va, P.mult_a, P.shift_a) +
                          multiply_by_quantized_multiplier(vb, P.mult_b, P.shift_b),
                      P.mult_out, P.shift_out, P.zp_out, P.act_min, P.act_max);
  }
}

template <typename MulP>
inline void mul_s8_avx2(const MulP& P, const int8_t* a, const int8_t* b, int32_t b_scalar, int8_t* y, int n) {
  const __m256i zpa = _mm256_set1_epi32(P.zp_a), zpb = _mm256_set1_epi32(P.zp_b);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i bx = b_scalar >= -128 ? _mm256_set1_epi32(b_scalar) : load_s8x8(b + i);
    const __m256i prod = _mm256_mullo_epi32(_mm256_sub_epi32(load_s8x8(a + i), zpa), _mm256_sub_epi32(bx, zpb));
    store_s8x8(y + i, requantize_x8(prod, P.mult, P.shift, P.zp_out, P.act_min, P.act_max));
  }
  for (; i < n; ++i) {
    const int32_t bq = b_scalar >= -128 ? b_scalar : b[i];
    y[i] = requantize((static_cast<int32_t>(a[i]) - P.zp_a) * (bq - P.zp_b), P.mult, P.shift, P.zp_out, P.act_min,
                      P.act_max);
  }
}

}  // namespace q8
}  // namespace edge_sdk
#endif
