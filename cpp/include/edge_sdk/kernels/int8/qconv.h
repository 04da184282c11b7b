// int8 convolution and fully-connected layers (TFLite int8 scheme), NCHW / OIHW.
//
// x: int8 asymmetric per tensor (zero point zp_in), w: int8 symmetric per output
// channel, bias: int32 with scale s_in * s_w[oc].  Each output is
//   requantize(bias[oc] + sum (x - zp_in) * w, mult[oc], shift[oc]) + zp_out, clamped.
// The inner loops are integer-only.  This is the portable reference kernel; a SIMD
// path must be bit-exact with it (same accumulators, same requant.h rounding).
#pragma once

#include "requant.h"
#include "requant_x86.h"
#include "qfc_prefetch.h"

namespace edge_sdk {
namespace q8 {

struct QConvParams {
  int n, c_in, h_in, w_in;
  int c_out, h_out, w_out;
  int k_h, k_w;
  int stride_h, stride_w;
  int pad_top, pad_left;
  int dil_h, dil_w;
  int groups;
  int zp_in, zp_out;
  int act_min, act_max;  // fused activation as the clamp range
  // Every channel's shift is in [-23, -1], the x86 epilogues' short requantization
  // (requant_x86.h, requant_const); false (the default) keeps a per-channel test.
  bool short_requant;
  // The generated code laid w_quads out for qconv_x86_quad.h (quant_ops.py, quad_weights), which
  // then runs the conv (a fused conv's bands too: qconv_pool.h's direct pooled kernel stands back).
  bool channel_quads;
  // With channel_quads: the conv runs qconv_x86_cout.h (output channels in the lanes: small planes
  // and strided layers) instead of qconv_x86_quad.h.
  bool cout_lanes;
};

// A MaxPool the compiler fused into the conv before it (passes/fuse_qconv_epilogue.py, lane_pool):
// conv2d_s8_max_pool in qops.h.
struct QPoolWindow {
  int k_h, k_w, stride_h, stride_w;
  int pad_top, pad_left;  // windows start this far before the conv output (and read nothing there)
  int h_out, w_out;       // the pooled output
};

// A 1x1 conv whose output pixels are its input pixels (a GEMM over channels).
template <const QConvParams& P>
constexpr bool pointwise() {
  return P.k_h == 1 && P.k_w == 1 && P.stride_h == 1 && P.stride_w == 1 && P.pad_top == 0 && P.pad_left == 0 &&
         P.h_out == P.h_in && P.w_out == P.w_in;
}

// First and one-past-last output index o with 0 <= o*stride + tap_off < in_len.
constexpr int tap_begin(int tap_off, int stride) { return tap_off >= 0 ? 0 : (-tap_off + stride - 1) / stride; }
constexpr int tap_end(int tap_off, int stride, int in_len, int out_len) {
  return in_len - 1 - tap_off < 0 ? 0
         : ((in_len - 1 - tap_off) / stride + 1 < out_len ? (in_len - 1 - tap_off) / stride + 1 : out_len);
}

}  // namespace q8
}  // namespace edge_sdk

#include "qconv_x86.h"  // AVX-512 VNNI path (compiled only where the target has it)
#include "qconv_x86_direct.h"  // AVX-512 VNNI direct path for narrow layers (needs VBMI too)
#include "qconv_x86_quad.h"  // AVX-512 VNNI direct path over input-channel quads (wide stride-1 layers)
#include "qconv_x86_cout.h"  // AVX-512 VNNI direct path, output channels in the lanes (small planes, strides)
#include "qconv_x86_dw.h"  // AVX-512 VNNI depthwise path (needs VBMI too)
#include "qfc_x86.h"      // AVX-512 VNNI fully connected (GEMV) path
#include "qfc_avx2.h"     // AVX2 fully connected (GEMV) path for x86 without VNNI
#include "qconv_avx2.h"  // AVX2 path for x86 without VNNI (int16 multiply-adds, exact)
#include "qconv_avx2_direct.h"  // AVX2 direct path for narrow layers with a spatial kernel
#include "qconv_avx2_dw.h"  // AVX2 depthwise path
#include "qconv_neon.h"  // ARM NEON / SDOT path (AArch64, ARMv7 NEON)
#include "qconv_dsp.h"   // Cortex-M DSP SMLAD path (M4/M7/M33 without NEON)

