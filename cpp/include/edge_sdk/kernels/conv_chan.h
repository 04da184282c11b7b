// Channel-vectorised 2-D convolution, float32 NCHW, tested against conv.h's portable
// kernel (tests/test_kernels_conv.py).
//
// conv_fast.h puts pixels in the vector lanes, which wastes lanes on small planes: 49
// pixels of a 7x7 plane fill 4 of 16-lane vectors to 77%.  Small planes with long
// reductions (ResNet's 7x7x512 3x3 layers, MobileNetV2's 7x7 1x1 layers) run here instead,
// with kVL output channels in the lanes (whole vectors: channel counts are multiples of 16)
// and each input pixel one broadcast:
//
//   acc[j][p] += W[block of vector j][k][lanes of j] * x[k][pixel p]
//
// Weights come packed by the compiler (passes/pack_conv_weights.py, MR = 16) as
// [oc block of 16][k][16], k = (ic, kh, kw).  A group of JV vectors of output channels runs
// over every tile of PX pixels (the plane flattened, so tiles cross rows) one reduction
// chunk at a time: the chunk's weights (JV x KC floats) stay in L1 while every tile passes,
// and the partial sums live in a small [pixel][channel] buffer.  Weights stream from memory
// once, in order.  The last chunk applies bias, activation and the per-channel affine and
// writes each lane to its channel's plane.
#pragma once

#include "conv_fast.h"

