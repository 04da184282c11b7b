// Transpose: permute the axes of a dense tensor (rank <= 8 after coalescing).
#pragma once

#include "common.h"
#include "elementwise.h"

namespace edge_sdk {

// P iterates the OUTPUT in order; s0 holds the input element stride of each output dim.
template <const Bcast& P, typename T>
inline void transpose(const T* EDGE_RESTRICT in, T* EDGE_RESTRICT out) {
  constexpr int64_t n = P.dims[P.rank - 1];
  constexpr int64_t s = P.s0[P.rank - 1];
  detail::for_each_row<P>([&](int64_t oi, int64_t, int64_t, int64_t oo) {
    for (int64_t i = 0; i < n; ++i) out[oo + i] = in[oi + i * s];
  });
}

// Copy `rows` rows of `row_elems` elements from `in` (row stride in_stride) into out (row stride out_stride).
template <typename T>
inline void copy_rows(const T* EDGE_RESTRICT in, T* EDGE_RESTRICT out, int64_t rows, int64_t row_elems,
                      int64_t in_stride, int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < row_elems; ++i) out[r * out_stride + i] = in[r * in_stride + i];
}

}  // namespace edge_sdk
