// Direct AVX-512 VNNI int8 convolution with output channels in the lanes, for small planes and
// strided layers (ResNet's 7x7 and 14x14 stages, its stride-2 convs), bit-exact with
// conv2d_s8_reference (qconv.h).
//
// The pixel-lane kernels fill a vector with 16 output pixels of one channel: a 7x7 plane leaves
// a quarter of the lanes idle (49 of 64, plus the padded columns), and a stride-2 conv cannot
// read 16 neighbouring pixels as one load.  Here a vector holds 16 output channels of one pixel:
// vpdpbusd multiplies the pixel's 4 input channels (one dword of a quad plane, broadcast) by the
// 16 x 4 weights of that tap (one 64-byte vector of quad_weights, the layout the channel-quad
// kernel reads), so any plane size and any stride keeps every lane busy.  A tile holds J x I
// accumulators, J blocks of 16 channels by I output pixels (consecutive in the flattened plane,
// so a tile may span rows); each step loads J weight vectors and broadcasts I dwords for J * I
// multiply-adds.  The input is packed, padded for the stride, as channel quads (quad_pack in
// qconv_x86_quad.h) or, for a wide kernel over few channels (a 7x7 stem on RGB), as tap quads
// (tap_pack, CoutLayout below).
// Requantization is per lane (requantize_s8_x16_lanes: short shifts only, the compiler sets
// QConvParams::cout_lanes where QConvParams::short_requant holds).
#pragma once

#include <string.h>

#include <type_traits>
#include <utility>

#include "qconv_x86_quad.h"

#if defined(EDGE_Q8_HAVE_VNNI_QUAD)
#define EDGE_Q8_HAVE_VNNI_COUT 1

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h)

