"""Instruction counts of the ARM int8 SIMD paths against the portable kernels, under qemu.

Wall time under emulation means nothing, so this counts the guest instructions executed,
with a tiny TCG plugin (tools/qemu_plugin/insn_count.c, built here with the host cc):

    /tmp/venv_probe/bin/python benchmarks/arm_icount.py                  # kernels + models
    /tmp/venv_probe/bin/python benchmarks/arm_icount.py --kernels-only
    /tmp/venv_probe/bin/python benchmarks/arm_icount.py --devices rpi5 sparkfun-edge

Kernel rows: one convolution shape in a small cross-built program, instructions of one call
(a run with the call minus a run without it), conv2d_s8<P> (the SIMD path the device profile
selects) against conv2d_s8<P, false> (what EDGE_SDK_KERNELS=portable builds).  Model rows:
the whole model's runner / test firmware, built normally and with EDGE_SDK_KERNELS=portable.
Writes benchmarks/results/arm-icount.md and .json.

The same harness, in its checking mode, is what tests/test_arm_simd.py runs: reference
kernel vs the device's SIMD kernel vs the dispatcher, bit for bit, on many shapes.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_sdk.build.firmware import COMMON_FLAGS, bare_metal_flags, linker_script  # noqa: E402
from edge_sdk.build.toolchain import find_toolchain  # noqa: E402
from edge_sdk.devices import Device, get_device  # noqa: E402
from edge_sdk.errors import DeviceFitError  # noqa: E402
from edge_sdk.resources import firmware_dir, kernel_include_dir  # noqa: E402

PLUGIN_SRC = ROOT / "tools" / "qemu_plugin" / "insn_count.c"
# The int8 path each ARM profile must compile (the harness prints which one it has).
EXPECTED_PATH = {"rpi4": "neon", "odroid-n2": "neon", "odroid-c4": "neon", "rpi3": "neon", "rpi-zero2": "neon",
                 "odroid-xu4": "neon", "rpi5": "neon+dotprod", "arm64-laptop": "neon+dotprod",
                 "sparkfun-edge": "dsp", "arduino-nano33ble": "dsp"}


@dataclass(frozen=True)
class ConvCase:
    c_in: int
    c_out: int
    groups: int
    k_h: int
    k_w: int
    stride: int
    pad: int
    dil: int
    h: int
    w: int
    zp_in: int         # int8 input zero point
    relu: bool = False  # clamp to [zp_out, 127] instead of the full range

    @property
    def h_out(self) -> int:
        return (self.h + 2 * self.pad - self.dil * (self.k_h - 1) - 1) // self.stride + 1

    @property
    def w_out(self) -> int:
        return (self.w + 2 * self.pad - self.dil * (self.k_w - 1) - 1) // self.stride + 1

    @property
    def k(self) -> int:
        return self.c_in // self.groups * self.k_h * self.k_w

    def scratch_bytes(self) -> int:
        """The largest scratch any path of qconv.h needs (reference plane, rows, im2col, VNNI/NEON/DSP)."""
        span = (self.w_out - 1) * self.stride + (self.k_w - 1) * self.dil + 1
        rows = self.c_out // self.groups * self.w_out * 4 + span * 2
        return max(4 * self.h_out * self.w_out, rows, self.w_out * self.k, (self.k + 3) // 4 * 4 * 32)

    def __str__(self) -> str:
        kind = "dw" if self.groups == self.c_in and self.groups > 1 else (f"g{self.groups}" if self.groups > 1 else "")
        return (f"{self.c_in}->{self.c_out}{kind} {self.k_h}x{self.k_w}/s{self.stride}p{self.pad}"
                f"{'d' + str(self.dil) if self.dil > 1 else ''} {self.h}x{self.w}")


# Bit-exactness sweep: channels around the 4-tap quads, 16-pixel NEON blocks and 2x2 DSP tiles
# (tile-1, tile, tile+1), 1x1 / 3x3 / 5x5 / 1-D kernels, stride 2, padding, dilation, groups,
# depthwise, planes smaller than one block, zero points at both ends, ReLU clamps.
CHECK_CASES = [
    ConvCase(1, 4, 1, 3, 3, 1, 1, 1, 9, 9, 0),
    ConvCase(3, 16, 1, 3, 3, 2, 1, 1, 17, 17, -128),
    ConvCase(4, 15, 1, 1, 1, 1, 0, 1, 6, 6, 127),
    ConvCase(5, 7, 1, 1, 1, 1, 0, 1, 4, 5, 3, True),
    ConvCase(15, 17, 1, 3, 3, 1, 1, 1, 7, 9, 3),
    ConvCase(16, 16, 1, 1, 1, 1, 0, 1, 8, 4, -28),
    ConvCase(16, 24, 1, 1, 1, 1, 0, 1, 16, 16, -5, True),
    ConvCase(17, 33, 1, 5, 5, 2, 2, 1, 13, 11, 12),
    ConvCase(31, 32, 1, 3, 3, 1, 0, 1, 10, 10, -127),
    ConvCase(32, 31, 1, 1, 1, 2, 0, 1, 9, 9, 126),
    ConvCase(33, 20, 1, 3, 3, 1, 1, 2, 8, 8, -8),
    ConvCase(64, 3, 1, 1, 1, 1, 0, 1, 5, 7, 0),
    ConvCase(24, 9, 1, 3, 3, 1, 1, 1, 6, 6, -18, True),
    ConvCase(16, 32, 1, 3, 3, 1, 1, 1, 5, 20, 0),
    ConvCase(8, 12, 1, 3, 3, 2, 0, 1, 40, 37, 20),
    ConvCase(4, 8, 1, 3, 3, 2, 1, 1, 6, 70, 9),     # stride 2 over wide rows (VLD2 gather, both phases)
    ConvCase(6, 8, 1, 3, 3, 1, 2, 2, 5, 24, 50),    # dilated taps over both padding edges of wide rows
    ConvCase(3, 40, 1, 5, 5, 1, 2, 1, 7, 33, -68),
    ConvCase(16, 32, 4, 3, 3, 1, 1, 1, 9, 7, 7),
    ConvCase(32, 32, 2, 5, 5, 2, 2, 1, 11, 11, -38),
    ConvCase(17, 17, 17, 3, 3, 1, 1, 1, 10, 10, 0),
    ConvCase(32, 32, 32, 5, 5, 2, 2, 1, 15, 15, 72, True),
    ConvCase(8, 8, 1, 3, 3, 1, 1, 1, 1, 1, 0),
    ConvCase(6, 10, 1, 1, 5, 1, 2, 1, 1, 30, -3),  # 1-D (a 1xk kernel over one row)
]

# Instruction-count shapes: the conv kinds of MobileNetV2-0.35/96 and Meso4 (int8), whole layers.
ICOUNT_CASES = [
    ConvCase(16, 48, 1, 1, 1, 1, 0, 1, 24, 24, -3),         # MobileNetV2 expand 1x1
    ConvCase(48, 16, 1, 1, 1, 1, 0, 1, 24, 24, 5),          # MobileNetV2 project 1x1
    ConvCase(112, 24, 1, 1, 1, 1, 0, 1, 6, 6, -9),          # late, narrow plane
    ConvCase(3, 16, 1, 3, 3, 2, 1, 1, 96, 96, 0),           # MobileNetV2 stem
    ConvCase(48, 48, 48, 3, 3, 1, 1, 1, 24, 24, -20),       # depthwise (row kernel on every target)
    ConvCase(8, 8, 1, 3, 3, 1, 1, 1, 64, 64, -128),         # Meso4 conv2-like (8 ch)
    ConvCase(16, 16, 1, 5, 5, 1, 2, 1, 32, 32, -128),       # Meso4 conv4-like (5x5)
]


def _params(name: str, c: ConvCase, zp_out: int) -> str:
    lo, hi = (zp_out, 127) if c.relu else (-128, 127)
    f = [1, c.c_in, c.h, c.w, c.c_out, c.h_out, c.w_out, c.k_h, c.k_w, c.stride, c.stride, c.pad, c.pad, c.dil,
         c.dil, c.groups, c.zp_in, zp_out, lo, hi]
    # short_requant, channel_quads and cout_lanes: x86 epilogue and layout switches the ARM paths do not read
    return f"constexpr q8::QConvParams {name} = {{{', '.join(map(str, f))}, false, false, false}};"


HARNESS = r"""// Generated by benchmarks/arm_icount.py: int8 conv kernels on fixed pseudo-random data.
#include <stdio.h>
#include <string.h>

