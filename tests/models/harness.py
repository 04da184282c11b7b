"""Shared helpers for the model tests: compile once per session, onnxruntime goldens, error metrics."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEVICE = "x86-64"  # the laptop profile (x86-64-v3); this machine runs it natively
REL_TOL = 1e-3


@dataclass
class Compiled:
    model: object          # edge_sdk.CompiledModel
    out_dir: Path
    compile_s: float


_CACHE: dict[tuple[str, str, str], Compiled | BaseException] = {}


def compile_once(onnx_path: Path, root: Path, key: str, **kw) -> Compiled:
    """edge_sdk.compile(onnx_path) into root/key, at most once per session.

    A compile error is cached too and re-raised for every test that needs the model."""
    import edge_sdk
    ck = (str(onnx_path), str(root), key)  # one key may be built differently under two roots
    hit = _CACHE.get(ck)
    if hit is None:
        t0 = time.perf_counter()
        try:
            m = edge_sdk.compile(onnx_path, device=DEVICE, out_dir=root / key, **kw)
            hit = Compiled(m, root / key, time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - replayed below
            hit = e
        _CACHE[ck] = hit
    if isinstance(hit, BaseException):
        raise hit
    return hit


def ort_run(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    """The golden: onnxruntime's output 0 for input x (one thread: the machine is shared)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (b: the golden)."""
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a.astype(np.float64) - b))) / (scale if scale > 0 else 1.0)


def assert_matches(got: np.ndarray, want: np.ndarray, rtol: float = REL_TOL) -> float:
    assert got.shape == want.shape, f"shape {got.shape} != golden {want.shape}"
    assert np.all(np.isfinite(got)), "non-finite values in the output"
    err = rel_err(got, want)
    assert err <= rtol, f"max relative error {err:.3g} > {rtol}"
    atol = 1e-4 * float(np.max(np.abs(want)))
    assert np.allclose(got, want, rtol=rtol, atol=atol), \
        f"not allclose(rtol={rtol}, atol={atol:.3g}); worst index {np.unravel_index(np.argmax(np.abs(got - want)), got.shape)}"
    return err


RESULTS_FILE = Path(__file__).resolve().parents[2] / ".cache" / "zoo" / "results.tsv"


def record(name: str, compile_s: float, err: float) -> None:
    """Append one line (model, compile seconds, max relative error) for the report."""
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_FILE, "a") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\t{name}\t{compile_s:.2f}\t{err:.3e}\n")
