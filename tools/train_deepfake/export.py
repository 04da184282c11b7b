"""Export a trained checkpoint to ONNX, check it against torch, onnxruntime and edge-sdk,
and ship it (fp32 ONNX, int8 QDQ, JSON spec) into edge_sdk/assets/deepfake/.

    nice -n 10 .venv/bin/python -m tools.train_deepfake.export \
        --ckpt /tmp/train_deepfake/w16_s256/best_holdout.pt --name dfnet16 --default

    # MesoNet's spec + int8 twin, so the Detector can select it:
    nice -n 10 .venv/bin/python -m tools.train_deepfake.export --mesonet

The int8 twin is made by edge-sdk itself (percentile calibration on 500 train crops,
--emit-qdq); compiling that QDQ file imports its scales, so no calibration data is
needed at run time. The recommended threshold gives a 10% false-positive rate on the
val reals (fp32, onnxruntime); see docs/model_card.md.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

import edge_sdk

from .data import DATA_ROOT, read_split, to_input
from .metrics import threshold_at_fpr
from .model import DeepfakeNet, Meso4, WithSigmoid

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "edge_sdk" / "assets" / "deepfake"
MESONET = REPO / "edge_sdk" / "assets" / "mesonet" / "meso4_df.onnx"
TARGET_FPR = 0.10


def fuse_bn(net: nn.Module) -> nn.Module:
    """Fold every BatchNorm into the Conv before it, so the graph is Conv+Clip only."""
    for mod in net.modules():
        if isinstance(mod, nn.Sequential):
            for i in range(len(mod) - 1):
                if isinstance(mod[i], nn.Conv2d) and isinstance(mod[i + 1], nn.BatchNorm2d):
                    mod[i] = fuse_conv_bn_eval(mod[i], mod[i + 1])
                    mod[i + 1] = nn.Identity()
    return net


def export_onnx(ckpt: Path, out: Path) -> tuple[nn.Module, int, str]:
    c = torch.load(ckpt, map_location="cpu")
    if c.get("arch") == "meso4":  # fine-tuned MesoNet: BatchNorm stays a node; edge-sdk folds it
        net = Meso4()
        net.load_state_dict(c["state"])
        model = WithSigmoid(net.eval()).eval()
    else:
        net = DeepfakeNet(c["width"], crop=c.get("crop", 0), local=c.get("local", False))
        net.load_state_dict(c["state"])
        net.eval()
        model = WithSigmoid(fuse_bn(net)).eval()
    x = torch.zeros(1, 3, c["size"], c["size"])
    torch.onnx.export(model, (x,), str(out), input_names=["input"], output_names=["p_fake"],
                      opset_version=17, dynamo=False, do_constant_folding=True)
    m = onnx.load(str(out))
    m.doc_string = "p_fake of a 2.86x aligned face crop; trained on FaceForensics++ c23 (research-only data)"
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    return model, c["size"], c["resize"]


def ort_scores(path: Path, xs: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: x[None]})[0].reshape(-1) for x in xs])


def compiled_scores(model: edge_sdk.CompiledModel, xs: np.ndarray) -> np.ndarray:
    return np.concatenate([model.run(x[None])[0].reshape(-1) for x in xs])


def tidy_qdq(path: Path) -> None:
    """Make the emitted QDQ file valid ONNX before it ships.

    - Clip's min/max initializers become rank 0, as the spec requires: the QDQ writer
      stores them with shape [1] (np.ascontiguousarray of a 0-d array is 1-d), which
      onnxruntime accepts but edge-sdk's activation fusion cannot read back.
    - attributes the op's schema does not define are dropped: the writer leaks the
      compiler's internal "conv_out" on a Conv followed by BatchNormalization (MesoNet)."""
    m = onnx.load(str(path))
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    inits = {t.name: t for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Clip":
            for name in n.input[1:]:
                if name in inits and list(inits[name].dims) == [1]:
                    del inits[name].dims[:]
        if n.domain in ("", "ai.onnx"):
            known = onnx.defs.get_schema(n.op_type, opset).attributes
            keep = [at for at in n.attribute if at.name in known]
            if len(keep) != len(n.attribute):
                del n.attribute[:]
                n.attribute.extend(keep)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


def ship(onnx_path: Path, name: str, size: int, resize: str, meaning: str, work: Path) -> dict:
    """Check fp32 + int8 compiles against onnxruntime on val crops, write QDQ + JSON."""
    val = read_split("val")
    xs = np.stack([to_input(im, size, resize) for im in val.images])
    ref = ort_scores(onnx_path, xs)
    fp32 = compiled_scores(edge_sdk.compile(onnx_path, device="host", out_dir=work / "fp32"), xs)
    print(f"{name}: edge-sdk fp32 vs onnxruntime max |diff| {np.abs(fp32 - ref).max():.2e}")
    spec = f"size={size},layout=nchw,scale=1/255,channels=rgb,resize={resize}"
    qdq = ASSETS / f"{name}_int8_qdq.onnx"
    q1 = compiled_scores(edge_sdk.compile(onnx_path, device="host", out_dir=work / "int8", quantize="int8",
                                          calibration=str(DATA_ROOT / "train"), preprocess=spec, emit_qdq=qdq), xs)
    tidy_qdq(qdq)
    q2 = compiled_scores(edge_sdk.compile(qdq, device="host", out_dir=work / "int8_from_qdq"), xs)
    q_ort = ort_scores(qdq, xs)
    print(f"{name}: int8 (calibrated) vs int8 (shipped QDQ) max |diff| {np.abs(q1 - q2).max():.2e}; "
          f"int8 vs fp32 max |diff| {np.abs(q2 - ref).max():.3f}; edge-sdk int8 vs onnxruntime QDQ "
          f"max |diff| {np.abs(q2 - q_ort).max():.3f}")
    fake = ref if meaning == "p_fake" else 1.0 - ref
    y = val.labels
    thr = float(np.ceil(threshold_at_fpr(y, fake, TARGET_FPR) * 1000) / 1000)
    d = {"model": os.path.relpath(onnx_path, ASSETS), "int8_model": qdq.name, "input_size": size, "layout": "nchw",
         "channels": "rgb", "scale": 1 / 255, "mean": None, "std": None, "resize": resize, "output": 0,
         "output_meaning": meaning, "threshold": thr, "crop_scale": 2.86, "crop_size": 256,
         "threshold_note": f"fake_score >= threshold is fake; {int(TARGET_FPR * 100)}% false positives "
                           "on the val reals (fp32)"}
    (ASSETS / f"{name}.json").write_text(json.dumps(d, indent=1) + "\n")
    print(f"{name}: threshold {thr} -> wrote {ASSETS / (name + '.json')}")
    return d


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path)
    ap.add_argument("--name", default="dfnet16")
    ap.add_argument("--default", action="store_true", help="make this model the bundled default")
    ap.add_argument("--mesonet", action="store_true", help="ship the spec + int8 twin of meso4_df instead")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    ASSETS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if a.mesonet:
            name = MESONET.stem  # the spec names the bundled file in ../mesonet
            ship(MESONET, name, 256, "nearest", "p_real", work)
        else:
            if a.ckpt is None:
                ap.error("--ckpt is needed (or --mesonet)")
            dst = ASSETS / f"{a.name}.onnx"
            model, size, resize = export_onnx(a.ckpt, dst)
            val = read_split("val")
            xs = np.stack([to_input(im, size, resize) for im in val.images[:32]])
            with torch.no_grad():
                t = model(torch.from_numpy(xs)).numpy().reshape(-1)
            print(f"{a.name}: onnxruntime vs torch max |diff| {np.abs(ort_scores(dst, xs) - t).max():.2e}")
            name = a.name
            ship(dst, name, size, resize, "p_fake", work)
        if a.default:
            (ASSETS / "default.json").write_text(json.dumps({"alias": name}) + "\n")
            print(f"default -> {name}")


if __name__ == "__main__":
    main()
