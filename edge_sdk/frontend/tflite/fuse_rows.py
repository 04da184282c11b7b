"""Row fusion of the imported TFLite int8 graph: QConv -> per-channel elementwise ops -> QMaxPool
becomes one TflConvPool, so the un-pooled convolution output is never stored.

Applied where that output is large (ROW_FUSION_MIN_BYTES): Keras Meso4 at 256x256 has
CONV_2D(relu) -> MUL -> ADD (its BatchNorm after the activation) -> MAX_POOL_2D four times, and
TFLite Micro needs 1,053,327 bytes of arena for it; fused, it fits a 384 KB microcontroller.
The elementwise ops between conv and pool (TflMul/TflAdd/TflSub with a constant per-channel or
scalar operand, QLookup) are int8 -> int8 functions of one channel's value, so they become one
256-entry table per channel, evaluated here with TFLite's integer arithmetic (tables.mbqm).
A conv reading the graph input through its NHWC -> NCHW Transpose reads the NHWC input directly.
"""
from __future__ import annotations

import numpy as np

from ... import ir
from ...ops.tfl_ops import TflBinary, TflAdd, TflMul, TflSub
from .importer import TO_NCHW
from .tables import mbqm

ROW_FUSION_MIN_BYTES = 64 * 1024
_BINARY = {"TflAdd": TflAdd(), "TflSub": TflSub(), "TflMul": TflMul()}


def _sz(t: ir.Tensor) -> tuple[float, int]:
    return float(np.asarray(t.quant.scale).reshape(-1)[0]), int(np.asarray(t.quant.zero_point).reshape(-1)[0])


def _per_channel_const(g: ir.Graph, name: str, c: int) -> np.ndarray | None:
    """Codes of a constant operand that is a scalar or one value per channel (NCHW [1,C,1,1])."""
    t = g.tensors.get(name)
    if t is None or t.data is None or t.quant is None or t.dtype != np.int8:
        return None
    shape = [d for d in t.shape]
    if t.size == 1:
        return np.full(c, int(t.data.reshape(-1)[0]), np.int64)
    if len(shape) == 4 and shape[1] == c and t.size == c:
        return t.data.reshape(-1).astype(np.int64)
    return None


def _binary_step(g: ir.Graph, n: ir.Node, x: str, c: int):
    """The per-channel function of a Tfl binary op with one constant operand, as (channel, code) -> code."""
    op: TflBinary = _BINARY[n.op_type]
    const_pos = 1 if n.inputs[0] == x else 0
    codes = _per_channel_const(g, n.inputs[const_pos], c)
    if codes is None:
        return None
    (sa, za), (sb, zb), (sy, zy) = (_sz(g.tensor(t)) for t in (n.inputs[0], n.inputs[1], n.outputs[0]))
    m = dict(op.multipliers(sa, sb, sy))
    lo, hi = n.attrs.get("act", (-128, 127))

    def one(a: int, b: int) -> int:
        va, vb = a - za, b - zb
        if op.kind == "kMul":
            raw = mbqm(va * vb, m["mult_out"], m["shift_out"])
        else:
            s1 = mbqm(va * (1 << m["left_shift"]), m["mult_a"], m["shift_a"])
            s2 = mbqm(vb * (1 << m["left_shift"]), m["mult_b"], m["shift_b"])
            raw = mbqm(s1 + s2 if op.kind == "kAdd" else s1 - s2, m["mult_out"], m["shift_out"])
        return max(lo, min(hi, raw + zy))
    if const_pos == 1:
        return lambda ch, v: one(v, int(codes[ch]))
    return lambda ch, v: one(int(codes[ch]), v)


def _step(g: ir.Graph, n: ir.Node, x: str, c: int):
    if n.op_type in _BINARY and x in n.inputs[:2]:
        return _binary_step(g, n, x, c)
    if n.op_type == "QLookup" and n.inputs[0] == x and g.const(n.inputs[1]) is not None:
        table = g.const(n.inputs[1]).astype(np.int64)
        return lambda ch, v: int(table[v + 128])
    return None


def fuse_rows(g: ir.Graph) -> ir.Graph:
    users = g.consumers()
    producers = g.producers()
    for conv in [n for n in g.nodes if n.op_type == "QConv"]:
        y = g.tensor(conv.outputs[0])
        if len(y.shape) != 4 or y.nbytes < ROW_FUSION_MIN_BYTES or int(conv.attrs.get("group", 1)) != 1:
            continue
        c = y.shape[1]
        chain, steps, cur = [], [], conv.outputs[0]
        while True:
            nxt = users.get(cur, [])
            if len(nxt) != 1 or cur in g.outputs:
                break
            n = nxt[0]
            if n.op_type == "QMaxPool":
                chain.append(n)
                break
            step = _step(g, n, cur, c)
            if step is None:
                break
            chain.append(n), steps.append(step)
            cur = n.outputs[0]
        if not chain or chain[-1].op_type != "QMaxPool":
            continue
        pool = chain[-1]
        k, s, pads = pool.attrs["kernel_shape"], pool.attrs["strides"], pool.attrs["pads"]
        x, layout = conv.inputs[0], "nchw"
        src = producers.get(x)
        if (src is not None and src.op_type == "Transpose" and list(src.attrs.get("perm", [])) == TO_NCHW
                and src.inputs[0] in g.inputs and len(users.get(x, [])) == 1):
            x, layout = src.inputs[0], "nhwc"
        inputs = [x, conv.inputs[1], conv.input(2)]
        if steps:
            table = np.array([[_compose(steps, ch, v) for v in range(-128, 128)] for ch in range(c)], np.int8)
            name = f"{conv.name}~rowtable"
            g.tensors[name] = ir.Tensor(name, table.shape, np.dtype(np.int8), table)
            inputs.append(name)
        fused = ir.Node("TflConvPool", conv.name, inputs, [pool.outputs[0]], {
            "strides": list(conv.attrs["strides"]), "dilations": list(conv.attrs["dilations"]),
            "pads": list(conv.attrs["pads"]), "activation": conv.attrs.get("activation"),
            "conv_out": _sz(y), "pool": (k[0], k[1], s[0], s[1], pads[0], pads[1]), "in_layout": layout})
        at = g.nodes.index(conv)
        for n in [conv] + chain:
            g.nodes.remove(n)
        g.nodes.insert(at, fused)
        users, producers = g.consumers(), g.producers()
    g.prune()
    return g


def _compose(steps, ch: int, v: int) -> int:
    for f in steps:
        v = f(ch, v)
    return v
