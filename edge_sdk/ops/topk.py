"""TopK with a constant k; values and int64 indices, sorted.  Kernel: topk.h."""
from __future__ import annotations

import numpy as np

from .binary import NUMERIC
from .registry import OpDef, register, unsupported


@register
class TopK(OpDef):
    op_type = "TopK"
    header = "edge_sdk/kernels/topk.h"
    attrs = {"axis": -1, "largest": 1, "sorted": 1}
    dtypes = NUMERIC
    since = 10

    def check(self, node, g):
        super().check(node, g)
        if g.const(node.input(1)) is None:
            raise unsupported(node, g, "k must be a constant", "export with a fixed k")
        if len([o for o in node.outputs if o]) != 2:
            raise unsupported(node, g, "both outputs (values and indices) must be used")

    def emit(self, node, g, e):
        a = self.attributes(node)
        x = g.tensor(node.inputs[0]).shape
        axis = int(a["axis"]) % len(x)
        k = int(np.asarray(g.const(node.input(1))).reshape(-1)[0])
        outer, inner = int(np.prod(x[:axis], dtype=np.int64)), int(np.prod(x[axis + 1:], dtype=np.int64))
        if outer * inner * k == 0:
            return "// empty output"
        largest = "true" if a["largest"] else "false"
        return (f"edge_sdk::topk<{largest}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {e.ref(node.outputs[1])}, "
                f"{outer}, {x[axis]}, {inner}, {k});")
