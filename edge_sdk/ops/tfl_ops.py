"""Internal int8 ops that follow TFLite's reference kernels bit for bit (the TFLite frontend
writes them; their arithmetic differs from the ONNX-quantizer ops in quant_ops.py).

  TflAdd / TflSub / TflMul  ADD, SUB, MUL with broadcasting (attrs: act = (lo, hi) clamp)
  TflAveragePool            AVERAGE_POOL_2D (averages stored codes; attrs: geometry, act)
  TflMean                   MEAN over the trailing `size` elements of each plane (attr: size)
  TflSoftmax                SOFTMAX over the last axis (attrs: beta)
  TflQuantize               float32 -> int8 QUANTIZE (round half away from zero, in double)

Every multiplier is computed here as TFLite's Prepare() computes it, then applied by
kernels/int8/tfl_*.h through requant.h.  Tensor quantization comes from ir.Tensor.quant.
"""
from __future__ import annotations

import math

import numpy as np

from ..quantize.fixedpoint import quantize_multiplier
from .quant_ops import qparams
from .registry import OpDef, register, unsupported

ELEMENTWISE_H = "edge_sdk/kernels/int8/tfl_elementwise.h"
REDUCE_H = "edge_sdk/kernels/int8/tfl_reduce.h"
SOFTMAX_H = "edge_sdk/kernels/int8/tfl_softmax.h"
I8 = (np.int8,)


def _f32(v: float) -> float:
    return float(np.float32(v))


def broadcast_strides(shape, out_shape) -> list[int]:
    """Element strides of a tensor of `shape` read at each index of `out_shape` (rank <= 4, padded to 4)."""
    shape = [1] * (4 - len(shape)) + list(shape)
    out = [1] * (4 - len(out_shape)) + list(out_shape)
    dense = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(4)]
    return [0 if (shape[i] == 1 and out[i] != 1) else dense[i] for i in range(4)]


class TflBinary(OpDef):
    header = ELEMENTWISE_H
    dtypes = I8
    kind = ""

    def check(self, node, g):
        super().check(node, g)
        y = g.tensor(node.outputs[0]).shape
        if len(y) > 4:
            raise unsupported(node, g, "int8 elementwise ops are supported up to 4-D")
        for t in node.inputs[:2]:
            s = g.tensor(t).shape
            if len(s) > len(y) or any(a not in (1, b) for a, b in zip(s[::-1], y[::-1])):
                raise unsupported(node, g, f"shape {list(s)} does not broadcast to {list(y)}")

    def multipliers(self, sa, sb, sy) -> list[tuple[str, object]]:
        if self.kind == "kMul":
            # mul.cc: real_multiplier = input1.scale * input2.scale / output.scale, in double
            m, s = quantize_multiplier(sa * sb / sy)
            return [("left_shift", 0), ("mult_a", 0), ("shift_a", 0), ("mult_b", 0), ("shift_b", 0),
                    ("mult_out", m), ("shift_out", s)]
        # add.cc / sub.cc: both inputs rescaled to twice the larger input scale, 2^20 finer
        left_shift = 20
        twice_max = 2.0 * max(sa, sb)
        ma, sha = quantize_multiplier(sa / twice_max)
        mb, shb = quantize_multiplier(sb / twice_max)
        mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * sy))
        return [("left_shift", left_shift), ("mult_a", ma), ("shift_a", sha), ("mult_b", mb), ("shift_b", shb),
                ("mult_out", mo), ("shift_out", sho)]

    def emit(self, node, g, e):
        a, b, y = node.inputs[0], node.inputs[1], node.outputs[0]
        (sa, za), (sb, zb), (sy, zy) = qparams(g, a), qparams(g, b), qparams(g, y)
        out = g.tensor(y).shape
        dims = [1] * (4 - len(out)) + list(out)
        lo, hi = node.attrs.get("act", (-128, 127))
        p = e.params("edge_sdk::tfl::BinaryParams", [
            ("dims", dims), ("sa", broadcast_strides(g.tensor(a).shape, out)),
            ("sb", broadcast_strides(g.tensor(b).shape, out)), ("zp_a", za), ("zp_b", zb), ("zp_out", zy)]
            + self.multipliers(sa, sb, sy) + [("act_min", lo), ("act_max", hi)])
        fn = f"edge_sdk::tfl::binary_s8<edge_sdk::tfl::BinaryOp::{self.kind}, {p}>"
        return f"{fn}({e.ref(a)}, {e.ref(b)}, {e.ref(y)});"


@register
class TflAdd(TflBinary):
    op_type = "TflAdd"
    kind = "kAdd"


@register
class TflSub(TflBinary):
    op_type = "TflSub"
    kind = "kSub"


@register
class TflMul(TflBinary):
    op_type = "TflMul"
    kind = "kMul"


