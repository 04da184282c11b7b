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
from ..quantize.fixedpoint import clamp_range, quantize_multiplier, quantize_multipliers, short_requant
from .conv import fast_kernels_enabled
from .helpers import spatial_pads
from .pool import pool_geometry
from .registry import ChannelSplit, OpDef, register, unsupported

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
    # A fused epilogue (passes/fuse_qconv_epilogue.py) records the conv's own output.
    y = a["conv_out"]["shape"] if "conv_out" in a else g.tensor(node.outputs[0]).shape
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


def conv_scratch_bytes(geo: dict, w_quads: bool = True) -> int:
    """Scratch of conv2d_s8 (qconv.h) for this geometry: whichever path it picks (w_quads False: a
    call without them, where the x86 VNNI direct, depthwise, channel-quad and lane paths stand back)."""
    span = (geo["w_out"] - 1) * geo["stride_w"] + (geo["k_w"] - 1) * geo["dil_w"] + 1
    rows = geo["c_out"] // geo["groups"] * geo["w_out"] * 4 + span * 2  # rows_scratch_bytes in qconv.h
    im2col = geo["w_out"] * (geo["c_in"] // geo["groups"]) * geo["k_h"] * geo["k_w"]
    k = geo["c_in"] // geo["groups"] * geo["k_h"] * geo["k_w"]
    # vnni_scratch_bytes in qconv_x86.h (reserved on every target: the emitter does not know the ISA)
    vnni = (k + 3) // 4 * 4 * 32 if fast_kernels_enabled() else 0
    avx2 = (k + 1) // 2 * 2 * 16 * 2 if fast_kernels_enabled() else 0  # avx2_scratch_bytes in qconv_avx2.h
    quads = [direct_scratch_bytes(geo, 1), dw_scratch_bytes(geo), quad_scratch_bytes(geo)] if w_quads else []
    simd = [avx2_direct_scratch_bytes(geo, 1), avx2_dw_scratch_bytes(geo), *quads] if fast_kernels_enabled() else []
    return max(rows, im2col, vnni, avx2, *simd)


def uses_vnni_dw(geo: dict) -> bool:
    """use_vnni_dw<P>() in qconv_x86_dw.h."""
    g = geo
    return (g["groups"] == g["c_in"] == g["c_out"] and g["dil_h"] == g["dil_w"] == 1 and g["stride_h"] in (1, 2)
            and g["stride_w"] == g["stride_h"] and g["k_w"] <= 8 and g["k_h"] <= 8)


def dw_scratch_bytes(geo: dict) -> int:
    """vnni_dw_scratch_bytes<P>() in qconv_x86_dw.h: none for planes held in one register."""
    if not uses_vnni_dw(geo) or (geo["h_in"] * geo["w_in"] <= 64 and geo["h_out"] * geo["w_out"] <= 64):
        return 0
    s = geo["stride_w"]
    span = (geo["w_out"] - 1) * s + geo["k_w"]
    wp = (span + s - 1) // s * s
    rows = (geo["h_out"] - 1) * s + geo["k_h"]
    plane = ((rows + s - 1) // s + 1) * wp + 64
    return s * plane + geo["h_out"] * (wp // s) + 16


def avx2_dw_scratch_bytes(geo: dict) -> int:
    """avx2_dw_scratch_bytes<P>() in qconv_avx2_dw.h (Avx2Dw<P>): pair planes + the int8 strip."""
    g = geo  # use_avx2_dw<P>()
    if not (g["groups"] == g["c_in"] == g["c_out"] > 1 and g["stride_h"] == g["stride_w"] in (1, 2)
            and g["dil_h"] == g["dil_w"] == 1 and g["k_h"] <= 7 and g["k_w"] <= 7 and g["k_h"] * g["k_w"] > 1):
        return 0
    s, pairs = g["stride_w"], (g["k_w"] + 1) // 2
    wq = ((g["w_out"] - 1) * s + g["k_w"] + s - 1) // s
    rows = min(g["h_out"], max(1, 256 // wq))
    phase_rows = ((rows - 1) * s + g["k_h"] + s - 1) // s
    out_lanes = (rows * wq + 15) // 16 * 16
    reach = (g["k_h"] - 1) // s * wq + 2 * (pairs - 1) // s
    lanes = max(out_lanes + reach, phase_rows * wq) + 8
    return _align64(s * lanes * 4) + out_lanes


def uses_direct(geo: dict) -> bool:
    """use_vnni_direct<P>() in qconv_x86_direct.h."""
    g = geo
    return (g["groups"] == 1 and g["dil_w"] == 1 and g["stride_w"] in (1, 2) and g["k_w"] <= 8 and g["w_out"] >= 16
            and g["c_in"] <= 256 and (g["c_out"] <= 16 or g["c_out"] % 16 == 0) and g["k_w"] >= 2
            and g["c_in"] * g["k_h"] * g["k_w"] >= 8)


def direct_scratch_bytes(geo: dict, rows: int) -> int:
    """direct_scratch_bytes<P>(rows) in qconv_x86_direct.h: the padded input rows."""
    if not uses_direct(geo):
        return 0
    q = (geo["k_w"] + 3) // 4
    row_len = _align64((geo["w_out"] - 1) * geo["stride_w"] + 4 * (q - 1) + 64)
    nrows = (rows - 1) * geo["stride_h"] + (geo["k_h"] - 1) * geo["dil_h"] + 1
    return geo["c_in"] * nrows * row_len


def uses_quad(geo: dict) -> bool:
    """Whether conv2d_s8 takes qconv_x86_quad.h (with QConvParams::channel_quads, which the emitter
    sets where this holds; a conv fused with pooling then runs it band by band)."""
    g = geo
    return (fast_kernels_enabled() and g["groups"] == 1 and g["stride_h"] == g["stride_w"] == 1
            and g["dil_h"] == g["dil_w"] == 1 and g["k_h"] * g["k_w"] > 1 and g["k_h"] <= 7 and g["k_w"] <= 7
            and g["c_in"] >= 16 and g["c_out"] % 16 == 0)


# qconv_x86_cout.h (output channels in the lanes) takes the layers whose output plane has at most
# this many pixels, and the stride-2 ones; the channel-quad kernel keeps wider stride-1 planes.
COUT_MAX_PIXELS = 196
COUT_L1_WEIGHTS = 16384  # kCoutL1Weights in qconv_x86_cout.h


def cout_taps(geo: dict) -> bool:
    """CoutLayout<P>::taps in qconv_x86_cout.h: the packed input's dwords are 4 neighbouring columns
    of one channel (tap quads) rather than 4 channels of one pixel, where that leaves fewer idle bytes."""
    return geo["k_w"] * ((geo["c_in"] + 3) // 4) > geo["c_in"] * ((geo["k_w"] + 3) // 4)


def _cout_busy(geo: dict) -> float:
    """The fraction of each vpdpbusd's bytes that are real taps in qconv_x86_cout.h."""
    if cout_taps(geo):
        return geo["k_w"] / (4 * ((geo["k_w"] + 3) // 4))
    return geo["c_in"] / (4 * ((geo["c_in"] + 3) // 4))


def uses_cout_lanes(geo: dict) -> bool:
    """Whether the geometry suits qconv_x86_cout.h (the emitter also needs short requantization):
    small planes and strided layers of 16+ input channels, and layers with a few input channels
    and a wide kernel (a 7x7 stem on RGB) in tap quads, where at least 3 of each 4 bytes are taps."""
    g = geo
    if not (fast_kernels_enabled() and g["groups"] == 1 and g["dil_h"] == g["dil_w"] == 1
            and g["stride_h"] in (1, 2) and g["stride_w"] in (1, 2) and g["k_h"] <= 7 and g["k_w"] <= 7
            and g["c_out"] >= 16 and -g["c_out"] % 16 * 8 <= g["c_out"]):  # padded blocks: at most 1/8 idle lanes
        return False
    if g["c_in"] < 16:  # tap quads only: channel quads of 3 real bytes lost to the other kernels
        return cout_taps(g) and _cout_busy(g) >= 0.75
    return g["h_out"] * g["w_out"] <= COUT_MAX_PIXELS or g["stride_h"] * g["stride_w"] > 1


def _packed_planes(geo: dict, taps: bool) -> tuple[int, int, int]:
    """(planes, bytes a plane, steps along a kernel row) of the packed input of qconv_x86_quad.h
    and qconv_x86_cout.h (QuadGeometry<P>, CoutLayout<P>): channel quads, or with `taps` one plane
    of padded rows a channel."""
    wp = (geo["w_out"] - 1) * geo["stride_w"] + geo["k_w"]
    hp = (geo["h_out"] - 1) * geo["stride_h"] + geo["k_h"]
    if taps:
        cols = (geo["k_w"] + 3) // 4
        return geo["c_in"], _align64(hp * ((geo["w_out"] - 1) * geo["stride_w"] + 4 * cols)), cols
    return (geo["c_in"] + 3) // 4, _align64((hp * wp + 16 + geo["k_w"]) * 4), geo["k_w"]


def quad_scratch_bytes(geo: dict) -> int:
    """vnni_quad_scratch_bytes<P>() in qconv_x86_quad.h (QuadGeometry<P>), or at least
    vnni_cout_scratch_bytes<P>() in qconv_x86_cout.h (the emitter checks it with a static_assert)."""
    quad, cout = uses_quad(geo), uses_cout_lanes(geo)
    if not (quad or cout):
        return 0
    quads, plane, cols = _packed_planes(geo, cout and cout_taps(geo))
    wp = (geo["w_out"] - 1) * geo["stride_w"] + geo["k_w"]
    flat = -(-geo["h_out"] * wp // 16) * 16 if quad else 0
    # CoutPlan<P>::partial: an oc tile's sums (at most 4 blocks of 16 channels a pixel) between passes
    # over the input quads, where a tile's weights for all of them overflow kCoutL1Weights
    passes = cout and _cout_passes(geo, quads, cols)
    partial = geo["h_out"] * geo["w_out"] * min(4, -(-geo["c_out"] // 16)) * 64 if passes else 0
    return quads * plane + max(16 * flat, partial)


def _cout_passes(geo: dict, quads: int, cols: int, blocks: int = 4) -> bool:
    """Whether qconv_x86_cout.h splits the reduction into passes (CoutPasses<P, J>) for tiles of this
    many blocks of 16 channels (by default the widest; a narrower tile splits only where it does)."""
    blocks = min(blocks, -(-geo["c_out"] // 16))
    return quads > max(1, COUT_L1_WEIGHTS // (blocks * 64 * geo["k_h"] * cols))


def lane_pool_scratch_bytes(geo: dict, window: tuple, pooled_w: int) -> int:
    """At least vnni_cout_pool_scratch_bytes<P, Q>() in qconv_x86_cout.h: the packed input and the
    open pooled rows' maxima (CoutPoolPlan<P, Q>: at most 4 blocks of 16 channels a pixel)."""
    quads, plane, _ = _packed_planes(geo, cout_taps(geo))
    k_h, _, s_h, _ = window
    return quads * plane + -(-k_h // s_h) * pooled_w * min(4, geo["c_out"] // 16) * 64


def takes_lane_pool(geo: dict, window: tuple, mult: np.ndarray, shift: np.ndarray) -> bool:
    """Whether qconv_x86_cout.h can run this conv with the MaxPool `window` (k_h, k_w, s_h, s_w) after
    it in its epilogue (conv2d_s8_vnni_cout_pool): the conv runs in output-channel lanes in one pass
    over the input (for tiles of one block at least: CoutPoolPlan::max_j), its requantization never
    decreases (so pooling the int32 sums first is exact), and a window overlaps the next by at most a
    column, in tiles of up to 8 pixels (cout_pool_tile)."""
    if not (uses_cout_lanes(geo) and geo["c_out"] % 16 == 0 and short_requant(shift)
            and bool(np.all(np.asarray(mult) >= 0))):
        return False
    _, k_w, _, s_w = window
    quads, _, cols = _packed_planes(geo, cout_taps(geo))
    tiles = any(i >= k_w for i in range(s_w, 9, s_w))
    return k_w <= s_w + 1 and tiles and not _cout_passes(geo, quads, cols, blocks=1)


def quad_weights(geo: dict, w: np.ndarray) -> np.ndarray:
    """OIHW int8 weights as qconv_x86_quad.h reads them: [oc / 16][quad][kh][kw][16 channels] int32,
    the bytes of input channels 4q..4q+3 (0 past c_in)."""
    co, ci, kh, kw = w.shape
    cq = (ci + 3) // 4
    padded = np.zeros((co, cq * 4, kh, kw), np.int8)
    padded[:, :ci] = w
    # [oc/16][16][cq][4][kh][kw] -> [oc/16][cq][kh][kw][16][4]
    t = padded.reshape(co // 16, 16, cq, 4, kh, kw).transpose(0, 2, 4, 5, 1, 3)
    return np.ascontiguousarray(t).view("<i4").reshape(-1)


def tap_quad_weights(geo: dict, w: np.ndarray) -> np.ndarray:
    """OIHW int8 weights as qconv_x86_cout.h reads them in its tap-quad layout (cout_taps):
    [oc / 16][ic][kh][r][16 channels] int32, the bytes of kernel columns 4r..4r+3 (0 past k_w)."""
    co, ci, kh, kw = w.shape
    r = (kw + 3) // 4
    padded = np.zeros((co, ci, kh, 4 * r), np.int8)
    padded[..., :kw] = w
    t = padded.reshape(co // 16, 16, ci, kh, r, 4).transpose(0, 2, 3, 4, 1, 5)
    return np.ascontiguousarray(t).view("<i4").reshape(-1)


def direct_weight_quads(geo: dict, w: np.ndarray) -> np.ndarray | None:
    """OIHW int8 weights as qconv_x86_direct.h and qconv_x86_dw.h read them, or None where
    neither applies: [oc][ic][kh][q] int32, the bytes of taps 4q..4q+3 of kernel row kh (0 past k_w)."""
    if not (uses_direct(geo) or uses_vnni_dw(geo)):
        return None
    q = (geo["k_w"] + 3) // 4
    quads = np.zeros((*w.shape[:3], 4 * q), np.int8)
    quads[..., :w.shape[3]] = w
    return np.ascontiguousarray(quads).view("<i4").reshape(-1)


def uses_avx2_direct(geo: dict) -> bool:
    """use_avx2_direct<P>() in qconv_avx2_direct.h."""
    g = geo
    return (g["groups"] == 1 and g["k_h"] * g["k_w"] > 1 and 2 <= g["c_in"] <= 64 and g["c_out"] < 32
            and g["w_out"] >= 16 and g["stride_w"] <= 4)


def avx2_direct_scratch_bytes(geo: dict, rows: int) -> int:
    """avx2d_scratch_bytes<P>(rows) in qconv_avx2_direct.h: the pair rows."""
    if not uses_avx2_direct(geo):
        return 0
    lanes = (-(-geo["w_out"] // 16) * 16 + (geo["k_w"] - 1) * geo["dil_w"] // geo["stride_w"] + 7) // 8 * 8
    nrows = (rows - 1) * geo["stride_h"] + (geo["k_h"] - 1) * geo["dil_h"] + 1
    return (geo["c_in"] + 1) // 2 * nrows * geo["stride_w"] * lanes * 4


def uses_avx2_gather(geo: dict) -> bool:
    """use_avx2<P>() in qconv.h (the gather kernel, qconv_avx2.h)."""
    cin_g, cout_g = geo["c_in"] // geo["groups"], geo["c_out"] // geo["groups"]
    return cout_g >= 4 and cin_g > 1 and cin_g * geo["k_h"] * geo["k_w"] >= 8


def _int16_pairs(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    lo, hi = lo.astype(np.int16).view(np.uint16).astype(np.uint32), hi.astype(np.int16).view(np.uint16).astype(np.uint32)
    return (lo | hi << 16).view(np.int32)


def avx2_weight_pairs(geo: dict, w: np.ndarray) -> np.ndarray | None:
    """OIHW int8 weights as the x86 AVX2 path of this geometry reads them (int16 halves of one
    int32 lane, 0 past the end), or None where no AVX2 path applies:
      qconv_avx2_direct.h: [oc][c_in/2][kh][kw], input channels 2j and 2j+1;
      qconv_avx2.h: [oc][K/2], taps 2q and 2q+1 of the flattened row (K = c_in/groups*kh*kw)."""
    if uses_avx2_direct(geo):
        if w.shape[1] % 2:
            w = np.concatenate([w, np.zeros_like(w[:, :1])], axis=1)
        return _int16_pairs(w[:, 0::2], w[:, 1::2])
    if uses_avx2_gather(geo):
        rows = w.reshape(w.shape[0], -1)
        if rows.shape[1] % 2:
            rows = np.concatenate([rows, np.zeros_like(rows[:, :1])], axis=1)
        return _int16_pairs(rows[:, 0::2], rows[:, 1::2])
    return None


MAX_MAP_CHANNELS = 64  # a channel map runs as a constexpr table evaluated by the C++ compiler


def _align64(n: int) -> int:
    return (n + 63) // 64 * 64


BAND_PIXELS = 256  # conv outputs a fused band should cover at least: 16 of the gather kernels' 16-pixel blocks


def band_rows(geo: dict, pool_h: int, rows: int) -> int:
    """Pooled rows per band of a fused conv: one, or enough that a band covers BAND_PIXELS conv
    outputs, but at most a quarter of the rows, so that the band buffers stay well below the
    unfused conv's output (the fusion's memory saving).  A band of one pooled row of a narrow
    conv (the seed CNN's 34-wide rows: 68 outputs) leaves the last 16-pixel block of every band
    mostly empty: 4 rows there, 4745 -> 4135 us."""
    per_row = max(1, pool_h * geo["w_out"])
    return max(1, min(rows // 4, -(-BAND_PIXELS // per_row)))


def _band(geo: dict, pool_h: int, r0: int, r1: int) -> dict | None:
    """Band geometry of pooled rows [r0, r1): conv rows [r0*pool_h, r1*pool_h), which read input
    rows [a0, a0 + h_in) with pad_top padding rows above them; None if it reads only padding."""
    top = r0 * pool_h * geo["stride_h"] - geo["pad_top"]
    bottom = top + ((r1 - r0) * pool_h - 1) * geo["stride_h"] + (geo["k_h"] - 1) * geo["dil_h"]
    a0, a1 = max(top, 0), min(bottom, geo["h_in"] - 1)
    if a1 < a0:
        return None
    return dict(geo, n=1, h_in=a1 - a0 + 1, pad_top=a0 - top, h_out=(r1 - r0) * pool_h)


def pooled_bands(geo: dict, pool_h: int, rows: int, lo: int = 0, hi: int | None = None
                 ) -> list[tuple[int, int, dict]] | None:
    """Runs (row_begin, row_end, band geometry) of a fused conv's pooled rows [lo, hi): bands of
    band_rows() pooled rows from lo (the last may be shorter); consecutive bands of the same
    shape share one call, which steps through them.  None when a band would read nothing but
    padding (the pass then leaves the conv unfused)."""
    hi = rows if hi is None else hi
    if any(_band(geo, pool_h, r, r + 1) is None for r in range(lo, hi)):
        return None
    per = band_rows(geo, pool_h, rows)
    runs: list[tuple[int, int, dict]] = []
    for r in range(lo, hi, per):
        band = _band(geo, pool_h, r, min(r + per, hi))
        if runs and runs[-1][2] == band:
            runs[-1] = (runs[-1][0], min(r + per, hi), band)
        else:
            runs.append((r, min(r + per, hi), band))
    return runs


def _largest_bands(geo: dict, pool_h: int, rows: int) -> list[dict]:
    """Every band shape a fused conv may run, whichever rows a thread part starts at."""
    per = band_rows(geo, pool_h, rows)
    bands = (_band(geo, pool_h, r, min(r + per, rows)) for r in range(rows))
    return [b for b in bands if b is not None]


def is_channel_map(geo: dict) -> bool:
    """A depthwise 1x1 conv (stride 1, no padding): a per-channel int8 -> int8 map."""
    g = geo
    return (g["groups"] == g["c_in"] == g["c_out"] <= MAX_MAP_CHANNELS and g["k_h"] == g["k_w"] == 1
            and g["stride_h"] == g["stride_w"] == 1 and g["pad_top"] == g["pad_left"] == 0
            and (g["h_out"], g["w_out"]) == (g["h_in"], g["w_in"]))


def fused_scratch_bytes(geo: dict, pool_h: int, pool_w: int, rows: int) -> int:
    """qconv_pool.h's scratch: band input + band output + the band conv's own, or a direct
    kernel's where the target may take one; a channel map's row buffers."""
    if is_channel_map(geo):  # map_pooled_rows_s8: a row of window maxima and the pooled row
        return _align64(2 * geo["w_out"])
    bands = max(_align64(b["c_in"] * b["h_in"] * b["w_in"]) + _align64(b["c_out"] * b["h_out"] * b["w_out"])
                + conv_scratch_bytes(b) for b in _largest_bands(geo, pool_h, rows))
    # conv2d_s8_fused_direct (x86 VNNI or AVX2) runs the whole conv instead where it applies
    if not (fast_kernels_enabled() and 16 % pool_w == 0):
        return bands
    vnni = direct_scratch_bytes(geo, pool_h) + 64 if uses_direct(geo) else 0
    return max(bands, vnni, avx2_direct_scratch_bytes(geo, pool_h))


def _affine_table(e, c: int, arrays: list[str], zp_in: int, zp_out: int, lo: int, hi: int) -> str:
    """Declare the ChannelLut of the depthwise 1x1 int8 conv given by arrays (weights, bias,
    multipliers, shifts): affine_lut in qconv_pool.h, evaluated by the C++ compiler."""
    lut = e.unique("lut")
    e.decl(f"constexpr edge_sdk::q8::ChannelLut<{c}> {lut} = edge_sdk::q8::affine_lut<{c}>("
           f"{', '.join(arrays)}, {zp_in}, {zp_out}, {lo}, {hi});")
    return lut


def _conv_out_q(node: ir.Node, g: ir.Graph) -> tuple[float, int]:
    """(scale, zero point) of the conv's own output (before a fused epilogue)."""
    c = node.attrs.get("conv_out")
    return tuple(c["q"]) if c else qparams(g, node.outputs[0])


def lane_pool_clamp(conv_activation, pool_activation, scale: float, zp: int) -> tuple[int, int] | None:
    """The one clamp of a conv with its MaxPool fused (lane_pool): the conv's activation before the max
    and the pool's after it (pooling keeps the scale and zero point), or None where they exclude each
    other, or the conv's is not a clamp."""
    conv, pool = clamp_range(conv_activation, scale, zp), clamp_range(pool_activation, scale, zp)
    if conv is None or pool is None or max(conv[0], pool[0]) > min(conv[1], pool[1]):
        return None
    return max(conv[0], pool[0]), min(conv[1], pool[1])


def conv_multipliers(node: ir.Node, g: ir.Graph) -> tuple[np.ndarray, np.ndarray]:
    """The requantization (multiplier, shift) of each output channel of a QConv's own output."""
    sx, _ = qparams(g, node.inputs[0])
    c = g.tensor(node.inputs[1]).shape[0]
    sw = np.broadcast_to(np.asarray(g.tensor(node.inputs[1]).quant.scale, np.float64).reshape(-1), (c,))
    return quantize_multipliers(sx * sw / _conv_out_q(node, g)[0])


def _conv_act_range(node: ir.Node, g: ir.Graph) -> tuple[int, int]:
    r = clamp_range(node.attrs.get("activation"), *_conv_out_q(node, g))
    if r is None:
        raise unsupported(node, g, f"fused activation {node.attrs['activation'][0]} is not a clamp in int8")
    if "lane_pool" in node.attrs:  # the pool's clamp after the max is the same clamp before it
        r = lane_pool_clamp(node.attrs.get("activation"), node.attrs.get("pool_activation"), *_conv_out_q(node, g))
    return r


@register
class QConv(OpDef):
    """Conv on int8 NCHW activations, int8 per-output-channel weights, int32 bias.  May carry a
    fused epilogue (passes/fuse_qconv_epilogue.py): a per-channel table (inputs 3, 4: the
    depthwise 1x1 conv it replaces) and a MaxPool; then the output is the pooled tensor."""
    op_type = "QConv"
    header = QOPS_H
    dtypes = I8

    def check(self, node, g):
        super().check(node, g)
        if len(g.tensor(node.inputs[0]).shape) not in (3, 4):
            raise unsupported(node, g, "only 1-D and 2-D int8 convolution is supported")
        _conv_act_range(node, g)

    def macs(self, node, g):
        y = node.attrs["conv_out"]["shape"] if "conv_out" in node.attrs else g.tensor(node.outputs[0]).shape
        return int(np.prod(y)) * int(np.prod(g.tensor(node.inputs[1]).shape[1:]))

    def channel_split(self, node, g):
        geo = conv_geometry_2d(node, g)
        if geo["n"] != 1 or node.attrs.get("reference"):
            return None
        depthwise = geo["groups"] == geo["c_in"] == geo["c_out"] > 1
        if geo["groups"] != 1 and not depthwise:
            return None

        def part_attrs(attrs, c0, c1):
            out = dict(attrs)
            if "conv_out" in out:  # the conv's own output, before the fused epilogue
                shape = list(out["conv_out"]["shape"])
                shape[1] = c1 - c0
                out["conv_out"] = dict(out["conv_out"], shape=tuple(shape))
            if depthwise:
                out["group"] = c1 - c0
            return out
        # weights, bias and the fused per-channel table's weights and bias (inputs 3, 4)
        cut = {1: (0, 1), 2: (0, 1), 3: (0, 1), 4: (0, 1), **({0: (1, 1)} if depthwise else {})}
        # 16-channel parts keep the x86 direct kernel's channel tiles whole (uses_direct), 4 the
        # others'; a conv with fewer than 8 channels on a large plane (MesoInception's 1- to
        # 4-channel branches at 256x256) is worth splitting even into single channels.
        # (and a conv with its pool in qconv_x86_cout.h keeps whole 16-channel blocks)
        align = 16 if geo["c_out"] >= 64 or "lane_pool" in node.attrs else 4 if geo["c_out"] >= 8 else 1
        return ChannelSplit(geo["c_out"], align, cut, attrs=part_attrs)

    def scratch_bytes(self, node, g):
        geo = conv_geometry_2d(node, g)
        if node.attrs.get("reference"):
            return 4 * geo["h_out"] * geo["w_out"]  # the reference kernel's accumulator plane
        if "lane_pool" in node.attrs:  # the x86 VNNI kernel's, or (elsewhere) a 16-channel group's output and scratch
            group = dict(geo, n=1, c_out=16)
            return max(lane_pool_scratch_bytes(geo, node.attrs["lane_pool"][:4], g.tensor(node.outputs[0]).shape[3]),
                       _align64(16 * geo["h_out"] * geo["w_out"]) + conv_scratch_bytes(group, w_quads=False))
        if "conv_out" in node.attrs:  # each thread part (thread_rows) has its own band buffers
            one = fused_scratch_bytes(geo, *node.attrs.get("fused_pool", (1, 1)), g.tensor(node.outputs[0]).shape[2])
            return _align64(one) * int(node.attrs.get("thread_rows", 1))
        return conv_scratch_bytes(geo)

    def row_parts(self, node, g, threads):
        if "conv_out" not in node.attrs or "lane_pool" in node.attrs or g.tensor(node.inputs[0]).shape[0] != 1:
            return 0  # only the fused conv+pool of qconv_pool.h runs by bands of rows
        return min(threads, g.tensor(node.outputs[0]).shape[2] // 2)

    def _post_lut(self, node, g, e, geo) -> str | None:
        """The fused per-channel table (a BatchNormalization after the activation), or None."""
        if "post_lut" not in node.attrs:
            return None
        c = geo["c_out"]
        sy, zy = qparams(g, node.outputs[0])
        s_mid, z_mid = _conv_out_q(node, g)
        w2 = g.const(node.inputs[3]).astype(np.int64).reshape(-1)
        b2 = g.const(node.input(4))
        b2 = np.zeros(c, np.int64) if b2 is None else b2.astype(np.int64).reshape(-1)
        sw2 = np.broadcast_to(np.asarray(g.tensor(node.inputs[3]).quant.scale, np.float64).reshape(-1), (c,))
        m2, s2 = quantize_multipliers(s_mid * sw2 / sy)
        lo2, hi2 = clamp_range(node.attrs["post_lut"].get("activation"), sy, zy)
        arrays = [e.array("int32_t", v.astype(np.int32)) for v in (w2, b2, np.asarray(m2), np.asarray(s2))]
        return _affine_table(e, c, arrays, z_mid, zy, lo2, hi2)

    def _pool_params(self, node, g, e, geo, has_lut: bool) -> str:
        sy, zy = qparams(g, node.outputs[0])
        ph, pw = node.attrs.get("fused_pool", (1, 1))
        y = g.tensor(node.outputs[0]).shape
        lo, hi = clamp_range(node.attrs.get("pool_activation"), sy, zy)
        return e.params("edge_sdk::q8::QConvPoolParams", [
            ("c_out", geo["c_out"]), ("c_in", geo["c_in"]), ("h_in", geo["h_in"]), ("w_in", geo["w_in"]),
            ("stride_h", geo["stride_h"]), ("pad_top", geo["pad_top"]), ("w_conv", geo["w_out"]),
            ("pool_h", ph), ("pool_w", pw), ("h_out", y[2]), ("w_out", y[3]), ("has_lut", has_lut),
            ("act_min", lo), ("act_max", hi), ("exact_epilogue", bool(node.attrs.get("exact_epilogue")))])

    def _by_rows(self, node, g, e, calls) -> list[str]:
        """calls(lo, hi, scratch) for pooled rows [lo, hi): all of them, or thread part k's
        [rows*k/parts, rows*(k+1)/parts) in its own scratch."""
        rows = g.tensor(node.outputs[0]).shape[2]
        parts = int(node.attrs.get("thread_rows", 1))
        per_part = self.scratch_bytes(node, g) // parts

        def scratch(k: int) -> str:
            with e.part(e.g, {}, e.scratch_shift + k * per_part):  # relative to an enclosing channel part
                return e.scratch("void")
        if parts == 1:
            return calls(0, rows, scratch(0))
        body = ["switch (part) {"]
        for k in range(parts):
            lo, hi = rows * k // parts, rows * (k + 1) // parts
            body += [f"  case {k}: {{  // pooled rows [{lo}, {hi})", *("    " + c for c in calls(lo, hi, scratch(k))),
                     "  } break;"]
        return e.parallel(parts, body + ["}"])

    def _emit_map(self, node, g, e, geo, m, s) -> list[str]:
        """map_pooled_rows_s8 (qconv_pool.h): the conv is itself a per-channel table (composed
        with a fused one), so the kernel pools first and looks up once per pooled value."""
        e.headers.add("edge_sdk/kernels/int8/qconv_pool.h")
        c = geo["c_out"]
        w = g.const(node.inputs[1]).astype(np.int32).reshape(-1)
        bias = g.const(node.input(2))
        bias = np.zeros(c, np.int32) if bias is None else bias.astype(np.int32).reshape(-1)
        (_, z_in), (_, z_mid) = qparams(g, node.inputs[0]), _conv_out_q(node, g)
        lut = _affine_table(e, c, [e.array("int32_t", w), e.array("int32_t", bias), m, s], z_in, z_mid,
                            *_conv_act_range(node, g))
        then = self._post_lut(node, g, e, geo)
        if then:
            both = e.unique("lut")
            e.decl(f"constexpr edge_sdk::q8::ChannelLut<{c}> {both} = edge_sdk::q8::compose_lut<{c}>({lut}, {then});")
            lut = both
        pe = self._pool_params(node, g, e, geo, True)
        x, out = e.ref(node.inputs[0]), e.ref(node.outputs[0])
        return self._by_rows(node, g, e, lambda lo, hi, scratch: [
            f"edge_sdk::q8::map_pooled_rows_s8<{pe}>({x}, {lut}.v, {out}, {scratch}, {lo}, {hi});"])

    def _emit_fused(self, node, g, e, geo, consts, simd) -> list[str]:
        """A direct kernel's call (conv2d_s8_fused_direct) where the target has one, else
        conv2d_s8_pooled_rows calls (qconv_pool.h), one per run of same-shaped bands."""
        e.headers.add("edge_sdk/kernels/int8/qconv_pool.h")
        then = self._post_lut(node, g, e, geo)
        lut = f"{then}.v" if then else "nullptr"
        pe = self._pool_params(node, g, e, geo, bool(then))
        x, out = e.ref(node.inputs[0]), e.ref(node.outputs[0])
        pf = e.params("edge_sdk::q8::QConvParams", list(geo.items()) + consts)
        ph = node.attrs.get("fused_pool", (1, 1))[0]
        rows = g.tensor(node.outputs[0]).shape[2]
        declared: dict[tuple, str] = {}  # one params struct (one instantiation) per band shape

        def band_params(band: dict) -> str:
            key = tuple(band.items())
            if key not in declared:
                declared[key] = e.params("edge_sdk::q8::QConvParams", list(band.items()) + consts)
            return declared[key]

        def calls(lo: int, hi: int, scratch: str) -> list[str]:
            band_calls = [f"  edge_sdk::q8::conv2d_s8_pooled_rows<{band_params(band)}, {pe}{simd}>({x}, {{args}}, "
                          f"{lut}, {out}, {scratch}, {r0}, {r1});"
                          for r0, r1, band in pooled_bands(geo, ph, rows, lo, hi)]
            return [f"if (!edge_sdk::q8::conv2d_s8_fused_direct<{pf}, {pe}{simd}>({x}, {{w}}, {{wp}}, {{wd}}, {{bf}}, {{bu}}, "
                    f"{{m}}, {{s}}, {lut}, {out}, {scratch}, {lo}, {hi})) {{", *band_calls, "}"]
        return self._by_rows(node, g, e, calls)

    def _emit_lane_pool(self, node, g, e, geo, consts, cout_lanes: bool, pairs: int, args: str) -> str:
        """conv2d_s8_max_pool (qops.h): the conv with the MaxPool after it in its epilogue (pairs: the
        AVX2 weight pairs an output channel)."""
        p = e.params("edge_sdk::q8::QConvParams", list(geo.items()) + consts)
        kh, kw, sh, sw, pt, pl = node.attrs["lane_pool"]
        yp = g.tensor(node.outputs[0]).shape
        q = e.params("edge_sdk::q8::QPoolWindow", [
            ("k_h", kh), ("k_w", kw), ("stride_h", sh), ("stride_w", sw), ("pad_top", pt), ("pad_left", pl),
            ("h_out", yp[2]), ("w_out", yp[3])])
        call = f"edge_sdk::q8::conv2d_s8_max_pool<{p}, {q}, {pairs}>({args}, {e.scratch('uint8_t')});"
        if not cout_lanes:  # EDGE_SDK_KERNELS=portable: the conv, then the pool
            return call
        return "\n".join(["#if defined(EDGE_Q8_HAVE_VNNI_COUT)",
                          f"static_assert(edge_sdk::q8::vnni_cout_pool_scratch_bytes<{p}, {q}>() <= "
                          f'{self.scratch_bytes(node, g)}, "qconv_x86_cout.h scratch");', "#endif", call])

    def emit(self, node, g, e):
        geo = conv_geometry_2d(node, g)
        _, zx = qparams(g, node.inputs[0])
        _, zy = _conv_out_q(node, g)
        lo, hi = _conv_act_range(node, g)
        mult, shift = conv_multipliers(node, g)
        # x86 VNNI: the channel-quad kernel runs the conv where it applies (a fused conv's bands too: on
        # the seed CNN 26% faster than the row-direct kernel with pooled accumulators), on its own weights
        # or, on small planes and strided layers, the one with output channels in the lanes (it
        # requantizes in the short form only; not in a fused conv's bands)
        cout_lanes = uses_cout_lanes(geo) and short_requant(shift) and ("conv_out" not in node.attrs
                                                                         or "lane_pool" in node.attrs)
        channel_quads = uses_quad(geo) or cout_lanes
        consts = [("zp_in", zx), ("zp_out", zy), ("act_min", lo), ("act_max", hi), ("short_requant", short_requant(shift)),
                  ("channel_quads", channel_quads), ("cout_lanes", cout_lanes)]
        pad = -geo["c_out"] % 16 if cout_lanes else 0  # qconv_x86_cout.h reads whole blocks of 16 channels
        m = e.array("int32_t", np.concatenate([mult, np.zeros(pad, np.int32)]))
        s = e.array("int32_t", np.concatenate([shift, np.full(pad, -1, np.int32)]))
        x, y, wt, b = e.ref(node.inputs[0]), e.ref(node.outputs[0]), e.ref(node.inputs[1]), e.ref(node.input(2))
        simd = "" if fast_kernels_enabled() else ", false"  # EDGE_SDK_KERNELS=portable: no SIMD path
        if node.attrs.get("reference"):  # tests: force the reference kernel
            p = e.params("edge_sdk::q8::QConvParams", list(geo.items()) + consts)
            return (f"edge_sdk::q8::conv2d_s8_reference<{p}>({x}, {wt}, {b}, {m}, {s}, {y}, "
                    f"{e.scratch('int32_t')});")
        if "conv_out" in node.attrs and is_channel_map(geo):
            return "\n".join(self._emit_map(node, g, e, geo, m, s))
        w = g.const(node.inputs[1]).astype(np.int64)
        bias = g.const(node.input(2))
        bias = np.zeros(geo["c_out"], np.int64) if bias is None else bias.astype(np.int64).reshape(-1)
        folded = np.clip(bias - zx * w.reshape(w.shape[0], -1).sum(axis=1), -(1 << 31), (1 << 31) - 1)
        bf = e.array("int32_t", folded.astype(np.int32))  # bias - zp_in * sum(w), for the im2col path
        # bias - (zp_in + 128) * sum(w): the x86 VNNI path multiplies x + 128 (unsigned) by w.
        folded_u8 = np.clip(bias - (zx + 128) * w.reshape(w.shape[0], -1).sum(axis=1), -(1 << 31), (1 << 31) - 1)
        bu = e.array("int32_t", np.concatenate([folded_u8.astype(np.int32), np.zeros(pad, np.int32)]))
        # the x86 AVX2, VNNI direct and VNNI depthwise kernels' weights (an unused array is dropped by the C++ compiler);
        # a conv with its pool in the epilogue runs 16-channel groups where it takes the AVX2 path
        pair_geo = dict(geo, c_out=16) if "lane_pool" in node.attrs else geo
        pairs = avx2_weight_pairs(pair_geo, w) if fast_kernels_enabled() else None
        wp = "nullptr" if pairs is None else e.array("int32_t", pairs)
        w_blocks = np.concatenate([w, np.zeros((pad, *w.shape[1:]), w.dtype)]).astype(np.int8)
        quads = (tap_quad_weights(geo, w_blocks) if cout_lanes and cout_taps(geo) else
                 quad_weights(geo, w_blocks) if channel_quads else
                 direct_weight_quads(geo, w.astype(np.int8)) if fast_kernels_enabled() else None)
        wd = "nullptr" if quads is None else e.array("int32_t", quads)
        if "lane_pool" in node.attrs:
            per = 0 if pairs is None else pairs.size // geo["c_out"]
            args = f"{x}, {wt}, {wp}, {wd}, {b}, {bf}, {bu}, {m}, {s}, {y}"
            return self._emit_lane_pool(node, g, e, geo, consts, cout_lanes, per, args)
        if "conv_out" in node.attrs:
            subst = {"{args}": f"{wt}, {wp}, {wd}, {b}, {bf}, {bu}, {m}, {s}", "{w}": wt, "{wp}": wp, "{wd}": wd, "{bf}": bf,
                     "{bu}": bu, "{m}": m, "{s}": s}
            lines = self._emit_fused(node, g, e, geo, consts, simd)
            for k, v in subst.items():
                lines = [line.replace(k, v) for line in lines]
            return "\n".join(lines)
        p = e.params("edge_sdk::q8::QConvParams", list(geo.items()) + consts)
        call = (f"edge_sdk::q8::conv2d_s8<{p}{simd}>({x}, {wt}, {wp}, {wd}, {b}, {bf}, {bu}, {m}, {s}, {y}, "
                f"{e.scratch('void')});")
        if not cout_lanes:
            return call
        return "\n".join(["#if defined(EDGE_Q8_HAVE_VNNI_COUT)",
                          f"static_assert(edge_sdk::q8::vnni_cout_scratch_bytes<{p}>() <= {self.scratch_bytes(node, g)}, "
                          '"qconv_x86_cout.h scratch");', "#endif", call])


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

    def scratch_bytes(self, node, g):
        return 4 * g.tensor(node.inputs[1]).shape[0]  # the int32 sums of one input row

    def channel_split(self, node, g):
        """One input row splits by output columns: each part streams its own weight rows."""
        y = g.tensor(node.outputs[0]).shape
        b = node.input(2)
        if len(y) != 2 or y[0] != 1 or (b and tuple(g.tensor(b).shape) != (y[1],)):
            return None
        return ChannelSplit(y[1], 16, {1: (0, 1), 2: (0, 1)})

    def _biases(self, node, g, e) -> tuple[str, str]:
        """fc_dots_s8's two bias arrays: bias - zp_in * sum(w) for the int8 dot, and
        bias - (zp_in + 128) * sum(w) for the x86 VNNI path's x + 128 (nullptr where unused)."""
        x, w = node.inputs[0], node.inputs[1]
        n = g.tensor(w).shape[0]
        _, zx = qparams(g, x)
        bias = g.const(node.input(2))
        bias = np.zeros(n, np.int64) if bias is None else bias.astype(np.int64).reshape(-1)
        wsum = g.const(w).astype(np.int64).sum(axis=1)
        arrays = [e.array("int32_t", np.clip(bias - z * wsum, -(1 << 31), (1 << 31) - 1).astype(np.int32))
                  for z in ((zx, zx + 128) if fast_kernels_enabled() else (zx,))]
        return arrays[0], arrays[1] if len(arrays) > 1 else "nullptr"

    def emit(self, node, g, e):
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        n, k = g.tensor(w).shape
        m = g.tensor(x).size // k
        _, zy = qparams(g, y)
        lo, hi = act_range(node, g)
        p = e.params("edge_sdk::q8::QFullyConnectedParams",
                     [("m", m), ("n", n), ("k", k), ("zp_out", zy), ("act_min", lo), ("act_max", hi)])
        ms, ss = _requant_arrays(e, g, x, w, y, n)
        b, bu = self._biases(node, g, e)
        simd = "" if fast_kernels_enabled() else ", false"
        return (f"edge_sdk::q8::fully_connected_s8<{p}{simd}>({e.ref(x)}, {e.ref(w)}, {b}, {bu}, {ms}, {ss}, "
                f"{e.ref(y)}, {e.scratch('int32_t')});")


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


def elementwise_split(node: ir.Node, g: ir.Graph, inputs: range) -> ChannelSplit | None:
    """Channel parts of an int8 elementwise op on a [1, C, ...] tensor (--threads): the output
    and every input among `inputs` that has the C channels (the whole shape, or per channel, as
    squeeze-excitation scales are) are cut along axis 1; an input broadcast over the channels
    is read whole by every part."""
    y = g.tensor(node.outputs[0]).shape
    if len(y) < 2 or y[0] != 1 or y[1] < 2:
        return None
    cut = {i: (1, 1) for i in inputs if node.input(i) and len(g.tensor(node.inputs[i]).shape) == len(y)
           and g.tensor(node.inputs[i]).shape[1] == y[1]}
    return ChannelSplit(y[1], 1, cut)


class QBinary(OpDef):
    header = QOPS_H
    dtypes = I8
    # Elementwise cost per output in MAC-equivalents for --threads (AVX2: a QAdd's three
    # requantizations take about 3.5 ns, a QMul's one about 1 ns, a multiply-add 0.04 ns).
    WORK_PER_ELEMENT = 25

    def check(self, node, g):
        super().check(node, g)
        if broadcast_form(g, node) is None:
            raise unsupported(node, g, "int8 binary ops need equal shapes or a per-leading-dims second input")
        act_range(node, g)

    def thread_work(self, node, g):
        return g.tensor(node.outputs[0]).size * self.WORK_PER_ELEMENT

    def channel_split(self, node, g):
        return elementwise_split(node, g, range(2))


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
        sx, _ = qparams(g, x)
        kind, a, b = node.attrs.get("activation") or (None, 0.0, 0.0)
        lo, hi = {None: (-np.inf, np.inf), "Relu": (0.0, np.inf), "Clip": (a, b)}[kind]
        sw = np.broadcast_to(np.asarray(g.tensor(w).quant.scale, np.float64).reshape(-1), (n,))
        p = e.params("edge_sdk::q8::QFullyConnectedF32Params",
                     [("m", m), ("n", n), ("k", k), ("act_min", float(lo)), ("act_max", float(hi))])
        bf, bu = self._biases(node, g, e)
        sc = e.array("float", (sx * sw).astype(np.float32))
        simd = "" if fast_kernels_enabled() else ", false"
        return (f"edge_sdk::q8::fully_connected_s8_f32<{p}{simd}>({e.ref(x)}, {e.ref(w)}, {bf}, {bu}, {sc}, "
                f"{e.ref(y)}, {e.scratch('int32_t')});")


@register
class QAdd(QBinary):
    op_type = "QAdd"
    LEFT_SHIFT = 20
    WORK_PER_ELEMENT = 80

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

    def placed_inputs(self, node, g):
        y = g.tensor(node.outputs[0])
        axis = int(node.attrs.get("axis", 1)) % len(y.shape)
        if int(np.prod(y.shape[:axis], dtype=np.int64)) != 1:
            return None
        slots, offset, q = [], 0, qparams(g, node.outputs[0])
        for t in node.inputs:
            slots.append(offset if qparams(g, t) == q else None)  # a requantized input is computed
            offset += g.tensor(t).nbytes
        return slots

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
            if e.plan.placed_at(t, node.outputs[0], offset):  # placed_inputs: the planner moved it there
                lines.append(f"// {t} was written in place at byte {offset}")
                offset += inner
                continue
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

    def thread_work(self, node, g):
        return g.tensor(node.outputs[0]).size * 10  # a table lookup: about 0.4 ns an element on AVX2

    def channel_split(self, node, g):
        return elementwise_split(node, g, range(1))  # the table (input 1) is read whole

    def emit(self, node, g, e):
        n = g.tensor(node.outputs[0]).size
        table = e.ref(node.inputs[1])
        ti = node.attrs.get("times_input")
        if ti:  # passes/fuse_qlookup_mul.py: y = QMul(x, table[x]) as one table, built by the C++ compiler
            (sx, zx), (st, zt) = qparams(g, node.inputs[0]), tuple(ti["t_q"])
            sy, zy = qparams(g, node.outputs[0])
            m, s = quantize_multiplier((sx * st if ti["x_first"] else st * sx) / sy)  # as QMul.emit
            lo, hi = act_range(node, g)
            t = e.array("int8_t", g.const(node.inputs[1]))
            table = e.unique("lut")
            e.decl(f"constexpr edge_sdk::q8::Table256 {table} = edge_sdk::q8::lut_times_input("
                   f"{t}, {zx}, {zt}, {m}, {s}, {zy}, {lo}, {hi});")
            table += ".v"
        return f"edge_sdk::q8::lut_s8({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, {n}u, {table});"
