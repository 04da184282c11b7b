// Elementwise maps with NumPy broadcasting.  The operation is a lambda
// written by the emitter, so one kernel serves every unary/binary/ternary op.
// Shapes are coalesced at compile time (edge_sdk/ops/broadcast.py) so most
// calls run a single flat inner loop.
#pragma once

#include <limits>
#include <type_traits>

#include "common.h"

namespace edge_sdk {

template <typename T>
constexpr T lowest_value() {
  return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
}
template <typename T>
constexpr T highest_value() {
  return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
}

// Cast for ONNX Cast: like static_cast, but float -> integer saturates and NaN
// becomes 0 (a plain C++ conversion of an out-of-range float is undefined).
template <typename TO, typename TI>
EDGE_ALWAYS_INLINE TO cast_value(TI v) {
  if constexpr (std::is_same_v<TO, bool>) {
    return v != TI(0);
  } else if constexpr (std::is_floating_point_v<TI> && std::is_integral_v<TO>) {
    if (!(v == v)) return TO(0);
    if (v <= static_cast<TI>(std::numeric_limits<TO>::lowest())) return std::numeric_limits<TO>::lowest();
    if (v >= static_cast<TI>(std::numeric_limits<TO>::max())) return std::numeric_limits<TO>::max();
    return static_cast<TO>(v);
  } else {
    return static_cast<TO>(v);
  }
}

constexpr int kMaxRank = 8;

// Broadcast iteration space: `rank` dims of the output and each operand's
// element strides (0 where it is broadcast).
struct Bcast {
  int rank;
  int64_t dims[kMaxRank];
  int64_t s0[kMaxRank];
  int64_t s1[kMaxRank];
  int64_t s2[kMaxRank];
};

// `out` may be `in` (ops marked inplace), so neither pointer is restrict.
template <typename TI, typename TO, typename F>
inline void map_unary(const TI* in, TO* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(in[i]);
}

namespace detail {

// Odometer over all but the innermost dim; calls body(offset0, offset1, offset2, out_offset).
template <const Bcast& P, typename Body>
EDGE_ALWAYS_INLINE void for_each_row(Body body) {
  constexpr int R = P.rank;
  constexpr int64_t inner = P.dims[R - 1];
  int64_t outer = 1;
  for (int d = 0; d < R - 1; ++d) outer *= P.dims[d];
  int64_t idx[kMaxRank] = {0};
  int64_t o0 = 0, o1 = 0, o2 = 0;
  for (int64_t row = 0; row < outer; ++row) {
    body(o0, o1, o2, row * inner);
    for (int d = R - 2; d >= 0; --d) {
      ++idx[d];
      o0 += P.s0[d];
      o1 += P.s1[d];
      o2 += P.s2[d];
      if (idx[d] < P.dims[d]) break;
      o0 -= P.s0[d] * P.dims[d];
      o1 -= P.s1[d] * P.dims[d];
      o2 -= P.s2[d] * P.dims[d];
      idx[d] = 0;
    }
  }
}

}  // namespace detail

template <const Bcast& P, typename TA, typename TB, typename TO, typename F>
inline void map_binary(const TA* a, const TB* b, TO* out, F f) {
  constexpr int64_t n = P.dims[P.rank - 1];
  constexpr int64_t sa = P.s0[P.rank - 1], sb = P.s1[P.rank - 1];
  detail::for_each_row<P>([&](int64_t oa, int64_t ob, int64_t, int64_t oo) {
    const TA* pa = a + oa;
    const TB* pb = b + ob;
    TO* po = out + oo;
    if constexpr (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
    } else if constexpr (sa == 1 && sb == 0) {
      const TB vb = pb[0];
      for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], vb);
    } else if constexpr (sa == 0 && sb == 1) {
      const TA va = pa[0];
      for (int64_t i = 0; i < n; ++i) po[i] = f(va, pb[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i * sa], pb[i * sb]);
    }
  });
}

template <const Bcast& P, typename TA, typename TB, typename TC, typename TO, typename F>
inline void map_ternary(const TA* a, const TB* b, const TC* c, TO* out, F f) {
  constexpr int64_t n = P.dims[P.rank - 1];
  constexpr int64_t sa = P.s0[P.rank - 1], sb = P.s1[P.rank - 1], sc = P.s2[P.rank - 1];
  detail::for_each_row<P>([&](int64_t oa, int64_t ob, int64_t oc, int64_t oo) {
    for (int64_t i = 0; i < n; ++i) out[oo + i] = f(a[oa + i * sa], b[ob + i * sb], c[oc + i * sc]);
  });
}

}  // namespace edge_sdk