namespace edge_sdk {
namespace q8 {

// Half-cycles of one (quad, tap) step of a J x I tile: two vpdpbusd and two loads a cycle, and at
// least 5 cycles (vpdpbusd's latency) for each accumulator's chain.
constexpr int cout_step_cost(int j, int i) {
  const int busy = j * i > j + i ? j * i : j + i;
  return busy > 10 ? busy : 10;
}

// Half-cycles of a J x I tile's epilogue: about 15 vector uops a requantized vector (two vector
// ports), a 16-dword scatter for each 4 pixels, 16 byte moves for each pixel left over.
constexpr int cout_epilogue_cost(int j, int i) { return j * (15 * i + 20 * (i / 4) + 32 * (i % 4)); }

constexpr int cout_tile_cost(int steps, int j, int i) { return steps * cout_step_cost(j, i) + cout_epilogue_cost(j, i); }

// A layer's cost with J x I tiles and the tails (blocks % J, pixels % I); steps: per tile.
constexpr long cout_layer_cost(int blocks, int pixels, int steps, int j, int i) {
  const long nj = blocks / j, jt = blocks % j, ni = pixels / i, it = pixels % i;
  return nj * ni * cout_tile_cost(steps, j, i) + (it ? nj * cout_tile_cost(steps, j, it) : 0) +
         (jt ? ni * cout_tile_cost(steps, jt, i) : 0) + (jt && it ? cout_tile_cost(steps, jt, it) : 0);
}

struct CoutTile {
  int j, i;
};

// The cheapest tile of at most 24 accumulators (with the weights and a broadcast, 29 of the 32
// registers; 27 accumulators spilled on ResNet's 7x7 layers) and 8 pixels (their offsets stay
// in general registers).
constexpr CoutTile cout_tile(int blocks, int pixels, int steps) {
  CoutTile best{1, 1};
  long best_cost = cout_layer_cost(blocks, pixels, steps, 1, 1);
  for (int j = 1; j <= 4 && j <= blocks; ++j)
    for (int i = 1; i <= 8 && i <= pixels; ++i) {
      const long cost = cout_layer_cost(blocks, pixels, steps, j, i);
      if (j * i <= 24 && cost < best_cost) best = {j, i}, best_cost = cost;
    }
  return best;
}

// Input quads a pass: an oc tile's weights for one pass stay within kCoutL1Weights bytes, so each
// pixel tile after the first reads them from L1; the accumulators go to scratch between passes.
constexpr int kCoutL1Weights = 16384;

// What a dword of the packed input holds.  Channel quads (quad_pack): input channels 4q..4q+3 of
// one padded pixel, steps (q, kh, kw).  Tap quads (tap_pack, for layers with few input channels,
// such as a 7x7 stem on RGB): 4 neighbouring columns of one channel's padded row, steps (c, kh, r)
// for kernel columns 4r..4r+3.  Tap quads where they leave fewer idle bytes: k_w / 4R > c_in / 4CQ.
template <const QConvParams& P>
struct CoutLayout {
  static constexpr int R = (P.k_w + 3) / 4;
  static constexpr bool taps = P.k_w * QuadGeometry<P>::CQ > P.c_in * R;
  static constexpr int quads = taps ? P.c_in : QuadGeometry<P>::CQ;  // the outer step
  static constexpr int cols = taps ? R : P.k_w;                    // steps along a kernel row
  static constexpr int pixel = taps ? 1 : 4;                       // bytes between padded pixels
  static constexpr int row = taps ? (P.w_out - 1) * P.stride_w + 4 * R : QuadGeometry<P>::Wp * 4;  // bytes
  static constexpr size_t plane = taps ? (static_cast<size_t>(QuadGeometry<P>::Hp) * row + 63) / 64 * 64
                                       : QuadGeometry<P>::plane;
};

// One channel's padded rows as bytes u = x + 128 (padding zp_in + 128, real 0), each row long
// enough for the last pixel's last tap quad; channel c at planes + c * CoutLayout<P>::plane.
template <const QConvParams& P>
inline void tap_pack(const int8_t* in_b, uint8_t* planes) {
  using L = CoutLayout<P>;
  constexpr int Hp = QuadGeometry<P>::Hp;
  constexpr int cols = P.w_in < L::row - P.pad_left ? P.w_in : L::row - P.pad_left;
  memset(planes, static_cast<uint8_t>(P.zp_in + 128), P.c_in * L::plane);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int c = 0; c < P.c_in; ++c)
    for (int ih = 0; ih < P.h_in && ih + P.pad_top < Hp; ++ih) {
      const int8_t* src = in_b + (static_cast<size_t>(c) * P.h_in + ih) * P.w_in;
      uint8_t* dst = planes + c * L::plane + static_cast<size_t>(ih + P.pad_top) * L::row + P.pad_left;
      for (int x = 0; x < cols; x += 64) {
        const __mmask64 k = cols - x >= 64 ? ~__mmask64{0} : (__mmask64{1} << (cols - x)) - 1;
        _mm512_mask_storeu_epi8(dst + x, k, _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src + x), flip));
      }
    }
}

// Input quads a pass for tiles of J blocks: their weights for one pass stay within kCoutL1Weights.
template <const QConvParams& P, int J>
struct CoutPasses {
  static constexpr int per_quad = J * 16 * P.k_h * CoutLayout<P>::cols * 4;  // weight bytes
  static constexpr int fit = kCoutL1Weights / per_quad > 0 ? kCoutL1Weights / per_quad : 1;
  static constexpr int CQ = CoutLayout<P>::quads;
  static constexpr bool passes = fit < CQ;
  // as many quads in each pass as the fewest passes allow (16 quads in 7, 7, 2 would end on a short one)
  static constexpr int pass_quads = passes ? (CQ + (CQ + fit - 1) / fit - 1) / ((CQ + fit - 1) / fit) : CQ;
};

