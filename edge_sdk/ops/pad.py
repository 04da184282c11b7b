"""Pad (constant, reflect, edge, wrap), pads as attribute (opset < 11) or
constant input, optional axes input.  Kernel: pad.h."""
from __future__ import annotations

import numpy as np

from ..codegen.context import cxx_literal
from .broadcast import MAX_RANK
from .registry import OpDef, register, unsupported
from .transpose import dense_strides

MODES = {"constant": "Constant", "reflect": "Reflect", "edge": "Edge", "wrap": "Wrap"}


def _pads_begin(node, g) -> list[int] | None:
    rank = len(g.tensor(node.inputs[0]).shape)
    if g.opset < 11:
        pads = node.attr("pads") or node.attr("paddings")
    else:
        pads = g.const(node.input(1))
        if pads is None:
            return None
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    if g.opset >= 18 and node.input(3):
        axes = g.const(node.input(3))
        if axes is None:
            return None
        axes = [int(a) % rank for a in np.asarray(axes).reshape(-1)]
    else:
        axes = list(range(rank))
    begin = [0] * rank
    for k, a in enumerate(axes):
        begin[a] = pads[k]
    return begin


def _value(node, g):
    if g.opset < 11:
        return node.attr("value", 0.0)
    if not node.input(2):
        return 0
    v = g.const(node.input(2))
    return None if v is None else np.asarray(v).reshape(-1)[0] if np.asarray(v).size else 0


@register
class Pad(OpDef):
    op_type = "Pad"
    header = "edge_sdk/kernels/pad.h"
    attrs = {"mode": "constant"}
    dtypes = None

    def check(self, node, g):
        super().check(node, g)
        mode = self.attributes(node)["mode"]
        x = g.tensor(node.inputs[0])
        if mode not in MODES:
            raise unsupported(node, g, f"mode '{mode}' is not supported (supported: {', '.join(MODES)})")
        if _pads_begin(node, g) is None or _value(node, g) is None:
            raise unsupported(node, g, "pads, constant_value and axes must be constants")
        if not 1 <= len(x.shape) <= MAX_RANK:
            raise unsupported(node, g, f"only ranks 1 to {MAX_RANK} are supported")
        if mode != "constant" and 0 in x.shape and g.tensor(node.outputs[0]).size:
            raise unsupported(node, g, f"mode '{mode}' cannot pad an empty axis")

    def emit(self, node, g, e):
        x, y = g.tensor(node.inputs[0]).shape, g.tensor(node.outputs[0]).shape
        if g.tensor(node.outputs[0]).size == 0:
            return "// empty output"
        fill = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
        mode = MODES[self.attributes(node)["mode"]]
        p = e.params("edge_sdk::PadParams", [("rank", len(x)), ("mode", f"edge_sdk::PadMode::{mode}"),
                                             ("out_dims", fill(y)), ("in_dims", fill(x)),
                                             ("in_strides", fill(dense_strides(x))),
                                             ("begin", fill(_pads_begin(node, g)))])
        ct = e.ctype(node.inputs[0])
        return (f"edge_sdk::pad<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, "
                f"{cxx_literal(_value(node, g), ct)});")
