"""Import pre-quantized models (QDQ and QOperator) as a float graph plus exact quantization.

The graph is turned back into the float graph it describes, and what made it
quantized is kept on the side (graph.metadata["prequant"], a QuantPlan):
  * DequantizeLinear of a constant (weights, bias)  -> float constant + its exact integers;
  * QuantizeLinear(x) -> q, DequantizeLinear(q) -> x' -> x' is x, with x's (scale, zero_point);
  * QLinearConv / QLinearMatMul / QLinearAdd          -> Conv / MatMul / Add on float tensors,
    their scales recorded for the inputs and the output;
  * any other op on an integer tensor (MaxPool, Reshape, ...) keeps its input's scale.
Then the normal int8 rewrite (rewrite.py) uses those scales instead of calibration, and the
model's own integer weights.  uint8 activations are re-encoded as int8 (q - 128, zp - 128):
the same real values, so results do not change.
Call it right after import, before the passes (which expect float weights).
"""
from __future__ import annotations

import numpy as np

from .. import ir
from .rewrite import QuantPlan, WeightOverride

QOPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "QLinearAdd",
        "QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearConcat", "QLinearSigmoid", "QLinearLeakyRelu"}


def is_prequantized(g: ir.Graph) -> bool:
    return any(n.op_type in QOPS for n in g.nodes)


def _sz(g: ir.Graph, scale: str, zp: str, int_dtype) -> tuple[float, int]:
    s = float(np.asarray(g.const(scale)).reshape(-1)[0])
    z = g.const(zp) if zp else None
    z = 0 if z is None else int(np.asarray(z).reshape(-1)[0])
    if np.dtype(int_dtype) == np.uint8:
        z -= 128
    return s, z


def _dequant(q: np.ndarray, scale: np.ndarray, zp: np.ndarray | None, axis: int | None) -> np.ndarray:
    scale = np.asarray(scale, np.float64)
    zp = np.zeros_like(scale) if zp is None else np.asarray(zp, np.float64)
    if scale.size > 1 and axis is not None:
        shape = [1] * q.ndim
        shape[axis % q.ndim] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((q.astype(np.float64) - zp) * scale).astype(np.float32)


