// x86 AVX2 int8 convolution (no VNNI), bit-exact with conv2d_s8_reference (qconv.h).
//
// AVX2 has no exact 8-bit dot product: vpmaddubsw sums pairs of u8*s8 products in int16 and
// saturates (onnxruntime's reduce_range caveat).  So activations are widened to int16 and
// vpmaddwd multiplies int16 pairs into int32 lanes, exactly: |x*w| <= 128*128, a pair
// <= 2^15, and |acc| <= K*2^14 fits int32 for every K this SDK compiles.
// The layout is the VNNI kernel's (qconv_x86.h) with pairs instead of quads: a block of 16
// consecutive pixels of the flattened output plane is gathered as [K/2][16 pixels][2 taps];
// one weight pair is broadcast and multiply-added into 8 pixels at once.  The weight pairs come
// packed at compile time (edge_sdk/ops/quant_ops.py, avx2_weight_pairs): wq[oc][q] = w[oc][2q] |
// w[oc][2q+1] << 16 over the flattened OIHW row (int16 halves; the tail pair of an odd K has 0).  The caller
// passes bias_folded = bias - zp_in * sum(w), so padding taps hold zp_in (they add w*zp_in,
// which the folded bias takes back) and the inner loop is a plain dot product.
#pragma once

#if defined(__AVX2__) && !defined(EDGE_Q8_HAVE_VNNI) && !defined(EDGE_SDK_KERNELS_PORTABLE)
#define EDGE_Q8_HAVE_AVX2 1
#include <immintrin.h>

namespace edge_sdk {
namespace q8 {

constexpr int kAvx2Pixels = 16;   // pixels per block: two 8-lane vectors
constexpr int kAvx2Channels = 4;  // output channels per tile

constexpr int avx2_pairs(int k) { return (k + 1) / 2; }

// The paired patches [K/2][16][2], int16 (the same bytes as the VNNI kernel's [K/4][32][4]).
template <const QConvParams& P>
constexpr size_t avx2_scratch_bytes() {
  return static_cast<size_t>(avx2_pairs(P.c_in / P.groups * P.k_h * P.k_w)) * 2 * kAvx2Pixels * sizeof(int16_t);
}

template <const QConvParams& P>
EDGE_Q8_INLINE void avx2_requant_store(const __m256i acc[2], int32_t m, int s, int8_t* o, int count) {
  const __m128i q = pack_i32x16_i8(requantize_x8(acc[0], m, s, P.zp_out, P.act_min, P.act_max),
                                   requantize_x8(acc[1], m, s, P.zp_out, P.act_min, P.act_max));
  if (count == kAvx2Pixels) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), q);
  } else {
    alignas(16) int8_t lanes[kAvx2Pixels];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes), q);
    for (int px = 0; px < count; ++px) o[px] = lanes[px];
  }
}

// Where a block of 16 pixels of a stride-1 or stride-2 conv lies in an output row and the start
// of the next (w_out >= 16: at most two), each row's pixels read evenly spaced input bytes for
// every tap.  Per block: n1 pixels in the first row, and each lane's input column at kw = 0.
struct Avx2Rows {
  int n1;
  __m128i second8;  // bytes of lanes >= n1: -1
  __m256i second;   // the same, int16 lanes
  __m256i col;      // input column of each lane at kw = 0 (int16)
};

template <const QConvParams& P>
constexpr bool avx2_two_rows() {
  return !pointwise<P>() && (P.stride_w == 1 || P.stride_w == 2) && P.dil_w == 1 && P.w_out >= kAvx2Pixels &&
         static_cast<size_t>(P.c_in / P.groups) * P.h_in * P.w_in >= static_cast<size_t>(kAvx2Pixels) * P.stride_w;
}

// p[0], p[2], ..., p[30] (a stride-2 phase of 32 input bytes).
EDGE_Q8_INLINE __m128i avx2d_even_bytes(const int8_t* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i idx = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1,
                                       0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, idx), 0x08));
}

// The 16 input bytes of a row segment of a stride-s conv: p[0], p[s], ..., p[15 s].
template <int S>
EDGE_Q8_INLINE __m128i avx2_row_bytes(const int8_t* p) {
  if constexpr (S == 1)
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  else
    return avx2d_even_bytes(p);
}

