// Fast 2-D convolution paths, float32 NCHW.  conv.h holds the portable
// reference kernel these are tested against (tests/test_kernels_conv.py).
//
// conv2d_gemm_f32: convolution as a GEMM  out[oc][pixel] = W[oc][k] * X[k][pixel]
// with k = (ic, kh, kw).  Weights come pre-packed by the compiler
// (passes/pack_conv_weights.py) as [group][oc block][k][MR] so a register-blocked
// micro-kernel (RT output channels x NV vectors of pixels, RT = MR, or MR / 2 on
// 16-register targets) broadcasts its weights per k from one cache line.  The input is first copied into a zero-padded
// buffer when the conv pads, so no inner loop has a bounds check.  X is read
//   A) directly from input rows when stride_w == 1 and rows are wide (no copy), or
//      with stride 1 and rows just past a vector multiple, "wrapped": the plane read as one
//      long row, a vector spanning a row end (its lanes past w_out are never stored), or
//   B) from a small im2col panel [k][NR] gathered per tile of flattened pixels.
// The epilogue applies bias, the fused activation, an optional per-channel affine
// (a BatchNormalization after the activation) and an optional fused MaxPool whose
// pre-pool rows live only in a small scratch buffer.
//
// conv2d_dw_f32: depthwise convolution (groups == c_in == c_out) on a padded plane.
#pragma once

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "common.h"

