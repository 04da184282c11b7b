// Per-channel normalisation of NCHW float32 tensors.
#pragma once

#include "common.h"

namespace edge_sdk {

// y[n][c][i] = x[n][c][i] * scale[c] + shift[c]  (inference BatchNormalization).
inline void channel_affine_f32(const float* EDGE_RESTRICT x, float* y, const float* EDGE_RESTRICT scale,
                               const float* EDGE_RESTRICT shift, int n, int c, int plane) {
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch) {
      const float s = scale[ch], t = shift[ch];
      const size_t base = (static_cast<size_t>(b) * c + ch) * plane;
      for (int i = 0; i < plane; ++i) y[base + i] = x[base + i] * s + t;
    }
}

}  // namespace edge_sdk
