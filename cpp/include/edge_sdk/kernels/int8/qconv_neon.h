// ARM NEON int8 convolution (AArch64 and ARMv7 NEON, SDOT where the core has the dot product
// extension), bit-exact with conv2d_s8_reference (qconv.h).
//
// Same plan as the x86 VNNI path: a block of 16 consecutive pixels of the flattened output
// plane is gathered as [K/4][16 pixels][4 taps] of signed int8 (padding taps hold zp_in), so
// one weight quad of OIHW (4 consecutive taps of one output channel), broadcast, meets 4 pixels
// in one 16-byte vector.  No weight re-layout is needed.
//   dot product: SDOT adds the 4 products of each pixel into its int32 lane (16 MACs/insn).
//   plain NEON:  SMULL (int8 x int8 -> int16) then SADALP (pairwise add into int32); each
//                int16 lane holds one product (|p| <= 128*128), so nothing saturates even for
//                weights of -128, and a final pairwise add folds the two lanes of a pixel.
// Activations stay signed, so the caller passes bias_folded = bias - zp_in * sum(w) (the
// im2col path's bias): bias + sum w*(x - zp_in) == bias_folded + sum w*x, exact integers.
// The gather reads a tap's 16 pixels with one load where they lie in one input row (pointwise
// convs; blocks within one output row at stride 1, over the padding edges too, or stride 2)
// and interleaves 4 taps with VST4.  Requantization is vectorized and bit-exact
// (neon_requantize16).
#pragma once

#include "requant.h"

#if (defined(__ARM_NEON) || defined(__ARM_NEON__)) && !defined(__ARM_BIG_ENDIAN) && \
    !defined(EDGE_SDK_KERNELS_PORTABLE)
#define EDGE_Q8_HAVE_NEON 1
#include <arm_neon.h>
#include <string.h>

