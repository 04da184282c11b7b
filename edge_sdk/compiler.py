"""The pipeline, in one direction: ONNX -> IR -> passes -> plan -> emit -> build -> load."""
from __future__ import annotations

import copy
import hashlib
import json
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__, ir
from .build.driver import build_for_device
from .build.toolchain import find_toolchain
from .codegen.cmake import write_cmakelists
from .codegen.context import ctype_of
from .codegen.cpp_writer import c_identifier, write_sources
from .devices import Device, get_device
from .errors import UnsupportedOpError, UserError
from .frontend import import_onnx
from .frontend.tflite import import_tflite, is_tflite, tflite_quant_options
from .ops import lookup
from .passes import LOWERING_PASSES, SIMPLIFY_PASSES, run_passes
from .passes.split_for_threads import split_for_threads
from .plan import ArenaPlan, plan_arena
from .plan.fit import check_fit
from .resources import kernel_include_dir, runner_source
from .runtime import CompiledModel


@dataclass
class Analysis:
    """What the compiler knows about a model before it writes any code."""

    graph: ir.Graph
    plan: ArenaPlan | None
    sha256: str
    macs: int
    unsupported: list[UnsupportedOpError] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    quant_report: dict | None = None
    quantized_graph: ir.Graph | None = None  # int8 graph before kernel lowering (what --emit-qdq writes)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class QuantOptions:
    """What the user asked of quantization (see `edge-sdk compile --help`)."""

    mode: str = "none"                 # "none" or "int8"
    calibration: object = None         # array, .npy/.npz path, iterable, or (folder, Preprocess)
    method: str | None = None          # minmax | percentile | entropy (None: the default)
    keep_float: tuple[str, ...] = ()
    io: str = "float"                  # float: quantize/dequantize at the boundary; int8: raw int8 I/O
    preprocess: str | None = None      # spec for a calibration folder of images (see quantize/images.py)
    from_device_default: str = ""      # the device whose profile chose int8 ("" if the user did)


def _calibration_data(quant: QuantOptions, g: ir.Graph):
    """Calibration as quantize_graph takes it: a folder of images becomes an array here."""
    cal = quant.calibration
    if isinstance(cal, (str, Path)) and Path(cal).is_dir():
        from .quantize.images import Preprocess, load_image_folder
        if not quant.preprocess:
            raise UserError(f"calibration folder '{cal}' needs a preprocessing spec",
                            "add --preprocess size=224,layout=nchw,scale=1/255[,mean=..,std=..,channels=rgb,resize=bilinear]")
        spec = Preprocess.parse(quant.preprocess, g.tensor(g.inputs[0]).shape)
        return load_image_folder(cal, spec)
    if isinstance(cal, (str, Path)) and not Path(cal).exists():
        raise UserError(f"calibration data '{cal}' does not exist", "pass a .npy/.npz file or a folder of images")
    return cal


def _collect_problems(g: ir.Graph, check: bool) -> list[UnsupportedOpError]:
    problems = []
    for n in g.nodes:
        try:
            d = lookup(n, g)
            if check:
                d.check(n, g)
        except UnsupportedOpError as e:
            problems.append(e)
    return problems


