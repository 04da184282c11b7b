"""Ops that only reinterpret their input's bytes: no code runs, the output
shares the input's memory (the planner aliases them)."""
from __future__ import annotations

from .registry import OpDef, register


class View(OpDef):
    alias = True
    dtypes = None

    def check(self, node, g):
        super().check(node, g)
        src, dst = g.tensor(node.inputs[0]), g.tensor(node.outputs[0])
        assert src.size == dst.size and src.dtype == dst.dtype, f"{node.op_type} must preserve size and type"

    def emit(self, node, g, e):  # only called when the view must be copied into an output
        return f"std::memcpy({e.ref(node.outputs[0])}, {e.ref(node.inputs[0])}, {g.tensor(node.outputs[0]).nbytes});"


for _op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"):
    register(type(_op, (View,), {"op_type": _op})())
