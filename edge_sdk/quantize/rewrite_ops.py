"""Per-op int8 rewrites, mixed into rewrite.Rewriter.

Each q_<OpType>(node) either appends the int8 form of the node and returns None, or
returns the reason it must stay fp32 (the node then falls back, and the report lists it).
"""
from __future__ import annotations

import numpy as np

from .. import ir
from .fixedpoint import clamp_range

# Elementwise functions that become a 256-entry lookup table.
LUT_FUNCS = {
    "Relu": lambda x, n: np.maximum(x, 0.0),
    "Sigmoid": lambda x, n: 1.0 / (1.0 + np.exp(-x)),
    "Tanh": lambda x, n: np.tanh(x),
    "LeakyRelu": lambda x, n: np.where(x >= 0, x, x * n.attr("alpha", 0.01)),
    "HardSigmoid": lambda x, n: np.clip(n.attr("alpha", 0.2) * x + n.attr("beta", 0.5), 0.0, 1.0),
    "HardSwish": lambda x, n: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "Elu": lambda x, n: np.where(x >= 0, x, n.attr("alpha", 1.0) * (np.exp(x) - 1.0)),
    "Softplus": lambda x, n: np.log1p(np.exp(x)),
}
ACT_FUNCS = {  # fused (kind, alpha, beta) -> function, for activations that are not a clamp
    "LeakyRelu": lambda x, a, b: np.where(x >= 0, x, x * a),
    "HardSigmoid": lambda x, a, b: np.clip(a * x + b, 0.0, 1.0),
    "HardSwish": lambda x, a, b: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "Sigmoid": lambda x, a, b: 1.0 / (1.0 + np.exp(-x)),
}



