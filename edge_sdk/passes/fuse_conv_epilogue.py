"""Fuse what follows a Conv(+activation) into its epilogue (fast kernel only):

  Conv -> [Relu] -> BatchNormalization -> [MaxPool]   (MesoNet's blocks)
  Conv -> [Relu] -> MaxPool

A BatchNormalization after the activation cannot be folded into the weights;
it becomes a per-channel affine y*scale + shift applied after the activation
(new constant inputs 3 and 4, attrs["post_affine"]).  A non-overlapping MaxPool
(kernel == stride, no padding, no dilation, floor mode), or the 3x3 stride-2 one of
SqueezeNet's and AlexNet-style stems, also padded by 1 as ResNet's (attrs["fused_pool_pads"]:
the kernel reads -inf past the conv output), becomes attrs["fused_pool"], so the full-resolution
pre-pool tensor is never stored: the kernel computes a few conv rows into scratch and pools
them (rows that overlapping windows share carried from chunk to chunk).  Must run after
fuse_activations.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..ops.conv import conv_geometry, fast_kernels_enabled, is_depthwise
from .fold_batchnorm import _add_const, _bn_scale_shift
from .rewrite import single_consumer


def _fusable_conv(g: ir.Graph, n: ir.Node) -> bool:
    if n.op_type != "Conv" or len(g.tensor(n.inputs[0]).shape) != 4 or g.const(n.inputs[1]) is None:
        return False
    if g.tensor(n.inputs[0]).dtype != np.float32 or "fused_pool" in n.attrs:
        return False
    return not is_depthwise(conv_geometry(n, g, n.attrs))


def _maxpool_window(g: ir.Graph, p: ir.Node, op_type: str = "MaxPool",
                    stem: bool = False) -> tuple[tuple[int, int, int, int], tuple[int, int]] | None:
    """The window (k_h, k_w, s_h, s_w) and top/left padding of a MaxPool a conv epilogue can
    take, or None: kernel == stride without padding, or with `stem` also the overlapping 3x3
    stride-2 window of SqueezeNet's and ResNet's stems, padded by at most 1 (the kernel reads -inf
    past the conv output).  A ceil-mode pool qualifies where its extent is floor mode's
    (torchvision's pools)."""
    if p.op_type != op_type or len([o for o in p.outputs if o]) != 1:
        return None
    auto_pad = p.attr("auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID") or p.attr("storage_order", 0):
        return None
    if any(d != 1 for d in (p.attr("dilations") or [])):
        return None
    k, s = list(p.attr("kernel_shape") or []), list(p.attr("strides") or [1, 1])
    pads = list(p.attr("pads") or [0, 0, 0, 0])
    if len(k) != 2 or len(pads) != 4 or (auto_pad == "VALID" and any(pads)):
        return None
    plain = k == s and not any(pads)
    stem_window = stem and k == [3, 3] and s == [2, 2] and all(0 <= v <= 1 for v in pads)
    if not (plain or stem_window):
        return None
    if p.attr("ceil_mode", 0):
        x, y = g.tensor(p.inputs[0]).shape, g.tensor(p.outputs[0]).shape
        if len(x) != 4 or len(y) != 4 or any((x[2 + i] + pads[i] + pads[2 + i] - k[i]) // s[i] + 1 != y[2 + i]
                                             for i in range(2)):
            return None
    return (k[0], k[1], s[0], s[1]), (pads[0], pads[1])


def fuse_conv_epilogue(g: ir.Graph) -> ir.Graph:
    if not fast_kernels_enabled():
        return g
    for conv in list(g.nodes):
        if conv not in g.nodes or not _fusable_conv(g, conv):
            continue
        nxt = single_consumer(g, conv.outputs[0])
        if nxt is not None and nxt.op_type == "BatchNormalization" and not nxt.attr("training_mode", 0):
            ss = _bn_scale_shift(g, nxt)
            cout = g.tensor(conv.outputs[0]).shape[1]
            if ss is not None and ss[0].size == cout:
                s, t = ss
                ins = (conv.inputs + ["", ""])[:3]
                conv.inputs = ins + [_add_const(g, conv.name + "_post_scale", s.astype(np.float32)),
                                     _add_const(g, conv.name + "_post_shift", t.astype(np.float32))]
                conv.attrs["post_affine"] = True
                conv.outputs[0] = nxt.outputs[0]
                g.nodes.remove(nxt)
                nxt = single_consumer(g, conv.outputs[0])
        if nxt is None:
            continue
        window = _maxpool_window(g, nxt, stem=True)
        if window is not None:
            pool, pads = window
            if any(pads):
                conv.attrs["fused_pool_pads"] = pads
            y = g.tensor(conv.outputs[0]).shape
            conv.attrs["conv_out_hw"] = (int(y[2]), int(y[3]))
            conv.attrs["fused_pool"] = pool
            conv.outputs[0] = nxt.outputs[0]
            g.nodes.remove(nxt)
    return g
