"""The ARM int8 SIMD paths (kernels/int8/qconv_neon.h: NEON and SDOT; qconv_dsp.h: Cortex-M
SMLAD) are bit-exact with the portable kernels under qemu, and each device profile compiles
the path its core has.

Kernel level: benchmarks/arm_icount.py's harness, cross-built with the device's own flags,
runs the reference kernel, the device's SIMD kernel called directly and the conv2d_s8
dispatcher on a sweep of shapes (channels around the 4-tap quads and the 16-pixel / 2x2 tiles,
stride 2, padding, dilation, groups, depthwise, 1-D, tiny planes) and compares bit for bit.
Model level (slow): MobileNetV2-0.35/96 and Meso4, int8 with a fixed calibration, built for
each ARM profile with and without EDGE_SDK_KERNELS=portable, run under qemu, and compared
with each other and with the host build.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edge_sdk
from edge_sdk.build.toolchain import find_toolchain
from edge_sdk.devices import all_devices, get_device

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("arm_icount", ROOT / "benchmarks" / "arm_icount.py")
arm = sys.modules.setdefault("arm_icount", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(arm)

needs_qemu_user = pytest.mark.skipif(not shutil.which("qemu-aarch64") or not shutil.which("qemu-arm"),
                                     reason="qemu-user is installed by `make test`")
needs_qemu_system = pytest.mark.skipif(not shutil.which("qemu-system-arm"),
                                       reason="qemu-system-arm is installed by `make test`")
DEVICES = [pytest.param("rpi4", marks=needs_qemu_user), pytest.param("rpi5", marks=needs_qemu_user),
           pytest.param("odroid-xu4", marks=needs_qemu_user), pytest.param("sparkfun-edge", marks=needs_qemu_system)]


@pytest.mark.parametrize("device", DEVICES)
def test_simd_conv_kernels_are_bit_exact_with_the_reference_under_qemu(device, tmp_path):
    dev = get_device(device)
    exe = arm.build_harness(dev, arm.harness_source(arm.CHECK_CASES), tmp_path)
    r = arm.run_harness(dev, exe)
    assert r.returncode == 0 and "failing checks 0" in r.stdout, r.stdout + r.stderr[-500:]
    # The profile's flags select the path its core has (dot product on the A76, SMLAD on the M4).
    assert re.search(r"^path (\S+)$", r.stdout, re.M).group(1) == arm.EXPECTED_PATH[device]
    # The sweep is not trivial: outputs spread over the int8 range and clamp at both ends.
    m = re.search(r"reference outputs: (\d+) distinct, (\d+) at -128, (\d+) at 127", r.stdout)
    assert int(m.group(1)) > 200 and int(m.group(2)) > 0 and int(m.group(3)) > 0


def test_every_arm_profile_compiles_a_simd_int8_path():
    """No ARM profile silently falls back to the portable kernels (or fails to compile: a flag clang rejects)."""
    arm_profiles = [d for d in all_devices().values() if d.arch in ("aarch64", "armv7", "thumbv7em")]
    assert {d.name for d in arm_profiles} <= set(arm.EXPECTED_PATH)
    tc = find_toolchain()
    for d in arm_profiles:
        flags = arm.compile_flags(d)
        want = {"neon": "EDGE_Q8_HAVE_NEON", "neon+dotprod": "__ARM_FEATURE_DOTPROD", "dsp": "EDGE_Q8_HAVE_DSP"}
        r = subprocess.run([tc.cxx, *flags, "-I", str(arm.kernel_include_dir()), "-dM", "-E", "-x", "c++", "-"],
                           input="#include \"edge_sdk/kernels/int8/qconv.h\"\n", capture_output=True, text=True)
        assert r.returncode == 0, f"{d.name}: {r.stderr[:300]}"
        macros = set(re.findall(r"#define (\w+)", r.stdout))
        assert want[arm.EXPECTED_PATH[d.name]] in macros, d.name
        assert ("__ARM_FEATURE_DOTPROD" in macros) == ("dotprod" in d.simd), f"{d.name}: simd = {d.simd}"


GXX = [("aarch64-linux-gnu-g++", "rpi5"), ("aarch64-linux-gnu-g++", "rpi4"),
       ("arm-linux-gnueabihf-g++", "odroid-xu4"), ("arm-none-eabi-g++", "sparkfun-edge")]


@pytest.mark.slow
@pytest.mark.parametrize("gxx,device", GXX)
def test_arm_simd_kernels_are_warning_free_under_gcc(gxx, device, tmp_path):
    if not shutil.which(gxx):
        pytest.skip(f"{gxx} is installed by `make test`")
    flags = [f for f in arm.compile_flags(get_device(device), "gcc") if not f.startswith("--target")]
    (tmp_path / "h.cpp").write_text(arm.harness_source(arm.CHECK_CASES))
    r = subprocess.run([gxx, *flags, "-I", str(arm.kernel_include_dir()), "-c", "h.cpp", "-o", "h.o"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[:2000]


def _disassembly(path: Path) -> str:
    objdump = shutil.which("llvm-objdump-19") or shutil.which("llvm-objdump")
    if objdump is None:
        pytest.skip("llvm-objdump is installed with llvm-19")
    return subprocess.run([objdump, "-d", str(path)], capture_output=True, text=True, check=True).stdout


# (device, model library file key, an instruction only the SIMD path emits)
SIMD_MARK = {"rpi4": r"\tsadalp\t", "rpi5": r"\tsdot\t", "odroid-xu4": r"\tvpadal\.s16\t", "sparkfun-edge": r"\tsmlad\t"}


def _build(path, device, cal, out, portable: bool):
    old = os.environ.pop("EDGE_SDK_KERNELS", None)
    if portable:
        os.environ["EDGE_SDK_KERNELS"] = "portable"
    try:
        return edge_sdk.compile(path, device=device, quantize="int8", calibration=cal, io="int8", out_dir=out)
    finally:
        os.environ.pop("EDGE_SDK_KERNELS", None)
        if old is not None:
            os.environ["EDGE_SDK_KERNELS"] = old


def _check_model(path, device, cal, x, host, out: Path):
    simd = _build(path, device, cal, out / f"{device}_simd", portable=False)
    portable = _build(path, device, cal, out / f"{device}_portable", portable=True)
    lib = "static_library"
    assert re.search(SIMD_MARK[device], _disassembly(simd.dir / simd.manifest[lib]))
    assert not re.search(SIMD_MARK[device], _disassembly(portable.dir / portable.manifest[lib]))
    a, b = simd.run(x, emulate=True)[0], portable.run(x, emulate=True)[0]
    np.testing.assert_array_equal(a, b, err_msg=f"{device}: SIMD and portable builds differ")
    np.testing.assert_array_equal(a, host.run(x)[0], err_msg=f"{device}: differs from the host build")
    assert np.unique(a).size > 1  # a constant output would hide a broken pipeline


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    from models import zoo
    path = zoo.export("mobilenetv2_035_96_2cls", "torchscript")
    cal = np.random.default_rng(0).standard_normal((8, 3, 96, 96)).astype(np.float32)
    out = tmp_path_factory.mktemp("mnv2")
    host = edge_sdk.compile(path, quantize="int8", calibration=cal, io="int8", out_dir=out / "host")
    x = np.random.default_rng(1).integers(-128, 128, size=(1, 3, 96, 96), dtype=np.int8)
    return path, cal, x, host, out


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_int8_mobilenetv2_simd_build_is_bit_exact_with_portable_and_host(device, mobilenet):
    path, cal, x, host, out = mobilenet
    _check_model(path, device, cal, x, host, out)


@pytest.fixture(scope="module")
def meso4(tmp_path_factory):
    from edge_sdk.resources import assets_dir
    path = assets_dir() / "mesonet" / "meso4_df.onnx"
    cal = np.random.default_rng(7).random((8, 3, 256, 256), dtype=np.float32)
    out = tmp_path_factory.mktemp("meso4")
    host = edge_sdk.compile(path, quantize="int8", calibration=cal, io="int8", out_dir=out / "host")
    x = np.random.default_rng(3).integers(-128, 128, size=(1, 3, 256, 256), dtype=np.int8)
    return path, cal, x, host, out


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES[:3])  # Meso4's int8 activations (~1 MiB) exceed the MCU's RAM
def test_int8_meso4_simd_build_is_bit_exact_with_portable_and_host(device, meso4):
    path, cal, x, host, out = meso4
    _check_model(path, device, cal, x, host, out)