namespace edge_sdk {
namespace q8 {

// The reference kernel (direct convolution).  acc: scratch of h_out * w_out int32 (one output plane).  Padding taps are skipped,
// which equals padding with the input zero point (real 0).
template <const QConvParams& P>
inline void conv2d_s8_reference(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* EDGE_Q8_RESTRICT w,
                      const int32_t* EDGE_Q8_RESTRICT bias, const int32_t* mult, const int32_t* shift,
                      int8_t* EDGE_Q8_RESTRICT out, int32_t* EDGE_Q8_RESTRICT acc) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int cout_g = P.c_out / P.groups;
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * plane_in;
    int8_t* out_b = out + static_cast<size_t>(b) * P.c_out * plane_out;
    for (int oc = 0; oc < P.c_out; ++oc) {
      const int g = oc / cout_g;
      const int32_t bv = bias ? bias[oc] : 0;
      for (int i = 0; i < plane_out; ++i) acc[i] = bv;
      for (int icg = 0; icg < cin_g; ++icg) {
        const int8_t* ip = in_b + static_cast<size_t>(g * cin_g + icg) * plane_in;
        const int8_t* wp = w + (static_cast<size_t>(oc) * cin_g + icg) * P.k_h * P.k_w;
        for (int kh = 0; kh < P.k_h; ++kh) {
          const int row_off = kh * P.dil_h - P.pad_top;
          const int oh0 = tap_begin(row_off, P.stride_h);
          const int oh1 = tap_end(row_off, P.stride_h, P.h_in, P.h_out);
          for (int kw = 0; kw < P.k_w; ++kw) {
            const int32_t wv = wp[kh * P.k_w + kw];
            if (wv == 0) continue;
            const int col_off = kw * P.dil_w - P.pad_left;
            const int ow0 = tap_begin(col_off, P.stride_w);
            const int ow1 = tap_end(col_off, P.stride_w, P.w_in, P.w_out);
            for (int oh = oh0; oh < oh1; ++oh) {
              const int8_t* irow = ip + static_cast<ptrdiff_t>(oh * P.stride_h + row_off) * P.w_in + col_off;
              int32_t* arow = acc + static_cast<size_t>(oh) * P.w_out;
              for (int ow = ow0; ow < ow1; ++ow)
                arow[ow] += wv * (static_cast<int32_t>(irow[ow * P.stride_w]) - P.zp_in);
            }
          }
        }
      }
      int8_t* o = out_b + static_cast<size_t>(oc) * plane_out;
      const int32_t m = mult[oc];
      const int s = shift[oc];
      for (int i = 0; i < plane_out; ++i) o[i] = requantize(acc[i], m, s, P.zp_out, P.act_min, P.act_max);
    }
  }
}

// Fast path: one output row at a time for all output channels of a group.  Each input row
// is widened once to int16 (x - zp_in, zeros in the padding) and then reused by every kernel
// column and output channel, with the row accumulators (cout_g * w_out int32) staying in L1.
// It adds exactly the same integer products as the reference kernel, so results are
// bit-identical (integer addition is exact in any order; no overflow for K*255*127 < 2^31).
template <const QConvParams& P>
constexpr int row_span() { return (P.w_out - 1) * P.stride_w + (P.k_w - 1) * P.dil_w + 1; }

template <const QConvParams& P>
constexpr size_t rows_scratch_bytes() {
  return static_cast<size_t>(P.c_out / P.groups) * P.w_out * 4 + static_cast<size_t>(row_span<P>()) * 2;
}

template <const QConvParams& P>
inline void conv2d_s8_rows(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* EDGE_Q8_RESTRICT w,
                           const int32_t* EDGE_Q8_RESTRICT bias, const int32_t* mult, const int32_t* shift,
                           int8_t* EDGE_Q8_RESTRICT out, void* scratch) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int cout_g = P.c_out / P.groups;
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  constexpr int span = row_span<P>();
  // Valid input columns of the span: [left, left + mid).
  constexpr int left = P.pad_left < span ? P.pad_left : span;
  constexpr int mid0 = P.w_in < span - left ? P.w_in : span - left;
  constexpr int mid = mid0 > 0 ? mid0 : 0;
  int32_t* EDGE_Q8_RESTRICT acc = static_cast<int32_t*>(scratch);
  int16_t* EDGE_Q8_RESTRICT xr = reinterpret_cast<int16_t*>(acc + static_cast<size_t>(cout_g) * P.w_out);
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * plane_in;
    int8_t* out_b = out + static_cast<size_t>(b) * P.c_out * plane_out;
    for (int g = 0; g < P.groups; ++g) {
      for (int oh = 0; oh < P.h_out; ++oh) {
        for (int ocg = 0; ocg < cout_g; ++ocg) {
          const int32_t bv = bias ? bias[g * cout_g + ocg] : 0;
          for (int ow = 0; ow < P.w_out; ++ow) acc[ocg * P.w_out + ow] = bv;
        }
        for (int icg = 0; icg < cin_g; ++icg) {
          const int8_t* ip = in_b + static_cast<size_t>(g * cin_g + icg) * plane_in;
          for (int kh = 0; kh < P.k_h; ++kh) {
            const int ih = oh * P.stride_h - P.pad_top + kh * P.dil_h;
            if (ih < 0 || ih >= P.h_in) continue;  // a padding row adds zeros
            const int8_t* row = ip + static_cast<size_t>(ih) * P.w_in;
            for (int j = 0; j < left; ++j) xr[j] = 0;
            for (int j = 0; j < mid; ++j) xr[left + j] = static_cast<int16_t>(row[j] - P.zp_in);
            for (int j = left + mid; j < span; ++j) xr[j] = 0;
            for (int ocg = 0; ocg < cout_g; ++ocg) {
              const int oc = g * cout_g + ocg;
              const int8_t* wk = w + ((static_cast<size_t>(oc) * cin_g + icg) * P.k_h + kh) * P.k_w;
              int32_t wv[P.k_w];
              for (int kw = 0; kw < P.k_w; ++kw) wv[kw] = wk[kw];
              int32_t* a = acc + ocg * P.w_out;
              // All kernel columns at once: each accumulator is loaded and stored once per row tap.
              for (int ow = 0; ow < P.w_out; ++ow) {
                int32_t sum = 0;
                for (int kw = 0; kw < P.k_w; ++kw)
                  sum += wv[kw] * static_cast<int32_t>(xr[ow * P.stride_w + kw * P.dil_w]);
                a[ow] += sum;
              }
            }
          }
        }
        for (int ocg = 0; ocg < cout_g; ++ocg) {
          const int oc = g * cout_g + ocg;
          const int32_t m = mult[oc];
          const int s = shift[oc];
          int8_t* orow = out_b + static_cast<size_t>(oc) * plane_out + static_cast<size_t>(oh) * P.w_out;
          requantize_span(acc + ocg * P.w_out, P.w_out, m, s, P.zp_out, P.act_min, P.act_max, orow);
        }
      }
    }
  }
}

// Patch length of one output pixel within a group.
template <const QConvParams& P>
constexpr int patch_len() { return P.c_in / P.groups * P.k_h * P.k_w; }

// int8 dot product; compilers turn it into pmaddwd / sdot-style multiply-adds.
EDGE_Q8_INLINE int32_t dot_s8(const int8_t* EDGE_Q8_RESTRICT a, const int8_t* EDGE_Q8_RESTRICT b, int n) {
  int32_t acc = 0;
  for (int i = 0; i < n; ++i) acc += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return acc;
}