// One tap of a block: t[px] = x[tap k] of the block's pixel px (int16), zp_in where the tap is padding,
// 0 past the plane.  On a stride-1 (stride-2) conv each of the block's (at most two) output rows
// reads consecutive (every other) input bytes: one 16 (32) byte load per row, blended at lane n1, then lanes whose
// input row or column is padding take zp_in (masks from each lane's column).  A pointwise conv
// reads its plane as one row (MobileNet's 12x12, 6x6 and 3x3 1x1 layers would otherwise gather
// every byte on its own).  Loads that would leave the group's input, and the plane's last
// block, take the per-pixel route.
template <const QConvParams& P>
EDGE_Q8_INLINE __m256i avx2_tap(const int8_t* in_g, int k, int count, const int* ih0, const int* iw0,
                                const Avx2Rows* rows) {
  constexpr int KK = P.k_h * P.k_w;
  constexpr int plane = P.h_in * P.w_in;
  constexpr int group_bytes = P.c_in / P.groups * plane;
  const int ic = k / KK, kh = k % KK / P.k_w, kw = k % P.k_w;
  const int8_t* ip = in_g + static_cast<size_t>(ic) * plane;
  if constexpr (pointwise<P>()) {  // the block's pixels are consecutive bytes of the flattened plane
    const int8_t* src = ip + ih0[0] * P.w_in + iw0[0];
    if (count == kAvx2Pixels) return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
    alignas(16) int8_t tail[kAvx2Pixels] = {};  // the plane's last block: lanes past it are never stored
    for (int px = 0; px < count; ++px) tail[px] = src[px];
    return _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(tail)));
  }
  if (rows) {
    const int ih_a = ih0[0] + kh * P.dil_h, ih_b = ih_a + P.stride_h;
    const bool ok_a = static_cast<unsigned>(ih_a) < static_cast<unsigned>(P.h_in);
    const bool ok_b = rows->n1 < kAvx2Pixels && static_cast<unsigned>(ih_b) < static_cast<unsigned>(P.h_in);
    // Byte offsets in the group of lane 0's read (row a) and of the read whose lane n1 is the
    // second row's first pixel; a row that is all padding reads row a (or 0) instead.
    const int base = ic * plane;
    constexpr int span = kAvx2Pixels * P.stride_w;  // bytes one row read covers
    const int off_a = ok_a ? base + ih_a * P.w_in + iw0[0] + kw : base;
    const int off_b = ok_b ? base + ih_b * P.w_in + iw0[rows->n1] + kw - P.stride_w * rows->n1 : off_a;
    if (off_a >= 0 && off_a + span <= group_bytes && off_b >= 0 && off_b + span <= group_bytes) {
      const __m128i va = avx2_row_bytes<P.stride_w>(in_g + off_a);
      const __m128i vb = avx2_row_bytes<P.stride_w>(in_g + off_b);
      const __m256i t = _mm256_cvtepi8_epi16(_mm_blendv_epi8(va, vb, rows->second8));
      const __m256i iw = _mm256_add_epi16(rows->col, _mm256_set1_epi16(static_cast<int16_t>(kw)));
      const __m256i row_ok = _mm256_blendv_epi8(_mm256_set1_epi16(ok_a ? -1 : 0), _mm256_set1_epi16(ok_b ? -1 : 0),
                                                rows->second);
      const __m256i ok = _mm256_and_si256(
          row_ok, _mm256_and_si256(_mm256_cmpgt_epi16(iw, _mm256_set1_epi16(-1)),
                                   _mm256_cmpgt_epi16(_mm256_set1_epi16(static_cast<int16_t>(P.w_in)), iw)));
      return _mm256_blendv_epi8(_mm256_set1_epi16(static_cast<int16_t>(P.zp_in)), t, ok);
    }
  }
  alignas(32) int16_t t[kAvx2Pixels];
  for (int px = 0; px < kAvx2Pixels; ++px) {
    const int ih = ih0[px] + kh * P.dil_h, iw = iw0[px] + kw * P.dil_w;
    const bool inside = px < count && static_cast<unsigned>(ih) < static_cast<unsigned>(P.h_in) &&
                        static_cast<unsigned>(iw) < static_cast<unsigned>(P.w_in);
    t[px] = inside ? static_cast<int16_t>(ip[ih * P.w_in + iw]) : static_cast<int16_t>(px < count ? P.zp_in : 0);
  }
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(t));
}

// patches[q][px][j] = tap 2q + j of pixel px: tap pairs interleaved for vpmaddwd (unpack works
// within 128-bit lanes, so a lane permute puts pixels 0-7 and 8-15 back in order).  The tail
// pair of an odd K pairs its last tap with 0 (its weight is 0 too).
template <const QConvParams& P>
EDGE_Q8_INLINE void avx2_gather(const int8_t* in_g, int p0, int count, int16_t* patches) {
  constexpr int K = P.c_in / P.groups * P.k_h * P.k_w;
  int ih0[kAvx2Pixels], iw0[kAvx2Pixels];
  for (int px = 0; px < kAvx2Pixels; ++px) {
    const int p = p0 + (px < count ? px : 0);
    ih0[px] = p / P.w_out * P.stride_h - P.pad_top;
    iw0[px] = p % P.w_out * P.stride_w - P.pad_left;
  }
  Avx2Rows two_rows;
  const Avx2Rows* rows = nullptr;
  if (avx2_two_rows<P>() && count == kAvx2Pixels) {
    const int n1 = P.w_out - p0 % P.w_out < kAvx2Pixels ? P.w_out - p0 % P.w_out : kAvx2Pixels;
    alignas(32) int16_t col[kAvx2Pixels];
    alignas(16) int8_t second8[kAvx2Pixels];
    for (int px = 0; px < kAvx2Pixels; ++px) {
      col[px] = static_cast<int16_t>(iw0[px]);
      second8[px] = static_cast<int8_t>(px < n1 ? 0 : -1);
    }
    const __m128i second = _mm_load_si128(reinterpret_cast<const __m128i*>(second8));
    two_rows = {n1, second, _mm256_cvtepi8_epi16(second), _mm256_load_si256(reinterpret_cast<const __m256i*>(col))};
    rows = &two_rows;
  }
  for (int q = 0; q < avx2_pairs(K); ++q) {
    const __m256i a = avx2_tap<P>(in_g, 2 * q, count, ih0, iw0, rows);
    const __m256i b = 2 * q + 1 < K ? avx2_tap<P>(in_g, 2 * q + 1, count, ih0, iw0, rows) : _mm256_setzero_si256();
    const __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
    __m256i* o = reinterpret_cast<__m256i*>(patches + static_cast<size_t>(q) * 2 * kAvx2Pixels);
    _mm256_storeu_si256(o, _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(lo, hi, 0x31));
  }
}

