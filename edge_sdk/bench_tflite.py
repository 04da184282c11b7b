"""`edge-sdk bench model.tflite`: the compiled model against TFLite's interpreter in one process.

The baseline is LiteRT's (or tflite-runtime's) default CPU path, XNNPACK, with one thread;
the same int8 (or float) input feeds both, runs alternate so that machine noise hits both
alike, and the figure that matters is the ratio of medians.  The compiled outputs are also
checked against TFLite's reference kernels (BUILTIN_REF): for int8 models they must be equal.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from .bench import _percentiles, time_alternating
from .compiler import compile as compile_model, runs_on_this_machine
from .devices import get_device
from .errors import UserError


def find_interpreter():
    """(interpreter module, package name) of TFLite's Python interpreter, LiteRT first; None if neither."""
    try:
        from ai_edge_litert import interpreter as mod
        return mod, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as mod
        return mod, "tflite-runtime"
    except ImportError:
        return None


def _interpreter_module():
    found = find_interpreter()
    if found is None:
        raise UserError("benchmarking a .tflite needs TFLite's interpreter",
                        "pip install ai-edge-litert (or tflite-runtime)")
    return found


def _interpreter(path: Path, reference: bool, threads: int):
    mod, _ = _interpreter_module()
    kind = mod.OpResolverType.BUILTIN_REF if reference else mod.OpResolverType.AUTO
    it = mod.Interpreter(model_path=str(path), experimental_op_resolver_type=kind, num_threads=threads)
    it.allocate_tensors()
    return it


def _inputs(it, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for d in it.get_input_details():
        dt = np.dtype(d["dtype"])
        out.append(rng.integers(-128, 128, d["shape"], dtype=np.int8) if dt == np.int8
                   else rng.random(d["shape"], dtype=np.float32).astype(dt))
    return out


def _invoke(it, xs):
    for d, x in zip(it.get_input_details(), xs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def bench_tflite(path: str | Path, device: str = "host", runs: int = 200, warmup: int = 20, threads: int = 1,
                 out_dir: str | Path | None = None, progress=None, seconds: float | None = None) -> dict:
    """Benchmark `path` (.tflite) compiled for `device` against TFLite's interpreter (XNNPACK, `threads`)."""
    path = Path(path)
    dev = get_device(device)
    if not runs_on_this_machine(dev):
        raise UserError(f"device '{dev.name}' cannot run on this machine", "bench with --device host or x86-64")
    _, engine_name = _interpreter_module()
    with tempfile.TemporaryDirectory(prefix="edge-sdk-bench-") as tmp:
        t0 = time.perf_counter()
        model = compile_model(path, device=dev, out_dir=Path(out_dir) if out_dir else Path(tmp) / "model",
                              quantize="none", progress=progress)
        compile_s = time.perf_counter() - t0
        fast = _interpreter(path, reference=False, threads=threads)
        ref = _interpreter(path, reference=True, threads=1)
        xs = _inputs(fast)
        ours_out = model.run(xs if len(xs) > 1 else xs[0])
        ref_out = _invoke(ref, xs)
        exact = all(np.array_equal(np.asarray(a).reshape(b.shape), b) for a, b in zip(ours_out, ref_out))
        max_abs = max(float(np.max(np.abs(np.asarray(a, np.float64).reshape(b.shape) - b))) if b.size else 0.0
                      for a, b in zip(ours_out, ref_out))
        engines = {"edge_sdk": lambda: model.run(xs if len(xs) > 1 else xs[0]), "tflite": lambda: _invoke(fast, xs)}
        samples = time_alternating(engines, runs, warmup, seconds)
    stats = {k: _percentiles(v) for k, v in samples.items()}
    int8 = any(np.dtype(t["dtype"]) == np.int8 for t in model.inputs + model.outputs) or \
        "QConv" in model.manifest.get("ops", [])
    macs = int(model.manifest["macs"])
    ours = stats["edge_sdk"]
    io_bytes = sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize for t in model.inputs + model.outputs)
    return {
        "model": path.name, "device": dev.name, "threads": threads, "runs": len(samples["edge_sdk"]),
        "baseline": f"{engine_name} interpreter (XNNPACK/default CPU kernels, {threads} thread(s))",
        "edge_sdk": ours, "tflite": stats["tflite"], "ratio_p50": ours["p50_ms"] / stats["tflite"]["p50_ms"],
        "int8": int8, "bit_exact_vs_reference_kernels": exact, "max_abs_diff_vs_reference_kernels": max_abs,
        "arena_bytes": model.arena_bytes, "weights_bytes": model.weights_bytes,
        "peak_ram_bytes": model.arena_bytes + io_bytes, "macs": macs,
        "gmacs_per_s": macs / (ours["p50_ms"] * 1e-3) / 1e9 if ours["p50_ms"] else 0.0,
        "compile_s": compile_s,
    }


def format_bench_tflite(r: dict) -> str:
    """The text `edge-sdk bench model.tflite` prints (r from bench_tflite)."""
    ours, ref = r["edge_sdk"], r["tflite"]
    exact = ("bit-exact with TFLite's reference kernels" if r["bit_exact_vs_reference_kernels"] else
             f"max |diff| vs TFLite's reference kernels {r['max_abs_diff_vs_reference_kernels']:.3g}")
    return "\n".join([
        f"{r['model']} on {r['device']}, {r['runs']} runs, {r['threads']} thread(s)",
        f"  edge-sdk  p50 {ours['p50_ms']:.3f} ms  p90 {ours['p90_ms']:.3f} ms  ({r['gmacs_per_s']:.1f} GMAC/s)",
        f"  tflite    p50 {ref['p50_ms']:.3f} ms  p90 {ref['p90_ms']:.3f} ms  ({r['baseline']})",
        f"  ratio (edge-sdk / tflite, p50) {r['ratio_p50']:.2f}; {exact}",
        f"  arena {r['arena_bytes']:,} B, peak RAM with I/O {r['peak_ram_bytes']:,} B, "
        f"weights {r['weights_bytes']:,} B",
    ])
