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

#if defined(__AVX512F__)
// Lane l's element offset l * stride, and the mask of lanes [0, n): vstore_strided / vload_strided.
EDGE_ALWAYS_INLINE __m512i strided_lanes(int stride) {
  return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                            _mm512_set1_epi32(stride));
}
EDGE_ALWAYS_INLINE __mmask16 first_lanes(int n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u); }
#endif

// Lanes [0, n) of v to p[0], p[stride], ..., p[(n - 1) * stride] (a vector of channels to their
// planes): one scatter on AVX-512, where lane-by-lane extracts cost a shuffle and a store each.
EDGE_ALWAYS_INLINE void vstore_strided(float* p, vfloat v, int stride, int n) {
#if defined(__AVX512F__)
  _mm512_mask_i32scatter_ps(p, first_lanes(n), strided_lanes(stride), reinterpret_cast<__m512>(v), 4);
#else
  for (int l = 0; l < n; ++l) p[static_cast<size_t>(l) * stride] = v[l];
#endif
}

// p[0], p[stride], ..., p[(n - 1) * stride] as lanes [0, n), the rest 0 (vstore_strided's inverse).
EDGE_ALWAYS_INLINE vfloat vload_strided(const float* p, int stride, int n) {
#if defined(__AVX512F__)
  return reinterpret_cast<vfloat>(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), first_lanes(n), strided_lanes(stride), p, 4));
#else
  vfloat v{};
  for (int l = 0; l < n; ++l) v[l] = p[static_cast<size_t>(l) * stride];
  return v;
#endif
}

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
typedef uint32_t vuint __attribute__((vector_size(kVL * sizeof(uint32_t))));

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

// exp(x) for float32 without a libm call, for the sigmoids of fused activations
// (vexp_fast_n below is the same on every lane).  Cephes' expf polynomial on
// r = x - n ln 2, n = round(x / ln 2): adding 1.5 * 2^23 + 127 rounds x / ln 2 to an
// integer and leaves n + 127 in the low mantissa bits, which shifted up are 2^n.
// Max error about 2 ulp.  Inputs are clamped to [-87.3, 88.37] so 2^n stays a normal
// float (exp of x beyond is the clamp's, 2.6e38 and 1.2e-38); NaN stays NaN.
constexpr float kExpLo = -87.33654f, kExpHi = 88.37626f;
constexpr float kExpRound = 12582912.0f + 127.0f;  // 1.5 * 2^23 + exponent bias
EDGE_ALWAYS_INLINE float exp_fast(float x) {
  float c = x > kExpHi ? kExpHi : x;  // NaN passes both clamps
  c = c < kExpLo ? kExpLo : c;
  const float t = c * 1.44269504088896341f + kExpRound;
  const float n = t - kExpRound;
  float r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float y = 1.9875691500e-4f * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.0f;
  uint32_t bits;
  __builtin_memcpy(&bits, &t, sizeof bits);
  bits <<= 23;
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return y * scale;
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
    return v / (1.0f + exp_fast(-v));  // Silu
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

// m ? a : b lane by lane (m: all-ones or all-zeros lanes, from a vector compare).
EDGE_ALWAYS_INLINE vfloat vselect(vint m, vfloat a, vfloat b) {
  return reinterpret_cast<vfloat>((reinterpret_cast<vint>(a) & m) | (reinterpret_cast<vint>(b) & ~m));
}

// exp_fast on every lane of NB vectors: the same operations in the same order, so each
// lane is the scalar result.  Each step runs across the NB vectors before the next, so
// NB dependency chains of ~18 operations are in flight together rather than one.
template <int NB>
EDGE_ALWAYS_INLINE void vexp_fast_n(vfloat (&x)[NB]) {
  vfloat t[NB], n[NB], r[NB], y[NB];
  for (int j = 0; j < NB; ++j) {
    const vfloat c = vselect(x[j] > vsplat(kExpHi), vsplat(kExpHi), x[j]);  // NaN passes both clamps
    x[j] = vselect(c < vsplat(kExpLo), vsplat(kExpLo), c);
  }
  for (int j = 0; j < NB; ++j) t[j] = x[j] * 1.44269504088896341f + kExpRound;
  for (int j = 0; j < NB; ++j) n[j] = t[j] - kExpRound;
  for (int j = 0; j < NB; ++j) r[j] = x[j] - n[j] * 0.693359375f;
  for (int j = 0; j < NB; ++j) r[j] = r[j] - n[j] * -2.12194440e-4f;
  for (int j = 0; j < NB; ++j) y[j] = 1.9875691500e-4f * r[j] + 1.3981999507e-3f;
  for (int j = 0; j < NB; ++j) y[j] = y[j] * r[j] + 8.3334519073e-3f;
  for (int j = 0; j < NB; ++j) y[j] = y[j] * r[j] + 4.1665795894e-2f;
  for (int j = 0; j < NB; ++j) y[j] = y[j] * r[j] + 1.6666665459e-1f;
  for (int j = 0; j < NB; ++j) y[j] = y[j] * r[j] + 5.0000001201e-1f;
  for (int j = 0; j < NB; ++j) y[j] = y[j] * (r[j] * r[j]) + r[j] + 1.0f;
  for (int j = 0; j < NB; ++j) x[j] = y[j] * reinterpret_cast<vfloat>(reinterpret_cast<vuint>(t[j]) << 23);
}

// activate<K> on every lane of NB vectors (compares and masks keep the scalar semantics,
// NaN included); the sigmoids interleave their NB exps (vexp_fast_n).
template <Act K, int NB>
EDGE_ALWAYS_INLINE void activate_vec_n(vfloat (&v)[NB], float a, float b) {
  const vfloat zero{}, one = vsplat(1.0f);
  if constexpr (K == Act::Sigmoid || K == Act::Silu) {
    (void)a; (void)b;
    vfloat e[NB];
    for (int j = 0; j < NB; ++j) e[j] = -v[j];
    vexp_fast_n(e);
    for (int j = 0; j < NB; ++j) v[j] = (K == Act::Silu ? v[j] : one) / (one + e[j]);
  } else {
    for (int j = 0; j < NB; ++j) {
      if constexpr (K == Act::None) {
        (void)a; (void)b;
      } else if constexpr (K == Act::Relu) {
        (void)a; (void)b;
        v[j] = reinterpret_cast<vfloat>(reinterpret_cast<vint>(v[j]) & (v[j] > zero));
      } else if constexpr (K == Act::Clip) {
        const vfloat lo = vsplat(a), hi = vsplat(b);
        v[j] = vselect(v[j] < lo, lo, vselect(v[j] > hi, hi, v[j]));
      } else if constexpr (K == Act::LeakyRelu) {
        (void)b;
        v[j] = vselect(v[j] >= zero, v[j], v[j] * a);
      } else if constexpr (K == Act::HardSigmoid) {
        const vfloat y = a * v[j] + b;
        v[j] = vselect(y < zero, zero, vselect(y > one, one, y));
      } else {
        static_assert(K == Act::HardSwish, "every Act kind has a vector form");
        (void)a; (void)b;
        const vfloat y = v[j] * (1.0f / 6.0f) + 0.5f;
        v[j] = v[j] * vselect(y < zero, zero, vselect(y > one, one, y));
      }
    }
  }
}

// activate<K> on every lane of one vector.
template <Act K>
EDGE_ALWAYS_INLINE vfloat activate_vec(vfloat v, float a, float b) {
  vfloat x[1] = {v};
  activate_vec_n<K>(x, a, b);
  return x[0];
}

}  // namespace edge_sdk