def analyze(path: str | Path, batch: int = 1, input_shapes=None, strict: bool = True,
            quant: QuantOptions | None = None, progress=None, threads: int = 1) -> Analysis:
    """Import, optimise, (quantize) and plan `path` without writing code.

    strict: raise on unsupported nodes; otherwise list them in Analysis.unsupported.
    threads: split heavy layers between this many threads (passes/split_for_threads.py)."""
    from .quantize import DEFAULT_METHOD, dequantize_prequantized, is_prequantized, quantize_graph
    quant = quant or QuantOptions()
    t0 = time.perf_counter()
    sha = file_sha256(path) if Path(path).is_file() else ""
    if is_tflite(path):  # TFLite frontend: the model's own int8 quantization, TFLite's arithmetic
        g = import_tflite(path, batch=batch, input_shapes=input_shapes)
        quant, prequantized = tflite_quant_options(g, quant), False
    else:
        g = import_onnx(path, batch=batch, input_shapes=input_shapes)
        prequantized = is_prequantized(g)
    if prequantized:
        g = dequantize_prequantized(g)
    t1 = time.perf_counter()
    problems = _collect_problems(g, check=False)
    if not problems:
        g = run_passes(g, SIMPLIFY_PASSES)
        problems = _collect_problems(g, check=True)
    if problems and strict:
        if len(problems) == 1:
            raise problems[0]
        listing = "; ".join(str(p.message) for p in problems[:8])
        raise UnsupportedOpError(f"{len(problems)} nodes cannot be compiled: {listing}", hint=problems[0].hint)
    report = None
    if not problems and (quant.mode == "int8" or prequantized):
        if quant.calibration is None and not prequantized:
            why = f" (the default for {quant.from_device_default})" if quant.from_device_default else ""
            raise UserError(f"int8 quantization{why} needs calibration data; only pre-quantized models compile "
                            "without it", "pass --calibration samples.npy (or a folder of images with --preprocess), "
                            "or --quantize none for float32")
        g, report = quantize_graph(g, path, _calibration_data(quant, g), method=quant.method or DEFAULT_METHOD,
                                   keep_float=quant.keep_float, io=quant.io, on_progress=progress)
    quantized = copy.deepcopy(g) if report is not None else None  # lowering fuses ops QDQ cannot express
    if not problems:
        g = split_for_threads(run_passes(g, LOWERING_PASSES), threads)
    t2 = time.perf_counter()
    plan = plan_arena(g) if not problems else None
    macs = sum(lookup(n, g).macs(n, g) for n in g.nodes) if not problems else 0
    t3 = time.perf_counter()
    return Analysis(g, plan, sha, macs, problems, {"import_s": t1 - t0, "passes_s": t2 - t1, "plan_s": t3 - t2},
                    quant_report=report, quantized_graph=quantized)


def _banner(model: Path, sha: str, command: str) -> str:
    return (f"// Generated by edge-sdk {__version__}. Do not edit.\n"
            f"// model: {model.name} sha256 {sha}\n"
            f"// command: {command}")


def _prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "manifest.json").exists():
        raise UserError(f"output folder '{out_dir}' exists and is not an edge-sdk output folder",
                        "choose another -o folder; edge-sdk will not overwrite your files")


def compile(path: str | Path, device: str | Device = "host", out_dir: str | Path | None = None,
            quantize: str | None = None, calibration=None, *, batch: int = 1,
            input_shapes: dict[str, tuple[int, ...]] | None = None, name: str | None = None,
            cxx: str | None = None, build: bool = True, command: str | None = None,
            calibration_method: str | None = None, keep_float=(), io: str = "float",
            preprocess: str | None = None, emit_qdq: str | Path | None = None,
            threads: int = 1, progress=None) -> CompiledModel:
    """Compile an ONNX model to C++ and build it for `device`.

    quantize: None (the device's default), "none" or "int8".  int8 needs
    `calibration` (an array of input samples, a .npy/.npz path, an iterable of
    arrays, or a folder of images with a `preprocess` spec) unless the model is
    already quantized (QDQ or QOperator).  `calibration_method` is minmax,
    percentile (default) or entropy; `keep_float` lists node names kept in fp32;
    io="int8" takes and returns raw int8 tensors; `emit_qdq` writes the quantized
    graph as a QDQ ONNX model for cross-checking with onnxruntime.  `threads` > 1 splits
    the heavy layers between that many threads of a static pool in the model (Linux devices
    only; the default, 1, has no threads at all).

    Returns the loaded :class:`CompiledModel` (for the host) from `out_dir`,
    which holds the sources, the library, a CMakeLists.txt and manifest.json.
    """
    say = progress or (lambda msg: None)
    path = Path(path)
    dev = get_device(device)
    quant = QuantOptions(_resolve_quantize(quantize, dev), calibration, calibration_method, tuple(keep_float), io,
                         preprocess, from_device_default=dev.name if quantize is None else "")
    threads = check_threads(threads, dev)
    out = Path(out_dir) if out_dir else Path.cwd() / f"{path.stem}-{dev.name}"
    _prepare_out_dir(out)
    tc = find_toolchain(cxx) if build else None

    say(f"importing {path.name}")
    a = analyze(path, batch=batch, input_shapes=input_shapes, quant=quant, progress=say, threads=threads)
    g, plan = a.graph, a.plan
    if emit_qdq:
        from .quantize.export_qdq import write_qdq
        if a.quant_report is None:
            raise UserError("--emit-qdq needs an int8 compile", "add --quantize int8 --calibration DATA")
        write_qdq(a.quantized_graph, emit_qdq)
    assert plan is not None
    prefix = c_identifier(name or path.stem)
    command = command or "edge_sdk.compile(" + ", ".join(
        [repr(path.name), f"device={dev.name!r}"] + ([f"batch={batch}"] if batch != 1 else [])) + ")"
    fit = check_fit(g, plan, dev)
    t0 = time.perf_counter()
    say(f"generating C++ ({len(g.nodes)} nodes, arena {plan.arena_bytes} B)")
    src = write_sources(g, plan, prefix, _banner(path, a.sha256, command), a.sha256)
    a.timings["codegen_s"] = time.perf_counter() - t0

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for fname, text in src.files.items():
            (tmp / fname).write_text(text)
        shutil.copytree(kernel_include_dir(), tmp / "include")
        shutil.copy(runner_source(), tmp / "runner.cpp")
        (tmp / "CMakeLists.txt").write_text(write_cmakelists(prefix, dev, threads))
        built: dict = {"files": {}, "flags": []}
        if build and tc is not None:
            say(f"building with {Path(tc.cxx).name} for {dev.name}")
            t0 = time.perf_counter()
            built = build_for_device(tc, dev, tmp, prefix, arena_bytes=plan.arena_bytes, threads=threads,
                                     input_bytes=[g.tensor(t).nbytes for t in g.inputs],
                                     output_bytes=[g.tensor(t).nbytes for t in g.outputs],
                                     io_ctypes=([ctype_of(g.tensor(t).dtype) for t in g.inputs],
                                                [ctype_of(g.tensor(t).dtype) for t in g.outputs]))
            a.timings["build_s"] = time.perf_counter() - t0
        manifest = _manifest(path, a, dev, prefix, built, tc, command)
        manifest.update(fit)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return CompiledModel(out)


