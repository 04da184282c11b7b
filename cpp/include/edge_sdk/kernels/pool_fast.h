// Fast MaxPool, float32 NCHW, tested against pool.h's max_pool_f32 (tests/test_kernels_pool.py).
//
// Each output row is two vector passes over one scratch row:
//   1. vertical: the max of the window's input rows, column by column, into a row that
//      covers every column the windows touch (padding columns stay -inf), then split
//      into stride_w column phases (column c at phase c % stride_w, index c / stride_w);
//   2. horizontal: output column ow is the max over kw of phase (kw*dil_w) % stride_w at
//      ow + (kw*dil_w) / stride_w, so every tap is one contiguous vector load.
// Windows clipped by padding or ceil_mode reduce over -inf borders, as the portable
// kernel skips them; NaN wins every comparison in both.
#pragma once

#include "pool.h"

namespace edge_sdk {

namespace pool_detail {

template <const PoolParams& P>
struct RowGeometry {
  static constexpr int S = P.stride_w;
  // Columns the windows cover, counted from the first (padding) column.
  static constexpr int span = (P.w_out - 1) * P.stride_w + (P.k_w - 1) * P.dil_w + 1;
  static constexpr int ws = (span + S - 1) / S + kVL;  // floats per phase, one vector of slack
  static constexpr int row = S * ws;                   // the vertical row (span rounded up)
  static constexpr int x0 = P.pad_left;                // first input column in the row
  static constexpr int x1 = span < P.pad_left + P.w_in ? span : P.pad_left + P.w_in;
};

}  // namespace pool_detail

template <const PoolParams& P>
constexpr int max_pool_scratch_floats() {
  using R = pool_detail::RowGeometry<P>;
  return R::S == 1 ? R::row : 2 * R::row;
}

template <const PoolParams& P>
inline void max_pool_fast_f32(const float* EDGE_RESTRICT in, float* EDGE_RESTRICT out, float* EDGE_RESTRICT scratch) {
  using R = pool_detail::RowGeometry<P>;
  constexpr int S = R::S;
  float* col = scratch;
  float* ph = S == 1 ? scratch : scratch + R::row;
  const vfloat ninf = vsplat(-INFINITY);
  if constexpr (S > 1) {
    for (int i = 0; i < R::row; ++i) ph[i] = -INFINITY;  // slack past each phase stays -inf
  }
  for (int c = 0; c < P.planes; ++c) {
    const float* ip = in + static_cast<size_t>(c) * P.h_in * P.w_in;
    float* op = out + static_cast<size_t>(c) * P.h_out * P.w_out;
    for (int oh = 0; oh < P.h_out; ++oh) {
      // 1. Vertical max of the window's rows (those inside the input), in registers: one store
      // per vector, not one per row.  Columns outside [x0, x1) stay -inf.
      const float* rows[P.k_h];
      int nr = 0;
      for (int kh = 0; kh < P.k_h; ++kh) {
        const int ih = oh * P.stride_h - P.pad_top + kh * P.dil_h;
        if (ih >= 0 && ih < P.h_in) rows[nr++] = ip + static_cast<size_t>(ih) * P.w_in;  // column x at x - x0
      }
      for (int i = 0; i < R::x0; ++i) col[i] = -INFINITY;
      for (int i = nr > 0 ? R::x1 : R::x0; i < R::row; ++i) col[i] = -INFINITY;
      if (nr > 0) {
        int x = R::x0;
        for (; x + kVL <= R::x1; x += kVL) {
          vfloat m = vload(rows[0] + (x - R::x0));
          for (int i = 1; i < nr; ++i) m = vmax_nan(m, vload(rows[i] + (x - R::x0)));
          vstore(col + x, m);
        }
        if (x < R::x1) {  // the tail: lanes past the input row read as -inf (col has a vector of slack)
          vfloat m = vload_lanes(rows[0] + (x - R::x0), R::x1 - x, -INFINITY);
          for (int i = 1; i < nr; ++i) m = vmax_nan(m, vload_lanes(rows[i] + (x - R::x0), R::x1 - x, -INFINITY));
          vstore(col + x, m);
        }
      }
      if constexpr (S == 2) {
        for (int j = 0; 2 * j < R::span; j += kVL) {  // reads stay inside col (row = 2 * ws)
          vfloat e, o;
          vdeinterleave2(col + 2 * j, e, o);
          vstore(ph + j, e);
          vstore(ph + R::ws + j, o);
        }
      } else if constexpr (S > 2) {
        for (int p = 0; p < S; ++p)
          for (int j = 0; j * S + p < R::span; ++j) ph[p * R::ws + j] = col[j * S + p];
      }
      // 2. Horizontal max over the kernel's columns.
      float* orow = op + static_cast<size_t>(oh) * P.w_out;
      for (int ow0 = 0; ow0 < P.w_out; ow0 += kVL) {
        // The last vector is shifted back to end at w_out when the row is wide enough.
        const int ow = (P.w_out >= kVL && ow0 + kVL > P.w_out) ? P.w_out - kVL : ow0;
        vfloat m = ninf;
        for (int kw = 0; kw < P.k_w; ++kw) {
          constexpr int d = P.dil_w;
          m = vmax_nan(m, vload(ph + ((kw * d) % S) * R::ws + (kw * d) / S + ow));
        }
        const int n = P.w_out - ow < kVL ? P.w_out - ow : kVL;
        m = activate_vec<P.act>(m, P.act_alpha, P.act_beta);
        if (n == kVL)
          vstore(orow + ow, m);
        else
          vstore_lanes(orow + ow, m, 0, n);  // a row narrower than a vector
      }
    }
  }
}

}  // namespace edge_sdk
