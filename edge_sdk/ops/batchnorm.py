"""BatchNormalization (inference) that could not be folded into a Conv/Gemm.
Kernel: normalization.h (channel_affine_f32)."""
from __future__ import annotations

import numpy as np

from .registry import OpDef, register, unsupported


@register
class BatchNormalization(OpDef):
    op_type = "BatchNormalization"
    header = "edge_sdk/kernels/normalization.h"
    attrs = {"epsilon": 1e-5}
    inplace = True

    def check(self, node, g):
        super().check(node, g)
        if node.attrs.get("training_mode", 0) or len([o for o in node.outputs if o]) > 1:
            raise unsupported(node, g, "training-mode BatchNormalization is not supported",
                              "export the model in eval mode (model.eval())")
        if any(g.const(node.input(i)) is None for i in range(1, 5)):
            raise unsupported(node, g, "scale, bias, mean and variance must be constants")

    def emit(self, node, g, e):
        gamma, beta, mean, var = (np.asarray(g.const(node.input(i)), np.float64) for i in range(1, 5))
        s = gamma / np.sqrt(var + float(self.attributes(node)["epsilon"]))
        t = beta - mean * s
        x = g.tensor(node.inputs[0]).shape
        plane = int(np.prod(x[2:], dtype=np.int64))
        sa, ta = e.array("float", s.astype(np.float32)), e.array("float", t.astype(np.float32))
        return (f"edge_sdk::channel_affine_f32({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {sa}, {ta}, "
                f"{x[0]}, {x[1] if len(x) > 1 else 1}, {plane});")
