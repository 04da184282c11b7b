// AVX-512 requantization of 16 int32 accumulators at once, bit-identical to requantize()
// in requant.h (the one rounding rule): the same 64-bit SaturatingRoundingDoublingHighMul
// (ties away from zero, INT32_MIN*INT32_MIN saturating) and RoundingDivideByPOT, done
// on even and odd lanes with 64-bit products.  Compiled only where the target has
// AVX-512F/BW; requantize_span() falls back to the scalar loop everywhere else.
#pragma once

#include "requant.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && !defined(EDGE_SDK_KERNELS_PORTABLE)
#define EDGE_Q8_HAVE_AVX512_REQUANT 1
#include <immintrin.h>

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h); on to the end of the file
#define EDGE_Q8_AVX512_WARNINGS_PUSHED 1

namespace edge_sdk {
namespace q8 {

// multiply_by_quantized_multiplier() is two roundings of the 64-bit product ab = x * multiplier:
//   SaturatingRoundingDoublingHighMul  h = floor((ab + 2^30) / 2^31)  (gemmlowp's nudge and
//                                       truncation toward zero, which is this floor exactly)
//   RoundingDivideByPOT(h, r)          floor((h + 2^(r-1) - [h < 0]) / 2^r)  (r >= 1; ties away)
// and floor((floor(y) + c) / 2^r) = floor((y + c) / 2^r) for integer c, so both are one add, one
// masked subtract and one arithmetic shift of ab:
//   floor((ab + K - [ab < -2^30] * D) / 2^(31 + r)),  K = 2^30 + 2^(30+r), D = 2^31  (r >= 1)
//                                                      K = 2^30,           D = 0     (r == 0).
// The one saturating case, INT32_MIN * INT32_MIN, gives 2^31 here: right for r >= 1 (it equals
// RDBP(INT32_MAX, r)) and fixed up by the caller for r == 0.
struct RoundingX16 {
  __m512i k, d;   // per int64 lane
  __m128i count;  // 31 + r
};

EDGE_Q8_INLINE RoundingX16 rounding_x16(int right) {
  const int64_t k = (int64_t{1} << 30) + (right > 0 ? int64_t{1} << (30 + right) : 0);
  return {_mm512_set1_epi64(k), _mm512_set1_epi64(right > 0 ? int64_t{1} << 31 : 0), _mm_cvtsi32_si128(31 + right)};
}

// The rounded quotient of the even 32-bit lanes of x times those of m (in the low halves).
EDGE_Q8_INLINE __m512i scaled_even_x16(__m512i x, __m512i m, __m512i k, __m512i d) {
  const __m512i ab = _mm512_mul_epi32(x, m);  // exact signed 64-bit products of the low halves
  const __mmask8 neg = _mm512_cmplt_epi64_mask(ab, _mm512_set1_epi64(-(int64_t{1} << 30)));
  const __m512i u = _mm512_add_epi64(ab, k);
  return _mm512_mask_sub_epi64(u, neg, u, d);
}

// multiply_by_quantized_multiplier() of 16 lanes.
EDGE_Q8_INLINE __m512i multiply_by_quantized_multiplier_x16(__m512i acc, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const __m512i x = _mm512_sllv_epi32(acc, _mm512_set1_epi32(left));  // wraps like the scalar uint32 shift
  const __m512i m = _mm512_set1_epi32(multiplier);
  const RoundingX16 rd = rounding_x16(right);
  const __m512i lo = _mm512_sra_epi64(scaled_even_x16(x, m, rd.k, rd.d), rd.count);
  const __m512i hi = _mm512_sra_epi64(scaled_even_x16(_mm512_srli_epi64(x, 32), m, rd.k, rd.d), rd.count);
  __m512i r = _mm512_mask_blend_epi32(0xAAAA, lo, _mm512_slli_epi64(hi, 32));
  if (multiplier == INT32_MIN && right == 0) {  // the doubling high multiply's one overflow
    const __mmask16 sat = _mm512_cmpeq_epi32_mask(x, _mm512_set1_epi32(INT32_MIN));
    r = _mm512_mask_mov_epi32(r, sat, _mm512_set1_epi32(INT32_MAX));
  }
  return r;
}

// requantize() of 16 lanes, each with its own multiplier and a right shift (shift <= 0, right =
// -shift) and multiplier >= 0, the same in both 32-bit lanes of each 64-bit lane: the form of two
// channels sharing one vector (pooled epilogues).
EDGE_Q8_INLINE __m512i requantize_x16_lanes(__m512i acc, __m512i multiplier, __m512i right, int32_t zp_out,
                                            int32_t lo, int32_t hi) {
  const __m512i r64 = _mm512_and_si512(right, _mm512_set1_epi64(0xFFFFFFFF));
  const __mmask8 rounds = _mm512_test_epi64_mask(r64, r64);
  const __m512i k = _mm512_mask_add_epi64(_mm512_set1_epi64(int64_t{1} << 30), rounds, _mm512_set1_epi64(int64_t{1} << 30),
                                          _mm512_sllv_epi64(_mm512_set1_epi64(int64_t{1} << 30), r64));
  const __m512i d = _mm512_maskz_mov_epi64(rounds, _mm512_set1_epi64(int64_t{1} << 31));
  const __m512i count = _mm512_add_epi64(r64, _mm512_set1_epi64(31));
  const __m512i even = _mm512_srav_epi64(scaled_even_x16(acc, multiplier, k, d), count);
  const __m512i odd = _mm512_srav_epi64(scaled_even_x16(_mm512_srli_epi64(acc, 32), multiplier, k, d), count);
  const __m512i r = _mm512_add_epi32(_mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32)),
                                     _mm512_set1_epi32(zp_out));
  return _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi));
}