#include "edge_sdk/kernels/int8/qconv.h"

namespace q8 = edge_sdk::q8;

#if defined(EDGE_Q8_HAVE_NEON) && defined(__ARM_FEATURE_DOTPROD)
static const char* const kPath = "neon+dotprod";
#elif defined(EDGE_Q8_HAVE_NEON)
static const char* const kPath = "neon";
#elif defined(EDGE_Q8_HAVE_DSP)
static const char* const kPath = "dsp";
#elif defined(EDGE_Q8_HAVE_VNNI)
static const char* const kPath = "vnni";
#else
static const char* const kPath = "portable";
#endif

static uint32_t g_rng = 0x9e3779b9u;
static uint32_t next_u32() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 17;
  g_rng ^= g_rng << 5;
  return g_rng;
}

alignas(16) static int8_t g_in[@IN@], g_w[@W@], g_ref[@OUT@], g_out[@OUT@];
alignas(16) static int32_t g_bias[@C@], g_bf[@C@], g_bu[@C@], g_mult[@C@], g_shift[@C@];
alignas(16) static unsigned char g_scratch[@SCRATCH@];
static long g_hist[256];

// Full-range activations and weights (weights include -128), biases that matter, and
// multipliers that put the accumulators' spread on the int8 range (some outputs clamp).
template <const q8::QConvParams& P>
static void fill() {
  constexpr int K = P.c_in / P.groups * P.k_h * P.k_w;
  for (int i = 0; i < P.n * P.c_in * P.h_in * P.w_in; ++i) g_in[i] = static_cast<int8_t>(next_u32());
  for (int oc = 0; oc < P.c_out; ++oc) {
    long sum = 0;
    for (int k = 0; k < K; ++k) sum += (g_w[oc * K + k] = static_cast<int8_t>(next_u32()));
    g_bias[oc] = static_cast<int32_t>(next_u32() % 60001u) - 30000;
    g_bf[oc] = static_cast<int32_t>(g_bias[oc] - P.zp_in * sum);
    g_bu[oc] = static_cast<int32_t>(g_bias[oc] - (P.zp_in + 128) * sum);
    g_mult[oc] = static_cast<int32_t>((1u << 30) + next_u32() % (1u << 30));
    int bits = 0;
    while ((1 << bits) * (1 << bits) < K) ++bits;  // the spread grows as sqrt(K)
    g_shift[oc] = -(7 + bits + static_cast<int>(next_u32() % 3u));
    if (oc % 11 == 5) g_shift[oc] = static_cast<int>(next_u32() % 3u);  // M >= 1: left shift, mostly clamped
  }
}