def check_threads(threads, dev: Device) -> int:
    """The thread count for `dev`, or a UserError saying why it cannot have that many."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise UserError(f"--threads must be a positive whole number, got {threads!r}", "use --threads 1 .. the core count")
    threads = int(threads)
    if threads > 1 and dev.os != "linux":
        raise UserError(f"device '{dev.name}' runs bare metal and has no threads; --threads {threads} is not possible",
                        "use --threads 1 (the default) on microcontrollers")
    if threads > dev.effective_cores:
        raise UserError(f"device '{dev.name}' has {dev.effective_cores} core(s); --threads {threads} would only "
                        "time-share them", f"use --threads {dev.effective_cores} or fewer")
    return threads


def _resolve_quantize(quantize: str | None, dev: Device) -> str:
    q = quantize or dev.default_quantize
    if q not in ("none", "int8"):
        raise UserError(f"unknown quantization '{q}'", "use --quantize none or --quantize int8")
    return q


def runs_on_this_machine(dev: Device) -> bool:
    return dev.is_native or (dev.os == "linux" and dev.arch == platform.machine())


def _manifest(path: Path, a: Analysis, dev: Device, prefix: str, built: dict, tc, command) -> dict:
    g, plan = a.graph, a.plan

    def tinfo(t: str) -> dict:
        tt = g.tensor(t)
        info = {"name": t, "shape": list(tt.shape), "dtype": str(tt.dtype)}
        if tt.quant is not None:  # int8 I/O: users quantize inputs and dequantize outputs with these
            info["scale"] = np.asarray(tt.quant.scale, np.float64).reshape(-1).tolist()
            info["zero_point"] = np.asarray(tt.quant.zero_point, np.int64).reshape(-1).tolist()
        return info

    return {
        "edge_sdk_version": __version__,
        "model": path.name,
        "model_sha256": a.sha256,
        "prefix": prefix,
        "device": dev.name,
        "inputs": [tinfo(t) for t in g.inputs],
        "outputs": [tinfo(t) for t in g.outputs],
        "arena_bytes": plan.arena_bytes,
        "weights_bytes": g.weights_bytes(),
        "macs": a.macs,
        "nodes": len(g.nodes),
        "threads": int(g.metadata.get("threads", 1)),
        "threaded_nodes": sum(1 for n in g.nodes if n.attrs.get("thread_parts") or n.attrs.get("thread_rows")),
        "ops": sorted({n.op_type for n in g.nodes}),
        "library": built["files"].get("library"),
        "static_library": built["files"].get("static_library"),
        "runner": built["files"].get("runner"),
        "firmware": built["files"].get("firmware"),
        "arduino_library": built["files"].get("arduino_library"),
        "flash_bytes": built.get("flash_bytes"),
        "ram_bytes": built.get("ram_bytes"),
        "runs_on_host": runs_on_this_machine(dev),
        "compiler": {"cxx": tc.cxx if tc else None, "version": tc.version if tc else None, "flags": built["flags"]},
        "command": command,
        "python": sys.version.split()[0],
        "quantization": a.quant_report,
    }