namespace edge_sdk {
namespace q8 {

constexpr int kNeonPixels = 16;  // pixels per block: four 4-lane vectors

#if defined(__ARM_FEATURE_DOTPROD)
constexpr int kNeonChannels = 4;  // 16 accumulators
#elif defined(__aarch64__)
constexpr int kNeonChannels = 2;  // two accumulators per 4 pixels: 16 of the 32 registers
#else
constexpr int kNeonChannels = 1;  // ARMv7 has 16 q registers: 8 accumulators + 4 pixel vectors
#endif

constexpr int neon_quads(int k) { return (k + 3) / 4; }

template <const QConvParams& P>
constexpr size_t neon_scratch_bytes() {
  return static_cast<size_t>(neon_quads(P.c_in / P.groups * P.k_h * P.k_w)) * 4 * kNeonPixels;
}

// Grouped convs with more than one input channel per group and a few output channels to share
// each gathered block; depthwise convs stay on the row kernel.  Scratch: QConv.scratch_bytes
// (ops/quant_ops.py) reserves the VNNI path's 128 bytes per quad on every target whenever the
// fast kernels are on, which covers neon_scratch_bytes (64 per quad).
template <const QConvParams& P>
constexpr bool use_neon() {
  return P.c_in / P.groups > 1 && P.c_out / P.groups >= 4;
}

// Weight quad q of a row of K taps as one int32 (memory order); the tail quad is zero past K.
template <int K>
EDGE_Q8_INLINE int32_t neon_weight_quad(const int8_t* wr, int q) {
  int32_t v = 0;
  memcpy(&v, wr + 4 * q, K % 4 == 0 || q < K / 4 ? 4 : K % 4);
  return v;
}

// Input row `row`, columns iw, iw + stride, ... (16 of them), zp_in outside [0, w_in).
template <const QConvParams& P>
EDGE_Q8_INLINE int8x16_t neon_row_tap(const int8_t* row, int iw) {
  constexpr int8_t zp = static_cast<int8_t>(P.zp_in);
  if (P.stride_w == 1) {
    if (iw >= 0 && iw + kNeonPixels <= P.w_in) return vld1q_s8(row + iw);
    if (P.w_in >= kNeonPixels && iw > -kNeonPixels && iw < P.w_in) {
      // A block over the row's left or right edge: load the 16 edge bytes, shift them into
      // place with a table lookup (indices outside 0..15 give 0) and put zp_in in the padding.
      const int base = iw < 0 ? 0 : P.w_in - kNeonPixels;
      const int8x16_t src = vld1q_s8(row + base);
      static const int8_t kIota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
      const uint8x16_t idx = vreinterpretq_u8_s8(vaddq_s8(vld1q_s8(kIota), vdupq_n_s8(static_cast<int8_t>(iw - base))));
#if defined(__aarch64__)
      const int8x16_t moved = vqtbl1q_s8(src, idx);
#else
      const int8x8x2_t tbl = {{vget_low_s8(src), vget_high_s8(src)}};
      const int8x16_t moved = vcombine_s8(vtbl2_s8(tbl, vreinterpret_s8_u8(vget_low_u8(idx))),
                                          vtbl2_s8(tbl, vreinterpret_s8_u8(vget_high_u8(idx))));
#endif
      return vbslq_s8(vcgtq_u8(idx, vdupq_n_u8(15)), vdupq_n_s8(zp), moved);
    }
  }
  // Stride 2: every other byte of 32, from iw (even lanes) or from iw - 1 (odd lanes),
  // whichever stays inside the row.
  if (P.stride_w == 2 && iw >= 0 && iw + 2 * kNeonPixels <= P.w_in) return vld2q_s8(row + iw).val[0];
  if (P.stride_w == 2 && iw >= 1 && iw + 2 * kNeonPixels - 1 <= P.w_in) return vld2q_s8(row + iw - 1).val[1];
  alignas(16) int8_t b[kNeonPixels];
  for (int px = 0; px < kNeonPixels; ++px) {
    const int c = iw + px * P.stride_w;
    b[px] = static_cast<unsigned>(c) < static_cast<unsigned>(P.w_in) ? row[c] : zp;
  }
  return vld1q_s8(b);
}

// patches[q][pixel][k % 4] for output pixels p0 .. p0 + count - 1 of group input `in_g`: each
// tap's 16 pixels are written as one 16-byte row (taps past K are 0), then every 4 rows are
// interleaved in place by VLD1 x 4 + VST4.
template <const QConvParams& P>
inline void neon_gather_block(const int8_t* in_g, int p0, int count, int8_t* EDGE_Q8_RESTRICT patches) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int K = cin_g * P.k_h * P.k_w;
  constexpr int Q = neon_quads(K);
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr bool pointwise = P.k_h == 1 && P.k_w == 1 && P.stride_h == 1 && P.stride_w == 1 && P.pad_top == 0 &&
                             P.pad_left == 0 && P.h_in == P.h_out && P.w_in == P.w_out;
  int8_t* dst = patches;
  if (pointwise && count == kNeonPixels) {  // output pixel p reads input pixel p of every channel
    for (int ic = 0; ic < cin_g; ++ic, dst += kNeonPixels) vst1q_s8(dst, vld1q_s8(in_g + ic * plane_in + p0));
  } else if (p0 % P.w_out + kNeonPixels <= P.w_out) {  // all 16 pixels in one output row (count == 16)
    const int ih0 = p0 / P.w_out * P.stride_h - P.pad_top;
    const int iw0 = p0 % P.w_out * P.stride_w - P.pad_left;
    for (int ic = 0; ic < cin_g; ++ic) {
      for (int kh = 0; kh < P.k_h; ++kh) {
        const int ih = ih0 + kh * P.dil_h;
        if (ih < 0 || ih >= P.h_in) {
          for (int kw = 0; kw < P.k_w; ++kw, dst += kNeonPixels) vst1q_s8(dst, vdupq_n_s8(static_cast<int8_t>(P.zp_in)));
          continue;
        }
        const int8_t* row = in_g + ic * plane_in + ih * P.w_in;
        for (int kw = 0; kw < P.k_w; ++kw, dst += kNeonPixels) vst1q_s8(dst, neon_row_tap<P>(row, iw0 + kw * P.dil_w));
      }
    }
  } else {  // a block over several output rows, or the plane's last partial block
    int ih0[kNeonPixels], iw0[kNeonPixels];
    for (int px = 0; px < kNeonPixels; ++px) {
      ih0[px] = (p0 + px) / P.w_out * P.stride_h - P.pad_top;
      iw0[px] = (p0 + px) % P.w_out * P.stride_w - P.pad_left;
    }
    for (int ic = 0; ic < cin_g; ++ic)
      for (int kh = 0; kh < P.k_h; ++kh)
        for (int kw = 0; kw < P.k_w; ++kw, dst += kNeonPixels)
          for (int px = 0; px < kNeonPixels; ++px) {
            const int ih = ih0[px] + kh * P.dil_h, iw = iw0[px] + kw * P.dil_w;
            const bool inside = px < count && static_cast<unsigned>(ih) < static_cast<unsigned>(P.h_in) &&
                                static_cast<unsigned>(iw) < static_cast<unsigned>(P.w_in);
            dst[px] = inside ? in_g[ic * plane_in + ih * P.w_in + iw] : static_cast<int8_t>(P.zp_in);
          }
  }
  for (int k = K; k < 4 * Q; ++k, dst += kNeonPixels) vst1q_s8(dst, vdupq_n_s8(0));
  for (int q = 0; q < Q; ++q) {
    int8_t* pq = patches + static_cast<size_t>(q) * 4 * kNeonPixels;
    int8x16x4_t v;
    v.val[0] = vld1q_s8(pq);
    v.val[1] = vld1q_s8(pq + 16);
    v.val[2] = vld1q_s8(pq + 32);
    v.val[3] = vld1q_s8(pq + 48);
    vst4q_s8(pq, v);
  }
}

// requantize() (requant.h) on 16 accumulators of one channel, bit for bit.  VQRDMULH is
// saturating_rounding_doubling_high_mul exactly: both give floor((a*b + 2^30) / 2^31) (the
// reference's nudge 1 - 2^30 then truncation rounds negative ties up, as VQRDMULH does) and
// both saturate only INT32_MIN * INT32_MIN.  The power-of-two division keeps the reference's
// remainder/threshold formulation; the clamp makes the narrowing exact.
template <const QConvParams& P>
EDGE_Q8_INLINE void neon_requantize16(const int32x4_t acc[4], int32_t mult, int shift, int8_t* o, int count) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int32x4_t vleft = vdupq_n_s32(left), vright = vdupq_n_s32(-right), vm = vdupq_n_s32(mult);
  const int32_t mask = static_cast<int32_t>((int64_t{1} << right) - 1);
  const int32x4_t vmask = vdupq_n_s32(mask), vhalf = vdupq_n_s32(mask >> 1);
  int16x4_t r16[4];
  for (int v = 0; v < 4; ++v) {
    const int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc[v], vleft), vm);
    const int32x4_t threshold = vsubq_s32(vhalf, vshrq_n_s32(x, 31));  // + 1 where x < 0
    const int32x4_t round_up = vreinterpretq_s32_u32(vcgtq_s32(vandq_s32(x, vmask), threshold));
    int32x4_t y = vsubq_s32(vshlq_s32(x, vright), round_up);  // round_up is -1 where true
    y = vaddq_s32(y, vdupq_n_s32(P.zp_out));
    y = vminq_s32(vmaxq_s32(y, vdupq_n_s32(P.act_min)), vdupq_n_s32(P.act_max));
    r16[v] = vmovn_s32(y);
  }
  const int8x16_t r = vcombine_s8(vmovn_s16(vcombine_s16(r16[0], r16[1])), vmovn_s16(vcombine_s16(r16[2], r16[3])));
  if (count == kNeonPixels) {
    vst1q_s8(o, r);
  } else {
    alignas(16) int8_t b[kNeonPixels];
    vst1q_s8(b, r);
    memcpy(o, b, static_cast<size_t>(count));
  }
}

