// x86 AVX-512 VNNI int8 convolution, bit-exact with conv2d_s8_reference (qconv.h).
//
// vpdpbusd multiplies unsigned bytes by signed bytes, so activations are stored as
// u = x + 128 (x ^ 0x80) and the caller passes bias_u8 = bias - (zp_in + 128) * sum(w):
//   bias + sum w*(x - zp_in) = bias_u8 + sum w*u   (same int32 value, exact integers;
//   |sum w*u| <= K*255*127 fits int32 for every K this SDK compiles).
// Lanes run over output pixels: a block of 32 consecutive pixels of the flattened output
// plane (so small planes fill the vector too) is gathered as [K/4][32 pixels][4 bytes];
// one weight quad of OIHW (4 consecutive taps of one output channel) is broadcast and
// multiply-added into 16 pixels at once.  No weight re-layout is needed.
#pragma once

#include "requant_x86.h"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512F__) && !defined(EDGE_SDK_KERNELS_PORTABLE)
#define EDGE_Q8_HAVE_VNNI 1
#include <immintrin.h>
#include <string.h>

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h)

namespace edge_sdk {
namespace q8 {

constexpr int kVnniPixels = 32;  // pixels per block: two 16-lane vectors
constexpr int kVnniChannels = 4;  // output channels per tile (8 measured no faster: more weight streams)

constexpr int vnni_quads(int k) { return (k + 3) / 4; }

template <const QConvParams& P>
constexpr size_t vnni_scratch_bytes() {
  return static_cast<size_t>(vnni_quads(P.c_in / P.groups * P.k_h * P.k_w)) * 4 * kVnniPixels;
}

// Broadcast weight quad q of row `wr` (K bytes); the tail quad is zero-filled past K.
template <int K>
EDGE_Q8_INLINE __m512i vnni_weight_quad(const int8_t* wr, int q) {
  int32_t v;
  if (K % 4 == 0 || q < K / 4) {
    memcpy(&v, wr + 4 * q, 4);
  } else {
    uint8_t b[4] = {0, 0, 0, 0};
    for (int i = 0; i < K % 4; ++i) b[i] = static_cast<uint8_t>(wr[4 * q + i]);
    memcpy(&v, b, 4);
  }
  return _mm512_set1_epi32(v);
}

template <const QConvParams& P>
inline void vnni_requant_store(const __m512i acc[2], int32_t m, int s, const RequantConst& rq, int8_t* o,
                               int count) {
  // requantize_s8_x16 is requantize() on 16 lanes (requant_x86.h, tested bit-exact against it).
  for (int h = 0; h < 2 && h * 16 < count; ++h) {
    const int n = count - h * 16 < 16 ? count - h * 16 : 16;
    _mm_mask_storeu_epi8(o + h * 16, static_cast<__mmask16>((1u << n) - 1),
                         requantize_s8_x16<P.act_min, P.act_max, P.short_requant>(acc[h], m, s, P.zp_out, rq));
  }
}

// A 1x1 convolution's (pointwise<P>() in qconv.h) patch of pixel p is the column x[:, p]: four
// channel rows interleaved byte by byte give patches[q][pixel][4] with vector loads instead of a
// per-byte gather.
// patches[q][px][j] = x[4q + j][px] + 128 for px < count (x: channel rows `plane` bytes apart,
// already offset to the block's first pixel).  Channels past cin and pixels past count read as
// 0 + 128 or 0: their weights are zero / their outputs are not stored.
template <int cin, int plane>
EDGE_Q8_INLINE void vnni_pack_pointwise(const int8_t* x, int count, uint8_t* patches) {
  constexpr int Q = vnni_quads(cin);
  for (int h = 0; h < kVnniPixels / 16; ++h) {
    const int n = count - 16 * h;
    const __mmask16 k = n >= 16 ? static_cast<__mmask16>(0xFFFF) : (n > 0 ? static_cast<__mmask16>((1u << n) - 1) : 0);
    for (int q = 0; q < Q; ++q) {
      __m512i v = _mm512_setzero_si512();
      for (int j = 0; j < 4 && 4 * q + j < cin; ++j) {
        const __m128i row = _mm_maskz_loadu_epi8(k, x + static_cast<size_t>(4 * q + j) * plane + 16 * h);
        v = _mm512_or_si512(v, _mm512_slli_epi32(_mm512_cvtepu8_epi32(row), 8 * j));
      }
      v = _mm512_xor_si512(v, _mm512_set1_epi32(static_cast<int32_t>(0x80808080u)));
      _mm512_storeu_si512(patches + static_cast<size_t>(q) * 4 * kVnniPixels + 64 * h, v);
    }
  }
}

template <const QConvParams& P>
inline void conv2d_s8_vnni(const int8_t* EDGE_Q8_RESTRICT in, const int8_t* EDGE_Q8_RESTRICT w,
                           const int32_t* EDGE_Q8_RESTRICT bias_u8, const int32_t* mult, const int32_t* shift,
                           int8_t* EDGE_Q8_RESTRICT out, uint8_t* EDGE_Q8_RESTRICT patches) {
  constexpr int cin_g = P.c_in / P.groups;
  constexpr int cout_g = P.c_out / P.groups;
  constexpr int K = cin_g * P.k_h * P.k_w;
  constexpr int Q = vnni_quads(K);
  constexpr int KK = P.k_h * P.k_w;
  constexpr int plane_in = P.h_in * P.w_in;
  constexpr int plane_out = P.h_out * P.w_out;
  constexpr uint8_t pad_u = static_cast<uint8_t>(P.zp_in + 128);
  RequantConst rq[P.c_out];
  for (int c = 0; c < P.c_out; ++c) rq[c] = requant_const(shift[c], P.zp_out);
  for (int b = 0; b < P.n; ++b) {
    const int8_t* in_b = in + static_cast<size_t>(b) * P.c_in * plane_in;
    int8_t* out_b = out + static_cast<size_t>(b) * P.c_out * plane_out;
    for (int g = 0; g < P.groups; ++g) {
      for (int p0 = 0; p0 < plane_out; p0 += kVnniPixels) {
        const int count = plane_out - p0 < kVnniPixels ? plane_out - p0 : kVnniPixels;
        if constexpr (pointwise<P>()) {
          vnni_pack_pointwise<cin_g, plane_in>(in_b + static_cast<size_t>(g) * cin_g * plane_in + p0, count, patches);
        } else {
        // Gather: patches[q][pixel][k % 4]; taps past K and pixels past the plane are 0.
        if (K % 4 != 0 || count < kVnniPixels) memset(patches, 0, static_cast<size_t>(Q) * 4 * kVnniPixels);
        // Top-left input corner of each pixel's window, then one tap for all pixels at a time
        // (consecutive pixels of a row read consecutive input bytes).
        int ih0[kVnniPixels], iw0[kVnniPixels];
        for (int px = 0; px < count; ++px) {
          ih0[px] = (p0 + px) / P.w_out * P.stride_h - P.pad_top;
          iw0[px] = (p0 + px) % P.w_out * P.stride_w - P.pad_left;
        }
        for (int ic = 0; ic < cin_g; ++ic) {
          const int8_t* ip = in_b + static_cast<size_t>(g * cin_g + ic) * plane_in;
          for (int kh = 0; kh < P.k_h; ++kh) {
            for (int kw = 0; kw < P.k_w; ++kw) {
              const int k = ic * KK + kh * P.k_w + kw;
              uint8_t* dst = patches + (k >> 2) * (4 * kVnniPixels) + (k & 3);
              for (int px = 0; px < count; ++px) {
                const int ih = ih0[px] + kh * P.dil_h, iw = iw0[px] + kw * P.dil_w;
                const bool inside = static_cast<unsigned>(ih) < static_cast<unsigned>(P.h_in) &&
                                    static_cast<unsigned>(iw) < static_cast<unsigned>(P.w_in);
                dst[px * 4] = inside ? static_cast<uint8_t>(ip[ih * P.w_in + iw] ^ 0x80) : pad_u;
              }
            }
          }
        }
        }
        int ocg = 0;
        // kVnniChannels output channels x 32 pixels per weight/patch step.
        for (; ocg + kVnniChannels <= cout_g; ocg += kVnniChannels) {
          const int oc = g * cout_g + ocg;
          const int8_t* wr = w + static_cast<size_t>(oc) * K;
          __m512i acc[kVnniChannels][2];
          for (int j = 0; j < kVnniChannels; ++j) acc[j][0] = acc[j][1] = _mm512_set1_epi32(bias_u8[oc + j]);
          for (int q = 0; q < Q; ++q) {
            const uint8_t* pq = patches + static_cast<size_t>(q) * 4 * kVnniPixels;
            const __m512i x0 = _mm512_loadu_si512(pq);
            const __m512i x1 = _mm512_loadu_si512(pq + 64);
            for (int j = 0; j < kVnniChannels; ++j) {
              const __m512i wq = vnni_weight_quad<K>(wr + static_cast<size_t>(j) * K, q);
              acc[j][0] = _mm512_dpbusd_epi32(acc[j][0], x0, wq);
              acc[j][1] = _mm512_dpbusd_epi32(acc[j][1], x1, wq);
            }
          }
          for (int j = 0; j < kVnniChannels; ++j)
            vnni_requant_store<P>(acc[j], mult[oc + j], shift[oc + j], rq[oc + j],
                                  out_b + static_cast<size_t>(oc + j) * plane_out + p0, count);
        }
        for (; ocg < cout_g; ++ocg) {
          const int oc = g * cout_g + ocg;
          const int8_t* wr = w + static_cast<size_t>(oc) * K;
          __m512i acc[2] = {_mm512_set1_epi32(bias_u8[oc]), _mm512_set1_epi32(bias_u8[oc])};
          for (int q = 0; q < Q; ++q) {
            const uint8_t* pq = patches + static_cast<size_t>(q) * 4 * kVnniPixels;
            const __m512i wq = vnni_weight_quad<K>(wr, q);
            acc[0] = _mm512_dpbusd_epi32(acc[0], _mm512_loadu_si512(pq), wq);
            acc[1] = _mm512_dpbusd_epi32(acc[1], _mm512_loadu_si512(pq + 64), wq);
          }
          vnni_requant_store<P>(acc, mult[oc], shift[oc], rq[oc], out_b + static_cast<size_t>(oc) * plane_out + p0, count);
        }
      }
    }
  }
}

}  // namespace q8
}  // namespace edge_sdk
EDGE_Q8_AVX512_WARNINGS_ON
#endif
