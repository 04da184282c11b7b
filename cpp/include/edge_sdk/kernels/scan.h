// CumSum along one axis (n elements, `inner` apart), optionally exclusive
// and/or reversed.
#pragma once

#include "common.h"

namespace edge_sdk {

template <bool Exclusive, bool Reverse, typename T>
inline void cumsum(const T* EDGE_RESTRICT x, T* EDGE_RESTRICT y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * n * inner + i;
      T acc = T(0);
      for (int64_t s = 0; s < n; ++s) {
        const int64_t at = base + (Reverse ? n - 1 - s : s) * inner;
        if (Exclusive) {
          y[at] = acc;
          acc = T(acc + x[at]);
        } else {
          acc = T(acc + x[at]);
          y[at] = acc;
        }
      }
    }
}

// Trilu over the last two dims (rows x cols), `mats` matrices: keep element (r, c)
// when c - r >= k (Upper) or c - r <= k (lower), else 0.
template <bool Upper, typename T>
inline void trilu(const T* EDGE_RESTRICT x, T* EDGE_RESTRICT y, int64_t mats, int64_t rows, int64_t cols, int64_t k) {
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t at = (m * rows + r) * cols + c;
        const bool keep = Upper ? c - r >= k : c - r <= k;
        y[at] = keep ? x[at] : T(0);
      }
}

// EyeLike: ones on diagonal k of a rows x cols matrix, zeros elsewhere.
template <typename T>
inline void eye(T* EDGE_RESTRICT y, int64_t rows, int64_t cols, int64_t k) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = c - r == k ? T(1) : T(0);
}

}  // namespace edge_sdk
