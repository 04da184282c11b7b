"""Fuse x * f(x) in the int8 graph (SiLU = x * sigmoid(x), HardSwish-like products) into one
table lookup:

  QLookup(x) -> t;  QMul(x, t) -> y      becomes      QLookup(x) -> y

Both steps are functions of the same int8 value x, so their composition is a 256-entry table.
It is built by the C++ compiler (qops.h lut_times_input) with exactly QMul's integer steps and
requant.h's rounding, so the result is bit-identical to the unfused pair and saves a full pass
of 32-bit requantization over the tensor (EfficientNet blocks have two per block).
"""
from __future__ import annotations

import numpy as np

from .. import ir
from .rewrite import single_consumer


def _qparams(g: ir.Graph, name: str) -> tuple[float, int]:
    q = g.tensor(name).quant
    return float(np.asarray(q.scale).reshape(-1)[0]), int(np.asarray(q.zero_point).reshape(-1)[0])


def fuse_qlookup_mul(g: ir.Graph) -> ir.Graph:
    producers = g.producers()
    for m in list(g.nodes):
        if m.op_type != "QMul" or len(m.inputs) != 2 or m not in g.nodes:
            continue
        a, b = m.inputs
        if tuple(g.tensor(a).shape) != tuple(g.tensor(b).shape):
            continue
        for x, t in ((a, b), (b, a)):
            lut = producers.get(t)
            if (lut is None or lut.op_type != "QLookup" or lut.inputs[0] != x or "times_input" in lut.attrs
                    or single_consumer(g, t) is not m or g.const(lut.inputs[1]) is None):
                continue
            m.op_type = "QLookup"
            m.attrs = {**{k: v for k, v in m.attrs.items() if k == "activation"},
                       "times_input": {"t_q": _qparams(g, t), "x_first": x == a}}
            m.inputs = [x, lut.inputs[1]]
            g.nodes.remove(lut)
            producers = g.producers()
            break
    return g
