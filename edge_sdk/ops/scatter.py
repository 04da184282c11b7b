"""ScatterND, ScatterElements (and its opset 9-10 name Scatter), indices at run
time, optional reduction.  The output starts as a copy of data (in place when
data dies here).  Kernel: gather.h."""
from __future__ import annotations

import numpy as np

from .broadcast import MAX_RANK
from .registry import OpDef, register, unsupported
from .transpose import dense_strides

REDUCTIONS = {"none": "None", "add": "Add", "mul": "Mul", "max": "Max", "min": "Min"}


class ScatterBase(OpDef):
    header = "edge_sdk/kernels/gather.h"
    attrs = {"reduction": "none"}
    dtypes = None
    inplace = True

    def check(self, node, g):
        super().check(node, g)
        red = self.attributes(node)["reduction"]
        if red not in REDUCTIONS:
            raise unsupported(node, g, f"reduction '{red}' is not supported (supported: {', '.join(REDUCTIONS)})")
        if np.dtype(g.tensor(node.inputs[1]).dtype) not in (np.dtype(np.int32), np.dtype(np.int64)):
            raise unsupported(node, g, "indices must be int32 or int64")
        if len(g.tensor(node.inputs[0]).shape) > MAX_RANK:
            raise unsupported(node, g, f"ranks above {MAX_RANK} are not supported")

    def emit(self, node, g, e):
        data, y = node.inputs[0], node.outputs[0]
        copy = (f"if (static_cast<const void*>({e.ref(y)}) != static_cast<const void*>({e.ref(data)})) "
                f"std::memcpy({e.ref(y)}, {e.ref(data)}, {g.tensor(y).nbytes});")
        if g.tensor(node.inputs[2]).size == 0:
            return copy
        red = f"edge_sdk::ScatterReduce::{REDUCTIONS[self.attributes(node)['reduction']]}"
        return copy + "\n" + self.scatter(node, g, e, red)


@register
class ScatterND(ScatterBase):
    op_type = "ScatterND"
    since = 11

    def scatter(self, node, g, e, red):
        x, idx = g.tensor(node.inputs[0]).shape, g.tensor(node.inputs[1]).shape
        k = idx[-1]
        n = int(np.prod(idx[:-1], dtype=np.int64))
        slice_len = int(np.prod(x[k:], dtype=np.int64))
        dims, strides = e.array("int64_t", list(x[:k])), e.array("int64_t", dense_strides(x)[:k])
        return (f"edge_sdk::scatter_nd<{red}>({e.ref(node.outputs[0])}, {e.ref(node.inputs[1])}, "
                f"{e.ref(node.inputs[2])}, {n}, {k}, {dims}, {strides}, {slice_len});")


@register
class ScatterElements(ScatterBase):
    op_type = "ScatterElements"
    attrs = {"axis": 0, "reduction": "none"}
    since = 11

    def scatter(self, node, g, e, red):
        x, upd = g.tensor(node.inputs[0]).shape, g.tensor(node.inputs[2]).shape
        axis = int(self.attributes(node)["axis"]) % len(x)
        pad = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
        p = e.params("edge_sdk::GatherElementsParams", [("rank", len(x)), ("axis", axis), ("dims", pad(upd)),
                                                        ("x_strides", pad(dense_strides(x))), ("axis_len", x[axis])])
        return (f"edge_sdk::scatter_elements<{p}, {red}>({e.ref(node.outputs[0])}, {e.ref(node.inputs[1])}, "
                f"{e.ref(node.inputs[2])});")


@register
class Scatter(ScatterElements):
    """Opset 9-10 name of ScatterElements without reduction."""
    op_type = "Scatter"
    since = 9