namespace edge_sdk {

namespace chan_detail {

constexpr int kBlock = 16;                 // output channels per packed weight block
constexpr int kVB = kBlock / kVL;          // vectors per block
// Vectors of output channels per group, and pixels per tile: JV * PX accumulators, JV
// weight vectors and one broadcast fit the register file.
constexpr int kJVWant = kVecRegs >= 32 ? 4 : 2;
constexpr int kJV = kJVWant < kVB ? kVB : kJVWant / kVB * kVB;  // whole blocks
constexpr int kPX = (kVecRegs - kJV - 1) / kJV;

template <const ConvFastParams& P>
struct Geometry {
  static_assert(P.groups == 1 && P.mr == kBlock, "channel-vectorised conv: one group, 16-channel weight blocks");
  static constexpr int taps = P.k_h * P.k_w;
  static constexpr int K = P.c_in * taps;
  static constexpr int blocks = (P.c_out + kBlock - 1) / kBlock;
  static constexpr int row = conv_detail::Geometry<P>::row;  // floats per (padded, phase-split) input row
  static constexpr int plane_p = conv_detail::Geometry<P>::plane_p;
  static constexpr int pixels = P.h_out * P.w_out;
  // Input channels per reduction chunk: about 64 reduction steps (16 KiB of weights a group).
  static constexpr int ci_chunk = 64 / taps > 0 ? (64 / taps < P.c_in ? 64 / taps : P.c_in) : 1;
  static constexpr int pad_floats = conv_detail::Geometry<P>::pad_floats;  // the same padded copy
  static constexpr int acc_floats = conv_detail::round16(pixels * kJV * kVL);
};

// acc[j][p] = (first ? 0 : acc[j][p]) + the CI input channels' part of the reduction, for
// vector j of output channels (weights at w[j], stepping 16 floats a reduction index) and
// pixel p (input at x + poff[p]).
template <const ConvFastParams& P, int J, int PXN, int CI>
EDGE_ALWAYS_INLINE void micro(const float* const (&w)[J], const float* EDGE_RESTRICT x, const int (&poff)[PXN],
                              vfloat (&acc)[J][PXN]) {
  using G = Geometry<P>;
  for (int ic = 0; ic < CI; ++ic)
    for (int kh = 0; kh < P.k_h; ++kh)
      for (int kw = 0; kw < P.k_w; ++kw) {
        const int k = (ic * P.k_h + kh) * P.k_w + kw;
        const float* xk = x + ic * G::plane_p + kh * P.dil_h * G::row +
                          conv_detail::col_off<P.stride_w, P.dil_w, P.ws>(kw);
        vfloat wv[J];
        for (int j = 0; j < J; ++j) wv[j] = vload(w[j] + k * kBlock);
        for (int p = 0; p < PXN; ++p) {
          const vfloat xv = vsplat(xk[poff[p]]);
          for (int j = 0; j < J; ++j) acc[j][p] += wv[j] * xv;
        }
      }
}

// Bias, the residual (a fused Add's other operand, NCHW like the output, or nullptr), activation
// and affine on the final sums, each lane stored to its channel's plane.
template <const ConvFastParams& P, int J, int PXN>
EDGE_ALWAYS_INLINE void finish(vfloat (&acc)[J][PXN], int oc0, int p0, const float* bias, const float* scale,
                               const float* shift, const float* residual, float* EDGE_RESTRICT out) {
  constexpr int pixels = Geometry<P>::pixels;
  for (int j = 0; j < J; ++j) {
    const int oc = oc0 + j * kVL;
    const int n = P.c_out - oc < kVL ? P.c_out - oc : kVL;  // channels past c_out are zero padding
    if (n <= 0) continue;
    const vfloat bv = bias ? vload_lanes(bias + oc, n, 0.0f) : vfloat{};
    vfloat sc{}, sh{};
    if constexpr (P.post_affine) {
      sc = vload_lanes(scale + oc, n, 0.0f);
      sh = vload_lanes(shift + oc, n, 0.0f);
    }
    vfloat y[PXN];
    for (int p = 0; p < PXN; ++p) y[p] = acc[j][p] + bv;
    if (residual)
      for (int p = 0; p < PXN; ++p) y[p] += vload_strided(residual + static_cast<size_t>(oc) * pixels + p0 + p, pixels, n);
    activate_vec_n<P.act>(y, P.act_alpha, P.act_beta);
    for (int p = 0; p < PXN; ++p) {
      if constexpr (P.post_affine) y[p] = y[p] * sc + sh;
      vstore_strided(out + static_cast<size_t>(oc) * pixels + p0 + p, y[p], pixels, n);
    }
  }
}

// Output channels of blocks [b0, b0 + J / kVB) over the whole plane.
template <const ConvFastParams& P, int J>
inline void group(const float* EDGE_RESTRICT src, const float* EDGE_RESTRICT wpk, const float* bias,
                  const float* scale, const float* shift, const float* residual, float* EDGE_RESTRICT out,
                  float* EDGE_RESTRICT accb, int b0) {
  using G = Geometry<P>;
  const float* w0[J];
  for (int j = 0; j < J; ++j)
    w0[j] = wpk + (static_cast<size_t>(b0 + j / kVB) * G::K) * kBlock + (j % kVB) * kVL;
  auto tile = [&](int p0, auto pxn_c, int ic0, auto ci_c) {
    constexpr int PXN = decltype(pxn_c)::value, CI = decltype(ci_c)::value;
    const bool first = ic0 == 0, last = ic0 + CI == P.c_in;
    int poff[PXN];
    for (int p = 0; p < PXN; ++p) {
      const int pix = p0 + p;
      poff[p] = (pix / P.w_out) * P.stride_h * G::row + pix % P.w_out;
    }
    vfloat acc[J][PXN];
    float* ab = accb + static_cast<size_t>(p0) * J * kVL;
    for (int p = 0; p < PXN; ++p)
      for (int j = 0; j < J; ++j) acc[j][p] = first ? vfloat{} : vload(ab + (p * J + j) * kVL);
    const float* w[J];
    for (int j = 0; j < J; ++j) w[j] = w0[j] + static_cast<size_t>(ic0) * G::taps * kBlock;
    micro<P, J, PXN, CI>(w, src + static_cast<size_t>(ic0) * G::plane_p, poff, acc);
    if (last) {
      finish<P, J, PXN>(acc, b0 * kBlock, p0, bias, scale, shift, residual, out);
    } else {
      for (int p = 0; p < PXN; ++p)
        for (int j = 0; j < J; ++j) vstore(ab + (p * J + j) * kVL, acc[j][p]);
    }
  };
  auto tiles = [&](int ic0, auto ci_c) {
    constexpr int full = G::pixels / kPX * kPX;
    for (int p0 = 0; p0 < full; p0 += kPX) tile(p0, std::integral_constant<int, kPX>(), ic0, ci_c);
    if constexpr (G::pixels - full > 0)
      tile(full, std::integral_constant<int, G::pixels - full>(), ic0, ci_c);
  };
  constexpr int CC = G::ci_chunk, CFULL = P.c_in / CC * CC;
  for (int ic0 = 0; ic0 < CFULL; ic0 += CC) tiles(ic0, std::integral_constant<int, CC>());
  if constexpr (CFULL < P.c_in) tiles(CFULL, std::integral_constant<int, P.c_in - CFULL>());
}

}  // namespace chan_detail

template <const ConvFastParams& P>
constexpr int conv_chan_scratch_floats() {
  using G = chan_detail::Geometry<P>;
  return G::pad_floats + G::acc_floats;
}

template <const ConvFastParams& P>
inline void conv2d_chan_f32(const float* EDGE_RESTRICT in, const float* EDGE_RESTRICT wpk, const float* bias,
                            const float* scale, const float* shift, const float* residual, float* EDGE_RESTRICT out,
                            float* EDGE_RESTRICT scratch) {
  using G = chan_detail::Geometry<P>;
  using chan_detail::kJV;
  using chan_detail::kVB;
  constexpr size_t in_item = static_cast<size_t>(P.c_in) * P.h_in * P.w_in;
  constexpr size_t out_item = static_cast<size_t>(P.c_out) * G::pixels;
  constexpr int groups = G::blocks * kVB / kJV, rest = G::blocks * kVB - groups * kJV;  // rest: vectors
  float* accb = scratch + G::pad_floats;
  for (int b = 0; b < P.n; ++b) {
    const float* src = in + b * in_item;
    if constexpr (P.padded) {
      conv_detail::pad_input<P>(src, scratch, P.c_in);
      src = scratch;
    }
    float* o = out + b * out_item;
    const float* r = residual ? residual + b * out_item : nullptr;
    for (int gi = 0; gi < groups; ++gi)
      chan_detail::group<P, kJV>(src, wpk, bias, scale, shift, r, o, accb, gi * kJV / kVB);
    if constexpr (rest > 0)
      chan_detail::group<P, rest>(src, wpk, bias, scale, shift, r, o, accb, groups * kJV / kVB);
  }
}

}  // namespace edge_sdk
