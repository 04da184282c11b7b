// Indexing ops: Gather, GatherElements, OneHot, ScatterND, ScatterElements.
// Negative indices count from the end; out-of-range indices (invalid models)
// are clamped to index 0 so a bad model never reads or writes out of bounds.
#pragma once

#include "common.h"
#include "elementwise.h"

namespace edge_sdk {
namespace detail {

EDGE_ALWAYS_INLINE int64_t wrap_index(int64_t k, int64_t len) {
  if (k < 0) k += len;
  return (k < 0 || k >= len) ? 0 : k;
}

}  // namespace detail

template <typename T, typename I>
inline void gather(const T* EDGE_RESTRICT x, const I* EDGE_RESTRICT idx, T* EDGE_RESTRICT y, int64_t outer,
                   int64_t axis_len, int64_t inner, int64_t n_idx) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < n_idx; ++j) {
      const int64_t k = detail::wrap_index(static_cast<int64_t>(idx[j]), axis_len);
      const T* src = x + (o * axis_len + k) * inner;
      T* dst = y + (o * n_idx + j) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = src[i];
    }
  }
}

// GatherElements: y has the index tensor's shape (dims/strides of rank R, the
// data's strides in `x_strides`); along `axis` the position comes from idx.
struct GatherElementsParams {
  int rank, axis;
  int64_t dims[kMaxRank];       // index / output shape
  int64_t x_strides[kMaxRank];  // data element strides
  int64_t axis_len;             // data.shape[axis]
};

template <const GatherElementsParams& P, typename T, typename I>
inline void gather_elements(const T* EDGE_RESTRICT x, const I* EDGE_RESTRICT idx, T* EDGE_RESTRICT y) {
  int64_t total = 1;
  for (int d = 0; d < P.rank; ++d) total *= P.dims[d];
  int64_t pos[kMaxRank] = {0};
  for (int64_t t = 0; t < total; ++t) {
    const int64_t k = detail::wrap_index(static_cast<int64_t>(idx[t]), P.axis_len);
    int64_t off = 0;
    for (int d = 0; d < P.rank; ++d) off += (d == P.axis ? k : pos[d]) * P.x_strides[d];
    y[t] = x[off];
    for (int d = P.rank - 1; d >= 0; --d) {
      if (++pos[d] < P.dims[d]) break;
      pos[d] = 0;
    }
  }
}

// OneHot: y[o, j, i] = on if index[o, i] (negative: + depth) == j, else off.
template <typename T, typename I>
inline void one_hot(const I* EDGE_RESTRICT idx, T* EDGE_RESTRICT y, int64_t outer, int64_t depth, int64_t inner,
                    T off, T on) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t k = static_cast<int64_t>(idx[o * inner + i]);
      if (k < 0) k += depth;
      for (int64_t j = 0; j < depth; ++j) y[(o * depth + j) * inner + i] = j == k ? on : off;
    }
}

// ReverseSequence: for batch b, the first lens[b] steps along time are reversed.
// Element (b, t, i) sits at b * batch_stride + t * time_stride + i (inner contiguous).
template <typename T, typename I>
inline void reverse_sequence(const T* EDGE_RESTRICT x, const I* EDGE_RESTRICT lens, T* EDGE_RESTRICT y,
                             int64_t batch, int64_t steps, int64_t inner, int64_t batch_stride, int64_t time_stride) {
  for (int64_t b = 0; b < batch; ++b) {
    int64_t len = static_cast<int64_t>(lens[b]);
    len = len < 0 ? 0 : (len > steps ? steps : len);
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t src = t < len ? len - 1 - t : t;
      const T* in = x + b * batch_stride + src * time_stride;
      T* out = y + b * batch_stride + t * time_stride;
      for (int64_t i = 0; i < inner; ++i) out[i] = in[i];
    }
  }
}

enum class ScatterReduce : int { None = 0, Add, Mul, Max, Min };

namespace detail {

template <ScatterReduce R, typename T>
EDGE_ALWAYS_INLINE T scatter_combine(T old, T v) {
  if constexpr (R == ScatterReduce::None) {
    (void)old;
    return v;
  } else if constexpr (R == ScatterReduce::Add) {
    return T(old + v);
  } else if constexpr (R == ScatterReduce::Mul) {
    return T(old * v);
  } else if constexpr (R == ScatterReduce::Max) {
    return v > old ? v : old;
  } else {
    return v < old ? v : old;
  }
}

}  // namespace detail

// ScatterND over y (already a copy of data): n index tuples of k coordinates, each
// addressing a slice of `slice` contiguous elements; dims/strides: data's first k axes.
template <ScatterReduce R, typename T, typename I>
inline void scatter_nd(T* y, const I* EDGE_RESTRICT idx, const T* EDGE_RESTRICT upd, int64_t n, int k,
                       const int64_t* dims, const int64_t* strides, int64_t slice) {
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int j = 0; j < k; ++j) off += detail::wrap_index(static_cast<int64_t>(idx[i * k + j]), dims[j]) * strides[j];
    for (int64_t s = 0; s < slice; ++s) y[off + s] = detail::scatter_combine<R>(y[off + s], upd[i * slice + s]);
  }
}

// ScatterElements over y (already a copy of data); P as for gather_elements, dims = the updates' shape.
template <const GatherElementsParams& P, ScatterReduce R, typename T, typename I>
inline void scatter_elements(T* y, const I* EDGE_RESTRICT idx, const T* EDGE_RESTRICT upd) {
  int64_t total = 1;
  for (int d = 0; d < P.rank; ++d) total *= P.dims[d];
  int64_t pos[kMaxRank] = {0};
  for (int64_t t = 0; t < total; ++t) {
    const int64_t k = detail::wrap_index(static_cast<int64_t>(idx[t]), P.axis_len);
    int64_t off = 0;
    for (int d = 0; d < P.rank; ++d) off += (d == P.axis ? k : pos[d]) * P.x_strides[d];
    y[off] = detail::scatter_combine<R>(y[off], upd[t]);
    for (int d = P.rank - 1; d >= 0; --d) {
      if (++pos[d] < P.dims[d]) break;
      pos[d] = 0;
    }
  }
}

}  // namespace edge_sdk
