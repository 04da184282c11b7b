"""Monitor throughput on one core: the real `edge-sdk monitor` loop (capture thread, detector,
tracker, events) over the 640x360 test clip, with the detector's models compiled by edge-sdk
(YuNet fp32 + int8 classifier by default) and, for comparison, the same pipeline with
onnxruntime running both models (one thread) -- the ratio is compiled fps / onnxruntime fps.

    python benchmarks/monitor_bench.py                    # default detector, --quantize int8
    python benchmarks/monitor_bench.py --frames 550 --rounds 3 --json

The process is pinned to one CPU (sched_setaffinity), OpenCV and torch use one thread, and
the capture thread shares that core with the loop, as on a small board.  Both variants run
in the same process, alternating, and the median round of each is reported.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "data" / "video" / "short_hamilton_clip.mp4"


class OrtModel:
    """onnxruntime behind CompiledModel's interface (outputs, run(x) -> list in ONNX order)."""

    def __init__(self, path: Path, input_shape: tuple[int, ...] | None = None):
        import onnxruntime as ort
        model = str(path)
        if input_shape is not None:
            model = _with_input_shape(path, input_shape)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.outputs = [{"name": o.name} for o in self.session.get_outputs()]

    def run(self, x):
        return self.session.run(None, {self.input: x})


def _with_input_shape(path: Path, shape: tuple[int, ...]) -> bytes:
    """The model with its first input fixed to `shape` and the recorded intermediate and output
    shapes dropped (YuNet's file records those for 640x640, which would contradict another size)."""
    import onnx
    m = onnx.load(str(path))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, shape):
        d.Clear()
        d.dim_value = v
    del m.graph.value_info[:]
    for o in m.graph.output:
        for d in o.type.tensor_type.shape.dim:
            d.Clear()
            d.dim_param = "?"
    return m.SerializeToString()


def ort_variant(detector, frame) -> object:
    """The same Detector with both of its models swapped for onnxruntime sessions of the same
    ONNX files (the classifier's int8 QDQ twin when the detector runs int8)."""
    fh, fw = frame.shape[:2]
    pw, ph, _ = detector.faces.input_size(fw, fh)
    detector.faces._models[(pw, ph)] = OrtModel(detector.faces.model_path, (1, 3, ph, pw))
    spec = detector.classifier.spec
    src = spec.int8_model if detector.quantize == "int8" and spec.int8_model else spec.model
    detector.classifier.model = OrtModel(src)
    return detector


def one_round(detector, frames: int) -> dict:
    from edge_sdk.monitor import CaptureConfig, EventLog, Monitor, MonitorConfig, parse_source
    mon = Monitor(detector, parse_source(str(CLIP)), events=EventLog(None, echo=None),
                  config=MonitorConfig(max_frames=frames, stats_every=0, quiet=True),
                  capture=CaptureConfig(live=False, loop=True))
    return mon.run()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quantize", choices=["none", "int8"], default="int8")
    ap.add_argument("--model", help="classifier (default: the bundled default)")
    ap.add_argument("--detect-width", type=int, help="face detector input width (default: the detector's)")
    ap.add_argument("--frames", type=int, default=550, help="frames per round (the clip has 275; it loops)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, help="CPU to pin to (default: the first allowed)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not CLIP.is_file():
        print(f"monitor_bench: the test clip {CLIP} is absent", file=sys.stderr)
        return 2
    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    import cv2
    cv2.setNumThreads(1)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    from edge_sdk.detector import Detector

    ok, frame = cv2.VideoCapture(str(CLIP)).read()
    assert ok
    kw = {"detect_width": args.detect_width} if args.detect_width else {}
    compiled = Detector(args.model, quantize=args.quantize, **kw)
    ort = ort_variant(Detector(args.model, quantize=args.quantize, **kw), frame)
    for det in (compiled, ort):  # warm-up: compiles (first use) and fills caches
        one_round(det, 30)
    rounds = {"compiled": [], "onnxruntime": []}
    for _ in range(args.rounds):
        for name, det in (("compiled", compiled), ("onnxruntime", ort)):
            rounds[name].append(one_round(det, args.frames))
    result = {"clip": CLIP.name, "frames_per_round": args.frames, "rounds": args.rounds, "cpu": cpu,
              "detector": repr(compiled), "detect_width": compiled.faces.detect_width, "variants": {}}
    for name, rs in rounds.items():
        med = sorted(rs, key=lambda r: r["fps"])[len(rs) // 2]
        result["variants"][name] = {"fps": med["fps"], "fps_all": [r["fps"] for r in rs],
                                    "latency": med["latency"], "faces": med["faces"], "flags": med["flags"]}
    c, o = result["variants"]["compiled"]["fps"], result["variants"]["onnxruntime"]["fps"]
    result["ratio_compiled_over_onnxruntime"] = round(c / o, 3)
    result["target_fps"] = 30
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"monitor on {CLIP.name} (640x360), one core (cpu {cpu}), {args.frames} frames x {args.rounds} rounds, "
          f"{result['detector']}, detect width {result['detect_width']}")
    for name, v in result["variants"].items():
        lat = v["latency"]
        stages = "  ".join(f"{s} {lat[s]['mean_ms']:.2f}/{lat[s]['p90_ms']:.2f}" for s in
                           ("decode", "detect", "align", "classify", "total") if lat[s]["mean_ms"] is not None)
        print(f"  {name:12s} {v['fps']:7.1f} fps (rounds {v['fps_all']})  ms mean/p90: {stages}")
    print(f"  compiled / onnxruntime: {result['ratio_compiled_over_onnxruntime']:.2f}x   "
          f"target >= 30 fps: {'met' if c >= 30 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
