"""Benchmark suite: every zoo model compiled by edge-sdk against onnxruntime.

    .venv/bin/python benchmarks/run.py                 # edge-sized models
    .venv/bin/python benchmarks/run.py --all           # plus ResNet-18, MobileNetV2-1.0, VGG16
    .venv/bin/python benchmarks/run.py --threads 2

Writes benchmarks/results/<tag>.md, .json and .png (latency ratio per model).
Ratios come from one process, the same input, runs interleaved; absolute times
on shared machines are noise, ratios much less so.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_sdk.bench import bench  # noqa: E402
from tests.models import zoo  # noqa: E402

EDGE = ["meso4", "mesoinception4", "mobilenetv2_035_96", "efficientnet_style_128"]
LARGE = ["squeezenet11", "seed_cnn_150", "keras_nhwc_64", "resnet18", "mobilenetv2_100_224", "vgg16_64"]


def machine_line() -> str:
    """Where the figures come from: CPU, its widest SIMD, cores, onnxruntime version, date."""
    import datetime
    import os

    import onnxruntime
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = "AVX-512 VNNI" if "avx512_vnni" in flags else "AVX-512" if "avx512f" in flags else \
        "AVX2" if "avx2" in flags else "no AVX2"
    return (f"Measured on {model} ({simd}, {os.cpu_count()} cores), onnxruntime {onnxruntime.__version__}, "
            f"{datetime.date.today().isoformat()}.\n\n")


def _model_path(arch: str) -> Path:
    if arch in ("meso4", "mesoinception4"):  # the real MesoNet weights, as users get them
        from edge_sdk.resources import assets_dir
        return assets_dir() / "mesonet" / f"{arch}_df.onnx"
    return zoo.export(arch, "torchscript")


def _table(rows: list[dict]) -> str:
    head = ("| model | MMACs | edge-sdk p50 ms | onnxruntime best p50 ms (engine) | ratio | GMAC/s | % peak | "
            "arena KiB | weights KiB | compile s |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(f"| {r['arch']} | {r['macs'] / 1e6:.1f} | {r['edge_sdk']['p50_ms']:.3f} | "
                     f"{r['onnxruntime']['p50_ms']:.3f} ({r['onnxruntime_engine'].split('_')[1]}) | "
                     f"{r['ratio_p50']:.2f}x | {r['gmacs_per_s']:.1f} | "
                     f"{format(r['peak_pct'], '.0f') if r.get('peak_pct') else '-'} | "
                     f"{r['arena_bytes'] / 1024:.0f} | {r['weights_bytes'] / 1024:.0f} | {r['compile_s']:.1f} |")
    return "\n".join(lines)


def _chart(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [r["arch"] for r in rows]
    ratios = [r["ratio_p50"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.5))
    ax.barh(names, ratios, color=["tab:green" if x <= 1.0 else "tab:orange" for x in ratios])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel("latency ratio edge-sdk / onnxruntime (lower is better)")
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", action="store_true", help="include the large models")
    ap.add_argument("--models", nargs="*", help="zoo architecture names")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--device", default="host")
    ap.add_argument("--quantize", choices=["none", "int8"], default="none")
    ap.add_argument("--tag", default=None)
    args = ap.parse_args()
    models = args.models or (EDGE + (LARGE if args.all else LARGE[:3]))
    rows = []
    for arch in models:
        print(f"{arch} ...", file=sys.stderr, flush=True)
        r = bench(_model_path(arch), device=args.device, runs=args.runs, threads=args.threads, quantize=args.quantize)
        r["arch"] = arch
        rows.append(r)
        print(f"  ratio {r['ratio_p50']:.2f}x  ({r['edge_sdk']['p50_ms']:.3f} ms vs {r['onnxruntime']['p50_ms']:.3f} ms)",
              file=sys.stderr)
    tag = args.tag or f"{'fp32' if args.quantize == 'none' else 'int8'}-{args.device}-t{args.threads}"
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    peak = next((f"% peak: of {r['peak_source']}, {r['peak_gmacs']:.1f} GMAC/s a core.\n\n" for r in rows
                 if r.get("peak_gmacs")), "")
    md = f"# {tag}\n\n{machine_line()}{peak}{_table(rows)}\n"
    (out / f"{tag}.md").write_text(md)
    (out / f"{tag}.json").write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    _chart(rows, out / f"{tag}.png", f"edge-sdk vs onnxruntime, {tag}")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