#if !defined(__ARM_FEATURE_DOTPROD)
// One channel x 16 pixels for plain NEON.  l: (pixel 0 taps 0-1, pixel 0 taps 2-3, pixel 1 ...)
// of the vector's pixels 0-1, h: pixels 2-3.
struct NeonPairAcc {
  int32x4_t l0, l1, l2, l3, h0, h1, h2, h3;
};

EDGE_Q8_INLINE NeonPairAcc neon_pair_acc_zero() {
  const int32x4_t z = vdupq_n_s32(0);
  return NeonPairAcc{z, z, z, z, z, z, z, z};
}

// One weight quad (w: the quad twice) times the 4 pixel vectors x0..x3 ([pixel][4 taps] each).
EDGE_Q8_INLINE void neon_mac_quad(NeonPairAcc& a, int8x16_t x0, int8x16_t x1, int8x16_t x2, int8x16_t x3, int8x8_t w) {
  a.l0 = vpadalq_s16(a.l0, vmull_s8(vget_low_s8(x0), w));
  a.h0 = vpadalq_s16(a.h0, vmull_s8(vget_high_s8(x0), w));
  a.l1 = vpadalq_s16(a.l1, vmull_s8(vget_low_s8(x1), w));
  a.h1 = vpadalq_s16(a.h1, vmull_s8(vget_high_s8(x1), w));
  a.l2 = vpadalq_s16(a.l2, vmull_s8(vget_low_s8(x2), w));
  a.h2 = vpadalq_s16(a.h2, vmull_s8(vget_high_s8(x2), w));
  a.l3 = vpadalq_s16(a.l3, vmull_s8(vget_low_s8(x3), w));
  a.h3 = vpadalq_s16(a.h3, vmull_s8(vget_high_s8(x3), w));
}

