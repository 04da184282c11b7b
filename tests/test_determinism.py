"""Compiling the same model twice gives byte-identical generated sources.

Each compile runs in its own interpreter with a different PYTHONHASHSEED (so any
dependence on set/dict-of-str iteration order shows), a different working
directory and a different output-folder name; fp32, and int8 with the same
calibration samples.  Compared: every generated source (.h/.cpp, weights
included), the runner and CMakeLists.txt.  Sources only (--no-build): the
compiler's own output is what must be deterministic.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_concurrency import _cnn

COMPILE = """
import sys, numpy as np, edge_sdk
model, out, quant, cal = sys.argv[1:5]
edge_sdk.compile(model, out_dir=out, quantize=quant, calibration=np.load(cal) if quant == "int8" else None,
                 build=False)
"""


def _compile(model: Path, cwd: Path, out_name: str, quant: str, cal: Path, hash_seed: str) -> Path:
    cwd.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-c", COMPILE, str(model), out_name, quant, str(cal)], cwd=cwd,
                       capture_output=True, text=True, timeout=300,
                       env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert r.returncode == 0, r.stderr[-3000:]
    return cwd / out_name


def _sources(d: Path) -> dict[str, bytes]:
    files = {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*"))
             if p.is_file() and p.suffix in (".h", ".cpp", ".txt", ".cmake")}
    assert any(k.endswith("_weights.cpp") for k in files) and len(files) >= 4, sorted(files)
    return files


@pytest.mark.parametrize("quant", ["none", "int8"])
def test_generated_sources_are_byte_identical(tmp_path, quant):
    model = tmp_path / "cnn.onnx"
    model.write_bytes(_cnn().SerializeToString())
    cal = tmp_path / "cal.npy"
    np.save(cal, np.random.default_rng(3).standard_normal((8, 3, 24, 24)).astype(np.float32))
    a = _sources(_compile(model, tmp_path / "cwd_a", "out_a", quant, cal, "1"))
    b = _sources(_compile(model, tmp_path / "elsewhere" / "cwd_b", "a_different_name", quant, cal, "2"))
    assert sorted(a) == sorted(b)
    differ = [k for k in a if a[k] != b[k]]
    assert differ == [], f"generated files differ between two compiles: {differ}"
