"""Fuse what follows an int8 QConv into its epilogue (int8 twin of fuse_conv_epilogue.py):

  QConv -> QConv (depthwise 1x1: a BatchNormalization after the activation) -> [QMaxPool]
  QConv -> QMaxPool

The depthwise 1x1 conv maps each channel's int8 values to int8 values, so it becomes a
per-channel 256-entry table evaluated by the C++ compiler with requant.h's rule
(attrs["post_lut"]; its weights and bias become inputs 3 and 4).  A non-overlapping
MaxPool (kernel == stride, no padding, floor mode) becomes attrs["fused_pool"]; the kernel
(kernels/int8/qconv_pool.h) computes a band of conv rows into scratch, maps and pools it,
so neither the conv's nor the table's full-resolution output is ever stored.  The result is
bit-identical to the unfused graph: every pooled value is the max over exactly the values
the unfused ops would have stored.  Runs on every target (the arena saving matters most on
microcontrollers).

A conv that runs in output-channel lanes on x86 VNNI (qconv_x86_cout.h: ResNet's 7x7 stride-2
stem) takes the MaxPool after it, also the overlapping 3x3 stride-2 one padded by 1, into that
kernel's epilogue instead (attrs["lane_pool"]: the window, strides and top/left padding): it pools
the int32 sums and requantizes a quarter as many values.  Other targets run 16 output channels
at a time into scratch and pool them from there (conv2d_s8_max_pool in kernels/int8/qops.h).
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..ops.quant_ops import (conv_geometry_2d, conv_multipliers, conv_scratch_bytes, fused_scratch_bytes,
                              is_channel_map, lane_pool_clamp, pooled_bands, takes_lane_pool)
from .fuse_conv_epilogue import _maxpool_window
from .rewrite import single_consumer


def _qparams(g: ir.Graph, name: str) -> tuple[float, int]:
    q = g.tensor(name).quant
    return float(np.asarray(q.scale).reshape(-1)[0]), int(np.asarray(q.zero_point).reshape(-1)[0])


def _fusable(g: ir.Graph, n: ir.Node) -> bool:
    if n.op_type != "QConv" or n.attrs.get("reference") or "conv_out" in n.attrs:
        return False
    x = g.tensor(n.inputs[0]).shape
    return len(x) == 4 and x[0] == 1 and g.const(n.inputs[1]) is not None


def _channel_map(g: ir.Graph, b: ir.Node) -> bool:
    """A depthwise 1x1 QConv with constant weights: a per-channel int8 -> int8 map."""
    if b.op_type != "QConv" or b.attrs.get("reference") or len(g.tensor(b.inputs[0]).shape) != 4:
        return False
    if g.const(b.inputs[1]) is None or (b.input(2) and g.const(b.input(2)) is None):
        return False
    return is_channel_map(conv_geometry_2d(b, g))


def _lane_pool(g: ir.Graph, conv: ir.Node, pool: ir.Node | None) -> tuple | None:
    """(k_h, k_w, s_h, s_w, pad_top, pad_left) where qconv_x86_cout.h can take this MaxPool."""
    window = _maxpool_window(g, pool, "QMaxPool", stem=True) if pool is not None else None
    if window is None or not takes_lane_pool(conv_geometry_2d(conv, g), window[0], *conv_multipliers(conv, g)):
        return None
    q = _qparams(g, pool.outputs[0])
    if lane_pool_clamp(conv.attrs.get("activation"), pool.attrs.get("activation"), *q) is None:
        return None
    return (*window[0], *window[1])


def fuse_qconv_epilogue(g: ir.Graph) -> ir.Graph:
    for conv in list(g.nodes):
        if conv not in g.nodes or not _fusable(g, conv):
            continue
        y = conv.outputs[0]
        conv_out = {"shape": tuple(g.tensor(y).shape), "q": _qparams(g, y)}
        nxt = single_consumer(g, y)
        lane_pool = _lane_pool(g, conv, nxt)
        if lane_pool is not None:
            conv.attrs.update(conv_out=conv_out, lane_pool=lane_pool, pool_activation=nxt.attrs.get("activation"))
            conv.outputs[0] = nxt.outputs[0]
            g.nodes.remove(nxt)
            continue
        lut = None
        if nxt is not None and _channel_map(g, nxt):
            lut = nxt
            nxt = single_consumer(g, lut.outputs[0])
        pool = None
        window = _maxpool_window(g, nxt, "QMaxPool") if nxt is not None else None
        if window is not None and min(g.tensor(nxt.outputs[0]).shape[2:]) > 0:
            pool = (nxt, window[0])
        if lut is None and pool is None:
            continue
        rows, ph = g.tensor(pool[0].outputs[0] if pool else y).shape[2], pool[1][0] if pool else 1
        geo = conv_geometry_2d(conv, g)
        if pooled_bands(geo, ph, rows) is None:
            continue
        if pool is None and fused_scratch_bytes(geo, 1, 1, rows) - conv_scratch_bytes(geo) > g.tensor(y).nbytes:
            continue  # a table alone saves one tensor: not worth band buffers larger than it
        conv.attrs["conv_out"] = conv_out
        if lut is not None:
            ins = (list(conv.inputs) + ["", ""])[:3]
            conv.inputs = ins + [lut.inputs[1], lut.input(2)]
            conv.attrs["post_lut"] = {"activation": lut.attrs.get("activation")}
            conv.outputs[0] = lut.outputs[0]
            g.nodes.remove(lut)
        if pool is not None:
            p, k = pool
            conv.attrs["fused_pool"] = (k[0], k[1])
            conv.attrs["pool_activation"] = p.attrs.get("activation")
            conv.outputs[0] = p.outputs[0]
            g.nodes.remove(p)
    return g
