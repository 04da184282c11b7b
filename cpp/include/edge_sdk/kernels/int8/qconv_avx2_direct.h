// Direct AVX2 int8 convolution (no VNNI) for narrow layers with a spatial kernel (MesoNet, the
// stems of small CNNs), bit-exact with conv2d_s8_reference (qconv.h).
//
// The gather kernel (qconv_avx2.h) copies every patch tap per pixel and builds each weight pair
// from two bytes; on few output channels that costs more than the multiply-adds.  Here input
// channels are paired instead of taps: a "pair row" holds, per padded input column, the int16
// values of channels 2j and 2j+1 as one int32 lane.  Then 8 consecutive output pixels of one
// kernel tap are 8 consecutive lanes, one unaligned load, and vpmaddwd against the broadcast
// weight pair (w[oc][2j][kh][kw], w[oc][2j+1][kh][kw]) adds both channels' products exactly
// (|x*w| <= 2^14).  A stride s (or dilation) splits each pair row into s phases by column, so
// the lanes of a tap stay consecutive: column s*ow + d*kw is phase (d*kw) % s, lane ow + d*kw/s.
//
// The weight pairs come packed at compile time (edge_sdk/ops/quant_ops.py, avx2_weight_pairs):
// wp[oc][j][kh][kw] = w[oc][2j][kh][kw] | w[oc][2j+1][kh][kw] << 16 (int16 halves, 0 past c_in).
// As in qconv_avx2.h, bias_folded = bias - zp_in * sum(w): padding columns and rows hold zp_in,
// and an odd last channel is paired with 0 under a 0 weight.
//
// qconv_avx2_direct_pool.h runs the same blocks with qconv_pool.h's fused epilogue.
#pragma once

#include <string.h>

#include "qconv_avx2.h"

#if defined(EDGE_Q8_HAVE_AVX2)
#define EDGE_Q8_HAVE_AVX2_DIRECT 1

namespace edge_sdk {
namespace q8 {

constexpr int kAvx2dPixels = 16;  // output pixels per block: two 8-lane vectors
constexpr int kAvx2dTile = 4;     // output channels per block: 8 accumulators

template <const QConvParams& P>
constexpr int avx2d_pairs() { return (P.c_in + 1) / 2; }

// Lanes of one phase of a pair row: every block of 16 pixels plus the widest tap offset.
template <const QConvParams& P>
constexpr int avx2d_phase_len() {
  return ((P.w_out + kAvx2dPixels - 1) / kAvx2dPixels * kAvx2dPixels + (P.k_w - 1) * P.dil_w / P.stride_w + 7) / 8 * 8;
}

// Input rows the output rows [oh, oh + rows) read.
template <const QConvParams& P>
constexpr int avx2d_rows(int rows) { return (rows - 1) * P.stride_h + (P.k_h - 1) * P.dil_h + 1; }

// The pair rows of `rows` output rows.
template <const QConvParams& P>
constexpr size_t avx2d_scratch_bytes(int rows) {
  return static_cast<size_t>(avx2d_pairs<P>()) * avx2d_rows<P>(rows) * P.stride_w * avx2d_phase_len<P>() * 4;
}

// Spatial kernels on ungrouped convs with few channels (the pair rows stay small: they are
// reserved in the arena of every target).  1x1 convs keep the gather kernel, whose patches are
// plain loads there.  From 32 output channels the gather kernel is faster: its patches serve 8
// or more channel tiles, and its blocks run over the flattened plane, where a row of 34, 55 or
// 111 outputs leaves a direct block part empty (Zen 1: 32->64 3x3 on 74x74 11.4 vs 15.8 GMAC/s,
// 16->64 on 55x55 12.4 vs 14.5, 3->64 stride 2 on 224x224 4.7 vs 7.9; 8->16 5x5 on 64x64 12.7
// vs 8.2 the other way).
template <const QConvParams& P>
constexpr bool use_avx2_direct() {
  return P.groups == 1 && P.k_h * P.k_w > 1 && P.c_in >= 2 && P.c_in <= 64 && P.c_out < 32 && P.w_out >= 16 &&
         P.stride_w <= 4;
}

EDGE_Q8_INLINE int32_t avx2d_pair(int a, int b) {
  return static_cast<int32_t>(static_cast<uint16_t>(static_cast<int16_t>(a)) |
                              static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(b))) << 16);
}

