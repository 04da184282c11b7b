"""Transpose and Concat (any dtype), and the strided copy other layout ops share.  Kernel: transpose.h."""
from __future__ import annotations

import numpy as np

from .broadcast import MAX_RANK
from .registry import OpDef, register


def dense_strides(shape) -> list[int]:
    return [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]


def coalesce(dims, strides):
    """Drop size-1 dims and merge neighbours whose input strides make them one run."""
    dims, strides = list(dims) or [1], list(strides) or [0]
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


def strided_copy(e, src: str, dst: str, dims, strides, offset: int = 0) -> str:
    """Code copying dst[i0, i1, ...] = src[offset + sum(i_k * strides[k])] over `dims` (dst is dense).

    One kernel for every op that rearranges elements without computing: Slice,
    Tile, Expand, DepthToSpace, SpaceToDepth (and Transpose)."""
    if int(np.prod(dims, dtype=np.int64)) == 0:
        return "// empty tensor"
    dims, strides = coalesce(dims, strides)
    if len(dims) > MAX_RANK:
        raise ValueError(f"rank {len(dims)} after merging dims is above {MAX_RANK}")
    pad = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
    p = e.params("edge_sdk::Bcast", [("rank", len(dims)), ("dims", pad(dims)), ("s0", pad(strides)),
                                     ("s1", [0] * MAX_RANK), ("s2", [0] * MAX_RANK)])
    base = e.ref(src) + (f" + {offset}" if offset else "")
    return f"edge_sdk::transpose<{p}>({base}, {e.ref(dst)});"


def copy_rank(dims, strides) -> int:
    """Rank strided_copy would need (check() compares it with MAX_RANK)."""
    return len(coalesce(dims, strides)[0])


@register
class Transpose(OpDef):
    op_type = "Transpose"
    header = "edge_sdk/kernels/transpose.h"
    dtypes = None

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        perm = node.attrs.get("perm") or list(range(len(x)))[::-1]
        st = dense_strides(x)
        return strided_copy(e, node.inputs[0], node.outputs[0], [x[p] for p in perm], [st[p] for p in perm])


@register
class Concat(OpDef):
    op_type = "Concat"
    header = "edge_sdk/kernels/transpose.h"
    dtypes = None

    def placed_inputs(self, node, g):
        y = g.tensor(node.outputs[0])
        axis = int(node.attrs["axis"]) % len(y.shape)
        if int(np.prod(y.shape[:axis], dtype=np.int64)) != 1:
            return None  # each input is strided in the output
        slots, offset = [], 0
        for i in node.inputs:
            slots.append(offset if i else None)
            offset += g.tensor(i).nbytes if i else 0
        return slots

    def emit(self, node, g, e):
        y = g.tensor(node.outputs[0]).shape
        axis = int(node.attrs["axis"]) % len(y)
        outer = int(np.prod(y[:axis], dtype=np.int64))
        inner = int(np.prod(y[axis + 1:], dtype=np.int64))
        item = g.tensor(node.outputs[0]).dtype.itemsize
        lines, offset = [], 0
        for i in node.inputs:
            if not i:
                continue
            width = g.tensor(i).shape[axis] * inner
            if width and e.plan.placed_at(i, node.outputs[0], offset * item):
                lines.append(f"// {i} was written in place at element {offset}")
            elif width:
                lines.append(f"edge_sdk::copy_rows({e.ref(i)}, {e.ref(node.outputs[0])} + {offset}, "
                             f"{outer}, {width}, {width}, {y[axis] * inner});")
            offset += width
        return "\n".join(lines) or "// empty"
