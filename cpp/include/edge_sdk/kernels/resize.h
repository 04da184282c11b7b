// Resize / Upsample as separable passes, one per resized axis.  A pass views
// its input as [outer, in_len, inner] and writes [outer, out_len, inner]:
// y[o, j, i] = sum_t w[j, t] * x[o, idx[j, t], i].  The index and weight tables
// are computed at compile time (edge_sdk/ops/resize.py) for every coordinate
// transformation and interpolation mode, so the kernel is mode-agnostic.
#pragma once

#include "common.h"

namespace edge_sdk {

// extrapolate[j] != 0 (tf_crop_and_resize): output row j is `fill`.
inline void resize_axis_f32(const float* EDGE_RESTRICT x, float* EDGE_RESTRICT y, int64_t outer, int64_t in_len,
                            int64_t inner, int64_t out_len, int taps, const int32_t* EDGE_RESTRICT idx,
                            const float* EDGE_RESTRICT w, const uint8_t* EDGE_RESTRICT extrapolate, float fill) {
  for (int64_t o = 0; o < outer; ++o) {
    const float* xo = x + o * in_len * inner;
    for (int64_t j = 0; j < out_len; ++j) {
      float* dst = y + (o * out_len + j) * inner;
      if (extrapolate != nullptr && extrapolate[j]) {
        for (int64_t i = 0; i < inner; ++i) dst[i] = fill;
        continue;
      }
      for (int64_t i = 0; i < inner; ++i) dst[i] = 0.0f;
      for (int t = 0; t < taps; ++t) {
        const float wt = w[j * taps + t];
        const float* src = xo + static_cast<int64_t>(idx[j * taps + t]) * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += wt * src[i];
      }
    }
  }
}

// Nearest-neighbour pass: a copy, exact for every element type.
template <typename T>
inline void resize_axis_nearest(const T* EDGE_RESTRICT x, T* EDGE_RESTRICT y, int64_t outer, int64_t in_len,
                                int64_t inner, int64_t out_len, const int32_t* EDGE_RESTRICT idx,
                                const uint8_t* EDGE_RESTRICT extrapolate, T fill) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < out_len; ++j) {
      T* dst = y + (o * out_len + j) * inner;
      const T* src = x + (o * in_len + idx[j]) * inner;
      const bool ext = extrapolate != nullptr && extrapolate[j];
      for (int64_t i = 0; i < inner; ++i) dst[i] = ext ? fill : src[i];
    }
}

}  // namespace edge_sdk