// requantize() of 16 lanes; returns int32 results already clamped to [lo, hi].
EDGE_Q8_INLINE __m512i requantize_x16(__m512i acc, int32_t multiplier, int shift, int32_t zp_out, int32_t lo,
                                      int32_t hi) {
  const __m512i r = _mm512_add_epi32(multiply_by_quantized_multiplier_x16(acc, multiplier, shift),
                                     _mm512_set1_epi32(zp_out));
  return _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi));
}

// One channel's requantization constants, prepared once per kernel call (an epilogue that
// broadcasts them from memory spends no vector instruction on them; building them per 32 outputs
// cost MobileNetV2-0.35 about 15% of its time).  requantize_s8_x16 takes fewer instructions than
// requantize_x16 for the usual right shift r in [1, 23]: the zero point rides in the rounding
// constant (+ zp * 2^(31 + r), which cannot overflow for r <= 23 as |ab| < 2^62), the shifts take
// a vector count (one instruction on Intel, where a shift by an xmm count is two), one two-source
// permute gathers the even and odd quotients, and the int8 narrowing saturates, so only a fused
// activation's range needs a clamp.  Any other shift takes requantize_x16.
struct RequantConst {
  int64_t k;      // 2^30 + 2^(30 + r) + zp * 2^(31 + r)
  int64_t count;  // 31 + r; 0: outside [1, 23], requantize_x16 instead
};

EDGE_Q8_INLINE RequantConst requant_const(int shift, int32_t zp_out) {
  const int r = -shift;
  if (r < 1 || r > 23) return {0, 0};
  return {(int64_t{1} << 30) + (int64_t{1} << (30 + r)) + static_cast<int64_t>(zp_out) * (int64_t{1} << (31 + r)), 31 + r};
}

// The short form's core: even and odd 32-bit lanes of acc times the low halves of m_e and m_o,
// rounded with constants k and shift counts per 64-bit lane (one channel's or one per lane).
EDGE_Q8_INLINE __m512i scale_short_core(__m512i acc, __m512i m_e, __m512i m_o, __m512i k_e, __m512i k_o,
                                        __m512i count_e, __m512i count_o) {
  const __m512i d = _mm512_set1_epi64(int64_t{1} << 31), thr = _mm512_set1_epi64(-(int64_t{1} << 30));
  const __m512i ab_e = _mm512_mul_epi32(acc, m_e);
  const __m512i ab_o = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), m_o);
  const __m512i t_e = _mm512_add_epi64(ab_e, k_e), t_o = _mm512_add_epi64(ab_o, k_o);
  const __m512i q_e = _mm512_srav_epi64(_mm512_mask_sub_epi64(t_e, _mm512_cmplt_epi64_mask(ab_e, thr), t_e, d), count_e);
  const __m512i q_o = _mm512_srav_epi64(_mm512_mask_sub_epi64(t_o, _mm512_cmplt_epi64_mask(ab_o, thr), t_o, d), count_o);
  const __m512i even_odd = _mm512_set_epi32(30, 14, 28, 12, 26, 10, 24, 8, 22, 6, 20, 4, 18, 2, 16, 0);
  return _mm512_permutex2var_epi32(q_e, even_odd, q_o);
}

// multiply_by_quantized_multiplier() + zp of 16 lanes in the short form (c.count != 0; c =
// requant_const(shift, zp)): int32 lanes.
EDGE_Q8_INLINE __m512i scale_short_x16(__m512i acc, int32_t multiplier, const RequantConst& c) {
  const __m512i m = _mm512_set1_epi32(multiplier);  // vpmuldq reads the low half of each 64-bit lane
  const __m512i k = _mm512_set1_epi64(c.k), count = _mm512_set1_epi64(c.count);
  return scale_short_core(acc, m, m, k, k, count, count);
}

