// Direct AVX-512 VNNI int8 convolution over input-channel quads, for wide stride-1 layers (the
// 3x3 convs of ResNet and VGG-style CNNs), bit-exact with conv2d_s8_reference (qconv.h).
//
// The input is re-laid once per call: each quad of 4 input channels becomes a padded plane of
// 4-byte pixels (byte j = channel 4q + j as u = x + 128; padding, and channels past c_in, hold
// zp_in + 128, real 0, and meet zero weights).  Output pixels are numbered p = oh * Wp + ow over
// the padded width Wp = w_out + k_w - 1 (columns ow >= w_out are computed, then dropped), so the
// 16 outputs of a block read, for kernel tap (kh, kw), the 64 bytes at p + kh * Wp + kw: one
// load, then one vpdpbusd per output channel with every byte of every lane useful.  The row
// kernel (qconv_x86_direct.h) spends a 4-byte quad on a 3-tap kernel row, the gather kernel
// (qconv_x86.h) copies every patch byte per pixel.  16 output channels a tile, their
// accumulators in registers; weights re-laid at compile time (quant_ops.py, quad_weights) as
// [oc / 16][quad][kh][kw][16 channels] int32.  bias_u8 = bias - (zp_in + 128) * sum(w).
#pragma once

#include <string.h>

#include "requant_x86.h"

#if defined(EDGE_Q8_HAVE_VNNI)
#define EDGE_Q8_HAVE_VNNI_QUAD 1

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h)

namespace edge_sdk {
namespace q8 {

template <const QConvParams& P>
struct QuadGeometry {
  static constexpr int CQ = (P.c_in + 3) / 4;           // input-channel quads
  static constexpr int Wp = (P.w_out - 1) * P.stride_w + P.k_w;  // padded row, in pixels
  static constexpr int Hp = (P.h_out - 1) * P.stride_h + P.k_h;  // padded rows read
  static constexpr int outputs = P.h_out * Wp;  // flattened outputs (stride 1), junk columns included
  static constexpr int blocks = (outputs + 15) / 16;
  // A plane, in bytes: the last block reads up to 15 + k_w pixels past Hp * Wp.
  static constexpr size_t plane = (static_cast<size_t>(Hp * Wp + 16 + P.k_w) * 4 + 63) / 64 * 64;
  static constexpr size_t flat = static_cast<size_t>(blocks) * 16;  // one channel's outputs
};

template <const QConvParams& P>
constexpr size_t vnni_quad_scratch_bytes() {
  using G = QuadGeometry<P>;
  return G::CQ * G::plane + 16 * G::flat;
}

// Quad q's plane: row r = ih + pad_top, pixel j = iw + pad_left.
template <const QConvParams& P>
inline void quad_pack(const int8_t* in_b, uint8_t* planes) {
  using G = QuadGeometry<P>;
  constexpr int cols = P.w_in < G::Wp - P.pad_left ? P.w_in : G::Wp - P.pad_left;
  memset(planes, static_cast<uint8_t>(P.zp_in + 128), G::CQ * G::plane);
  const __m512i flip = _mm512_set1_epi32(static_cast<int32_t>(0x80808080u));
  for (int q = 0; q < G::CQ; ++q) {
    uint8_t* pl = planes + q * G::plane;
    for (int ih = 0; ih < P.h_in && ih + P.pad_top < G::Hp; ++ih) {
      if (ih + P.pad_top < 0) continue;
      uint8_t* row = pl + (static_cast<size_t>(ih + P.pad_top) * G::Wp + P.pad_left) * 4;
      for (int iw0 = 0; iw0 < cols; iw0 += 16) {
        const int n = cols - iw0 < 16 ? cols - iw0 : 16;
        const __mmask16 k = static_cast<__mmask16>((1u << n) - 1);
        __m512i v = _mm512_setzero_si512();
        for (int j = 0; j < 4; ++j) {
          const int c = 4 * q + j;
          const __m128i bytes = c < P.c_in
              ? _mm_maskz_loadu_epi8(k, in_b + (static_cast<size_t>(c) * P.h_in + ih) * P.w_in + iw0)
              : _mm_set1_epi8(static_cast<char>(P.zp_in));
          v = _mm512_or_si512(v, _mm512_slli_epi32(_mm512_cvtepu8_epi32(bytes), 8 * j));
        }
        _mm512_mask_storeu_epi32(row + 4 * iw0, k, _mm512_xor_si512(v, flip));
      }
    }
  }
}

// wq: quad_weights (quant_ops.py); scratch: vnni_quad_scratch_bytes<P>().
template <const QConvParams& P>
inline void conv2d_s8_vnni_quad(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wq,
                                const int32_t* EDGE_Q8_RESTRICT bias_u8, const int32_t* mult, const int32_t* shift,
                                int8_t* EDGE_Q8_RESTRICT out, uint8_t* EDGE_Q8_RESTRICT scratch) {
  using G = QuadGeometry<P>;
  constexpr int KK = P.k_h * P.k_w;
  uint8_t* planes = scratch;
  int8_t* flat = reinterpret_cast<int8_t*>(scratch + G::CQ * G::plane);
  for (int b = 0; b < P.n; ++b) {
    quad_pack<P>(in + static_cast<size_t>(b) * P.c_in * P.h_in * P.w_in, planes);
    int8_t* out_b = out + static_cast<size_t>(b) * P.c_out * P.h_out * P.w_out;
    for (int ot = 0; ot < P.c_out / 16; ++ot) {
      const int32_t* wt = wq + static_cast<size_t>(ot) * G::CQ * KK * 16;
      RequantConst rq[16];
      for (int t = 0; t < 16; ++t) rq[t] = requant_const(shift[16 * ot + t], P.zp_out);
      for (int blk = 0; blk < G::blocks; ++blk) {
        __m512i acc[16];
        for (int t = 0; t < 16; ++t) acc[t] = _mm512_set1_epi32(bias_u8[16 * ot + t]);
        for (int q = 0; q < G::CQ; ++q) {
          const uint8_t* base = planes + q * G::plane + static_cast<size_t>(blk) * 64;
          const int32_t* wk = wt + static_cast<size_t>(q) * KK * 16;
          for (int kh = 0; kh < P.k_h; ++kh)
            for (int kw = 0; kw < P.k_w; ++kw) {
              const __m512i x = _mm512_loadu_si512(base + (kh * G::Wp + kw) * 4);
              const int32_t* w16 = wk + (kh * P.k_w + kw) * 16;
              for (int t = 0; t < 16; ++t) acc[t] = _mm512_dpbusd_epi32(acc[t], x, _mm512_set1_epi32(w16[t]));
            }
        }
        for (int t = 0; t < 16; ++t)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(flat + t * G::flat + 16 * blk),
                           requantize_s8_x16<P.act_min, P.act_max, P.short_requant>(
                               acc[t], mult[16 * ot + t], shift[16 * ot + t], P.zp_out, rq[t]));
      }
      for (int t = 0; t < 16; ++t) {
        int8_t* o = out_b + static_cast<size_t>(16 * ot + t) * P.h_out * P.w_out;
        for (int oh = 0; oh < P.h_out; ++oh) memcpy(o + oh * P.w_out, flat + t * G::flat + oh * G::Wp, P.w_out);
      }
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk

EDGE_Q8_AVX512_WARNINGS_ON
#endif
