"""`edge-sdk bench`: the compiled model against onnxruntime, in one process, on the same input.

Runs alternate between the two engines so that machine noise hits both alike;
the figure that matters is the ratio of medians, not absolute times.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from .compiler import compile as compile_model, runs_on_this_machine
from .devices import get_device
from .errors import UserError


def sample_inputs(specs, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for s in specs:
        dt = np.dtype(s["dtype"])
        if dt.kind == "f":
            out[s["name"]] = rng.random(s["shape"], dtype=np.float32).astype(dt)
        else:
            out[s["name"]] = np.zeros(s["shape"], dt)
    return out


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    a = np.asarray(samples_ns, dtype=np.float64) / 1e6
    return {"p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean())}


def _ort_session(path: Path, threads: int):
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError("onnxruntime is not installed", "pip install 'edge-sdk[bench]'") from None
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def bench(path: str | Path, device: str = "host", runs: int = 200, warmup: int = 20, threads: int = 1,
          batch: int = 1, out_dir: str | Path | None = None, progress=None, seconds: float | None = None) -> dict:
    """Benchmark `path` compiled for `device` against onnxruntime (CPU, `threads` threads)."""
    path = Path(path)
    dev = get_device(device)
    if not runs_on_this_machine(dev):
        raise UserError(f"device '{dev.name}' cannot run on this machine", "bench with --device host")
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="edge-sdk-bench-")
        out_dir = Path(tmp.name) / "model"
    try:
        t0 = time.perf_counter()
        model = compile_model(path, device=dev, out_dir=out_dir, batch=batch, progress=progress)
        compile_s = time.perf_counter() - t0
        sess = _ort_session(path, threads)
        feeds = sample_inputs(model.inputs)
        ort_feeds = {i.name: feeds[i.name] for i in sess.get_inputs()}
        ours_out = model.run(feeds)
        ref_out = sess.run(None, ort_feeds)
        err = max(float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12)) if a.size else 0.0
                  for a, b in zip(ours_out, ref_out))
        for _ in range(warmup):
            model.run(feeds)
            sess.run(None, ort_feeds)
        ours_ns, ort_ns = [], []
        deadline = time.perf_counter() + seconds if seconds else None
        for _ in range(runs):
            t = time.perf_counter_ns()
            model.run(feeds)
            ours_ns.append(time.perf_counter_ns() - t)
            t = time.perf_counter_ns()
            sess.run(None, ort_feeds)
            ort_ns.append(time.perf_counter_ns() - t)
            if deadline and time.perf_counter() > deadline and len(ours_ns) >= 10:
                break
        ours, ort_ = _percentiles(ours_ns), _percentiles(ort_ns)
        macs = int(model.manifest["macs"])
        gmacs = macs / (ours["p50_ms"] * 1e-3) / 1e9 if ours["p50_ms"] else 0.0
        io_bytes = sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize for t in model.inputs + model.outputs)
        return {
            "model": path.name, "device": dev.name, "threads": threads, "runs": len(ours_ns),
            "edge_sdk": ours, "onnxruntime": ort_,
            "ratio_p50": ours["p50_ms"] / ort_["p50_ms"],
            "max_rel_error": err,
            "arena_bytes": model.arena_bytes, "weights_bytes": model.weights_bytes,
            "peak_ram_bytes": model.arena_bytes + io_bytes,
            "macs": macs, "gmacs_per_s": gmacs,
            "peak_pct": 100.0 * gmacs / dev.peak_gmacs_fp32 if dev.peak_gmacs_fp32 else None,
            "compile_s": compile_s,
        }
    finally:
        if tmp is not None:
            tmp.cleanup()
