"""Linux ARM profiles: clang cross builds run under qemu-user and match onnxruntime."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import edge_sdk
from edge_sdk.devices import get_device
from edge_sdk.resources import assets_dir

from conftest import conv_bn_relu_model, ort_run

pytestmark = pytest.mark.skipif(not shutil.which("qemu-aarch64"), reason="qemu-user is installed by `make test`")


@pytest.mark.parametrize("device", ["rpi4", "rpi3", "odroid-xu4", "rpi5"])
def test_cross_build_runs_under_qemu(device, save, tmp_path):
    p = save(conv_bn_relu_model())
    m = edge_sdk.compile(p, device=device, out_dir=tmp_path / device)
    assert not m.manifest["runs_on_host"] and m.manifest["static_library"]
    x = np.random.default_rng(5).standard_normal((1, 3, 8, 8)).astype(np.float32)
    with pytest.raises(edge_sdk.ModelError, match="--emulate"):
        m.run(x)
    y = m.run(x, emulate=True)
    np.testing.assert_allclose(y[0], ort_run(p, {"x": x})[0], rtol=1e-4, atol=1e-5)


def test_meso4_for_rpi4_under_qemu_matches_onnxruntime(tmp_path):
    path = assets_dir() / "mesonet" / "meso4_df.onnx"
    m = edge_sdk.compile(path, device="rpi4", out_dir=tmp_path / "m")
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    np.testing.assert_allclose(m.run(x, emulate=True)[0], ort_run(path, {"input": x})[0], rtol=1e-4, atol=1e-6)
    elf = (tmp_path / "m" / "meso4_df_runner").read_bytes()
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == 183  # EM_AARCH64
    assert b"/lib/ld-linux" not in elf  # statically linked: runs on the board as it is


@pytest.fixture(scope="module")
def meso4_int8_host(tmp_path_factory):
    cal = np.random.default_rng(7).random((16, 3, 256, 256), dtype=np.float32)
    out = tmp_path_factory.mktemp("q")
    path = assets_dir() / "mesonet" / "meso4_df.onnx"
    host = edge_sdk.compile(path, quantize="int8", calibration=cal, io="int8", out_dir=out / "host")
    return path, cal, host, out


@pytest.mark.parametrize("device", ["rpi4", "rpi3", "odroid-xu4", "odroid-c4", "rpi5"])
def test_int8_meso4_is_bit_exact_with_the_host_under_qemu(device, meso4_int8_host):
    path, cal, host, out = meso4_int8_host
    m = edge_sdk.compile(path, device=device, quantize="int8", calibration=cal, io="int8", out_dir=out / device)
    elf = (out / device / m.manifest["library"]).read_bytes()
    arch = int.from_bytes(elf[18:20], "little")
    assert arch == (183 if get_device(device).arch == "aarch64" else 40)  # EM_AARCH64 / EM_ARM
    x = np.random.default_rng(3).integers(-128, 128, size=(1, 3, 256, 256), dtype=np.int8)
    np.testing.assert_array_equal(m.run(x, emulate=True)[0], host.run(x)[0])