// Pixel sums (two lanes per pixel added) plus the bias, as 4 vectors of 4 pixels.
EDGE_Q8_INLINE int32x4_t neon_fold_pair(int32x4_t lo, int32x4_t hi, int32x4_t bias) {
#if defined(__aarch64__)
  return vaddq_s32(vpaddq_s32(lo, hi), bias);
#else
  return vaddq_s32(vcombine_s32(vpadd_s32(vget_low_s32(lo), vget_high_s32(lo)),
                                vpadd_s32(vget_low_s32(hi), vget_high_s32(hi))), bias);
#endif
}

EDGE_Q8_INLINE void neon_pair_acc_fold(const NeonPairAcc& a, int32_t bias, int32x4_t out[4]) {
  const int32x4_t b = vdupq_n_s32(bias);
  out[0] = neon_fold_pair(a.l0, a.h0, b);
  out[1] = neon_fold_pair(a.l1, a.h1, b);
  out[2] = neon_fold_pair(a.l2, a.h2, b);
  out[3] = neon_fold_pair(a.l3, a.h3, b);
}
#endif

// C output channels (weight rows w0, w0 + K, ...) x the gathered block: requantized into
// out0 + j * plane_out (+ pixel), count pixels.
template <const QConvParams& P, int C>
EDGE_Q8_INLINE void neon_channels(const int8_t* EDGE_Q8_RESTRICT patches, const int8_t* EDGE_Q8_RESTRICT w0,
                                  const int32_t* bias_folded, const int32_t* mult, const int32_t* shift,
                                  int8_t* EDGE_Q8_RESTRICT out0, int count) {
  constexpr int K = P.c_in / P.groups * P.k_h * P.k_w;
  constexpr int Q = neon_quads(K);
  int32x4_t acc[C][4];
#if defined(__ARM_FEATURE_DOTPROD)
  for (int j = 0; j < C; ++j)
    for (int v = 0; v < 4; ++v) acc[j][v] = vdupq_n_s32(bias_folded[j]);
  for (int q = 0; q < Q; ++q) {
    const int8_t* pq = patches + static_cast<size_t>(q) * 4 * kNeonPixels;
    const int8x16_t x[4] = {vld1q_s8(pq), vld1q_s8(pq + 16), vld1q_s8(pq + 32), vld1q_s8(pq + 48)};
    for (int j = 0; j < C; ++j) {
      const int8x16_t wq = vreinterpretq_s8_s32(vdupq_n_s32(neon_weight_quad<K>(w0 + static_cast<size_t>(j) * K, q)));
      for (int v = 0; v < 4; ++v) acc[j][v] = vdotq_s32(acc[j][v], x[v], wq);
    }
  }
#else
  static_assert(C <= 2, "plain NEON tiles hold at most 2 channels (16 accumulators)");
  // Named accumulators, not arrays: ARMv7 builds otherwise keep them on the stack.
  NeonPairAcc a0 = neon_pair_acc_zero(), a1 = neon_pair_acc_zero();
  for (int q = 0; q < Q; ++q) {
    const int8_t* pq = patches + static_cast<size_t>(q) * 4 * kNeonPixels;
    const int8x16_t x0 = vld1q_s8(pq), x1 = vld1q_s8(pq + 16), x2 = vld1q_s8(pq + 32), x3 = vld1q_s8(pq + 48);
    neon_mac_quad(a0, x0, x1, x2, x3, vreinterpret_s8_s32(vdup_n_s32(neon_weight_quad<K>(w0, q))));
    if constexpr (C > 1)
      neon_mac_quad(a1, x0, x1, x2, x3, vreinterpret_s8_s32(vdup_n_s32(neon_weight_quad<K>(w0 + K, q))));
  }
  neon_pair_acc_fold(a0, bias_folded[0], acc[0]);
  if constexpr (C > 1) neon_pair_acc_fold(a1, bias_folded[1], acc[C > 1 ? 1 : 0]);
#endif
  for (int j = 0; j < C; ++j)
    neon_requantize16<P>(acc[j], mult[j], shift[j], out0 + static_cast<size_t>(j) * P.h_out * P.w_out, count);
}

