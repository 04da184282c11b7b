"""TflConvPool: int8 convolution + per-channel epilogue table + max pooling, row by row
(kernels/int8/tfl_conv_pool.h); written by the TFLite frontend's row fusion
(frontend/tflite/fuse_rows.py) where the un-pooled convolution output is large.

inputs: x, w (OIHW int8, per-channel scales), bias (int32, optional ""), table (int8 [c_out, 256],
optional "").  attrs: the QConv geometry (kernel_shape, strides, dilations, pads), activation
(as QConv), conv_out (the un-pooled quantization: (scale, zero_point)), pool (kernel, strides,
pads as (kh, kw, sh, sw, top, left)), in_layout "nchw" | "nhwc" (how x is stored).
"""
from __future__ import annotations

import numpy as np

from ..quantize.fixedpoint import clamp_range, quantize_multipliers
from .quant_ops import qparams
from .registry import OpDef, register, unsupported


def _geometry(node, g):
    x = g.tensor(node.inputs[0]).shape
    if node.attrs["in_layout"] == "nhwc":
        n, h, w, c = x
        strides = (1, w * c, c)
    else:
        n, c, h, w = x
        strides = (h * w, w, 1)
    wt = g.tensor(node.inputs[1]).shape
    kh, kw = wt[2], wt[3]
    sh, sw = node.attrs["strides"]
    dh, dw = node.attrs["dilations"]
    pt, pl = node.attrs["pads"][:2]
    h_conv = (h + node.attrs["pads"][0] + node.attrs["pads"][2] - ((kh - 1) * dh + 1)) // sh + 1
    w_conv = (w + node.attrs["pads"][1] + node.attrs["pads"][3] - ((kw - 1) * dw + 1)) // sw + 1
    _, c_out, h_out, w_out = g.tensor(node.outputs[0]).shape
    return dict(n=n, c_in=c, h_in=h, w_in=w, in_sc=strides[0], in_sy=strides[1], in_sx=strides[2], c_out=c_out,
                h_conv=h_conv, w_conv=w_conv, k_h=kh, k_w=kw, stride_h=sh, stride_w=sw, pad_top=pt, pad_left=pl,
                dil_h=dh, dil_w=dw, h_out=h_out, w_out=w_out)


@register
class TflConvPool(OpDef):
    op_type = "TflConvPool"
    header = "edge_sdk/kernels/int8/tfl_conv_pool.h"
    dtypes = (np.int8,)

    def check(self, node, g):
        super().check(node, g)
        geo = _geometry(node, g)
        if geo["n"] != 1:
            raise unsupported(node, g, "row-fused convolution runs batch 1")
        if g.tensor(node.inputs[1]).shape[1] != geo["c_in"]:
            raise unsupported(node, g, "row-fused convolution does not support groups")

    def _act(self, node):
        s, z = node.attrs["conv_out"]
        return clamp_range(node.attrs.get("activation"), s, z)

    def macs(self, node, g):
        geo = _geometry(node, g)
        return geo["h_conv"] * geo["w_conv"] * geo["c_out"] * int(np.prod(g.tensor(node.inputs[1]).shape[1:]))

    def scratch_bytes(self, node, g):
        geo = _geometry(node, g)
        return geo["w_conv"] * 5 + geo["c_out"] * geo["w_out"] + geo["c_in"] * geo["k_h"] * geo["w_in"] * 2

    def emit(self, node, g, e):
        geo = _geometry(node, g)
        geo.pop("n")
        s_conv, z_conv = node.attrs["conv_out"]
        lo, hi = self._act(node)
        sx, zx = qparams(g, node.inputs[0])
        pkh, pkw, psh, psw, ppt, ppl = node.attrs["pool"]
        table = node.input(3)
        fields = [(k, geo[k]) for k in ("c_in", "h_in", "w_in", "in_sc", "in_sy", "in_sx", "c_out", "h_conv", "w_conv",
                                         "k_h", "k_w", "stride_h", "stride_w", "pad_top", "pad_left", "dil_h", "dil_w")]
        p = e.params("edge_sdk::tfl::ConvPoolParams", fields + [
            ("zp_in", zx), ("zp_out", z_conv), ("act_min", lo), ("act_max", hi), ("pool_kh", pkh), ("pool_kw", pkw),
            ("pool_sh", psh), ("pool_sw", psw), ("pool_pt", ppt), ("pool_pl", ppl), ("h_out", geo["h_out"]),
            ("w_out", geo["w_out"]), ("has_table", bool(table))])
        sw = np.broadcast_to(np.asarray(g.tensor(node.inputs[1]).quant.scale, np.float64).reshape(-1), (geo["c_out"],))
        mult, shift = quantize_multipliers(sx * sw / s_conv)  # as QConv: input * filter / output, in double
        m, s = e.array("int32_t", mult), e.array("int32_t", shift)
        return (f"edge_sdk::tfl::conv_pool_s8<{p}>({e.ref(node.inputs[0])}, {e.ref(node.inputs[1])}, "
                f"{e.ref(node.input(2))}, {m}, {s}, {e.ref(table) if table else 'nullptr'}, {e.ref(node.outputs[0])}, "
                f"{e.scratch('void')});")