// Blocks of 16 output channels; where c_out is not a multiple of 16, the compiler pads the weights,
// bias and requantization arrays to whole blocks, and the last block stores only its channels.
template <const QConvParams& P>
struct CoutPlan {
  static constexpr int blocks = (P.c_out + 15) / 16;
  static constexpr int pixels = P.h_out * P.w_out;
  static constexpr CoutTile tile = cout_tile(blocks, pixels, CoutLayout<P>::quads * P.k_h * CoutLayout<P>::cols);
  static constexpr int CQ = CoutLayout<P>::quads;
  static constexpr bool passes = CoutPasses<P, tile.j>::passes;
  static constexpr int pass_quads = CoutPasses<P, tile.j>::pass_quads;
  // partial sums of one oc tile between passes: [pixel][j][16] int32
  static constexpr size_t partial = passes ? static_cast<size_t>(pixels) * tile.j * 64 : 0;
};

template <const QConvParams& P>
constexpr size_t vnni_cout_scratch_bytes() {
  return CoutLayout<P>::quads * CoutLayout<P>::plane + CoutPlan<P>::partial;
}

// Four pixels' 16 channel bytes (a, b, c, d) as 16 dwords, dword k = channel k's bytes of a, b, c, d:
// a dword transpose across the 128-bit lanes, then a 4x4 byte transpose within each.
EDGE_Q8_INLINE __m512i cout_transpose_4x16(__m128i a, __m128i b, __m128i c, __m128i d) {
  const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(b, a)), _mm256_set_m128i(d, c), 1);
  // lane m takes dword m of each pixel: [a_m, b_m, c_m, d_m]
  const __m512i by_quad = _mm512_permutexvar_epi32(
      _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), v);
  const __m512i bytes = _mm512_set4_epi32(0x0F0B0703, 0x0E0A0602, 0x0D090501, 0x0C080400);
  return _mm512_shuffle_epi8(by_quad, bytes);
}

// The sums of J blocks of 16 channels from block ob at pixels p0 .. p0 + I - 1 (flattened output
// plane) over input quads [q0, q1): from the bias (q0 == 0) or part, this tile's [i][j][16] sums so far.
template <const QConvParams& P, int J, int I>
EDGE_Q8_INLINE void cout_tile_sums(const uint8_t* planes, const int32_t* wq, const int32_t* bias_u8, int ob, int p0,
                                   int q0, int q1, const int32_t* part, __m512i (&acc)[J][I]) {
  using L = CoutLayout<P>;
  constexpr int steps = P.k_h * L::cols;  // a quad's steps
  constexpr size_t block_w = static_cast<size_t>(L::quads) * steps * 16;  // int32 per 16-channel block
  size_t off[I];  // each pixel's top-left tap, in bytes of a packed plane
  for (int i = 0; i < I; ++i) {
    const int oh = (p0 + i) / P.w_out, ow = (p0 + i) % P.w_out;
    off[i] = static_cast<size_t>(oh) * P.stride_h * L::row + static_cast<size_t>(ow) * P.stride_w * L::pixel;
  }
  for (int j = 0; j < J; ++j) {
    const __m512i b = _mm512_loadu_si512(bias_u8 + 16 * (ob + j));
    for (int i = 0; i < I; ++i) acc[j][i] = q0 == 0 ? b : _mm512_loadu_si512(part + (i * J + j) * 16);
  }
  const int32_t* w0 = wq + static_cast<size_t>(ob) * block_w;
  for (int q = q0; q < q1; ++q) {
    const uint8_t* pl = planes + static_cast<size_t>(q) * L::plane;
    const int32_t* wk = w0 + static_cast<size_t>(q) * steps * 16;
    for (int kh = 0; kh < P.k_h; ++kh)
      for (int kc = 0; kc < L::cols; ++kc) {
        const int tap = kh * L::row + kc * 4;
        __m512i w[J];
        for (int j = 0; j < J; ++j) w[j] = _mm512_loadu_si512(wk + j * block_w + (kh * L::cols + kc) * 16);
        for (int i = 0; i < I; ++i) {
          int32_t v;
          memcpy(&v, pl + off[i] + tap, 4);
          const __m512i x = _mm512_set1_epi32(v);
          for (int j = 0; j < J; ++j) acc[j][i] = _mm512_dpbusd_epi32(acc[j][i], x, w[j]);
        }
      }
  }
}

