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

// One tap of a block: t[px] = x[tap k] of the block's pixel px (int16), zp_in where the tap is padding,
// 0 past the plane.  A block of 16 pixels inside one output row of a stride-1 conv reads 16
// consecutive input bytes: one load and one sign extension where the window is inside the row.
// A pointwise conv reads its plane as one row (MobileNet's 12x12, 6x6 and 3x3 1x1 layers would
// otherwise gather every byte on its own).
template <const QConvParams& P>
EDGE_Q8_INLINE __m256i avx2_tap(const int8_t* in_g, int k, int count, const int* ih0, const int* iw0,
                                bool one_row) {
  constexpr int KK = P.k_h * P.k_w;
  const int ic = k / KK, kh = k % KK / P.k_w, kw = k % P.k_w;
  const int8_t* ip = in_g + static_cast<size_t>(ic) * P.h_in * P.w_in;
  if constexpr (pointwise<P>()) {  // the block's pixels are consecutive bytes of the flattened plane
    const int8_t* src = ip + ih0[0] * P.w_in + iw0[0];
    if (count == kAvx2Pixels) return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
    alignas(16) int8_t tail[kAvx2Pixels] = {};  // the plane's last block: lanes past it are never stored
    for (int px = 0; px < count; ++px) tail[px] = src[px];
    return _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(tail)));
  }
  if (one_row) {
    const int ih = ih0[0] + kh * P.dil_h, iw = iw0[0] + kw;
    if (static_cast<unsigned>(ih) < static_cast<unsigned>(P.h_in) && iw >= 0 && iw + kAvx2Pixels <= P.w_in)
      return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ip + ih * P.w_in + iw)));
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
  const bool one_row = P.stride_w == 1 && P.dil_w == 1 && count == kAvx2Pixels && p0 % P.w_out + kAvx2Pixels <= P.w_out;
  for (int q = 0; q < avx2_pairs(K); ++q) {
    const __m256i a = avx2_tap<P>(in_g, 2 * q, count, ih0, iw0, one_row);
    const __m256i b = 2 * q + 1 < K ? avx2_tap<P>(in_g, 2 * q + 1, count, ih0, iw0, one_row) : _mm256_setzero_si256();
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
