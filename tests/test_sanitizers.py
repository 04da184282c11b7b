"""Generated code under AddressSanitizer + UndefinedBehaviorSanitizer, outside Python.

For a few zoo models (Meso4, MesoInception4's Concat, ResNet-ish residual adds,
SqueezeNet's Concat + ceil-mode pooling) we build the generated sources with a
small C++ driver (written below) and run it twice per arena layout:
  heap:    the arena is exactly <PREFIX>_ARENA_BYTES from aligned_alloc, so ASan's
           redzones catch any access past it;
  guarded: the arena ends right at a PROT_NONE page (slack before it poisoned for
           ASan), so an overrun faults even where a redzone would be skipped.
Arena and outputs start as 0xFF bytes (NaN) so a kernel that reads memory it never
wrote shows up in the output; the second run starts from the first run's dirty arena.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from models import harness, zoo

CXX = shutil.which("clang++-19")
SAN_FLAGS = ["-std=c++17", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1",
             "-fno-omit-frame-pointer"]
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:abort_on_error=0",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
SANITIZER_REPORT = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")

# (arch, exporter): kept small; each build compiles the weights with ASan globals.  Covers Concat, residual
# and broadcast adds/muls (squeeze-excitation), ceil-mode pooling, NHWC transposes, Softmax, ReduceMean.
MODELS = [("meso4", "torchscript"), ("meso4", "dynamo"), ("mesoinception4", "torchscript"),
          ("resnet_small", "torchscript"), ("squeezenet11", "torchscript"), ("keras_nhwc_64", "torchscript"),
          ("efficientnet_style_128", "dynamo"), ("resnet_small", "dynamo_raw"), ("seed_cnn_150", "torchscript")]
# Every other test model (arch x exporter of tests/models/zoo.py) in the slow tier, so the whole zoo's
# generated code has run under the sanitizers (make test-slow).
SLOW_MODELS = [(a, e) for a in zoo.ARCHS for e in zoo.EXPORTERS if (a, e) not in MODELS]
# int8 code (integer kernels, requantization, boundary quantize/dequantize): the default tier covers plain
# convs + pooling + dense (meso4, about 20 s); depthwise, residual adds and the rest are slow-tier
# (mobilenetv2's ASan build alone takes minutes on a busy machine).
INT8_MODELS = [("meso4", "torchscript")]
INT8_SLOW_MODELS = [(a, "torchscript") for a in zoo.ARCHS if (a, "torchscript") not in INT8_MODELS]

DRIVER = r"""
// Test driver: reads the inputs (concatenated, ONNX order), runs the model twice, writes the outputs.
#include "@HEADER@"

#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

#ifndef ARENA_SHRINK
#define ARENA_SHRINK 0  // the negative-control test builds with a too-small arena
#endif
constexpr size_t kArenaBytes = @MACRO@_ARENA_BYTES - ARENA_SHRINK;
constexpr size_t kAlign = EDGE_SDK_ARENA_ALIGN;

// Exactly `bytes` from the heap, so ASan's redzone starts at the first byte past it.
uint8_t* heap_arena() {
  if (kArenaBytes == 0) return nullptr;
  void* p = nullptr;
  if (kArenaBytes % kAlign == 0) {
    p = std::aligned_alloc(kAlign, kArenaBytes);
  } else if (posix_memalign(&p, kAlign, kArenaBytes) != 0) {  // aligned_alloc wants a multiple
    p = nullptr;
  }
  return static_cast<uint8_t*>(p);
}

