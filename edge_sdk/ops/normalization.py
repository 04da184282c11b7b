"""InstanceNormalization and LRN (cross-channel), float32 NC... layout.  Kernel: normalization.h."""
from __future__ import annotations

import numpy as np

from ..codegen.context import cxx_literal
from .registry import OpDef, register, unsupported


def _nc_plane(g, name):
    x = g.tensor(name).shape
    return x[0], x[1], int(np.prod(x[2:], dtype=np.int64))


@register
class InstanceNormalization(OpDef):
    op_type = "InstanceNormalization"
    header = "edge_sdk/kernels/normalization.h"
    attrs = {"epsilon": 1e-5}
    inplace = True

    def check(self, node, g):
        super().check(node, g)
        if len(g.tensor(node.inputs[0]).shape) < 3:
            raise unsupported(node, g, "the input needs at least 3 dims (N, C, spatial...)")

    def emit(self, node, g, e):
        n, c, plane = _nc_plane(g, node.inputs[0])
        eps = cxx_literal(self.attributes(node)["epsilon"], "float")
        return (f"edge_sdk::instance_norm_f32({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, "
                f"{e.ref(node.inputs[1])}, {e.ref(node.inputs[2])}, {n}, {c}, {plane}, {eps});")


@register
class LRN(OpDef):
    op_type = "LRN"
    header = "edge_sdk/kernels/normalization.h"
    attrs = {"alpha": 1e-4, "beta": 0.75, "bias": 1.0}

    def check(self, node, g):
        super().check(node, g)
        if len(g.tensor(node.inputs[0]).shape) < 2:
            raise unsupported(node, g, "the input needs at least 2 dims (N, C, ...)")

    def emit(self, node, g, e):
        n, c, plane = _nc_plane(g, node.inputs[0])
        a = self.attributes(node)
        lit = lambda k: cxx_literal(a[k], "float")  # noqa: E731
        return (f"edge_sdk::lrn_f32({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {n}, {c}, {plane}, "
                f"{int(a['size'])}, {lit('alpha')}, {lit('beta')}, {lit('bias')});")


class RowNorm(OpDef):
    """LayerNormalization / RMSNormalization over the axes from `axis` on."""
    header = "edge_sdk/kernels/normalization.h"
    attrs = {"axis": -1, "epsilon": 1e-5}
    rms = False

    def _rows(self, node, g):
        x = g.tensor(node.inputs[0]).shape
        axis = int(self.attributes(node)["axis"]) % len(x)
        return int(np.prod(x[:axis], dtype=np.int64)), int(np.prod(x[axis:], dtype=np.int64))

    def check(self, node, g):
        super().check(node, g)
        _, n = self._rows(node, g)
        for i in (1, 2):
            if node.input(i) and g.tensor(node.input(i)).size != n:
                raise unsupported(node, g, "scale and bias must have one value per normalised element "
                                  "(broadcast scale/bias are not supported)", "expand them to the normalised shape")

    def emit(self, node, g, e):
        rows, n = self._rows(node, g)
        if rows * n == 0:
            return "// empty tensor"
        eps = cxx_literal(self.attributes(node)["epsilon"], "float")
        bias = "nullptr" if self.rms else e.ref(node.input(2))
        stats = [e.ref(node.outputs[k]) if len(node.outputs) > k and node.outputs[k] else "nullptr" for k in (1, 2)]
        return (f"edge_sdk::row_norm_f32<{'true' if self.rms else 'false'}>({e.ref(node.inputs[0])}, "
                f"{e.ref(node.outputs[0])}, {e.ref(node.inputs[1])}, {bias}, {rows}, {n}, {eps}, {', '.join(stats)});")


@register
class LayerNormalization(RowNorm):
    op_type = "LayerNormalization"
    since = 17


@register
class RMSNormalization(RowNorm):
    op_type = "RMSNormalization"
    since = 23
    rms = True


@register
class GroupNormalization(OpDef):
    """Opset 21 semantics: scale and bias per channel (opset 18 had them per group)."""
    op_type = "GroupNormalization"
    header = "edge_sdk/kernels/normalization.h"
    attrs = {"epsilon": 1e-5}
    since = 21

    def check(self, node, g):
        super().check(node, g)
        x = g.tensor(node.inputs[0]).shape
        if len(x) < 3 or x[1] % int(node.attrs["num_groups"]):
            raise unsupported(node, g, "needs an (N, C, spatial...) input with C divisible by num_groups")

    def emit(self, node, g, e):
        n, c, plane = _nc_plane(g, node.inputs[0])
        eps = cxx_literal(self.attributes(node)["epsilon"], "float")
        return (f"edge_sdk::group_norm_f32({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {e.ref(node.inputs[1])}, "
                f"{e.ref(node.inputs[2])}, {n}, {c}, {int(node.attrs['num_groups'])}, {plane}, {eps});")


@register
class LpNormalization(OpDef):
    op_type = "LpNormalization"
    header = "edge_sdk/kernels/normalization.h"
    attrs = {"axis": -1, "p": 2}
    inplace = True

    def check(self, node, g):
        super().check(node, g)
        if int(self.attributes(node)["p"]) not in (1, 2):
            raise unsupported(node, g, "only p = 1 and p = 2 are supported")

    def emit(self, node, g, e):
        a = self.attributes(node)
        x = g.tensor(node.inputs[0]).shape
        if g.tensor(node.inputs[0]).size == 0:
            return "// empty tensor"
        axis = int(a["axis"]) % len(x)
        outer, inner = int(np.prod(x[:axis], dtype=np.int64)), int(np.prod(x[axis + 1:], dtype=np.int64))
        return (f"edge_sdk::lp_norm_f32<{int(a['p'])}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, "
                f"{outer}, {x[axis]}, {inner});")
