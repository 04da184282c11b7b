"""Real architectures, both torch exporters, compiled for the laptop profile vs onnxruntime.

Each arch x exporter compiles once per session (tests/models/harness.py).  Big
models are in the slow tier (`-m slow`).  A model that fails because an op is
missing or wrong is listed in KNOWN_FAILURES as a strict xfail, so it turns
into a failure (XPASS) as soon as the op lands and the entry must be removed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_sdk.resources import assets_dir
from models import harness, zoo

# (arch, exporter) -> (exception it raises today, why).  Keep the reason exact: op, node, error.
# Strict xfails: the test fails (XPASS) once the cause is fixed, and the entry must go.
KNOWN_FAILURES: dict[tuple[str, str], tuple[type[BaseException], str]] = {
}


# The unoptimised dynamo export runs in the default tier only where it adds something the other two
# exports lack (unfolded Conv+BatchNorm, MobileNetV2's Clip); elsewhere it is slow-tier.
RAW_DEFAULT_TIER = {"meso4", "resnet_small", "efficientnet_style_128", "mobilenetv2_035_96"}


def _params():
    out = []
    for arch, a in zoo.ARCHS.items():
        for ex in zoo.EXPORTERS:
            slow = a.slow or (ex == "dynamo_raw" and arch not in RAW_DEFAULT_TIER)
            marks = [pytest.mark.slow] if slow else []
            known = KNOWN_FAILURES.get((arch, ex))
            if known:
                marks.append(pytest.mark.xfail(strict=True, raises=known[0], reason=known[1]))
            out.append(pytest.param(arch, ex, id=f"{arch}-{ex}", marks=marks))
    return out


@pytest.fixture(scope="session")
def zoo_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zoo")


def _onnx_or_skip(arch: str, exporter: str) -> Path:
    try:
        return zoo.export(arch, exporter)
    except zoo.ExportError as e:
        pytest.skip(f"torch {exporter} exporter cannot export {arch}: {e}")


@pytest.mark.parametrize("arch, exporter", _params())
def test_zoo_model_matches_onnxruntime(arch, exporter, zoo_out):
    path = _onnx_or_skip(arch, exporter)
    c = harness.compile_once(path, zoo_out, f"{arch}-{exporter}", name=arch)
    x = zoo.make_input(arch)
    want = harness.ort_run(path, x)
    got = c.model.run(x)[0]
    err = harness.assert_matches(got, want)
    harness.record(f"{arch}-{exporter}", c.compile_s, err)


# ------------------------------------------------------------- bundled MesoNet
MESONET_DIR = assets_dir() / "mesonet"  # the same files as ../shared/data/models/mesonet, shipped
MESONET_FILES = ["meso4_df.onnx", "meso4_f2f.onnx", "mesoinception4_df.onnx", "mesoinception4_f2f.onnx"]


def _mesonet_crops() -> tuple[list[str], np.ndarray]:
    """The MesoNet test crops as one NCHW RGB batch in [0, 1] (already 256x256)."""
    cv2 = pytest.importorskip("cv2")
    files = sorted((assets_dir() / "samples").glob("*.jpg"))  # MesoNet's own test crops, bundled
    assert len(files) == 4
    batch = []
    for f in files:
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        assert bgr is not None, f
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if rgb.shape[:2] != (256, 256):
            rgb = cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_NEAREST)  # what MesoNet trained with
        batch.append(rgb.astype(np.float32).transpose(2, 0, 1) / 255.0)
    return [f.name for f in files], np.stack(batch)


@pytest.mark.parametrize("fname", MESONET_FILES)
def test_bundled_mesonet_matches_onnxruntime(fname, zoo_out):
    path = MESONET_DIR / fname
    names, crops = _mesonet_crops()
    c = harness.compile_once(path, zoo_out, f"bundled-{Path(fname).stem}", name=Path(fname).stem)
    worst = 0.0
    for name, x in zip(names, crops):
        x = x[None]
        want = harness.ort_run(path, x)
        got = c.model.run(x)[0]
        assert got.shape == want.shape
        diff = float(np.max(np.abs(got - want)))
        assert diff <= 1e-4, f"{name}: p_real {got.ravel()[0]:.6f} vs onnxruntime {want.ravel()[0]:.6f}"
        worst = max(worst, diff)
    harness.record(f"bundled-{fname}", c.compile_s, worst)