template <int J, int I>
EDGE_Q8_INLINE void cout_store_sums(const __m512i (&acc)[J][I], int32_t* part) {
  for (int j = 0; j < J; ++j)
    for (int i = 0; i < I; ++i) _mm512_storeu_si512(part + (i * J + j) * 16, acc[j][i]);
}

// I pixels' 16 channel bytes to NCHW, where each channel's pixels are together: o is channel 0's
// first pixel, channel c's at o + c * plane (rows: c * plane in lane c); only the first `channels`
// (the last block of a layer whose c_out is not a multiple of 16 has fewer).  Four pixels at a time
// as one dword per channel (cout_transpose_4x16), the rest byte by byte.
template <int I>
EDGE_Q8_INLINE void cout_store_nchw(const __m128i (&px)[I], int8_t* o, __m512i rows, size_t plane, int channels) {
  const __mmask16 k = channels >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << channels) - 1);
  for (int i = 0; i + 4 <= I; i += 4)
    _mm512_mask_i32scatter_epi32(o + i, k, rows, cout_transpose_4x16(px[i], px[i + 1], px[i + 2], px[i + 3]), 1);
  for (int i = I / 4 * 4; i < I; ++i) {
    alignas(16) int8_t b[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(b), px[i]);
    for (int c = 0; c < 16 && c < channels; ++c) o[c * plane + i] = b[c];
  }
}

EDGE_Q8_INLINE __m512i cout_channel_rows(size_t plane) {
  return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                            _mm512_set1_epi32(static_cast<int>(plane)));
}

// J blocks of 16 channels from block ob, pixels p0 .. p0 + I - 1, input quads [q0, q1): to the
// output (q1 == CQ) or to the partial sums.
template <const QConvParams& P, int J, int I>
EDGE_Q8_INLINE void cout_tile_run(const uint8_t* planes, const int32_t* wq, const int32_t* bias_u8,
                                  const LaneRequant* rq, int ob, int p0, int q0, int q1, int32_t* partial,
                                  int8_t* out_b) {
  constexpr size_t plane_out = static_cast<size_t>(P.h_out) * P.w_out;
  int32_t* part = partial + static_cast<size_t>(p0) * J * 16;  // this tile's [i][j][16]
  __m512i acc[J][I];
  cout_tile_sums<P, J, I>(planes, wq, bias_u8, ob, p0, q0, q1, part, acc);
  if (q1 < CoutLayout<P>::quads) {
    cout_store_sums<J, I>(acc, part);
    return;
  }
  const __m512i rows = cout_channel_rows(plane_out);
  for (int j = 0; j < J; ++j) {
    __m128i px[I];
    for (int i = 0; i < I; ++i) px[i] = requantize_s8_x16_lanes<P.act_min, P.act_max>(acc[j][i], rq[ob + j]);
    cout_store_nchw<I>(px, out_b + 16 * (ob + j) * plane_out + p0, rows, plane_out, P.c_out - 16 * (ob + j));
  }
}

// Blocks [ob, ob + J): pass by pass, pixel tiles of I (then the tail).
template <const QConvParams& P, int J, int I>
inline void cout_blocks(const uint8_t* planes, const int32_t* wq, const int32_t* bias_u8, const LaneRequant* rq,
                        int ob, int32_t* partial, int8_t* out_b) {
  using Plan = CoutPlan<P>;
  constexpr int CQ = Plan::CQ;
  for (int q0 = 0; q0 < CQ; q0 += Plan::pass_quads) {
    const int q1 = q0 + Plan::pass_quads < CQ ? q0 + Plan::pass_quads : CQ;
    int p0 = 0;
    for (; p0 + I <= Plan::pixels; p0 += I)
      cout_tile_run<P, J, I>(planes, wq, bias_u8, rq, ob, p0, q0, q1, partial, out_b);
    if constexpr (Plan::pixels % I != 0)
      cout_tile_run<P, J, Plan::pixels % I>(planes, wq, bias_u8, rq, ob, p0, q0, q1, partial, out_b);
  }
}