def dequantize_prequantized(g: ir.Graph) -> ir.Graph:
    """Rewrite a QDQ / QOperator graph in place into float + g.metadata['prequant'] (a QuantPlan)."""
    if not is_prequantized(g):
        return g
    plan = QuantPlan()
    alias: dict[str, str] = {}   # integer tensor -> float tensor it encodes

    def f(t: str) -> str:
        while t in alias:
            t = alias[t]
        return t

    def const_weight(name: str, scale: str, zp: str, axis: int | None) -> str:
        q = g.const(name)
        fname = name + "~f32"
        if fname not in g.tensors:
            s, z = g.const(scale), g.const(zp) if zp else None
            arr = _dequant(q, s, z, axis if np.asarray(s).size > 1 else None)
            g.tensors[fname] = ir.Tensor(fname, tuple(arr.shape), np.dtype(np.float32), arr)
            plan.weights[fname] = WeightOverride(q, np.asarray(s, np.float32).reshape(-1),
                                                 np.zeros(1, np.int64) if z is None else np.asarray(z).reshape(-1),
                                                 None if np.asarray(s).size == 1 else (axis % q.ndim))
        return fname

    def to_float(t: str) -> None:
        tt = g.tensors[t]
        g.tensors[t] = ir.Tensor(t, tt.shape, np.dtype(np.float32))

    new_nodes: list[ir.Node] = []
    for n in g.nodes:
        op, ins = n.op_type, list(n.inputs)
        if op == "DequantizeLinear" and g.const(ins[0]) is not None:
            fname = const_weight(ins[0], ins[1], n.input(2), int(n.attr("axis", 1)))
            alias[n.outputs[0]] = fname
            continue
        if op == "QuantizeLinear":
            sz = _sz(g, ins[1], n.input(2), g.tensor(n.outputs[0]).dtype)
            src = f(ins[0])
            plan.fixed[src] = sz
            if n.outputs[0] in g.outputs:  # the model returns integers: keep the quantization as an op
                n.inputs = [src] + ins[1:]
                new_nodes.append(n)
                continue
            if _feeds_batchnorm(g, n.outputs[0]):
                # The Q/DQ pair clamps (often an implicit ReLU); make that explicit so that the
                # BatchNormalization is not folded across it.  A clamp to the int8 range is exact.
                clipped = src + "~qclip"
                lo, hi = sz[0] * (-128 - sz[1]), sz[0] * (127 - sz[1])
                for nm, v in ((clipped + "_lo", lo), (clipped + "_hi", hi)):
                    g.tensors[nm] = ir.Tensor(nm, (), np.dtype(np.float32), np.array(v, np.float32))
                g.tensors[clipped] = ir.Tensor(clipped, g.tensor(src).shape, np.dtype(np.float32))
                new_nodes.append(ir.Node("Clip", n.name + "~clip", [src, clipped + "_lo", clipped + "_hi"], [clipped]))
                plan.fixed[clipped] = sz
                src = clipped
            alias[n.outputs[0]] = src
            continue
        if op == "DequantizeLinear":
            src = f(ins[0])
            if src in g.tensors and np.dtype(g.tensor(src).dtype) != np.float32:  # graph input that is integer
                new_nodes.append(n)
                continue
            plan.fixed.setdefault(src, _sz(g, ins[1], n.input(2), g.tensor(ins[0]).dtype))
            plan.ref_names.setdefault(src, n.outputs[0])  # the model's value of src is after its Q/DQ
            alias[n.outputs[0]] = src
            continue
        if op == "QLinearConv":
            x, xs, xz, w, ws, wz, ys, yz = ins[:8]
            plan.fixed[f(x)] = _sz(g, xs, xz, g.tensor(x).dtype)
            wf = const_weight(w, ws, wz, 0)
            new_ins = [f(x), wf]
            if n.input(8):
                b = g.const(ins[8]).astype(np.float64)
                bs = float(np.asarray(g.const(xs)).reshape(-1)[0]) * np.asarray(g.const(ws), np.float64).reshape(-1)
                arr = (b * bs).astype(np.float32)
                bname = ins[8] + "~f32"
                g.tensors[bname] = ir.Tensor(bname, arr.shape, np.dtype(np.float32), arr)
                new_ins.append(bname)
            y = n.outputs[0]
            plan.fixed[y] = _sz(g, ys, yz, g.tensor(y).dtype)
            to_float(y)
            new_nodes.append(ir.Node("Conv", n.name, new_ins, [y], dict(n.attrs)))
            continue
        if op == "QLinearMatMul":
            a, as_, az, b, bs, bz, ys, yz = ins[:8]
            plan.fixed[f(a)] = _sz(g, as_, az, g.tensor(a).dtype)
            y = n.outputs[0]
            plan.fixed[y] = _sz(g, ys, yz, g.tensor(y).dtype)
            to_float(y)
            if g.const(b) is not None:
                bf = const_weight(b, bs, bz, 1)
            else:
                plan.fixed[f(b)] = _sz(g, bs, bz, g.tensor(b).dtype)
                bf = f(b)
            new_nodes.append(ir.Node("MatMul", n.name, [f(a), bf], [y]))
            continue
        if op == "QLinearAdd":  # com.microsoft
            a, as_, az, b, bs, bz, ys, yz = ins[:8]
            plan.fixed[f(a)] = _sz(g, as_, az, g.tensor(a).dtype)
            plan.fixed[f(b)] = _sz(g, bs, bz, g.tensor(b).dtype)
            y = n.outputs[0]
            plan.fixed[y] = _sz(g, ys, yz, g.tensor(y).dtype)
            to_float(y)
            new_nodes.append(ir.Node("Add", n.name, [f(a), f(b)], [y]))
            continue
        # Any other op: read float tensors; integer outputs computed from integer inputs keep the scale.
        n.inputs = [f(i) if i else i for i in ins]
        src = n.inputs[0] if n.inputs else ""
        for o in n.outputs:
            if o and o in g.tensors and np.dtype(g.tensor(o).dtype) in (np.int8, np.uint8) and src in plan.fixed:
                plan.fixed[o] = plan.fixed[src]
                to_float(o)
        new_nodes.append(n)
    g.nodes = new_nodes
    for o in g.outputs:  # graph outputs keep the model's names: rename the tensor they encode
        if o in alias:
            _rename_everywhere(g, plan, f(o), o)
    g.metadata["prequant"] = plan
    g.prune()
    return g


def _feeds_batchnorm(g: ir.Graph, q_out: str) -> bool:
    """True if integer tensor `q_out` reaches a BatchNormalization through a DequantizeLinear."""
    users = g.consumers()
    for dq in users.get(q_out, []):
        if dq.op_type == "DequantizeLinear" and any(u.op_type == "BatchNormalization"
                                                    for u in users.get(dq.outputs[0], [])):
            return True
    return False


def _rename_everywhere(g: ir.Graph, plan: QuantPlan, old: str, new: str) -> None:
    t = g.tensors[old]
    g.tensors[new] = ir.Tensor(new, t.shape, t.dtype, t.data, t.quant)
    for n in g.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]
        n.outputs = [new if o == old else o for o in n.outputs]
    g.inputs = [new if i == old else i for i in g.inputs]
    if old in plan.fixed:
        plan.fixed[new] = plan.fixed[old]
