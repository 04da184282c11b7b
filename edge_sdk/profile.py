"""Per-layer time of a compiled model (`edge-sdk bench --profile`).

Compiles an instrumented copy of the model (codegen/cpp_writer.instrumented(): the generated
run function stores a steady_clock timestamp after each node), runs it, and reports per node:
op, output shape, MACs, median microseconds, share of the total and GMAC/s.  The timestamps
cost a few tens of nanoseconds per node, so the totals are close to an uninstrumented run's.
"""
from __future__ import annotations

import ctypes
import json
import tempfile
from pathlib import Path

import numpy as np

from .codegen.cpp_writer import PROFILE_FILE, instrumented


def _calibration(path: Path, batch: int, input_shapes: dict | None) -> np.ndarray:
    """Random samples: speed does not depend on the calibration data (as bench)."""
    from .frontend.resolve_shapes import fix_input_shapes
    from .frontend.safe_load import load_onnx
    m = load_onnx(path)
    fix_input_shapes(m, batch, input_shapes or {})
    dims = [d.dim_value or batch for d in m.graph.input[0].type.tensor_type.shape.dim]
    return np.random.default_rng(0).random([8] + dims[1:], dtype=np.float32)


def profile(path: str | Path, device: str = "host", runs: int = 50, warmup: int = 5, quantize: str | None = None,
            calibration=None, batch: int = 1, input_shapes: dict | None = None, progress=None,
            out_dir: str | Path | None = None, threads: int = 1) -> dict:
    from .bench import _peak_gmacs, sample_inputs
    from .compiler import compile as compile_model, runs_on_this_machine
    from .devices import get_device
    from .errors import UserError
    if not runs_on_this_machine(get_device(device)):
        raise UserError(f"device '{device}' cannot run on this machine", "profile with --device host or x86-64")
    path = Path(path)
    q = quantize or "none"
    with tempfile.TemporaryDirectory(prefix="edge-sdk-profile-") as tmp:
        out = Path(out_dir) if out_dir else Path(tmp) / "model"
        cal = calibration
        if q == "int8" and cal is None:
            cal = _calibration(path, batch, input_shapes)
        with instrumented():
            model = compile_model(path, device=device, out_dir=out, quantize=q, calibration=cal, batch=batch,
                                  input_shapes=input_shapes, progress=progress, threads=threads)
        marks = json.loads((out / PROFILE_FILE).read_text())
        lib = ctypes.CDLL(str(out / model.manifest["library"]))  # the handle the runtime already opened
        fn = getattr(lib, f"{model.manifest['prefix']}_profile_ns")
        fn.restype = ctypes.POINTER(ctypes.c_uint64)
        stamps = np.ctypeslib.as_array(fn(), (len(marks) + 1,))
        feeds = sample_inputs([dict(t, dtype=np.float32) for t in model.inputs]) if q == "int8" else \
            sample_inputs(model.inputs)
        for _ in range(warmup):
            model.run(feeds)
        deltas = []
        for _ in range(runs):
            model.run(feeds)
            deltas.append(np.diff(stamps.astype(np.int64)))
    ns = np.median(np.asarray(deltas, np.float64), axis=0)
    total_ns = float(np.median(np.asarray(deltas).sum(axis=1)))
    peak = _peak_gmacs(get_device(device), q)
    ceiling = peak[0] * threads if peak else None
    rows = []
    for m, t in zip(marks, ns):
        gmacs = m["macs"] / t if t > 0 and m["macs"] else None
        rows.append({**m, "us": t / 1e3, "pct": 100.0 * t / total_ns if total_ns else 0.0, "gmacs_per_s": gmacs,
                     "peak_pct": 100.0 * gmacs / ceiling if gmacs and ceiling else None})
    macs = sum(m["macs"] for m in marks)
    return {"model": path.name, "quantize": q, "threads": threads, "runs": runs, "total_us": total_ns / 1e3, "macs": macs,
            "gmacs_per_s": macs / total_ns if total_ns else 0.0, "layers": rows,
            "peak_gmacs": peak[0] if peak else None, "peak_source": peak[1] if peak else None}


def format_profile(r: dict) -> str:
    head = ["node", "op", "shape", "MACs", "us", "%", "GMAC/s", "% peak"]
    rows = [[x["node"][:40], x["op"], "x".join(map(str, x["shape"])), f"{x['macs']:,}", f"{x['us']:.1f}",
             f"{x['pct']:.1f}", f"{x['gmacs_per_s']:.1f}" if x["gmacs_per_s"] else "",
             f"{x['peak_pct']:.0f}" if x.get("peak_pct") else ""] for x in r["layers"]]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]

    def fmt(row):
        return "  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
    lines = [fmt(head), fmt(["-" * w for w in widths]), *map(fmt, rows)]
    lines.append(f"total {r['total_us']:.1f} us (median of {r['runs']} runs), {r['macs']:,} MACs, "
                 f"{r['gmacs_per_s']:.1f} GMAC/s, {r['quantize']}")
    if r.get("peak_gmacs"):
        lines.append(f"% peak: of {r['peak_source']}, {r['peak_gmacs']:.1f} GMAC/s a core (x {r['threads']} thread(s))")
    return "\n".join(lines)
