"""Helpers shared by several op definitions (padding rules, fused activations)."""
from __future__ import annotations

import math

from .. import ir

ACT_ENUM = {None: "edge_sdk::Act::None", "Relu": "edge_sdk::Act::Relu", "Clip": "edge_sdk::Act::Clip",
            "LeakyRelu": "edge_sdk::Act::LeakyRelu", "HardSigmoid": "edge_sdk::Act::HardSigmoid",
            "HardSwish": "edge_sdk::Act::HardSwish", "Sigmoid": "edge_sdk::Act::Sigmoid",
            "Silu": "edge_sdk::Act::Silu"}


def act_fields(node: ir.Node) -> list[tuple[str, object]]:
    """The (act, act_alpha, act_beta) fields for a kernel parameter block."""
    kind, a, b = node.attrs.get("activation") or (None, 0.0, 0.0)
    return [("act", ACT_ENUM[kind]), ("act_alpha", float(a)), ("act_beta", float(b))]


def spatial_pads(in_shape: list[int], kernel: list[int], strides: list[int], dilations: list[int],
                 auto_pad: str, pads: list[int] | None, ceil_mode: bool = False) -> tuple[list[int], list[int]]:
    """(pads_begin, pads_end) per spatial axis, following the ONNX Conv/Pool rules."""
    r = len(in_shape)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(r):
            out = math.ceil(in_shape[i] / strides[i])
            eff_k = (kernel[i] - 1) * dilations[i] + 1
            total = max((out - 1) * strides[i] + eff_k - in_shape[i], 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
        return begin, end
    if auto_pad == "VALID" or not pads:
        return [0] * r, [0] * r
    return list(pads[:r]), list(pads[r:2 * r])


def pool_out_size(in_len: int, k: int, stride: int, dil: int, pad_begin: int, pad_end: int, ceil_mode: bool) -> int:
    """Output length of a pooling window sweep as onnxruntime computes it: with ceil_mode
    a last window that would start in the end padding is dropped."""
    num = in_len + pad_begin + pad_end - ((k - 1) * dil + 1)
    o = (-(-num // stride) if ceil_mode else num // stride) + 1
    if ceil_mode and (o - 1) * stride >= in_len + pad_begin:
        o -= 1
    return o
