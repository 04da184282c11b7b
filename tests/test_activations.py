"""Fused activations (kernels/common.h): the vector forms every fast fp32 kernel applies in
its epilogue (activate_vec_n, vexp_fast_n) must give, lane by lane, the bits of the scalar
activate<K> the portable kernels use, on every kind of input (NaN, infinities, subnormals,
the exp clamps); and exp / sigmoid / SiLU must stay within a few ulp of the true values.
The end-to-end check against onnxruntime (test_kernels_conv.py) has a 1e-4 tolerance, which
a wrong polynomial coefficient can pass; this one cannot.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import REPO
from edge_sdk.build.toolchain import find_toolchain, march_flags

HARNESS = r"""
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "edge_sdk/kernels/common.h"

using namespace edge_sdk;

static bool same(float a, float b) {
  if (a != a || b != b) return a != a && b != b;
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// Lanes of activate_vec_n<K, NB> against activate<K>, over every input.
template <Act K>
static long mismatches(const std::vector<float>& xs, float a, float b) {
  constexpr int NB = 5;
  long bad = 0;
  for (size_t i = 0; i + NB * kVL <= xs.size(); i += NB * kVL) {
    vfloat v[NB];
    for (int j = 0; j < NB; ++j) v[j] = vload(&xs[i + j * kVL]);
    activate_vec_n<K>(v, a, b);
    for (int j = 0; j < NB; ++j)
      for (int l = 0; l < kVL; ++l) {
        const float want = activate<K>(xs[i + j * kVL + l], a, b);
        if (!same(v[j][l], want)) {
          if (bad < 5) std::fprintf(stderr, "act %d x=%a: vector %a scalar %a\n", int(K), xs[i + j * kVL + l], v[j][l], want);
          ++bad;
        }
      }
  }
  return bad;
}

// Largest relative error of f against the double reference g over [lo, hi].
template <class F, class G>
static double max_rel(F f, G g, double lo, double hi) {
  double worst = 0;
  for (int i = 0; i <= 2000000; ++i) {
    const float x = static_cast<float>(lo + (hi - lo) * i / 2000000.0);
    const double want = g(static_cast<double>(x));
    if (std::fabs(want) < 1e-37) continue;
    const double e = std::fabs(f(x) - want) / std::fabs(want);
    if (e > worst) worst = e;
  }
  return worst;
}

int main() {
  std::vector<float> xs = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, kExpHi, kExpLo, 88.5f, -88.0f, -87.0f,
                           1e-45f, -1e-45f, 1e-39f, 3.4e38f, -3.4e38f, 3.0f, -3.0f, 6.0f, -6.0f, 0.5f};
  for (int i = -12800; i <= 12800; ++i) xs.push_back(i / 128.0f);            // [-100, 100], steps of 1/128
  for (uint64_t u = 0; u < (1ull << 32); u += 4093) {                          // bit patterns of every exponent
    const uint32_t bits = static_cast<uint32_t>(u);
    float f;
    std::memcpy(&f, &bits, 4);
    xs.push_back(f);
  }
  while (xs.size() % (5 * kVL)) xs.push_back(1.0f);
  long bad = 0;
  bad += mismatches<Act::Relu>(xs, 0, 0);
  bad += mismatches<Act::Clip>(xs, -1.0f, 2.5f);
  bad += mismatches<Act::LeakyRelu>(xs, 0.1f, 0);
  bad += mismatches<Act::HardSigmoid>(xs, 0.2f, 0.5f);
  bad += mismatches<Act::HardSwish>(xs, 0, 0);
  bad += mismatches<Act::Sigmoid>(xs, 0, 0);
  bad += mismatches<Act::Silu>(xs, 0, 0);
  const double e_exp = max_rel([](float x) { return double(exp_fast(x)); }, [](double x) { return std::exp(x); },
                               -87.3, 88.37);
  const double e_sig = max_rel([](float x) { return double(activate<Act::Sigmoid>(x, 0, 0)); },
                               [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, -80.0, 80.0);
  const double e_silu = max_rel([](float x) { return double(activate<Act::Silu>(x, 0, 0)); },
                                [](double x) { return x / (1.0 + std::exp(-x)); }, -80.0, 80.0);
  std::printf("%ld %zu %.3g %.3g %.3g %d\n", bad, xs.size(), e_exp, e_sig, e_silu, kVL);
  return 0;
}
"""


@pytest.mark.parametrize("march", ["native", "x86-64"])  # x86-64: 4 lanes (SSE2), native: the widest here
def test_vector_activations_equal_the_scalar_ones_and_are_accurate(tmp_path, march):
    cxx = "clang++-19"
    if not shutil.which(cxx):
        pytest.skip(f"{cxx} is installed by `make test`")
    src, exe = tmp_path / "t.cpp", tmp_path / "t"
    src.write_text(HARNESS)
    subprocess.run([cxx, "-std=c++17", "-O2", *march_flags(march, find_toolchain(cxx).kind), "-Wall", "-Wextra", "-Werror",
                    f"-I{REPO}/cpp/include", str(src), "-o", str(exe)], check=True, capture_output=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    bad, n, e_exp, e_sig, e_silu, lanes = out.stdout.split()
    assert int(bad) == 0, out.stderr
    assert int(n) > 1_000_000 and int(lanes) >= 4
    # float's ulp is 2^-23 (1.2e-7) relative: exp within 2 ulp, the sigmoids (a division more) within 4
    assert float(e_exp) < 2.5e-7 and float(e_sig) < 5e-7 and float(e_silu) < 5e-7, out.stdout
