"""The `edge-sdk` command line: a thin layer over the public Python API.

User errors print one line with a hint and exit 2; internal faults exit 1
(set EDGE_SDK_DEBUG=1 to see their traceback)."""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import traceback
from pathlib import Path

from . import __version__
from .errors import EdgeError, UserError


def _shape_arg(text: str) -> tuple[str, tuple[int, ...]]:
    try:
        name, dims = text.rsplit("=", 1)
        return name, tuple(int(d) for d in dims.lower().replace(",", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=1x3x224x224, got '{text}'") from None


def _progress(args):
    """Progress lines on stderr; counters ("step 3/32") are shown at quarters, not every tick."""
    if args.json or args.quiet:
        return None

    def say(msg: str) -> None:
        m = re.search(r"(\d+)/(\d+)$", msg)
        if m:
            k, n = int(m.group(1)), int(m.group(2))
            if k != n and (k * 4) // n == ((k - 1) * 4) // n:
                return
        print(f"  .. {msg}", file=sys.stderr, flush=True)
    return say


def _print(args, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _human_bytes(n: int | None) -> str:
    if not n:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" or n == int(n) else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cmd_compile(args) -> int:
    from .compiler import compile as compile_model
    model = compile_model(args.model, device=args.device, out_dir=args.output, quantize=args.quantize,
                          calibration=args.calibration, batch=args.batch, input_shapes=dict(args.input_shape or []),
                          name=args.name, cxx=args.cxx, build=not args.no_build, command=args.command_line,
                          calibration_method=args.calibration_method, keep_float=args.keep_float or (),
                          io=args.io, preprocess=args.preprocess, emit_qdq=args.emit_qdq, threads=args.threads,
                          progress=_progress(args))
    m = model.manifest
    built = [f"{k}: {m[k]}" for k in ("library", "static_library", "runner", "firmware", "arduino_library") if m.get(k)]
    sizes = (f"\n  measured: flash {m['flash_bytes']:,} B, RAM {m['ram_bytes']:,} B (arena + I/O + static data)"
             if m.get("flash_bytes") is not None else "")
    text = (f"compiled {m['model']} for {m['device']} -> {model.dir}\n"
            f"  nodes {m['nodes']}, MACs {m['macs']:,}, arena {m['arena_bytes']:,} B, weights {m['weights_bytes']:,} B"
            + (f"\n  threads {m['threads']}: {m['threaded_nodes']} layer(s) split between them" if m['threads'] > 1 else "")
            + f"{sizes}\n  " + ("\n  ".join(built) if built else "(sources only)"))
    if m.get("quantization"):
        from .quantize import format_report
        text += "\n" + format_report(m["quantization"])
    _print(args, m, text)
    return 0


def cmd_run(args) -> int:
    import numpy as np

    from .runtime import load
    model = load(args.dir)
    src = Path(args.input)
    if not src.is_file():
        raise UserError(f"input file '{src}' does not exist")
    try:
        data = np.load(src, allow_pickle=False)
    except Exception as e:
        raise UserError(f"cannot read '{src}' as .npy/.npz: {e}") from None
    feeds = dict(data) if hasattr(data, "files") else data
    outputs = model.run(feeds, emulate=args.emulate)
    if args.output:
        if len(outputs) == 1 and not args.output.endswith(".npz"):
            np.save(args.output, outputs[0])
        else:
            np.savez(args.output, **{t["name"]: o for t, o in zip(model.outputs, outputs)})
    data = {t["name"]: o.tolist() if o.size <= 64 else {"shape": list(o.shape)} for t, o in zip(model.outputs, outputs)}
    text = "\n".join(f"{t['name']} {list(o.shape)} {o.dtype}: " + np.array2string(o.reshape(-1)[:16], precision=6)
                     for t, o in zip(model.outputs, outputs))
    _print(args, data, text)
    return 0


def cmd_ops(args) -> int:
    from .ops import supported_ops
    ops = supported_ops()
    _print(args, {"count": len(ops), "ops": list(ops)}, f"{len(ops)} ONNX op types:\n  " + "\n  ".join(
        ", ".join(list(ops)[i:i + 8]) for i in range(0, len(ops), 8)))
    return 0


def cmd_devices(args) -> int:
    from dataclasses import asdict

    from .devices import all_devices
    devs = all_devices()
    rows = [[d.name, d.os, d.arch, d.cpu, str(d.cores or "auto"), _human_bytes(d.ram_bytes),
             _human_bytes(d.flash_bytes), d.default_quantize, d.description] for d in devs.values()]
    data = [{k: v for k, v in asdict(d).items() if k != "extra"} for d in devs.values()]
    _print(args, {"devices": data},
           _table(rows, ["name", "os", "arch", "cpu", "cores", "ram", "flash", "quantize", "description"]))
    return 0


def cmd_inspect(args) -> int:
    from .inspect_model import inspect_model
    r = inspect_model(args.model, batch=args.batch, input_shapes=dict(args.input_shape or []))
    lines = [f"{r['model']}  (opset {r['opset']}, {r['producer'] or 'unknown producer'})",
             *[f"  input  {t['name']} {t['shape']} {t['dtype']}" for t in r["inputs"]],
             *[f"  output {t['name']} {t['shape']} {t['dtype']}" for t in r["outputs"]],
             f"  nodes {r['nodes']}: " + ", ".join(f"{k} x{v}" for k, v in r["ops"].items()),
             f"  parameters {r['parameters']:,} ({r['weights_bytes']:,} B)   MACs {r['macs']:,}   "
             f"arena {'-' if r['arena_bytes'] is None else format(r['arena_bytes'], ',') + ' B'}"]
    if r["unsupported"]:
        lines.append(f"  UNSUPPORTED ({len(r['unsupported'])}):")
        lines += [f"    {u['node']} ({u['op_type']}, opset {u['opset']}): {u['message']}" for u in r["unsupported"]]
    _print(args, r, "\n".join(lines))
    return 2 if r["unsupported"] and args.strict else 0


def cmd_bench(args) -> int:
    if args.profile:
        from .profile import format_profile, profile
        r = profile(args.model, device=args.device, runs=args.runs, warmup=args.warmup, quantize=args.quantize,
                    calibration=args.calibration, batch=args.batch, input_shapes=dict(args.input_shape or []),
                    progress=_progress(args), threads=args.threads)
        _print(args, r, format_profile(r))
        return 0
    from .frontend.tflite import is_tflite
    if is_tflite(args.model):
        from .bench_tflite import bench_tflite, format_bench_tflite
        r = bench_tflite(args.model, device=args.device, runs=args.runs, warmup=args.warmup, threads=args.threads,
                         progress=_progress(args))
        _print(args, r, format_bench_tflite(r))
        return 0
    from .bench import bench
    r = bench(args.model, device=args.device, runs=args.runs, warmup=args.warmup, threads=args.threads,
              batch=args.batch, progress=_progress(args), quantize=args.quantize, calibration=args.calibration,
              input_shapes=dict(args.input_shape or []))
    rows = [[f"edge-sdk ({r['quantize']})", *(f"{r['edge_sdk'][p]:.3f}" for p in ("p50_ms", "p90_ms", "p99_ms"))]]
    for k in ("onnxruntime_fp32", "onnxruntime_int8"):
        if k in r:
            rows.append([k.replace("_", " "), *(f"{r[k][p]:.3f}" for p in ("p50_ms", "p90_ms", "p99_ms"))])
    peak = f" ({r['peak_pct']:.0f}% of {r['peak_source']}, {r['peak_gmacs']:.1f} GMAC/s a core)" \
        if r["peak_pct"] else ""
    text = (f"{r['model']} on {r['device']}, {r['threads']} thread(s), {r['runs']} runs\n"
            + _table(rows, ["engine", "p50 ms", "p90 ms", "p99 ms"])
            + f"\nratio (edge-sdk / best onnxruntime = {r['onnxruntime_engine'].replace('_', ' ')}, p50): "
              f"{r['ratio_p50']:.2f}x"
            + f"\nthroughput {r['gmacs_per_s']:.1f} GMAC/s{peak}, {r['macs']:,} MACs"
            + f"\narena {r['arena_bytes']:,} B, weights {r['weights_bytes']:,} B, peak RAM {r['peak_ram_bytes']:,} B"
            + f"\nmax relative error vs onnxruntime {r['max_rel_error']:.2e}, compile {r['compile_s']:.1f} s")
    _print(args, r, text)
    return 0


def cmd_demo(args) -> int:
    """The deepfake-face monitor on the bundled clip, with the compiled int8 default detector."""
    from .monitor.cli import add_monitor_parser
    from .resources import assets_dir
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    events = out / "events.jsonl"
    if events.exists():
        events.unlink()  # one run's events, not an append across demo runs
    if not args.quiet:
        print(f"edge-sdk demo: the deepfake monitor on {assets_dir() / 'demo' / 'demo_clip.mp4'} "
              f"(compiled int8 default detector); events -> {events}, snapshots -> {out / 'snapshots'}",
              flush=True)
    p = argparse.ArgumentParser(prog="edge-sdk")
    add_monitor_parser(p.add_subparsers(dest="command"))
    margs = p.parse_args(["monitor", "--source", str(assets_dir() / "demo" / "demo_clip.mp4"), "--quantize", "int8",
                          "--events", str(events), "--snapshots", str(out / "snapshots"), "--stats-every", "1",
                          "--record", str(out / "annotated.mp4"), *(["--json"] if args.json else []),
                          *(["-q"] if args.quiet else [])])
    return margs.fn(margs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-sdk", description="Compile ONNX classifiers to fast C++ for edge devices.")
    p.add_argument("--version", action="version", version=f"edge-sdk {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, fn, help_):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
        sp.set_defaults(fn=fn)
        return sp

    def model_opts(sp):
        sp.add_argument("--batch", type=int, default=1, help="value for a symbolic batch dimension (default 1)")
        sp.add_argument("--input-shape", type=_shape_arg, action="append", metavar="NAME=DIMS",
                        help="fix an input's shape, e.g. input=1x3x224x224 (repeatable)")

    c = add("compile", cmd_compile, "compile an ONNX model to C++ and build it")
    c.add_argument("model")
    c.add_argument("--device", default="host", help="device profile (see `edge-sdk devices`)")
    c.add_argument("-o", "--output", help="output folder (default: ./<model>-<device>)")
    c.add_argument("--quantize", choices=["none", "int8"], default=None,
                   help="int8 post-training quantization (default: the device profile's choice)")
    c.add_argument("--calibration", help="calibration inputs: .npy/.npz of samples, or a folder of images")
    c.add_argument("--preprocess", help="for an image folder: size=224,layout=nchw,scale=1/255,mean=a:b:c,"
                                        "std=a:b:c,channels=rgb,resize=bilinear")
    c.add_argument("--calibration-method", choices=["minmax", "percentile", "entropy"], default=None,
                   help="activation range estimator (default: percentile)")
    c.add_argument("--keep-float", nargs="+", metavar="NODE", help="node names to keep in float32")
    c.add_argument("--io", choices=["float", "int8"], default="float",
                   help="int8 model I/O: float (quantize/dequantize inside) or raw int8")
    c.add_argument("--emit-qdq", metavar="OUT.onnx", help="also write the quantized graph as a QDQ ONNX model")
    c.add_argument("--name", help="C symbol prefix (default: from the file name)")
    c.add_argument("--cxx", help="C++ compiler (default: clang++-19/clang++; or $EDGE_SDK_CXX)")
    c.add_argument("--threads", type=int, default=1,
                   help="split heavy layers between N threads (Linux devices; default 1, no threads)")
    c.add_argument("--no-build", action="store_true", help="write sources only")
    model_opts(c)
    r = add("run", cmd_run, "run a compiled model on an input .npy (or .npz of named inputs)")
    r.add_argument("dir")
    r.add_argument("input")
    r.add_argument("-o", "--output", help="write outputs to .npy (one output) or .npz")
    r.add_argument("--emulate", action="store_true",
                   help="run the folder's standalone runner (under qemu for cross-built Linux ARM models)")
    add("ops", cmd_ops, "list the supported ONNX op types")
    add("devices", cmd_devices, "list device profiles")
    i = add("inspect", cmd_inspect, "show ops, unsupported nodes, MACs, parameters and planned arena")
    i.add_argument("model")
    i.add_argument("--strict", action="store_true", help="exit 2 if any node is unsupported")
    model_opts(i)
    b = add("bench", cmd_bench, "benchmark the compiled model against onnxruntime")
    b.add_argument("model")
    b.add_argument("--device", default="host")
    b.add_argument("--runs", type=int, default=200)
    b.add_argument("--warmup", type=int, default=20)
    b.add_argument("--threads", type=int, default=1,
                   help="threads for the compiled model and for onnxruntime (default 1)")
    b.add_argument("--quantize", choices=["none", "int8"], default="none")
    b.add_argument("--calibration", help="calibration samples for int8 (default: random, fine for speed)")
    b.add_argument("--profile", action="store_true",
                   help="per-layer time (op, shape, MACs, us, %%, GMAC/s) of an instrumented build instead")
    model_opts(b)
    d = add("demo", cmd_demo, "run the deepfake monitor on the bundled clip (int8 default detector)")
    d.add_argument("-o", "--output", default="out/demo", help="folder for events, snapshots and video")
    from .cli_faces import add_face_commands
    add_face_commands(add)
    from .monitor.cli import add_monitor_parser
    add_monitor_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = "edge-sdk " + " ".join(shlex.quote(a) for a in argv)
    try:
        return args.fn(args)
    except EdgeError as e:
        print(f"edge-sdk: error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"  hint: {e.hint}", file=sys.stderr)
        if os.environ.get("EDGE_SDK_DEBUG"):
            traceback.print_exc()
        return e.exit_code
    except KeyboardInterrupt:
        print("edge-sdk: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug in edge-sdk
        print(f"edge-sdk: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        print("  hint: this is a bug; rerun with EDGE_SDK_DEBUG=1 and report the traceback", file=sys.stderr)
        if os.environ.get("EDGE_SDK_DEBUG"):
            traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
