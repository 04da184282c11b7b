// Softmax, LogSoftmax and Hardmax along one axis of a float32 tensor viewed as
// [outer, n, inner] (the axis has n elements, `inner` apart).  Safe in place:
// every pass reads an element before the pass that overwrites it.
#pragma once

#include "common.h"

namespace edge_sdk {

enum class SoftmaxKind : int { Softmax = 0, LogSoftmax, Hardmax };

template <SoftmaxKind K>
inline void softmax_f32(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * n * inner + i;
      int64_t arg = 0;
      float m = x[base];
      for (int64_t k = 1; k < n; ++k) {
        const float v = x[base + k * inner];
        if (v > m) { m = v; arg = k; }
      }
      if constexpr (K == SoftmaxKind::Hardmax) {
        for (int64_t k = 0; k < n; ++k) y[base + k * inner] = k == arg ? 1.0f : 0.0f;
      } else if constexpr (K == SoftmaxKind::Softmax) {
        float s = 0.0f;
        for (int64_t k = 0; k < n; ++k) {
          const float e = std::exp(x[base + k * inner] - m);
          y[base + k * inner] = e;
          s += e;
        }
        const float r = 1.0f / s;
        for (int64_t k = 0; k < n; ++k) y[base + k * inner] *= r;
      } else {
        float s = 0.0f;
        for (int64_t k = 0; k < n; ++k) s += std::exp(x[base + k * inner] - m);
        const float shift = m + std::log(s);
        for (int64_t k = 0; k < n; ++k) y[base + k * inner] = x[base + k * inner] - shift;
      }
    }
  }
}

}  // namespace edge_sdk
