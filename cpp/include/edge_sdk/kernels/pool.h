// Max and average pooling over NCHW float32 planes, and global pooling.
#pragma once

#include "common.h"

namespace edge_sdk {

struct PoolParams {
  int planes;  // n * c
  int h_in, w_in, h_out, w_out;
  int k_h, k_w, stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
  bool count_include_pad;
  int pad_bottom, pad_right;  // for count_include_pad: window clipped to the padded extent
  Act act;
  float act_alpha, act_beta;
};

template <const PoolParams& P>
inline void max_pool_f32(const float* EDGE_RESTRICT in, float* EDGE_RESTRICT out) {
  for (int c = 0; c < P.planes; ++c) {
    const float* ip = in + static_cast<size_t>(c) * P.h_in * P.w_in;
    float* op = out + static_cast<size_t>(c) * P.h_out * P.w_out;
    for (int oh = 0; oh < P.h_out; ++oh) {
      for (int ow = 0; ow < P.w_out; ++ow) {
        float m = -INFINITY;
        for (int kh = 0; kh < P.k_h; ++kh) {
          const int ih = oh * P.stride_h - P.pad_top + kh * P.dil_h;
          if (ih < 0 || ih >= P.h_in) continue;
          for (int kw = 0; kw < P.k_w; ++kw) {
            const int iw = ow * P.stride_w - P.pad_left + kw * P.dil_w;
            if (iw < 0 || iw >= P.w_in) continue;
            const float v = ip[ih * P.w_in + iw];
            m = (v > m || v != v) ? v : m;
          }
        }
        op[oh * P.w_out + ow] = activate<P.act>(m, P.act_alpha, P.act_beta);
      }
    }
  }
}

template <const PoolParams& P>
inline void avg_pool_f32(const float* EDGE_RESTRICT in, float* EDGE_RESTRICT out) {
  for (int c = 0; c < P.planes; ++c) {
    const float* ip = in + static_cast<size_t>(c) * P.h_in * P.w_in;
    float* op = out + static_cast<size_t>(c) * P.h_out * P.w_out;
    for (int oh = 0; oh < P.h_out; ++oh) {
      for (int ow = 0; ow < P.w_out; ++ow) {
        float s = 0.0f;
        int count = 0, padded = 0;
        for (int kh = 0; kh < P.k_h; ++kh) {
          const int ih = oh * P.stride_h - P.pad_top + kh * P.dil_h;
          const bool row_in_pad = ih >= -P.pad_top && ih < P.h_in + P.pad_bottom;
          for (int kw = 0; kw < P.k_w; ++kw) {
            const int iw = ow * P.stride_w - P.pad_left + kw * P.dil_w;
            if (row_in_pad && iw >= -P.pad_left && iw < P.w_in + P.pad_right) ++padded;
            if (ih < 0 || ih >= P.h_in || iw < 0 || iw >= P.w_in) continue;
            s += ip[ih * P.w_in + iw];
            ++count;
          }
        }
        const int div = P.count_include_pad ? padded : count;
        op[oh * P.w_out + ow] = activate<P.act>(div ? s / static_cast<float>(div) : 0.0f, P.act_alpha, P.act_beta);
      }
    }
  }
}

// Global pooling: reduce each of `planes` contiguous planes of `size` floats.
template <bool Max>
inline void global_pool_f32(const float* EDGE_RESTRICT in, float* EDGE_RESTRICT out, int planes, int size) {
  for (int c = 0; c < planes; ++c) {
    const float* p = in + static_cast<size_t>(c) * size;
    if constexpr (Max) {
      float m = -INFINITY;
      for (int i = 0; i < size; ++i) m = p[i] > m ? p[i] : m;
      out[c] = m;
    } else {
      // 16 independent partial sums: the compiler keeps them in one vector register
      // (a single running sum is a serial dependency it may not reorder).
      constexpr int kLanes = 16;
      float part[kLanes] = {};
      int i = 0;
      for (; i + kLanes <= size; i += kLanes)
        for (int l = 0; l < kLanes; ++l) part[l] += p[i + l];
      float s = 0.0f;
      for (; i < size; ++i) s += p[i];
      for (int l = 0; l < kLanes; ++l) s += part[l];
      out[c] = s / static_cast<float>(size);
    }
  }
}

}  // namespace edge_sdk
