"""ConvTranspose (1-D and 2-D), float32.  Kernel: conv_transpose.h (portable)."""
from __future__ import annotations

import numpy as np

from .registry import OpDef, register, unsupported


def conv_transpose_pads(x_sp, y_sp, k, s, d, out_pad, auto_pad, pads, output_shape) -> list[int]:
    """Leading pad per spatial axis, as the ONNX reference resolves pads / auto_pad / output_shape."""
    r = len(x_sp)
    if pads is None and auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return [0] * r
    if pads is None:
        target = list(output_shape) if output_shape is not None else [x_sp[i] * s[i] for i in range(r)]
        begin = []
        for i in range(r):
            total = s[i] * (x_sp[i] - 1) + out_pad[i] + (k[i] - 1) * d[i] + 1 - target[i]
            begin.append(total // 2 if auto_pad == "SAME_UPPER" else total - total // 2)
        return begin
    return list(pads[:r])


@register
class ConvTranspose(OpDef):
    op_type = "ConvTranspose"
    header = "edge_sdk/kernels/conv_transpose.h"
    attrs = {"auto_pad": "NOTSET", "group": 1}

    def check(self, node, g):
        super().check(node, g)
        rank = len(g.tensor(node.inputs[0]).shape)
        if rank not in (3, 4):
            raise unsupported(node, g, f"{rank - 2}-D ConvTranspose is not supported (1-D and 2-D are)")
        if g.const(node.inputs[1]) is None:
            raise unsupported(node, g, "weights computed at run time are not supported",
                              "make the weights an initializer")
        from .conv import check_weight_geometry
        check_weight_geometry(node, g, self.attributes(node), transpose=True)

    def macs(self, node, g):
        x = g.tensor(node.inputs[0])
        w = g.tensor(node.inputs[1]).shape
        return x.size * int(np.prod(w[1:]))

    def emit(self, node, g, e):
        a = self.attributes(node)
        x, y = g.tensor(node.inputs[0]).shape, g.tensor(node.outputs[0]).shape
        w = g.tensor(node.inputs[1]).shape
        r = len(x) - 2
        k = list(a.get("kernel_shape") or w[2:])
        s = list(a.get("strides") or [1] * r)
        d = list(a.get("dilations") or [1] * r)
        op = list(a.get("output_padding") or [0] * r)
        pads = a.get("pads")
        begin = conv_transpose_pads(list(x[2:]), list(y[2:]), k, s, d, op, a["auto_pad"], pads, a.get("output_shape"))
        if r == 1:
            x, y, k, s, d, begin = (*x[:2], 1, x[2]), (*y[:2], 1, y[2]), [1] + k, [1] + s, [1] + d, [0] + begin
        fields = [("n", x[0]), ("c_in", x[1]), ("h_in", x[2]), ("w_in", x[3]), ("c_out", y[1]), ("h_out", y[2]),
                  ("w_out", y[3]), ("k_h", k[0]), ("k_w", k[1]), ("stride_h", s[0]), ("stride_w", s[1]),
                  ("pad_top", begin[0]), ("pad_left", begin[1]), ("dil_h", d[0]), ("dil_w", d[1]),
                  ("groups", int(a["group"]))]
        p = e.params("edge_sdk::ConvTransposeParams", fields)
        ins = [e.ref(node.inputs[0]), e.ref(node.inputs[1]), e.ref(node.input(2))]
        return f"edge_sdk::conv_transpose2d_f32<{p}>({', '.join(ins)}, {e.ref(node.outputs[0])});"
