// Depthwise int8 convolution on AVX-512 VNNI (MobileNet / EfficientNet blocks), bit-exact with
// conv2d_s8_reference (qconv.h).
//
// One channel at a time: its input plane is copied, padded, as u = x + 128 bytes (padding
// zp_in + 128, real 0) with rows of Wp bytes.  Output pixels are numbered p = oh * W + ow over
// a flattened plane W columns wide (W = Wp for stride 1; W = Wp / 2 over the even / odd input
// rows stored as two planes for stride 2), so that every kernel tap is a fixed shift of p and
// 16 consecutive outputs read one 64-byte window: one vpermb lays out 4 taps of a kernel row
// per lane (byte 4i + j = window[s * i + j]) and one vpdpbusd multiply-adds them with the
// channel's weight quad (packed at compile time).  Columns ow >= w_out are computed and
// dropped.  Planes of at most 64 bytes skip the copy: see conv2d_s8_vnni_dw_small.
// bias_u8 = bias - (zp_in + 128) * sum(w), as in qconv_x86.h.
#pragma once

#include <string.h>

#include "requant_x86.h"

#if defined(EDGE_Q8_HAVE_VNNI) && defined(__AVX512VBMI__) && defined(__AVX512VL__)
#define EDGE_Q8_HAVE_VNNI_DW 1

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h)

namespace edge_sdk {
namespace q8 {

template <const QConvParams& P>
constexpr bool use_vnni_dw() {
  return P.groups == P.c_in && P.c_out == P.c_in && P.dil_h == 1 && P.dil_w == 1 &&
         (P.stride_h == 1 || P.stride_h == 2) && P.stride_w == P.stride_h && P.k_w <= 8 && P.k_h <= 8;
}

template <const QConvParams& P>
struct DwGeometry {
  static constexpr int s = P.stride_w;
  static constexpr int Q = (P.k_w + 3) / 4;
  static constexpr int span = (P.w_out - 1) * s + P.k_w;      // input columns the outputs read
  static constexpr int Wp = (span + s - 1) / s * s;           // padded row (even for stride 2)
  static constexpr int W = Wp / s;                            // flattened output row
  static constexpr int rows = (P.h_out - 1) * s + P.k_h;      // padded input rows read
  static constexpr int plane_rows = (rows + s - 1) / s + 1;   // rows per (parity) plane, +1 slack
  static constexpr int plane = plane_rows * Wp + 64;          // + the last window's overrun
  static constexpr int outputs = P.h_out * W;                 // flattened outputs, junk included
};

// Small planes (MobileNet's 7x7 and smaller): the whole input plane is one vector, and each
// (block of 16 outputs, kernel row, tap quad) window is one two-source vpermb of it against the
// padding value, through an index table built at compile time.  No scratch, no junk columns.
template <const QConvParams& P>
constexpr bool dw_in_register() {
  return P.h_in * P.w_in <= 64 && P.h_out * P.w_out <= 64;
}

template <const QConvParams& P>
struct alignas(64) DwWindows {
  static constexpr int blocks = (P.h_out * P.w_out + 15) / 16;
  static constexpr int Q = (P.k_w + 3) / 4;
  // idx[(block * k_h + kh) * Q + q][4i + j]: the input byte tap 4q + j of kernel row kh reads for
  // output 16 * block + i, or 64 (the padding vector) outside the plane and past k_w.
  uint8_t idx[blocks * P.k_h * Q][64];
  constexpr DwWindows() : idx{} {
    for (int b = 0; b < blocks; ++b)
      for (int kh = 0; kh < P.k_h; ++kh)
        for (int q = 0; q < Q; ++q)
          for (int i = 0; i < 16; ++i)
            for (int j = 0; j < 4; ++j) {
              const int o = 16 * b + i, oh = o / P.w_out, ow = o % P.w_out;
              const int ih = oh * P.stride_h - P.pad_top + kh, iw = ow * P.stride_w - P.pad_left + 4 * q + j;
              const bool inside = o < P.h_out * P.w_out && 4 * q + j < P.k_w && ih >= 0 && ih < P.h_in && iw >= 0 &&
                                  iw < P.w_in;
              idx[(b * P.k_h + kh) * Q + q][4 * i + j] = static_cast<uint8_t>(inside ? ih * P.w_in + iw : 64);
            }
  }
};

template <const QConvParams& P>
constexpr size_t vnni_dw_scratch_bytes() {
  using G = DwGeometry<P>;
  return dw_in_register<P>() ? 0 : static_cast<size_t>(G::s) * G::plane + (G::outputs + 16);
}

template <const QConvParams& P>
inline void conv2d_s8_vnni_dw_small(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wq,
                                    const int32_t* EDGE_Q8_RESTRICT bias_u8, const int32_t* mult, const int32_t* shift,
                                    int8_t* EDGE_Q8_RESTRICT out) {
  using Win = DwWindows<P>;
  static constexpr Win kWin{};
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  constexpr int taps = P.k_h * Win::Q;
  const __mmask64 lm = plane_in == 64 ? ~__mmask64{0} : (__mmask64{1} << plane_in) - 1;
  const __m512i padv = _mm512_set1_epi8(static_cast<char>(P.zp_in + 128));
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int bc = 0; bc < P.n * P.c_out; ++bc) {
    const int c = bc % P.c_out;
    const __m512i u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(lm, in + static_cast<size_t>(bc) * plane_in), flip);
    const RequantConst rq = requant_const(shift[c], P.zp_out);
    for (int b = 0; b < Win::blocks; ++b) {
      __m512i acc = _mm512_set1_epi32(bias_u8[c]);
      for (int t = 0; t < taps; ++t) {
        const __m512i x = _mm512_permutex2var_epi8(u, _mm512_load_si512(kWin.idx[b * taps + t]), padv);
        acc = _mm512_dpbusd_epi32(acc, x, _mm512_set1_epi32(wq[c * taps + t]));
      }
      const int n = plane_out - 16 * b < 16 ? plane_out - 16 * b : 16;
      _mm_mask_storeu_epi8(out + static_cast<size_t>(bc) * plane_out + 16 * b, static_cast<__mmask16>((1u << n) - 1),
                           requantize_s8_x16<P.act_min, P.act_max, P.short_requant>(acc, mult[c], shift[c], P.zp_out, rq));
    }
  }
}