template <const q8::QConvParams& P>
static int compare(int id, const char* what) {
  const int n = P.n * P.c_out * P.h_out * P.w_out;
  int bad = 0, first = -1;
  for (int i = 0; i < n; ++i)
    if (g_out[i] != g_ref[i]) {
      if (first < 0) first = i;
      ++bad;
    }
  if (bad) printf("case %d %s: %d of %d outputs differ (first at %d: %d, reference %d)\n", id, what, bad, n, first,
                  g_out[first], g_ref[first]);
  memset(g_out, 0x5a, sizeof g_out);
  return bad ? 1 : 0;
}

template <const q8::QConvParams& P>
static int check(int id) {
  fill<P>();
  q8::conv2d_s8_reference<P>(g_in, g_w, g_bias, g_mult, g_shift, g_ref, reinterpret_cast<int32_t*>(g_scratch));
  for (int i = 0; i < P.n * P.c_out * P.h_out * P.w_out; ++i) ++g_hist[g_ref[i] + 128];
  int bad = 0;
  memset(g_out, 0x5a, sizeof g_out);
#if defined(EDGE_Q8_HAVE_NEON)
  q8::conv2d_s8_neon<P>(g_in, g_w, g_bf, g_mult, g_shift, g_out, reinterpret_cast<int8_t*>(g_scratch));
  bad += compare<P>(id, "neon");
#elif defined(EDGE_Q8_HAVE_DSP)
  q8::conv2d_s8_dsp<P>(g_in, g_w, g_bias, g_mult, g_shift, g_out, reinterpret_cast<int16_t*>(g_scratch));
  bad += compare<P>(id, "dsp");
#endif
  q8::conv2d_s8<P>(g_in, g_w, nullptr, nullptr, g_bias, g_bf, g_bu, g_mult, g_shift, g_out, g_scratch);  // no AVX2 pairs on ARM
  bad += compare<P>(id, "dispatch");
  return bad;
}

