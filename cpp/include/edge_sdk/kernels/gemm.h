// Matrix products, float32 row-major: Gemm (Y = alpha*op(A)*op(B) + beta*C) and
// batched MatMul with broadcast batch dimensions.
#pragma once

#include "common.h"
#include "elementwise.h"

namespace edge_sdk {

struct GemmParams {
  int m, n, k;
  bool trans_a, trans_b;
  float alpha, beta;
  int c_stride_m, c_stride_n;  // element strides of C (0 where broadcast); C absent: unused
  Act act;
  float act_alpha, act_beta;
};

// y[r] = dot(a, b + r*K) for r < rows (rows <= 4): vector partial sums, reduced at the end.
template <int K>
inline void dot4(const float* EDGE_RESTRICT a, const float* EDGE_RESTRICT b, float* EDGE_RESTRICT y, int rows) {
  vfloat acc[4] = {};
  const float* br[4];
  for (int r = 0; r < 4; ++r) br[r] = b + static_cast<size_t>(r < rows ? r : 0) * K;
  constexpr int KV = K / kVL * kVL;
  for (int k = 0; k < KV; k += kVL) {
    const vfloat av = vload(a + k);
    for (int r = 0; r < 4; ++r) acc[r] += av * vload(br[r] + k);
  }
  for (int r = 0; r < rows; ++r) {
    float s = 0.0f;
    for (int l = 0; l < kVL; ++l) s += acc[r][l];
    for (int k = KV; k < K; ++k) s += a[k] * br[r][k];
    y[r] = s;
  }
}

// One (M x K) x (K x N) product into y (M x N), without bias or scaling.
template <int M, int N, int K, bool TA, bool TB>
inline void matmul_block_f32(const float* EDGE_RESTRICT a, const float* EDGE_RESTRICT b, float* EDGE_RESTRICT y) {
  for (int i = 0; i < M; ++i) {
    float* yr = y + static_cast<size_t>(i) * N;
    if constexpr (TB && !TA && K >= kVL) {
      // y[i][j] = dot(A row i, B row j), four rows of B at a time in vector
      // accumulators (a scalar float reduction cannot be vectorised by the compiler).
      const float* ar = a + static_cast<size_t>(i) * K;
      int j = 0;
      for (; j + 4 <= N; j += 4) dot4<K>(ar, b + static_cast<size_t>(j) * K, yr + j, 4);
      if (j < N) dot4<K>(ar, b + static_cast<size_t>(j) * K, yr + j, N - j);
    } else if constexpr (TB) {
      // y[i][j] = dot(A row i, B row j): contiguous dot products.
      for (int j = 0; j < N; ++j) {
        const float* br = b + static_cast<size_t>(j) * K;
        float s = 0.0f;
        for (int kk = 0; kk < K; ++kk) s += (TA ? a[static_cast<size_t>(kk) * M + i] : a[static_cast<size_t>(i) * K + kk]) * br[kk];
        yr[j] = s;
      }
    } else {
      // y[i][:] = sum_k A[i][k] * B row k: contiguous row updates.
      for (int j = 0; j < N; ++j) yr[j] = 0.0f;
      for (int kk = 0; kk < K; ++kk) {
        const float av = TA ? a[static_cast<size_t>(kk) * M + i] : a[static_cast<size_t>(i) * K + kk];
        const float* br = b + static_cast<size_t>(kk) * N;
        for (int j = 0; j < N; ++j) yr[j] += av * br[j];
      }
    }
  }
}

template <const GemmParams& P>
inline void gemm_f32(const float* EDGE_RESTRICT a, const float* EDGE_RESTRICT b, const float* EDGE_RESTRICT c,
                     float* EDGE_RESTRICT y) {
  matmul_block_f32<P.m, P.n, P.k, P.trans_a, P.trans_b>(a, b, y);
  for (int i = 0; i < P.m; ++i) {
    float* yr = y + static_cast<size_t>(i) * P.n;
    for (int j = 0; j < P.n; ++j) {
      float v = P.alpha * yr[j];
      if (c) v += P.beta * c[i * P.c_stride_m + j * P.c_stride_n];
      yr[j] = activate<P.act>(v, P.act_alpha, P.act_beta);
    }
  }
}

struct MatMulParams {
  int m, n, k;
  Bcast batch;  // iteration over broadcast batch dims; s0/s1 in units of whole matrices
};

template <const MatMulParams& P>
inline void matmul_f32(const float* a, const float* b, float* y) {
  constexpr int64_t a_mat = static_cast<int64_t>(P.m) * P.k, b_mat = static_cast<int64_t>(P.k) * P.n;
  constexpr int64_t y_mat = static_cast<int64_t>(P.m) * P.n;
  constexpr int R = P.batch.rank;
  int64_t total = 1;
  for (int d = 0; d < R; ++d) total *= P.batch.dims[d];
  int64_t idx[kMaxRank] = {0};
  int64_t oa = 0, ob = 0;
  for (int64_t t = 0; t < total; ++t) {
    matmul_block_f32<P.m, P.n, P.k, false, false>(a + oa * a_mat, b + ob * b_mat, y + t * y_mat);
    for (int d = R - 1; d >= 0; --d) {
      ++idx[d];
      oa += P.batch.s0[d];
      ob += P.batch.s1[d];
      if (idx[d] < P.batch.dims[d]) break;
      oa -= P.batch.s0[d] * P.batch.dims[d];
      ob -= P.batch.s1[d] * P.batch.dims[d];
      idx[d] = 0;
    }
  }
}

}  // namespace edge_sdk
