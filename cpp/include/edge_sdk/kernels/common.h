// Shared definitions for edge-sdk kernels: fused activations and small helpers.
// Header-only C++17; no heap, no exceptions, no RTTI, no I/O.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cmath>

#if defined(__GNUC__) || defined(__clang__)
#define EDGE_RESTRICT __restrict__
#define EDGE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define EDGE_RESTRICT
#define EDGE_ALWAYS_INLINE inline
#endif

namespace edge_sdk {

// Activation fused into a kernel's epilogue (see passes/fuse_activation.py).
enum class Act : int { None = 0, Relu, Clip, LeakyRelu, HardSigmoid, HardSwish, Sigmoid };

struct ActParams {
  Act kind;
  float alpha;  // Clip: min, LeakyRelu/HardSigmoid: alpha
  float beta;   // Clip: max, HardSigmoid: beta
};

template <Act K>
EDGE_ALWAYS_INLINE float activate(float v, float a, float b) {
  if constexpr (K == Act::None) {
    (void)a; (void)b;
    return v;
  } else if constexpr (K == Act::Relu) {
    (void)a; (void)b;
    return v > 0.0f ? v : 0.0f;
  } else if constexpr (K == Act::Clip) {
    return v < a ? a : (v > b ? b : v);
  } else if constexpr (K == Act::LeakyRelu) {
    (void)b;
    return v >= 0.0f ? v : v * a;
  } else if constexpr (K == Act::HardSigmoid) {
    const float y = a * v + b;
    return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
  } else if constexpr (K == Act::HardSwish) {
    (void)a; (void)b;
    const float y = v * (1.0f / 6.0f) + 0.5f;
    return v * (y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y));
  } else {
    (void)a; (void)b;
    return 1.0f / (1.0f + std::exp(-v));
  }
}

// Apply activation K to n floats in place.
template <Act K>
inline void activate_span(float* EDGE_RESTRICT x, size_t n, float a, float b) {
  if constexpr (K != Act::None) {
    for (size_t i = 0; i < n; ++i) x[i] = activate<K>(x[i], a, b);
  } else {
    (void)x; (void)n; (void)a; (void)b;
  }
}

}  // namespace edge_sdk
