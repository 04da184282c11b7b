// Row-streaming int8 convolution + per-channel epilogue + max pooling: only pooled rows are
// ever stored.  For TFLite chains CONV_2D (fused clamp) -> per-channel elementwise ops (MUL/ADD
// by constants, e.g. a BatchNorm after the activation) -> MAX_POOL_2D, whose un-pooled output
// would not fit a microcontroller's RAM (Keras Meso4 at 256x256 needs 1 MB in TFLite Micro).
//
// Per conv output row: int32 accumulators (bias + sum (x - zp_in) * w, integer, any order),
// requantize + clamp exactly as every int8 conv (requant.h), then the per-channel table
// (the elementwise ops, evaluated at compile time on all 256 codes by
// edge_sdk/ops/tfl_conv_pool.py), then a running max into the pooled row.  Bit-identical to
// running the ops one after the other.  The input is read through element strides, so it can
// be NCHW (the IR's layout) or NHWC (a TFLite graph input, without a transposed copy).
// Scratch: w_conv int32 + c_in * k_h * w_in int16 + w_conv int8 + c_out * w_out int8.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "requant.h"

namespace edge_sdk {
namespace tfl {

struct ConvPoolParams {
  int c_in, h_in, w_in;
  int in_sc, in_sy, in_sx;   // input element strides: channel, row, column
  int c_out, h_conv, w_conv;  // convolution output (never stored whole)
  int k_h, k_w, stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
  int zp_in, zp_out, act_min, act_max;
  int pool_kh, pool_kw, pool_sh, pool_sw, pool_pt, pool_pl;
  int h_out, w_out;          // pooled output, NCHW
  bool has_table;            // table[oc * 256 + v + 128] after the clamp
};

template <const ConvPoolParams& P>
constexpr size_t conv_pool_scratch_bytes() {
  return static_cast<size_t>(P.w_conv) * 5 + static_cast<size_t>(P.c_out) * P.w_out +
         static_cast<size_t>(P.c_in) * P.k_h * P.w_in * 2;
}

// The k_h input rows under conv row `oh`, every channel, as int16 (x - zp_in) in [c_in][k_h][w_in]
// (so an NHWC input is read once per row and the inner loop below is contiguous); rows in the
// padding are flagged in `valid`.
template <const ConvPoolParams& P>
inline void gather_rows(const int8_t* EDGE_Q8_RESTRICT in, int oh, int16_t* EDGE_Q8_RESTRICT xr, bool* valid) {
  for (int kh = 0; kh < P.k_h; ++kh) {
    const int ih = oh * P.stride_h - P.pad_top + kh * P.dil_h;
    valid[kh] = ih >= 0 && ih < P.h_in;
    if (!valid[kh]) continue;
    for (int ic = 0; ic < P.c_in; ++ic) {
      const int8_t* src = in + static_cast<ptrdiff_t>(ic) * P.in_sc + static_cast<ptrdiff_t>(ih) * P.in_sy;
      int16_t* dst = xr + (static_cast<size_t>(ic) * P.k_h + kh) * P.w_in;
      for (int x = 0; x < P.w_in; ++x) dst[x] = static_cast<int16_t>(src[static_cast<ptrdiff_t>(x) * P.in_sx] - P.zp_in);
    }
  }
}

// One output channel's conv row into acc[0, w_conv), from the gathered rows.  (Computing 2-4
// channels per pass over the taps measured slower on x86 with clang: the simple loop vectorizes.)
template <const ConvPoolParams& P>
inline void conv_row(const int16_t* EDGE_Q8_RESTRICT xr, const bool* valid, const int8_t* EDGE_Q8_RESTRICT w,
                     int32_t bias, int32_t* EDGE_Q8_RESTRICT acc) {
  for (int ow = 0; ow < P.w_conv; ++ow) acc[ow] = bias;
  for (int ic = 0; ic < P.c_in; ++ic) {
    for (int kh = 0; kh < P.k_h; ++kh) {
      if (!valid[kh]) continue;
      const int16_t* row = xr + (static_cast<size_t>(ic) * P.k_h + kh) * P.w_in;
      const int8_t* wr = w + (static_cast<size_t>(ic) * P.k_h + kh) * P.k_w;
      for (int kw = 0; kw < P.k_w; ++kw) {
        const int32_t wv = wr[kw];
        if (wv == 0) continue;
        const int off = kw * P.dil_w - P.pad_left;  // input column = ow * stride_w + off
        const int ow0 = off >= 0 ? 0 : (-off + P.stride_w - 1) / P.stride_w;
        const int last = P.w_in - 1 - off;
        const int ow1 = last < 0 ? 0 : (last / P.stride_w + 1 < P.w_conv ? last / P.stride_w + 1 : P.w_conv);
        for (int ow = ow0; ow < ow1; ++ow) acc[ow] += wv * row[ow * P.stride_w + off];
      }
    }
  }
}

template <const ConvPoolParams& P>
inline void conv_pool_s8(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* EDGE_Q8_RESTRICT w,
                         const int32_t* EDGE_Q8_RESTRICT bias, const int32_t* mult, const int32_t* shift,
                         const int8_t* table, int8_t* EDGE_Q8_RESTRICT out, void* scratch) {
  int32_t* acc = static_cast<int32_t*>(scratch);
  int16_t* xr = reinterpret_cast<int16_t*>(acc + P.w_conv);
  int8_t* conv = reinterpret_cast<int8_t*>(xr + static_cast<size_t>(P.c_in) * P.k_h * P.w_in);
  int8_t* pooled = conv + P.w_conv;  // [c_out][w_out] running maxima of one pooled row
  bool valid[P.k_h];
  const size_t w_per_oc = static_cast<size_t>(P.c_in) * P.k_h * P.k_w;
  for (int ph = 0; ph < P.h_out; ++ph) {
    for (int i = 0; i < P.c_out * P.w_out; ++i) pooled[i] = -128;
    for (int r = 0; r < P.pool_kh; ++r) {
      const int oh = ph * P.pool_sh - P.pool_pt + r;
      if (oh < 0 || oh >= P.h_conv) continue;
      gather_rows<P>(in, oh, xr, valid);
      for (int oc = 0; oc < P.c_out; ++oc) {
        conv_row<P>(xr, valid, w + oc * w_per_oc, bias ? bias[oc] : 0, acc);
        const int8_t* t = P.has_table ? table + oc * 256 + 128 : nullptr;
        for (int ow = 0; ow < P.w_conv; ++ow) {
          const int8_t v = q8::requantize(acc[ow], mult[oc], shift[oc], P.zp_out, P.act_min, P.act_max);
          conv[ow] = P.has_table ? t[v] : v;
        }
        int8_t* prow = pooled + oc * P.w_out;
        for (int pw = 0; pw < P.w_out; ++pw) {
          int8_t m = prow[pw];
          for (int c = 0; c < P.pool_kw; ++c) {
            const int ow = pw * P.pool_sw - P.pool_pl + c;
            if (ow >= 0 && ow < P.w_conv && conv[ow] > m) m = conv[ow];
          }
          prow[pw] = m;
        }
      }
    }
    for (int oc = 0; oc < P.c_out; ++oc)
      for (int pw = 0; pw < P.w_out; ++pw)
        out[(static_cast<size_t>(oc) * P.h_out + ph) * P.w_out + pw] = pooled[oc * P.w_out + pw];
  }
}

}  // namespace tfl
}  // namespace edge_sdk
