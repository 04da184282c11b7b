"""Thread scaling: each model compiled with --threads 1 and --threads 2 against onnxruntime
with 1 and 2 intra-op threads, all four timed in one process on the same input, taking
turns by blocks of 20 runs with a 0.1 s pause between blocks (spinning workers of one engine
would otherwise slow the next: on 2 cores, enough to make any 2-thread engine look slower
than its 1-thread self).

    .venv/bin/python benchmarks/threads.py                  # fp32, edge-sized models
    .venv/bin/python benchmarks/threads.py --quantize int8  # int8 (onnxruntime: best of fp32 / static int8)

Writes benchmarks/results/threads-<fp32|int8>-host.md and .json.  Reported: our 2-thread
speed-up over our 1 thread, onnxruntime's, and the 2-thread latency ratio against it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import edge_sdk  # noqa: E402
from edge_sdk.bench import (THREADED_TURNS, _ort_int8_model, _ort_session, _percentiles, sample_inputs,  # noqa: E402
                            time_alternating)
from run import EDGE, LARGE, _model_path, machine_line  # noqa: E402


def measure(arch: str, quantize: str, runs: int, work: Path) -> dict:
    path = _model_path(arch)
    first = _ort_session(path, 1).get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in first.shape]
    cal = np.random.default_rng(0).random([16] + shape[1:], dtype=np.float32) if quantize == "int8" else None
    ours = {t: edge_sdk.compile(path, out_dir=work / f"{arch}-t{t}", quantize=quantize, calibration=cal, threads=t)
            for t in (1, 2)}
    in_name = first.name
    ort_models = {"fp32": path}
    if quantize == "int8":
        ort_models["int8"] = _ort_int8_model(path, cal, in_name, work)
    feeds = sample_inputs([dict(s, dtype=np.float32) for s in ours[1].inputs])
    x = {in_name: next(iter(feeds.values()))}
    engines = {f"edge_sdk_t{t}": (lambda m=m: m.run(feeds)) for t, m in ours.items()}
    for kind, p in ort_models.items():
        for t in (1, 2):
            s = _ort_session(p, t)
            engines[f"ort_{kind}_t{t}"] = (lambda s=s: s.run(None, x))
    stats = {k: _percentiles(v)["p50_ms"] for k, v in time_alternating(engines, runs, 10, **THREADED_TURNS).items()}
    best = {t: min((k for k in stats if k.startswith("ort_") and k.endswith(f"t{t}")), key=stats.get) for t in (1, 2)}
    return {"arch": arch, "quantize": quantize, "p50_ms": stats, "ort_best": best,
            "threaded_nodes": ours[2].manifest["threaded_nodes"], "nodes": ours[2].manifest["nodes"],
            "speedup": stats["edge_sdk_t1"] / stats["edge_sdk_t2"],
            "ort_speedup": stats[best[1]] / stats[best[2]],
            "ratio_t1": stats["edge_sdk_t1"] / stats[best[1]], "ratio_t2": stats["edge_sdk_t2"] / stats[best[2]]}


def _table(rows: list[dict]) -> str:
    lines = ["| model | edge-sdk 1T ms | edge-sdk 2T ms | speed-up | onnxruntime 1T ms | onnxruntime 2T ms | "
             "its speed-up | ratio 1T | ratio 2T | layers split |", "|" + "---|" * 10]
    for r in rows:
        s, b = r["p50_ms"], r["ort_best"]
        lines.append(f"| {r['arch']} | {s['edge_sdk_t1']:.3f} | {s['edge_sdk_t2']:.3f} | {r['speedup']:.2f}x | "
                     f"{s[b[1]]:.3f} ({b[1].split('_')[1]}) | {s[b[2]]:.3f} ({b[2].split('_')[1]}) | "
                     f"{r['ort_speedup']:.2f}x | {r['ratio_t1']:.2f}x | {r['ratio_t2']:.2f}x | "
                     f"{r['threaded_nodes']}/{r['nodes']} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", help="zoo architecture names (default: edge set + 3 larger)")
    ap.add_argument("--quantize", choices=["none", "int8"], default="none")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--tag", default=None, help="results file name (default threads-<fp32|int8>-host)")
    args = ap.parse_args()
    if (os.cpu_count() or 1) < 2:
        print("this machine has one core: nothing to measure", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="edge-sdk-threads-") as tmp:
        for arch in args.models or EDGE + LARGE[:3]:
            print(f"{arch} ...", file=sys.stderr, flush=True)
            rows.append(measure(arch, args.quantize, args.runs, Path(tmp)))
            print(f"  speed-up {rows[-1]['speedup']:.2f}x, ratio 2T {rows[-1]['ratio_t2']:.2f}x", file=sys.stderr)
    tag = args.tag or f"threads-{'fp32' if args.quantize == 'none' else 'int8'}-host"
    md = f"# {tag}\n\n{machine_line()}{_table(rows)}\n"
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{tag}.md").write_text(md)
    (out / f"{tag}.json").write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
