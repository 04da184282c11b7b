// Fully connected int8 layers (batch-1 GEMV: classifier heads) on AVX-512 VNNI, bit-exact with
// the portable loops in qconv.h.  Eight weight rows at a time stream past one 64-byte chunk of
// the input, which is read as u = x + 128 (unsigned) so that one vpdpbusd does 64 multiply-adds;
// bias_u8 = bias - (zp_in + 128) * sum(w) undoes the offset, so the sums are the reference's.
// A tail of k is read through a mask (zero bytes, which add nothing).
#pragma once

#include "qfc_prefetch.h"
#include "requant_x86.h"

#if defined(EDGE_Q8_HAVE_VNNI)
#define EDGE_Q8_HAVE_VNNI_FC 1

EDGE_Q8_AVX512_WARNINGS_OFF  // GCC 12 AVX-512 headers (requant.h)

namespace edge_sdk {
namespace q8 {

// Rows [j0, j0 + R) of the dot products of one input row of an N x K layer.
template <int N, int K, int R>
EDGE_Q8_INLINE void fc_rows_vnni(const int8_t* EDGE_Q8_RESTRICT x, const int8_t* EDGE_Q8_RESTRICT w,
                                 const int32_t* EDGE_Q8_RESTRICT bias_u8, int32_t* EDGE_Q8_RESTRICT acc, int j0) {
  constexpr __mmask64 tail = K % 64 ? (__mmask64{1} << (K % 64)) - 1 : ~__mmask64{0};
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const int8_t* wr = w + static_cast<size_t>(j0) * K;
  __m512i a[R];
  for (int r = 0; r < R; ++r) a[r] = _mm512_setzero_si512();
  for (int k0 = 0; k0 < K; k0 += 64) {
    const __mmask64 m = K - k0 >= 64 ? ~__mmask64{0} : tail;  // masked bytes are 0 in w: they add nothing
    for (int r = 0; r < R; ++r) fc_prefetch<N, K>(w, j0 + r, k0);
    const __m512i u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + k0), flip);
    for (int r = 0; r < R; ++r)
      a[r] = _mm512_dpbusd_epi32(a[r], u, _mm512_maskz_loadu_epi8(m, wr + static_cast<size_t>(r) * K + k0));
  }
  for (int r = 0; r < R; ++r) acc[j0 + r] = bias_u8[j0 + r] + _mm512_reduce_add_epi32(a[r]);
}

// acc[j] = bias_u8[j] + sum_k (x[k] + 128) * w[j][k] for j in [0, N): one input row.
template <int N, int K>
inline void fc_dots_vnni(const int8_t* EDGE_Q8_RESTRICT x, const int8_t* EDGE_Q8_RESTRICT w,
                         const int32_t* EDGE_Q8_RESTRICT bias_u8, int32_t* EDGE_Q8_RESTRICT acc) {
  constexpr int R = 8;  // weight rows a pass: eight independent accumulators
  for (int j0 = 0; j0 + R <= N; j0 += R) fc_rows_vnni<N, K, R>(x, w, bias_u8, acc, j0);
  if constexpr (N % R != 0) fc_rows_vnni<N, K, N % R>(x, w, bias_u8, acc, N - N % R);
}

}  // namespace q8
}  // namespace edge_sdk

EDGE_Q8_AVX512_WARNINGS_ON
#endif
