// int8 ADD, SUB, MUL and float -> int8 QUANTIZE exactly as TFLite's reference kernels
// (tensorflow/lite/kernels/internal/reference/integer_ops/{add,mul}.h, sub.h, quantize.h).
// Rounding comes from requant.h (TFLite's MultiplyByQuantizedMultiplier); the multipliers
// are computed at compile time by edge_sdk/ops/tfl_elementwise.py as TFLite's Prepare() does.
// Broadcasting: the output is up to 4-D; each input has per-dimension strides (0 = broadcast).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cmath>

#include "requant.h"

namespace edge_sdk {
namespace tfl {

struct BinaryParams {
  int dims[4];      // output shape, padded in front with 1s
  int sa[4], sb[4];  // element strides of a and b per output dimension (0: broadcast)
  int zp_a, zp_b, zp_out;
  int left_shift;    // ADD/SUB: 20 (both inputs moved to a common finer grid first)
  int32_t mult_a; int shift_a;
  int32_t mult_b; int shift_b;
  int32_t mult_out; int shift_out;
  int act_min, act_max;
};

enum class BinaryOp { kAdd, kSub, kMul };

template <BinaryOp Op, const BinaryParams& P>
inline int8_t binary_one(int32_t a, int32_t b) {
  const int32_t va = a - P.zp_a;
  const int32_t vb = b - P.zp_b;
  int32_t raw;
  if constexpr (Op == BinaryOp::kMul) {
    raw = q8::multiply_by_quantized_multiplier(va * vb, P.mult_out, P.shift_out);
  } else {
    const int32_t sa = q8::multiply_by_quantized_multiplier(va * (1 << P.left_shift), P.mult_a, P.shift_a);
    const int32_t sb = q8::multiply_by_quantized_multiplier(vb * (1 << P.left_shift), P.mult_b, P.shift_b);
    raw = q8::multiply_by_quantized_multiplier(Op == BinaryOp::kAdd ? sa + sb : sa - sb, P.mult_out, P.shift_out);
  }
  return q8::clamp_i8(raw + P.zp_out, P.act_min, P.act_max);
}

template <BinaryOp Op, const BinaryParams& P>
inline void binary_s8(const int8_t* EDGE_Q8_RESTRICT a, const int8_t* EDGE_Q8_RESTRICT b,
                      int8_t* EDGE_Q8_RESTRICT y) {
  size_t k = 0;
  for (int i0 = 0; i0 < P.dims[0]; ++i0)
    for (int i1 = 0; i1 < P.dims[1]; ++i1)
      for (int i2 = 0; i2 < P.dims[2]; ++i2) {
        const int8_t* pa = a + i0 * P.sa[0] + i1 * P.sa[1] + i2 * P.sa[2];
        const int8_t* pb = b + i0 * P.sb[0] + i1 * P.sb[1] + i2 * P.sb[2];
        for (int i3 = 0; i3 < P.dims[3]; ++i3, ++k)
          y[k] = binary_one<Op, P>(pa[i3 * P.sa[3]], pb[i3 * P.sb[3]]);
      }
}

// float -> int8 (reference_ops::AffineQuantize): round(x / scale) in double, ties away from
// zero, plus the zero point, saturated.  Double keeps it identical to TFLite on every target.
inline void quantize_f32_s8(const float* x, int8_t* y, size_t n, double scale, int32_t zp) {
  for (size_t i = 0; i < n; ++i) {
    const double v = std::round(static_cast<double>(x[i]) / scale);
    const double lo = -128.0 - zp, hi = 127.0 - zp;  // also keeps NaN / huge values in range
    const double c = v > lo ? (v < hi ? v : hi) : lo;
    y[i] = static_cast<int8_t>(static_cast<int32_t>(c) + zp);
  }
}

}  // namespace tfl
}  // namespace edge_sdk