class OpHandlers:
    # ---- op handlers: return None when done, or the reason to fall back -----
    def _float_bound(self, y: str) -> bool:
        """True if every reader of `y` is fp32 anyway (a float graph output, an op without an int8
        kernel, an output-boundary function): then the int32 accumulator is dequantized directly,
        sparing the int8 rounding of e.g. the logits before a Softmax."""
        if self.io != "float" or y in self.p.fixed or (y in self.g.outputs and self.io != "float"):
            return False
        users = self._users.get(y, [])
        if not users and y not in self.g.outputs:
            return False
        for u in users:
            if u.name in self.p.keep_float:
                continue
            if u.op_type in LUT_FUNCS and self._at_float_output(u.outputs[0]):
                continue
            if hasattr(self, "q_" + u.op_type):
                return False
        return True

    def _fc_float_out(self, n: ir.Node, make) -> None:
        """QFullyConnected with a float output (see _float_bound); a fused function runs after it in fp32."""
        x = self.as_int8(n.inputs[0])
        act = n.attrs.get("activation")
        clamp = act if act is None or act[0] in ("Relu", "Clip") else None
        op, ins = make(x)
        y = n.outputs[0]
        out = y if act is None or clamp is not None else y + "~pre"
        if out != y:
            self.tensors[out] = ir.Tensor(out, self.tensors[y].shape, np.dtype(np.float32))
        attrs = {"activation": clamp} if clamp else {}
        self.nodes.append(ir.Node("QFullyConnectedF32", n.name, ins, [out], attrs))
        if out != y:
            kind, a, b = act
            fattrs = {"LeakyRelu": {"alpha": a}, "HardSigmoid": {"alpha": a, "beta": b}}.get(kind, {})
            self.nodes.append(ir.Node(kind, f"{n.name}~{kind}", [out], [y], fattrs))
        self.float_ok.add(y)
        self.float_outputs.append(n.name)

    def _conv_like(self, n: ir.Node, make, float_out_ok: bool = False) -> str | None:
        if not self._float_input(n, 0):
            return "input is not float32"
        if float_out_ok and self._float_bound(n.outputs[0]) and self.ready(n.inputs[0]):
            self._fc_float_out(n, make)
            return None
        clamp_act, other_act, y_pre = self._act_split(n)
        if y_pre is None:
            return f"fused {other_act[0]} has no calibrated pre-activation range"
        if not self.ready(n.inputs[0], y_pre, n.outputs[0]):
            return "no calibration range for its input or output"
        pre_sz = self.params(y_pre) if other_act else self.params(n.outputs[0])
        if clamp_act is not None and clamp_range(clamp_act, *pre_sz) is None:
            return "activation cannot be expressed as a clamp"
        x = self.as_int8(n.inputs[0])
        attrs = dict(n.attrs)
        attrs.pop("activation", None)
        if clamp_act is not None:
            attrs["activation"] = clamp_act
        op, ins = make(x)
        if other_act is None:
            self.emit(op, n, ins, pre_sz, attrs)
        else:
            q_pre = self.emit(op, n, ins, pre_sz, attrs, out=y_pre)
            self._finish_act(n, other_act, q_pre, self.params(n.outputs[0]))
        return None

    def q_Conv(self, n: ir.Node):
        w = self.g.const(n.inputs[1])
        if w is None or w.dtype != np.float32 or w.ndim not in (3, 4):
            return "weights are not constant float32 (1-D/2-D)"

        def make(x):
            q, s = self.weights_per_channel(n.inputs[1], w, 0)
            b = self.bias_int32(self.g.const(n.input(2)), self.qp[n.inputs[0]][0], s, w.shape[0])
            return "QConv", [x, self._weight_tensor(n.inputs[1], q, s), self._const(f"{n.name}~bias", b)]
        return self._conv_like(n, make)

    def _fc(self, n: ir.Node, wt: np.ndarray, alpha: float, bias: np.ndarray | None, w_name: str, axis_in_b: bool):
        """wt: float weights (N, K)."""
        def make(x):
            ov = self.p.weights.get(w_name)
            if ov is not None and axis_in_b:  # pre-quantized B (K, N): per-column scales, transpose it
                ax = None if ov.axis is None else 1 - ov.axis
                self.p.weights[w_name + "~T"] = type(ov)(np.ascontiguousarray(ov.q.T), ov.scale, ov.zero_point, ax)
                q, s = self.weights_per_channel(w_name + "~T", wt * alpha, 0)
            else:
                q, s = self.weights_per_channel(w_name, wt * alpha, 0)
            if alpha != 1.0 and w_name in self.p.weights:
                s = (s * np.float32(alpha)).astype(np.float32)
            b = self.bias_int32(bias, self.qp[n.inputs[0]][0], s, wt.shape[0])
            return "QFullyConnected", [x, self._weight_tensor(w_name, q, s), self._const(f"{n.name}~bias", b)]
        return self._conv_like(n, make, float_out_ok=True)

    def q_Gemm(self, n: ir.Node):
        b = self.g.const(n.inputs[1])
        if n.attr("transA", 0) or b is None or b.ndim != 2 or b.dtype != np.float32:
            return "only x . W with constant float32 W is quantized"
        c = self.g.const(n.input(2))
        if n.input(2) and (c is None or c.size not in (1, b.shape[0 if n.attr("transB", 0) else 1])):
            return "bias must be a constant per output"
        wt = b if n.attr("transB", 0) else b.T
        bias = None if c is None else np.broadcast_to(c.reshape(-1), (wt.shape[0],)) * float(n.attr("beta", 1.0))
        return self._fc(n, np.ascontiguousarray(wt), float(n.attr("alpha", 1.0)), bias, n.inputs[1],
                        not n.attr("transB", 0))

    def q_MatMul(self, n: ir.Node):
        b = self.g.const(n.inputs[1])
        if b is None or b.ndim != 2 or b.dtype != np.float32 or len(self.g.tensor(n.inputs[0]).shape) < 2:
            return "only x . W with constant 2-D float32 W is quantized"
        return self._fc(n, np.ascontiguousarray(b.T), 1.0, None, n.inputs[1], True)

    def _binary(self, n: ir.Node, op: str):
        from ..ops.quant_ops import broadcast_form
        a, b = n.inputs[0], n.inputs[1]
        consts = [self.g.const(t) for t in (a, b)]
        if any(c is not None for c in consts):  # x (op) scalar constant: a lookup table
            return self._scalar_lut(n, consts)
        if not (self._float_input(n, 0) and self._float_input(n, 1)):
            return f"int8 {n.op_type} needs float32 activations"
        form, swapped = broadcast_form(self.g, n), False
        if form is None:  # commutative: try the broadcast input second
            form, swapped = broadcast_form(self.g, ir.Node(n.op_type, n.name, [b, a], n.outputs)), True
        if form is None:
            return "broadcast pattern not supported in int8 (equal shapes or per-channel only)"
        act = n.attrs.get("activation")
        if not self.ready(a, b, n.outputs[0]):
            return "no calibration range for its inputs or output"
        if clamp_range(act, *self.params(n.outputs[0])) is None:
            return "fused activation is not a clamp"
        ins = [self.as_int8(a), self.as_int8(b)]
        self.emit(op, n, ins[::-1] if swapped else ins, self.params(n.outputs[0]))
        return None

    def _scalar_lut(self, n: ir.Node, consts):
        k = 0 if consts[0] is None else 1  # the activation input
        c = consts[1 - k]
        if c is None or c.size != 1 or n.attrs.get("activation") or not self._float_input(n, k):
            return "constant operand must be a scalar"
        c = float(np.asarray(c).reshape(-1)[0])
        fns = {"Add": lambda x: x + c, "Mul": lambda x: x * c,
               "Sub": (lambda x: x - c) if k == 0 else (lambda x: c - x),
               "Div": (lambda x: x / c) if k == 0 else (lambda x: c / np.where(x == 0, np.inf, x))}
        x_name = n.inputs[k]
        if not self.ready(x_name, n.outputs[0]):
            return "no calibration range for its input or output"
        x = self.as_int8(x_name)
        out_sz = self.params(n.outputs[0])
        tab = self._const(f"{n.name}~lut", self._table(self.tensors[x].quant, out_sz, fns[n.op_type]))
        self.emit("QLookup", n, [x, tab], out_sz,
                  attrs={"function": n.op_type, "function_attrs": {}, "constant": c, "constant_first": k == 1})
        return None

    def q_Add(self, n: ir.Node):
        return self._binary(n, "QAdd")

    def q_Mul(self, n: ir.Node):
        return self._binary(n, "QMul")

    def q_Sub(self, n: ir.Node):
        return self._scalar_lut(n, [self.g.const(t) for t in n.inputs[:2]])

    q_Div = q_Sub

    def _same_scale(self, n: ir.Node, op: str, attrs=None):
        if not self._float_input(n, 0) or len([o for o in n.outputs if o]) != 1:
            return "unsupported form"
        if not self.ready(n.inputs[0]):
            return "no calibration range for its input"
        sz = self.params(n.inputs[0])
        act = n.attrs.get("activation")
        if clamp_range(act, *sz) is None:
            # A pool keeps its input's scale, so the pre-activation needs no calibration: pool, then table.
            if act[0] not in ACT_FUNCS or not self.ready(n.outputs[0]):
                return "fused activation is not a clamp"
            x = self.as_int8(n.inputs[0])
            attrs = {k: v for k, v in (n.attrs if attrs is None else attrs).items() if k != "activation"}
            q_pre = self.emit(op, n, [x] + list(n.inputs[1:]), sz, attrs, out=n.outputs[0] + "~pre")
            self._finish_act(n, act, q_pre, self.params(n.outputs[0]))
            return None
        x = self.as_int8(n.inputs[0])
        self.emit(op, n, [x] + list(n.inputs[1:]), sz, attrs)
        return None

    def q_MaxPool(self, n):
        return self._same_scale(n, "QMaxPool")

    def q_AveragePool(self, n):
        return self._same_scale(n, "QAveragePool")

    def q_GlobalMaxPool(self, n):
        shape = self.g.tensor(n.inputs[0]).shape
        if len(shape) != 4:
            return "only 2-D global pooling is quantized"
        return self._same_scale(n, "QMaxPool", {"kernel_shape": list(shape[2:]), **n.attrs})

    def _view(self, n):
        if any(self.g.const(i) is None for i in n.inputs[1:] if i):
            return "shape must be constant"
        return self._same_scale(n, n.op_type)

    q_Reshape = q_Flatten = q_Squeeze = q_Unsqueeze = _view

    def q_Transpose(self, n):
        return self._same_scale(n, "Transpose")

    def q_BatchNormalization(self, n):
        """A standalone BatchNormalization (e.g. after a ReLU) is a depthwise 1x1 int8 convolution."""
        vals = [self.g.const(n.input(i)) for i in range(1, 5)]
        shape = self.g.tensor(n.inputs[0]).shape
        if any(v is None for v in vals) or len(shape) not in (3, 4) or len([o for o in n.outputs if o]) != 1:
            return "only inference BatchNormalization with constant statistics is quantized"
        gamma, beta, mean, var = (np.asarray(v, np.float64).reshape(-1) for v in vals)
        a = gamma / np.sqrt(var + float(n.attr("epsilon", 1e-5)))
        c = shape[1]
        w = self._const(f"{n.name}~dw", np.broadcast_to(a, (c,)).astype(np.float32).reshape((c, 1) + (1,) * (len(shape) - 2)))
        b = self._const(f"{n.name}~dwb", np.broadcast_to(beta - mean * a, (c,)).astype(np.float32))
        self.g.tensors[w], self.g.tensors[b] = self.tensors[w], self.tensors[b]
        attrs = {"group": c, "kernel_shape": [1] * (len(shape) - 2)}
        if "activation" in n.attrs:
            attrs["activation"] = n.attrs["activation"]
        return self.q_Conv(ir.Node("Conv", n.name, [n.inputs[0], w, b], list(n.outputs), attrs))

    def q_GlobalAveragePool(self, n):
        if not self._float_input(n, 0) or not self.ready(n.inputs[0], n.outputs[0]):
            return "no calibration range for its input or output"
        self.emit("QGlobalAveragePool", n, [self.as_int8(n.inputs[0])], self.params(n.outputs[0]))
        return None

    def q_Concat(self, n):
        if not all(self._float_input(n, i) for i in range(len(n.inputs))):
            return "constant inputs are not quantized"
        if not self.ready(*n.inputs, n.outputs[0]):
            return "no calibration range for its inputs or output"
        self.emit("QConcat", n, [self.as_int8(i) for i in n.inputs], self.params(n.outputs[0]))
        return None

    def _lut(self, n):
        if not self._float_input(n, 0) or not self.ready(n.inputs[0], n.outputs[0]):
            return "no calibration range for its input or output"
        if n.op_type == "Clip" and any(i and self.g.const(i) is None for i in n.inputs[1:]):
            return "Clip bounds must be constant"
        if self._at_float_output(n.outputs[0]):
            self.nodes.append(ir.Node(n.op_type, n.name, [self.as_float(n.inputs[0])] + list(n.inputs[1:]),
                                      list(n.outputs), dict(n.attrs)))
            self.float_ok.add(n.outputs[0])
            self.float_outputs.append(n.name)
            return None
        x = self.as_int8(n.inputs[0])
        out_sz = self.params(n.outputs[0])
        if n.op_type == "Clip":
            from ..passes.fuse_activation import activation_of
            _, lo, hi = activation_of(self.g, n)
            fn = lambda v: np.clip(v, lo, hi)  # noqa: E731
        else:
            fn = lambda v: LUT_FUNCS[n.op_type](v, n)  # noqa: E731
        tab = self._const(f"{n.name}~lut", self._table(self.tensors[x].quant, out_sz, fn))
        fattrs = {"min": lo, "max": hi} if n.op_type == "Clip" else dict(n.attrs)
        self.emit("QLookup", n, [x, tab], out_sz, attrs={"function": n.op_type, "function_attrs": fattrs})
        return None

    q_Relu = q_Sigmoid = q_Tanh = q_LeakyRelu = q_HardSigmoid = q_HardSwish = q_Elu = q_Softplus = q_Clip = _lut