// A fused activation's range [lo, hi] on int8 lanes (nothing for the full range).
template <int lo, int hi>
EDGE_Q8_INLINE __m128i clamp_s8(__m128i b) {
  if constexpr (lo > -128) b = _mm_max_epi8(b, _mm_set1_epi8(static_cast<char>(lo)));
  if constexpr (hi < 127) b = _mm_min_epi8(b, _mm_set1_epi8(static_cast<char>(hi)));
  return b;
}

// The short form's constants for 16 lanes that are 16 channels (output channels in the lanes,
// qconv_x86_cout.h), each with its own multiplier and shift in [-23, -1].
struct LaneRequant {
  __m512i m_e, m_o, k_e, k_o, count_e, count_o;
};

inline LaneRequant lane_requant(const int32_t* mult, const int32_t* shift, int32_t zp_out) {
  alignas(64) int64_t k[2][8], count[2][8];
  for (int l = 0; l < 16; ++l) {
    const RequantConst c = requant_const(shift[l], zp_out);
    k[l & 1][l >> 1] = c.k;
    count[l & 1][l >> 1] = c.count;
  }
  const __m512i m = _mm512_loadu_si512(mult);
  return {m, _mm512_srli_epi64(m, 32), _mm512_load_si512(k[0]), _mm512_load_si512(k[1]),
          _mm512_load_si512(count[0]), _mm512_load_si512(count[1])};
}

// requantize() of 16 channels' accumulators as int8, clamped to [lo, hi] (within [-128, 127]).
template <int lo, int hi>
EDGE_Q8_INLINE __m128i requantize_s8_x16_lanes(__m512i acc, const LaneRequant& c) {
  return clamp_s8<lo, hi>(_mm512_cvtsepi32_epi8(scale_short_core(acc, c.m_e, c.m_o, c.k_e, c.k_o, c.count_e, c.count_o)));
}

// requantize() of 16 lanes as int8, clamped to [lo, hi] (the fused activation; within [-128, 127]);
// c = requant_const(shift, zp_out).  all_short: the caller knows that every channel's shift is in
// [-23, -1] (QConvParams::short_requant, from the compiler): the per-channel test and the long
// form's code go, which made MobileNetV2-0.35 int8 12% faster than with them.
template <int lo, int hi, bool all_short = false>
EDGE_Q8_INLINE __m128i requantize_s8_x16(__m512i acc, int32_t multiplier, int shift, int32_t zp_out,
                                         const RequantConst& c) {
  if constexpr (!all_short) {
    if (c.count == 0) return _mm512_cvtepi32_epi8(requantize_x16(acc, multiplier, shift, zp_out, lo, hi));
  }
  return clamp_s8<lo, hi>(_mm512_cvtsepi32_epi8(scale_short_x16(acc, multiplier, c)));  // saturates to [-128, 127]
}

// Stores the low bytes of 16 int32 lanes (already clamped to int8) where k is set: the narrowing
// in a register, then a masked byte store.  The one-instruction form (vpmovdb to memory) made
// MobileNetV2-0.35 int8 about 4% slower on AMD Zen 4, where every epilogue ends in it.
EDGE_Q8_INLINE void store_s8_x16(int8_t* out, __mmask16 k, __m512i v) {
  _mm_mask_storeu_epi8(out, k, _mm512_cvtepi32_epi8(v));
}

}  // namespace q8
}  // namespace edge_sdk
#endif

// AVX2 form (8 lanes), for x86 targets without AVX-512: the same one rounding of the 64-bit
// product as the AVX-512 form above.  AVX2 has no 64-bit arithmetic shift, so the product is
// biased by 2^62 (a multiple of every 2^(31 + r), and it keeps every sum non-negative: |ab| <=
// 2^62) and shifted logically.  The quotient fits 32 bits, so its low half less the bias's own
// quotient 2^(31 - r), taken mod 2^32, is exact.  About half the instructions of the two
// separate roundings (doubling high multiply, then divide by 2^r) it replaced.
#if defined(__AVX2__) && !defined(EDGE_SDK_KERNELS_PORTABLE)
#define EDGE_Q8_HAVE_AVX2_REQUANT 1
#include <immintrin.h>

