// ConvTranspose (1-D and 2-D), float32, NCHW input/output, weights [C_in][C_out/group][kH][kW].
//
// Portable scatter form: every input pixel adds w * x to the output pixels its
// kernel covers.  Loops run per (output channel, input channel, tap) over input
// rows, with each tap's valid input column range computed once, so the inner
// loop has no branches.
#pragma once

#include "common.h"
#include "conv.h"

namespace edge_sdk {

struct ConvTransposeParams {
  int n, c_in, h_in, w_in;
  int c_out, h_out, w_out;
  int k_h, k_w;
  int stride_h, stride_w;
  int pad_top, pad_left;
  int dil_h, dil_w;
  int groups;
};

// Input indices i in [begin, end) with 0 <= i*stride + off < out_len: the same clipping as a
// convolution's taps (conv.h detail::valid_begin/valid_end) with input and output swapped.

template <const ConvTransposeParams& P>
inline void conv_transpose2d_f32(const float* EDGE_RESTRICT in, const float* EDGE_RESTRICT w,
                                 const float* EDGE_RESTRICT bias, float* EDGE_RESTRICT out) {
  constexpr int cin_g = P.c_in / P.groups, cout_g = P.c_out / P.groups;
  constexpr int plane_in = P.h_in * P.w_in, plane_out = P.h_out * P.w_out;
  for (int b = 0; b < P.n; ++b) {
    for (int oc = 0; oc < P.c_out; ++oc) {
      const int g = oc / cout_g, ocg = oc % cout_g;
      float* o = out + (static_cast<size_t>(b) * P.c_out + oc) * plane_out;
      const float bv = bias ? bias[oc] : 0.0f;
      for (int i = 0; i < plane_out; ++i) o[i] = bv;
      for (int icg = 0; icg < cin_g; ++icg) {
        const int ic = g * cin_g + icg;
        const float* ip = in + (static_cast<size_t>(b) * P.c_in + ic) * plane_in;
        const float* wp = w + (static_cast<size_t>(ic) * cout_g + ocg) * P.k_h * P.k_w;
        for (int kh = 0; kh < P.k_h; ++kh) {
          const int row_off = kh * P.dil_h - P.pad_top;  // oh = ih * stride_h + row_off
          const int ih0 = detail::valid_begin(row_off, P.stride_h);
          const int ih1 = detail::valid_end(row_off, P.stride_h, P.h_out, P.h_in);
          for (int kw = 0; kw < P.k_w; ++kw) {
            const float wv = wp[kh * P.k_w + kw];
            const int col_off = kw * P.dil_w - P.pad_left;
            const int iw0 = detail::valid_begin(col_off, P.stride_w);
            const int iw1 = detail::valid_end(col_off, P.stride_w, P.w_out, P.w_in);
            for (int ih = ih0; ih < ih1; ++ih) {
              const float* irow = ip + static_cast<size_t>(ih) * P.w_in;
              float* orow = o + static_cast<size_t>(ih * P.stride_h + row_off) * P.w_out + col_off;
              for (int iw = iw0; iw < iw1; ++iw) orow[iw * P.stride_w] += wv * irow[iw];
            }
          }
        }
      }
    }
  }
}

}  // namespace edge_sdk