// The arena's last byte sits just before a PROT_NONE page; everything else in the mapping is poisoned.
uint8_t* guarded_arena(uint8_t** map_base, size_t* map_len) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t span = (kArenaBytes + kAlign - 1) / kAlign * kAlign;
  const size_t body = (span + page - 1) / page * page;
  *map_len = body + page;
  void* m = mmap(nullptr, *map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  uint8_t* base = static_cast<uint8_t*>(m);
  uint8_t* guard = base + body;
  if (mprotect(guard, page, PROT_NONE) != 0) return nullptr;
  uint8_t* arena = guard - span;
  ASAN_POISON_MEMORY_REGION(base, static_cast<size_t>(arena - base));
  ASAN_POISON_MEMORY_REGION(arena + kArenaBytes, span - kArenaBytes);
  *map_base = base;
  return arena;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s heap|guarded INPUT.bin OUTPUT.bin\n", argv[0]);
    return 2;
  }
  const edge_model_abi* abi = @PREFIX@_abi();
  const bool guarded = std::strcmp(argv[1], "guarded") == 0;

  FILE* fin = std::fopen(argv[2], "rb");
  if (!fin) return 4;
  void* inputs[16] = {};
  void* outputs[16] = {};
  if (abi->num_inputs > 16 || abi->num_outputs > 16) return 5;
  for (uint32_t i = 0; i < abi->num_inputs; ++i) {
    const size_t n = static_cast<size_t>(abi->inputs[i].bytes);
    inputs[i] = std::malloc(n ? n : 1);  // exact size: an over-read hits ASan's redzone
    if (!inputs[i] || std::fread(inputs[i], 1, n, fin) != n) return 6;
  }
  if (std::fgetc(fin) != EOF) return 7;  // the file must hold exactly the inputs
  std::fclose(fin);
  for (uint32_t i = 0; i < abi->num_outputs; ++i) {
    const size_t n = static_cast<size_t>(abi->outputs[i].bytes);
    outputs[i] = std::malloc(n ? n : 1);
    if (!outputs[i]) return 8;
    std::memset(outputs[i], 0xFF, n);
  }

  uint8_t* map_base = nullptr;
  size_t map_len = 0;
  uint8_t* arena = guarded ? guarded_arena(&map_base, &map_len) : heap_arena();
  if (kArenaBytes != 0 && arena == nullptr) return 9;
  if (kArenaBytes != 0) std::memset(arena, 0xFF, kArenaBytes);  // NaN everywhere: no reads before writes

  for (int rep = 0; rep < 2; ++rep) {
    const int rc = @PREFIX@_run(inputs, outputs, arena);
    if (rc != EDGE_OK) {
      std::fprintf(stderr, "%s_run returned %d\n", "@PREFIX@", rc);
      return 10;
    }
  }

  FILE* fout = std::fopen(argv[3], "wb");
  if (!fout) return 11;
  for (uint32_t i = 0; i < abi->num_outputs; ++i) {
    if (std::fwrite(outputs[i], 1, static_cast<size_t>(abi->outputs[i].bytes), fout) != abi->outputs[i].bytes) return 12;
  }
  std::fclose(fout);

  for (uint32_t i = 0; i < abi->num_inputs; ++i) std::free(inputs[i]);
  for (uint32_t i = 0; i < abi->num_outputs; ++i) std::free(outputs[i]);
  if (guarded) {
    ASAN_UNPOISON_MEMORY_REGION(map_base, map_len - static_cast<size_t>(sysconf(_SC_PAGESIZE)));
    munmap(map_base, map_len);
  } else {
    std::free(arena);
  }
  return 0;
}
"""


@pytest.fixture(scope="session")
def san_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zoo_san")


def _device_flags() -> list[str]:
    """The profile's -march/--target flags, so the kernel paths the device gets are the ones sanitized."""
    from edge_sdk.build.toolchain import Toolchain
    from edge_sdk.devices import get_device
    return Toolchain(CXX, "clang", "").device_flags(get_device(harness.DEVICE))


