"""Softmax, LogSoftmax and Hardmax.  Kernel: softmax.h.

Before opset 13 these ops flatten the input to 2-D at `axis` (default 1) and
normalise each row; from 13 they normalise along the single axis (default -1).
"""
from __future__ import annotations

import numpy as np

from .registry import OpDef, register

KINDS = {"Softmax": "Softmax", "LogSoftmax": "LogSoftmax", "Hardmax": "Hardmax"}


class SoftmaxLike(OpDef):
    header = "edge_sdk/kernels/softmax.h"
    inplace = True

    def __init__(self, op_type: str, since: int):
        self.op_type, self.since = op_type, since
        self.attrs = {"axis": 1 if since < 13 else -1}

    def emit(self, node, g, e):
        shape = g.tensor(node.inputs[0]).shape
        if g.tensor(node.inputs[0]).size == 0:
            return "// empty tensor"
        axis = int(self.attributes(node)["axis"]) % max(len(shape), 1)
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        if self.since < 13:  # rows of the 2-D view
            n, inner = int(np.prod(shape[axis:], dtype=np.int64)), 1
        else:
            n, inner = shape[axis], int(np.prod(shape[axis + 1:], dtype=np.int64))
        kind = f"edge_sdk::SoftmaxKind::{KINDS[self.op_type]}"
        return (f"edge_sdk::softmax_f32<{kind}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, "
                f"{outer}, {n}, {inner});")


for _op in KINDS:
    register(SoftmaxLike(_op, 1))
    register(SoftmaxLike(_op, 13))
