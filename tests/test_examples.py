"""The examples in examples/ work as their READMEs say."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

import edge_sdk
from edge_sdk.resources import assets_dir

from conftest import REPO, ort_run

CMAKE, CXX = shutil.which("cmake"), shutil.which("clang++-19") or shutil.which("clang++")


def test_python_example_scores_the_sample_faces(tmp_path):
    r = subprocess.run([sys.executable, REPO / "examples" / "python" / "classify_faces.py"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    verdicts = {line.split()[0]: line.split()[-1] for line in r.stdout.splitlines() if "p_real=" in line}
    assert verdicts == {"df00204.jpg": "FAKE", "df01254.jpg": "FAKE", "real00240.jpg": "real", "real00772.jpg": "real"}


@pytest.mark.skipif(not CMAKE or not CXX, reason="cmake and clang++ are installed by `make test`")
def test_cpp_embed_example_builds_and_matches_onnxruntime(tmp_path):
    onnx_path = assets_dir() / "mesonet" / "meso4_df.onnx"
    edge_sdk.compile(onnx_path, device="x86-64", name="model", out_dir=tmp_path / "model")
    src = REPO / "examples" / "cpp-embed"
    build = tmp_path / "build"
    for cmd in ([CMAKE, "-S", src, "-B", build, f"-DMODEL_DIR={tmp_path / 'model'}", f"-DCMAKE_CXX_COMPILER={CXX}"],
                [CMAKE, "--build", build]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    x.tofile(tmp_path / "x.bin")
    r = subprocess.run([build / "classify", tmp_path / "x.bin"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split()[0]) == pytest.approx(float(ort_run(onnx_path, {"input": x})[0][0, 0]), abs=1e-5)
