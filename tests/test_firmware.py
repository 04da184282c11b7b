"""Cortex-M profiles: static library + test firmware on the emulated board
(qemu mps2-an386, semihosting), linked against the device's real RAM/flash."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import edge_sdk
import edge_sdk.devices

from conftest import conv_bn_relu_model, ort_run

pytestmark = pytest.mark.skipif(not shutil.which("qemu-system-arm"), reason="qemu-system-arm is installed by `make test`")


@pytest.mark.parametrize("device", ["sparkfun-edge", "arduino-nano33ble"])
def test_fp32_model_runs_on_emulated_cortex_m4(device, save, tmp_path):
    p = save(conv_bn_relu_model())
    m = edge_sdk.compile(p, device=device, quantize="none", out_dir=tmp_path / device)
    man = m.manifest
    assert man["static_library"] and man["firmware"] and man["library"] is None
    assert 0 < man["flash_bytes"] < 64 << 10
    assert man["ram_bytes"] >= man["arena_bytes"] + (3 + 4) * 64 * 4
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(m.run(x, emulate=True)[0], ort_run(p, {"x": x})[0], rtol=1e-4, atol=1e-5)


def test_firmware_link_enforces_the_device_ram(save, tmp_path):
    """The linker script carries the profile's RAM: the emulated board is no bigger than the real one."""
    p = save(conv_bn_relu_model())
    m = edge_sdk.compile(p, device="arduino-nano33ble", quantize="none", out_dir=tmp_path / "fw")
    script = (tmp_path / "fw" / "firmware" / "board.ld").read_text()
    assert f"LENGTH = {256 << 10}" in script and f"LENGTH = {1 << 20}" in script
    assert m.manifest["firmware"].endswith(".elf")


def test_arduino_library_zip_has_properties_sources_headers_and_sketch(save, tmp_path):
    import zipfile
    m = edge_sdk.compile(save(conv_bn_relu_model()), device="arduino-nano33ble", quantize="none", out_dir=tmp_path / "a")
    z = zipfile.ZipFile(tmp_path / "a" / m.manifest["arduino_library"])
    names = set(z.namelist())
    lib = "EdgeSdk_model"
    assert {f"{lib}/library.properties", f"{lib}/src/model.h", f"{lib}/src/model.cpp", f"{lib}/src/model_weights.cpp",
            f"{lib}/src/edge_sdk/abi.h", f"{lib}/examples/model_inference/model_inference.ino"} <= names
    props = z.read(f"{lib}/library.properties").decode()
    assert "architectures=mbed_nano" in props and "includes=model.h" in props
    sketch = z.read(f"{lib}/examples/model_inference/model_inference.ino").decode()
    assert "model_run(inputs, outputs, arena)" in sketch and "MODEL_ARENA_BYTES" in sketch


@pytest.fixture(scope="module")
def mobilenet_int8(tmp_path_factory):
    from models import zoo
    path = zoo.export("mobilenetv2_035_96_2cls", "torchscript")
    cal = np.random.default_rng(0).standard_normal((16, 3, 96, 96)).astype(np.float32)
    out = tmp_path_factory.mktemp("mnv2")
    host = edge_sdk.compile(path, quantize="int8", calibration=cal, io="int8", out_dir=out / "host")
    return path, cal, host, out


@pytest.mark.parametrize("device", ["sparkfun-edge", "arduino-nano33ble"])
def test_int8_mobilenetv2_fits_the_board_and_is_bit_exact_under_qemu(device, mobilenet_int8):
    path, cal, host, out = mobilenet_int8
    m = edge_sdk.compile(path, device=device, quantize="int8", calibration=cal, io="int8", out_dir=out / device)
    man = m.manifest
    assert man["arena_bytes"] <= 150_000  # TFLite Micro needs 298,411 B for this network
    assert man["ram_bytes"] <= edge_sdk.devices.get_device(device).ram_bytes
    assert man["flash_bytes"] <= edge_sdk.devices.get_device(device).flash_bytes
    x = np.random.default_rng(1).integers(-128, 128, size=(1, 3, 96, 96), dtype=np.int8)
    np.testing.assert_array_equal(m.run(x, emulate=True)[0], host.run(x)[0])