// Lanes dst[0..16) = (a[i], b[i]) pairs of 16 int16 values each (b: zeros where null).
EDGE_Q8_INLINE void avx2d_store_pairs(__m128i a, __m128i b, int32_t* dst) {
  const __m256i va = _mm256_cvtepi8_epi16(a), vb = _mm256_cvtepi8_epi16(b);
  const __m256i lo = _mm256_unpacklo_epi16(va, vb), hi = _mm256_unpackhi_epi16(va, vb);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_permute2x128_si256(lo, hi, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
}

// One phase of the pair row of channels (a, b) (b null: the 0 partner of an odd last channel)
// at input row ih: lane i = (a, b) at input column s*i + phase - pad_left, zp_in outside.
template <const QConvParams& P>
inline void avx2d_fill_phase(const int8_t* a, const int8_t* b, int phase, int32_t* dst) {
  constexpr int L = avx2d_phase_len<P>();
  const int32_t pad = avx2d_pair(P.zp_in, b ? P.zp_in : 0);
  int i = 0;
  if constexpr (P.stride_w <= 2) {
    constexpr int s = P.stride_w;
    for (; i < L && s * i + phase - P.pad_left < 0; ++i) dst[i] = pad;  // lanes before column 0
    // 16 lanes read columns col .. col + 15 * s: whole inside the row.
    for (; i + 16 <= L && s * i + phase - P.pad_left + 16 * s <= P.w_in; i += 16) {
      const int col = s * i + phase - P.pad_left;
      if constexpr (s == 1)
        avx2d_store_pairs(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + col)),
                          b ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + col)) : _mm_setzero_si128(),
                          dst + i);
      else
        avx2d_store_pairs(avx2d_even_bytes(a + col), b ? avx2d_even_bytes(b + col) : _mm_setzero_si128(), dst + i);
    }
  }
  for (; i < L; ++i) {
    const int col = P.stride_w * i + phase - P.pad_left;
    dst[i] = col >= 0 && col < P.w_in ? avx2d_pair(a[col], b ? b[col] : 0) : pad;
  }
}

// Pair rows of input rows [ih0, ih0 + count): rows[j][r][phase][L].
template <const QConvParams& P>
inline void avx2d_fill_rows(const int8_t* in_b, int ih0, int count, int32_t* rows) {
  constexpr int L = avx2d_phase_len<P>();
  constexpr size_t plane = static_cast<size_t>(P.h_in) * P.w_in;
  for (int j = 0; j < avx2d_pairs<P>(); ++j)
    for (int r = 0; r < count; ++r) {
      int32_t* dst = rows + (static_cast<size_t>(j) * count + r) * P.stride_w * L;
      const int ih = ih0 + r;
      const bool has_b = 2 * j + 1 < P.c_in;
      if (ih < 0 || ih >= P.h_in) {
        const int32_t pad = avx2d_pair(P.zp_in, has_b ? P.zp_in : 0);
        for (int i = 0; i < P.stride_w * L; ++i) dst[i] = pad;
        continue;
      }
      const int8_t* a = in_b + 2 * j * plane + static_cast<size_t>(ih) * P.w_in;
      for (int phase = 0; phase < P.stride_w; ++phase)
        avx2d_fill_phase<P>(a, has_b ? a + plane : nullptr, phase, dst + phase * L);
    }
}

