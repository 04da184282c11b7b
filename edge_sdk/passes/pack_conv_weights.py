"""Re-lay out the weights of convolutions that run on the fast GEMM kernel.

conv_fast.h's micro-kernel reads, for each reduction index k = (ic, kh, kw),
the weights of MR consecutive output channels from one place.  This pass turns
OIHW weights into [group][oc block][k][MR] (output channels padded with zeros
to a multiple of MR) once, at compile time, as a new constant tensor.  The
node keeps the ONNX shape in attrs["weight_shape"] and MR in attrs["packed_mr"].
Small planes with long reductions get MR = 16, which selects conv_chan.h (output
channels in the vector lanes; ops/conv.py channel_vectors_pay).
Depthwise convolutions keep OIHW (their kernel reads one filter per channel).
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..ops.conv import CHANNEL_BLOCK, channel_vectors_pay, conv_geometry, fast_kernels_enabled, is_depthwise, pick_mr


def pack_oihw(w: np.ndarray, groups: int, mr: int) -> np.ndarray:
    o = w.shape[0]
    cout_g = o // groups
    k = int(np.prod(w.shape[1:]))
    blocks = -(-cout_g // mr)
    wg = w.reshape(groups, cout_g, k)
    padded = np.zeros((groups, blocks * mr, k), np.float32)
    padded[:, :cout_g] = wg
    return np.ascontiguousarray(padded.reshape(groups, blocks, mr, k).transpose(0, 1, 3, 2))


def pack_conv_weights(g: ir.Graph) -> ir.Graph:
    if not fast_kernels_enabled():
        return g
    for n in g.nodes:
        if n.op_type != "Conv" or "packed_mr" in n.attrs:
            continue
        w = g.const(n.inputs[1])
        if w is None or w.dtype != np.float32 or len(g.tensor(n.inputs[0]).shape) not in (3, 4):
            continue
        geo = conv_geometry(n, g, n.attrs)
        if is_depthwise(geo) or geo["c_out"] % geo["groups"] or geo["c_in"] % geo["groups"]:
            continue
        mr = CHANNEL_BLOCK if channel_vectors_pay(geo, n.attrs) else pick_mr(geo["c_out"] // geo["groups"])
        packed = pack_oihw(w.reshape(w.shape[0], -1), geo["groups"], mr)
        name = n.inputs[1] + f"_packed{mr}"
        while name in g.tensors:
            name += "_"
        g.tensors[name] = ir.Tensor(name, tuple(packed.shape), np.dtype(np.float32), packed)
        n.attrs["weight_shape"] = tuple(int(d) for d in w.shape)
        n.attrs["packed_mr"] = mr
        n.inputs[1] = name
    return g