// What both entry points do per call: each block's requantization constants, then per image the
// input packed into scratch and the blocks run T.j at a time (then the rest) by
// run(std::integral_constant<int, J>, rq, first block, the image's output).
template <const QConvParams& P, int kBlocks, int kJ, size_t kOutImage, class Run>
EDGE_Q8_INLINE void cout_images(const int8_t* in, const int32_t* mult, const int32_t* shift, int8_t* out,
                                uint8_t* scratch, Run&& run) {
  LaneRequant rq[kBlocks];
  for (int ob = 0; ob < kBlocks; ++ob) rq[ob] = lane_requant(mult + 16 * ob, shift + 16 * ob, P.zp_out);
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * P.h_in * P.w_in;
    if constexpr (CoutLayout<P>::taps) {
      tap_pack<P>(in_b, scratch);
    } else {
      quad_pack<P>(in_b, scratch);
    }
    int8_t* out_b = out + b * kOutImage;
    int ob = 0;
    for (; ob + kJ <= kBlocks; ob += kJ) run(std::integral_constant<int, kJ>(), rq, ob, out_b);
    if constexpr (kBlocks % kJ != 0) run(std::integral_constant<int, kBlocks % kJ>(), rq, ob, out_b);
  }
}

// wq: quad_weights (quant_ops.py); scratch: vnni_cout_scratch_bytes<P>().
template <const QConvParams& P>
inline void conv2d_s8_vnni_cout(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wq,
                                const int32_t* EDGE_Q8_RESTRICT bias_u8, const int32_t* mult, const int32_t* shift,
                                int8_t* EDGE_Q8_RESTRICT out, uint8_t* EDGE_Q8_RESTRICT scratch) {
  static_assert(P.short_requant && P.groups == 1 && P.dil_h == 1 && P.dil_w == 1,
                "qconv_x86_cout.h: the compiler sets cout_lanes only where these hold");
  using Plan = CoutPlan<P>;
  int32_t* partial = reinterpret_cast<int32_t*>(scratch + CoutLayout<P>::quads * CoutLayout<P>::plane);
  constexpr size_t out_image = static_cast<size_t>(P.c_out) * P.h_out * P.w_out;
  cout_images<P, Plan::blocks, Plan::tile.j, out_image>(
      in, mult, shift, out, scratch, [&](auto j, const LaneRequant* rq, int ob, int8_t* out_b) {
        cout_blocks<P, decltype(j)::value, Plan::tile.i>(scratch, wq, bias_u8, rq, ob, partial, out_b);
      });
}

// The conv fused with the MaxPool after it (passes/fuse_qconv_epilogue.py: a conv in output-channel
// lanes, such as ResNet's 7x7 stem, then its 3x3 stride-2 pool).  Requantization never decreases
// (a positive multiplier, right shifts, a clamp), so the max of a window's requantized values is
// the requantized max of its int32 sums.  A tile's sums stay in registers: the windows along the
// row are maxed there (a window that starts in the tile before carries its columns in `carry`),
// then into each open pooled row the conv row is in; a pooled row is requantized once its last
// conv row is in, a quarter as many values as the conv's own output for a 3x3/2 window.
//
// Tiles start at multiples of the pool's stride, so every tile sees the same windows at the same
// columns, and a window overlaps at most two tiles (k_w <= stride_w + 1, tiles at least k_w wide).

// Issue slots of a row of J x I tiles (and the tails) for the pooled plan: each step's vpdpbusd and
// loads.  Measured on ResNet's stem: 4x6 < 4x5 < 4x4 < 2x8, as this orders them.
constexpr long cout_pool_row_cost(int blocks, int w, int steps, int j, int i) {
  const long nj = blocks / j, jt = blocks % j, ni = w / i, it = w % i;
  auto tile = [steps](long tj, long ti) { return steps * (tj * ti + tj + ti); };
  return nj * ni * tile(j, i) + (it ? nj * tile(j, it) : 0) + (jt ? ni * tile(jt, i) : 0) + (jt && it ? tile(jt, it) : 0);
}

