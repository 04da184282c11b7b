"""Fuse an activation into the epilogue of the op that feeds it.

The producing node gets ``attrs["activation"] = (kind, alpha, beta)``; kernels
apply it to each output before the store (see cpp/.../activation.h).
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..ops import lookup
from .rewrite import single_consumer


def activation_of(g: ir.Graph, n: ir.Node) -> tuple[str, float, float] | None:
    """(kind, alpha, beta) if `n` is an activation the kernels can fuse, else None."""
    t = n.op_type
    if t == "Relu":
        return ("Relu", 0.0, 0.0)
    if t == "LeakyRelu":
        return ("LeakyRelu", float(n.attr("alpha", 0.01)), 0.0)
    if t == "Clip":
        if g.opset < 11:
            lo, hi = n.attr("min", -3.4028234663852886e38), n.attr("max", 3.4028234663852886e38)
        else:
            lo_t, hi_t = n.input(1), n.input(2)
            lo = g.const(lo_t) if lo_t else np.float32(-np.inf)
            hi = g.const(hi_t) if hi_t else np.float32(np.inf)
            if lo is None or hi is None or np.size(lo) != 1 or np.size(hi) != 1:
                return None  # not a scalar bound: Clip.check refuses the node with a clear message
            lo, hi = np.ravel(lo)[0], np.ravel(hi)[0]  # shape [1] is accepted as a scalar
        return ("Clip", float(lo), float(hi))
    if t == "HardSigmoid":
        return ("HardSigmoid", float(n.attr("alpha", 0.2)), float(n.attr("beta", 0.5)))
    if t == "HardSwish":
        return ("HardSwish", 0.0, 0.0)
    if t == "Sigmoid":
        return ("Sigmoid", 0.0, 0.0)
    return None


def absorb_activation(g: ir.Graph, prod: ir.Node, act: ir.Node) -> bool:
    """Move `act` into `prod`'s epilogue if it is an activation that alone reads prod's output and
    prod has none yet (the caller knows prod's kernel applies one); whether it did."""
    spec = activation_of(g, act)
    if spec is None or "activation" in prod.attrs or act.inputs[0] != prod.outputs[0]:
        return False
    if single_consumer(g, act.inputs[0]) is not act:
        return False
    prod.attrs["activation"] = spec
    prod.outputs[0] = act.outputs[0]
    g.nodes.remove(act)
    return True


def fuse_activations(g: ir.Graph) -> ir.Graph:
    producers = g.producers()
    for act in list(g.nodes):
        if activation_of(g, act) is None or g.tensor(act.inputs[0]).dtype != np.float32:
            continue
        prod = producers.get(act.inputs[0])
        if prod is None or not getattr(lookup(prod, g), "fuses_activation", False):
            continue
        if absorb_activation(g, prod, act):
            producers = g.producers()
    return g
