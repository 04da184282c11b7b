"""`edge-sdk bench`: the compiled model against onnxruntime, in one process, on the same input.

Runs alternate between the engines so that machine noise hits all alike; the
figure that matters is the ratio of medians, not absolute times.  With int8,
onnxruntime is measured twice, in fp32 and as its own static int8 model
(quantize_static, QDQ, per channel, same calibration samples), and the ratio is
taken against the faster of the two.
"""
from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .compiler import compile as compile_model, runs_on_this_machine
from .devices import get_device
from .errors import UserError
from .frontend.safe_load import load_onnx


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


def _ort():
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError("onnxruntime is not installed", "pip install 'edge-sdk[bench]'") from None
    return ort


def _ort_session(path: Path, threads: int):
    ort = _ort()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _ort_int8_model(path: Path, calibration: np.ndarray, input_name: str, out: Path) -> Path:
    """onnxruntime's own static int8 model (QDQ, per-channel QInt8 weights) from the same samples."""
    _ort()
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calibration)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {input_name: x[None].astype(np.float32)}

    pre = out / "ort_pre.onnx"
    try:
        quant_pre_process(str(path), str(pre))
    except Exception:  # noqa: BLE001 - pre-processing is an optimisation; quantize the original instead
        pre = path
    dst = out / "ort_int8.onnx"
    logging.disable(logging.WARNING)  # the quantizer logs per-tensor notes to the root logger
    try:
        quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
    return dst


def _reshaped_copy(m, batch: int, input_shapes: dict, out: Path) -> Path:
    """The model `m` (as load_onnx gave it) with the same input shapes the compiler uses, for onnxruntime."""
    import onnx

    from .frontend.resolve_shapes import fix_input_shapes
    fix_input_shapes(m, batch, input_shapes)
    dst = out / "ort_reshaped.onnx"
    onnx.save(m, str(dst))
    return dst


def _max_rel_error(ours, refs) -> float:
    """Largest |difference| over each output's scale (its max |value|, at least 1e-3 so that an
    output of near-zero probabilities does not turn float rounding into a big ratio)."""
    errs = [float(np.max(np.abs(a.astype(np.float64) - b))) / max(float(np.max(np.abs(b))), 1e-3)
            for a, b in zip(ours, refs) if a.size]
    return max(errs, default=0.0)


