"""Ops that rearrange elements without computing, each one strided copy
(transpose.h): Tile, Expand, DepthToSpace, SpaceToDepth."""
from __future__ import annotations

import numpy as np

from .broadcast import MAX_RANK
from .registry import OpDef, register, unsupported
from .transpose import copy_rank, dense_strides, strided_copy


class Layout(OpDef):
    header = "edge_sdk/kernels/transpose.h"
    dtypes = None

    def plan(self, node, g) -> tuple[list[int], list[int]] | None:
        """(output-order dims, input strides) of the copy; None if a parameter is not constant."""
        raise NotImplementedError

    def check(self, node, g):
        super().check(node, g)
        p = self.plan(node, g)
        if p is None:
            raise unsupported(node, g, "the shape parameter must be a constant")
        if copy_rank(*p) > MAX_RANK:
            raise unsupported(node, g, f"this {node.op_type} needs more than {MAX_RANK} dims")

    def emit(self, node, g, e):
        return strided_copy(e, node.inputs[0], node.outputs[0], *self.plan(node, g))


@register
class Tile(Layout):
    op_type = "Tile"

    def plan(self, node, g):
        if g.const(node.input(1)) is None:
            return None
        x = g.tensor(node.inputs[0]).shape
        reps = [int(r) for r in np.asarray(g.const(node.input(1))).reshape(-1)]
        st = dense_strides(x)
        dims, strides = [], []
        for d, s, r in zip(x, st, reps):  # each axis becomes (repeat, original)
            dims += [r, d]
            strides += [0, s]
        return dims, strides


@register
class Expand(Layout):
    op_type = "Expand"

    def plan(self, node, g):
        x = g.tensor(node.inputs[0]).shape
        y = g.tensor(node.outputs[0]).shape
        xs = (1,) * (len(y) - len(x)) + tuple(x)
        st = dense_strides(xs)
        return list(y), [0 if d == 1 and o != 1 else s for d, o, s in zip(xs, y, st)]


class SpaceDepth(Layout):
    attrs = {"mode": "DCR"}

    def plan(self, node, g):
        n, c, h, w = g.tensor(node.inputs[0]).shape
        b = int(node.attrs["blocksize"])
        crd = self.attributes(node)["mode"] == "CRD"
        if self.op_type == "DepthToSpace":
            # input viewed as 6-D, output [n, c/b², h, b, w, b] read through a permutation of it
            six = (n, c // (b * b), b, b, h, w) if crd else (n, b, b, c // (b * b), h, w)
            perm = (0, 1, 4, 2, 5, 3) if crd else (0, 3, 4, 1, 5, 2)
        else:
            six = (n, c, h // b, b, w // b, b)
            perm = (0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4)
        st = dense_strides(six)
        return [six[p] for p in perm], [st[p] for p in perm]

    def check(self, node, g):
        if len(g.tensor(node.inputs[0]).shape) != 4:
            raise unsupported(node, g, "only 4-D (NCHW) inputs are supported")
        super().check(node, g)


@register
class DepthToSpace(SpaceDepth):
    op_type = "DepthToSpace"


@register
class SpaceToDepth(SpaceDepth):
    op_type = "SpaceToDepth"
