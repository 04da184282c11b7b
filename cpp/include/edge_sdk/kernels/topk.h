// TopK along one axis (n elements, `inner` apart): the k largest (or smallest)
// values in order, ties broken by the lower index, written straight into the
// outputs by insertion (no scratch; O(n*k), fine for classifier heads).
#pragma once

#include "common.h"

namespace edge_sdk {

template <bool Largest, typename T>
inline void topk(const T* EDGE_RESTRICT x, T* EDGE_RESTRICT values, int64_t* EDGE_RESTRICT indices, int64_t outer,
                 int64_t n, int64_t inner, int64_t k) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      T* vals = values + o * k * inner + i;
      int64_t* idx = indices + o * k * inner + i;
      int64_t count = 0;
      for (int64_t j = 0; j < n; ++j) {
        const T v = p[j * inner];
        // Position among the kept values; equal values stay behind earlier ones.
        int64_t pos = count;
        while (pos > 0 && (Largest ? v > vals[(pos - 1) * inner] : v < vals[(pos - 1) * inner])) --pos;
        if (pos >= k) continue;
        const int64_t last = count < k ? count : k - 1;
        for (int64_t m = last; m > pos; --m) {
          vals[m * inner] = vals[(m - 1) * inner];
          idx[m * inner] = idx[(m - 1) * inner];
        }
        vals[pos * inner] = v;
        idx[pos * inner] = j;
        if (count < k) ++count;
      }
    }
}

}  // namespace edge_sdk
