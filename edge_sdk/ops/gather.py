"""Gather (indices constant or computed at run time), GatherElements, OneHot,
Compress (constant condition) and ReverseSequence.  Kernel: gather.h."""
from __future__ import annotations

import numpy as np

from ..codegen.context import cxx_literal
from .binary import NUMERIC
from .broadcast import MAX_RANK
from .registry import OpDef, register, unsupported
from .transpose import dense_strides


@register
class Gather(OpDef):
    op_type = "Gather"
    header = "edge_sdk/kernels/gather.h"
    attrs = {"axis": 0}
    dtypes = None

    def check(self, node, g):
        super().check(node, g)
        if np.dtype(g.tensor(node.inputs[1]).dtype) not in (np.dtype(np.int32), np.dtype(np.int64)):
            raise unsupported(node, g, "indices must be int32 or int64")

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        if g.tensor(node.outputs[0]).size == 0:
            return "// empty output"
        axis = int(self.attributes(node)["axis"]) % len(x)
        outer = int(np.prod(x[:axis], dtype=np.int64))
        inner = int(np.prod(x[axis + 1:], dtype=np.int64))
        n_idx = g.tensor(node.inputs[1]).size
        return (f"edge_sdk::gather({e.ref(node.inputs[0])}, {e.ref(node.inputs[1])}, {e.ref(node.outputs[0])}, "
                f"{outer}, {x[axis]}, {inner}, {n_idx});")


@register
class GatherElements(OpDef):
    op_type = "GatherElements"
    header = "edge_sdk/kernels/gather.h"
    attrs = {"axis": 0}
    dtypes = None
    since = 11

    def check(self, node, g):
        super().check(node, g)
        if len(g.tensor(node.inputs[0]).shape) > MAX_RANK:
            raise unsupported(node, g, f"ranks above {MAX_RANK} are not supported")
        if np.dtype(g.tensor(node.inputs[1]).dtype) not in (np.dtype(np.int32), np.dtype(np.int64)):
            raise unsupported(node, g, "indices must be int32 or int64")

    def emit(self, node, g, e):
        x, idx = g.tensor(node.inputs[0]).shape, g.tensor(node.inputs[1]).shape
        if g.tensor(node.outputs[0]).size == 0:
            return "// empty output"
        axis = int(self.attributes(node)["axis"]) % len(x)
        pad = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
        p = e.params("edge_sdk::GatherElementsParams", [("rank", len(x)), ("axis", axis), ("dims", pad(idx)),
                                                        ("x_strides", pad(dense_strides(x))), ("axis_len", x[axis])])
        return (f"edge_sdk::gather_elements<{p}>({e.ref(node.inputs[0])}, {e.ref(node.inputs[1])}, "
                f"{e.ref(node.outputs[0])});")


@register
class OneHot(OpDef):
    """Constant depth and values; indices (any numeric type) at run time."""
    op_type = "OneHot"
    header = "edge_sdk/kernels/gather.h"
    attrs = {"axis": -1}
    dtypes = NUMERIC
    since = 9

    def check(self, node, g):
        super().check(node, g)
        if g.const(node.input(1)) is None or g.const(node.input(2)) is None:
            raise unsupported(node, g, "depth and values must be constants")

    def emit(self, node, g, e):
        y = g.tensor(node.outputs[0]).shape
        if g.tensor(node.outputs[0]).size == 0:
            return "// empty output"
        axis = int(self.attributes(node)["axis"]) % len(y)
        outer, inner = int(np.prod(y[:axis], dtype=np.int64)), int(np.prod(y[axis + 1:], dtype=np.int64))
        ct = e.ctype(node.outputs[0])
        off, on = (cxx_literal(v, ct) for v in np.asarray(g.const(node.input(2))).reshape(-1)[:2])
        return (f"edge_sdk::one_hot<{ct}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {outer}, {y[axis]}, "
                f"{inner}, {off}, {on});")


@register
class Compress(OpDef):
    """A constant condition makes Compress a Gather with constant indices."""
    op_type = "Compress"
    header = "edge_sdk/kernels/gather.h"
    dtypes = None
    since = 9

    def check(self, node, g):
        super().check(node, g)
        if g.const(node.input(1)) is None:
            raise unsupported(node, g, "the condition must be a constant (the output shape depends on it)")

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        if g.tensor(node.outputs[0]).size == 0:
            return "// empty output"
        axis = node.attrs.get("axis")
        if axis is None:  # flattened input
            outer, axis_len, inner = 1, int(np.prod(x, dtype=np.int64)), 1
        else:
            axis = int(axis) % len(x)
            outer, axis_len = int(np.prod(x[:axis], dtype=np.int64)), x[axis]
            inner = int(np.prod(x[axis + 1:], dtype=np.int64))
        keep = np.nonzero(np.asarray(g.const(node.input(1))).reshape(-1)[:axis_len])[0]
        return (f"edge_sdk::gather({e.ref(node.inputs[0])}, {e.array('int64_t', keep)}, {e.ref(node.outputs[0])}, "
                f"{outer}, {axis_len}, {inner}, {len(keep)});")


@register
class ReverseSequence(OpDef):
    op_type = "ReverseSequence"
    header = "edge_sdk/kernels/gather.h"
    attrs = {"batch_axis": 1, "time_axis": 0}
    dtypes = None
    since = 10

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        if g.tensor(node.inputs[0]).size == 0:
            return "// empty tensor"
        a = self.attributes(node)
        b, t = int(a["batch_axis"]), int(a["time_axis"])
        st = dense_strides(x)
        inner = int(np.prod(x[2:], dtype=np.int64))
        return (f"edge_sdk::reverse_sequence({e.ref(node.inputs[0])}, {e.ref(node.inputs[1])}, {e.ref(node.outputs[0])}, "
                f"{x[b]}, {x[t]}, {inner}, {st[b]}, {st[t]});")
