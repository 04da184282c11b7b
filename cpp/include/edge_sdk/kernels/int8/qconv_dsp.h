// Cortex-M DSP-extension int8 convolution (Cortex-M4/M7/M33 with the DSP instructions), bit-exact
// with conv2d_s8_reference (qconv.h).
//
// The CMSIS-NN plan: the patches of two output pixels are gathered as int16 (x - zp_in, 0 in the
// padding and past K), and a 2-channel x 2-pixel tile runs SMLAD, two 16x16 -> 32-bit
// multiply-adds per instruction.  The weights stay int8 OIHW: SXTB16 sign-extends bytes 0 and 2
// of a 4-tap word into two halfwords, SXTB16 of the word rotated by 8 bytes 1 and 3, so each
// gathered quad is stored in that order (x0, x2, x1, x3) and no weight re-layout is needed.
// Products are exact (|w * (x - zp_in)| <= 128 * 255) and SMLAD adds them into int32 like the
// reference, so the sums are the same integers; requantization is requant.h's rounding
// (dsp_requantize computes it with fewer instructions).
#pragma once

#include "requant.h"

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_NEON) && !defined(__ARM_NEON__) && !defined(__ARM_BIG_ENDIAN) && \
    !defined(EDGE_SDK_KERNELS_PORTABLE)
#define EDGE_Q8_HAVE_DSP 1
#include <arm_acle.h>
#include <string.h>

namespace edge_sdk {
namespace q8 {

constexpr int kDspPixels = 2;
constexpr int dsp_quads(int k) { return (k + 3) / 4; }

template <const QConvParams& P>
constexpr size_t dsp_scratch_bytes() {
  return static_cast<size_t>(dsp_quads(P.c_in / P.groups * P.k_h * P.k_w)) * 4 * kDspPixels * sizeof(int16_t);
}

// Every conv with more than one input channel per group; depthwise convs stay on the row kernel.
// Scratch: covered by the VNNI path's 128 bytes per quad that QConv.scratch_bytes
// (ops/quant_ops.py) reserves on every target with the fast kernels on (this path: 16).
template <const QConvParams& P>
constexpr bool use_dsp() {
  return P.c_in / P.groups > 1;
}

// One pixel's patch: dst[4q + {0, 2, 1, 3}] = tap 4q + {0, 1, 2, 3} (see the file comment).
template <const QConvParams& P>
inline void dsp_gather_pixel(const int8_t* in_g, int p, int16_t* EDGE_Q8_RESTRICT dst) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int K = cin_g * P.k_h * P.k_w;
  constexpr int slot[4] = {0, 2, 1, 3};
  const int ih0 = p / P.w_out * P.stride_h - P.pad_top;
  const int iw0 = p % P.w_out * P.stride_w - P.pad_left;
  int k = 0;
  for (int ic = 0; ic < cin_g; ++ic) {
    const int8_t* ip = in_g + static_cast<size_t>(ic) * P.h_in * P.w_in;
    for (int kh = 0; kh < P.k_h; ++kh) {
      const int ih = ih0 + kh * P.dil_h;
      const bool row_in = static_cast<unsigned>(ih) < static_cast<unsigned>(P.h_in);
      for (int kw = 0; kw < P.k_w; ++kw, ++k) {
        const int iw = iw0 + kw * P.dil_w;
        const bool inside = row_in && static_cast<unsigned>(iw) < static_cast<unsigned>(P.w_in);
        dst[(k & ~3) + slot[k & 3]] = static_cast<int16_t>(inside ? ip[ih * P.w_in + iw] - P.zp_in : 0);
      }
    }
  }
  for (; k < dsp_quads(K) * 4; ++k) dst[(k & ~3) + slot[k & 3]] = 0;
}

// Weight quad q of a row of K taps (memory order, zero past K) as (w0, w2) and (w1, w3) halfword pairs.
template <int K>
EDGE_Q8_INLINE void dsp_weight_pairs(const int8_t* wr, int q, int32_t& w02, int32_t& w13) {
  uint32_t v = 0;
  memcpy(&v, wr + 4 * q, K % 4 == 0 || q < K / 4 ? 4 : K % 4);
  w02 = __sxtb16(static_cast<int32_t>(v));
  w13 = __sxtb16(static_cast<int32_t>((v >> 8) | (v << 24)));
}

EDGE_Q8_INLINE void dsp_pixel_pairs(const int16_t* x, int q, int32_t& x02, int32_t& x13) {
  memcpy(&x02, x + 4 * q, 4);
  memcpy(&x13, x + 4 * q + 2, 4);
}

// requantize() (requant.h), bit for bit, with a cheaper doubling high multiply: for |x| < 2^30,
// floor((x*M + 2^30) / 2^31) (what the reference's nudge-and-truncate computes) equals the
// high word of 2x*M + 2^31, one SMULL and a 64-bit add instead of a signed 64-bit division.
// Larger accumulators (never seen in practice, handled exactly) take the reference's path.
EDGE_Q8_INLINE int32_t dsp_requantize(int32_t acc, int32_t mult, int shift, int32_t zp_out, int32_t lo, int32_t hi) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int32_t x = static_cast<int32_t>(static_cast<uint32_t>(acc) << left);
  int32_t h;
  if (x >= -(1 << 30) + 1 && x < (1 << 30)) {
    const int64_t p = static_cast<int64_t>(2 * x) * mult + (int64_t{1} << 31);
    h = static_cast<int32_t>(p >> 32);
  } else {
    h = saturating_rounding_doubling_high_mul(x, mult);
  }
  // the zero point's addition wraps, as requantize()'s (requant.h: defined where int addition is not)
  const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(rounding_divide_by_pot(h, right)) +
                                         static_cast<uint32_t>(zp_out));
  return v < lo ? lo : (v > hi ? hi : v);
}

