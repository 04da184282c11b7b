"""Fold inference BatchNormalization into the Conv or Gemm that feeds it.

y = (conv(x) - mean) * gamma / sqrt(var + eps) + beta
  = conv'(x) with W' = W * s (per output channel), b' = (b - mean) * s + beta.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from .rewrite import single_consumer


def _bn_scale_shift(g: ir.Graph, bn: ir.Node):
    vals = [g.const(bn.input(i)) for i in range(1, 5)]
    if any(v is None for v in vals) or len([o for o in bn.outputs if o]) != 1:
        return None
    gamma, beta, mean, var = (np.asarray(v, np.float64) for v in vals)
    s = gamma / np.sqrt(var + float(bn.attr("epsilon", 1e-5)))
    return s, beta - mean * s


def _add_const(g: ir.Graph, name: str, arr: np.ndarray) -> str:
    while name in g.tensors:
        name += "_"
    g.tensors[name] = ir.Tensor(name, tuple(arr.shape), arr.dtype, arr)
    return name


def fold_batchnorm(g: ir.Graph) -> ir.Graph:
    producers = g.producers()
    for bn in list(g.nodes):
        if bn.op_type != "BatchNormalization" or bn.attr("training_mode", 0):
            continue
        prod = producers.get(bn.inputs[0])
        if prod is None or prod.op_type not in ("Conv", "Gemm") or single_consumer(g, bn.inputs[0]) is not bn:
            continue
        ss = _bn_scale_shift(g, bn)
        w = g.const(prod.inputs[1])
        if ss is None or w is None or w.dtype != np.float32:
            continue
        s, shift = ss
        if prod.op_type == "Gemm":
            if g.tensor(prod.outputs[0]).shape[-1] != s.size or prod.attr("transA", 0):
                continue
            # y = alpha*A*B' + beta*C; W is B (K,N) or B^T (N,K) with transB.
            alpha, beta = float(prod.attr("alpha", 1.0)), float(prod.attr("beta", 1.0))
            w_new = (w * s[:, None]) if prod.attr("transB", 0) else (w * s[None, :])
            c = g.const(prod.input(2))
            if prod.input(2) and c is None:
                continue
            c = np.zeros(s.size) if c is None else np.broadcast_to(c, (s.size,)) if c.size in (1, s.size) and c.ndim <= 1 else None
            if c is None:
                continue
            c_new = (beta * c * s + shift)
            prod.attrs["beta"] = 1.0
            prod.attrs["alpha"] = alpha
        else:
            cout = w.shape[0]
            if s.size != cout:
                continue
            w_new = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
            b = g.const(prod.input(2))
            if prod.input(2) and b is None:
                continue
            c_new = (np.zeros(cout) if b is None else b.astype(np.float64)) * s + shift
        prod.inputs[1] = _add_const(g, prod.inputs[1] + "_bnfold", w_new.astype(np.float32))
        bias = _add_const(g, prod.name + "_bias_bnfold", c_new.astype(np.float32))
        prod.inputs = prod.inputs[:2] + [bias]
        prod.outputs[0] = bn.outputs[0]
        g.nodes.remove(bn)
        producers = g.producers()
    return g
