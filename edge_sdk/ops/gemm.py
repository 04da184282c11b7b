"""Gemm and MatMul, float32.  Kernel: gemm.h."""
from __future__ import annotations

import numpy as np

from .broadcast import broadcast_space, MAX_RANK
from .helpers import act_fields
from .registry import ChannelSplit, OpDef, register, unsupported


@register
class Gemm(OpDef):
    op_type = "Gemm"
    header = "edge_sdk/kernels/gemm.h"
    attrs = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}
    fuses_activation = True

    def macs(self, node, g):
        y = g.tensor(node.outputs[0]).shape
        a = g.tensor(node.inputs[0]).shape
        k = a[0] if node.attrs.get("transA", 0) else a[1]
        return y[0] * y[1] * k

    def channel_split(self, node, g):
        """One input row against rows of a transposed B (a classifier: PyTorch's Linear exports
        transB=1) splits by output columns: each part streams its own rows of B, which is what
        bounds a big classifier (MobileNetV2's 1280x1000: 5 MB of weights a run)."""
        at = self.attributes(node)
        y = g.tensor(node.outputs[0]).shape
        if len(y) != 2 or y[0] != 1 or at["transA"] or not at["transB"]:
            return None
        cut = {1: (0, 1)}
        c = node.input(2)
        if c:
            cshape = tuple(g.tensor(c).shape)
            if cshape == (y[1],):
                cut[2] = (0, 1)
            elif cshape == (1, y[1]):
                cut[2] = (1, 1)
            elif any(d != 1 for d in cshape):
                return None
        return ChannelSplit(y[1], 16, cut)

    def emit(self, node, g, e):
        at = self.attributes(node)
        a_shape = g.tensor(node.inputs[0]).shape
        m, n = g.tensor(node.outputs[0]).shape
        k = a_shape[0] if at["transA"] else a_shape[1]
        cs = (0, 0)
        c = node.input(2)
        if c:
            cshape = (1,) * (2 - len(g.tensor(c).shape)) + tuple(g.tensor(c).shape)
            cs = (cshape[1] if cshape[0] != 1 else 0, 1 if cshape[1] != 1 else 0)
        p = e.params("edge_sdk::GemmParams", [
            ("m", m), ("n", n), ("k", k), ("trans_a", bool(at["transA"])), ("trans_b", bool(at["transB"])),
            ("alpha", float(at["alpha"])), ("beta", float(at["beta"])), ("c_stride_m", cs[0]), ("c_stride_n", cs[1]),
        ] + act_fields(node))
        return (f"edge_sdk::gemm_f32<{p}>({e.ref(node.inputs[0])}, {e.ref(node.inputs[1])}, {e.ref(c)}, "
                f"{e.ref(node.outputs[0])});")


@register
class MatMul(OpDef):
    op_type = "MatMul"
    header = "edge_sdk/kernels/gemm.h"

    @staticmethod
    def _dims(g, node):
        a, b = g.tensor(node.inputs[0]).shape, g.tensor(node.inputs[1]).shape
        a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
        b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
        return a2, b2

    def check(self, node, g):
        super().check(node, g)
        if g.tensor(node.inputs[1]).dtype != np.float32:
            raise unsupported(node, g, "MatMul needs two float32 inputs")

    def macs(self, node, g):
        a2, b2 = self._dims(g, node)
        batch = int(np.prod(np.broadcast_shapes(a2[:-2], b2[:-2]), dtype=np.int64))
        return batch * a2[-2] * a2[-1] * b2[-1]

    def emit(self, node, g, e):
        a2, b2 = self._dims(g, node)
        m, k, n = a2[-2], a2[-1], b2[-1]
        batch_out = tuple(np.broadcast_shapes(a2[:-2], b2[:-2])) or (1,)
        dims, (sa, sb) = broadcast_space(batch_out, a2[:-2], b2[:-2])
        pad = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
        bc = "{" + ", ".join([str(len(dims)), _arr(pad(dims)), _arr(pad(sa)), _arr(pad(sb)), _arr([0] * MAX_RANK)]) + "}"
        p = e.params("edge_sdk::MatMulParams", [("m", m), ("n", n), ("k", k), ("batch", bc)])
        return f"edge_sdk::matmul_f32<{p}>({e.ref(node.inputs[0])}, {e.ref(node.inputs[1])}, {e.ref(node.outputs[0])});"


def _arr(v):
    return "{" + ", ".join(str(int(x)) for x in v) + "}"
