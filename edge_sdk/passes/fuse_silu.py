"""Fuse SiLU / Swish (x * sigmoid(x), EfficientNet's activation) into the float op
that produces x, when that op fuses activations (Conv, Gemm):

    y = Conv(...);  s = Sigmoid(y);  z = Mul(y, s)   ->   z = Conv(..., activation=Silu)

A lowering pass: it runs after quantization, on float nodes only, so the int8
rewrite never sees the Silu kind.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..ops import lookup


def fuse_silu(g: ir.Graph) -> ir.Graph:
    producers, users = g.producers(), g.consumers()
    for mul in list(g.nodes):
        if mul.op_type != "Mul" or len(mul.inputs) != 2:
            continue
        for x, s in (mul.inputs, mul.inputs[::-1]):
            sig = producers.get(s)
            prod = producers.get(x)
            if sig is None or sig.op_type != "Sigmoid" or sig.inputs[0] != x or prod is None:
                continue
            if {id(n) for n in users.get(x, [])} != {id(sig), id(mul)} or len(users.get(s, [])) != 1:
                continue
            if x in g.outputs or s in g.outputs or g.tensor(x).dtype != np.float32:
                continue
            if "activation" in prod.attrs or not getattr(lookup(prod, g), "fuses_activation", False):
                continue
            if "fused_pool" in prod.attrs or "post_affine" in prod.attrs:
                continue  # the epilogue would pool/scale before the activation
            prod.attrs["activation"] = ("Silu", 0.0, 0.0)
            prod.outputs[0] = mul.outputs[0]
            g.nodes.remove(sig)
            g.nodes.remove(mul)
            producers, users = g.producers(), g.consumers()
            break
    return g
