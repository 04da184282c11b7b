"""MaxPool, AveragePool (1-D/2-D), GlobalMaxPool, GlobalAveragePool.  Kernel: pool.h."""
from __future__ import annotations

import numpy as np

from .helpers import act_fields, spatial_pads
from .registry import OpDef, register, unsupported


def pool_geometry(node, g, a: dict) -> list[tuple[str, object]]:
    """PoolParams fields (float and int8 kernels share them), 1-D pooling mapped to 2-D."""
    x, y = g.tensor(node.inputs[0]).shape, g.tensor(node.outputs[0]).shape
    r = len(x) - 2
    k = list(a["kernel_shape"])
    s = list(a.get("strides") or [1] * r)
    d = list(a.get("dilations") or [1] * r)
    begin, end = spatial_pads(list(x[2:]), k, s, d, a["auto_pad"], a.get("pads"))
    if r == 1:
        x, y, k, s, d, begin, end = (*x[:2], 1, x[2]), (*y[:2], 1, y[2]), [1] + k, [1] + s, [1] + d, [0] + begin, [0] + end
    return [("planes", x[0] * x[1]), ("h_in", x[2]), ("w_in", x[3]), ("h_out", y[2]), ("w_out", y[3]),
            ("k_h", k[0]), ("k_w", k[1]), ("stride_h", s[0]), ("stride_w", s[1]),
            ("pad_top", begin[0]), ("pad_left", begin[1]), ("dil_h", d[0]), ("dil_w", d[1]),
            ("count_include_pad", bool(a.get("count_include_pad", 0))), ("pad_bottom", end[0]), ("pad_right", end[1])]


class Pool(OpDef):
    header = "edge_sdk/kernels/pool.h"
    attrs = {"auto_pad": "NOTSET", "ceil_mode": 0, "count_include_pad": 0, "storage_order": 0}
    fuses_activation = True

    def check(self, node, g):
        super().check(node, g)
        if len(g.tensor(node.inputs[0]).shape) not in (3, 4):
            raise unsupported(node, g, "only 1-D and 2-D pooling is supported")
        if len([o for o in node.outputs if o]) > 1:
            raise unsupported(node, g, "the Indices output of MaxPool is not supported")

    def macs(self, node, g):
        return g.tensor(node.outputs[0]).size * int(np.prod(node.attrs.get("kernel_shape", [1])))

    def emit(self, node, g, e):
        fields = pool_geometry(node, g, self.attributes(node))
        p = e.params("edge_sdk::PoolParams", fields + act_fields(node))
        fn = "max_pool_f32" if self.op_type == "MaxPool" else "avg_pool_f32"
        return f"edge_sdk::{fn}<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])});"


@register
class MaxPool(Pool):
    op_type = "MaxPool"


@register
class AveragePool(Pool):
    op_type = "AveragePool"


class GlobalPool(OpDef):
    header = "edge_sdk/kernels/pool.h"
    is_max = False

    def macs(self, node, g):
        return g.tensor(node.inputs[0]).size

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        planes, size = x[0] * x[1], int(np.prod(x[2:], dtype=np.int64))
        flag = "true" if self.is_max else "false"
        return f"edge_sdk::global_pool_f32<{flag}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {planes}, {size});"


@register
class GlobalMaxPool(GlobalPool):
    op_type = "GlobalMaxPool"
    is_max = True


@register
class GlobalAveragePool(GlobalPool):
    op_type = "GlobalAveragePool"
