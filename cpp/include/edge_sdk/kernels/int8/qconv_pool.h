// int8 convolution fused with what follows it in the int8 graph, so that the convolution's
// full-resolution output is never stored:
//   - an optional per-channel int8 -> int8 map (a BatchNormalization after the activation is
//     quantized as a depthwise 1x1 conv; any per-channel map of int8 values is a 256-entry
//     table, built at compile time with requant.h's rule by affine_lut());
//   - an optional non-overlapping MaxPool (kernel == stride, no padding, floor mode).
// The convolution runs one band of output rows at a time (`pool_h` rows per pooled row, and
// several pooled rows where the rows are narrow: ops/quant_ops.py band_rows): the input rows that band
// reads are copied into scratch (so every conv path in qconv.h runs unchanged on a small
// contiguous problem), the band's int8 outputs go to scratch, and the epilogue maps and pools
// them into the output.  Each band value is exactly the unfused conv's value, so the result
// is bit-identical to conv -> table -> MaxPool done one after the other.
#pragma once

#include <string.h>

#include "qconv.h"

namespace edge_sdk {
namespace q8 {

// The epilogue of a fused convolution.  Output: [c_out][h_out][w_out].
struct QConvPoolParams {
  int c_out;
  int c_in, h_in, w_in;      // the full input
  int stride_h, pad_top;     // of the full convolution (bands start at band * pool_h output rows)
  int w_conv;                // the convolution's output width
  int pool_h, pool_w;        // rows per band; the pooling window (1 x 1: no pooling)
  int h_out, w_out;          // pooled output
  bool has_lut;
  int act_min, act_max;      // the pool's clamp (within [-128, 127])
  // Tests: make the x86 direct path requantize every value (its route for channels whose
  // requantization or table may not be monotone) instead of pooling accumulators first.
  bool exact_epilogue = false;
};

// +1 if the 256-entry table t is non-decreasing, -1 if non-increasing, 0 otherwise.
inline int table_direction(const int8_t* t) {
  bool up = true, down = true;
  for (int i = 1; i < 256; ++i) {
    up = up && t[i] >= t[i - 1];
    down = down && t[i] <= t[i - 1];
  }
  return up ? 1 : (down ? -1 : 0);
}

// How the direct kernels pool channel c: +1 requantize the window's max accumulator, -1 its min
// (a table that decreases: a BatchNormalization with a negative scale), 0 requantize every
// value.  Requantization is non-decreasing unless a left shift may wrap or the multiplier is
// negative; a table must be monotone.
template <const QConvParams& P, const QConvPoolParams& E>
inline void pool_modes(const int8_t* lut, const int32_t* mult, const int32_t* shift, int8_t* mode) {
  for (int c = 0; c < P.c_out; ++c) {
    const int dir = E.has_lut ? table_direction(lut + c * 256) : 1;
    mode[c] = static_cast<int8_t>(E.exact_epilogue || shift[c] > 0 || mult[c] < 0 ? 0 : dir);
  }
}

// The per-value route of the direct kernels (mode 0): requantize and map every accumulator of
// conv row r (a[]: `pooled` windows of pool_w) and take the max into the pooled values so far.
template <const QConvParams& P, const QConvPoolParams& E>
inline void pool_exact_row(const int32_t* a, int pooled, int r, int32_t mult, int shift, const int8_t* lut,
                           int8_t* pooled_vals) {
  for (int p = 0; p < pooled; ++p)
    for (int k = 0; k < E.pool_w; ++k) {
      int8_t v = requantize(a[p * E.pool_w + k], mult, shift, P.zp_out, P.act_min, P.act_max);
      if (E.has_lut) v = lut[v + 128];
      pooled_vals[p] = (r == 0 && k == 0) || v > pooled_vals[p] ? v : pooled_vals[p];
    }
}

}  // namespace q8
}  // namespace edge_sdk

#include "qconv_x86_direct_pool.h"   // the fused conv on x86 VNNI
#include "qconv_avx2_direct_pool.h"  // the fused conv on x86 AVX2