// Fast path for many channels: the patches of one output row are gathered (im2col) into
// `patches` (w_out * patch_len int8, padding filled with zp_in) and each output is one int8
// dot product.  sum w*(x - zp_in) = sum w*x - zp_in*sum w, so the caller passes
// bias_folded = bias - zp_in*sum(w): the integer sums equal the reference kernel's exactly.
template <const QConvParams& P>
inline void conv2d_s8_im2col(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* EDGE_Q8_RESTRICT w,
                             const int32_t* EDGE_Q8_RESTRICT bias_folded, const int32_t* mult, const int32_t* shift,
                             int8_t* EDGE_Q8_RESTRICT out, int8_t* EDGE_Q8_RESTRICT patches) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int cout_g = P.c_out / P.groups;
  constexpr int K = patch_len<P>();
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * plane_in;
    int8_t* out_b = out + static_cast<size_t>(b) * P.c_out * plane_out;
    for (int g = 0; g < P.groups; ++g) {
      for (int oh = 0; oh < P.h_out; ++oh) {
        for (int ow = 0; ow < P.w_out; ++ow) {
          int8_t* pp = patches + static_cast<size_t>(ow) * K;
          for (int ic = 0; ic < cin_g; ++ic) {
            const int8_t* ip = in_b + static_cast<size_t>(g * cin_g + ic) * plane_in;
            for (int kh = 0; kh < P.k_h; ++kh) {
              const int ih = oh * P.stride_h - P.pad_top + kh * P.dil_h;
              const bool row_in = ih >= 0 && ih < P.h_in;
              for (int kw = 0; kw < P.k_w; ++kw) {
                const int iw = ow * P.stride_w - P.pad_left + kw * P.dil_w;
                *pp++ = row_in && iw >= 0 && iw < P.w_in ? ip[ih * P.w_in + iw] : static_cast<int8_t>(P.zp_in);
              }
            }
          }
        }
        for (int ocg = 0; ocg < cout_g; ++ocg) {
          const int oc = g * cout_g + ocg;
          const int8_t* wr = w + static_cast<size_t>(oc) * K;
          const int32_t bv = bias_folded[oc], m = mult[oc];
          const int s = shift[oc];
          int8_t* orow = out_b + static_cast<size_t>(oc) * plane_out + static_cast<size_t>(oh) * P.w_out;
          for (int ow = 0; ow < P.w_out; ++ow)
            orow[ow] = requantize(bv + dot_s8(patches + static_cast<size_t>(ow) * K, wr, K), m, s, P.zp_out,
                                  P.act_min, P.act_max);
        }
      }
    }
  }
}

// Many output channels per group amortise the gather: im2col; few (Meso-style nets,
// depthwise): the row kernel.  Both are bit-identical to conv2d_s8_reference.
template <const QConvParams& P>
constexpr bool use_im2col() { return P.c_out / P.groups >= 32 && patch_len<P>() >= 32; }

// The x86 VNNI kernel gathers every patch byte once per pixel (scalar) and then runs 64
// multiply-adds per instruction, so it wins where the gather is amortised over many output
// channels, or where the row kernel's vectors over w_out would be mostly empty (narrow
// planes).  Depthwise convs (one input channel per group) stay on the row kernel.
template <const QConvParams& P>
constexpr bool use_vnni() {
  return (P.c_out / P.groups >= 32 || (P.c_out / P.groups >= 8 && P.w_out < 16) ||
          (P.c_out / P.groups >= 4 && pointwise<P>())) &&
         P.c_in / P.groups > 1 && patch_len<P>() >= 8;
}

// AVX2 without VNNI: the same gather as the VNNI kernel, 16 multiply-adds per instruction.  It
// beats the (auto-vectorised) row kernel wherever a gathered patch serves at least 4 output
// channels; depthwise convs stay on the row kernel.
template <const QConvParams& P>
constexpr bool use_avx2() {
  return P.c_out / P.groups >= 4 && P.c_in / P.groups > 1 && patch_len<P>() >= 8;
}

