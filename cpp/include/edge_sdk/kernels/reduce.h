// Reductions over any set of axes (ReduceSum/Mean/Max/...; ArgMax/ArgMin).
// The emitter splits the input's axes into kept and reduced ones (each list
// coalesced where contiguous); the output is the kept axes in order.
#pragma once

#include "common.h"
#include "elementwise.h"

namespace edge_sdk {

struct ReduceParams {
  int keep_rank;
  int64_t keep_dims[kMaxRank];
  int64_t keep_strides[kMaxRank];  // input element strides
  int red_rank;                    // >= 1; the innermost reduced dim is looped directly
  int64_t red_dims[kMaxRank];
  int64_t red_strides[kMaxRank];
};

namespace detail {

// Calls body(offset) for every index of a `rank`-dim space, offset = sum(idx * strides).
template <typename Body>
EDGE_ALWAYS_INLINE void for_each_offset(int rank, const int64_t* dims, const int64_t* strides, Body body) {
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= dims[d];
  int64_t idx[kMaxRank] = {0};
  int64_t off = 0;
  for (int64_t t = 0; t < total; ++t) {
    body(t, off);
    for (int d = rank - 1; d >= 0; --d) {
      ++idx[d];
      off += strides[d];
      if (idx[d] < dims[d]) break;
      off -= strides[d] * dims[d];
      idx[d] = 0;
    }
  }
}

}  // namespace detail

// y[k] = finish(fold(step, init, x[k, reduced...]), count) for each kept index k.
template <const ReduceParams& P, typename A, typename T, typename TO, typename Step, typename Finish>
inline void reduce(const T* x, TO* y, A init, Step step, Finish finish) {
  constexpr int RR = P.red_rank;
  constexpr int64_t n = P.red_dims[RR - 1], s = P.red_strides[RR - 1];
  int64_t count = 1;
  for (int d = 0; d < RR; ++d) count *= P.red_dims[d];
  detail::for_each_offset(P.keep_rank, P.keep_dims, P.keep_strides, [&](int64_t k, int64_t base) {
    A acc = init;
    detail::for_each_offset(RR - 1, P.red_dims, P.red_strides, [&](int64_t, int64_t off) {
      const T* p = x + base + off;
      for (int64_t i = 0; i < n; ++i) acc = step(acc, p[i * s]);
    });
    y[k] = finish(acc, count);
  });
}

// Index (along a reduced axis of n elements, `inner` apart) of the first or last extreme value.
template <bool Max, bool Last, typename T>
inline void arg_extreme(const T* x, int64_t* y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < n; ++k) {
        const T v = p[k * inner], b = p[best * inner];
        const bool better = Max ? (Last ? v >= b : v > b) : (Last ? v <= b : v < b);
        if (better) best = k;
      }
      y[o * inner + i] = best;
    }
}

}  // namespace edge_sdk