// Accumulators of output channels [oc0, oc0 + T) for the 16 pixels at ow0 of the output row
// whose kernel row kh reads pair row row0 + kh * dil_h (of nrows per channel pair).
template <const QConvParams& P, int T>
EDGE_Q8_INLINE void avx2d_block(const int32_t* rows, int nrows, int row0, int ow0, const int32_t* wp,
                                const int32_t* bias_folded, int oc0, __m256i acc[T][2]) {
  constexpr int L = avx2d_phase_len<P>();
  constexpr int KK = P.k_h * P.k_w;
  constexpr size_t oc_stride = static_cast<size_t>(avx2d_pairs<P>()) * KK;
  for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm256_set1_epi32(bias_folded[oc0 + t]);
  for (int j = 0; j < avx2d_pairs<P>(); ++j)
    for (int kh = 0; kh < P.k_h; ++kh) {
      const int32_t* r = rows + (static_cast<size_t>(j) * nrows + row0 + kh * P.dil_h) * P.stride_w * L + ow0;
      const int32_t* wk = wp + (oc0 * oc_stride) + static_cast<size_t>(j) * KK + kh * P.k_w;
      for (int kw = 0; kw < P.k_w; ++kw) {
        const int32_t* x = r + (kw * P.dil_w) % P.stride_w * L + kw * P.dil_w / P.stride_w;
        const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
        const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 8));
        for (int t = 0; t < T; ++t) {
          const __m256i wv = _mm256_set1_epi32(wk[t * oc_stride + kw]);
          acc[t][0] = _mm256_add_epi32(acc[t][0], _mm256_madd_epi16(x0, wv));
          acc[t][1] = _mm256_add_epi32(acc[t][1], _mm256_madd_epi16(x1, wv));
        }
      }
    }
}

template <const QConvParams& P, int T>
EDGE_Q8_INLINE void avx2d_tile_row(const int32_t* rows, int nrows, const int32_t* wp, const int32_t* bias_folded,
                                   const int32_t* mult, const int32_t* shift, int8_t* out_row, int oc0) {
  constexpr size_t plane_out = static_cast<size_t>(P.h_out) * P.w_out;
  for (int ow0 = 0; ow0 < P.w_out; ow0 += kAvx2dPixels) {
    const int count = P.w_out - ow0 < kAvx2dPixels ? P.w_out - ow0 : kAvx2dPixels;
    __m256i acc[T][2];
    avx2d_block<P, T>(rows, nrows, 0, ow0, wp, bias_folded, oc0, acc);
    for (int t = 0; t < T; ++t)
      avx2_requant_store<P>(acc[t], mult[oc0 + t], shift[oc0 + t], out_row + (oc0 + t) * plane_out + ow0, count);
  }
}

// scratch: avx2d_scratch_bytes<P>(1).
template <const QConvParams& P>
inline void conv2d_s8_avx2_direct(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wp,
                                  const int32_t* EDGE_Q8_RESTRICT bias_folded, const int32_t* mult,
                                  const int32_t* shift, int8_t* EDGE_Q8_RESTRICT out, void* scratch) {
  constexpr int nrows = avx2d_rows<P>(1);
  constexpr int full = P.c_out / kAvx2dTile * kAvx2dTile;
  int32_t* rows = static_cast<int32_t*>(scratch);
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * P.h_in * P.w_in;
    for (int oh = 0; oh < P.h_out; ++oh) {
      avx2d_fill_rows<P>(in_b, oh * P.stride_h - P.pad_top, nrows, rows);
      int8_t* out_row = out + static_cast<size_t>(b) * P.c_out * P.h_out * P.w_out + static_cast<size_t>(oh) * P.w_out;
      for (int oc0 = 0; oc0 < full; oc0 += kAvx2dTile)
        avx2d_tile_row<P, kAvx2dTile>(rows, nrows, wp, bias_folded, mult, shift, out_row, oc0);
      if constexpr (P.c_out % kAvx2dTile != 0)
        avx2d_tile_row<P, P.c_out % kAvx2dTile>(rows, nrows, wp, bias_folded, mult, shift, out_row, full);
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk
#endif
