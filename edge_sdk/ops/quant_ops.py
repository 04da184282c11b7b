"""int8 ops (TFLite int8 scheme) that edge_sdk/quantize writes into the graph.

Quantization parameters live on the tensors (ir.Tensor.quant); emit() turns them
into integer kernel parameters: Q31 multipliers and shifts from
quantize/fixedpoint.py, clamp ranges from fused activations.  Kernels:
cpp/include/edge_sdk/kernels/int8/{requant,qconv,qops}.h.

Also the ONNX boundary ops QuantizeLinear / DequantizeLinear (per tensor), the
only places where float meets int8.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..quantize.fixedpoint import clamp_range, quantize_multiplier, quantize_multipliers
from .conv import fast_kernels_enabled
from .helpers import spatial_pads
from .pool import pool_geometry
from .registry import OpDef, register, unsupported

QOPS_H = "edge_sdk/kernels/int8/qops.h"
I8 = (np.int8,)


def qparams(g: ir.Graph, name: str) -> tuple[float, int]:
    """(scale, zero_point) of a per-tensor int8 tensor."""
    q = g.tensor(name).quant
    if q is None:
        raise AssertionError(f"int8 tensor '{name}' has no quantization parameters")
    return float(np.asarray(q.scale).reshape(-1)[0]), int(np.asarray(q.zero_point).reshape(-1)[0])


def act_range(node: ir.Node, g: ir.Graph) -> tuple[int, int]:
    s, z = qparams(g, node.outputs[0])
    r = clamp_range(node.attrs.get("activation"), s, z)
    if r is None:
        raise unsupported(node, g, f"fused activation {node.attrs['activation'][0]} is not a clamp in int8")
    return r


def _const_scalar(g: ir.Graph, name: str, default):
    v = g.const(name)
    return default if v is None else np.asarray(v).reshape(-1)


class QuantBoundary(OpDef):
    """QuantizeLinear / DequantizeLinear with constant per-tensor scale and zero point."""
    header = "edge_sdk/kernels/int8/requant.h"
    dtypes = None

    def check(self, node, g):
        scale = g.const(node.input(1))
        if scale is None or np.asarray(scale).size != 1:
            raise unsupported(node, g, "only constant per-tensor scales are supported at run time",
                              "per-axis quantization is supported on constant weights only")
        if node.input(2) and g.const(node.input(2)) is None:
            raise unsupported(node, g, "the zero point must be a constant")

    def _sz(self, node, g):
        scale = float(np.asarray(g.const(node.input(1))).reshape(-1)[0])
        zp = int(_const_scalar(g, node.input(2), [0])[0])
        return scale, zp


@register
class QuantizeLinear(QuantBoundary):
    op_type = "QuantizeLinear"
    since = 10

    def check(self, node, g):
        super().check(node, g)
        if np.dtype(g.tensor(node.outputs[0]).dtype) != np.int8:
            # The kernel also handles uint8 (quantize_f32<uint8_t>); enabling it here needs the
            # conformance exclusion of test_quantizelinear dropped in the same change.
            raise unsupported(node, g, "only int8 outputs are generated (uint8 graphs are re-encoded on import)")

    def emit(self, node, g, e):
        scale, zp = self._sz(node, g)
        n = g.tensor(node.outputs[0]).size
        return (f"edge_sdk::q8::quantize_f32({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {n}u, "
                f"{_flt(scale)}, {zp});")


@register
class DequantizeLinear(QuantBoundary):
    op_type = "DequantizeLinear"
    since = 10

    def emit(self, node, g, e):
        scale, zp = self._sz(node, g)
        n = g.tensor(node.outputs[0]).size
        return (f"edge_sdk::q8::dequantize_to_f32({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {n}u, "
                f"{_flt(scale)}, {zp});")


def _flt(v: float) -> str:
    from ..codegen.context import cxx_literal
    return cxx_literal(v, "float")


def conv_geometry_2d(node: ir.Node, g: ir.Graph) -> dict:
    a = node.attrs
    x, w = g.tensor(node.inputs[0]).shape, g.tensor(node.inputs[1]).shape
    y = g.tensor(node.outputs[0]).shape
    r = len(x) - 2
    k = list(a.get("kernel_shape") or w[2:])
    s = list(a.get("strides") or [1] * r)
    d = list(a.get("dilations") or [1] * r)
    begin, _ = spatial_pads(list(x[2:]), k, s, d, a.get("auto_pad", "NOTSET"), a.get("pads"))
    if r == 1:
        x, y, k, s, d, begin = (*x[:2], 1, x[2]), (*y[:2], 1, y[2]), [1] + k, [1] + s, [1] + d, [0] + begin
    return dict(n=x[0], c_in=x[1], h_in=x[2], w_in=x[3], c_out=y[1], h_out=y[2], w_out=y[3],
                k_h=k[0], k_w=k[1], stride_h=s[0], stride_w=s[1], pad_top=begin[0], pad_left=begin[1],
                dil_h=d[0], dil_w=d[1], groups=int(a.get("group", 1)))


def _requant_arrays(e, g: ir.Graph, x: str, w: str, y: str, n_out: int) -> tuple[str, str]:
    sx, _ = qparams(g, x)
    sy, _ = qparams(g, y)
    sw = np.broadcast_to(np.asarray(g.tensor(w).quant.scale, np.float64).reshape(-1), (n_out,))
    mult, shift = quantize_multipliers(sx * sw / sy)
    return e.array("int32_t", mult), e.array("int32_t", shift)


@register
class QConv(OpDef):
    """Conv on int8 NCHW activations, int8 per-output-channel weights, int32 bias."""
    op_type = "QConv"
    header = QOPS_H
    dtypes = I8

    def check(self, node, g):
        super().check(node, g)
        if len(g.tensor(node.inputs[0]).shape) not in (3, 4):
            raise unsupported(node, g, "only 1-D and 2-D int8 convolution is supported")
        act_range(node, g)

    def macs(self, node, g):
        return g.tensor(node.outputs[0]).size * int(np.prod(g.tensor(node.inputs[1]).shape[1:]))

    def scratch_bytes(self, node, g):
        geo = conv_geometry_2d(node, g)
        span = (geo["w_out"] - 1) * geo["stride_w"] + (geo["k_w"] - 1) * geo["dil_w"] + 1
        if node.attrs.get("reference"):
            return 4 * geo["h_out"] * geo["w_out"]  # the reference kernel's accumulator plane
        rows = geo["c_out"] // geo["groups"] * geo["w_out"] * 4 + span * 2  # rows_scratch_bytes in qconv.h
        im2col = geo["w_out"] * (geo["c_in"] // geo["groups"]) * geo["k_h"] * geo["k_w"]
        k = geo["c_in"] // geo["groups"] * geo["k_h"] * geo["k_w"]
        # vnni_scratch_bytes in qconv_x86.h (reserved on every target: the emitter does not know the ISA)
        vnni = (k + 3) // 4 * 4 * 32 if fast_kernels_enabled() else 0
        return max(rows, im2col, vnni)  # whichever path qconv.h picks (use_vnni, use_im2col)

    def emit(self, node, g, e):
        geo = conv_geometry_2d(node, g)
        _, zx = qparams(g, node.inputs[0])
        _, zy = qparams(g, node.outputs[0])
        lo, hi = act_range(node, g)
        p = e.params("edge_sdk::q8::QConvParams", list(geo.items()) + [
            ("zp_in", zx), ("zp_out", zy), ("act_min", lo), ("act_max", hi)])
        m, s = _requant_arrays(e, g, node.inputs[0], node.inputs[1], node.outputs[0], geo["c_out"])
        x, y, wt, b = e.ref(node.inputs[0]), e.ref(node.outputs[0]), e.ref(node.inputs[1]), e.ref(node.input(2))
        if node.attrs.get("reference"):  # tests: force the reference kernel
            return (f"edge_sdk::q8::conv2d_s8_reference<{p}>({x}, {wt}, {b}, {m}, {s}, {y}, "
                    f"{e.scratch('int32_t')});")
        w = g.const(node.inputs[1]).astype(np.int64)
        bias = g.const(node.input(2))
        bias = np.zeros(geo["c_out"], np.int64) if bias is None else bias.astype(np.int64).reshape(-1)
        folded = np.clip(bias - zx * w.reshape(w.shape[0], -1).sum(axis=1), -(1 << 31), (1 << 31) - 1)
        bf = e.array("int32_t", folded.astype(np.int32))  # bias - zp_in * sum(w), for the im2col path
        # bias - (zp_in + 128) * sum(w): the x86 VNNI path multiplies x + 128 (unsigned) by w.
        folded_u8 = np.clip(bias - (zx + 128) * w.reshape(w.shape[0], -1).sum(axis=1), -(1 << 31), (1 << 31) - 1)
        bu = e.array("int32_t", folded_u8.astype(np.int32))
        simd = "" if fast_kernels_enabled() else ", false"  # EDGE_SDK_KERNELS=portable: no SIMD path
        return f"edge_sdk::q8::conv2d_s8<{p}{simd}>({x}, {wt}, {b}, {bf}, {bu}, {m}, {s}, {y}, {e.scratch('void')});"


@register
class QFullyConnected(OpDef):
    """y[M,N] = x[M,K] . w[N,K]^T + bias, int8 in/out, int32 bias (Gemm/MatMul with constant weights)."""
    op_type = "QFullyConnected"
    header = QOPS_H
    dtypes = I8

    def check(self, node, g):
        super().check(node, g)
        act_range(node, g)

    def macs(self, node, g):
        return g.tensor(node.outputs[0]).size * g.tensor(node.inputs[1]).shape[1]

    def emit(self, node, g, e):
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        n, k = g.tensor(w).shape
        m = g.tensor(x).size // k
        _, zx = qparams(g, x)
        _, zy = qparams(g, y)
        lo, hi = act_range(node, g)
        bias = g.const(node.input(2))
        bias = np.zeros(n, np.int64) if bias is None else bias.astype(np.int64).reshape(-1)
        folded = bias - zx * g.const(w).astype(np.int64).sum(axis=1)  # keeps the inner loop a pure dot
        folded = np.clip(folded, -(1 << 31), (1 << 31) - 1).astype(np.int32)
        p = e.params("edge_sdk::q8::QFullyConnectedParams",
                     [("m", m), ("n", n), ("k", k), ("zp_out", zy), ("act_min", lo), ("act_max", hi)])
        ms, ss = _requant_arrays(e, g, x, w, y, n)
        b = e.array("int32_t", folded)
        return f"edge_sdk::q8::fully_connected_s8<{p}>({e.ref(x)}, {e.ref(w)}, {b}, {ms}, {ss}, {e.ref(y)});"


def broadcast_form(g: ir.Graph, node: ir.Node) -> tuple[int, int, bool] | None:
    """(outer, inner, b_per_outer) when b equals a's shape, or is a's leading dims then 1s."""
    a, b = g.tensor(node.inputs[0]).shape, g.tensor(node.inputs[1]).shape
    size = int(np.prod(a, dtype=np.int64))
    if tuple(a) == tuple(b):
        return 1, size, False
    if len(b) != len(a) or tuple(g.tensor(node.outputs[0]).shape) != tuple(a):
        return None
    k = len(b)
    while k > 0 and b[k - 1] == 1:
        k -= 1
    if tuple(b[:k]) != tuple(a[:k]):
        return None
    outer = int(np.prod(a[:k], dtype=np.int64))
    return outer, size // outer, True


class QBinary(OpDef):
    header = QOPS_H
    dtypes = I8

    def check(self, node, g):
        super().check(node, g)
        if broadcast_form(g, node) is None:
            raise unsupported(node, g, "int8 binary ops need equal shapes or a per-leading-dims second input")
        act_range(node, g)


@register
class QFullyConnectedF32(QFullyConnected):
    """QFullyConnected whose int32 accumulator is dequantized to float (all its readers are fp32)."""
    op_type = "QFullyConnectedF32"

    def check(self, node, g):
        OpDef.check(self, node, g)

    def emit(self, node, g, e):
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        n, k = g.tensor(w).shape
        m = g.tensor(x).size // k
        sx, zx = qparams(g, x)
        kind, a, b = node.attrs.get("activation") or (None, 0.0, 0.0)
        lo, hi = {None: (-np.inf, np.inf), "Relu": (0.0, np.inf), "Clip": (a, b)}[kind]
        bias = g.const(node.input(2))
        bias = np.zeros(n, np.int64) if bias is None else bias.astype(np.int64).reshape(-1)
        folded = np.clip(bias - zx * g.const(w).astype(np.int64).sum(axis=1), -(1 << 31), (1 << 31) - 1)
        sw = np.broadcast_to(np.asarray(g.tensor(w).quant.scale, np.float64).reshape(-1), (n,))
        p = e.params("edge_sdk::q8::QFullyConnectedF32Params",
                     [("m", m), ("n", n), ("k", k), ("act_min", float(lo)), ("act_max", float(hi))])
        bf = e.array("int32_t", folded.astype(np.int32))
        sc = e.array("float", (sx * sw).astype(np.float32))
        return f"edge_sdk::q8::fully_connected_s8_f32<{p}>({e.ref(x)}, {e.ref(w)}, {bf}, {sc}, {e.ref(y)});"


@register
class QAdd(QBinary):
    op_type = "QAdd"
    LEFT_SHIFT = 20

    def emit(self, node, g, e):
        (sa, za), (sb, zb), (sy, zy) = (qparams(g, t) for t in (node.inputs[0], node.inputs[1], node.outputs[0]))
        twice_max = 2.0 * max(sa, sb)
        ma, sha = quantize_multiplier(sa / twice_max)
        mb, shb = quantize_multiplier(sb / twice_max)
        mo, sho = quantize_multiplier(twice_max / ((1 << self.LEFT_SHIFT) * sy))
        lo, hi = act_range(node, g)
        outer, inner, per = broadcast_form(g, node)
        p = e.params("edge_sdk::q8::QAddParams", [
            ("outer", outer), ("inner", inner), ("b_per_outer", per),
            ("zp_a", za), ("zp_b", zb), ("zp_out", zy), ("left_shift", self.LEFT_SHIFT),
            ("mult_a", ma), ("shift_a", sha), ("mult_b", mb), ("shift_b", shb), ("mult_out", mo), ("shift_out", sho),
            ("act_min", lo), ("act_max", hi)])
        return (f"edge_sdk::q8::add_s8<{p}>({e.ref(node.inputs[0])}, {e.ref(node.inputs[1])}, "
                f"{e.ref(node.outputs[0])});")


@register
class QMul(QBinary):
    op_type = "QMul"

    def emit(self, node, g, e):
        (sa, za), (sb, zb), (sy, zy) = (qparams(g, t) for t in (node.inputs[0], node.inputs[1], node.outputs[0]))
        m, s = quantize_multiplier(sa * sb / sy)
        lo, hi = act_range(node, g)
        outer, inner, per = broadcast_form(g, node)
        p = e.params("edge_sdk::q8::QMulParams", [
            ("outer", outer), ("inner", inner), ("b_per_outer", per), ("zp_a", za), ("zp_b", zb), ("zp_out", zy),
            ("mult", m), ("shift", s), ("act_min", lo), ("act_max", hi)])
        return (f"edge_sdk::q8::mul_s8<{p}>({e.ref(node.inputs[0])}, {e.ref(node.inputs[1])}, "
                f"{e.ref(node.outputs[0])});")


class QPool(OpDef):
    header = QOPS_H
    dtypes = I8
    attrs = {"auto_pad": "NOTSET", "ceil_mode": 0, "count_include_pad": 0}
    fn = ""

    def check(self, node, g):
        super().check(node, g)
        if len(g.tensor(node.inputs[0]).shape) not in (3, 4):
            raise unsupported(node, g, "only 1-D and 2-D int8 pooling is supported")
        if qparams(g, node.inputs[0]) != qparams(g, node.outputs[0]):
            raise AssertionError("int8 pooling keeps its input's scale and zero point")
        act_range(node, g)

    def emit(self, node, g, e):
        lo, hi = act_range(node, g)
        _, zp = qparams(g, node.inputs[0])
        fields = pool_geometry(node, g, self.attributes(node))
        p = e.params("edge_sdk::q8::QPoolParams", fields + [("zp", zp), ("act_min", lo), ("act_max", hi)])
        return f"edge_sdk::q8::{self.fn}<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])});"


@register
class QMaxPool(QPool):
    op_type = "QMaxPool"
    fn = "max_pool_s8"


@register
class QAveragePool(QPool):
    op_type = "QAveragePool"
    fn = "avg_pool_s8"


@register
class QGlobalAveragePool(OpDef):
    op_type = "QGlobalAveragePool"
    header = QOPS_H
    dtypes = I8

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        planes, size = x[0] * x[1], int(np.prod(x[2:], dtype=np.int64))
        (sx, zx), (sy, zy) = qparams(g, node.inputs[0]), qparams(g, node.outputs[0])
        m, s = quantize_multiplier(sx / (sy * size))
        lo, hi = act_range(node, g)
        p = e.params("edge_sdk::q8::QGlobalAvgParams", [
            ("planes", planes), ("size", size), ("zp_in", zx), ("zp_out", zy), ("mult", m), ("shift", s),
            ("act_min", lo), ("act_max", hi)])
        return f"edge_sdk::q8::global_avg_pool_s8<{p}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])});"


@register
class QConcat(OpDef):
    """Concat of int8 tensors; inputs whose scale differs from the output's are requantized."""
    op_type = "QConcat"
    header = QOPS_H
    dtypes = I8

    def emit(self, node, g, e):
        y = g.tensor(node.outputs[0])
        axis = int(node.attrs.get("axis", 1)) % len(y.shape)
        outer = int(np.prod(y.shape[:axis], dtype=np.int64))
        inner_out = int(np.prod(y.shape[axis:], dtype=np.int64))
        sy, zy = qparams(g, node.outputs[0])
        lines, offset = [], 0
        for t in node.inputs:
            inner = int(np.prod(g.tensor(t).shape[axis:], dtype=np.int64))
            sx, zx = qparams(g, t)
            m, s = quantize_multiplier(sx / sy)
            ident = (sx == sy and zx == zy)
            p = e.params("edge_sdk::q8::QRequantParams", [
                ("outer", outer), ("inner_in", inner), ("inner_out", inner_out), ("offset", offset),
                ("identity", ident), ("zp_in", zx), ("zp_out", zy), ("mult", m), ("shift", s)])
            lines.append(f"edge_sdk::q8::concat_part_s8<{p}>({e.ref(t)}, {e.ref(node.outputs[0])});")
            offset += inner
        return "\n".join(lines)


@register
class QLookup(OpDef):
    """y = table[x + 128]: any elementwise function of one int8 tensor (table built at compile time)."""
    op_type = "QLookup"
    header = QOPS_H
    dtypes = I8
    inplace = True

    def emit(self, node, g, e):
        n = g.tensor(node.outputs[0]).size
        return (f"edge_sdk::q8::lut_s8({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {n}u, "
                f"{e.ref(node.inputs[1])});")