// The cheapest tile of at most 24 accumulators and max_j blocks whose width is a multiple of the
// stride and at least the window.
constexpr CoutTile cout_pool_tile(int blocks, int w, int steps, int stride, int k, int max_j) {
  CoutTile best{0, 0};
  long best_cost = 0;
  for (int j = 1; j <= max_j && j <= blocks; ++j)
    for (int i = stride; i <= 8; i += stride) {
      const long cost = cout_pool_row_cost(blocks, w, steps, j, i);
      if (i >= k && j * i <= 24 && (best.j == 0 || cost < best_cost)) best = {j, i}, best_cost = cost;
    }
  return best;
}

template <const QConvParams& P, const QPoolWindow& Q>
struct CoutPoolPlan {
  static constexpr int blocks = P.c_out / 16;
  // tiles of up to 4 blocks whose weights for the whole reduction fit kCoutL1Weights (one pass)
  static constexpr int max_j = !CoutPasses<P, 4>::passes ? 4 : !CoutPasses<P, 3>::passes ? 3
                             : !CoutPasses<P, 2>::passes ? 2 : 1;
  static constexpr CoutTile tile =
      cout_pool_tile(blocks, P.w_out, CoutLayout<P>::quads * P.k_h * CoutLayout<P>::cols, Q.stride_w, Q.k_w, max_j);
  static constexpr int ring = (Q.k_h + Q.stride_h - 1) / Q.stride_h;  // pooled rows one conv row is in
  static constexpr size_t open_rows = static_cast<size_t>(ring) * Q.w_out * tile.j * 64;  // [slot][pw][j][16]
  // the conv rows that some window reads
  static constexpr int rows = (Q.h_out - 1) * Q.stride_h - Q.pad_top + Q.k_h < P.h_out
                                  ? (Q.h_out - 1) * Q.stride_h - Q.pad_top + Q.k_h : P.h_out;
};

template <const QConvParams& P, const QPoolWindow& Q>
constexpr size_t vnni_cout_pool_scratch_bytes() {
  return CoutLayout<P>::quads * CoutLayout<P>::plane + CoutPoolPlan<P, Q>::open_rows;
}

// The windows a tile of I columns at x0 (a multiple of the stride) holds: t from window_first to
// window_last, window x0 / stride_w + t, tile columns [t * stride_w - pad_left, + k_w).
constexpr int window_first(int k, int s, int p) {
  int t = -k;
  while (t * s - p + k <= 0) ++t;
  return t;
}
constexpr int window_last(int s, int p, int cols) {
  int t = cols;
  while (t * s - p >= cols) --t;
  return t;
}

// Window t of the tile at x0 (conv row r) into the open pooled rows [lo, hi]; last: the row's last
// tile (windows past it are clipped there); carry: the blocks' max so far of the window the tile
// before left open.  t is a template argument so that every register index is a constant.
template <const QConvParams& P, const QPoolWindow& Q, int J, int I, int t>
EDGE_Q8_INLINE void cout_pool_window(const __m512i (&acc)[J][I], int x0, int r, int lo, int hi, bool last,
                                     __m512i (&carry)[J], int32_t* open) {
  constexpr int c0 = t * Q.stride_w - Q.pad_left, c1 = c0 + Q.k_w;  // the window's columns in the tile
  constexpr int a = c0 < 0 ? 0 : c0, b = c1 < I ? c1 : I;
  constexpr int ring = CoutPoolPlan<P, Q>::ring;
  const int pw = x0 / Q.stride_w + t;
  if (pw < 0 || pw >= Q.w_out) return;
  __m512i m[J];
  for (int j = 0; j < J; ++j) {
    m[j] = acc[j][a];
    for (int c = a + 1; c < b; ++c) m[j] = _mm512_max_epi32(m[j], acc[j][c]);
  }
  if constexpr (c0 < 0) {
    if (x0 > 0)
      for (int j = 0; j < J; ++j) m[j] = _mm512_max_epi32(m[j], carry[j]);
  }
  if constexpr (c1 > I) {
    if (!last) {
      for (int j = 0; j < J; ++j) carry[j] = m[j];
      return;
    }
  }
  for (int ph = lo; ph <= hi; ++ph) {
    int32_t* v = open + ((ph % ring) * Q.w_out + pw) * J * 16;
    if (r == (ph * Q.stride_h - Q.pad_top > 0 ? ph * Q.stride_h - Q.pad_top : 0)) {  // its first conv row
      for (int j = 0; j < J; ++j) _mm512_storeu_si512(v + j * 16, m[j]);
    } else {
      for (int j = 0; j < J; ++j) _mm512_storeu_si512(v + j * 16, _mm512_max_epi32(m[j], _mm512_loadu_si512(v + j * 16)));
    }
  }
}

