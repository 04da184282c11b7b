// Depthwise AVX2 int8 convolution (no VNNI), bit-exact with conv2d_s8_reference (qconv.h).
//
// Depthwise planes are small (MobileNet: 48x48 down to 3x3), so vectors run over a strip of
// output rows flattened with their padding columns ("junk" lanes, dropped when the strip is
// copied out) instead of over one row.  Taps are paired along the kernel row: a pair plane holds,
// per padded input position, the int16 values of that column and the next one as one int32 lane,
// so vpmaddwd against the broadcast pair (w[kh][2j], w[kh][2j+1]) adds two taps exactly.  With a
// stride s the padded rows are split into s phases (row t goes to phase t % s), and lane u of a
// phase row holds columns s*u and s*u + 1; then every tap of 8 consecutive outputs is one
// unaligned load at a constant offset: output q = row * Wq + column reads lane
// q + (kh / s) * Wq + 2j / s of phase kh % s.
//
// As in qconv_avx2.h, bias_folded = bias - zp_in * sum(w): padding holds zp_in, and the odd tap
// of a kernel row pairs with a 0 weight.
#pragma once

#include <string.h>

#include "qconv_avx2_direct.h"  // avx2d_pair, avx2d_store_pairs

#if defined(EDGE_Q8_HAVE_AVX2)
#define EDGE_Q8_HAVE_AVX2_DW 1

namespace edge_sdk {
namespace q8 {

template <const QConvParams& P>
constexpr bool use_avx2_dw() {
  return P.groups == P.c_in && P.c_in == P.c_out && P.c_in > 1 && P.stride_h == P.stride_w &&
         (P.stride_w == 1 || P.stride_w == 2) && P.dil_h == 1 && P.dil_w == 1 && P.k_h <= 7 && P.k_w <= 7 &&
         P.k_h * P.k_w > 1;
}

// Geometry of the flattened strips (constexpr; Wq lanes per padded row).
template <const QConvParams& P>
struct Avx2Dw {
  static constexpr int s = P.stride_w;
  static constexpr int pairs = (P.k_w + 1) / 2;  // tap pairs per kernel row
  static constexpr int wq = ((P.w_out - 1) * s + P.k_w + s - 1) / s;
  static constexpr int rows = P.h_out < (256 / wq > 1 ? 256 / wq : 1) ? P.h_out : (256 / wq > 1 ? 256 / wq : 1);
  static constexpr int phase_rows = ((rows - 1) * s + P.k_h + s - 1) / s;  // padded rows per phase
  static constexpr int out_lanes = (rows * wq + 15) / 16 * 16;
  static constexpr int reach = (P.k_h - 1) / s * wq + (2 * (pairs - 1)) / s;  // widest tap offset
  static constexpr int lanes = (out_lanes + reach > phase_rows * wq ? out_lanes + reach : phase_rows * wq) + 8;
  static constexpr size_t plane_bytes = (static_cast<size_t>(s) * lanes * 4 + 63) / 64 * 64;
};

// Pair planes + the int8 strip: avx2_dw_scratch_bytes in edge_sdk/ops/quant_ops.py.
template <const QConvParams& P>
constexpr size_t avx2_dw_scratch_bytes() { return Avx2Dw<P>::plane_bytes + Avx2Dw<P>::out_lanes; }

// The pair planes of one channel for the strip whose first padded row is input row ih0.
template <const QConvParams& P>
inline void avx2_dw_fill(const int8_t* x, int ih0, int32_t* planes) {
  using G = Avx2Dw<P>;
  constexpr int s = G::s;
  const int32_t pad = avx2d_pair(P.zp_in, P.zp_in);
  for (int ph = 0; ph < s; ++ph) {
    int32_t* dst = planes + ph * G::lanes;
    for (int r = 0; r < G::phase_rows; ++r) {
      const int ih = ih0 + r * s + ph;
      int32_t* d = dst + r * G::wq;
      if (ih < 0 || ih >= P.h_in) {
        for (int u = 0; u < G::wq; ++u) d[u] = pad;
        continue;
      }
      const int8_t* a = x + static_cast<size_t>(ih) * P.w_in;
      int u = 0;
      // Lanes before the first whole pair inside the row.
      for (; u < G::wq && s * u - P.pad_left < 0; ++u) {
        const int c = s * u - P.pad_left;
        d[u] = avx2d_pair(c >= 0 ? a[c] : P.zp_in, c + 1 >= 0 && c + 1 < P.w_in ? a[c + 1] : P.zp_in);
      }
      if constexpr (s == 1) {
        for (; u + 16 <= G::wq && u - P.pad_left + 17 <= P.w_in; u += 16) {
          const int8_t* p = a + u - P.pad_left;
          avx2d_store_pairs(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)),
                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1)), d + u);
        }
      } else {  // lanes u .. u+7 are the 16 bytes from column 2u - pad_left, widened
        for (; u + 8 <= G::wq && 2 * u - P.pad_left + 16 <= P.w_in; u += 8)
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + u), _mm256_cvtepi8_epi16(_mm_loadu_si128(
                                                                      reinterpret_cast<const __m128i*>(a + 2 * u - P.pad_left))));
      }
      for (; u < G::wq; ++u) {
        const int c = s * u - P.pad_left;
        d[u] = avx2d_pair(c < P.w_in ? a[c] : P.zp_in, c + 1 < P.w_in ? a[c + 1] : P.zp_in);
      }
    }
    for (int i = G::phase_rows * G::wq; i < G::lanes; ++i) dst[i] = pad;  // read only by junk lanes
  }
}

