// int8 requantization: the ONE rounding definition every int8 kernel uses.
//
// A real multiplier M (e.g. s_in * s_w / s_out) is stored as a Q31 fixed-point
// `multiplier` in [2^30, 2^31) and a power-of-two `shift` (M = multiplier * 2^(shift-31)),
// computed at compile time by edge_sdk/quantize/fixedpoint.py.  Applying it is
// integer-only and bit-identical to TFLite / gemmlowp:
//   SaturatingRoundingDoublingHighMul (round half away from zero), then
//   RoundingDivideByPOT (round half away from zero).
// Header-only C++17; no heap, exceptions, RTTI or I/O.  constexpr, so that compile-time
// tables (qconv_pool.h's per-channel lookup) use the very same rule.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cmath>

// GCC 12's AVX-512 headers build results from a self-initialised _mm512_undefined_epi32(), which
// -Wmaybe-uninitialized reports at every inlined call site (GCC bug 105593).  Each x86 kernel
// header puts its code between these two.
#if defined(__GNUC__) && !defined(__clang__)
#define EDGE_Q8_AVX512_WARNINGS_OFF                                \
  _Pragma("GCC diagnostic push")                                   \
  _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")      \
  _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define EDGE_Q8_AVX512_WARNINGS_ON _Pragma("GCC diagnostic pop")
#else
#define EDGE_Q8_AVX512_WARNINGS_OFF
#define EDGE_Q8_AVX512_WARNINGS_ON
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EDGE_Q8_RESTRICT __restrict__
#define EDGE_Q8_INLINE inline __attribute__((always_inline))
#else
#define EDGE_Q8_RESTRICT
#define EDGE_Q8_INLINE inline
#endif

namespace edge_sdk {
namespace q8 {

// (a * b * 2) >> 32 rounded to nearest (ties away from zero); INT32_MIN*INT32_MIN saturates.
constexpr int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : (1 - (int64_t{1} << 30));
  return static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
}

// x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31).
constexpr int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// x * M for M = multiplier * 2^(shift - 31), as TFLite's MultiplyByQuantizedMultiplier.
constexpr int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const int32_t shifted = static_cast<int32_t>(static_cast<uint32_t>(x) << left);
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right);
}

constexpr int8_t clamp_i8(int32_t v, int32_t lo, int32_t hi) {
  return static_cast<int8_t>(v < lo ? lo : (v > hi ? hi : v));
}

// int32 accumulator -> int8 output: requantize, add the output zero point, clamp to the
// fused activation's range [lo, hi] (itself within [-128, 127]).  The zero point's addition wraps
// as the vector forms' does: only the saturated INT32_MIN * INT32_MIN product (a multiplier no
// model has) can reach INT32_MAX, where a plain int addition would be undefined.
constexpr int8_t requantize(int32_t acc, int32_t multiplier, int shift, int32_t zp_out, int32_t lo, int32_t hi) {
  const uint32_t sum = static_cast<uint32_t>(multiply_by_quantized_multiplier(acc, multiplier, shift)) +
                       static_cast<uint32_t>(zp_out);
  return clamp_i8(static_cast<int32_t>(sum), lo, hi);
}

// The float boundary (only where the user asked for float I/O or around an fp32 fallback op).
// ONNX QuantizeLinear: saturate(round_half_to_even(x / scale) + zero_point).
// T is int8_t (everything edge-sdk generates) or uint8_t (ONNX models that ask for it).
template <typename T>
inline void quantize_f32(const float* x, T* y, size_t n, float scale, int32_t zp) {
  constexpr float lo = static_cast<T>(-1) < 0 ? -128.0f : 0.0f;
  constexpr float hi = static_cast<T>(-1) < 0 ? 127.0f : 255.0f;
  for (size_t i = 0; i < n; ++i) {
    float v = std::nearbyint(x[i] / scale) + static_cast<float>(zp);
    if (!(v == v)) v = static_cast<float>(zp);  // NaN: no defined integer, use real 0
    v = v < lo ? lo : (v > hi ? hi : v);
    y[i] = static_cast<T>(v);
  }
}

// ONNX DequantizeLinear: (q - zero_point) * scale.
template <typename T>
inline void dequantize_to_f32(const T* x, float* y, size_t n, float scale, int32_t zp) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(static_cast<int32_t>(x[i]) - zp) * scale;
}

}  // namespace q8
}  // namespace edge_sdk