@register
class TflAveragePool(OpDef):
    """attrs: kernel (kh, kw), strides (sh, sw), pads (top, left), act (lo, hi).  NCHW int8."""
    op_type = "TflAveragePool"
    header = REDUCE_H
    dtypes = I8

    def check(self, node, g):
        super().check(node, g)
        if qparams(g, node.inputs[0]) != qparams(g, node.outputs[0]):
            raise unsupported(node, g, "AVERAGE_POOL_2D needs the same scale and zero point in and out")

    def emit(self, node, g, e):
        n, c, h, w = g.tensor(node.inputs[0]).shape
        _, _, ho, wo = g.tensor(node.outputs[0]).shape
        (kh, kw), (sh, sw), (pt, pl) = node.attrs["kernel"], node.attrs["strides"], node.attrs["pads"]
        lo, hi = node.attrs.get("act", (-128, 127))
        p = e.params("edge_sdk::tfl::AvgPoolParams", [
            ("planes", n * c), ("h_in", h), ("w_in", w), ("h_out", ho), ("w_out", wo), ("k_h", kh), ("k_w", kw),
            ("stride_h", sh), ("stride_w", sw), ("pad_top", pt), ("pad_left", pl), ("act_min", lo), ("act_max", hi)])
        return f"edge_sdk::tfl::avg_pool_s8<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])});"


@register
class TflMean(OpDef):
    """Mean of each of `planes` runs of `size` contiguous int8 values (attr: size).  LiteRT's
    reference MEAN takes reference_ops::QuantizedMeanOrSum for every int8 case."""
    op_type = "TflMean"
    header = REDUCE_H
    dtypes = I8

    def emit(self, node, g, e):
        x, y = node.inputs[0], node.outputs[0]
        (sx, zx), (sy, zy) = qparams(g, x), qparams(g, y)
        size = int(node.attrs["size"])
        m, s = quantize_multiplier(sx / sy)  # reduce.cc: input.scale / output.scale in double
        shift = min(int(size).bit_length() - 1, 32, 31 + s)  # QuantizedMeanOrSum folds 1/size in
        m, s = (m << shift) // size, s - shift
        p = e.params("edge_sdk::tfl::MeanParams", [("planes", g.tensor(x).size // size), ("size", size),
                                                   ("zp_in", zx), ("zp_out", zy), ("mult", m), ("shift", s)])
        return f"edge_sdk::tfl::mean_s8<{p}>({e.ref(x)}, {e.ref(y)});"


def softmax_scaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    """TFLite's PreprocessSoftmaxScaling + CalculateInputRadius (5 integer bits): (multiplier, left_shift, diff_min)."""
    real = min(beta * input_scale * (1 << (31 - 5)), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)
    radius = math.floor(1.0 * ((1 << 5) - 1) * (1 << (31 - 5)) / (1 << shift))
    return mult, shift, -radius


@register
class TflSoftmax(OpDef):
    """Softmax over the last axis, int8 in, int8 out (scale 1/256, zero point -128).  attrs: beta."""
    op_type = "TflSoftmax"
    header = SOFTMAX_H
    dtypes = I8

    def check(self, node, g):
        super().check(node, g)
        sy, zy = qparams(g, node.outputs[0])
        if zy != -128 or abs(sy - 1 / 256) > 0.001 / 256:
            raise unsupported(node, g, "int8 SOFTMAX needs output scale 1/256 and zero point -128 (as TFLite)")

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0])
        depth = x.shape[-1]
        sx, _ = qparams(g, node.inputs[0])
        mult, shift, diff_min = softmax_scaling(float(node.attrs.get("beta", 1.0)), sx)
        p = e.params("edge_sdk::tfl::SoftmaxParams", [("rows", x.size // depth), ("depth", depth),
                                                      ("input_multiplier", mult), ("input_left_shift", shift),
                                                      ("diff_min", diff_min)])
        return f"edge_sdk::tfl::softmax_s8<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])});"


@register
class TflQuantize(OpDef):
    """float32 -> int8 with the output tensor's scale and zero point (reference_ops::AffineQuantize)."""
    op_type = "TflQuantize"
    header = ELEMENTWISE_H

    def emit(self, node, g, e):
        from ..codegen.context import cxx_literal
        s, z = qparams(g, node.outputs[0])
        n = g.tensor(node.outputs[0]).size
        return (f"edge_sdk::tfl::quantize_f32_s8({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {n}u, "
                f"{cxx_literal(s, 'double')}, {z});")


@register
class TflPad(OpDef):
    """Constant padding of an int8 tensor with its zero point (PAD / PADV2).  attrs: begin (per axis).
    Uses the generic pad kernel, with the int8 fill value typed for its template."""
    op_type = "TflPad"
    header = "edge_sdk/kernels/pad.h"
    dtypes = I8

    def emit(self, node, g, e):
        from .broadcast import MAX_RANK
        from .transpose import dense_strides
        x, y = g.tensor(node.inputs[0]).shape, g.tensor(node.outputs[0]).shape
        fill = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
        p = e.params("edge_sdk::PadParams", [("rank", len(x)), ("mode", "edge_sdk::PadMode::Constant"),
                                             ("out_dims", fill(y)), ("in_dims", fill(x)),
                                             ("in_strides", fill(dense_strides(x))),
                                             ("begin", fill(node.attrs["begin"]))])
        return (f"edge_sdk::pad<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, "
                f"static_cast<int8_t>({int(node.attrs['value'])}));")
