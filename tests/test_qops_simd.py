"""The AVX-512 and AVX2 int8 elementwise kernels (kernels/int8/qops_x86.h: Add, Mul, and on
AVX-512 the table lookup) must equal the portable loops in qops.h byte for byte, over random data, broadcast forms, run lengths
around the 16/64-lane tails, zero points at both ends, left and right shifts, and clamps."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from edge_sdk.build.toolchain import find_toolchain, march_flags

TEST = r"""
#include <edge_sdk/kernels/int8/qops.h>
#include <cstdio>
#include <random>
#if !defined(EDGE_Q8_HAVE_QOPS_X86) && !defined(EDGE_Q8_HAVE_QOPS_AVX2) && !defined(TABLES_ONLY)
int main() { std::printf("no-simd\n"); return 0; }
#else
using namespace edge_sdk::q8;
static std::mt19937 rng(7);
static int8_t a[4096], b[4096], got[4096], want[4096];
static long bad = 0, total = 0, distinct_hi = 0, distinct_lo = 0;
static void fill() {
  for (int i = 0; i < 4096; ++i) { a[i] = static_cast<int8_t>(rng()); b[i] = static_cast<int8_t>(rng()); }
}
static void compare(int n) {
  for (int i = 0; i < n; ++i) {
    bad += got[i] != want[i];
    distinct_hi += got[i] == 127;
    distinct_lo += got[i] == -128;
  }
  total += n;
}
// (outer, inner, b per outer, zp_a, zp_b, zp_out, left shift, mults and shifts, clamp)
constexpr QAddParams A1 = {1, 1000, false, -128, 127, 3, 20, 1518500250, -1, 1073741824, 0, 1288490189, -18, -128, 127};
constexpr QAddParams A2 = {37, 33, true, 5, -7, -128, 20, 2147483647, 0, 1431655765, -2, 1717986918, -17, -128, 60};
constexpr QAddParams A3 = {3, 15, false, 0, 0, 100, 20, 1073741824, 0, 1073741824, 0, 2000000000, -20, -50, 127};
constexpr QMulParams M1 = {1, 1023, false, -128, 3, -5, 1518500250, -7, -128, 127};
constexpr QMulParams M2 = {64, 49, true, 10, -128, 0, 1917396400, -9, -128, 127};
constexpr QMulParams M3 = {5, 17, true, -3, 7, 120, 1431655765, 2, -128, 90};
// Per-channel b over runs of kTableRun and more: one table per channel (per_channel_tables).
constexpr QAddParams A4 = {4, 1024, true, -20, 9, -3, 20, 1518500250, -1, 1073741824, 0, 1288490189, -18, -100, 127};
constexpr QMulParams M4 = {8, 512, true, -101, -128, -98, 1239149719, -7, -128, 127};
constexpr QMulParams M5 = {2, 2000, true, 10, 3, 7, 1917396400, -9, -128, 60};
template <const QAddParams& P> void add_case() {
  fill(); add_s8<P>(a, b, got); add_s8_portable<P>(a, b, want); compare(P.outer * P.inner);
}
template <const QMulParams& P> void mul_case() {
  fill(); mul_s8<P>(a, b, got); mul_s8_portable<P>(a, b, want); compare(P.outer * P.inner);
}
int main() {
  static int8_t tab[256];
#if defined(TABLES_ONLY)  // the portable build: only the table cases take another path than the loops
  for (int rep = 0; rep < 20; ++rep) { add_case<A4>(); mul_case<M4>(); mul_case<M5>(); }
  std::printf("%ld %ld %ld %ld\n", bad, total, distinct_hi, distinct_lo);
  return bad != 0;
#endif
  for (int rep = 0; rep < 20; ++rep) {
    add_case<A1>(); add_case<A2>(); add_case<A3>(); add_case<A4>();
    mul_case<M1>(); mul_case<M2>(); mul_case<M3>(); mul_case<M4>(); mul_case<M5>();
    for (int i = 0; i < 256; ++i) tab[i] = static_cast<int8_t>(rng());
    for (int n : {1, 63, 64, 65, 1000, 4096}) {
      fill(); lut_s8(a, got, n, tab); lut_s8_portable(a, want, n, tab); compare(n);
      fill(); for (int i = 0; i < n; ++i) got[i] = a[i]; lut_s8(got, got, n, tab);  // in place, as the planner allows
      lut_s8_portable(a, want, n, tab); compare(n);
    }
  }
  std::printf("%ld %ld %ld %ld\n", bad, total, distinct_hi, distinct_lo);
  return bad != 0;
}
#endif
"""


def _compile(cxx: str, src, exe, march: str, *defines: str) -> subprocess.CompletedProcess:
    return subprocess.run([cxx, "-std=c++17", "-O2", *march_flags(march, find_toolchain(cxx).kind), "-Wall", "-Wextra", "-Werror",
                           *defines, f"-I{REPO}/cpp/include", str(src), "-o", str(exe)], capture_output=True, text=True)


def test_portable_per_channel_tables_equal_the_portable_loops(tmp_path):
    """Without SIMD (EDGE_SDK_KERNELS_PORTABLE, as on a Cortex-M), Add and Mul by a per-channel b
    over long runs go through per-channel tables; they must equal the element loops."""
    cxx = "clang++-19" if shutil.which("clang++-19") else "g++"
    src = tmp_path / "t.cpp"
    src.write_text(TEST)
    r = _compile(cxx, src, tmp_path / "t", "x86-64", "-DEDGE_SDK_KERNELS_PORTABLE", "-DTABLES_ONLY")
    assert r.returncode == 0, r.stderr[-3000:]
    out = subprocess.run([str(tmp_path / "t")], capture_output=True, text=True)
    bad, total, hi, lo = map(int, out.stdout.split())
    assert out.returncode == 0 and bad == 0, out.stdout
    assert total > 50_000 and hi > 0 and lo > 0


@pytest.mark.parametrize("cxx", ["clang++-19", "g++"])
def test_avx512_int8_kernels_build_warning_free_on_any_x86(tmp_path, cxx):
    """Where this CPU cannot run them, the AVX-512 VNNI/VBMI paths are still compiled (icelake-server
    has every extension they test for) so a broken SIMD path never hides behind a skip."""
    if not shutil.which(cxx):
        pytest.skip(f"{cxx} is installed by `make test`")
    src = tmp_path / "t.cpp"
    src.write_text("#include <edge_sdk/kernels/int8/qconv.h>\n#include <edge_sdk/kernels/int8/qops.h>\n"
                   "#include <edge_sdk/kernels/int8/qconv_pool.h>\n"
                   "#ifndef EDGE_Q8_HAVE_QOPS_X86\n#error the AVX-512 elementwise path is not selected\n#endif\n"
                   "#ifndef EDGE_Q8_HAVE_VNNI_DIRECT\n#error the VNNI direct conv path is not selected\n#endif\n"
                   "int main() { return 0; }\n")
    r = _compile(cxx, src, tmp_path / "t", "icelake-server")
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize("cxx", ["clang++-19", "g++"])
def test_avx2_int8_kernels_build_warning_free_on_any_x86(tmp_path, cxx):
    """The AVX2 paths (conv direct, depthwise and gather, elementwise) are selected at x86-64-v3."""
    if not shutil.which(cxx):
        pytest.skip(f"{cxx} is installed by `make test`")
    src = tmp_path / "t.cpp"
    src.write_text("#include <edge_sdk/kernels/int8/qconv.h>\n#include <edge_sdk/kernels/int8/qops.h>\n"
                   "#include <edge_sdk/kernels/int8/qconv_pool.h>\n"
                   + "".join(f"#ifndef {m}\n#error {m} is not selected\n#endif\n" for m in
                             ("EDGE_Q8_HAVE_QOPS_AVX2", "EDGE_Q8_HAVE_AVX2", "EDGE_Q8_HAVE_AVX2_DIRECT",
                              "EDGE_Q8_HAVE_AVX2_DW"))
                   + "int main() { return 0; }\n")
    r = _compile(cxx, src, tmp_path / "t", "x86-64-v3")
    assert r.returncode == 0, r.stderr[-3000:]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {f for line in text.splitlines() if line.startswith("flags") for f in line.split()[2:]}


# native: AVX-512 where the CPU has VBMI; x86-64-v3: the AVX2 forms, on any AVX2 CPU.
@pytest.mark.parametrize("march", ["native", "x86-64-v3"])
@pytest.mark.parametrize("cxx", ["clang++-19", "g++"])
def test_vector_elementwise_int8_kernels_equal_the_portable_loops(tmp_path, cxx, march):
    if not shutil.which(cxx):
        pytest.skip(f"{cxx} is installed by `make test`")
    if march == "x86-64-v3" and "avx2" not in _cpu_flags():
        pytest.skip("this CPU has no AVX2")
    src = tmp_path / "t.cpp"
    src.write_text(TEST)
    exe = tmp_path / "t"
    r = _compile(cxx, src, exe, march)
    assert r.returncode == 0, r.stderr[-3000:]
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    if out.stdout.strip() == "no-simd":
        pytest.skip("this machine has neither AVX-512 VBMI nor AVX2: the portable loops run")
    bad, total, hi, lo = map(int, out.stdout.split())
    assert out.returncode == 0 and bad == 0, out.stdout
    assert total > 100_000 and hi > 0 and lo > 0  # saturation at both ends was compared too
