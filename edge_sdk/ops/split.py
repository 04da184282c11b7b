"""Split along one axis into pieces whose sizes shape inference already fixed.
Kernel: transpose.h (copy_rows)."""
from __future__ import annotations

import numpy as np

from .registry import OpDef, register


@register
class Split(OpDef):
    op_type = "Split"
    header = "edge_sdk/kernels/transpose.h"
    dtypes = None
    attrs = {"axis": 0}

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        axis = int(self.attributes(node)["axis"]) % len(x)
        outer = int(np.prod(x[:axis], dtype=np.int64))
        inner = int(np.prod(x[axis + 1:], dtype=np.int64))
        lines, offset = [], 0
        for y in node.outputs:
            width = g.tensor(y).shape[axis] * inner if y else 0
            if y and width and outer:
                lines.append(f"edge_sdk::copy_rows({e.ref(node.inputs[0])} + {offset}, {e.ref(y)}, "
                             f"{outer}, {width}, {x[axis] * inner}, {width});")
            offset += width
        return "\n".join(lines) or "// empty"
