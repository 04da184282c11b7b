// Software prefetch for the weight rows of large fully connected layers (batch-1 GEMV).
//
// A classifier head such as MobileNetV2's 1280x1000 is read once per inference and is larger
// than L2, so every run streams it from L3 or DRAM (a Pi 4 has no L3 at all).  Four to eight
// rows are read side by side and each is only a few cache lines long, too short for the hardware
// prefetcher to ramp up, so the GEMV waits on latency.  Touching the rows a fixed distance ahead
// keeps the loads in flight: 1280x1000 int8 from DRAM went from about 320 to 180-230 us on Zen 1.
// Prefetches are hints, never faults, and change no result.
#pragma once

#include "requant.h"

namespace edge_sdk {
namespace q8 {

// Rows ahead of the current ones to prefetch: 0 (none) where the weights fit in L2 comfortably.
template <int N, int K>
constexpr int fc_prefetch_ahead() {
  return static_cast<size_t>(N) * static_cast<size_t>(K) >= (size_t{128} << 10) ? 16 : 0;
}

// Prefetch the cache line at column k of row `row` + A of an N x K row-major matrix, when that
// row exists (A = fc_prefetch_ahead<N, K>(): the call vanishes for small layers).
template <int N, int K, int A = fc_prefetch_ahead<N, K>()>
EDGE_Q8_INLINE void fc_prefetch(const int8_t* w, int row, int k) {
  if constexpr (A > 0) {
    if (row + A < N) __builtin_prefetch(w + static_cast<size_t>(row + A) * K + k, 0, 3);
  } else {
    (void)w; (void)row; (void)k;
  }
}

}  // namespace q8
}  // namespace edge_sdk
