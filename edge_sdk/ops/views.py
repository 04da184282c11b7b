"""Ops that only reinterpret their input's bytes: no code runs, the output
shares the input's memory (the planner aliases them).  Plus inference-mode
Dropout, which is a copy (usually removed by passes/remove_noops.py)."""
from __future__ import annotations

import numpy as np

from ..errors import InternalError, ModelError
from .registry import OpDef, register, unsupported


class View(OpDef):
    alias = True
    dtypes = None

    def check(self, node, g):
        super().check(node, g)
        src, dst = g.tensor(node.inputs[0]), g.tensor(node.outputs[0])
        if src.size != dst.size:  # ONNX inference does not catch every impossible Reshape (e.g. from a 0 dim)
            raise ModelError(f"node '{node.name}' ({node.op_type}) cannot turn {list(src.shape)} "
                             f"({src.size} elements) into {list(dst.shape)} ({dst.size} elements)",
                             "check the target shape against the input's shape")
        if src.dtype != dst.dtype:  # shapes come from ONNX inference: a bug upstream
            raise InternalError(f"node '{node.name}' ({node.op_type}) turns {src.dtype}{list(src.shape)} into "
                                f"{dst.dtype}{list(dst.shape)}, which is not a view", "please report this with the model")

    def emit(self, node, g, e):  # only called when the view must be copied into an output
        return f"std::memcpy({e.ref(node.outputs[0])}, {e.ref(node.inputs[0])}, {g.tensor(node.outputs[0]).nbytes});"


for _op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"):
    register(type(_op, (View,), {"op_type": _op})())


@register
class Dropout(OpDef):
    """Identity at inference; the optional mask output is all true."""
    op_type = "Dropout"
    inplace = True
    dtypes = None

    def check(self, node, g):
        super().check(node, g)
        if not node.input(2):
            return
        training = g.const(node.input(2))
        if training is None:
            raise unsupported(node, g, "training_mode must be a constant", "export the model in eval mode")
        ratio = g.const(node.input(1)) if node.input(1) else np.float32(0.5)
        if bool(np.asarray(training).reshape(-1)[0]) and (ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0.0):
            raise unsupported(node, g, "training-mode Dropout drops values at random",
                              "export the model in eval mode (model.eval())")

    def emit(self, node, g, e):
        x, y = node.inputs[0], node.outputs[0]
        n = g.tensor(y).size
        lines = [f"if (static_cast<const void*>({e.ref(y)}) != static_cast<const void*>({e.ref(x)})) "
                 f"std::memcpy({e.ref(y)}, {e.ref(x)}, {g.tensor(y).nbytes});"]
        mask = node.outputs[1] if len(node.outputs) > 1 else ""
        if mask:
            lines.append(f"for (int64_t i = 0; i < {n}; ++i) {e.ref(mask)}[i] = true;")
        return "\n".join(lines)
