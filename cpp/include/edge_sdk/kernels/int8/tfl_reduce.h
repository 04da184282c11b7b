// int8 AVERAGE_POOL_2D and MEAN exactly as TFLite's reference kernels
// (reference/integer_ops/pooling.h AveragePool, reference/reduce.h QuantizedMeanOrSum).  Layout: NCHW planes (the IR's), which
// only changes where elements are, not what is summed.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "requant.h"

namespace edge_sdk {
namespace tfl {

// Integer division rounded half away from zero, as TFLite writes it.
inline int32_t div_round_away(int32_t acc, int32_t n) {
  return acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
}

struct AvgPoolParams {
  int planes, h_in, w_in, h_out, w_out;
  int k_h, k_w, stride_h, stride_w, pad_top, pad_left;
  int act_min, act_max;
};

// The average of the raw int8 values inside the input (padding is not counted), rounded;
// TFLite averages the stored codes, not code - zero_point (same scale in and out).
template <const AvgPoolParams& P>
inline void avg_pool_s8(const int8_t* EDGE_Q8_RESTRICT in, int8_t* EDGE_Q8_RESTRICT out) {
  for (int p = 0; p < P.planes; ++p) {
    const int8_t* ip = in + static_cast<size_t>(p) * P.h_in * P.w_in;
    int8_t* op = out + static_cast<size_t>(p) * P.h_out * P.w_out;
    for (int oh = 0; oh < P.h_out; ++oh) {
      const int y0 = oh * P.stride_h - P.pad_top;
      const int ky0 = y0 < 0 ? -y0 : 0;
      const int ky1 = P.k_h < P.h_in - y0 ? P.k_h : P.h_in - y0;
      for (int ow = 0; ow < P.w_out; ++ow) {
        const int x0 = ow * P.stride_w - P.pad_left;
        const int kx0 = x0 < 0 ? -x0 : 0;
        const int kx1 = P.k_w < P.w_in - x0 ? P.k_w : P.w_in - x0;
        int32_t acc = 0, count = 0;
        for (int ky = ky0; ky < ky1; ++ky)
          for (int kx = kx0; kx < kx1; ++kx, ++count) acc += ip[(y0 + ky) * P.w_in + x0 + kx];
        const int32_t v = count ? div_round_away(acc, count) : 0;
        op[oh * P.w_out + ow] = q8::clamp_i8(v, P.act_min, P.act_max);
      }
    }
  }
}

// MEAN over `size` contiguous elements of each of `planes` planes, as LiteRT's BUILTIN_REF
// resolver computes every int8 MEAN (reference_ops::QuantizedMeanOrSum; checked against it with
// and without keep_dims, and with equal input/output scales): (sum - zp_in * n) requantized by
// (s_in / s_out) with 1/n folded into the multiplier (edge_sdk/ops/tfl_ops.py), plus zp_out.
struct MeanParams {
  int planes, size;
  int zp_in, zp_out;
  int32_t mult; int shift;
};

template <const MeanParams& P>
inline void mean_s8(const int8_t* EDGE_Q8_RESTRICT in, int8_t* EDGE_Q8_RESTRICT out) {
  for (int p = 0; p < P.planes; ++p) {
    const int8_t* ip = in + static_cast<size_t>(p) * P.size;
    int32_t sum = 0;
    for (int i = 0; i < P.size; ++i) sum += ip[i];
    const int32_t v = q8::multiply_by_quantized_multiplier(sum - P.zp_in * P.size, P.mult, P.shift) + P.zp_out;
    out[p] = q8::clamp_i8(v, -128, 127);
  }
}

}  // namespace tfl
}  // namespace edge_sdk