#if defined(EDGE_Q8_HAVE_NEON) || defined(EDGE_Q8_HAVE_DSP)
// The SIMD paths' requantization against requant.h on edge values: M = 2^30 makes every odd
// accumulator an exact rounding tie of the doubling high multiply; INT32_MIN / INT32_MAX,
// |x| around 2^30 (the DSP path's fast-multiply bound); shifts from -31 to +3.
constexpr q8::QConvParams kRq = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, -7, -128, 127, false, false, false};
static void simd_requantize16(const int32_t* a, int32_t m, int s, int8_t* o) {
#if defined(EDGE_Q8_HAVE_NEON)
  const int32x4_t acc[4] = {vld1q_s32(a), vld1q_s32(a + 4), vld1q_s32(a + 8), vld1q_s32(a + 12)};
  q8::neon_requantize16<kRq>(acc, m, s, o, 16);
#else
  for (int i = 0; i < 16; ++i)
    o[i] = static_cast<int8_t>(q8::dsp_requantize(a[i], m, s, kRq.zp_out, kRq.act_min, kRq.act_max));
#endif
}
static int check_requant() {
  static const int32_t mults[] = {1 << 30, (1 << 30) + 1, 1518500250, 2147483647};
  static const int shifts[] = {-31, -30, -17, -9, -2, -1, 0, 1, 3};
  int bad = 0;
  for (int32_t m : mults)
    for (int s : shifts)
      for (int rep = 0; rep < 8; ++rep) {
        int32_t a[16];
        for (int i = 0; i < 16; ++i) a[i] = static_cast<int32_t>(next_u32()) >> (next_u32() % 31u);
        if (rep == 0) {
          const int32_t edge[16] = {INT32_MIN, INT32_MAX, -1, 1, 0, -3, 3, INT32_MIN + 1, -(1 << 30) - 1, (1 << 30) + 1,
                                    -(1 << 30), (1 << 30) - 1, -(1 << 30) + 1, (1 << 30), -65537 * 3, 12345};
          memcpy(a, edge, sizeof a);
        }
        int8_t o[16];
        simd_requantize16(a, m, s, o);
        for (int i = 0; i < 16; ++i)
          if (o[i] != q8::requantize(a[i], m, s, kRq.zp_out, kRq.act_min, kRq.act_max)) ++bad;
      }
  if (bad) printf("SIMD requantization: %d values differ\n", bad);
  return bad ? 1 : 0;
}
#else
static int check_requant() { return 0; }
#endif

// Instruction counting: `calls` calls of one kernel (0 measures everything else);
// EDGE_ICOUNT_SIMD picks the SIMD dispatch or the portable kernels.
template <const q8::QConvParams& P>
static int count(int calls) {
  fill<P>();
  for (int r = 0; r < calls; ++r) {
#if EDGE_ICOUNT_SIMD
    q8::conv2d_s8<P>(g_in, g_w, nullptr, nullptr, g_bias, g_bf, g_bu, g_mult, g_shift, g_out, g_scratch);
#else
    q8::conv2d_s8<P, false>(g_in, g_w, nullptr, nullptr, g_bias, g_bf, g_bu, g_mult, g_shift, g_out, g_scratch);
#endif
  }
  return 0;
}

