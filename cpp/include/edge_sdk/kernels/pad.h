// Pad in constant, reflect, edge or wrap mode, any rank up to kMaxRank.  Negative
// pads crop.  Each output row maps its outer coordinates once, then its elements.
#pragma once

#include "common.h"
#include "elementwise.h"

namespace edge_sdk {

enum class PadMode : int { Constant = 0, Reflect, Edge, Wrap };

struct PadParams {
  int rank;
  PadMode mode;
  int64_t out_dims[kMaxRank];
  int64_t in_dims[kMaxRank];
  int64_t in_strides[kMaxRank];
  int64_t begin[kMaxRank];  // pad before each axis (negative: crop)
};

namespace detail {

// Input coordinate for output coordinate o on an axis, or -1 for the constant value.
template <PadMode M>
EDGE_ALWAYS_INLINE int64_t pad_source(int64_t o, int64_t begin, int64_t n) {
  int64_t c = o - begin;
  if (c >= 0 && c < n) return c;
  if constexpr (M == PadMode::Constant) {
    return -1;
  } else if constexpr (M == PadMode::Edge) {
    return c < 0 ? 0 : n - 1;
  } else if constexpr (M == PadMode::Wrap) {
    c %= n;
    return c < 0 ? c + n : c;
  } else {  // Reflect, without repeating the border element; folds until inside
    if (n == 1) return 0;
    const int64_t period = 2 * (n - 1);
    c %= period;
    if (c < 0) c += period;
    return c < n ? c : period - c;
  }
}

}  // namespace detail

template <const PadParams& P, typename T>
inline void pad(const T* EDGE_RESTRICT x, T* EDGE_RESTRICT y, T value) {
  constexpr int R = P.rank;
  constexpr int64_t inner = P.out_dims[R - 1];
  int64_t rows = 1;
  for (int d = 0; d < R - 1; ++d) rows *= P.out_dims[d];
  int64_t idx[kMaxRank] = {0};
  for (int64_t r = 0; r < rows; ++r) {
    T* out = y + r * inner;
    int64_t base = 0;
    bool inside = true;
    for (int d = 0; d < R - 1; ++d) {
      const int64_t c = detail::pad_source<P.mode>(idx[d], P.begin[d], P.in_dims[d]);
      if (c < 0) inside = false;
      base += c * P.in_strides[d];
    }
    if (!inside) {
      for (int64_t i = 0; i < inner; ++i) out[i] = value;
    } else {
      const T* in = x + base;
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t c = detail::pad_source<P.mode>(i, P.begin[R - 1], P.in_dims[R - 1]);
        out[i] = c < 0 ? value : in[c * P.in_strides[R - 1]];
      }
    }
    for (int d = R - 2; d >= 0; --d) {
      if (++idx[d] < P.out_dims[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace edge_sdk
