// Fully connected int8 layers (batch-1 GEMV: classifier heads) on AVX2 without VNNI, bit-exact
// with the portable loops in qconv.h.  Each 16-byte chunk of the input is widened to int16 once
// and multiply-added (vpmaddwd: exact int16 pairs into int32) against four weight rows, so the
// weights stream past in order, one sign extension per chunk of a row.  The bias is the
// portable loop's (bias - zp_in * sum(w), folded at compile time), so the sums are its sums;
// a tail of k shorter than a chunk is added in scalar.
#pragma once

#include "qfc_prefetch.h"
#include "requant_x86.h"

#if defined(__AVX2__) && !defined(EDGE_Q8_HAVE_VNNI) && !defined(EDGE_SDK_KERNELS_PORTABLE)
#define EDGE_Q8_HAVE_AVX2_FC 1
#include <immintrin.h>

namespace edge_sdk {
namespace q8 {

EDGE_Q8_INLINE __m256i widen16_avx2(const int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Rows [j0, j0 + R) of the dot products of one input row (R <= 4) of an N x K layer.
template <int N, int K, int R>
EDGE_Q8_INLINE void fc_rows_avx2(const int8_t* EDGE_Q8_RESTRICT x, const int8_t* EDGE_Q8_RESTRICT w,
                                 const int32_t* EDGE_Q8_RESTRICT bias, int32_t* EDGE_Q8_RESTRICT acc, int j0) {
  static_assert(R >= 1 && R <= 4, "four rows a pass at most");
  constexpr int KV = K / 16 * 16;
  const int8_t* wr = w + static_cast<size_t>(j0) * K;
  __m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  for (int k = 0; k < KV; k += 16) {
    if (k % 64 == 0)
      for (int r = 0; r < R; ++r) fc_prefetch<N, K>(w, j0 + r, k);
    const __m256i xv = widen16_avx2(x + k);
    for (int r = 0; r < R; ++r)
      a[r] = _mm256_add_epi32(a[r], _mm256_madd_epi16(xv, widen16_avx2(wr + static_cast<size_t>(r) * K + k)));
  }
  // Four horizontal sums at once: lanes (0..3) of s hold rows 0..3, each a sum of eight lanes.
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
  alignas(16) int32_t s[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(s),
                  _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
  for (int r = 0; r < R; ++r) {
    int32_t v = bias[j0 + r] + s[r];
    for (int k = KV; k < K; ++k) v += static_cast<int32_t>(x[k]) * wr[static_cast<size_t>(r) * K + k];
    acc[j0 + r] = v;
  }
}

// acc[j] = bias[j] + sum_k x[k] * w[j][k] for j in [0, N): one input row.
template <int N, int K>
inline void fc_dots_avx2(const int8_t* EDGE_Q8_RESTRICT x, const int8_t* EDGE_Q8_RESTRICT w,
                         const int32_t* EDGE_Q8_RESTRICT bias, int32_t* EDGE_Q8_RESTRICT acc) {
  constexpr int R = 4;
  for (int j0 = 0; j0 + R <= N; j0 += R) fc_rows_avx2<N, K, R>(x, w, bias, acc, j0);
  if constexpr (N % R != 0) fc_rows_avx2<N, K, N % R>(x, w, bias, acc, N - N % R);
}

}  // namespace q8
}  // namespace edge_sdk
#endif
