// 2-D convolution, float32, NCHW input/output, OIHW weights (ONNX layout).
//
// Portable direct kernel: for each output channel, the output plane is
// initialised with the bias and accumulated one (input channel, kernel tap)
// at a time along contiguous output rows, which compilers vectorise well.
// Padding is handled by clipping each tap's valid output column range, so the
// inner loop has no branches.
#pragma once

#include "common.h"

namespace edge_sdk {

struct ConvParams {
  int n, c_in, h_in, w_in;
  int c_out, h_out, w_out;
  int k_h, k_w;
  int stride_h, stride_w;
  int pad_top, pad_left;
  int dil_h, dil_w;
  int groups;
  Act act;
  float act_alpha, act_beta;
};

namespace detail {

// First and one-past-last output index o with 0 <= o*stride + tap - pad < in_len.
constexpr int valid_begin(int tap_off, int stride) {
  return tap_off >= 0 ? 0 : (-tap_off + stride - 1) / stride;
}
constexpr int valid_end(int tap_off, int stride, int in_len, int out_len) {
  const int last = in_len - 1 - tap_off;  // o*stride <= last
  if (last < 0) return 0;
  const int e = last / stride + 1;
  return e < out_len ? e : out_len;
}

}  // namespace detail

template <const ConvParams& P>
inline void conv2d_f32(const float* EDGE_RESTRICT in, const float* EDGE_RESTRICT w,
                       const float* EDGE_RESTRICT bias, float* EDGE_RESTRICT out) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int cout_g = P.c_out / P.groups;
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  for (int b = 0; b < P.n; ++b) {
    const float* in_b = in + static_cast<size_t>(b) * P.c_in * plane_in;
    float* out_b = out + static_cast<size_t>(b) * P.c_out * plane_out;
    for (int oc = 0; oc < P.c_out; ++oc) {
      const int g = oc / cout_g;
      float* o = out_b + static_cast<size_t>(oc) * plane_out;
      const float bv = bias ? bias[oc] : 0.0f;
      for (int i = 0; i < plane_out; ++i) o[i] = bv;
      for (int icg = 0; icg < cin_g; ++icg) {
        const float* ip = in_b + static_cast<size_t>(g * cin_g + icg) * plane_in;
        const float* wp = w + (static_cast<size_t>(oc) * cin_g + icg) * P.k_h * P.k_w;
        for (int kh = 0; kh < P.k_h; ++kh) {
          const int row_off = kh * P.dil_h - P.pad_top;
          const int oh0 = detail::valid_begin(row_off, P.stride_h);
          const int oh1 = detail::valid_end(row_off, P.stride_h, P.h_in, P.h_out);
          for (int kw = 0; kw < P.k_w; ++kw) {
            const float wv = wp[kh * P.k_w + kw];
            const int col_off = kw * P.dil_w - P.pad_left;
            const int ow0 = detail::valid_begin(col_off, P.stride_w);
            const int ow1 = detail::valid_end(col_off, P.stride_w, P.w_in, P.w_out);
            for (int oh = oh0; oh < oh1; ++oh) {
              const float* irow = ip + static_cast<size_t>(oh * P.stride_h + row_off) * P.w_in + col_off;
              float* orow = o + static_cast<size_t>(oh) * P.w_out;
              if constexpr (P.stride_w == 1) {
                for (int ow = ow0; ow < ow1; ++ow) orow[ow] += wv * irow[ow];
              } else {
                for (int ow = ow0; ow < ow1; ++ow) orow[ow] += wv * irow[ow * P.stride_w];
              }
            }
          }
        }
      }
      activate_span<P.act>(o, plane_out, P.act_alpha, P.act_beta);
    }
  }
}

}  // namespace edge_sdk
