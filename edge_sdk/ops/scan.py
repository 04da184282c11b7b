"""CumSum (constant axis), Trilu (constant k) and EyeLike.  Kernel: scan.h."""
from __future__ import annotations

import numpy as np

from ..codegen.context import CTYPES
from .binary import NUMERIC
from .registry import OpDef, register, unsupported


def _const_int(g, name, default=0):
    v = g.const(name) if name else None
    return default if v is None else int(np.asarray(v).reshape(-1)[0])


@register
class CumSum(OpDef):
    op_type = "CumSum"
    header = "edge_sdk/kernels/scan.h"
    attrs = {"exclusive": 0, "reverse": 0}
    dtypes = NUMERIC
    since = 11

    def check(self, node, g):
        super().check(node, g)
        if g.const(node.input(1)) is None:
            raise unsupported(node, g, "axis must be a constant")

    def emit(self, node, g, e):
        a = self.attributes(node)
        x = g.tensor(node.inputs[0]).shape
        if g.tensor(node.inputs[0]).size == 0:
            return "// empty tensor"
        axis = _const_int(g, node.input(1)) % len(x)
        outer, inner = int(np.prod(x[:axis], dtype=np.int64)), int(np.prod(x[axis + 1:], dtype=np.int64))
        flags = ", ".join("true" if a[k] else "false" for k in ("exclusive", "reverse"))
        return (f"edge_sdk::cumsum<{flags}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, "
                f"{outer}, {x[axis]}, {inner});")


@register
class Trilu(OpDef):
    op_type = "Trilu"
    header = "edge_sdk/kernels/scan.h"
    attrs = {"upper": 1}
    dtypes = NUMERIC + (np.bool_,)
    since = 14

    def check(self, node, g):
        super().check(node, g)
        if node.input(1) and g.const(node.input(1)) is None:
            raise unsupported(node, g, "k must be a constant")

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        if g.tensor(node.inputs[0]).size == 0:
            return "// empty tensor"
        mats = int(np.prod(x[:-2], dtype=np.int64))
        upper = "true" if self.attributes(node)["upper"] else "false"
        return (f"edge_sdk::trilu<{upper}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {mats}, {x[-2]}, {x[-1]}, "
                f"{_const_int(g, node.input(1))});")


@register
class EyeLike(OpDef):
    """Only the input's shape matters; the output type is `dtype` or the input's."""
    op_type = "EyeLike"
    header = "edge_sdk/kernels/scan.h"
    attrs = {"k": 0}
    dtypes = tuple(CTYPES)
    since = 9

    def emit(self, node, g, e):
        rows, cols = g.tensor(node.outputs[0]).shape
        return (f"edge_sdk::eye<{e.ctype(node.outputs[0])}>({e.ref(node.outputs[0])}, {rows}, {cols}, "
                f"{int(self.attributes(node)['k'])});")
