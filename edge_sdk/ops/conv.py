"""Conv (1-D and 2-D), float32. Kernel: cpp/include/edge_sdk/kernels/conv.h."""
from __future__ import annotations

import numpy as np

from .. import ir
from .helpers import act_fields, spatial_pads
from .registry import OpDef, register, unsupported


def conv_geometry(node: ir.Node, g: ir.Graph, attrs: dict) -> dict:
    """Everything the kernel needs, with 1-D convolutions mapped to 2-D (height 1)."""
    x, w = g.tensor(node.inputs[0]).shape, g.tensor(node.inputs[1]).shape
    y = g.tensor(node.outputs[0]).shape
    r = len(x) - 2
    k = list(attrs.get("kernel_shape") or w[2:])
    s = list(attrs.get("strides") or [1] * r)
    d = list(attrs.get("dilations") or [1] * r)
    begin, _ = spatial_pads(list(x[2:]), k, s, d, attrs.get("auto_pad", "NOTSET"), attrs.get("pads"))
    if r == 1:
        x, y, k, s, d, begin = (*x[:2], 1, x[2]), (*y[:2], 1, y[2]), [1] + k, [1] + s, [1] + d, [0] + begin
    return dict(n=x[0], c_in=x[1], h_in=x[2], w_in=x[3], c_out=y[1], h_out=y[2], w_out=y[3],
                k_h=k[0], k_w=k[1], stride_h=s[0], stride_w=s[1], pad_top=begin[0], pad_left=begin[1],
                dil_h=d[0], dil_w=d[1], groups=int(attrs.get("group", 1)))


@register
class Conv(OpDef):
    op_type = "Conv"
    header = "edge_sdk/kernels/conv.h"
    attrs = {"auto_pad": "NOTSET", "group": 1}
    fuses_activation = True

    def check(self, node, g):
        super().check(node, g)
        rank = len(g.tensor(node.inputs[0]).shape)
        if rank not in (3, 4):
            raise unsupported(node, g, f"{rank - 2}-D convolution is not supported (1-D and 2-D are)")
        if g.const(node.inputs[1]) is None:
            raise unsupported(node, g, "weights computed at run time are not supported",
                              "make the weights an initializer")

    def macs(self, node, g):
        y = g.tensor(node.outputs[0])
        w = g.tensor(node.inputs[1]).shape
        return y.size * int(np.prod(w[1:]))

    def emit(self, node, g, e):
        geo = conv_geometry(node, g, self.attributes(node))
        p = e.params("edge_sdk::ConvParams", list(geo.items()) + act_fields(node))
        ins = [e.ref(node.inputs[0]), e.ref(node.inputs[1]), e.ref(node.input(2))]
        return f"edge_sdk::conv2d_f32<{p}>({', '.join(ins)}, {e.ref(node.outputs[0])});"