def time_alternating(engines: dict, runs: int, warmup: int, seconds: float | None = None,
                     block: int = 1, gap_s: float = 0.0) -> dict[str, list[int]]:
    """Nanoseconds per call of each engine, the engines taking turns so that machine noise hits
    them alike; stops early after `seconds` (at least 10 runs).

    block > 1 takes turns by blocks of that many runs, pausing gap_s before each block and
    dropping its first run: multi-threaded engines leave workers spinning after a call, which
    would steal a core from whichever engine runs next (on a 2-core machine, enough to make a
    2-thread engine slower than its 1-thread self)."""
    for _ in range(warmup):
        for fn in engines.values():
            fn()
    samples: dict[str, list[int]] = {k: [] for k in engines}
    deadline = time.perf_counter() + seconds if seconds else None
    for _ in range(max(1, -(-runs // block))):
        for k, fn in engines.items():
            if gap_s:
                time.sleep(gap_s)
            for i in range(block + (block > 1)):
                t = time.perf_counter_ns()
                fn()
                if block == 1 or i > 0:
                    samples[k].append(time.perf_counter_ns() - t)
        if deadline and time.perf_counter() > deadline and len(next(iter(samples.values()))) >= 10:
            break
    return samples


THREADED_TURNS = {"block": 20, "gap_s": 0.1}


def _peak_gmacs(dev, quantize: str) -> tuple[float, str] | None:
    """One core's peak for the run's number type and where it comes from (edge_sdk/peak.py)."""
    from .peak import peak_for
    try:
        p = peak_for(dev)
    except (OSError, subprocess.SubprocessError, ValueError):  # no probe: GMAC/s still reported
        return None
    if p is None:
        return None
    if quantize == "int8":
        return p.int8_gmacs, ("the profile's int8 peak" if p.source == "profile" else
                              f"this machine's measured int8 peak, {p.int8_instruction}")
    return p.fp32_gmacs, "the profile's fp32 peak" if p.source == "profile" else "this machine's measured fp32 peak"


def bench(path: str | Path, device: str = "host", runs: int = 200, warmup: int = 20, threads: int = 1,
          batch: int = 1, out_dir: str | Path | None = None, progress=None, seconds: float | None = None,
          quantize: str | None = None, calibration=None, input_shapes: dict | None = None) -> dict:
    """Benchmark `path` compiled for `device` with `threads` threads against onnxruntime (CPU, as many)."""
    path = Path(path)
    dev = get_device(device)
    if not runs_on_this_machine(dev):
        raise UserError(f"device '{dev.name}' cannot run on this machine", "bench with --device host or x86-64")
    checked = load_onnx(path)  # the untrusted file passes edge-sdk's checks before onnxruntime, the baseline, reads it
    with tempfile.TemporaryDirectory(prefix="edge-sdk-bench-") as tmp:
        work = Path(tmp)
        q = quantize or "none"
        cal = None
        ort_path = _reshaped_copy(checked, batch, input_shapes, work) if input_shapes else path
        ref_fp32 = _ort_session(ort_path, threads)  # the baseline, and where the input shape comes from
        if q == "int8":
            shape = [batch if not isinstance(d, int) else d for d in ref_fp32.get_inputs()[0].shape]
            if calibration is None:  # speed does not depend on the samples' content; say so in the result
                cal = np.random.default_rng(0).random([16] + shape[1:], dtype=np.float32)
            else:
                from .quantize.calibrate import load_samples
                cal = np.concatenate(load_samples(calibration, tuple(shape)))
        t0 = time.perf_counter()
        model = compile_model(path, device=dev, out_dir=Path(out_dir) if out_dir else work / "model", batch=batch,
                              input_shapes=input_shapes, quantize=q, calibration=cal, progress=progress,
                              threads=threads)
        compile_s = time.perf_counter() - t0
        refs = {"onnxruntime_fp32": ref_fp32}
        if q == "int8":
            in_name = refs["onnxruntime_fp32"].get_inputs()[0].name
            refs["onnxruntime_int8"] = _ort_session(_ort_int8_model(ort_path, cal, in_name, work), threads)
        feeds = sample_inputs([dict(t, dtype=np.float32) for t in model.inputs]) if q == "int8" else \
            sample_inputs(model.inputs)
        ref_feeds = {i.name: feeds[i.name] for i in refs["onnxruntime_fp32"].get_inputs()}
        ours_out = model.run(feeds)
        ref_out = refs["onnxruntime_fp32"].run(None, ref_feeds)
        err = _max_rel_error(ours_out, ref_out)
        engines = {"edge_sdk": lambda: model.run(feeds)}
        for k, s in refs.items():
            engines[k] = (lambda s=s: s.run(None, ref_feeds))
        # Several threads: turns by blocks with a pause, so that no engine's spinning workers
        # (onnxruntime's keep spinning for tens of ms after a run) slow the next engine.
        samples = time_alternating(engines, runs, warmup, seconds, **(THREADED_TURNS if threads > 1 else {}))
    stats = {k: _percentiles(v) for k, v in samples.items()}
    best_ref = min(refs, key=lambda k: stats[k]["p50_ms"])
    ours = stats["edge_sdk"]
    macs = int(model.manifest["macs"])
    gmacs = macs / (ours["p50_ms"] * 1e-3) / 1e9 if ours["p50_ms"] else 0.0
    peak = _peak_gmacs(dev, q)
    io_bytes = sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize for t in model.inputs + model.outputs)
    return {
        "model": path.name, "device": dev.name, "threads": threads, "runs": len(samples["edge_sdk"]),
        "quantize": q, "calibration": "random samples (speed only)" if q == "int8" and calibration is None else
        ("given" if q == "int8" else None),
        "edge_sdk": ours, "onnxruntime": stats[best_ref], "onnxruntime_engine": best_ref,
        **{k: stats[k] for k in refs},
        "ratio_p50": ours["p50_ms"] / stats[best_ref]["p50_ms"],
        "max_rel_error": err,
        "arena_bytes": model.arena_bytes, "weights_bytes": model.weights_bytes,
        "peak_ram_bytes": model.arena_bytes + io_bytes,
        "macs": macs, "gmacs_per_s": gmacs,
        "peak_gmacs": peak[0] if peak else None, "peak_source": peak[1] if peak else None,
        "peak_pct": 100.0 * gmacs / peak[0] / threads if peak else None,
        "compile_s": compile_s,
    }
