// The direct VNNI convolution (qconv_x86_direct.h) with qconv_pool.h's fused epilogue
// (per-channel table, MaxPool).  Requantization and the table are monotone per channel
// (non-decreasing; non-increasing for a BatchNormalization with a negative scale), so the pooled
// value is the table of the requantized max (or min) accumulator of the window: one
// requantization per pooled output instead of one per conv output.  Channels where that may not
// hold (a left shift that could wrap, a table that is not monotone) take the exact per-value
// route.  Either way the bytes equal the unfused graph's.
#pragma once

#include "qconv.h"

#if defined(EDGE_Q8_HAVE_VNNI_DIRECT)

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h)

namespace edge_sdk {
namespace q8 {

// Max (or, for a decreasing map, min) of each group of `pw` adjacent lanes, into lanes 0..16/pw-1.
template <int pw>
EDGE_Q8_INLINE __m512i direct_hreduce(__m512i v, bool use_max) {
  // Lane i <- op(lane i, lane i + s) for s = 1, 2, 4, 8 (rotations; the lanes kept are exact).
  const auto step = [&](__m512i sh) { v = use_max ? _mm512_max_epi32(v, sh) : _mm512_min_epi32(v, sh); };
  if constexpr (pw >= 2) step(_mm512_alignr_epi32(v, v, 1));
  if constexpr (pw >= 4) step(_mm512_alignr_epi32(v, v, 2));
  if constexpr (pw >= 8) step(_mm512_alignr_epi32(v, v, 4));
  if constexpr (pw >= 16) step(_mm512_alignr_epi32(v, v, 8));
  alignas(64) static constexpr int32_t kPick[16] = {0 * pw, 1 * pw % 16, 2 * pw % 16, 3 * pw % 16,
                                                    4 * pw % 16, 5 * pw % 16, 6 * pw % 16, 7 * pw % 16,
                                                    8 * pw % 16, 9 * pw % 16, 10 * pw % 16, 11 * pw % 16,
                                                    12 * pw % 16, 13 * pw % 16, 14 * pw % 16, 15 * pw % 16};
  return _mm512_permutexvar_epi32(_mm512_load_si512(kPick), v);
}

// The pooled values of channel c (lanes 0..pooled-1 of v, requantized): the table (where there
// is one and lut is not null: values of the per-value route are mapped already), the clamp of the fused activation, then the store.
template <const QConvPoolParams& E>
EDGE_Q8_INLINE void direct_pool_store(__m128i v, const int8_t* lut, int c, int pooled, __mmask16 k, int8_t* o) {
  if (E.has_lut && lut) {
    alignas(16) int8_t b[kDirectPixels];
    _mm_store_si128(reinterpret_cast<__m128i*>(b), v);
    for (int p = 0; p < pooled; ++p) b[p] = lut[c * 256 + (b[p] + 128)];
    v = _mm_load_si128(reinterpret_cast<const __m128i*>(b));
  }
  v = _mm_min_epi8(_mm_max_epi8(v, _mm_set1_epi8(static_cast<char>(E.act_min))),
                   _mm_set1_epi8(static_cast<char>(E.act_max)));
  _mm_mask_storeu_epi8(o, k, v);
}

// Pooled rows [row_begin, row_end) of the fused conv (qconv_pool.h's QConvPoolParams).
// 16 output channels a tile (enough independent accumulators to cover the vpdpbusd latency);
// the running max of the pool's rows waits in memory.  With 2-wide windows a vector of
// pooled values holds two channels, so one requantization serves both.
// scratch: direct_scratch_bytes<P>(E.pool_h) + 64.
template <const QConvParams& P, const QConvPoolParams& E>
inline void conv2d_s8_direct_pooled(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wq,
                                    const int32_t* EDGE_Q8_RESTRICT bias_u8, const int32_t* mult,
                                    const int32_t* shift, const int8_t* lut, int8_t* EDGE_Q8_RESTRICT out,
                                    uint8_t* EDGE_Q8_RESTRICT scratch, int row_begin, int row_end) {
  constexpr int T = direct_tile<P, 16>();
  constexpr int nrows = direct_rows<P>(E.pool_h);
  constexpr int plane_out = E.h_out * E.w_out;
  constexpr int per_block = kDirectPixels / E.pool_w;
  alignas(64) static constexpr int32_t kEven[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  alignas(64) static constexpr int32_t kOdd[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
  uint8_t* rows = scratch;
  int8_t mode[P.c_out];
  pool_modes<P, E>(lut, mult, shift, mode);
  for (int ph = row_begin; ph < row_end; ++ph) {
    direct_fill_rows<P>(in, ph * E.pool_h * P.stride_h - P.pad_top, nrows, rows);
    for (int ow0 = 0; ow0 + E.pool_w <= P.w_out && ow0 / E.pool_w < E.w_out; ow0 += kDirectPixels) {
      const int pooled = E.w_out - ow0 / E.pool_w < per_block ? E.w_out - ow0 / E.pool_w : per_block;
      const __mmask16 k = static_cast<__mmask16>((1u << pooled) - 1);
      int8_t* o0 = out + static_cast<size_t>(ph) * E.w_out + ow0 / E.pool_w;
      for (int oc0 = 0; oc0 < P.c_out; oc0 += T) {
        __m512i acc[T];
        alignas(64) int32_t red[T][kDirectPixels];   // mode != 0: max (or min) of the rows so far
        alignas(64) int8_t exact[T][kDirectPixels];  // mode 0: pooled values so far
        for (int r = 0; r < E.pool_h; ++r) {
          direct_block<P, T>(rows, nrows, r * P.stride_h, ow0, wq, bias_u8, oc0, acc);
          for (int t = 0; t < T; ++t) {
            const int c = oc0 + t;
            if (mode[c] == 0) {
              alignas(64) int32_t a[kDirectPixels];
              _mm512_store_si512(a, acc[t]);
              pool_exact_row<P, E>(a, pooled, r, mult[c], shift[c], E.has_lut ? lut + c * 256 : nullptr, exact[t]);
            } else if (r == 0) {
              _mm512_store_si512(red[t], acc[t]);
            } else {
              const __m512i prev = _mm512_load_si512(red[t]);
              _mm512_store_si512(red[t], mode[c] > 0 ? _mm512_max_epi32(prev, acc[t]) : _mm512_min_epi32(prev, acc[t]));
            }
          }
        }
        for (int t = 0; t < T; ++t) {
          const int c = oc0 + t;
          int8_t* o = o0 + static_cast<size_t>(c) * plane_out;
          if (mode[c] == 0) {
            direct_pool_store<E>(_mm_load_si128(reinterpret_cast<const __m128i*>(exact[t])), nullptr, c, pooled, k, o);
            continue;
          }
          if constexpr (E.pool_w == 2) {
            if (t + 1 < T && mode[c + 1] == mode[c]) {  // channels c and c + 1 in one vector
              const __m512i a = _mm512_load_si512(red[t]), b = _mm512_load_si512(red[t + 1]);
              const __m512i e = _mm512_permutex2var_epi32(a, _mm512_load_si512(kEven), b);
              const __m512i d = _mm512_permutex2var_epi32(a, _mm512_load_si512(kOdd), b);
              const __m512i m = mode[c] > 0 ? _mm512_max_epi32(e, d) : _mm512_min_epi32(e, d);
              const __m512i mv = _mm512_mask_blend_epi32(0xFF00, _mm512_set1_epi32(mult[c]), _mm512_set1_epi32(mult[c + 1]));
              const __m512i rv = _mm512_mask_blend_epi32(0xFF00, _mm512_set1_epi32(-shift[c]), _mm512_set1_epi32(-shift[c + 1]));
              const __m128i v = _mm512_cvtepi32_epi8(requantize_x16_lanes(m, mv, rv, P.zp_out, P.act_min, P.act_max));
              direct_pool_store<E>(v, lut, c, pooled, k, o);
              direct_pool_store<E>(_mm_srli_si128(v, 8), lut, c + 1, pooled, k, o + plane_out);
              ++t;
              continue;
            }
          }
          const __m512i m = direct_hreduce<E.pool_w>(_mm512_load_si512(red[t]), mode[c] > 0);
          direct_pool_store<E>(_mm512_cvtepi32_epi8(requantize_x16(m, mult[c], shift[c], P.zp_out, P.act_min, P.act_max)),
                               lut, c, pooled, k, o);
        }
      }
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk

EDGE_Q8_AVX512_WARNINGS_ON
#endif
