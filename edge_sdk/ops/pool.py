"""MaxPool, AveragePool (1-D/2-D), GlobalMaxPool, GlobalAveragePool.  Kernel: pool.h."""
from __future__ import annotations

import numpy as np

from .conv import MAX_VL, fast_kernels_enabled
from .helpers import act_fields, pool_out_size, spatial_pads
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
        a = self.attributes(node)
        if a["ceil_mode"]:
            f = dict(pool_geometry(node, g, a))
            for axis in ("h", "w"):
                inferred = f[f"{axis}_out"]
                ort = pool_out_size(f[f"{axis}_in"], f[f"k_{axis}"], f[f"stride_{axis}"], f[f"dil_{axis}"],
                                    f["pad_top" if axis == "h" else "pad_left"],
                                    f["pad_bottom" if axis == "h" else "pad_right"], True)
                if inferred != ort:
                    raise unsupported(node, g, f"with ceil_mode the last window along {'height' if axis == 'h' else 'width'} "
                                      f"starts in the end padding: ONNX shape inference gives {inferred} outputs "
                                      f"and onnxruntime {ort}",
                                      "reduce the end padding by the stride, or export with ceil_mode=0")

    def macs(self, node, g):
        return g.tensor(node.outputs[0]).size * int(np.prod(node.attrs.get("kernel_shape", [1])))

    def emit(self, node, g, e):
        fields = pool_geometry(node, g, self.attributes(node))
        p = e.params("edge_sdk::PoolParams", fields + act_fields(node))
        fn = "max_pool_f32" if self.op_type == "MaxPool" else "avg_pool_f32"
        return f"edge_sdk::{fn}<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])});"


@register
class MaxPool(Pool):
    """Fast kernel (pool_fast.h) unless EDGE_SDK_KERNELS=portable: one row of scratch."""
    op_type = "MaxPool"

    def scratch_bytes(self, node, g):
        if not fast_kernels_enabled():
            return 0
        f = dict(pool_geometry(node, g, self.attributes(node)))
        s = f["stride_w"]
        span = (f["w_out"] - 1) * s + (f["k_w"] - 1) * f["dil_w"] + 1
        row = s * (-(-span // s) + MAX_VL)  # pool_fast.h RowGeometry, at the widest vector
        return 4 * (row if s == 1 else 2 * row)

    def emit(self, node, g, e):
        if not fast_kernels_enabled():
            return super().emit(node, g, e)
        e.headers.add("edge_sdk/kernels/pool_fast.h")
        p = e.params("edge_sdk::PoolParams", pool_geometry(node, g, self.attributes(node)) + act_fields(node))
        check = (f"static_assert(edge_sdk::max_pool_scratch_floats<{p}>() * 4 <= {self.scratch_bytes(node, g)}, "
                 f"\"max pool scratch\");")
        return f"{check}\nedge_sdk::max_pool_fast_f32<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {e.scratch()});"


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