namespace edge_sdk {
namespace q8 {

// Pooled rows [row_begin, row_end) of the fused conv through a direct kernel where this target
// and geometry have one; false otherwise (the caller then runs conv2d_s8_pooled_rows).  A
// template, so that a direct path is not even instantiated where it does not apply.
template <const QConvParams& P, const QConvPoolParams& E, bool kSimd = true>
inline bool conv2d_s8_fused_direct(const int8_t* in, const int8_t* w, const int32_t* w_pairs, const int32_t* w_quads,
                                   const int32_t* bias_folded, const int32_t* bias_u8, const int32_t* mult, const int32_t* shift,
                                   const int8_t* lut, int8_t* out, void* scratch, int row_begin, int row_end) {
  (void)in, (void)w, (void)w_pairs, (void)w_quads, (void)bias_folded, (void)bias_u8, (void)mult, (void)shift, (void)lut, (void)out, (void)scratch;
  (void)row_begin, (void)row_end;
#if defined(EDGE_Q8_HAVE_VNNI_DIRECT)
  if constexpr (kSimd && use_vnni_direct<P>() && !P.channel_quads && 16 % E.pool_w == 0 && P.n == 1) {
    if (w_quads) {
      conv2d_s8_direct_pooled<P, E>(in, w_quads, bias_u8, mult, shift, lut, out, static_cast<uint8_t*>(scratch),
                                    row_begin, row_end);
      return true;
    }
  }
#endif
#if defined(EDGE_Q8_HAVE_AVX2_DIRECT)
  if constexpr (kSimd && use_avx2_direct<P>() && 16 % E.pool_w == 0 && P.n == 1) {
    if (w_pairs) {
      conv2d_s8_avx2_direct_pooled<P, E>(in, w_pairs, bias_folded, mult, shift, lut, out, scratch, row_begin, row_end);
      return true;
    }
  }
#endif
  return false;
}

template <int C>
struct ChannelLut {
  int8_t v[C * 256];  // v[c * 256 + x + 128]
};

// Table of the depthwise 1x1 int8 conv y = requantize(bias[c] + w[c] * (x - zp_in), ...), the
// form edge_sdk/quantize gives a standalone BatchNormalization; evaluated by the C++ compiler.
template <int C>
constexpr ChannelLut<C> affine_lut(const int32_t (&w)[C], const int32_t (&bias)[C], const int32_t (&mult)[C],
                                   const int32_t (&shift)[C], int zp_in, int zp_out, int lo, int hi) {
  ChannelLut<C> t{};
  for (int c = 0; c < C; ++c)
    for (int x = -128; x < 128; ++x)
      t.v[c * 256 + x + 128] = requantize(bias[c] + w[c] * (x - zp_in), mult[c], shift[c], zp_out, lo, hi);
  return t;
}

// The table of `first` then `then` (a channel map followed by the fused table).
template <int C>
constexpr ChannelLut<C> compose_lut(const ChannelLut<C>& first, const ChannelLut<C>& then) {
  ChannelLut<C> t{};
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < 256; ++i) t.v[c * 256 + i] = then.v[c * 256 + first.v[c * 256 + i] + 128];
  return t;
}

// Max (kMax) or min of each pool_w-wide window of `row` into win[ow], and of pool_h rows first.
template <const QConvPoolParams& E, bool kMax>
inline void pool_window_s8(const int8_t* EDGE_Q8_RESTRICT in, int8_t* EDGE_Q8_RESTRICT rowm, int8_t* win) {
  for (int j = 0; j < E.w_conv; ++j) rowm[j] = in[j];
  for (int r = 1; r < E.pool_h; ++r)
    for (int j = 0; j < E.w_conv; ++j) {
      const int8_t v = in[r * E.w_conv + j];
      rowm[j] = kMax ? (v > rowm[j] ? v : rowm[j]) : (v < rowm[j] ? v : rowm[j]);
    }
  for (int ow = 0; ow < E.w_out; ++ow) {
    int8_t m = rowm[ow * E.pool_w];
    for (int k = 1; k < E.pool_w; ++k) {
      const int8_t v = rowm[ow * E.pool_w + k];
      m = kMax ? (v > m ? v : m) : (v < m ? v : m);
    }
    win[ow] = m;
  }
}

// Pooled rows [row_begin, row_end) of a fused conv that is itself a per-channel map (a
// depthwise 1x1 conv: a BatchNormalization the quantizer could not fold into a conv, e.g. after
// a Concat), given as the table `lut` (with any fused table composed in).  Where a channel's
// table is monotone the window is pooled first (max; min for a decreasing table) and one value
// is looked up, which equals looking up every value and pooling; otherwise every value is
// looked up.  in: [c_out][pool_h * h_out (at least)][w_conv]; scratch: 2 * w_conv bytes.
template <const QConvPoolParams& E>
inline void map_pooled_rows_s8(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* lut, int8_t* EDGE_Q8_RESTRICT out,
                               void* scratch, int row_begin, int row_end) {
  int8_t* rowm = static_cast<int8_t*>(scratch);
  int8_t* win = rowm + E.w_conv;
  constexpr size_t plane_in = static_cast<size_t>(E.h_in) * E.w_in;
  for (int c = 0; c < E.c_out; ++c) {
    const int8_t* t = lut + c * 256;
    const int dir = E.exact_epilogue ? 0 : table_direction(t);
    for (int row = row_begin; row < row_end; ++row) {
      const int8_t* x = in + c * plane_in + static_cast<size_t>(row) * E.pool_h * E.w_in;
      int8_t* o = out + (static_cast<size_t>(c) * E.h_out + row) * E.w_out;
      if (dir != 0) {
        if (dir > 0)
          pool_window_s8<E, true>(x, rowm, win);
        else
          pool_window_s8<E, false>(x, rowm, win);
        for (int ow = 0; ow < E.w_out; ++ow) o[ow] = clamp_i8(t[win[ow] + 128], E.act_min, E.act_max);
      } else {
        for (int ow = 0; ow < E.w_out; ++ow) {
          int32_t m = -128;
          for (int r = 0; r < E.pool_h; ++r)
            for (int k = 0; k < E.pool_w; ++k) {
              const int32_t v = t[x[r * E.w_in + ow * E.pool_w + k] + 128];
              m = v > m ? v : m;
            }
          o[ow] = clamp_i8(m, E.act_min, E.act_max);
        }
      }
    }
  }
}

// Band input: the rows [a0, a0 + B.h_in) of every input channel (B: the band's conv params).
template <const QConvParams& B>
constexpr size_t band_input_bytes() { return static_cast<size_t>(B.c_in) * B.h_in * B.w_in; }

template <const QConvParams& B>
constexpr size_t band_output_bytes() { return static_cast<size_t>(B.c_out) * B.h_out * B.w_out; }

constexpr size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// Apply the table (if any) and pool a band ([c_out][R * pool_h][w_conv]) into pooled rows
// [row, row + R).
template <const QConvPoolParams& E, int R>
inline void pool_band_s8(int8_t* EDGE_Q8_RESTRICT band, const int8_t* lut, int8_t* EDGE_Q8_RESTRICT out, int row) {
  constexpr int plane_band = R * E.pool_h * E.w_conv;
  constexpr int plane_out = E.h_out * E.w_out;
  for (int c = 0; c < E.c_out; ++c) {
    int8_t* bc = band + static_cast<size_t>(c) * plane_band;
    if constexpr (E.has_lut) {
      const int8_t* t = lut + static_cast<size_t>(c) * 256;
      for (int i = 0; i < plane_band; ++i) bc[i] = t[static_cast<uint8_t>(bc[i] ^ 0x80)];
    }
    for (int i = 0; i < R; ++i) {
      int8_t* b = bc + i * E.pool_h * E.w_conv;
      int8_t* o = out + static_cast<size_t>(c) * plane_out + static_cast<size_t>(row + i) * E.w_out;
      if constexpr (E.pool_h == 1 && E.pool_w == 1) {
        for (int ow = 0; ow < E.w_out; ++ow) o[ow] = clamp_i8(b[ow], E.act_min, E.act_max);
      } else {
        // Separably (as max_pool_s8_separable): the max of the window's rows over whole rows,
        // in place in its first row (contiguous bytes, which the compiler vectorises), then
        // each window's columns.  About 4x fewer instructions than window by window.
        for (int r = 1; r < E.pool_h; ++r) {
          const int8_t* br = b + r * E.w_conv;
          for (int j = 0; j < E.w_conv; ++j) b[j] = br[j] > b[j] ? br[j] : b[j];
        }
        for (int ow = 0; ow < E.w_out; ++ow) {
          int8_t m = b[ow * E.pool_w];
          for (int k = 1; k < E.pool_w; ++k) m = b[ow * E.pool_w + k] > m ? b[ow * E.pool_w + k] : m;
          o[ow] = clamp_i8(m, E.act_min, E.act_max);
        }
      }
    }
  }
}

// Pooled rows [row_begin, row_end) of a fused convolution whose bands all have the conv
// geometry B (the emitter groups bands by the padding rows they see: top, interior, bottom),
// each band R = B.h_out / pool_h pooled rows high (ops/quant_ops.py band_rows: bands of
// narrow rows cover several, so that the conv's 16-pixel blocks are full); row_end - row_begin
// is a multiple of R.
// scratch: align64(band_input_bytes<B>()) + align64(band_output_bytes<B>()) + B's conv scratch.
template <const QConvParams& B, const QConvPoolParams& E, bool kSimd = true>
inline void conv2d_s8_pooled_rows(const int8_t* in, const int8_t* w, const int32_t* w_pairs, const int32_t* w_quads,
                                  const int32_t* bias,
                                  const int32_t* bias_folded,
                                  const int32_t* bias_u8, const int32_t* mult, const int32_t* shift,
                                  const int8_t* lut, int8_t* out, void* scratch, int row_begin, int row_end) {
  static_assert(B.n == 1 && B.h_out % E.pool_h == 0 && B.w_out == E.w_conv && B.c_out == E.c_out, "band geometry");
  constexpr int R = B.h_out / E.pool_h;
  int8_t* band_in = static_cast<int8_t*>(scratch);
  int8_t* band_out = band_in + align64(band_input_bytes<B>());
  void* conv_scratch = band_out + align64(band_output_bytes<B>());
  constexpr size_t plane_in = static_cast<size_t>(E.h_in) * E.w_in;
  constexpr size_t rows_bytes = static_cast<size_t>(B.h_in) * B.w_in;
  for (int row = row_begin; row < row_end; row += R) {
    const int first = row * E.pool_h * E.stride_h - E.pad_top;  // first input row the band reads
    const int a0 = first < 0 ? 0 : first;                       // B.pad_top covers rows above 0
    for (int c = 0; c < E.c_in; ++c)
      memcpy(band_in + c * rows_bytes, in + c * plane_in + static_cast<size_t>(a0) * E.w_in, rows_bytes);
    conv2d_s8<B, kSimd>(band_in, w, w_pairs, w_quads, bias, bias_folded, bias_u8, mult, shift, band_out, conv_scratch);
    pool_band_s8<E, R>(band_out, lut, out, row);
  }
}

}  // namespace q8
}  // namespace edge_sdk
