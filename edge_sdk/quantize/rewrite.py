"""Rewrite a float graph into the int8 graph (TFLite int8 scheme).

Every float tensor t that takes part in int8 compute gets an int8 twin "t~q8"
whose ir.QuantParams come from calibration ranges (or from the model itself when
it was pre-quantized).  Ops with an int8 kernel are replaced by their Q* op; any
other op stays fp32 with DequantizeLinear / QuantizeLinear inserted around it and
is listed as a fallback.  Graph inputs/outputs stay float (io="float": the
graph quantizes its input and dequantizes its outputs) or become int8 (io="int8").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ir
from .fixedpoint import QMAX, QMIN, choose_qparams
from .rewrite_ops import ACT_FUNCS, OpHandlers

SUFFIX = "~q8"
VIEW_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")

@dataclass
class WeightOverride:
    """Exact integer weights of a pre-quantized model: real = scale * (q - zero_point) along `axis`."""
    q: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None


@dataclass
class QuantPlan:
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)   # calibrated float ranges
    fixed: dict[str, tuple[float, int]] = field(default_factory=dict)      # (scale, zp) set by the model
    weights: dict[str, WeightOverride] = field(default_factory=dict)
    preact: dict[str, str] = field(default_factory=dict)  # fused output -> name of its pre-activation tensor
    ref_names: dict[str, str] = field(default_factory=dict)  # tensor -> its name in the model run as reference
    keep_float: frozenset = frozenset()


class Rewriter(OpHandlers):
    """Walks the float graph in order; q_<OpType> handlers (rewrite_ops.py) do the per-op work."""

    def __init__(self, g: ir.Graph, plan: QuantPlan, io: str = "float"):
        self.g, self.p, self.io = g, plan, io
        self.float_outputs: list[str] = []  # nodes whose result is dequantized straight to fp32 (boundary)
        self._users = g.consumers()
        self.nodes: list[ir.Node] = []
        self.tensors = dict(g.tensors)
        self.qp: dict[str, tuple[float, int]] = {}
        self.qname: dict[str, str] = {}         # float name -> int8 twin
        self.float_ok = set(g.inputs) | {k for k, t in g.tensors.items() if t.is_const}
        self.fallbacks: list[dict] = []
        self.int8_nodes: list[tuple[str, str, str]] = []  # (node, op, float output name)
        self._n = 0

    # ---- tensors ---------------------------------------------------------
    def params(self, t: str):
        if t in self.qp:
            return self.qp[t]
        if t in self.p.fixed:
            return self.p.fixed[t]
        if t in self.p.ranges:
            return choose_qparams(*self.p.ranges[t])
        return None

    def _const(self, stem: str, arr: np.ndarray, quant: ir.QuantParams | None = None) -> str:
        name = stem
        while name in self.tensors:
            self._n += 1
            name = f"{stem}_{self._n}"
        self.tensors[name] = ir.Tensor(name, tuple(arr.shape), arr.dtype, np.ascontiguousarray(arr), quant)
        return name

    def _scale_zp_consts(self, t: str, s: float, z: int) -> tuple[str, str]:
        return (self._const(f"{t}~scale", np.array(s, np.float32)),
                self._const(f"{t}~zp", np.array(z, np.int8)))

    def declare_int8(self, t: str, sz: tuple[float, int], shape=None) -> str:
        s, z = sz
        name = t + SUFFIX
        shape = self.tensors[t].shape if shape is None else shape
        self.tensors[name] = ir.Tensor(name, shape, np.dtype(np.int8), None,
                                       ir.QuantParams(np.array([s], np.float32), np.array([z], np.int32)))
        self.qp[t] = (s, z)
        self.qname[t] = name
        return name

    def as_int8(self, t: str) -> str:
        if t in self.qname:
            return self.qname[t]
        sz = self.params(t)
        q = self.declare_int8(t, sz)
        s, z = self._scale_zp_consts(t, *sz)
        self.nodes.append(ir.Node("QuantizeLinear", f"{t}~quantize", [self.as_float(t), s, z], [q]))
        return q

    def as_float(self, t: str) -> str:
        if not t or t in self.float_ok:
            return t
        s, z = self._scale_zp_consts(t, *self.qp[t])
        self.nodes.append(ir.Node("DequantizeLinear", f"{t}~dequantize", [self.qname[t], s, z], [t]))
        self.float_ok.add(t)
        return t

    def ready(self, *ts: str) -> bool:
        return all(t in self.qname or self.params(t) is not None for t in ts)

    # ---- driver ------------------------------------------------------------
    def run(self) -> ir.Graph:
        for n in self.g.nodes:
            handler = getattr(self, f"q_{n.op_type}", None)
            reason = "no int8 kernel for this op"
            if n.name in self.p.keep_float:
                handler, reason = None, "kept in fp32 (keep_float)"
            if handler is not None:
                why = handler(n)
                if why is None:
                    continue
                reason = why
            self.fallback(n, reason)
        for o in self.g.outputs:
            self.as_float(o)
        g = ir.Graph(self.g.name, self.nodes, self.tensors, list(self.g.inputs), list(self.g.outputs),
                     self.g.opset, dict(self.g.metadata))
        g.prune()
        return g

    def fallback(self, n: ir.Node, reason: str) -> None:
        ins = [self.as_float(i) if i and not self.tensors[i].is_const else i for i in n.inputs]
        outs = list(n.outputs)
        # A pre-quantized model quantizes this graph output (Q/DQ after the op): do the same.
        requant = [o for o in outs if o in self.g.outputs and o in self.p.fixed]
        for o in requant:
            outs[outs.index(o)] = o + "~f32"
            t = self.tensors[o]
            self.tensors[o + "~f32"] = ir.Tensor(o + "~f32", t.shape, t.dtype)
        self.nodes.append(ir.Node(n.op_type, n.name, ins, outs, dict(n.attrs), n.domain))
        self.float_ok.update(o for o in outs if o)
        for o in requant:
            q = self.declare_int8(o, self.p.fixed[o])
            sc, zp = self._scale_zp_consts(o, *self.p.fixed[o])
            self.nodes.append(ir.Node("QuantizeLinear", f"{o}~quantize", [o + "~f32", sc, zp], [q]))
        if n.op_type not in VIEW_OPS + ("Transpose", "Identity"):
            self.fallbacks.append({"node": n.name, "op_type": n.op_type, "reason": reason})

    def emit(self, op: str, n: ir.Node, inputs: list[str], out_sz, attrs=None, out: str | None = None) -> str:
        y = out or n.outputs[0]
        q = self.declare_int8(y, out_sz, self.tensors[n.outputs[0]].shape)
        self.nodes.append(ir.Node(op, n.name if out is None else f"{n.name}~{op}", inputs, [q],
                                  dict(n.attrs if attrs is None else attrs)))
        self.int8_nodes.append((n.name, op, y))
        return q

    def _float_input(self, n: ir.Node, i: int) -> bool:
        t = n.input(i)
        return bool(t) and not self.tensors[t].is_const and np.dtype(self.tensors[t].dtype) == np.float32

    def _act_split(self, n: ir.Node):
        """(clamp-able activation attrs, non-clamp activation spec, float tensor the Q op writes)."""
        act = n.attrs.get("activation")
        if act is None or act[0] in ("Relu", "Clip"):
            return act, None, n.outputs[0]
        pre = self.p.preact.get(n.outputs[0])
        return None, act, pre

    # ---- weights -----------------------------------------------------------
    def weights_per_channel(self, name: str, w: np.ndarray, axis: int):
        """int8 symmetric per-output-channel weights (exact ones for pre-quantized models)."""
        ov = self.p.weights.get(name)
        if ov is not None and ov.axis in (axis, None):
            zp = np.asarray(ov.zero_point).reshape(-1).astype(np.int64)
            q = np.asarray(ov.q).astype(np.int64)
            if ov.q.dtype == np.uint8 and np.all(zp == 128):
                q, zp = q - 128, zp - 128
            if np.all(zp == 0) and q.min() >= QMIN and q.max() <= QMAX:
                scale = np.broadcast_to(np.asarray(ov.scale, np.float64).reshape(-1), (w.shape[axis],))
                return q.astype(np.int8), scale.astype(np.float32)
        red = tuple(i for i in range(w.ndim) if i != axis)
        amax = np.max(np.abs(w.astype(np.float64)), axis=red) if w.size else np.zeros(w.shape[axis])
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape).astype(np.float64)), -127, 127).astype(np.int8)
        return q, scale

    def bias_int32(self, b: np.ndarray | None, s_in: float, s_w: np.ndarray, n_out: int) -> np.ndarray:
        if b is None:
            return np.zeros(n_out, np.int32)
        b = np.broadcast_to(np.asarray(b, np.float64).reshape(-1), (n_out,))
        q = np.round(b / (np.float64(s_in) * s_w.astype(np.float64)))
        return np.clip(q, -(1 << 31), (1 << 31) - 1).astype(np.int32)

    def _weight_tensor(self, stem: str, q: np.ndarray, scale: np.ndarray) -> str:
        return self._const(stem + "~q8", q, ir.QuantParams(scale, np.zeros(scale.size, np.int32), 0))

    def _finish_act(self, n: ir.Node, act, q_pre: str, out_sz) -> str | None:
        """Append a lookup table applying the non-clamp activation `act` to `q_pre`."""
        kind, a, b = act
        fattrs = {"LeakyRelu": {"alpha": a}, "HardSigmoid": {"alpha": a, "beta": b}}.get(kind, {})
        y = n.outputs[0]
        pre = q_pre[:-len(SUFFIX)]
        if self._at_float_output(y):
            self.tensors.setdefault(pre, ir.Tensor(pre, self.tensors[q_pre].shape, np.dtype(np.float32)))
            self.nodes.append(ir.Node(kind, f"{n.name}~{kind}", [self.as_float(pre)], [y], fattrs))
            self.float_ok.add(y)
            self.float_outputs.append(n.name)
            return None
        f = ACT_FUNCS[kind]
        table = self._table(self.tensors[q_pre].quant, out_sz, lambda x: f(x, a, b))
        tab = self._const(f"{n.name}~lut", table)
        q = self.declare_int8(y, out_sz)
        self.nodes.append(ir.Node("QLookup", f"{n.name}~{kind}", [q_pre, tab], [q],
                                  {"function": kind, "function_attrs": fattrs}))
        self.int8_nodes.append((n.name, "QLookup", y))
        return None

    def _at_float_output(self, y: str) -> bool:
        """A function whose result is a float graph output runs in fp32 on the dequantized input:
        the output is dequantized anyway, and this spares it an int8 rounding (e.g. a final Sigmoid
        giving probabilities in steps of 1/256).  Not for io="int8" or pre-quantized models."""
        return self.io == "float" and y in self.g.outputs and y not in self.p.fixed

    @staticmethod
    def _table(qin: ir.QuantParams, out_sz, fn) -> np.ndarray:
        s_in, z_in = float(qin.scale.reshape(-1)[0]), int(qin.zero_point.reshape(-1)[0])
        s_out, z_out = out_sz
        x = s_in * (np.arange(QMIN, QMAX + 1, dtype=np.float64) - z_in)
        with np.errstate(over="ignore"):
            y = fn(x)
        return np.clip(np.round(y / s_out) + z_out, QMIN, QMAX).astype(np.int8)


def rewrite_int8(g: ir.Graph, plan: QuantPlan, io: str = "float") -> tuple[ir.Graph, list[dict], list[tuple], list[str]]:
    """(graph with float input/output boundary, fallbacks, int8 layers, fp32 output functions).
    For io="int8" call _int8_io() on the graph afterwards to drop the boundary."""
    rw = Rewriter(g, plan, io)
    out = rw.run()
    return out, rw.fallbacks, rw.int8_nodes, rw.float_outputs


def _rename(g: ir.Graph, old: str, new: str) -> None:
    t = g.tensors.pop(old)
    t.name = new
    g.tensors[new] = t
    for n in g.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]
        n.outputs = [new if o == old else o for o in n.outputs]


def _int8_io(g: ir.Graph) -> ir.Graph:
    """Drop the float boundary: graph inputs/outputs become the int8 tensors, same names."""
    users = g.consumers()
    for name in list(g.inputs):
        us = users.get(name, [])
        if len(us) == 1 and us[0].op_type == "QuantizeLinear":
            q = us[0].outputs[0]
            g.nodes.remove(us[0])
            del g.tensors[name]
            _rename(g, q, name)
    prods = g.producers()
    for name in list(g.outputs):
        p = prods.get(name)
        if p is not None and p.op_type == "DequantizeLinear" and len(g.consumers().get(name, [])) == 0:
            q = p.inputs[0]
            g.nodes.remove(p)
            del g.tensors[name]
            _rename(g, q, name)
    g.prune()
    return g