// C (1 or 2) output channels x the n (1 or 2) gathered pixels.
template <const QConvParams& P, int C>
EDGE_Q8_INLINE void dsp_channels(const int16_t* EDGE_Q8_RESTRICT xs, int n, const int8_t* EDGE_Q8_RESTRICT w0,
                                 const int32_t* bias, const int32_t* mult, const int32_t* shift,
                                 int8_t* EDGE_Q8_RESTRICT out0) {
  constexpr int K = P.c_in / P.groups * P.k_h * P.k_w;
  constexpr int Q = dsp_quads(K);
  static_assert(C == 1 || C == 2, "2x2 tiles at most: 4 accumulators");
  // Named accumulators (not an array): at -Os the compiler otherwise keeps them in memory.
  int32_t a00 = bias ? bias[0] : 0, a01 = a00;
  int32_t a10 = C > 1 && bias ? bias[C > 1 ? 1 : 0] : 0, a11 = a10;
  const int16_t* x1 = xs + Q * 4;
  for (int q = 0; q < Q; ++q) {
    int32_t p02, p13, r02, r13, w02, w13;
    dsp_pixel_pairs(xs, q, p02, p13);
    dsp_pixel_pairs(x1, q, r02, r13);  // the second pixel's slot (zeros when n == 1: unused)
    dsp_weight_pairs<K>(w0, q, w02, w13);
    a00 = __smlad(p13, w13, __smlad(p02, w02, a00));
    a01 = __smlad(r13, w13, __smlad(r02, w02, a01));
    if constexpr (C > 1) {
      dsp_weight_pairs<K>(w0 + K, q, w02, w13);
      a10 = __smlad(p13, w13, __smlad(p02, w02, a10));
      a11 = __smlad(r13, w13, __smlad(r02, w02, a11));
    }
  }
  const int32_t acc[2][kDspPixels] = {{a00, a01}, {a10, a11}};
  for (int j = 0; j < C; ++j) {
    int8_t* o = out0 + static_cast<size_t>(j) * P.h_out * P.w_out;
    for (int i = 0; i < n; ++i)
      o[i] = static_cast<int8_t>(dsp_requantize(acc[j][i], mult[j], shift[j], P.zp_out, P.act_min, P.act_max));
  }
}

// bias: the reference kernel's (or nullptr); scratch: dsp_scratch_bytes<P>().
template <const QConvParams& P>
inline void conv2d_s8_dsp(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* EDGE_Q8_RESTRICT w,
                          const int32_t* EDGE_Q8_RESTRICT bias, const int32_t* mult, const int32_t* shift,
                          int8_t* EDGE_Q8_RESTRICT out, int16_t* EDGE_Q8_RESTRICT patches) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int cout_g = P.c_out / P.groups;
  constexpr int K = cin_g * P.k_h * P.k_w;
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * plane_in;
    int8_t* out_b = out + static_cast<size_t>(b) * P.c_out * plane_out;
    for (int g = 0; g < P.groups; ++g) {
      const int8_t* in_g = in_b + static_cast<size_t>(g) * cin_g * plane_in;
      for (int p = 0; p < plane_out; p += kDspPixels) {
        const int n = plane_out - p < kDspPixels ? plane_out - p : kDspPixels;
        dsp_gather_pixel<P>(in_g, p, patches);
        if (n == 2) {
          dsp_gather_pixel<P>(in_g, p + 1, patches + dsp_quads(K) * 4);
        } else {
          for (int k = 0; k < dsp_quads(K) * 4; ++k) patches[dsp_quads(K) * 4 + k] = 0;
        }
        int ocg = 0;
        for (; ocg + 2 <= cout_g; ocg += 2) {
          const int oc = g * cout_g + ocg;
          dsp_channels<P, 2>(patches, n, w + static_cast<size_t>(oc) * K, bias ? bias + oc : nullptr, mult + oc,
                             shift + oc, out_b + static_cast<size_t>(oc) * plane_out + p);
        }
        if (ocg < cout_g) {
          const int oc = g * cout_g + ocg;
          dsp_channels<P, 1>(patches, n, w + static_cast<size_t>(oc) * K, bias ? bias + oc : nullptr, mult + oc,
                             shift + oc, out_b + static_cast<size_t>(oc) * plane_out + p);
        }
      }
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk
#endif
