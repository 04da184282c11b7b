// Per-channel normalisation of NCHW float32 tensors.
#pragma once

#include "common.h"

namespace edge_sdk {

// y[n][c][i] = x[n][c][i] * scale[c] + shift[c]  (inference BatchNormalization; y may be x).
inline void channel_affine_f32(const float* x, float* y, const float* EDGE_RESTRICT scale,
                               const float* EDGE_RESTRICT shift, int n, int c, int plane) {
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch) {
      const float s = scale[ch], t = shift[ch];
      const size_t base = (static_cast<size_t>(b) * c + ch) * plane;
      for (int i = 0; i < plane; ++i) y[base + i] = x[base + i] * s + t;
    }
}

// InstanceNormalization: each of the n*c planes normalised by its own mean and
// variance, then scaled and shifted per channel.  Two passes, float accumulation
// in double for the statistics (planes can be large).
inline void instance_norm_f32(const float* x, float* y, const float* EDGE_RESTRICT scale,
                              const float* EDGE_RESTRICT shift, int n, int c, int64_t plane, float eps) {
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch) {
      const size_t base = (static_cast<size_t>(b) * c + ch) * plane;
      double sum = 0.0, sq = 0.0;
      for (int64_t i = 0; i < plane; ++i) sum += x[base + i];
      const double mean = plane ? sum / static_cast<double>(plane) : 0.0;
      for (int64_t i = 0; i < plane; ++i) {
        const double d = x[base + i] - mean;
        sq += d * d;
      }
      const double var = plane ? sq / static_cast<double>(plane) : 0.0;
      const float s = static_cast<float>(scale[ch] / std::sqrt(var + static_cast<double>(eps)));
      const float t = static_cast<float>(shift[ch] - mean * s);
      for (int64_t i = 0; i < plane; ++i) y[base + i] = x[base + i] * s + t;
    }
}

// LRN across channels: y = x / (bias + alpha / size * sum of x^2 over the
// channel window [c - (size-1)/2, c + ceil((size-1)/2)]) ^ beta.
inline void lrn_f32(const float* EDGE_RESTRICT x, float* EDGE_RESTRICT y, int n, int c, int64_t plane, int size,
                    float alpha, float beta, float bias) {
  const int lo = (size - 1) / 2, hi = size - 1 - lo;
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch) {
      const int c0 = ch - lo < 0 ? 0 : ch - lo, c1 = ch + hi >= c ? c - 1 : ch + hi;
      const size_t base = (static_cast<size_t>(b) * c + ch) * plane;
      for (int64_t i = 0; i < plane; ++i) {
        float sq = 0.0f;
        for (int k = c0; k <= c1; ++k) {
          const float v = x[(static_cast<size_t>(b) * c + k) * plane + i];
          sq += v * v;
        }
        y[base + i] = x[base + i] / std::pow(bias + alpha / static_cast<float>(size) * sq, beta);
      }
    }
}

// LayerNormalization (Rms = false) and RMSNormalization (Rms = true) over `rows`
// rows of n contiguous floats; scale (and bias, may be null) hold one value per
// row element.  mean_out / inv_std_out (may be null) receive one value per row.
template <bool Rms>
inline void row_norm_f32(const float* x, float* y, const float* EDGE_RESTRICT scale, const float* EDGE_RESTRICT bias,
                         int64_t rows, int64_t n, float eps, float* EDGE_RESTRICT mean_out,
                         float* EDGE_RESTRICT inv_std_out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum = 0.0, sq = 0.0;
    if constexpr (!Rms) {
      for (int64_t i = 0; i < n; ++i) sum += xr[i];
    }
    const double mean = Rms ? 0.0 : sum / static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) {
      const double d = xr[i] - mean;
      sq += d * d;
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(n) + static_cast<double>(eps)));
    const float m = static_cast<float>(mean);
    if (mean_out != nullptr) mean_out[r] = m;
    if (inv_std_out != nullptr) inv_std_out[r] = inv;
    for (int64_t i = 0; i < n; ++i) {
      const float v = (xr[i] - m) * inv * scale[i];
      yr[i] = bias != nullptr ? v + bias[i] : v;
    }
  }
}

// GroupNormalization: channels split into `groups` groups, each normalised over
// its channels and spatial positions, then scaled and shifted per channel.
inline void group_norm_f32(const float* x, float* y, const float* EDGE_RESTRICT scale,
                           const float* EDGE_RESTRICT bias, int n, int c, int groups, int64_t plane, float eps) {
  const int cg = c / groups;
  const int64_t len = static_cast<int64_t>(cg) * plane;
  for (int b = 0; b < n; ++b)
    for (int g = 0; g < groups; ++g) {
      const size_t base = (static_cast<size_t>(b) * c + static_cast<size_t>(g) * cg) * plane;
      double sum = 0.0, sq = 0.0;
      for (int64_t i = 0; i < len; ++i) sum += x[base + i];
      const double mean = sum / static_cast<double>(len);
      for (int64_t i = 0; i < len; ++i) {
        const double d = x[base + i] - mean;
        sq += d * d;
      }
      const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(len) + static_cast<double>(eps)));
      for (int k = 0; k < cg; ++k) {
        const int ch = g * cg + k;
        const float s = scale[ch] * inv, t = bias[ch] - static_cast<float>(mean) * s;
        const size_t off = base + static_cast<size_t>(k) * plane;
        for (int64_t i = 0; i < plane; ++i) y[off + i] = x[off + i] * s + t;
      }
    }
}

// LpNormalization (P = 1 or 2) along an axis of n elements, `inner` apart; a zero norm gives 0.
template <int P>
inline void lp_norm_f32(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * n * inner + i;
      float s = 0.0f;
      for (int64_t k = 0; k < n; ++k) {
        const float v = x[base + k * inner];
        s += P == 1 ? std::fabs(v) : v * v;
      }
      const float norm = P == 1 ? s : std::sqrt(s);
      for (int64_t k = 0; k < n; ++k) y[base + k * inner] = norm == 0.0f ? 0.0f : x[base + k * inner] / norm;
    }
}

}  // namespace edge_sdk
