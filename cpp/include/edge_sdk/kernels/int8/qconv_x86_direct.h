// Direct AVX-512 VNNI int8 convolution for narrow layers (few output channels, wide rows:
// MesoNet, the stems of small CNNs), bit-exact with conv2d_s8_reference (qconv.h).
//
// The gather-based VNNI kernel (qconv_x86.h) copies every patch byte per pixel, which only pays
// off over many output channels.  Here lanes are 16 consecutive output pixels of one row and the
// 4 bytes of a lane are 4 consecutive kernel columns: one vpermb turns 64 bytes of a padded input
// row into that layout (byte 4i+j = row[s*i + j]), so each (input channel, kernel row, tap quad)
// costs one load and one permute, then one vpdpbusd per output channel.  Weights come re-laid at
// compile time (edge_sdk/ops/quant_ops.py, direct_weight_quads) as wq[oc][ic][kh][q]: taps
// 4q..4q+3 of kernel row kh as one int32, zeros past k_w, so the extra bytes a quad reads add
// nothing.
//
// As in qconv_x86.h, activations are u = x + 128 and bias_u8 = bias - (zp_in + 128) * sum(w);
// padding columns and rows hold zp_in + 128 (real 0).  The sums are the reference's exactly.
//
// qconv_x86_direct_pool.h runs the same blocks with qconv_pool.h's fused epilogue.
#pragma once

#include <string.h>

#include "requant_x86.h"

#if defined(EDGE_Q8_HAVE_VNNI) && defined(__AVX512VBMI__) && defined(__AVX512VL__)
#define EDGE_Q8_HAVE_VNNI_DIRECT 1

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h)

namespace edge_sdk {
namespace q8 {

constexpr int kDirectPixels = 16;

template <const QConvParams& P>
constexpr int direct_quads() { return (P.k_w + 3) / 4; }

// Padded input row: r = column + pad_left; each 16-pixel block reads 64 bytes from s * ow0 + 4q.
template <const QConvParams& P>
constexpr int direct_row_len() {
  return ((P.w_out - 1) * P.stride_w + 4 * (direct_quads<P>() - 1) + 64 + 63) / 64 * 64;
}

// Output-channel tile: accumulators live in registers.
template <const QConvParams& P, int kMax>
constexpr int direct_tile() { return P.c_out < kMax ? P.c_out : kMax; }

template <const QConvParams& P>
constexpr bool use_vnni_direct() {
  return P.groups == 1 && P.dil_w == 1 && (P.stride_w == 1 || P.stride_w == 2) && P.k_w <= 8 &&
         P.w_out >= 16 && P.c_in <= 256 && (P.c_out <= 16 || P.c_out % 16 == 0) && P.k_w >= 2 &&
         P.c_in * P.k_h * P.k_w >= 8;
}

// Rows of input the conv of output rows [oh, oh + rows) reads, per input channel.
template <const QConvParams& P>
constexpr int direct_rows(int rows) { return (rows - 1) * P.stride_h + (P.k_h - 1) * P.dil_h + 1; }

// The padded input rows of every input channel.
template <const QConvParams& P>
constexpr size_t direct_scratch_bytes(int rows) {
  return static_cast<size_t>(P.c_in) * direct_rows<P>(rows) * direct_row_len<P>();
}

// Fill rows [ih0, ih0 + count) of every input channel (u = x + 128, padding zp_in + 128).
template <const QConvParams& P>
inline void direct_fill_rows(const int8_t* in_b, int ih0, int count, uint8_t* rows) {
  constexpr int len = direct_row_len<P>();
  constexpr uint8_t pad_u = static_cast<uint8_t>(P.zp_in + 128);
  constexpr int left = P.pad_left < len ? P.pad_left : len;
  constexpr int mid = P.w_in < len - left ? P.w_in : len - left;
  for (int ic = 0; ic < P.c_in; ++ic)
    for (int r = 0; r < count; ++r) {
      uint8_t* dst = rows + (static_cast<size_t>(ic) * count + r) * len;
      const int ih = ih0 + r;
      if (ih < 0 || ih >= P.h_in) {
        memset(dst, pad_u, len);
        continue;
      }
      const int8_t* src = in_b + (static_cast<size_t>(ic) * P.h_in + ih) * P.w_in;
      memset(dst, pad_u, left);
      const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
      for (int j = 0; j < mid; j += 64) {
        const __mmask64 k = mid - j >= 64 ? ~__mmask64{0} : (__mmask64{1} << (mid - j)) - 1;
        _mm512_mask_storeu_epi8(dst + left + j, k, _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src + j), flip));
      }
      memset(dst + left + mid, pad_u, len - left - mid);
    }
}