// The tile's windows: t from window_first to window_last.
template <const QConvParams& P, const QPoolWindow& Q, int J, int I, int... ts>
EDGE_Q8_INLINE void cout_pool_tile(std::integer_sequence<int, ts...>, const __m512i (&acc)[J][I], int x0, int r, int lo,
                                   int hi, __m512i (&carry)[J], int32_t* open) {
  constexpr int t0 = window_first(Q.k_w, Q.stride_w, Q.pad_left);
  const bool last = x0 + I == P.w_out;
  (cout_pool_window<P, Q, J, I, t0 + ts>(acc, x0, r, lo, hi, last, carry, open), ...);
}

template <const QConvParams& P, const QPoolWindow& Q, int J, int I>
EDGE_Q8_INLINE void cout_pool_tile(const __m512i (&acc)[J][I], int x0, int r, int lo, int hi, __m512i (&carry)[J],
                                   int32_t* open) {
  constexpr int t0 = window_first(Q.k_w, Q.stride_w, Q.pad_left), t1 = window_last(Q.stride_w, Q.pad_left, I);
  cout_pool_tile<P, Q, J, I>(std::make_integer_sequence<int, t1 - t0 + 1>{}, acc, x0, r, lo, hi, carry, open);
}

// Requantize pooled pixels pw .. pw + N - 1 of block j of an open row ([pw][j][16] sums) to NCHW at o.
template <const QConvParams& P, int J, int N>
EDGE_Q8_INLINE void cout_pool_pixels(const int32_t* row, const LaneRequant& rq, int j, int pw, int8_t* o, __m512i rows,
                                     size_t plane) {
  __m128i px[N];
  for (int k = 0; k < N; ++k)
    px[k] = requantize_s8_x16_lanes<P.act_min, P.act_max>(_mm512_loadu_si512(row + ((pw + k) * J + j) * 16), rq);
  cout_store_nchw<N>(px, o + pw, rows, plane, 16);
}

// Requantize open pooled row `row` ([pw][j][16] sums) of blocks [ob, ob + J) into output row ph.
template <const QConvParams& P, const QPoolWindow& Q, int J>
inline void cout_pool_emit(const int32_t* row, const LaneRequant* rq, int ob, int ph, int8_t* out_b) {
  constexpr size_t plane = static_cast<size_t>(Q.h_out) * Q.w_out;
  const __m512i rows = cout_channel_rows(plane);
  for (int j = 0; j < J; ++j) {
    int8_t* o = out_b + 16 * (ob + j) * plane + static_cast<size_t>(ph) * Q.w_out;
    int pw = 0;
    for (; pw + 4 <= Q.w_out; pw += 4) cout_pool_pixels<P, J, 4>(row, rq[ob + j], j, pw, o, rows, plane);
    if constexpr (Q.w_out % 4 != 0) cout_pool_pixels<P, J, Q.w_out % 4>(row, rq[ob + j], j, pw, o, rows, plane);
  }
}

