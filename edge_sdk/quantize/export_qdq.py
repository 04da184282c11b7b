"""Write an int8 graph as a QDQ ONNX model (--emit-qdq), so that onnxruntime can check our
scales and zero points independently.

Every int8 op becomes DequantizeLinear on its inputs (weights per output channel, bias int32
with scale s_in * s_w), the float op (with its fused activation as a node), and
QuantizeLinear on its output: the standard QDQ form onnxruntime's quantizer writes.
Views (Reshape, Transpose...) run on the int8 tensors directly.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import ir

FLOAT_OF = {"QConv": "Conv", "QAdd": "Add", "QMaxPool": "MaxPool", "QAveragePool": "AveragePool",
            "QGlobalAveragePool": "GlobalAveragePool", "QConcat": "Concat", "QMul": "Mul"}
INTERNAL_ATTRS = ("activation", "reference", "function", "function_attrs", "constant", "constant_first")


class _Writer:
    def __init__(self, g: ir.Graph):
        self.g = g
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, onnx.TensorProto] = {}
        self.dq_cache: dict[str, str] = {}
        self.k = 0

    def uid(self, stem: str) -> str:
        self.k += 1
        return f"{stem}__{self.k}"

    def init(self, name: str, arr: np.ndarray) -> str:
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr), name)
        return name

    def sz(self, t: str) -> tuple[str, str]:
        q = self.g.tensor(t).quant
        return (self.init(f"{t}__scale", np.asarray(q.scale, np.float32).reshape(-1)[0].reshape(())),
                self.init(f"{t}__zp", np.asarray(q.zero_point).astype(np.int8).reshape(-1)[0].reshape(())))

    def dq(self, t: str) -> str:
        """Float view of int8 activation t."""
        if t not in self.dq_cache:
            s, z = self.sz(t)
            out = t + "__dq"
            self.nodes.append(helper.make_node("DequantizeLinear", [t, s, z], [out], name=self.uid("dq")))
            self.dq_cache[t] = out
        return self.dq_cache[t]

    def dq_weight(self, t: str, axis: int = 0) -> str:
        tt = self.g.tensor(t)
        self.init(t, tt.data)
        s = self.init(t + "__scale", np.asarray(tt.quant.scale, np.float32).reshape(-1))
        z = self.init(t + "__zp", np.zeros(np.asarray(tt.quant.scale).size, np.int8))
        out = t + "__dq"
        self.nodes.append(helper.make_node("DequantizeLinear", [t, s, z], [out], axis=axis, name=self.uid("dqw")))
        return out

    def dq_bias(self, b: str, x: str, w: str) -> str:
        sx = float(self.g.tensor(x).quant.scale[0])
        sw = np.asarray(self.g.tensor(w).quant.scale, np.float64).reshape(-1)
        self.init(b, self.g.tensor(b).data.astype(np.int32))
        s = self.init(b + "__scale", (sx * sw).astype(np.float32))
        z = self.init(b + "__zp", np.zeros(sw.size, np.int32))
        out = b + "__dq"
        self.nodes.append(helper.make_node("DequantizeLinear", [b, s, z], [out], axis=0, name=self.uid("dqb")))
        return out

    def quantize_out(self, n: ir.Node, y_float: str, float_out: bool = False) -> None:
        act = n.attrs.get("activation")
        if act is not None:
            kind, lo, hi = act
            out = self.uid(y_float + "_act")
            if kind == "Relu":
                self.nodes.append(helper.make_node("Relu", [y_float], [out], name=self.uid("relu")))
            else:
                self.nodes.append(helper.make_node("Clip", [y_float, self.init(out + "_lo", np.array(lo, np.float32)),
                                                            self.init(out + "_hi", np.array(hi, np.float32))], [out]))
            y_float = out
        if float_out:  # QFullyConnectedF32: the output stays float
            self.nodes.append(helper.make_node("Identity", [y_float], [n.outputs[0]], name=self.uid("out")))
            return
        s, z = self.sz(n.outputs[0])
        self.nodes.append(helper.make_node("QuantizeLinear", [y_float, s, z], [n.outputs[0]], name=self.uid("q")))

    def attrs(self, n: ir.Node) -> dict:
        return {k: v for k, v in n.attrs.items() if k not in INTERNAL_ATTRS and v is not None}

    def node(self, n: ir.Node) -> None:
        op, g = n.op_type, self.g
        yf = n.outputs[0] + "__f"
        if op == "QConv":
            ins = [self.dq(n.inputs[0]), self.dq_weight(n.inputs[1])]
            if n.input(2):
                ins.append(self.dq_bias(n.inputs[2], n.inputs[0], n.inputs[1]))
            self.nodes.append(helper.make_node("Conv", ins, [yf], name=n.name, **self.attrs(n)))
            self.quantize_out(n, yf)
        elif op in ("QFullyConnected", "QFullyConnectedF32"):
            x = self.dq(n.inputs[0])
            w = self.dq_weight(n.inputs[1])
            b = self.dq_bias(n.inputs[2], n.inputs[0], n.inputs[1]) if n.input(2) else ""
            if len(g.tensor(n.inputs[0]).shape) == 2:
                self.nodes.append(helper.make_node("Gemm", [x, w] + ([b] if b else []), [yf], transB=1, name=n.name))
            else:
                wt = self.uid("wT")
                self.nodes.append(helper.make_node("Transpose", [w], [wt], perm=[1, 0]))
                mm = self.uid("mm") if b else yf
                self.nodes.append(helper.make_node("MatMul", [x, wt], [mm], name=n.name))
                if b:
                    self.nodes.append(helper.make_node("Add", [mm, b], [yf]))
            self.quantize_out(n, yf, float_out=op == "QFullyConnectedF32")
        elif op in FLOAT_OF:
            ins = [self.dq(i) for i in n.inputs]
            self.nodes.append(helper.make_node(FLOAT_OF[op], ins, [yf], name=n.name, **self.attrs(n)))
            self.quantize_out(n, yf)
        elif op == "QLookup":
            fn, fattrs = n.attrs["function"], dict(n.attrs.get("function_attrs") or {})
            ins = [self.dq(n.inputs[0])]
            if "constant" in n.attrs:  # x (op) c with a scalar constant
                c = self.init(self.uid("c"), np.array(n.attrs["constant"], np.float32))
                ins = [c] + ins if n.attrs.get("constant_first") else ins + [c]
            if fn == "Clip":
                ins += [self.init(self.uid("lo"), np.array(fattrs.pop("min"), np.float32)),
                        self.init(self.uid("hi"), np.array(fattrs.pop("max"), np.float32))]
            self.nodes.append(helper.make_node(fn, ins, [yf], name=n.name, **fattrs))
            s, z = self.sz(n.outputs[0])
            self.nodes.append(helper.make_node("QuantizeLinear", [yf, s, z], [n.outputs[0]], name=self.uid("q")))
        else:  # boundary Q/DQ, views on int8 tensors, fp32 fallback ops: as they are
            for i in n.inputs:
                if i and g.tensor(i).is_const:
                    self.init(i, g.tensor(i).data)
            self.nodes.append(helper.make_node(op, list(n.inputs), list(n.outputs), name=n.name, **self.attrs(n)))


def _vi(g: ir.Graph, t: str):
    tt = g.tensor(t)
    return helper.make_tensor_value_info(t, helper.np_dtype_to_tensor_dtype(np.dtype(tt.dtype)), list(tt.shape))


def write_qdq(g: ir.Graph, path: str | Path) -> Path:
    """Write int8 graph `g` (from quantize_graph) to `path` as a QDQ ONNX model."""
    w = _Writer(g)
    for n in g.nodes:
        w.node(n)
    graph = helper.make_graph(w.nodes, g.name or "edge_sdk_int8", [_vi(g, t) for t in g.inputs],
                              [_vi(g, t) for t in g.outputs], list(w.inits.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", max(g.opset, 13))],
                              producer_name="edge-sdk int8")
    model.ir_version = 8
    path = Path(path)
    onnx.save(model, str(path))
    return path