namespace edge_sdk {

struct ConvFastParams {
  int n, c_in, h_in, w_in;
  int c_out, h_out, w_out;
  int k_h, k_w;
  int stride_h, stride_w;
  int pad_top, pad_left;
  int dil_h, dil_w;
  int groups;
  Act act;
  float act_alpha, act_beta;
  int mr;            // output channels per packed weight block: 1, 2, 4 or 8
  bool padded;       // copy the input into a zero-padded, column-phase-split scratch buffer first
  int hp, ws;        // rows of the input the kernel reads, and floats per column phase
                     // (a row holds stride_w phases: column c at (c % stride_w) * ws + c / stride_w)
  bool post_affine;  // y = act(conv) * scale[oc] + shift[oc]
  int pool_k_h, pool_k_w, pool_s_h, pool_s_w, pool_h_out, pool_w_out;  // pool_k_h == 0: no fused MaxPool
  int pool_rows;     // pooled rows computed per chunk
  bool whole_panel;  // im2col path: pack the whole plane (or chunk) at once (scratch holds K x (pixels + 15))
  int pool_pad_top, pool_pad_left;  // the fused MaxPool's padding (windows past the conv output read -inf)
};

namespace conv_detail {

// Output channels per micro-tile: a packed block of MR, or half of an 8-channel block
// where 16 registers cannot hold 8 rows of several vectors (8 x 1 accumulators are too
// few to cover the FMA latency, and need 9 loads per 8 FMAs).
constexpr int rows_for(int mr) { return kVecRegs < 32 && mr == 8 ? 4 : mr; }

// Vectors of pixels per micro-tile for RT output channels: RT*NV accumulators, NV input
// vectors and one broadcast weight must fit the register file.
constexpr int nv_for(int rt) {
  return kVecRegs >= 32 ? (rt >= 8 ? 3 : rt >= 4 ? 4 : rt >= 2 ? 6 : 8)
                        : (rt >= 4 ? 3 : rt >= 2 ? 5 : 4);
}
constexpr int round16(int v) { return (v + 15) / 16 * 16; }

// Offset of kernel column kw in a phase-split row (S phases of WS floats; S == 1: plain row).
template <int S, int D, int WS>
constexpr int col_off(int kw) { return ((kw * D) % S) * WS + (kw * D) / S; }

// acc[r][v] = sum over k=(ic,kh,kw) of w[k*MS + r] * x[ic*s_ic + kh*s_kh + col_off(kw) + voff[v] + lane]
// for the MR rows of a packed block MS wide.
template <int MS, int MR, int NV, int CI, int KH, int KW, int S, int D, int WS>
EDGE_ALWAYS_INLINE void micro(const float* EDGE_RESTRICT w, const float* EDGE_RESTRICT x, ptrdiff_t s_ic,
                              ptrdiff_t s_kh, const int (&voff)[NV], vfloat (&acc)[MR][NV]) {
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = vfloat{};
  for (int ic = 0; ic < CI; ++ic) {
    for (int kh = 0; kh < KH; ++kh) {
      const float* xr = x + ic * s_ic + kh * s_kh;
      for (int kw = 0; kw < KW; ++kw) {
        const float* xp = xr + col_off<S, D, WS>(kw);
        vfloat b[NV];
        for (int v = 0; v < NV; ++v) b[v] = vload(xp + voff[v]);
        for (int r = 0; r < MR; ++r) {
          const vfloat wv = vsplat(w[r]);
          for (int v = 0; v < NV; ++v) acc[r][v] += wv * b[v];
        }
        w += MS;
      }
    }
  }
}

// Wrapped rows: the vector at flat position q of a plane read with row stride ROW, of which
// the first W columns are outputs, into dst (row stride W).  ROW >= kVL - 1, so a vector
// spans at most two rows.
template <int ROW, int W>
EDGE_ALWAYS_INLINE void vstore_wrapped(float* dst, int q, vfloat x) {
  const int r = q / ROW, c = q % ROW;
  const int l1 = ROW - c;  // first lane in row r + 1
  if (c + kVL <= W) {
    vstore(dst + r * W + c, x);
    return;
  }
  if (c < W) vstore_lanes(dst + r * W + c, x, 0, W - c);
  if (l1 < kVL) vstore_lanes(dst + (r + 1) * W - l1, x, l1, l1 + W < kVL ? l1 + W : kVL);
}

// Bias, activation, affine; store `rows` channels x `np` pixels (np <= NV*kVL), vector v
// of the tile at dst + doff[v] (doff == nullptr: the vectors are consecutive; WRAP: doff[v]
// is a wrapped-rows position, see vstore_wrapped).
template <const ConvFastParams& P, int MR, int NV, int WRAP = 0>
EDGE_ALWAYS_INLINE void epilogue(vfloat (&acc)[MR][NV], int oc, int rows, int np, const float* bias,
                                 const float* scale, const float* shift, float* dst, ptrdiff_t cstride,
                                 const int* doff) {
  constexpr int NR = NV * kVL;
  for (int r = 0; r < rows; ++r) {
    const vfloat bv = vsplat(bias ? bias[oc + r] : 0.0f);
    vfloat x[NV];
    for (int v = 0; v < NV; ++v) x[v] = acc[r][v] + bv;
    activate_vec_n<P.act>(x, P.act_alpha, P.act_beta);
    if constexpr (P.post_affine)
      for (int v = 0; v < NV; ++v) x[v] = x[v] * vsplat(scale[oc + r]) + vsplat(shift[oc + r]);
    float* d = dst + (oc + r) * cstride;
    if (doff || np == NR) {  // whole vectors
      for (int v = 0; v < NV; ++v) {
        if constexpr (WRAP > 0)
          vstore_wrapped<WRAP, P.w_out>(d, doff[v], x[v]);
        else
          vstore(d + (doff ? doff[v] : v * kVL), x[v]);
      }
    } else {  // a partial tile (np < NR, consecutive pixels): the first np lanes
      for (int v = 0; v < NV && v * kVL < np; ++v) vstore_lanes(d + v * kVL, x[v], 0, np - v * kVL < kVL ? np - v * kVL : kVL);
    }
  }
}

template <const ConvFastParams& P>
struct Geometry {
  static constexpr int cin_g = P.c_in / P.groups;
  static constexpr int cout_g = P.c_out / P.groups;
  static constexpr int K = cin_g * P.k_h * P.k_w;
  static constexpr int MR = P.mr;
  static constexpr int blocks = (cout_g + MR - 1) / MR;
  static constexpr int row = P.stride_w * P.ws;  // floats per input row
  static constexpr int plane_p = P.hp * row;
  // Wrapped rows (path A, stride 1): vectors run along the plane read as one long row,
  // a vector spanning a row end (row >= kVL - 1: at most two rows).  Rows narrower than a
  // vector (13 x 13: 193 lanes, no im2col copy) run wrapped when there are at least two
  // (a thread part or a fused pool chunk has that many too) and the reduction is long
  // enough for the split stores not to matter.
  static constexpr bool wrap_ok = P.stride_h == 1 && P.stride_w == 1 && row >= kVL - 1 &&
                                  K >= 64 && P.k_h * P.k_w > 1;
  static constexpr bool narrow_wrap = wrap_ok && P.w_out < kVL && P.h_out >= 2 && P.pool_k_h == 0;
  // Path A (direct rows) needs rows at least one vector wide, or wrapped.
  static constexpr bool direct = P.w_out >= kVL || narrow_wrap;
  // Conv rows of a fused pool's chunk of pool_rows pooled rows (the first chunk of a part; later
  // ones take the rows overlapping windows share from the chunk before: conv_gemm_rows).
  static constexpr int chunk_rows = P.pool_k_h ? (P.pool_rows - 1) * P.pool_s_h + P.pool_k_h : 0;
  // Pixels one pass covers: a row (A), or the plane / pooled chunk (B); tiles no wider than that.
  static constexpr int pixels = (P.pool_k_h ? chunk_rows : P.h_out) * P.w_out;
  static constexpr int nv_pix = (pixels + kVL - 1) / kVL;
  static constexpr int RT = rows_for(P.mr);  // rows per micro-tile (MR / RT tiles per block)
  static constexpr int NV = nv_pix < nv_for(RT) ? (nv_pix > 0 ? nv_pix : 1) : nv_for(RT);
  static constexpr int NR = NV * kVL;
  static constexpr bool weights_outer = static_cast<long>(cout_g) * K > static_cast<long>(cin_g) * plane_p;
  // Input channels per reduction chunk of the direct path: a flat (one-row) 1x1 with more
  // weights than input and a long reduction is chunked (see conv_rows).
  static constexpr int kchunk = P.k_h == 1 && P.k_w == 1 && P.h_out == 1 && weights_outer && cin_g > 128 &&
                                NV >= 3 ? 64 : cin_g;
  static constexpr int pad_floats = P.padded ? round16(P.c_in * plane_p) : 0;
  static constexpr int panel_floats = direct ? 0 : round16(K * (P.whole_panel ? pixels + 15 : NR));
  // Rows a vector wide or more run wrapped when that computes fewer lanes than whole
  // vectors per row (a 34-wide row: 36 lanes with its two border columns, against 48).
  static constexpr int vpr = (P.w_out + kVL - 1) / kVL;
  static constexpr bool wrapped = narrow_wrap || (wrap_ok && direct && kchunk == cin_g && row < vpr * kVL);
  // A wrapped tile's doff is a flat position, which only the epilogue understands: the
  // reduction must be one chunk (no partial sums through dst).
  static_assert(!wrapped || kchunk == cin_g, "wrapped rows reduce in one chunk");
};

// One padded row: input row `sr` (nullptr: a padding row) into `r`, its columns split into
// stride_w phases so that strided taps become contiguous loads.
template <const ConvFastParams& P>
inline void pad_row(const float* EDGE_RESTRICT sr, float* EDGE_RESTRICT r) {
  constexpr int S = P.stride_w, row = S * P.ws;
  for (int i = 0; i < row; ++i) r[i] = 0.0f;  // borders (the row is in L1 for the copy)
  if (sr == nullptr) return;
  if constexpr (S == 1) {
    std::memcpy(r + P.pad_left, sr, sizeof(float) * P.w_in);
  } else if constexpr (S == 2) {
    // Column col = x + pad_left goes to phase col % 2 at col / 2: split pairs of
    // input columns with vector shuffles (a strided loop would compile to gathers).
    float* ev = r + (P.pad_left % 2 == 0 ? 0 : P.ws) + P.pad_left / 2;       // x even
    float* od = r + (P.pad_left % 2 == 0 ? P.ws : 0) + (P.pad_left + 1) / 2;  // x odd
    int x = 0;
    for (; x + 2 * kVL <= P.w_in; x += 2 * kVL) {
      vfloat e, o;
      vdeinterleave2(sr + x, e, o);
      vstore(ev + x / 2, e);
      vstore(od + x / 2, o);
    }
    for (; x < P.w_in; ++x) (x % 2 == 0 ? ev : od)[x / 2] = sr[x];
  } else {
    // Phase ph holds columns t*S + ph: a contiguous store from a constant-stride read.
    for (int ph = 0; ph < S; ++ph) {
      const int t0 = P.pad_left > ph ? (P.pad_left - ph + S - 1) / S : 0;
      const int t1 = (P.pad_left + P.w_in - ph + S - 1) / S;  // first t with col >= pad_left + w_in
      float* rp = r + ph * P.ws;
      for (int t = t0; t < t1; ++t) rp[t] = sr[t * S + ph - P.pad_left];
    }
  }
}

// Padded rows [r0, r1) of the padded input, counted over all channels (row k is row k % hp
// of channel k / hp): zero-bordered hp x (stride_w * ws) planes.
template <const ConvFastParams& P>
inline void pad_rows(const float* EDGE_RESTRICT in, float* EDGE_RESTRICT dst, long r0, long r1) {
  constexpr int row = P.stride_w * P.ws;
  for (long k = r0; k < r1; ++k) {
    const int c = static_cast<int>(k / P.hp), h = static_cast<int>(k % P.hp) - P.pad_top;
    const float* sr = (h >= 0 && h < P.h_in) ? in + (static_cast<size_t>(c) * P.h_in + h) * P.w_in : nullptr;
    pad_row<P>(sr, dst + static_cast<size_t>(k) * row);
  }
}

// Copy `channels` planes into their padded planes.
template <const ConvFastParams& P>
inline void pad_input(const float* EDGE_RESTRICT in, float* EDGE_RESTRICT dst, int channels) {
  pad_rows<P>(in, dst, 0, static_cast<long>(channels) * P.hp);
}

// Conv output rows [oh0, oh0 + nrows) of every channel into dst[oc*cstride + (oh-oh0)*w_out + ow].
template <const ConvFastParams& P>
inline void conv_rows(const float* EDGE_RESTRICT src, const float* EDGE_RESTRICT wpk, const float* bias,
                      const float* scale, const float* shift, float* EDGE_RESTRICT dst, ptrdiff_t cstride,
                      int oh0, int nrows, float* EDGE_RESTRICT panel) {
  using G = Geometry<P>;
  constexpr int MR = G::MR, RT = G::RT, NV = G::NV, NR = G::NR;
  for (int g = 0; g < P.groups; ++g) {
    const float* xg = src + static_cast<size_t>(g) * G::cin_g * G::plane_p;
    const float* wg = wpk + static_cast<size_t>(g) * G::blocks * G::K * MR;
    const int oc_g = g * G::cout_g;
    if constexpr (G::direct) {
      // The rows are cut into vectors of kVL columns (a row's last vector shifted back to
      // end at w_out, recomputing a few outputs); a tile is any NV of them, across rows,
      // so narrow rows still fill the micro-kernel.  The last tile may be narrower.
      constexpr int vpr = G::vpr;
      // Wrapped: flat positions q = r * row + c of the nrows rows, up to the last output.
      const int flat_len = (nrows - 1) * G::row + P.w_out;
      const int total = G::wrapped ? (flat_len + kVL - 1) / kVL : nrows * vpr;
      // Input channels [ic0, ic0 + KCH) of a tile: a chunk after the first adds the partial
      // sums kept in dst, only the last applies the epilogue (KCH == cin_g: one chunk).
      auto tile = [&](int t0, auto nv_c, int bk0, int bk1, int ic0, auto kch_c) {
        constexpr int V = decltype(nv_c)::value, KCH = decltype(kch_c)::value;
        constexpr int TR = V == 1 ? MR : RT;  // a one-vector tile takes the whole block
        const bool first = ic0 == 0, last = ic0 + KCH == G::cin_g;
        int xoff[V], doff[V];
        for (int v = 0; v < V; ++v) {
          const int idx = t0 + v;
          if constexpr (G::wrapped) {
            const int q = idx * kVL + kVL <= flat_len ? idx * kVL : flat_len - kVL;  // the last ends at the last output
            xoff[v] = oh0 * G::row + q;
            doff[v] = q;
            continue;
          }
          const int r = idx / vpr;
          int c = (idx % vpr) * kVL;
          if (c + kVL > P.w_out) c = P.w_out - kVL;
          xoff[v] = (oh0 + r) * P.stride_h * G::row + c;
          doff[v] = r * P.w_out + c;
        }
        for (int bk = bk0; bk < bk1; ++bk)
          for (int r0 = 0; r0 < MR && bk * MR + r0 < G::cout_g; r0 += TR) {
            vfloat acc[TR][V];
            micro<MR, TR, V, KCH, P.k_h, P.k_w, P.stride_w, P.dil_w, P.ws>(
                wg + (static_cast<size_t>(bk) * G::K + static_cast<size_t>(ic0) * P.k_h * P.k_w) * MR + r0,
                xg + static_cast<size_t>(ic0) * G::plane_p, G::plane_p, P.dil_h * G::row, xoff, acc);
            const int oc = bk * MR + r0, rows = G::cout_g - oc < TR ? G::cout_g - oc : TR;
            if (!first)  // every partial sum of the tile is read before any is written (vectors may overlap)
              for (int r = 0; r < rows; ++r)
                for (int v = 0; v < V; ++v) acc[r][v] += vload(dst + (oc_g + oc + r) * cstride + doff[v]);
            if (last) {
              epilogue<P, TR, V, G::wrapped ? G::row : 0>(acc, oc_g + oc, rows, V * kVL, bias, scale, shift, dst,
                                                          cstride, doff);
            } else {
              for (int r = 0; r < rows; ++r)
                for (int v = 0; v < V; ++v) vstore(dst + (oc_g + oc + r) * cstride + doff[v], acc[r][v]);
            }
          }
      };
      auto tiles = [&](int bk0, int bk1, int ic0, auto kch_c) {
        int t0 = 0;
        if constexpr (G::kchunk < G::cin_g) {
          // A row's shifted last vector overlaps the one before it: chunked partial sums are
          // only right if both sit in one tile, so the last tile is never a single vector.
          if (total % NV == 1 && total > NV) {
            for (; t0 + 2 * NV + 1 <= total; t0 += NV) tile(t0, std::integral_constant<int, NV>(), bk0, bk1, ic0, kch_c);
            tile(t0, std::integral_constant<int, NV - 1>(), bk0, bk1, ic0, kch_c);
            tile(t0 + NV - 1, std::integral_constant<int, 2>(), bk0, bk1, ic0, kch_c);
            return;
          }
        }
        for (; t0 + NV <= total; t0 += NV) tile(t0, std::integral_constant<int, NV>(), bk0, bk1, ic0, kch_c);
        // Remainder: one narrower tile (NV <= 8).
        switch (total - t0) {
          case 1: tile(t0, std::integral_constant<int, 1>(), bk0, bk1, ic0, kch_c); break;
          case 2: if constexpr (NV > 2) tile(t0, std::integral_constant<int, 2>(), bk0, bk1, ic0, kch_c); break;
          case 3: if constexpr (NV > 3) tile(t0, std::integral_constant<int, 3>(), bk0, bk1, ic0, kch_c); break;
          case 4: if constexpr (NV > 4) tile(t0, std::integral_constant<int, 4>(), bk0, bk1, ic0, kch_c); break;
          case 5: if constexpr (NV > 5) tile(t0, std::integral_constant<int, 5>(), bk0, bk1, ic0, kch_c); break;
          case 6: if constexpr (NV > 6) tile(t0, std::integral_constant<int, 6>(), bk0, bk1, ic0, kch_c); break;
          case 7: if constexpr (NV > 7) tile(t0, std::integral_constant<int, 7>(), bk0, bk1, ic0, kch_c); break;
          default: break;
        }
      };
      constexpr int KCH = G::kchunk, KCH_FULL = G::cin_g / KCH * KCH;
      if constexpr (KCH < G::cin_g) {
        // Chunked (a wide 1x1 with a long reduction over a small plane, more weights than
        // input): a tile's chunk of input (KCH x NV vectors) stays in L1 while every weight
        // block passes over it, and the weights, read as broadcasts, stream from L2.
        for (int ic0 = 0; ic0 < KCH_FULL; ic0 += KCH) tiles(0, G::blocks, ic0, std::integral_constant<int, KCH>());
        if constexpr (KCH_FULL < G::cin_g)
          tiles(0, G::blocks, KCH_FULL, std::integral_constant<int, G::cin_g - KCH_FULL>());
      } else if constexpr (G::weights_outer) {
        // More weights than input: each weight block stays in L1 while every tile passes over it.
        for (int bk = 0; bk < G::blocks; ++bk) tiles(bk, bk + 1, 0, std::integral_constant<int, G::cin_g>());
      } else {
        // Otherwise each input tile stays while every weight block passes over it.
        tiles(0, G::blocks, 0, std::integral_constant<int, G::cin_g>());
      }
    } else {
      // Full tiles of NR pixels, then one-vector tiles for the rest.  With a whole-plane
      // panel (small planes, P.whole_panel) every tile is packed first and the reduction
      // runs in chunks, each chunk of the weights read from memory once for all tiles.
      const int p_begin = oh0 * P.w_out, p_end = (oh0 + nrows) * P.w_out;
      const int full = (p_end - p_begin) / NR;
      const int tail = (p_end - p_begin - full * NR + kVL - 1) / kVL;
      const int ntiles = full + tail;
      auto tile_p0 = [&](int t) { return p_begin + (t < full ? t * NR : full * NR + (t - full) * kVL); };
      auto tile_panel = [&](int t) {
        return P.whole_panel ? panel + static_cast<size_t>(t < full ? t * NR : full * NR + (t - full) * kVL) * G::K
                             : panel;
      };
      auto pack = [&](int t) {
        const int w = t < full ? NR : kVL, p0 = tile_p0(t);
        const int np = p_end - p0 < w ? p_end - p0 : w;
        int base[NR];
        for (int j = 0; j < w; ++j) {
          const int p = p0 + (j < np ? j : np - 1);  // tail lanes repeat the last pixel
          base[j] = (p / P.w_out) * P.stride_h * G::row + p % P.w_out;
        }
        float* pk = tile_panel(t);
        if constexpr (P.k_h == 1 && P.k_w == 1 && P.h_out == 1 && P.stride_w == 1 && !P.padded) {
          // Flattened 1x1 conv: a tile is a contiguous run of each channel.
          for (int ic = 0; ic < G::cin_g; ++ic, pk += w) {
            const float* src = xg + static_cast<size_t>(ic) * G::plane_p + p0;
            for (int j = 0; j < w; ++j) pk[j] = src[j < np ? j : np - 1];
          }
          return;
        }
        for (int ic = 0; ic < G::cin_g; ++ic)
          for (int kh = 0; kh < P.k_h; ++kh)
            for (int kw = 0; kw < P.k_w; ++kw) {
              const float* src = xg + static_cast<size_t>(ic) * G::plane_p + kh * P.dil_h * G::row +
                                 col_off<P.stride_w, P.dil_w, P.ws>(kw);
              for (int j = 0; j < w; ++j) pk[j] = src[base[j]];
              pk += w;
            }
      };
      // K is split into chunks of KC so a chunk of the panel stays in L2 while every
      // weight block passes over it; chunks after the first add to the partial sums
      // kept in dst, and only the last applies the epilogue.
      auto run = [&](int t, int bk, int r0, int kc0, auto kc_len) {
        constexpr int KCN = decltype(kc_len)::value;
        const bool first = kc0 == 0, last = kc0 + KCN == G::K;
        const int w = t < full ? NR : kVL;
        const float* wb = wg + (static_cast<size_t>(bk) * G::K + kc0) * MR + r0;
        const float* pb = tile_panel(t) + static_cast<size_t>(kc0) * w;
        // A one-vector tail tile takes the whole block (MR x 1 accumulators fit any register file).
        if (t >= full && r0 != 0) return;
        const int tr = t < full ? RT : MR;
        const int oc = bk * MR + r0, rows = G::cout_g - oc < tr ? G::cout_g - oc : tr;
        const int p0 = tile_p0(t);
        const int np = p_end - p0 < w ? p_end - p0 : w;
        float* d = dst + (p0 - p_begin);
        auto finish = [&](auto& acc) {
          constexpr int R = sizeof(acc) / sizeof(acc[0]);
          constexpr int V = sizeof(acc[0]) / sizeof(vfloat);
          if (!first) {
            alignas(64) float prev[V * kVL] = {};
            for (int r = 0; r < rows; ++r) {
              std::memcpy(prev, d + (oc_g + oc + r) * cstride, sizeof(float) * np);
              for (int v = 0; v < V; ++v) acc[r][v] += vload(prev + v * kVL);
            }
          }
          if (last) {
            epilogue<P, R, V>(acc, oc_g + oc, rows, np, bias, scale, shift, d, cstride, nullptr);
          } else {
            alignas(64) float tmp[V * kVL];
            for (int r = 0; r < rows; ++r) {
              for (int v = 0; v < V; ++v) vstore(tmp + v * kVL, acc[r][v]);
              std::memcpy(d + (oc_g + oc + r) * cstride, tmp, sizeof(float) * np);
            }
          }
        };
        if (t < full) {
          int voff[NV];
          for (int v = 0; v < NV; ++v) voff[v] = v * kVL;
          vfloat acc[RT][NV];
          micro<MR, RT, NV, KCN, 1, 1, 1, 0, 0>(wb, pb, NR, 0, voff, acc);
          finish(acc);
        } else {
          const int voff[1] = {0};
          vfloat acc[MR][1];
          micro<MR, MR, 1, KCN, 1, 1, 1, 0, 0>(wb, pb, kVL, 0, voff, acc);
          finish(acc);
        }
      };
      constexpr int KC = G::K < 256 ? G::K : 128;  // a panel chunk (KC x NR) stays in L1
      constexpr int KFULL = G::K / KC * KC;
      // Each (block, row sub-tile) of the output channels: bk * MR + r0 < cout_g.
      constexpr int subtiles = (G::cout_g + RT - 1) / RT;
      auto pass = [&](int t, int bk) {
        for (int r0 = 0; r0 < MR && bk * MR + r0 < G::cout_g; r0 += RT) {
          for (int kc0 = 0; kc0 < KFULL; kc0 += KC) run(t, bk, r0, kc0, std::integral_constant<int, KC>());
          if constexpr (KFULL < G::K) run(t, bk, r0, KFULL, std::integral_constant<int, G::K - KFULL>());
        }
      };
      if constexpr (P.whole_panel) {
        // A tile's panel chunk (KC x NR, read as vectors) stays in L1 while every weight
        // sub-tile's chunk (read as broadcasts, a quarter of the bytes per FMA) streams from L2.
        for (int t = 0; t < ntiles; ++t) pack(t);
        for (int kc0 = 0; kc0 < KFULL; kc0 += KC)
          for (int t = 0; t < ntiles; ++t)
            for (int st = 0; st < subtiles; ++st)
              run(t, st * RT / MR, st * RT % MR, kc0, std::integral_constant<int, KC>());
        if constexpr (KFULL < G::K)
          for (int t = 0; t < ntiles; ++t)
            for (int st = 0; st < subtiles; ++st)
              run(t, st * RT / MR, st * RT % MR, KFULL, std::integral_constant<int, G::K - KFULL>());
      } else {
        for (int t = 0; t < ntiles; ++t) {
          pack(t);
          for (int bk = 0; bk < G::blocks; ++bk) pass(t, bk);
        }
      }
    }
  }
}

// One pooled row of the fused MaxPool from the pre-pool rows at `rows` (row stride w_out).
// The common 2- and 3-wide, stride-2 windows run a vector of outputs at a time (even and odd
// columns split by one shuffle, and once more from the next column for the third; a row's
// last vector shifted back to end at pool_w_out).
template <const ConvFastParams& P>
inline void pool_row(const float* EDGE_RESTRICT rows, float* EDGE_RESTRICT o) {
  // Pooled column pc reads conv columns s pc - pad_left + j; the vector path takes the columns
  // whose windows and deinterleaved reads stay inside the row, the scalar loop the rest.
  constexpr int pl = P.pool_pad_left;
  constexpr int pc_lo = (pl + P.pool_s_w - 1) / P.pool_s_w;
  // The last vector's reads end at column 2 at - pl + 31 (+ 1 for a 3-wide window): at most w_out - 1.
  constexpr int reach = P.w_out - (P.pool_k_w == 3 ? 33 : 32) + pl;
  constexpr int at_max = reach >= 0 ? reach / 2 : (reach - 1) / 2;
  constexpr int pc_hi = at_max + kVL < P.pool_w_out ? at_max + kVL : P.pool_w_out;
  int pc = 0;
  auto scalar = [&](int c) {
    float m = -INFINITY;
    for (int i = 0; i < P.pool_k_h; ++i)
      for (int j = 0; j < P.pool_k_w; ++j) {
        const int col = c * P.pool_s_w - pl + j;
        if (col >= 0 && col < P.w_out) m = max_nan(m, rows[i * P.w_out + col]);
      }
    o[c] = m;
  };
  if constexpr ((P.pool_k_w == 2 || P.pool_k_w == 3) && P.pool_s_w == 2 && at_max >= pc_lo && pc_hi - pc_lo >= kVL) {
    for (; pc < pc_lo; ++pc) scalar(pc);
    for (int pc0 = pc_lo; pc0 < pc_hi; pc0 += kVL) {
      const int at = pc0 + kVL <= pc_hi ? pc0 : pc_hi - kVL;
      vfloat m = vsplat(-INFINITY);
      for (int i = 0; i < P.pool_k_h; ++i) {
        const float* r = rows + i * P.w_out + 2 * at - pl;
        vfloat e, d;
        vdeinterleave2(r, e, d);  // columns 2 pc - pl and 2 pc - pl + 1
        m = vmax_nan(vmax_nan(m, e), d);
        if constexpr (P.pool_k_w == 3) {  // column 2 pc - pl + 2
          vfloat odd, next;
          vdeinterleave2(r + 1, odd, next);
          m = vmax_nan(m, next);
        }
      }
      vstore(o + at, m);
    }
    pc = pc_hi;
  }
  for (; pc < P.pool_w_out; ++pc) scalar(pc);
}

}  // namespace conv_detail

// Scratch floats the fast conv needs on this target (the compiler reserves an upper bound).
template <const ConvFastParams& P>
constexpr int conv_gemm_scratch_floats() {
  using G = conv_detail::Geometry<P>;
  return G::pad_floats + G::panel_floats + (P.pool_k_h ? P.c_out * G::chunk_rows * P.w_out : 0);
}

// Scratch floats of one thread's part beyond the shared padded input (im2col panel, pre-pool rows).
template <const ConvFastParams& P>
constexpr int conv_gemm_part_floats() {
  using G = conv_detail::Geometry<P>;
  return G::panel_floats + (P.pool_k_h ? P.c_out * G::chunk_rows * P.w_out : 0);
}

// Output rows (pooled rows when a MaxPool is fused) of thread part `part` of `parts`.
template <const ConvFastParams& P>
constexpr int conv_gemm_part_row(int part, int parts) {
  return static_cast<int>(static_cast<long>(P.pool_k_h ? P.pool_h_out : P.h_out) * part / parts);
}

// Threaded form, step 1 (batch 1): part `part` of `parts` pads its share of the input rows
// into the shared padded plane at the start of scratch.
template <const ConvFastParams& P>
inline void conv2d_gemm_f32_pad(const float* EDGE_RESTRICT in, float* EDGE_RESTRICT scratch, int part, int parts) {
  static_assert(P.n == 1, "the threaded conv runs batch 1");
  if constexpr (P.padded) {
    constexpr long rows = static_cast<long>(P.c_in) * P.hp;  // shared out by padded rows: balanced
    conv_detail::pad_rows<P>(in, scratch, rows * part / parts, rows * (part + 1) / parts);
  }
}

// Conv rows [r0, r1) (pooled rows with a fused MaxPool) of batch item `src` (padded if P.padded)
// into `out`; `work` holds the im2col panel and the pre-pool rows.
template <const ConvFastParams& P>
inline void conv_gemm_rows(const float* EDGE_RESTRICT src, const float* EDGE_RESTRICT wpk, const float* bias,
                           const float* scale, const float* shift, float* EDGE_RESTRICT out,
                           float* EDGE_RESTRICT work, int r0, int r1) {
  using G = conv_detail::Geometry<P>;
  float* panel = work;
  if constexpr (P.pool_k_h == 0) {
    conv_detail::conv_rows<P>(src, wpk, bias, scale, shift, out + static_cast<size_t>(r0) * P.w_out,
                              static_cast<ptrdiff_t>(P.h_out) * P.w_out, r0, r1 - r0, panel);
  } else {
    float* rows_buf = panel + G::panel_floats;
    constexpr int pplane = P.pool_h_out * P.pool_w_out;
    constexpr ptrdiff_t cs = static_cast<ptrdiff_t>(G::chunk_rows) * P.w_out;
    // Overlapping windows (3 x 3, stride 2): the last `overlap` conv rows of a chunk are the first
    // of the next, moved to the front of each channel's rows instead of computed again.  Slot j of
    // a chunk holds conv row pr0 * s - pad_top + j; rows above and below the conv output (the
    // pool's padding) hold -inf.
    constexpr int overlap = P.pool_k_h > P.pool_s_h ? P.pool_k_h - P.pool_s_h : 0;
    auto fill_inf = [&](int j0, int j1) {
      for (int c = 0; c < P.c_out; ++c)
        std::fill(rows_buf + c * cs + static_cast<ptrdiff_t>(j0) * P.w_out,
                  rows_buf + c * cs + static_cast<ptrdiff_t>(j1) * P.w_out, -INFINITY);
    };
    int kept = 0;  // rows at the front of rows_buf carried from the chunk before
    for (int pr0 = r0; pr0 < r1; pr0 += P.pool_rows) {
      const int prn = r1 - pr0 < P.pool_rows ? r1 - pr0 : P.pool_rows;
      const int nrows = (prn - 1) * P.pool_s_h + P.pool_k_h;
      const int base = pr0 * P.pool_s_h - P.pool_pad_top;  // conv row of slot 0
      if (kept == 0 && base < 0) {
        fill_inf(0, -base);
        kept = -base;
      }
      const int valid = P.h_out - base < nrows ? P.h_out - base : nrows;  // slots past it: bottom padding
      if (valid < nrows) fill_inf(valid > kept ? valid : kept, nrows);
      if (valid > kept)
        conv_detail::conv_rows<P>(src, wpk, bias, scale, shift, rows_buf + static_cast<ptrdiff_t>(kept) * P.w_out, cs,
                                  base + kept, valid - kept, panel);
      for (int c = 0; c < P.c_out; ++c) {
        const float* cb = rows_buf + c * cs;
        for (int pr = 0; pr < prn; ++pr)
          conv_detail::pool_row<P>(cb + pr * P.pool_s_h * P.w_out,
                                   out + static_cast<size_t>(c) * pplane + static_cast<size_t>(pr0 + pr) * P.pool_w_out);
      }
      if constexpr (overlap > 0) {
        for (int c = 0; c < P.c_out; ++c)
          std::memmove(rows_buf + c * cs, rows_buf + c * cs + static_cast<ptrdiff_t>(nrows - overlap) * P.w_out,
                  sizeof(float) * overlap * P.w_out);
        kept = overlap;
      }
    }
  }
}

template <const ConvFastParams& P>
inline void conv2d_gemm_f32(const float* EDGE_RESTRICT in, const float* EDGE_RESTRICT wpk, const float* bias,
                            const float* scale, const float* shift, float* EDGE_RESTRICT out,
                            float* EDGE_RESTRICT scratch) {
  using G = conv_detail::Geometry<P>;
  constexpr size_t in_item = static_cast<size_t>(P.c_in) * P.h_in * P.w_in;
  constexpr size_t out_item = static_cast<size_t>(P.c_out) * (P.pool_k_h ? P.pool_h_out * P.pool_w_out : P.h_out * P.w_out);
  for (int b = 0; b < P.n; ++b) {
    const float* src = in + b * in_item;
    if constexpr (P.padded) {
      conv_detail::pad_input<P>(src, scratch, P.c_in);
      src = scratch;
    }
    conv_gemm_rows<P>(src, wpk, bias, scale, shift, out + b * out_item, scratch + G::pad_floats, 0,
                      P.pool_k_h ? P.pool_h_out : P.h_out);
  }
}

// Threaded form, step 2 (after every part's conv2d_gemm_f32_pad): part `part` of `parts`
// computes its rows, with its own panel at scratch + pad + part * conv_gemm_part_floats.
template <const ConvFastParams& P>
inline void conv2d_gemm_f32_part(const float* EDGE_RESTRICT in, const float* EDGE_RESTRICT wpk, const float* bias,
                                 const float* scale, const float* shift, float* EDGE_RESTRICT out,
                                 float* EDGE_RESTRICT scratch, int part, int parts) {
  static_assert(P.n == 1, "the threaded conv runs batch 1");
  using G = conv_detail::Geometry<P>;
  const float* src = P.padded ? scratch : in;
  conv_gemm_rows<P>(src, wpk, bias, scale, shift, out,
                    scratch + G::pad_floats + static_cast<size_t>(part) * conv_gemm_part_floats<P>(),
                    conv_gemm_part_row<P>(part, parts), conv_gemm_part_row<P>(part + 1, parts));
}

namespace conv_detail {

// NB independent vectors of a depthwise output plane, items i0 .. i0 + NB - 1 of the
// plane's vectors in row order (vpr a row; a row's last vector shifted back to end at
// w_out when the row is wide enough).  NB accumulators keep NB FMA chains in flight,
// where one vector at a time waits on each tap's FMA latency.
template <const ConvFastParams& P, int NB>
EDGE_ALWAYS_INLINE void dw_vectors(const float* EDGE_RESTRICT plane, float* EDGE_RESTRICT o, int i0,
                                   const vfloat* wv, vfloat bv) {
  constexpr int row = P.stride_w * P.ws;
  constexpr int vpr = (P.w_out + kVL - 1) / kVL;
  const float* src[NB];
  int dst[NB], n[NB];
  vfloat acc[NB];
  for (int j = 0; j < NB; ++j) {
    const int oh = (i0 + j) / vpr, ow0 = (i0 + j) % vpr * kVL;
    const int ow = (P.w_out >= kVL && ow0 + kVL > P.w_out) ? P.w_out - kVL : ow0;
    src[j] = plane + static_cast<size_t>(oh) * P.stride_h * row + ow;
    dst[j] = oh * P.w_out + ow;
    n[j] = P.w_out - ow < kVL ? P.w_out - ow : kVL;
    acc[j] = bv;
  }
  for (int kh = 0; kh < P.k_h; ++kh)
    for (int kw = 0; kw < P.k_w; ++kw) {
      const int off = kh * P.dil_h * row + col_off<P.stride_w, P.dil_w, P.ws>(kw);
      for (int j = 0; j < NB; ++j) acc[j] += wv[kh * P.k_w + kw] * vload(src[j] + off);
    }
  activate_vec_n<P.act>(acc, P.act_alpha, P.act_beta);
  for (int j = 0; j < NB; ++j) {  // one store (masked for narrow rows)
    if (P.w_out >= kVL)
      vstore(o + dst[j], acc[j]);
    else
      vstore_lanes(o + dst[j], acc[j], 0, n[j]);
  }
}

}  // namespace conv_detail

// Depthwise: one channel per group, one filter per channel.  Each channel is
// copied into a padded, phase-split plane in scratch; the output plane's vectors
// of columns (every tap a contiguous load) are computed four at a time.  Rows
// narrower than a vector compute a whole vector (reading the slack the
// compiler reserves after the plane) and store only the valid columns.
template <const ConvFastParams& P>
inline void conv2d_dw_f32(const float* EDGE_RESTRICT in, const float* EDGE_RESTRICT w, const float* bias,
                          float* EDGE_RESTRICT out, float* EDGE_RESTRICT scratch) {
  constexpr int plane_in = P.h_in * P.w_in, plane_out = P.h_out * P.w_out;
  constexpr int row = P.stride_w * P.ws;
  constexpr int KT = P.k_h * P.k_w;
  constexpr int NB = 4, items = P.h_out * ((P.w_out + kVL - 1) / kVL);
  // The slack after the plane is read by whole-vector loads of narrow rows: keep it defined.
  for (int i = 0; i < 2 * kVL; ++i) scratch[P.hp * row + i] = 0.0f;
  for (int b = 0; b < P.n; ++b) {
    for (int c = 0; c < P.c_out; ++c) {
      conv_detail::pad_input<P>(in + (static_cast<size_t>(b) * P.c_in + c) * plane_in, scratch, 1);
      vfloat wv[KT];
      for (int t = 0; t < KT; ++t) wv[t] = vsplat(w[static_cast<size_t>(c) * KT + t]);
      const vfloat bv = vsplat(bias ? bias[c] : 0.0f);
      float* o = out + (static_cast<size_t>(b) * P.c_out + c) * plane_out;
      int i = 0;
      for (; i + NB <= items; i += NB) conv_detail::dw_vectors<P, NB>(scratch, o, i, wv, bv);
      if constexpr (items % NB != 0) conv_detail::dw_vectors<P, items % NB>(scratch, o, i, wv, bv);
    }
  }
}

}  // namespace edge_sdk
