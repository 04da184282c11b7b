"""Transpose and Concat (any dtype).  Kernel: transpose.h."""
from __future__ import annotations

import numpy as np

from .broadcast import MAX_RANK
from .registry import OpDef, register


def _coalesced_perm_space(in_shape, perm):
    """Output dims and matching input strides, merging output dims that stay adjacent in the input."""
    in_strides = [int(np.prod(in_shape[i + 1:], dtype=np.int64)) for i in range(len(in_shape))]
    dims = [in_shape[p] for p in perm]
    strides = [in_strides[p] for p in perm]
    keep = [i for i, d in enumerate(dims) if d != 1] or [len(dims) - 1]
    dims, strides = [dims[i] for i in keep], [strides[i] for i in keep]
    i = len(dims) - 1
    while i > 0:
        if strides[i - 1] == strides[i] * dims[i]:
            dims[i - 1] *= dims[i]
            strides[i - 1] = strides[i]
            del dims[i], strides[i]
        i -= 1
    return dims, strides


@register
class Transpose(OpDef):
    op_type = "Transpose"
    header = "edge_sdk/kernels/transpose.h"
    dtypes = None

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        perm = node.attrs.get("perm") or list(range(len(x)))[::-1]
        if g.tensor(node.outputs[0]).size == 0:
            return "// empty tensor"
        dims, strides = _coalesced_perm_space(x, perm)
        pad = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
        p = e.params("edge_sdk::Bcast", [("rank", len(dims)), ("dims", pad(dims)), ("s0", pad(strides)),
                                         ("s1", [0] * MAX_RANK), ("s2", [0] * MAX_RANK)])
        return f"edge_sdk::transpose<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])});"


@register
class Concat(OpDef):
    op_type = "Concat"
    header = "edge_sdk/kernels/transpose.h"
    dtypes = None

    def emit(self, node, g, e):
        y = g.tensor(node.outputs[0]).shape
        axis = int(node.attrs["axis"]) % len(y)
        outer = int(np.prod(y[:axis], dtype=np.int64))
        inner = int(np.prod(y[axis + 1:], dtype=np.int64))
        lines, offset = [], 0
        for i in node.inputs:
            if not i:
                continue
            width = g.tensor(i).shape[axis] * inner
            if width:
                lines.append(f"edge_sdk::copy_rows({e.ref(i)}, {e.ref(node.outputs[0])} + {offset}, "
                             f"{outer}, {width}, {width}, {y[axis] * inner});")
            offset += width
        return "\n".join(lines) or "// empty"