template <const QConvParams& P>
inline void conv2d_s8_neon(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* EDGE_Q8_RESTRICT w,
                           const int32_t* EDGE_Q8_RESTRICT bias_folded, const int32_t* mult, const int32_t* shift,
                           int8_t* EDGE_Q8_RESTRICT out, int8_t* EDGE_Q8_RESTRICT patches) {
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
      for (int p0 = 0; p0 < plane_out; p0 += kNeonPixels) {
        const int count = plane_out - p0 < kNeonPixels ? plane_out - p0 : kNeonPixels;
        neon_gather_block<P>(in_g, p0, count, patches);
        int ocg = 0;
        for (; ocg + kNeonChannels <= cout_g; ocg += kNeonChannels) {
          const int oc = g * cout_g + ocg;
          neon_channels<P, kNeonChannels>(patches, w + static_cast<size_t>(oc) * K, bias_folded + oc, mult + oc,
                                          shift + oc, out_b + static_cast<size_t>(oc) * plane_out + p0, count);
        }
        for (; ocg < cout_g; ++ocg) {
          const int oc = g * cout_g + ocg;
          neon_channels<P, 1>(patches, w + static_cast<size_t>(oc) * K, bias_folded + oc, mult + oc, shift + oc,
                              out_b + static_cast<size_t>(oc) * plane_out + p0, count);
        }
      }
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk
#endif