// bias: the reference's; bias_folded = bias - zp_in*sum(w) (im2col path);
// bias_u8 = bias - (zp_in + 128)*sum(w) (VNNI path, unsigned activations);
// w_pairs: the weights as int16 pairs for the AVX2 path this geometry takes (input-channel
// pairs for qconv_avx2_direct.h, tap pairs for qconv_avx2.h), null where the generated code has
// none (then no AVX2 path is taken).
// kSimd = false (EDGE_SDK_KERNELS=portable at compile time) keeps the portable kernels.
template <const QConvParams& P, bool kSimd = true>
inline void conv2d_s8(const int8_t* in, const int8_t* w, const int32_t* w_pairs, const int32_t* w_quads,
                      const int32_t* bias,
                      const int32_t* bias_folded, const int32_t* bias_u8, const int32_t* mult, const int32_t* shift,
                      int8_t* out, void* scratch) {
#if defined(EDGE_Q8_HAVE_VNNI_DW)
  if constexpr (kSimd && use_vnni_dw<P>()) {
    if (w_quads) {
      conv2d_s8_vnni_dw<P>(in, w_quads, bias_u8, mult, shift, out, static_cast<uint8_t*>(scratch));
      return;
    }
  }
#endif
#if defined(EDGE_Q8_HAVE_VNNI_COUT)
  if constexpr (kSimd && P.channel_quads && P.cout_lanes) {
    if (w_quads) {
      conv2d_s8_vnni_cout<P>(in, w_quads, bias_u8, mult, shift, out, static_cast<uint8_t*>(scratch));
      return;
    }
  }
#endif
#if defined(EDGE_Q8_HAVE_VNNI_QUAD)
  if constexpr (kSimd && P.channel_quads && !P.cout_lanes) {
    if (w_quads) {
      conv2d_s8_vnni_quad<P>(in, w_quads, bias_u8, mult, shift, out, static_cast<uint8_t*>(scratch));
      return;
    }
  }
#endif
#if defined(EDGE_Q8_HAVE_VNNI_DIRECT)
  if constexpr (kSimd && use_vnni_direct<P>() && !P.channel_quads) {
    if (w_quads) {
      conv2d_s8_vnni_direct<P>(in, w_quads, bias_u8, mult, shift, out, static_cast<uint8_t*>(scratch));
      return;
    }
  }
#endif
#if defined(EDGE_Q8_HAVE_VNNI)
  if constexpr (kSimd && use_vnni<P>()) {
    (void)bias;
    (void)bias_folded;
    conv2d_s8_vnni<P>(in, w, bias_u8, mult, shift, out, static_cast<uint8_t*>(scratch));
    return;
  }
#endif
#if defined(EDGE_Q8_HAVE_AVX2_DW)
  if constexpr (kSimd && use_avx2_dw<P>()) {
    (void)bias;
    (void)bias_u8;
    (void)w_pairs;
    conv2d_s8_avx2_dw<P>(in, w, bias_folded, mult, shift, out, scratch);
    return;
  }
#endif
#if defined(EDGE_Q8_HAVE_AVX2_DIRECT)
  if constexpr (kSimd && use_avx2_direct<P>()) {
    if (w_pairs) {
      conv2d_s8_avx2_direct<P>(in, w_pairs, bias_folded, mult, shift, out, scratch);
      return;
    }
  }
#endif
#if defined(EDGE_Q8_HAVE_AVX2)
  if constexpr (kSimd && use_avx2<P>()) {
    if (w_pairs) {
      conv2d_s8_avx2<P>(in, w_pairs, bias_folded, mult, shift, out, static_cast<int16_t*>(scratch));
      return;
    }
  }
#endif
#if defined(EDGE_Q8_HAVE_NEON)
  if constexpr (kSimd && use_neon<P>()) {
    (void)bias;
    (void)bias_u8;
    conv2d_s8_neon<P>(in, w, bias_folded, mult, shift, out, static_cast<int8_t*>(scratch));
    return;
  }
#endif
#if defined(EDGE_Q8_HAVE_DSP)
  if constexpr (kSimd && use_dsp<P>()) {
    (void)bias_folded;
    (void)bias_u8;
    conv2d_s8_dsp<P>(in, w, bias, mult, shift, out, static_cast<int16_t*>(scratch));
    return;
  }
#endif
  (void)bias_u8;
  (void)w_pairs;
  (void)w_quads;
  if constexpr (use_im2col<P>()) {
    (void)bias;
    conv2d_s8_im2col<P>(in, w, bias_folded, mult, shift, out, static_cast<int8_t*>(scratch));
  } else {
    (void)bias_folded;
    conv2d_s8_rows<P>(in, w, bias, mult, shift, out, scratch);
  }
}