// wq: the weights as [c][kh][q] int32 tap quads, zeros past k_w (edge_sdk/ops/quant_ops.py,
// direct_weight_quads).  scratch: vnni_dw_scratch_bytes<P>().
template <const QConvParams& P>
inline void conv2d_s8_vnni_dw(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wq,
                              const int32_t* EDGE_Q8_RESTRICT bias_u8, const int32_t* mult, const int32_t* shift,
                              int8_t* EDGE_Q8_RESTRICT out, uint8_t* EDGE_Q8_RESTRICT scratch) {
  if constexpr (dw_in_register<P>()) {
    (void)scratch;
    conv2d_s8_vnni_dw_small<P>(in, wq, bias_u8, mult, shift, out);
    return;
  }
  using G = DwGeometry<P>;
  constexpr int s = G::s;
  constexpr uint8_t pad_u = static_cast<uint8_t>(P.zp_in + 128);
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  constexpr int j0 = P.pad_left > 0 ? P.pad_left : 0;                              // data columns of
  constexpr int j1 = P.pad_left + P.w_in < G::span ? P.pad_left + P.w_in : G::span;  // a padded row
  uint8_t* planes = scratch;                                   // s planes of plane_rows x Wp
  int8_t* flat = reinterpret_cast<int8_t*>(scratch + s * G::plane);  // outputs incl. junk columns
  alignas(64) static constexpr uint8_t kIdx[64] = {
#define EDGE_Q8_DW_IDX4(i) (uint8_t)(s * (i)), (uint8_t)(s * (i) + 1), (uint8_t)(s * (i) + 2), (uint8_t)(s * (i) + 3)
      EDGE_Q8_DW_IDX4(0),  EDGE_Q8_DW_IDX4(1),  EDGE_Q8_DW_IDX4(2),  EDGE_Q8_DW_IDX4(3),
      EDGE_Q8_DW_IDX4(4),  EDGE_Q8_DW_IDX4(5),  EDGE_Q8_DW_IDX4(6),  EDGE_Q8_DW_IDX4(7),
      EDGE_Q8_DW_IDX4(8),  EDGE_Q8_DW_IDX4(9),  EDGE_Q8_DW_IDX4(10), EDGE_Q8_DW_IDX4(11),
      EDGE_Q8_DW_IDX4(12), EDGE_Q8_DW_IDX4(13), EDGE_Q8_DW_IDX4(14), EDGE_Q8_DW_IDX4(15)};
#undef EDGE_Q8_DW_IDX4
  const __m512i idx = _mm512_load_si512(kIdx);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  // The padding is the same for every channel: written once, then only data bytes change.
  memset(planes, pad_u, static_cast<size_t>(s) * G::plane);
  for (int bc = 0; bc < P.n * P.c_out; ++bc) {
    const int c = bc % P.c_out;
    const int8_t* ip = in + static_cast<size_t>(bc) * plane_in;
    // Padded plane(s): padded row r goes to plane r % s, row r / s.
    for (int r = 0; r < G::rows; ++r) {
      const int ih = r - P.pad_top;
      if (ih < 0 || ih >= P.h_in) continue;
      uint8_t* dst = planes + (r % s) * G::plane + (r / s) * G::Wp + j0;
      const int8_t* src = ip + ih * P.w_in + (j0 - P.pad_left);
      for (int j = 0; j < j1 - j0; j += 64) {
        const __mmask64 k = j1 - j0 - j >= 64 ? ~__mmask64{0} : (__mmask64{1} << (j1 - j0 - j)) - 1;
        _mm512_mask_storeu_epi8(dst + j, k, _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src + j), flip));
      }
    }
    const int32_t* wc = wq + c * P.k_h * G::Q;
    const __m512i bias = _mm512_set1_epi32(bias_u8[c]);
    const RequantConst rq = requant_const(shift[c], P.zp_out);
    for (int p0 = 0; p0 < G::outputs; p0 += 16) {
      __m512i acc = bias;
      for (int kh = 0; kh < P.k_h; ++kh) {
        // Output p reads plane kh % s at s * p + (kh / s) * Wp + kw.
        const uint8_t* base = planes + (kh % s) * G::plane + (kh / s) * G::Wp + s * p0;
        for (int q = 0; q < G::Q; ++q) {
          const __m512i x = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(base + 4 * q));
          acc = _mm512_dpbusd_epi32(acc, x, _mm512_set1_epi32(wc[kh * G::Q + q]));
        }
      }
      const int n = G::outputs - p0 < 16 ? G::outputs - p0 : 16;
      _mm_mask_storeu_epi8(flat + p0, static_cast<__mmask16>((1u << n) - 1),
                           requantize_s8_x16<P.act_min, P.act_max, P.short_requant>(acc, mult[c], shift[c], P.zp_out, rq));
    }
    int8_t* op = out + static_cast<size_t>(bc) * plane_out;
    for (int oh = 0; oh < P.h_out; ++oh) memcpy(op + oh * P.w_out, flat + oh * G::W, P.w_out);
  }
}

}  // namespace q8
}  // namespace edge_sdk

EDGE_Q8_AVX512_WARNINGS_ON
#endif
