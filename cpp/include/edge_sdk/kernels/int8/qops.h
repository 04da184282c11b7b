// int8 elementwise, pooling, concat and lookup-table kernels (TFLite int8 scheme).
// All arithmetic is integer; rounding comes from requant.h only.
#pragma once

#include <cstring>

#include "qconv.h"
#include "qops_x86.h"
#include "requant.h"

namespace edge_sdk {
namespace q8 {

// ---- Any elementwise function of one int8 input: a 256-entry table built at compile time
// (sigmoid, tanh, hard-swish, leaky relu, ...).  Index = x + 128.
struct Table256 {
  int8_t v[256];  // v[x + 128]
};

// The table of y = QMul(x, t[x]) (mul_s8's integer steps): x times a function of x, e.g. SiLU.
// constexpr: the generated code evaluates it at compile time with requant.h's rule.
constexpr Table256 lut_times_input(const int8_t (&t)[256], int zp_x, int zp_t, int32_t mult, int shift, int zp_out,
                                   int lo, int hi) {
  Table256 r{};
  for (int x = -128; x < 128; ++x)
    r.v[x + 128] = requantize((x - zp_x) * (static_cast<int32_t>(t[x + 128]) - zp_t), mult, shift, zp_out, lo, hi);
  return r;
}

inline void lut_s8_portable(const int8_t* x, int8_t* y, size_t n, const int8_t* table) {
  for (size_t i = 0; i < n; ++i) y[i] = table[static_cast<int32_t>(x[i]) + 128];
}

inline void lut_s8(const int8_t* x, int8_t* y, size_t n, const int8_t* table) {
#if defined(EDGE_Q8_HAVE_QOPS_X86)
  lut_s8_x86(x, y, n, table);
#else
  lut_s8_portable(x, y, n, table);
#endif
}

// Broadcasting of the binary ops: a is [outer, inner]; b is the same shape, or [outer]
// repeated along inner (per-channel scales of squeeze-excitation, per-channel offsets).
// ---- Add: both inputs rescaled to a common 2^-20-finer grid, summed, requantized (TFLite).
struct QAddParams {
  int outer, inner;
  bool b_per_outer;
  int zp_a, zp_b, zp_out;
  int left_shift;
  int32_t mult_a; int shift_a;
  int32_t mult_b; int shift_b;
  int32_t mult_out; int shift_out;
  int act_min, act_max;
};

inline int8_t add_s8_one(const QAddParams& P, int32_t a, int32_t b) {
  const int32_t va = (a - P.zp_a) * (1 << P.left_shift);
  const int32_t vb = (b - P.zp_b) * (1 << P.left_shift);
  const int32_t sa = multiply_by_quantized_multiplier(va, P.mult_a, P.shift_a);
  const int32_t sb = multiply_by_quantized_multiplier(vb, P.mult_b, P.shift_b);
  return requantize(sa + sb, P.mult_out, P.shift_out, P.zp_out, P.act_min, P.act_max);
}

// The portable loop of Add and Mul: one(P, a, b) per element.
template <typename Params, typename One>
inline void binary_s8_portable(const Params& P, const int8_t* a, const int8_t* b, int8_t* y, One one) {
  for (int o = 0; o < P.outer; ++o) {
    for (int i = 0; i < P.inner; ++i) {
      const size_t k = static_cast<size_t>(o) * P.inner + i;
      y[k] = one(P, a[k], P.b_per_outer ? b[o] : b[k]);
    }
  }
}

template <const QAddParams& P>
inline void add_s8_portable(const int8_t* a, const int8_t* b, int8_t* y) {
  binary_s8_portable(P, a, b, y, add_s8_one);
}

// ---- Mul: (a - zp_a) * (b - zp_b) requantized with s_a * s_b / s_out (TFLite).
struct QMulParams {
  int outer, inner;
  bool b_per_outer;
  int zp_a, zp_b, zp_out;
  int32_t mult; int shift;
  int act_min, act_max;
};

inline int8_t mul_s8_one(const QMulParams& P, int32_t a, int32_t b) {
  return requantize((a - P.zp_a) * (b - P.zp_b), P.mult, P.shift, P.zp_out, P.act_min, P.act_max);
}

template <const QMulParams& P>
inline void mul_s8_portable(const int8_t* a, const int8_t* b, int8_t* y) {
  binary_s8_portable(P, a, b, y, mul_s8_one);
}

// b one value per channel (squeeze-excitation scales, per-channel offsets) over long runs: each
// channel's output is then a function of a alone, so the run's kernel evaluates it once for each
// of the 256 int8 values (bit-identical by construction) and lut_s8 looks the run up.  The table
// costs 256 outputs' requantization and the lookup a few instructions per 64 bytes on x86, one
// load a byte elsewhere, against a requantization per output: runs from kTableRun on gain.
constexpr int kTableRun = 512;

struct AllInt8 {
  int8_t v[256];  // v[i] = i - 128
  constexpr AllInt8() : v{} {
    for (int i = 0; i < 256; ++i) v[i] = static_cast<int8_t>(i - 128);
  }
};
inline constexpr AllInt8 kAllInt8{};

// run(x, b, t, n): t[i] = op(x[i], b) for i < n.
template <typename Params, typename Run>
inline void per_channel_tables(const Params& P, const int8_t* a, const int8_t* b, int8_t* y, Run run) {
  alignas(64) int8_t table[256];
  for (int o = 0; o < P.outer; ++o) {
    run(kAllInt8.v, b[o], table, 256);
    const size_t k = static_cast<size_t>(o) * P.inner;
    lut_s8(a + k, y + k, static_cast<size_t>(P.inner), table);
  }
}

// The kernels the generated code calls: qops_x86.h's vector loops (AVX-512 or AVX2) where the
// target has them.
#if defined(EDGE_Q8_HAVE_QOPS_X86) || defined(EDGE_Q8_HAVE_QOPS_AVX2)
// kernel(P, a, b, b_scalar, y, n) over the whole tensor; per-leading-dims b is one value
// (b_scalar) per run of `inner` outputs.
template <typename Params, typename Kernel>
inline void elementwise_runs(const Params& P, const int8_t* a, const int8_t* b, int8_t* y, Kernel kernel) {
  if (P.b_per_outer) {
    for (int o = 0; o < P.outer; ++o) {
      const size_t k = static_cast<size_t>(o) * P.inner;
      kernel(P, a + k, nullptr, b[o], y + k, P.inner);
    }
  } else {
    kernel(P, a, b, -129, y, P.outer * P.inner);
  }
}
#endif

// Add or Mul on this target: `vector` (qops_x86.h's loop, vector(P, a, b, b_scalar, y, n)) where
// the target has one, else the element steps `one`; a per-channel b over long runs through
// per-channel tables built by the same code.
template <const auto& P, typename Vector, typename One>
inline void binary_s8(const int8_t* a, const int8_t* b, int8_t* y, Vector vector, One one) {
#if defined(EDGE_Q8_HAVE_QOPS_X86) || defined(EDGE_Q8_HAVE_QOPS_AVX2)
  (void)one;
  if constexpr (P.b_per_outer && P.inner >= kTableRun)
    per_channel_tables(P, a, b, y, [&](const int8_t* x, int32_t bq, int8_t* t, int n) { vector(P, x, nullptr, bq, t, n); });
  else
    elementwise_runs(P, a, b, y, vector);
#else
  (void)vector;
  if constexpr (P.b_per_outer && P.inner >= kTableRun)
    per_channel_tables(P, a, b, y, [&](const int8_t* x, int32_t bq, int8_t* t, int n) {
      for (int i = 0; i < n; ++i) t[i] = one(P, x[i], bq);
    });
  else
    binary_s8_portable(P, a, b, y, one);
#endif
}

template <const QAddParams& P>
inline void add_s8(const int8_t* a, const int8_t* b, int8_t* y) {
#if defined(EDGE_Q8_HAVE_QOPS_X86)
  binary_s8<P>(a, b, y, add_s8_x86<QAddParams>, add_s8_one);
#elif defined(EDGE_Q8_HAVE_QOPS_AVX2)
  binary_s8<P>(a, b, y, add_s8_avx2<QAddParams>, add_s8_one);
#else
  binary_s8<P>(a, b, y, nullptr, add_s8_one);
#endif
}

template <const QMulParams& P>
inline void mul_s8(const int8_t* a, const int8_t* b, int8_t* y) {
#if defined(EDGE_Q8_HAVE_QOPS_X86)
  binary_s8<P>(a, b, y, mul_s8_x86<QMulParams>, mul_s8_one);
#elif defined(EDGE_Q8_HAVE_QOPS_AVX2)
  binary_s8<P>(a, b, y, mul_s8_avx2<QMulParams>, mul_s8_one);
#else
  binary_s8<P>(a, b, y, nullptr, mul_s8_one);
#endif
}

// ---- Pooling (same scale and zero point in and out, as TFLite).
struct QPoolParams {
  int planes, h_in, w_in, h_out, w_out;
  int k_h, k_w, stride_h, stride_w;
  int pad_top, pad_left, dil_h, dil_w;
  bool count_include_pad;
  int pad_bottom, pad_right;
  int zp;
  int act_min, act_max;
};

// Max pooling without dilation, separably: each output row first takes the max of its window's
// input rows over the whole row (contiguous bytes, which the compiler vectorises), then each
// output the max of its window's columns of that row.  The row buffer holds -128 (the identity of
// max over int8) in the padding columns, so the column windows need no clipping and vectorise
// too (a 3x3/2 pool over 64x112x112: 215 us with clipped windows).  It is on the stack, so rows
// over 1 KiB take the general loop below.
template <const QPoolParams& P>
inline void max_pool_s8_separable(const int8_t* in, int8_t* out) {
  constexpr int reach = (P.w_out - 1) * P.stride_w + P.k_w;  // padded columns the windows read
  constexpr int span = reach > P.pad_left + P.w_in ? reach : P.pad_left + P.w_in;
  int8_t rowp[span];
  int8_t* rowm = rowp + P.pad_left;  // input column iw
  for (int i = 0; i < span; ++i) rowp[i] = -128;
  for (int p = 0; p < P.planes; ++p) {
    const int8_t* ip = in + static_cast<size_t>(p) * P.h_in * P.w_in;
    int8_t* op = out + static_cast<size_t>(p) * P.h_out * P.w_out;
    for (int oh = 0; oh < P.h_out; ++oh) {
      for (int iw = 0; iw < P.w_in; ++iw) rowm[iw] = -128;
      for (int kh = 0; kh < P.k_h; ++kh) {
        const int ih = oh * P.stride_h - P.pad_top + kh;
        if (ih < 0 || ih >= P.h_in) continue;
        const int8_t* row = ip + static_cast<size_t>(ih) * P.w_in;
        for (int iw = 0; iw < P.w_in; ++iw) rowm[iw] = row[iw] > rowm[iw] ? row[iw] : rowm[iw];
      }
      int8_t* orow = op + static_cast<size_t>(oh) * P.w_out;
      for (int ow = 0; ow < P.w_out; ++ow) {
        const int8_t* win = rowp + ow * P.stride_w;
        int8_t m = win[0];
        for (int kw = 1; kw < P.k_w; ++kw) m = win[kw] > m ? win[kw] : m;
        orow[ow] = clamp_i8(m, P.act_min, P.act_max);
      }
    }
  }
}

template <const QPoolParams& P>
inline void max_pool_s8(const int8_t* in, int8_t* out) {
  if constexpr (P.dil_h == 1 && P.dil_w == 1 && P.w_in <= 1024) {
    max_pool_s8_separable<P>(in, out);
    return;
  }
  for (int p = 0; p < P.planes; ++p) {
    const int8_t* ip = in + static_cast<size_t>(p) * P.h_in * P.w_in;
    int8_t* op = out + static_cast<size_t>(p) * P.h_out * P.w_out;
    for (int oh = 0; oh < P.h_out; ++oh) {
      for (int ow = 0; ow < P.w_out; ++ow) {
        int32_t m = -128;
        for (int kh = 0; kh < P.k_h; ++kh) {
          const int ih = oh * P.stride_h - P.pad_top + kh * P.dil_h;
          if (ih < 0 || ih >= P.h_in) continue;
          for (int kw = 0; kw < P.k_w; ++kw) {
            const int iw = ow * P.stride_w - P.pad_left + kw * P.dil_w;
            if (iw < 0 || iw >= P.w_in) continue;
            const int32_t v = ip[ih * P.w_in + iw];
            m = v > m ? v : m;
          }
        }
        op[oh * P.w_out + ow] = clamp_i8(m, P.act_min, P.act_max);
      }
    }
  }
}

// A conv and the MaxPool after it, 16 output channels at a time (conv2d_s8_max_pool's route off x86 VNNI).
constexpr int kConvPoolGroup = 16;

constexpr QConvParams conv_pool_group(QConvParams p) {
  p.n = 1;
  p.c_out = kConvPoolGroup;
  return p;
}

template <const QConvParams& P, const QPoolWindow& Q>
struct ConvPoolGroup {
  static constexpr QConvParams conv = conv_pool_group(P);
  static constexpr int pad_bottom = (Q.h_out - 1) * Q.stride_h + Q.k_h - Q.pad_top - P.h_out;
  static constexpr int pad_right = (Q.w_out - 1) * Q.stride_w + Q.k_w - Q.pad_left - P.w_out;
  static constexpr QPoolParams pool = {kConvPoolGroup, P.h_out, P.w_out, Q.h_out, Q.w_out, Q.k_h, Q.k_w,
                                       Q.stride_h, Q.stride_w, Q.pad_top, Q.pad_left, 1, 1, false,
                                       pad_bottom > 0 ? pad_bottom : 0, pad_right > 0 ? pad_right : 0,
                                       P.zp_out, P.act_min, P.act_max};
  // the group's conv output in scratch, then the group conv's own scratch
  static constexpr size_t conv_bytes = (static_cast<size_t>(kConvPoolGroup) * P.h_out * P.w_out + 63) / 64 * 64;
};

// A conv and the MaxPool after it (passes/fuse_qconv_epilogue.py, lane_pool; the compiler sets P's
// clamp to the pool's and the conv's together, and c_out to a multiple of 16).  On x86 VNNI, with
// P.cout_lanes, the conv's epilogue pools its int32 sums (qconv_x86_cout.h; scratch
// vnni_cout_pool_scratch_bytes<P, Q>()).  Elsewhere each 16 output channels are convolved into
// scratch and max_pool_s8 pools them from there (scratch ConvPoolGroup<P, Q>::conv_bytes plus the
// group conv2d_s8's), so the conv's full output is never stored.  Arguments as conv2d_s8's, but
// w_pairs holds the AVX2 pairs of the group's geometry, kPairs int32 an output channel (0: none).
template <const QConvParams& P, const QPoolWindow& Q, int kPairs>
inline void conv2d_s8_max_pool(const int8_t* in, const int8_t* w, const int32_t* w_pairs, const int32_t* w_quads,
                               const int32_t* bias, const int32_t* bias_folded, const int32_t* bias_u8,
                               const int32_t* mult, const int32_t* shift, int8_t* out, uint8_t* scratch) {
#if defined(EDGE_Q8_HAVE_VNNI_COUT)
  if constexpr (P.cout_lanes) {
    conv2d_s8_vnni_cout_pool<P, Q>(in, w_quads, bias_u8, mult, shift, out, scratch);
    return;
  }
#endif
  (void)w_quads;
  using G = ConvPoolGroup<P, Q>;
  static_assert(P.c_out % kConvPoolGroup == 0 && P.groups == 1, "the compiler fuses whole 16-channel groups");
  constexpr size_t patch = static_cast<size_t>(P.c_in) * P.k_h * P.k_w;
  int8_t* conv_out = reinterpret_cast<int8_t*>(scratch);
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * P.h_in * P.w_in;
    for (int c = 0; c < P.c_out; c += kConvPoolGroup) {
      conv2d_s8<G::conv>(in_b, w + c * patch, kPairs ? w_pairs + static_cast<size_t>(c) * kPairs : nullptr, nullptr,
                         bias + c, bias_folded + c, bias_u8 + c, mult + c, shift + c, conv_out, scratch + G::conv_bytes);
      max_pool_s8<G::pool>(conv_out, out + (static_cast<size_t>(b) * P.c_out + c) * Q.h_out * Q.w_out);
    }
  }
}

// Rounded average of (x - zp), ties away from zero, plus zp.
template <const QPoolParams& P>
inline void avg_pool_s8(const int8_t* in, int8_t* out) {
  for (int p = 0; p < P.planes; ++p) {
    const int8_t* ip = in + static_cast<size_t>(p) * P.h_in * P.w_in;
    int8_t* op = out + static_cast<size_t>(p) * P.h_out * P.w_out;
    for (int oh = 0; oh < P.h_out; ++oh) {
      for (int ow = 0; ow < P.w_out; ++ow) {
        int32_t sum = 0, count = 0;
        for (int kh = 0; kh < P.k_h; ++kh) {
          const int ih = oh * P.stride_h - P.pad_top + kh * P.dil_h;
          const bool in_pad_h = ih >= -P.pad_top && ih < P.h_in + P.pad_bottom;
          for (int kw = 0; kw < P.k_w; ++kw) {
            const int iw = ow * P.stride_w - P.pad_left + kw * P.dil_w;
            if (ih >= 0 && ih < P.h_in && iw >= 0 && iw < P.w_in) {
              sum += static_cast<int32_t>(ip[ih * P.w_in + iw]) - P.zp;
              ++count;
            } else if (P.count_include_pad && in_pad_h && iw >= -P.pad_left && iw < P.w_in + P.pad_right) {
              ++count;  // a padded zero (real 0 == zp)
            }
          }
        }
        if (count == 0) count = 1;
        const int32_t avg = sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
        op[oh * P.w_out + ow] = clamp_i8(avg + P.zp, P.act_min, P.act_max);
      }
    }
  }
}

// ---- Global average pool (a mean with requantization: mult/shift encode s_in / (s_out * size)).
struct QGlobalAvgParams {
  int planes, size;
  int zp_in, zp_out;
  int32_t mult; int shift;
  int act_min, act_max;
};

template <const QGlobalAvgParams& P>
inline void global_avg_pool_s8(const int8_t* in, int8_t* out) {
  for (int p = 0; p < P.planes; ++p) {
    const int8_t* ip = in + static_cast<size_t>(p) * P.size;
    int32_t sum = 0;
    for (int i = 0; i < P.size; ++i) sum += static_cast<int32_t>(ip[i]);
    sum -= P.zp_in * P.size;
    out[p] = requantize(sum, P.mult, P.shift, P.zp_out, P.act_min, P.act_max);
  }
}

// ---- Requantize (scale change), used by Concat parts and explicit rescales.
struct QRequantParams {
  int outer, inner_in, inner_out, offset;  // copy [outer][inner_in] into [outer][inner_out] at offset
  bool identity;                            // same scale and zero point: plain copy
  int zp_in, zp_out;
  int32_t mult; int shift;
};

template <const QRequantParams& P>
inline void concat_part_s8(const int8_t* in, int8_t* out) {
  for (int o = 0; o < P.outer; ++o) {
    const int8_t* src = in + static_cast<size_t>(o) * P.inner_in;
    int8_t* dst = out + static_cast<size_t>(o) * P.inner_out + P.offset;
    if constexpr (P.identity) {
      std::memcpy(dst, src, static_cast<size_t>(P.inner_in));
    } else {
      for (int i = 0; i < P.inner_in; ++i)
        dst[i] = requantize(static_cast<int32_t>(src[i]) - P.zp_in, P.mult, P.shift, P.zp_out, -128, 127);
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk
