"""Slice with constant starts/ends/axes/steps (negative steps too): a strided copy."""
from __future__ import annotations

import numpy as np

from .broadcast import MAX_RANK
from .registry import OpDef, register, unsupported
from .transpose import copy_rank, dense_strides, strided_copy


def _plan(node, g):
    """(offset, dims, strides) of the copy, or None when a parameter is not a constant."""
    shape = g.tensor(node.inputs[0]).shape
    if g.opset < 10:
        starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    else:
        vals = [g.const(node.input(i)) if node.input(i) else None for i in range(1, 5)]
        if any(node.input(i) and v is None for i, v in zip(range(1, 5), vals)):
            return None
        starts, ends, axes, steps = ([int(x) for x in np.asarray(v).reshape(-1)] if v is not None else None
                                     for v in vals)
    rank = len(shape)
    axes = [a % rank for a in (axes if axes is not None else range(len(starts)))]
    steps = steps or [1] * len(axes)
    in_st = dense_strides(shape)
    begin, step = [0] * rank, [1] * rank
    for a, s, st in zip(axes, starts, steps):
        dim = shape[a]
        s = s + dim if s < 0 else s
        s = min(max(s, 0), dim) if st > 0 else min(max(s, 0), dim - 1)
        begin[a], step[a] = s, st
    out = g.tensor(node.outputs[0]).shape
    offset = sum(b * s for b, s in zip(begin, in_st))
    return offset, list(out), [s * k for s, k in zip(in_st, step)]


@register
class Slice(OpDef):
    op_type = "Slice"
    header = "edge_sdk/kernels/transpose.h"
    dtypes = None

    def check(self, node, g):
        super().check(node, g)
        plan = _plan(node, g)
        if plan is None:
            raise unsupported(node, g, "starts, ends, axes and steps must be constants")
        if copy_rank(plan[1], plan[2]) > MAX_RANK:
            raise unsupported(node, g, f"slices of rank above {MAX_RANK} are not supported")

    def emit(self, node, g, e):
        offset, dims, strides = _plan(node, g)
        return strided_copy(e, node.inputs[0], node.outputs[0], dims, strides, offset)