// Blocks [ob, ob + J), conv row by conv row: its tiles' sums, pooled along the row and into each open
// pooled row the conv row is in, then the pooled rows it completes, requantized.
template <const QConvParams& P, const QPoolWindow& Q, int J, int I>
inline void cout_pool_blocks(const uint8_t* planes, const int32_t* wq, const int32_t* bias_u8, const LaneRequant* rq,
                             int ob, int32_t* open, int8_t* out_b) {
  using Plan = CoutPoolPlan<P, Q>;
  static_assert(!CoutPasses<P, J>::passes, "a pooled conv keeps its sums in registers: one pass over the input");
  constexpr int CQ = CoutLayout<P>::quads;
  for (int r = 0; r < Plan::rows; ++r) {
    // pooled rows [lo, hi] have conv row r in their windows
    const int lo = r + Q.pad_top < Q.k_h ? 0 : (r + Q.pad_top - Q.k_h) / Q.stride_h + 1;
    const int hi = (r + Q.pad_top) / Q.stride_h < Q.h_out - 1 ? (r + Q.pad_top) / Q.stride_h : Q.h_out - 1;
    if (lo > hi) continue;  // between windows (a stride longer than the window)
    __m512i carry[J];
    int x = 0;
    for (; x + I <= P.w_out; x += I) {
      __m512i acc[J][I];
      cout_tile_sums<P, J, I>(planes, wq, bias_u8, ob, r * P.w_out + x, 0, CQ, nullptr, acc);
      cout_pool_tile<P, Q, J, I>(acc, x, r, lo, hi, carry, open);
    }
    if constexpr (P.w_out % I != 0) {
      constexpr int T = P.w_out % I;
      __m512i acc[J][T];
      cout_tile_sums<P, J, T>(planes, wq, bias_u8, ob, r * P.w_out + x, 0, CQ, nullptr, acc);
      cout_pool_tile<P, Q, J, T>(acc, x, r, lo, hi, carry, open);
    }
    for (int ph = lo; ph <= hi; ++ph) {
      const int end = ph * Q.stride_h - Q.pad_top + Q.k_h;  // one past the window's last conv row
      if (r == (end < P.h_out ? end : P.h_out) - 1)
        cout_pool_emit<P, Q, J>(open + static_cast<size_t>(ph % Plan::ring) * Q.w_out * J * 16, rq, ob, ph, out_b);
    }
  }
}

// The conv, then MaxPool Q; wq: quad_weights or tap_quad_weights (quant_ops.py); scratch:
// vnni_cout_pool_scratch_bytes<P, Q>().
template <const QConvParams& P, const QPoolWindow& Q>
inline void conv2d_s8_vnni_cout_pool(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wq,
                                     const int32_t* EDGE_Q8_RESTRICT bias_u8, const int32_t* mult,
                                     const int32_t* shift, int8_t* EDGE_Q8_RESTRICT out,
                                     uint8_t* EDGE_Q8_RESTRICT scratch) {
  static_assert(P.short_requant && P.c_out % 16 == 0 && P.groups == 1 && P.dil_h == 1 && P.dil_w == 1,
                "qconv_x86_cout.h: the compiler fuses a pool here only where these hold");
  static_assert(Q.pad_top < Q.k_h && Q.pad_left < Q.k_w && Q.k_w <= Q.stride_w + 1 && Q.h_out > 0 && Q.w_out > 0 &&
                    (Q.h_out - 1) * Q.stride_h - Q.pad_top < P.h_out && (Q.w_out - 1) * Q.stride_w - Q.pad_left < P.w_out,
                "every pooling window reads a conv output, and overlaps its neighbour by at most one column");
  using Plan = CoutPoolPlan<P, Q>;
  int32_t* open = reinterpret_cast<int32_t*>(scratch + CoutLayout<P>::quads * CoutLayout<P>::plane);
  constexpr size_t out_image = static_cast<size_t>(P.c_out) * Q.h_out * Q.w_out;
  cout_images<P, Plan::blocks, Plan::tile.j, out_image>(
      in, mult, shift, out, scratch, [&](auto j, const LaneRequant* rq, int ob, int8_t* out_b) {
        cout_pool_blocks<P, Q, decltype(j)::value, Plan::tile.i>(scratch, wq, bias_u8, rq, ob, open, out_b);
      });
}

}  // namespace q8
}  // namespace edge_sdk

EDGE_Q8_AVX512_WARNINGS_ON
#endif