def _build_driver(c: harness.Compiled, shrink: int = 0) -> Path:
    prefix = c.model.manifest["prefix"]
    exe = c.out_dir / f"{prefix}_san{shrink or ''}"
    if exe.is_file():
        return exe
    (c.out_dir / "san_driver.cpp").write_text(
        DRIVER.replace("@HEADER@", f"{prefix}.h").replace("@MACRO@", prefix.upper()).replace("@PREFIX@", prefix))
    cmd = [CXX, *SAN_FLAGS, *_device_flags(), f"-DARENA_SHRINK={shrink}", "-Iinclude", "-I.",
           "san_driver.cpp",
           f"{prefix}.cpp", f"{prefix}_weights.cpp", "-o", exe.name]
    r = subprocess.run(cmd, cwd=c.out_dir, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"sanitizer build failed:\n{' '.join(cmd)}\n{r.stdout}{r.stderr[-4000:]}"
    return exe


def _run_driver(arch: str, exporter: str, layout: str, san_out: Path, shrink: int = 0, quant: str = "none"):
    path = zoo.export(arch, exporter)
    if quant == "int8":  # built too: the host library's output is the int8 reference
        cal = np.concatenate([zoo.make_input(arch, seed) for seed in range(1, 9)])
        c = harness.compile_once(path, san_out, f"{arch}-{exporter}-int8", name=arch, quantize="int8",
                                 calibration=cal)
    else:  # sources only: the sanitizer build below is the one that matters here
        c = harness.compile_once(path, san_out, f"{arch}-{exporter}", name=arch, build=False)
    exe = _build_driver(c, shrink)
    x = zoo.make_input(arch)
    xin = c.out_dir / f"input-{layout}{shrink}.bin"
    yout = c.out_dir / f"output-{layout}{shrink}.bin"
    xin.write_bytes(np.ascontiguousarray(x).tobytes())
    env = dict(os.environ, **SAN_ENV)
    r = subprocess.run([str(exe), layout, str(xin), str(yout)], capture_output=True, text=True, env=env,
                       timeout=600)
    return path, c, x, yout, r


@pytest.mark.skipif(CXX is None, reason="clang++-19 not installed")
@pytest.mark.parametrize("layout", ["heap", "guarded"])
def test_too_small_arena_is_caught(layout, san_out):
    """Negative control: 64 bytes short of ARENA_BYTES must trip ASan or the guard page."""
    _, _, _, _, r = _run_driver("meso4", "torchscript", layout, san_out, shrink=64)
    assert r.returncode != 0 and SANITIZER_REPORT.search(r.stderr), f"overrun not caught (exit {r.returncode})"


@pytest.mark.skipif(CXX is None, reason="clang++-19 not installed")
@pytest.mark.parametrize("layout", ["heap", "guarded"])
@pytest.mark.parametrize("arch, exporter", [pytest.param(a, e, id=f"{a}-{e}") for a, e in MODELS] +
                         [pytest.param(a, e, id=f"{a}-{e}", marks=pytest.mark.slow) for a, e in SLOW_MODELS])
def test_generated_code_is_sanitizer_clean(arch, exporter, layout, san_out):
    path, c, x, yout, r = _run_driver(arch, exporter, layout, san_out)
    report = SANITIZER_REPORT.search(r.stderr)
    assert r.returncode == 0 and report is None, f"exit {r.returncode}\n{r.stderr[-6000:]}"
    spec = c.model.outputs[0]
    got = np.fromfile(yout, dtype=spec["dtype"]).reshape(spec["shape"])
    harness.assert_matches(got, harness.ort_run(path, x))


@pytest.mark.skipif(CXX is None, reason="clang++-19 not installed")
@pytest.mark.parametrize("layout", ["heap", "guarded"])
@pytest.mark.parametrize("arch, exporter", [pytest.param(a, e, id=f"{a}-{e}") for a, e in INT8_MODELS] +
                         [pytest.param(a, e, id=f"{a}-{e}", marks=pytest.mark.slow) for a, e in INT8_SLOW_MODELS])
def test_int8_generated_code_is_sanitizer_clean(arch, exporter, layout, san_out):
    path, c, x, yout, r = _run_driver(arch, exporter, layout, san_out, quant="int8")
    report = SANITIZER_REPORT.search(r.stderr)
    assert r.returncode == 0 and report is None, f"exit {r.returncode}\n{r.stderr[-6000:]}"
    spec = c.model.outputs[0]
    got = np.fromfile(yout, dtype=spec["dtype"]).reshape(spec["shape"])
    want = c.model.run(x)[0]  # the same generated code built normally (-O3, no sanitizers)
    scale = float(np.max(np.abs(want))) or 1.0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
