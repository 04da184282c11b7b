// Standalone checks of the runtime headers (no Python): every kernel header
// compiles on its own, and a few kernels give known results.  Model-level
// correctness is tested against onnxruntime in tests/ (pytest).
#include <edge_sdk/abi.h>
#include <edge_sdk/kernels/common.h>
#include <edge_sdk/kernels/conv.h>
#include <edge_sdk/kernels/elementwise.h>
#include <edge_sdk/kernels/gemm.h>
#include <edge_sdk/kernels/pool.h>
#include <edge_sdk/kernels/transpose.h>

#include <cmath>
#include <cstdio>

namespace {

int failures = 0;

void expect_near(float got, float want, const char* what, int i) {
  if (std::fabs(got - want) > 1e-5f * (1.0f + std::fabs(want))) {
    std::printf("FAIL %s[%d]: got %g want %g\n", what, i, static_cast<double>(got), static_cast<double>(want));
    ++failures;
  }
}

// [2,3] + [3] broadcast along the last axis.
constexpr edge_sdk::Bcast kRowBcast = {2, {2, 3}, {3, 1}, {0, 1}, {0, 0}};

void test_broadcast_add() {
  const float a[6] = {1, 2, 3, 4, 5, 6};
  const float b[3] = {10, 20, 30};
  float y[6];
  edge_sdk::map_binary<kRowBcast>(a, b, y, [](float x, float z) { return x + z; });
  const float want[6] = {11, 22, 33, 14, 25, 36};
  for (int i = 0; i < 6; ++i) expect_near(y[i], want[i], "broadcast_add", i);
}

// 3x3 all-ones kernel, stride 1, pad 1 on a 3x3 input of ones: corner 4, edge 6, centre 9.
constexpr edge_sdk::ConvParams kBoxConv = {1, 1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, edge_sdk::Act::None, 0.f, 0.f};

void test_conv_padding() {
  float x[9], w[9], y[9];
  for (int i = 0; i < 9; ++i) x[i] = w[i] = 1.0f;
  edge_sdk::conv2d_f32<kBoxConv>(x, w, nullptr, y);
  const float want[9] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
  for (int i = 0; i < 9; ++i) expect_near(y[i], want[i], "conv_padding", i);
}

// [2,3] -> [3,2]
constexpr edge_sdk::Bcast kT23 = {2, {3, 2}, {1, 3}, {0, 0}, {0, 0}};

void test_transpose() {
  const int a[6] = {0, 1, 2, 3, 4, 5};
  int y[6];
  edge_sdk::transpose<kT23>(a, y);
  const int want[6] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) expect_near(static_cast<float>(y[i]), static_cast<float>(want[i]), "transpose", i);
}

void test_global_pool() {
  const float x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  float avg[2], mx[2];
  edge_sdk::global_pool_f32<false>(x, avg, 2, 4);
  edge_sdk::global_pool_f32<true>(x, mx, 2, 4);
  expect_near(avg[0], 2.5f, "gap", 0);
  expect_near(avg[1], -2.5f, "gap", 1);
  expect_near(mx[0], 4.0f, "gmp", 0);
  expect_near(mx[1], -1.0f, "gmp", 1);
}

// exp_fast stays within 2 ulp of libm wherever exp is a normal float, clamps beyond
// (so 2^n never leaves the exponent range), and keeps NaN.
void test_exp_fast() {
  double worst = 0.0;
  for (float x = edge_sdk::kExpLo; x <= edge_sdk::kExpHi; x += 0.00731f) {
    const double want = std::exp(static_cast<double>(x));
    const double rel = std::fabs(edge_sdk::exp_fast(x) - want) / want;
    worst = rel > worst ? rel : worst;
  }
  if (!(worst < 2.5e-7)) {
    std::printf("FAIL exp_fast: worst relative error %g\n", worst);
    ++failures;
  }
  const float nan = std::nanf("");
  const float hi = edge_sdk::exp_fast(edge_sdk::kExpHi), lo = edge_sdk::exp_fast(edge_sdk::kExpLo);
  if (!std::isnan(edge_sdk::exp_fast(nan)) || edge_sdk::exp_fast(1000.0f) != hi ||
      !std::isfinite(hi) || edge_sdk::exp_fast(-1000.0f) != lo || !(lo > 0.0f) ||
      edge_sdk::sigmoid_fast(-200.0f) > 1e-30f || edge_sdk::sigmoid_fast(200.0f) != 1.0f) {
    std::printf("FAIL exp_fast/sigmoid_fast edge cases\n");
    ++failures;
  }
}

}  // namespace

int main() {
  test_exp_fast();
  test_broadcast_add();
  test_conv_padding();
  test_transpose();
  test_global_pool();
  std::printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
  return failures ? 1 : 0;
}
