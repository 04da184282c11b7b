// int8 SOFTMAX exactly as TFLite's reference kernel (reference/softmax.h, int8 in and out,
// output scale 1/256 and zero point -128): gemmlowp fixed point, exp of the difference to the
// row maximum in Q5.26, sum in Q12.19, reciprocal by Newton-Raphson.  input_multiplier,
// input_left_shift and diff_min come from TFLite's PreprocessSoftmaxScaling and
// CalculateInputRadius, evaluated at compile time (edge_sdk/ops/tfl_softmax.py).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "requant.h"

namespace edge_sdk {
namespace tfl {
namespace fx {  // gemmlowp fixed-point primitives on int32 raw values

using q8::rounding_divide_by_pot;
using q8::saturating_rounding_doubling_high_mul;

inline int32_t mul(int32_t a, int32_t b) { return saturating_rounding_doubling_high_mul(a, b); }

inline int32_t wrap_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
inline int32_t wrap_sub(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}

// SaturatingRoundingMultiplyByPOT<E>.
template <int E>
inline int32_t mul_by_pot(int32_t x) {
  if constexpr (E == 0) {
    return x;
  } else if constexpr (E > 0) {
    constexpr int32_t threshold = static_cast<int32_t>((int64_t{1} << (31 - E)) - 1);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return static_cast<int32_t>(static_cast<uint32_t>(x) << E);
  } else {
    return rounding_divide_by_pot(x, -E);
  }
}

inline int32_t rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = static_cast<int64_t>(a) + b;
  return static_cast<int32_t>((sum + (sum >= 0 ? 1 : -1)) / 2);
}

// exp(a) for a in [-1/4, 0), Q0.31 in and out.
inline int32_t exp_quarter(int32_t a) {
  const int32_t constant_term = 1895147668;     // exp(-1/8)
  const int32_t constant_1_over_3 = 715827883;  // 1/3
  const int32_t x = wrap_add(a, int32_t{1} << 28);
  const int32_t x2 = mul(x, x);
  const int32_t x3 = mul(x2, x);
  const int32_t x4 = mul(x2, x2);
  const int32_t x4_over_4 = mul_by_pot<-2>(x4);
  const int32_t poly = mul_by_pot<-1>(wrap_add(mul(wrap_add(x4_over_4, x3), constant_1_over_3), x2));
  return wrap_add(constant_term, mul(constant_term, wrap_add(x, poly)));
}

// exp(a) for a <= 0 given in Q(IntBits).(31-IntBits); result Q0.31.
template <int IntBits>
inline int32_t exp_on_negative_values(int32_t a) {
  constexpr int kFrac = 31 - IntBits;
  constexpr int32_t one_quarter = int32_t{1} << (kFrac - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = wrap_sub(a & mask, one_quarter);
  int32_t result = exp_quarter(mul_by_pot<IntBits>(a_mod_quarter_minus_one_quarter));
  const int32_t remainder = wrap_sub(a_mod_quarter_minus_one_quarter, a);
  constexpr int32_t kMultipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int e = -2; e <= 4; ++e) {
    if (IntBits > e && (remainder & (int32_t{1} << (kFrac + e)))) result = mul(result, kMultipliers[e + 2]);
  }
  if constexpr (IntBits > 5) {
    if (a < -(int32_t{1} << (36 - IntBits))) result = 0;
  }
  return a == 0 ? INT32_MAX : result;
}

// 1 / (1 + a) for a in [0, 1), Q0.31 in and out.
inline int32_t one_over_one_plus_x(int32_t a) {
  const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
  const int32_t c48_17 = 1515870810, cneg32_17 = -1010580540;  // Q2.29
  int32_t x = wrap_add(c48_17, mul(half_denominator, cneg32_17));
  const int32_t one_q2 = int32_t{1} << 29;
  for (int i = 0; i < 3; ++i) {
    const int32_t hdx = mul(half_denominator, x);
    const int32_t one_minus = wrap_sub(one_q2, hdx);
    x = wrap_add(x, mul_by_pot<2>(mul(x, one_minus)));
  }
  return mul_by_pot<1>(x);  // Rescale<0>(ExactMulByPot<-1>(x)): Q2.29 / 2 -> Q0.31
}

inline int count_leading_zeros(uint32_t v) {
  int n = 0;
  if (v == 0) return 32;
  while (!(v & 0x80000000u)) { v <<= 1; ++n; }
  return n;
}

}  // namespace fx

struct SoftmaxParams {
  int rows, depth;
  int32_t input_multiplier;
  int input_left_shift;
  int diff_min;
};

template <const SoftmaxParams& P>
inline void softmax_s8(const int8_t* EDGE_Q8_RESTRICT in, int8_t* EDGE_Q8_RESTRICT out) {
  constexpr int kScaledDiffIntegerBits = 5;
  constexpr int kAccumulationIntegerBits = 12;
  for (int r = 0; r < P.rows; ++r) {
    const int8_t* x = in + static_cast<size_t>(r) * P.depth;
    int8_t* y = out + static_cast<size_t>(r) * P.depth;
    int32_t max_in_row = -128;
    for (int c = 0; c < P.depth; ++c) max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
    int32_t sum_of_exps = 0;  // Q12.19
    for (int c = 0; c < P.depth; ++c) {
      const int32_t diff = static_cast<int32_t>(x[c]) - max_in_row;
      if (diff >= P.diff_min) {
        const int32_t scaled = q8::saturating_rounding_doubling_high_mul(diff * (1 << P.input_left_shift),
                                                                           P.input_multiplier);
        const int32_t e = fx::exp_on_negative_values<kScaledDiffIntegerBits>(scaled);
        sum_of_exps = fx::wrap_add(sum_of_exps, fx::mul_by_pot<-kAccumulationIntegerBits>(e));
      }
    }
    // GetReciprocal(sum, kAccumulationIntegerBits)
    const int headroom_plus_one = fx::count_leading_zeros(static_cast<uint32_t>(sum_of_exps));
    const int num_bits_over_unit = kAccumulationIntegerBits - headroom_plus_one;
    const int32_t shifted_sum_minus_one = static_cast<int32_t>(
        (static_cast<uint32_t>(sum_of_exps) << headroom_plus_one) - (static_cast<uint32_t>(1) << 31));
    const int32_t shifted_scale = fx::one_over_one_plus_x(shifted_sum_minus_one);
    const int exponent = num_bits_over_unit + 31 - 8;
    for (int c = 0; c < P.depth; ++c) {
      const int32_t diff = static_cast<int32_t>(x[c]) - max_in_row;
      if (diff >= P.diff_min) {
        const int32_t scaled = q8::saturating_rounding_doubling_high_mul(diff * (1 << P.input_left_shift),
                                                                           P.input_multiplier);
        const int32_t e = fx::exp_on_negative_values<kScaledDiffIntegerBits>(scaled);
        const int32_t unsat = fx::rounding_divide_by_pot(fx::mul(shifted_scale, e), exponent);
        y[c] = q8::clamp_i8(unsat - 128, -128, 127);
      } else {
        y[c] = -128;
      }
    }
  }
}

}  // namespace tfl
}  // namespace edge_sdk