// The int32 sums of one input row: acc[j] = bias[j] + sum_k x[k] * w[j][k], with bias already
// holding -zp_in * sum_k w[j][k] (folded at compile time), so the inner loop is a plain int8 dot
// product.  The x86 VNNI path reads x + 128 instead and takes bias_u8 = bias - 128 * sum_k w[j][k]
// (null where the target has no such path); the AVX2 path (qfc_avx2.h) takes bias as it is.
template <int N, int K, bool kSimd = true>
inline void fc_dots_s8(const int8_t* EDGE_Q8_RESTRICT x, const int8_t* EDGE_Q8_RESTRICT w,
                       const int32_t* EDGE_Q8_RESTRICT bias, const int32_t* EDGE_Q8_RESTRICT bias_u8,
                       int32_t* EDGE_Q8_RESTRICT acc) {
#if defined(EDGE_Q8_HAVE_VNNI_FC)
  if (kSimd && bias_u8) {
    fc_dots_vnni<N, K>(x, w, bias_u8, acc);
    return;
  }
#endif
  (void)bias_u8;
#if defined(EDGE_Q8_HAVE_AVX2_FC)
  if constexpr (kSimd) {
    fc_dots_avx2<N, K>(x, w, bias, acc);
    return;
  }
#endif
  for (int j = 0; j < N; ++j) {
    for (int k = 0; k < K; k += 64) fc_prefetch<N, K>(w, j, k);
    acc[j] = bias[j] + dot_s8(x, w + static_cast<size_t>(j) * K, K);
  }
}

struct QFullyConnectedParams {
  int m, n, k;           // y[m][n] = sum_k x[m][k] * w[n][k]
  int zp_out;
  int act_min, act_max;
};

// scratch: n int32 (the sums of one row).
template <const QFullyConnectedParams& P, bool kSimd = true>
inline void fully_connected_s8(const int8_t* EDGE_Q8_RESTRICT x, const int8_t* EDGE_Q8_RESTRICT w,
                               const int32_t* EDGE_Q8_RESTRICT bias, const int32_t* EDGE_Q8_RESTRICT bias_u8,
                               const int32_t* mult, const int32_t* shift, int8_t* EDGE_Q8_RESTRICT y,
                               int32_t* EDGE_Q8_RESTRICT acc) {
  for (int i = 0; i < P.m; ++i) {
    fc_dots_s8<P.n, P.k, kSimd>(x + static_cast<size_t>(i) * P.k, w, bias, bias_u8, acc);
    for (int j = 0; j < P.n; ++j)
      y[static_cast<size_t>(i) * P.n + j] = requantize(acc[j], mult[j], shift[j], P.zp_out, P.act_min, P.act_max);
  }
}

// Same, but the int32 sums are dequantized straight to float (acc * s_in * s_w[n]), for a
// layer whose readers are all fp32 (logits before Softmax, a float graph output).  The clamp is
// the fused activation in real units.
struct QFullyConnectedF32Params {
  int m, n, k;
  float act_min, act_max;
};

// scratch: n int32.
template <const QFullyConnectedF32Params& P, bool kSimd = true>
inline void fully_connected_s8_f32(const int8_t* EDGE_Q8_RESTRICT x, const int8_t* EDGE_Q8_RESTRICT w,
                                   const int32_t* EDGE_Q8_RESTRICT bias, const int32_t* EDGE_Q8_RESTRICT bias_u8,
                                   const float* EDGE_Q8_RESTRICT scale, float* EDGE_Q8_RESTRICT y,
                                   int32_t* EDGE_Q8_RESTRICT acc) {
  for (int i = 0; i < P.m; ++i) {
    fc_dots_s8<P.n, P.k, kSimd>(x + static_cast<size_t>(i) * P.k, w, bias, bias_u8, acc);
    for (int j = 0; j < P.n; ++j) {
      float v = static_cast<float>(acc[j]) * scale[j];
      v = v < P.act_min ? P.act_min : (v > P.act_max ? P.act_max : v);
      y[static_cast<size_t>(i) * P.n + j] = v;
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk
