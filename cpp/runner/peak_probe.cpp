// Peak multiply-accumulate rate of one core, in the instructions edge-sdk's kernels are
// made of (edge_sdk/peak.py builds this with the device's flags and caches the result).
//   fp32: FMA on the widest vector the build has (kernels/common.h's vfloat).
//   int8: AVX-512 VNNI vpdpbusd (64 MACs), else AVX2 vpmaddwd + vpaddd (16: the exact int16
//         products qconv_avx2.h uses), else NEON sdot (16), else int32 vector multiply-add.
// Enough independent accumulators cover each instruction's latency on every pipe, so the
// figure is a throughput: the ceiling a kernel's inner loop can approach, not a promise.
// Every multiply reads its accumulator, so none can be hoisted out of the loop.
// Prints: "<fp32 GMAC/s> <int8 GMAC/s> <int8 instruction>".
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "edge_sdk/kernels/common.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>
#endif

using namespace edge_sdk;

namespace {

constexpr int kChains = kVecRegs - 4;  // accumulators; the rest hold the operands
volatile float g_seed_f = 0.999999f;
volatile int g_seed_i = 3;

// The accumulators as memory the compiler must have written here, so their loop cannot
// move out of the timed region.
template <class T>
inline void escape(T* p) {
  asm volatile("" : : "r"(p) : "memory");
}

template <class F>
double best_seconds(F run) {
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = s < best ? s : best;
  }
  return best;
}

double fp32_gmacs(long iters, float* sink) {
  const vfloat m = vsplat(g_seed_f), c = vsplat(1e-7f);
  vfloat acc[kChains];
  const double s = best_seconds([&] {
    for (int j = 0; j < kChains; ++j) acc[j] = vsplat(static_cast<float>(j));
    for (long i = 0; i < iters; ++i)
      for (int j = 0; j < kChains; ++j) acc[j] = acc[j] * m + c;
    escape(acc);
  });
  for (int j = 0; j < kChains; ++j) *sink += acc[j][0];
  return static_cast<double>(iters) * kChains * kVL / s / 1e9;
}

#if defined(__AVX512VNNI__) && defined(__AVX512F__)
constexpr const char* kInt8Path = "vpdpbusd";
double int8_gmacs(long iters, int* sink) {
  const __m512i a = _mm512_set1_epi8(static_cast<char>(g_seed_i)), b = _mm512_set1_epi8(1);
  __m512i acc[kChains];
  const double s = best_seconds([&] {
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_epi32(j);
    for (long i = 0; i < iters; ++i)
      for (int j = 0; j < kChains; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
    escape(acc);
  });
  for (int j = 0; j < kChains; ++j) *sink += _mm_cvtsi128_si32(_mm512_castsi512_si128(acc[j]));
  return static_cast<double>(iters) * kChains * 64 / s / 1e9;
}
#elif defined(__AVX2__)
constexpr const char* kInt8Path = "vpmaddwd+vpaddd";
double int8_gmacs(long iters, int* sink) {
  const __m256i b = _mm256_set1_epi16(static_cast<short>(g_seed_i));
  __m256i acc[kChains];
  const double s = best_seconds([&] {
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_epi32(j);
    for (long i = 0; i < iters; ++i)
      for (int j = 0; j < kChains; ++j) acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(acc[j], b));
    escape(acc);
  });
  for (int j = 0; j < kChains; ++j) *sink += _mm_cvtsi128_si32(_mm256_castsi256_si128(acc[j]));
  return static_cast<double>(iters) * kChains * 16 / s / 1e9;
}
#elif defined(__ARM_FEATURE_DOTPROD)
constexpr const char* kInt8Path = "sdot";
double int8_gmacs(long iters, int* sink) {
  const int8x16_t a = vdupq_n_s8(static_cast<int8_t>(g_seed_i)), b = vdupq_n_s8(1);
  int32x4_t acc[kChains];
  const double s = best_seconds([&] {
    for (int j = 0; j < kChains; ++j) acc[j] = vdupq_n_s32(j);
    for (long i = 0; i < iters; ++i)
      for (int j = 0; j < kChains; ++j) acc[j] = vdotq_s32(acc[j], a, b);
    escape(acc);
  });
  for (int j = 0; j < kChains; ++j) *sink += vgetq_lane_s32(acc[j], 0);
  return static_cast<double>(iters) * kChains * 16 / s / 1e9;
}
#else
constexpr const char* kInt8Path = "int32 multiply-add";
double int8_gmacs(long iters, int* sink) {
  const vint b = g_seed_i - vint{};
  vint acc[kChains];
  const double s = best_seconds([&] {
    for (int j = 0; j < kChains; ++j) acc[j] = j - vint{};
    for (long i = 0; i < iters; ++i)
      for (int j = 0; j < kChains; ++j) acc[j] = acc[j] + acc[j] * b;
    escape(acc);
  });
  for (int j = 0; j < kChains; ++j) *sink += acc[j][0];
  return static_cast<double>(iters) * kChains * kVL / s / 1e9;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const long iters = argc > 1 ? std::atol(argv[1]) : 2000000;
  float fsink = 0.0f;
  int isink = 0;
  const double f = fp32_gmacs(iters, &fsink);
  const double q = int8_gmacs(iters, &isink);
  std::printf("%.2f %.2f %s\n", f, q, kInt8Path);
  return fsink == 12345.0f && isink == 12345 ? 3 : 0;  // keeps the accumulators alive
}
