// Shared definitions for edge-sdk kernels: fused activations and small helpers.
// Header-only C++17; no heap, no exceptions, no RTTI, no I/O.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cmath>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EDGE_RESTRICT __restrict__
#define EDGE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define EDGE_RESTRICT
#define EDGE_ALWAYS_INLINE inline
#endif

namespace edge_sdk {

// Portable SIMD: GCC/clang vector extensions map one `vfloat` to a native
// register (AVX-512: 16 lanes, AVX/AVX2: 8, SSE/NEON: 4).  kVecRegs is the
// register-file size the fast kernels block for.
#if defined(__AVX512F__)
#define EDGE_VL 16
constexpr int kVecRegs = 32;
#elif defined(__AVX__)
#define EDGE_VL 8
constexpr int kVecRegs = 16;
#elif defined(__aarch64__)
#define EDGE_VL 4
constexpr int kVecRegs = 32;
#else
#define EDGE_VL 4
constexpr int kVecRegs = 16;
#endif
constexpr int kVL = EDGE_VL;
typedef float vfloat __attribute__((vector_size(kVL * sizeof(float))));

// Unaligned vector load/store (memcpy compiles to one move; no aliasing UB).
EDGE_ALWAYS_INLINE vfloat vload(const float* p) {
  vfloat v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
EDGE_ALWAYS_INLINE void vstore(float* p, vfloat v) { std::memcpy(p, &v, sizeof(v)); }
// x - (+0) is exactly x for every x (x + 0 is not, for -0), so this folds to a broadcast.
EDGE_ALWAYS_INLINE vfloat vsplat(float x) { return x - vfloat{}; }

// Lanes [lo, hi) of v to p[lo], ..., p[hi - 1]; the other lanes' addresses are not touched.
EDGE_ALWAYS_INLINE void vstore_lanes(float* p, vfloat v, int lo, int hi) {
#if defined(__AVX512F__)
  const __mmask16 m = static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
  _mm512_mask_storeu_ps(p, m, reinterpret_cast<__m512>(v));
#else
  for (int l = lo; l < hi; ++l) p[l] = v[l];
#endif
}
// Lanes [0, n) of v loaded from p[0], ..., p[n - 1] and the rest `fill`; nothing past p[n - 1] is read.
EDGE_ALWAYS_INLINE vfloat vload_lanes(const float* p, int n, float fill) {
#if defined(__AVX512F__)
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
  return reinterpret_cast<vfloat>(_mm512_mask_loadu_ps(_mm512_set1_ps(fill), m, p));
#else
  vfloat v = vsplat(fill);
  for (int l = 0; l < n; ++l) v[l] = p[l];
  return v;
#endif
}
typedef int32_t vint __attribute__((vector_size(kVL * sizeof(int32_t))));

// max(m, v) with the portable MaxPool's rule: v replaces m if greater or NaN.
EDGE_ALWAYS_INLINE vfloat vmax_nan(vfloat m, vfloat v) {
  const vint take = (v > m) | (v != v);
  return reinterpret_cast<vfloat>((reinterpret_cast<vint>(v) & take) | (reinterpret_cast<vint>(m) & ~take));
}
EDGE_ALWAYS_INLINE float max_nan(float m, float v) { return (v > m || v != v) ? v : m; }

// Activation fused into a kernel's epilogue (see passes/fuse_activation.py).
enum class Act : int { None = 0, Relu, Clip, LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Silu };

struct ActParams {
  Act kind;
  float alpha;  // Clip: min, LeakyRelu/HardSigmoid: alpha
  float beta;   // Clip: max, HardSigmoid: beta
};

// exp(x) for float32 without a libm call, so loops over it vectorise (libm's expf
// does not).  Cephes' expf: range reduction by ln 2 in two parts, a degree-6
// polynomial, and 2^n written into a float's exponent bits.  Max error about
// 2 ulp.  Inputs are clamped to [-87.3, 88.7] (so 2^n stays a normal float and
// exp of very negative x is ~1e-38 rather than 0); NaN stays NaN.
EDGE_ALWAYS_INLINE float exp_fast(float x) {
  const bool is_nan = x != x;
  float c = is_nan ? 0.0f : x;
  c = c < -87.33654f ? -87.33654f : (c > 88.72283f ? 88.72283f : c);
  const float n = __builtin_floorf(c * 1.44269504088896341f + 0.5f);  // in [-126, 128]
  float r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  const float half_n = n > 127.0f ? 127.0f : n;  // 2^128 is not a float: scale by 2^127 twice-ish
  const int32_t bits = (static_cast<int32_t>(half_n) + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  const float result = n > 127.0f ? y * 2.0f * scale : y * scale;
  return is_nan ? x : result;
}

// 1 / (1 + exp(-v)), vectorisable (see exp_fast).
EDGE_ALWAYS_INLINE float sigmoid_fast(float v) { return 1.0f / (1.0f + exp_fast(-v)); }

template <Act K>
EDGE_ALWAYS_INLINE float activate(float v, float a, float b) {
  if constexpr (K == Act::None) {
    (void)a; (void)b;
    return v;
  } else if constexpr (K == Act::Relu) {
    (void)a; (void)b;
    return v > 0.0f ? v : 0.0f;
  } else if constexpr (K == Act::Clip) {
    return v < a ? a : (v > b ? b : v);
  } else if constexpr (K == Act::LeakyRelu) {
    (void)b;
    return v >= 0.0f ? v : v * a;
  } else if constexpr (K == Act::HardSigmoid) {
    const float y = a * v + b;
    return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
  } else if constexpr (K == Act::HardSwish) {
    (void)a; (void)b;
    const float y = v * (1.0f / 6.0f) + 0.5f;
    return v * (y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y));
  } else if constexpr (K == Act::Sigmoid) {
    (void)a; (void)b;
    return sigmoid_fast(v);
  } else {
    (void)a; (void)b;
    return v * sigmoid_fast(v);  // Silu
  }
}

// Apply activation K to n floats in place.
template <Act K>
inline void activate_span(float* EDGE_RESTRICT x, size_t n, float a, float b) {
  if constexpr (K != Act::None) {
    for (size_t i = 0; i < n; ++i) x[i] = activate<K>(x[i], a, b);
  } else {
    (void)x; (void)n; (void)a; (void)b;
  }
}

// Even and odd lanes of the 2*kVL floats at p (a stride-2 read without gathers).
#if defined(__clang__)
#define EDGE_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define EDGE_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, vint{__VA_ARGS__})
#endif
EDGE_ALWAYS_INLINE void vdeinterleave2(const float* p, vfloat& even, vfloat& odd) {
  const vfloat a = vload(p), b = vload(p + kVL);
#if EDGE_VL == 16
  even = EDGE_SHUFFLE(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  odd = EDGE_SHUFFLE(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#elif EDGE_VL == 8
  even = EDGE_SHUFFLE(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
  odd = EDGE_SHUFFLE(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
#else
  even = EDGE_SHUFFLE(a, b, 0, 2, 4, 6);
  odd = EDGE_SHUFFLE(a, b, 1, 3, 5, 7);
#endif
}

// Fused activations on whole vectors where they are cheap (compare + mask keeps
// the scalar semantics, NaN included); the rest go through activate<K> per lane.
constexpr bool vector_act(Act k) { return k == Act::None || k == Act::Relu || k == Act::Clip; }
template <Act K>
EDGE_ALWAYS_INLINE vfloat activate_vec(vfloat v, float a, float b) {
  if constexpr (K == Act::Relu) {
    (void)a; (void)b;
    return reinterpret_cast<vfloat>(reinterpret_cast<vint>(v) & (v > vfloat{}));
  } else if constexpr (K == Act::Clip) {
    const vfloat lo = vsplat(a), hi = vsplat(b);
    const vint below = v < lo, above = v > hi;
    const vint keep = ~(below | above);
    return reinterpret_cast<vfloat>((reinterpret_cast<vint>(v) & keep) | (reinterpret_cast<vint>(lo) & below) |
                                    (reinterpret_cast<vint>(hi) & above));
  } else {
    (void)a; (void)b;
    return v;
  }
}

}  // namespace edge_sdk