// Accumulators of output channels [oc, oc + T) over the block's patches: NV = 2 vectors (16
// pixels), or 1 for a block of at most 8 (the last block of a plane or of a fused conv's band,
// e.g. 68 = 4 * 16 + 4 pixels, would otherwise spend a whole vector of multiply-adds on nothing).
template <int Q, int T, int NV>
EDGE_Q8_INLINE void avx2_tile(const int16_t* patches, const int32_t* wr, const int32_t* bias_folded, int oc,
                              __m256i acc[T][2]) {
  for (int j = 0; j < T; ++j) acc[j][0] = acc[j][1] = _mm256_set1_epi32(bias_folded[oc + j]);
  for (int q = 0; q < Q; ++q) {
    const int16_t* pq = patches + static_cast<size_t>(q) * 2 * kAvx2Pixels;
    __m256i x[NV];
    for (int v = 0; v < NV; ++v) x[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pq + 16 * v));
    for (int j = 0; j < T; ++j) {
      const __m256i wp = _mm256_set1_epi32(wr[static_cast<size_t>(j) * Q + q]);
      for (int v = 0; v < NV; ++v) acc[j][v] = _mm256_add_epi32(acc[j][v], _mm256_madd_epi16(x[v], wp));
    }
  }
}

template <const QConvParams& P, int T>
EDGE_Q8_INLINE void avx2_tile_store(const int16_t* patches, const int32_t* wq, const int32_t* bias_folded,
                                    const int32_t* mult, const int32_t* shift, int8_t* out_b, int oc, int p0,
                                    int count) {
  constexpr int Q = avx2_pairs(P.c_in / P.groups * P.k_h * P.k_w);
  constexpr int plane_out = P.h_out * P.w_out;
  const int32_t* wr = wq + static_cast<size_t>(oc) * Q;
  __m256i acc[T][2];
  if (count <= kAvx2Pixels / 2)
    avx2_tile<Q, T, 1>(patches, wr, bias_folded, oc, acc);
  else
    avx2_tile<Q, T, 2>(patches, wr, bias_folded, oc, acc);
  for (int j = 0; j < T; ++j)
    avx2_requant_store<P>(acc[j], mult[oc + j], shift[oc + j], out_b + static_cast<size_t>(oc + j) * plane_out + p0,
                          count);
}

template <const QConvParams& P>
inline void conv2d_s8_avx2(const int8_t* EDGE_Q8_RESTRICT in, const int32_t* EDGE_Q8_RESTRICT wq,
                           const int32_t* EDGE_Q8_RESTRICT bias_folded, const int32_t* mult, const int32_t* shift,
                           int8_t* EDGE_Q8_RESTRICT out, int16_t* EDGE_Q8_RESTRICT patches) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int cout_g = P.c_out / P.groups;
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * plane_in;
    int8_t* out_b = out + static_cast<size_t>(b) * P.c_out * plane_out;
    for (int g = 0; g < P.groups; ++g) {
      for (int p0 = 0; p0 < plane_out; p0 += kAvx2Pixels) {
        const int count = plane_out - p0 < kAvx2Pixels ? plane_out - p0 : kAvx2Pixels;
        avx2_gather<P>(in_b + static_cast<size_t>(g) * cin_g * plane_in, p0, count, patches);
        int ocg = 0;
        for (; ocg + kAvx2Channels <= cout_g; ocg += kAvx2Channels)
          avx2_tile_store<P, kAvx2Channels>(patches, wq, bias_folded, mult, shift, out_b, g * cout_g + ocg, p0, count);
        for (; ocg < cout_g; ++ocg)
          avx2_tile_store<P, 1>(patches, wq, bias_folded, mult, shift, out_b, g * cout_g + ocg, p0, count);
      }
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk
#endif