// scratch: avx2_dw_scratch_bytes<P>().
template <const QConvParams& P>
inline void conv2d_s8_avx2_dw(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* EDGE_Q8_RESTRICT w,
                              const int32_t* EDGE_Q8_RESTRICT bias_folded, const int32_t* mult, const int32_t* shift,
                              int8_t* EDGE_Q8_RESTRICT out, void* scratch) {
  using G = Avx2Dw<P>;
  constexpr int KP = P.k_h * G::pairs;
  int32_t* planes = static_cast<int32_t*>(scratch);
  int8_t* strip = static_cast<int8_t*>(scratch) + G::plane_bytes;
  constexpr size_t plane_in = static_cast<size_t>(P.h_in) * P.w_in;
  constexpr size_t plane_out = static_cast<size_t>(P.h_out) * P.w_out;
  for (int b = 0; b < P.n; ++b)
    for (int c = 0; c < P.c_out; ++c) {
      const int8_t* x = in + (static_cast<size_t>(b) * P.c_in + c) * plane_in;
      int8_t* y = out + (static_cast<size_t>(b) * P.c_out + c) * plane_out;
      const int8_t* wc = w + static_cast<size_t>(c) * P.k_h * P.k_w;
      __m256i wv[KP];
      int off[KP];
      for (int kh = 0; kh < P.k_h; ++kh)
        for (int j = 0; j < G::pairs; ++j) {
          const int hi = 2 * j + 1 < P.k_w ? wc[kh * P.k_w + 2 * j + 1] : 0;
          wv[kh * G::pairs + j] = _mm256_set1_epi32(avx2d_pair(wc[kh * P.k_w + 2 * j], hi));
          off[kh * G::pairs + j] = kh % G::s * G::lanes + kh / G::s * G::wq + 2 * j / G::s;
        }
      for (int oh0 = 0; oh0 < P.h_out; oh0 += G::rows) {
        const int rows = P.h_out - oh0 < G::rows ? P.h_out - oh0 : G::rows;
        avx2_dw_fill<P>(x, oh0 * G::s - P.pad_top, planes);
        for (int q = 0; q < rows * G::wq; q += 16) {
          __m256i acc[2] = {_mm256_set1_epi32(bias_folded[c]), _mm256_set1_epi32(bias_folded[c])};
          for (int t = 0; t < KP; ++t) {
            const int32_t* p = planes + off[t] + q;
            acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), wv[t]));
            acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 8)), wv[t]));
          }
          avx2_requant_store<P>(acc, mult[c], shift[c], strip + q, 16);
        }
        for (int r = 0; r < rows; ++r) memcpy(y + static_cast<size_t>(oh0 + r) * P.w_out, strip + r * G::wq, P.w_out);
      }
    }
}

}  // namespace q8
}  // namespace edge_sdk
#endif
