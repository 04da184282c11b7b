// The direct AVX2 convolution (qconv_avx2_direct.h) with qconv_pool.h's fused epilogue
// (per-channel table, MaxPool), as qconv_x86_direct_pool.h does for VNNI: for channels whose
// requantization and table are monotone (pool_modes), the pooled value is the table of the
// requantized max (or min) accumulator of the window, one requantization per pooled output;
// the other channels requantize every value.  Either way the bytes equal the unfused graph's.
#pragma once

#include "qconv.h"

#if defined(EDGE_Q8_HAVE_AVX2_DIRECT)

namespace edge_sdk {
namespace q8 {

// Output channels per block when pool_h > 1, where the running max of the window's rows and a
// row's accumulators are both live: 3 (12 vectors) beat 2 and 4 on Meso4's layers.
constexpr int kAvx2dPoolTile = 3;

// Pooled rows [row_begin, row_end) of the fused conv.  scratch: avx2d_scratch_bytes<P>(E.pool_h).
template <const QConvParams& P, const QConvPoolParams& E, int T>
EDGE_Q8_INLINE void avx2d_pooled_tile(const int32_t* rows, int nrows, const int32_t* wp, const int32_t* bias_folded,
                                      const int32_t* mult, const int32_t* shift, const int8_t* lut,
                                      const int8_t* mode, int8_t* out, int ph, int oc0) {
  constexpr int plane_out = E.h_out * E.w_out;
  constexpr int per_block = kAvx2dPixels / E.pool_w;
  for (int ow0 = 0; ow0 + E.pool_w <= P.w_out && ow0 / E.pool_w < E.w_out; ow0 += kAvx2dPixels) {
    const int pooled = E.w_out - ow0 / E.pool_w < per_block ? E.w_out - ow0 / E.pool_w : per_block;
    __m256i red[T][2], acc[T][2];
    alignas(32) int8_t exact[T][kAvx2dPixels];  // mode 0: the pooled values so far
    for (int r = 0; r < E.pool_h; ++r) {
      avx2d_block<P, T>(rows, nrows, r * P.stride_h, ow0, wp, bias_folded, oc0, acc);
      for (int t = 0; t < T; ++t) {
        const int c = oc0 + t;
        if (mode[c] == 0) {
          alignas(32) int32_t a[kAvx2dPixels];
          _mm256_store_si256(reinterpret_cast<__m256i*>(a), acc[t][0]);
          _mm256_store_si256(reinterpret_cast<__m256i*>(a + 8), acc[t][1]);
          pool_exact_row<P, E>(a, pooled, r, mult[c], shift[c], E.has_lut ? lut + c * 256 : nullptr, exact[t]);
        } else {
          for (int h = 0; h < 2; ++h)
            red[t][h] = r == 0 ? acc[t][h]
                        : mode[c] > 0 ? _mm256_max_epi32(red[t][h], acc[t][h]) : _mm256_min_epi32(red[t][h], acc[t][h]);
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      const int c = oc0 + t;
      alignas(32) int8_t v[kAvx2dPixels];
      if (mode[c] == 0) {
        memcpy(v, exact[t], kAvx2dPixels);
      } else {
        const auto pick = [&](__m256i a, __m256i b) { return mode[c] > 0 ? _mm256_max_epi32(a, b) : _mm256_min_epi32(a, b); };
        if constexpr (E.pool_w == 1) {
          _mm_store_si128(reinterpret_cast<__m128i*>(v), pack_i32x16_i8(
              requantize_x8(red[t][0], mult[c], shift[c], P.zp_out, P.act_min, P.act_max),
              requantize_x8(red[t][1], mult[c], shift[c], P.zp_out, P.act_min, P.act_max)));
        } else if constexpr (E.pool_w == 2) {
          // Even and odd pixels of 0-15 (shuffle works within 128-bit lanes: pooled 0,1,4,5 | 2,3,6,7).
          const __m256 lo = _mm256_castsi256_ps(red[t][0]), hi = _mm256_castsi256_ps(red[t][1]);
          const __m256i m = pick(_mm256_castps_si256(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))),
                                 _mm256_castps_si256(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))));
          const __m256i q = requantize_x8(_mm256_permute4x64_epi64(m, _MM_SHUFFLE(3, 1, 2, 0)), mult[c], shift[c],
                                          P.zp_out, P.act_min, P.act_max);
          _mm_store_si128(reinterpret_cast<__m128i*>(v), pack_i32x16_i8(q, q));
        } else {
          alignas(32) int32_t a[kAvx2dPixels];
          _mm256_store_si256(reinterpret_cast<__m256i*>(a), red[t][0]);
          _mm256_store_si256(reinterpret_cast<__m256i*>(a + 8), red[t][1]);
          for (int p = 0; p < pooled; ++p) {
            int32_t m = a[p * E.pool_w];
            for (int k = 1; k < E.pool_w; ++k) {
              const int32_t x = a[p * E.pool_w + k];
              m = (mode[c] > 0) == (x > m) ? x : m;
            }
            v[p] = requantize(m, mult[c], shift[c], P.zp_out, P.act_min, P.act_max);
          }
        }
        if (E.has_lut)
          for (int p = 0; p < pooled; ++p) v[p] = lut[c * 256 + (v[p] + 128)];
      }
      int8_t* o = out + static_cast<size_t>(c) * plane_out + static_cast<size_t>(ph) * E.w_out + ow0 / E.pool_w;
      const __m128i q = _mm_load_si128(reinterpret_cast<const __m128i*>(v));
      _mm_store_si128(reinterpret_cast<__m128i*>(v), _mm_min_epi8(_mm_max_epi8(q, _mm_set1_epi8(static_cast<char>(E.act_min))),
                                                                _mm_set1_epi8(static_cast<char>(E.act_max))));
      if (pooled == per_block)
        memcpy(o, v, per_block);
      else
        memcpy(o, v, static_cast<size_t>(pooled));
    }
  }
}

template <const QConvParams& P, const QConvPoolParams& E>
inline void conv2d_s8_avx2_direct_pooled(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wp,
                                         const int32_t* EDGE_Q8_RESTRICT bias_folded, const int32_t* mult,
                                         const int32_t* shift, const int8_t* lut, int8_t* EDGE_Q8_RESTRICT out,
                                         void* scratch, int row_begin, int row_end) {
  constexpr int nrows = avx2d_rows<P>(E.pool_h);
  constexpr int T = E.pool_h > 1 ? kAvx2dPoolTile : kAvx2dTile;
  constexpr int full = P.c_out / T * T;
  int32_t* rows = static_cast<int32_t*>(scratch);
  int8_t mode[P.c_out];
  pool_modes<P, E>(lut, mult, shift, mode);
  for (int ph = row_begin; ph < row_end; ++ph) {
    avx2d_fill_rows<P>(in, ph * E.pool_h * P.stride_h - P.pad_top, nrows, rows);
    for (int oc0 = 0; oc0 < full; oc0 += T)
      avx2d_pooled_tile<P, E, T>(rows, nrows, wp, bias_folded, mult, shift, lut, mode, out, ph, oc0);
    if constexpr (P.c_out % T != 0)
      avx2d_pooled_tile<P, E, P.c_out % T>(rows, nrows, wp, bias_folded, mult, shift, lut, mode, out, ph, full);
  }
}

}  // namespace q8
}  // namespace edge_sdk
#endif
