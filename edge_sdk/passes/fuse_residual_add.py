"""Fuse a residual Add, and the activation after it, into the conv that feeds it:

  Conv -> Add(other) -> [Relu]      (the end of ResNet's blocks)

where the conv runs conv_chan.h (packed_mr 16: output channels in the lanes; see
pack_conv_weights), has no activation, affine or pooling of its own, and `other` has the
conv's output shape.  The conv takes `other` as input 5 and its epilogue adds it before the
activation, so the sum is never stored and read back.  Must run after
pack_conv_weights.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..ops.conv import CHANNEL_BLOCK
from .fuse_activation import absorb_activation
from .rewrite import single_consumer

RESIDUAL_INPUT = 5  # after x, w, bias and the post-affine scale and shift (3, 4; omitted here)


def _takes_residual(g: ir.Graph, conv: ir.Node | None, add: ir.Node) -> bool:
    if conv is None or conv.op_type != "Conv" or conv.attrs.get("packed_mr") != CHANNEL_BLOCK:
        return False
    if any(k in conv.attrs for k in ("activation", "post_affine", "fused_pool")) or conv.input(RESIDUAL_INPUT):
        return False
    return (single_consumer(g, conv.outputs[0]) is add  # (not a graph output either)
            and g.tensor(conv.outputs[0]).shape == g.tensor(add.outputs[0]).shape)


def fuse_residual_add(g: ir.Graph) -> ir.Graph:
    producers = g.producers()
    for add in list(g.nodes):
        if add.op_type != "Add" or len(add.inputs) != 2 or g.tensor(add.outputs[0]).dtype != np.float32:
            continue
        for i in (0, 1):
            conv, other = producers.get(add.inputs[i]), add.inputs[1 - i]
            if not _takes_residual(g, conv, add) or g.tensor(other).shape != g.tensor(add.outputs[0]).shape:
                continue
            conv.inputs = (conv.inputs + [""] * RESIDUAL_INPUT)[:RESIDUAL_INPUT] + [other]
            conv.outputs[0] = add.outputs[0]
            # the conv now reads `other`, whose producer may come after it: it takes the Add's place
            g.nodes.remove(conv)
            g.nodes[g.nodes.index(add)] = conv
            act = single_consumer(g, conv.outputs[0])
            if act is not None:
                absorb_activation(g, conv, act)
            producers = g.producers()
            break
    return g