namespace edge_sdk {
namespace q8 {

// floor((ab + K + 2^62 - [ab < -2^30] * D) / 2^(31 + r)) mod 2^32 of the even 32-bit lanes of x
// times those of m, in the low halves (K, D: rounding_x16 above).
EDGE_Q8_INLINE __m256i scaled_even_x8(__m256i x, __m256i m, __m256i k, __m256i d, __m128i count) {
  const __m256i ab = _mm256_mul_epi32(x, m);  // exact signed 64-bit products of the low halves
  const __m256i neg = _mm256_cmpgt_epi64(_mm256_set1_epi64x(-(int64_t{1} << 30)), ab);
  return _mm256_srl_epi64(_mm256_sub_epi64(_mm256_add_epi64(ab, k), _mm256_and_si256(neg, d)), count);
}

// multiply_by_quantized_multiplier() of 8 lanes, plus `add` (wrapping, as int32 addition does).
EDGE_Q8_INLINE __m256i multiply_by_quantized_multiplier_add_x8(__m256i acc, int32_t multiplier, int shift,
                                                               int32_t add) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const __m256i x = _mm256_sll_epi32(acc, _mm_cvtsi32_si128(left));  // wraps like the scalar uint32 shift
  const __m256i m = _mm256_set1_epi32(multiplier);
  const __m256i k = _mm256_set1_epi64x((int64_t{1} << 62) + (int64_t{1} << 30) +
                                       (right > 0 ? int64_t{1} << (30 + right) : 0));
  const __m256i d = _mm256_set1_epi64x(right > 0 ? int64_t{1} << 31 : 0);
  const __m128i count = _mm_cvtsi32_si128(31 + right);
  const __m256i even = scaled_even_x8(x, m, k, d, count);
  const __m256i odd = scaled_even_x8(_mm256_srli_epi64(x, 32), m, k, d, count);
  const __m256i r = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  const uint32_t unbias = uint32_t{1} << (31 - right);  // the 2^62 bias's quotient
  if (multiplier == INT32_MIN && right == 0) {  // the doubling high multiply's one overflow
    const __m256i sat = _mm256_cmpeq_epi32(x, _mm256_set1_epi32(INT32_MIN));
    const __m256i v = _mm256_blendv_epi8(_mm256_sub_epi32(r, _mm256_set1_epi32(static_cast<int32_t>(unbias))),
                                         _mm256_set1_epi32(INT32_MAX), sat);
    return _mm256_add_epi32(v, _mm256_set1_epi32(add));
  }
  return _mm256_add_epi32(r, _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(add) - unbias)));
}

// requantize() of 8 lanes; int32 results already clamped to [lo, hi].
EDGE_Q8_INLINE __m256i requantize_x8(__m256i acc, int32_t multiplier, int shift, int32_t zp_out, int32_t lo,
                                     int32_t hi) {
  const __m256i r = multiply_by_quantized_multiplier_add_x8(acc, multiplier, shift, zp_out);
  return _mm256_min_epi32(_mm256_max_epi32(r, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

// 16 clamped int32 lanes (two vectors) to 16 int8 in order.
EDGE_Q8_INLINE __m128i pack_i32x16_i8(__m256i a, __m256i b) {
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);  // 16 int16 in order
  return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

}  // namespace q8
}  // namespace edge_sdk
#endif

namespace edge_sdk {
namespace q8 {

// out[i] = requantize(acc[i], multiplier, shift, zp_out, lo, hi) for i < n (one channel's run).
inline void requantize_span(const int32_t* EDGE_Q8_RESTRICT acc, int n, int32_t multiplier, int shift,
                            int32_t zp_out, int32_t lo, int32_t hi, int8_t* EDGE_Q8_RESTRICT out) {
  int i = 0;
#if defined(EDGE_Q8_HAVE_AVX512_REQUANT)
  for (; i + 16 <= n; i += 16) {
    const __m512i r = requantize_x16(_mm512_loadu_si512(acc + i), multiplier, shift, zp_out, lo, hi);
    store_s8_x16(out + i, 0xFFFF, r);
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i r = requantize_x16(_mm512_maskz_loadu_epi32(k, acc + i), multiplier, shift, zp_out, lo, hi);
    store_s8_x16(out + i, k, r);
    return;
  }
#elif defined(EDGE_Q8_HAVE_AVX2_REQUANT)
  for (; i + 16 <= n; i += 16) {
    const __m256i a = requantize_x8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i)), multiplier, shift,
                                    zp_out, lo, hi);
    const __m256i b = requantize_x8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i + 8)), multiplier,
                                    shift, zp_out, lo, hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), pack_i32x16_i8(a, b));
  }
#endif
  for (; i < n; ++i) out[i] = requantize(acc[i], multiplier, shift, zp_out, lo, hi);
}

}  // namespace q8
}  // namespace edge_sdk

#if defined(EDGE_Q8_AVX512_WARNINGS_PUSHED)
EDGE_Q8_AVX512_WARNINGS_ON
#undef EDGE_Q8_AVX512_WARNINGS_PUSHED
#endif
