"""Accuracy report of an int8 graph: fp32 (onnxruntime on the original model) vs our int8
generated code, on held-out samples.

SQNR (dB) = 10 log10(sum ref^2 / sum (ref - int8)^2), per graph output and per int8
layer.  Layer figures are cumulative (the int8 graph runs end to end, each layer's
output is dequantized and compared with the same fp32 tensor), so the worst layers
are where accuracy is lost, as in TFLite's quantization debugger.
"""
from __future__ import annotations

import copy
import tempfile

import numpy as np

from .. import ir
from .build_run import HostModel
from .calibrate import FloatRunner

SQNR_CAP = 120.0
PROBE = "probe:"
MAX_PROBES = 256


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    err = float(np.sum((ref - np.asarray(got, np.float64)) ** 2))
    sig = float(np.sum(ref ** 2))
    if err == 0.0:
        return SQNR_CAP
    if sig == 0.0:
        return -SQNR_CAP
    return float(min(SQNR_CAP, 10.0 * np.log10(sig / err)))


def probe_graph(g: ir.Graph, layers: list[tuple[str, str, str]], available: set[str]) -> tuple[ir.Graph, list[tuple]]:
    """A copy of `g` with each int8 layer output also dequantized into an extra graph output."""
    p = ir.Graph(g.name, [copy.copy(n) for n in g.nodes], dict(g.tensors), list(g.inputs), list(g.outputs),
                 g.opset, dict(g.metadata))
    probes = []
    for node, op, y in layers:
        q = y + "~q8"
        if y not in available or q not in p.tensors or len(probes) >= MAX_PROBES:
            continue
        qt = p.tensors[q]
        s, z = float(qt.quant.scale[0]), int(qt.quant.zero_point[0])
        sn, zn = f"{PROBE}{y}~s", f"{PROBE}{y}~z"
        p.tensors[sn] = ir.Tensor(sn, (), np.dtype(np.float32), np.array(s, np.float32))
        p.tensors[zn] = ir.Tensor(zn, (), np.dtype(np.int8), np.array(z, np.int8))
        out = PROBE + y
        p.tensors[out] = ir.Tensor(out, qt.shape, np.dtype(np.float32))
        p.nodes.append(ir.Node("DequantizeLinear", f"{PROBE}{node}", [q, sn, zn], [out]))
        p.outputs.append(out)
        probes.append((node, op, y))
    return p, probes


def accuracy_report(g: ir.Graph, model_path, batches: list[np.ndarray], layers, fallbacks,
                    held_out: bool, on_progress=None, ref_names: dict[str, str] | None = None) -> dict:
    """ref_names: tensor -> name of the reference value in the model (pre-quantized models: the
    output of the tensor's DequantizeLinear, so that its own Q/DQ rounding and clamp count)."""
    rn = dict(ref_names or {})
    names = list(dict.fromkeys(list(g.outputs) + [rn.get(y, y) for _, _, y in layers]))
    runner = FloatRunner(model_path, names)
    back = {rn.get(y, y): y for _, _, y in layers}
    avail = {back.get(t, t) for t in runner.names}
    pg, probes = probe_graph(g, layers, avail)
    say = on_progress or (lambda m: None)
    say(f"building the int8 model for the accuracy report ({len(probes)} layer probes)")
    with tempfile.TemporaryDirectory(prefix="edge_sdk_q8_") as d:
        m = HostModel(pg, d)
        refs: dict[str, list] = {}
        gots: dict[str, list] = {}
        for x in batches:
            ref = runner.run(x)
            res = dict(zip(pg.outputs, m.run(x)))
            for t in g.outputs:
                refs.setdefault(t, []).append(ref[t])
                gots.setdefault(t, []).append(res[t])
            for _, _, y in probes:
                refs.setdefault(PROBE + y, []).append(ref[rn.get(y, y)])
                gots.setdefault(PROBE + y, []).append(res[PROBE + y])
    cat = {k: np.concatenate([np.asarray(a).reshape(1, -1) for a in v]) for k, v in refs.items()}
    gcat = {k: np.concatenate([np.asarray(a).reshape(1, -1) for a in v]) for k, v in gots.items()}
    outputs = []
    for t in g.outputs:
        r, q = cat[t], gcat[t]
        entry = {"name": t, "sqnr_db": round(sqnr_db(r, q), 2), "max_abs_err": float(np.max(np.abs(r - q)))}
        per_sample = np.stack([np.asarray(a) for a in refs[t]])
        shape = per_sample.shape[1:]
        if len(shape) == 2 and shape[-1] > 1:  # (batch, classes): top-1 agreement
            a = np.stack(refs[t]).reshape(-1, shape[-1]).argmax(-1)
            b = np.stack(gots[t]).reshape(-1, shape[-1]).argmax(-1)
            entry["top1_agreement"] = float(np.mean(a == b))
        elif len(shape) == 2 and shape[-1] == 1 and r.min() >= 0 and r.max() <= 1:  # one probability
            entry["decision_agreement"] = float(np.mean((r >= 0.5) == (q >= 0.5)))
        outputs.append(entry)
    table = [{"node": node, "op": op, "tensor": y, "sqnr_db": round(sqnr_db(cat[PROBE + y], gcat[PROBE + y]), 2)}
             for node, op, y in probes]
    worst = sorted(table, key=lambda r: r["sqnr_db"])[:5]
    return {
        "samples": int(sum(x.shape[0] for x in batches)),
        "held_out": held_out,
        "outputs": outputs,
        "layers": table,
        "worst_layers": [r["node"] for r in worst],
        "fallback_ops": fallbacks,
    }


def format_report(rep: dict) -> str:
    """Human-readable summary for the CLI."""
    lines = [f"int8 accuracy ({rep.get('samples', 0)} {'held-out' if rep.get('held_out') else 'calibration'} samples, "
             f"method {rep.get('method', '?')}):"]
    for o in rep.get("outputs", []):
        extra = "".join(f", {k.replace('_', ' ')} {o[k] * 100:.1f}%" for k in ("top1_agreement", "decision_agreement") if k in o)
        lines.append(f"  output {o['name']}: SQNR {o['sqnr_db']:.1f} dB{extra}")
    worst = sorted(rep.get("layers", []), key=lambda r: r["sqnr_db"])[:5]
    if worst:
        lines.append("  worst layers: " + ", ".join(f"{r['node']} ({r['sqnr_db']:.1f} dB)" for r in worst))
    fb = rep.get("fallback_ops", [])
    if fb:
        lines.append(f"  fp32 fallback ({len(fb)}): " + ", ".join(f"{f['node']} [{f['op_type']}]" for f in fb[:10]))
    return "\n".join(lines)