// Accumulators of T output channels [oc0, oc0 + T) for the 16 pixels at ow0 of the output row
// whose kernel row kh reads rows[ic][row0 + kh * dil_h].
template <const QConvParams& P, int T>
EDGE_Q8_INLINE void direct_block(const uint8_t* rows, int nrows, int row0, int ow0, const int32_t* wq,
                                 const int32_t* bias_u8, int oc0, __m512i acc[T]) {
  constexpr int Q = direct_quads<P>();
  constexpr int len = direct_row_len<P>();
  alignas(64) static constexpr uint8_t kIdx[64] = {
#define EDGE_Q8_IDX4(i) (uint8_t)(P.stride_w * (i)), (uint8_t)(P.stride_w * (i) + 1), \
                        (uint8_t)(P.stride_w * (i) + 2), (uint8_t)(P.stride_w * (i) + 3)
      EDGE_Q8_IDX4(0),  EDGE_Q8_IDX4(1),  EDGE_Q8_IDX4(2),  EDGE_Q8_IDX4(3),
      EDGE_Q8_IDX4(4),  EDGE_Q8_IDX4(5),  EDGE_Q8_IDX4(6),  EDGE_Q8_IDX4(7),
      EDGE_Q8_IDX4(8),  EDGE_Q8_IDX4(9),  EDGE_Q8_IDX4(10), EDGE_Q8_IDX4(11),
      EDGE_Q8_IDX4(12), EDGE_Q8_IDX4(13), EDGE_Q8_IDX4(14), EDGE_Q8_IDX4(15)};
#undef EDGE_Q8_IDX4
  const __m512i idx = _mm512_load_si512(kIdx);
  for (int t = 0; t < T; ++t) acc[t] = _mm512_set1_epi32(bias_u8[oc0 + t]);
  for (int ic = 0; ic < P.c_in; ++ic)
    for (int kh = 0; kh < P.k_h; ++kh) {
      const uint8_t* r = rows + (static_cast<size_t>(ic) * nrows + row0 + kh * P.dil_h) * len + ow0 * P.stride_w;
      const int32_t* wk = wq + ((static_cast<size_t>(oc0) * P.c_in + ic) * P.k_h + kh) * Q;
      for (int q = 0; q < Q; ++q) {
        const __m512i x = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r + 4 * q));
        for (int t = 0; t < T; ++t)
          acc[t] = _mm512_dpbusd_epi32(acc[t], x, _mm512_set1_epi32(wk[static_cast<size_t>(t) * P.c_in * P.k_h * Q + q]));
      }
    }
}

// scratch: direct_scratch_bytes<P>(1).
template <const QConvParams& P>
inline void conv2d_s8_vnni_direct(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wq,
                                  const int32_t* EDGE_Q8_RESTRICT bias_u8, const int32_t* mult, const int32_t* shift,
                                  int8_t* EDGE_Q8_RESTRICT out, uint8_t* EDGE_Q8_RESTRICT scratch) {
  constexpr int T = direct_tile<P, 16>();
  constexpr int nrows = direct_rows<P>(1);
  constexpr int plane_out = P.h_out * P.w_out;
  uint8_t* rows = scratch;
  RequantConst rq[P.c_out];
  for (int c = 0; c < P.c_out; ++c) rq[c] = requant_const(shift[c], P.zp_out);
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * P.h_in * P.w_in;
    int8_t* out_b = out + static_cast<size_t>(b) * P.c_out * plane_out;
    for (int oh = 0; oh < P.h_out; ++oh) {
      direct_fill_rows<P>(in_b, oh * P.stride_h - P.pad_top, nrows, rows);
      for (int ow0 = 0; ow0 < P.w_out; ow0 += kDirectPixels) {
        const int count = P.w_out - ow0 < kDirectPixels ? P.w_out - ow0 : kDirectPixels;
        const __mmask16 k = static_cast<__mmask16>((1u << count) - 1);
        for (int oc0 = 0; oc0 < P.c_out; oc0 += T) {
          __m512i acc[T];
          direct_block<P, T>(rows, nrows, 0, ow0, wq, bias_u8, oc0, acc);
          for (int t = 0; t < T; ++t) {
            _mm_mask_storeu_epi8(out_b + static_cast<size_t>(oc0 + t) * plane_out + oh * P.w_out + ow0, k,
                                 requantize_s8_x16<P.act_min, P.act_max, P.short_requant>(acc[t], mult[oc0 + t], shift[oc0 + t],
                                                                         P.zp_out, rq[oc0 + t]));
          }
        }
      }
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk

EDGE_Q8_AVX512_WARNINGS_ON
#endif