@PARAMS@

int main() {
  int bad = 0;
#if defined(EDGE_ICOUNT_SIMD)
  // "case calls" from icount.txt in the working directory (semihosting on the MCU board).
  int which = -1, calls = 0;
  FILE* f = fopen("icount.txt", "r");
  if (!f || fscanf(f, "%d %d", &which, &calls) != 2) return 3;
  fclose(f);
  switch (which) {
@COUNTS@
    default: return 4;
  }
  // Print a checksum: without a reader the compiler may drop the kernel's stores (and the kernel).
  uint32_t sum = 0;
  for (size_t i = 0; i < sizeof g_out; ++i) sum = sum * 31u + static_cast<uint8_t>(g_out[i]);
  printf("counted case %d x %d, checksum %08x\n", which, calls, static_cast<unsigned>(sum));
  return 0;
#endif
  bad += check_requant();
@CALLS@
  int distinct = 0;
  for (int v = 0; v < 256; ++v) distinct += g_hist[v] ? 1 : 0;
  printf("path %s\nreference outputs: %d distinct, %ld at -128, %ld at 127\nfailing checks %d\n", kPath, distinct,
         g_hist[0], g_hist[255], bad);
  return bad ? 1 : 0;
}
"""


def harness_source(cases: list[ConvCase]) -> str:
    """C++ program checking every case bit for bit (or, built with -DEDGE_ICOUNT_SIMD=0/1,
    running one case's kernel as icount.txt says, for instruction counting)."""
    params, calls, counts = [], [], []
    for i, c in enumerate(cases):
        params.append(_params(f"kP{i}", c, zp_out=(37 * i) % 61 - 30))
        calls.append(f"  bad += check<kP{i}>({i});")
        counts.append(f"    case {i}: count<kP{i}>(calls); break;")
    sizes = {"IN": max(c.c_in * c.h * c.w for c in cases), "W": max(c.c_out * c.k for c in cases),
             "OUT": max(c.c_out * c.h_out * c.w_out for c in cases), "C": max(c.c_out for c in cases),
             "SCRATCH": max(c.scratch_bytes() for c in cases), "PARAMS": "\n".join(params),
             "CALLS": "\n".join(calls), "COUNTS": "\n".join(counts)}
    src = HARNESS
    for k, v in sizes.items():
        src = src.replace(f"@{k}@", str(v))
    return src


def _arm_devices(names) -> list[Device]:
    devs = [get_device(n) for n in names]
    for d in devs:
        if d.arch not in ("aarch64", "armv7", "thumbv7em"):
            raise SystemExit(f"{d.name} is not an ARM device")
    return devs


def compile_flags(dev: Device, cxx_kind: str = "clang") -> list[str]:
    """The flags edge-sdk compiles a model's code with for `dev` (warnings as errors)."""
    if dev.os == "bare-metal":
        flags = [f for f in COMMON_FLAGS if f != "-fvisibility=hidden"] + bare_metal_flags(dev)
        return [("-Os" if f == "-O3" else f) for f in flags]  # as edge_sdk/build/firmware.py builds for an MCU
    target = [f"--target={dev.triple}"] if cxx_kind == "clang" else []
    return COMMON_FLAGS + target + list(dev.cflags)


def build_harness(dev: Device, source: str, out_dir: Path, defines: dict[str, int] | None = None) -> Path:
    """Cross-build the harness for `dev`: a static Linux executable or an mps2-an386 firmware ELF."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "harness.cpp").write_text(source)
    tc = find_toolchain()
    flags = compile_flags(dev) + [f"-D{k}={v}" for k, v in (defines or {}).items()]
    inc = ["-I", str(kernel_include_dir())]
    exe = out_dir / f"harness_{dev.name}"
    if dev.os == "linux":
        cmd = [tc.cxx, *flags, *inc, "-fuse-ld=lld", "-static", "harness.cpp", "-o", exe.name]
    else:
        ml = "thumb/v7e-m+fp/hard"
        gcc_lib = next(Path("/usr/lib/gcc/arm-none-eabi").glob(f"*/{ml}"))
        shutil.copy(firmware_dir() / "startup_cortex_m.cpp", out_dir / "startup_cortex_m.cpp")
        (out_dir / "board.ld").write_text(linker_script(dev))
        cmd = [tc.cxx, *flags, *inc, "startup_cortex_m.cpp", "harness.cpp", "-nostdlib", "-fuse-ld=lld",
               "-Wl,--gc-sections", "-T", "board.ld", f"-L/usr/lib/arm-none-eabi/newlib/{ml}", f"-L{gcc_lib}",
               "-Wl,--start-group", "-lstdc++", "-lc", "-lrdimon", "-lgcc", "-lm", "-Wl,--end-group", "-o", exe.name]
    r = subprocess.run(cmd, cwd=out_dir, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"harness build failed for {dev.name}:\n{' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return exe


def qemu_command(dev: Device, exe: Path) -> list[str]:
    qemu = shutil.which(dev.qemu) or dev.qemu
    if dev.emulator == "qemu-system":
        return [qemu, "-M", dev.qemu_cpu, "-nographic", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native", "-kernel", str(exe)]
    return [qemu, "-cpu", dev.qemu_cpu, str(exe)]


def run_harness(dev: Device, exe: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(qemu_command(dev, exe), capture_output=True, text=True, timeout=timeout)


def build_plugin(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    so = out_dir / "libinsn_count.so"
    cc = shutil.which("cc") or shutil.which("clang-19") or "gcc"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", str(PLUGIN_SRC), "-o", str(so)],
                   check=True, capture_output=True, text=True)
    return so


def read_count(log: Path) -> int:
    for line in log.read_text().splitlines():
        if line.startswith("insns "):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction count in {log}: {log.read_text()[:300]}")


def count_instructions(cmd: list[str], plugin: Path, log: Path, cwd: Path | None = None, timeout: float = 900) -> int:
    """Run a qemu command line (qemu binary first) with the counting plugin; return the total."""
    full = [cmd[0], "-plugin", str(plugin), "-d", "plugin", "-D", str(log), *cmd[1:]]
    r = subprocess.run(full, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed ({r.returncode}): {r.stderr[:300]}")
    return read_count(log)


def kernel_counts(dev: Device, cases: list[ConvCase], plugin: Path, work: Path) -> list[dict]:
    """Instructions of one conv2d_s8 call per case, SIMD dispatch and portable (1 call minus 0 calls)."""
    rows = [dict() for _ in cases]
    for simd in (1, 0):
        d = work / f"{dev.name}_{'simd' if simd else 'portable'}"
        exe = build_harness(dev, harness_source(cases), d, {"EDGE_ICOUNT_SIMD": simd})
        for i, row in enumerate(rows):
            n = []
            for calls in (0, 1):
                (d / "icount.txt").write_text(f"{i} {calls}\n")
                n.append(count_instructions(qemu_command(dev, exe.resolve()), plugin, d / "plugin.log", cwd=d))
            row["simd" if simd else "portable"] = n[1] - n[0]
    for row in rows:
        row["ratio"] = row["simd"] / row["portable"]
    return rows


@contextlib.contextmanager
def _env(name: str, value: str | None):
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _model_command(model_dir: Path, manifest: dict, tmp: Path, x) -> tuple[list[str], Path]:
    """The emulator command of a compiled model folder with its input written where it expects it."""
    import numpy as np

    from edge_sdk.emulate import emulator_command
    cmd = emulator_command(model_dir, manifest)
    if manifest.get("firmware"):
        np.ascontiguousarray(x).tofile(tmp / "in0.bin")
        return cmd, tmp
    np.save(tmp / "in0.npy", np.ascontiguousarray(x))
    return cmd + ["-i", str(tmp / "in0.npy"), "-o", str(tmp / "out0.npy")], tmp


def model_counts(dev: Device, name: str, path: Path, cal, x, plugin: Path, work: Path) -> dict:
    """Whole-model instructions (runner or firmware, I/O included) with SIMD and with portable kernels."""
    import edge_sdk
    out = {}
    for label, env in (("simd", None), ("portable", "portable")):
        with _env("EDGE_SDK_KERNELS", env):
            m = edge_sdk.compile(path, device=dev.name, quantize="int8", calibration=cal, io="int8",
                                 out_dir=work / f"{name}_{dev.name}_{label}")
        with tempfile.TemporaryDirectory(prefix="icount-") as t:
            cmd, cwd = _model_command(m.dir, m.manifest, Path(t), x)
            out[label] = count_instructions(cmd, plugin, Path(t) / "plugin.log", cwd=cwd)
    out["ratio"] = out["simd"] / out["portable"]
    return out


def _models():
    import numpy as np

    from edge_sdk.resources import assets_dir
    from tests.models import zoo
    rng = np.random.default_rng(7)
    meso = assets_dir() / "mesonet" / "meso4_df.onnx"
    mnv2 = zoo.export("mobilenetv2_035_96", "torchscript")
    return [("mobilenetv2_035_96", mnv2, rng.standard_normal((8, 3, 96, 96)).astype(np.float32),
             np.random.default_rng(3).integers(-128, 128, (1, 3, 96, 96), dtype=np.int8)),
            ("meso4", meso, rng.random((8, 3, 256, 256), dtype=np.float32),
             np.random.default_rng(3).integers(-128, 128, (1, 3, 256, 256), dtype=np.int8))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", nargs="+", default=["rpi4", "rpi5", "odroid-xu4", "sparkfun-edge"])
    ap.add_argument("--kernels-only", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "arm-icount"))
    args = ap.parse_args(argv)
    devs = _arm_devices(args.devices)
    rows = []
    with tempfile.TemporaryDirectory(prefix="arm-icount-") as t:
        work = Path(t)
        plugin = build_plugin(work / "plugin")
        for dev in devs:
            for case, r in zip(ICOUNT_CASES, kernel_counts(dev, ICOUNT_CASES, plugin, work / "k")):
                rows.append(dict(kind="kernel", device=dev.name, what=str(case), **r))
                print(f"{dev.name:14s} kernel {str(case):28s} simd {r['simd']:>12,} portable {r['portable']:>12,} "
                      f"ratio {r['ratio']:.3f}", flush=True)
        if not args.kernels_only:
            for name, path, cal, x in _models():
                for dev in devs:
                    try:
                        r = model_counts(dev, name, path, cal, x, plugin, work / "m")
                    except DeviceFitError as e:  # an MCU: Meso4's RAM, MobileNetV2-0.35's 1.7 MB of weights
                        rows.append(dict(kind="model", device=dev.name, what=name, unfit=e.message))
                        print(f"{dev.name:14s} model  {name:28s} does not fit: {e.message}", flush=True)
                        continue
                    rows.append(dict(kind="model", device=dev.name, what=name, **r))
                    print(f"{dev.name:14s} model  {name:28s} simd {r['simd']:>12,} portable {r['portable']:>12,} "
                          f"ratio {r['ratio']:.3f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    lines = ["# ARM int8 SIMD vs portable: guest instructions under qemu (tools/qemu_plugin/insn_count.c)", "",
             f"Command: `python benchmarks/arm_icount.py{' --kernels-only' if args.kernels_only else ''} "
             f"--devices {' '.join(args.devices)}`", "",
             "| device | kind | shape / model | SIMD insns | portable insns | ratio |", "|---|---|---|---|---|---|"]
    for r in rows:
        if "unfit" in r:
            lines.append(f"| {r['device']} | {r['kind']} | {r['what']} | does not fit | | |")
            continue
        lines.append(f"| {r['device']} | {r['kind']} | {r['what']} | {r['simd']:,} | {r['portable']:,} | "
                     f"{r['ratio']:.3f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
