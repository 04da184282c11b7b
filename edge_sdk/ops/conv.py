"""Conv (1-D and 2-D), float32.

Kernels: conv.h (portable reference), conv_fast.h (packed-weight GEMM and
depthwise paths).  Which one runs is decided here at compile time from the
node: passes/pack_conv_weights.py packs the weights of convs the GEMM path
takes (attrs "packed_mr"), passes/fuse_conv_epilogue.py may add a per-channel
affine (inputs 3 and 4) and a MaxPool ("fused_pool") to its epilogue.
Setting EDGE_SDK_KERNELS=portable at compile time keeps every conv on the
portable kernel (the tests compare both).
"""
from __future__ import annotations

import os

import numpy as np

from .. import ir
from .helpers import act_fields, spatial_pads
from .registry import ChannelSplit, OpDef, register, unsupported

MAX_VL = 16  # widest vector (AVX-512) the kernels may use: scratch is sized for it
WHOLE_PANEL_BYTES = 4 << 20  # largest im2col panel packed at once (small planes only)


def fast_kernels_enabled() -> bool:
    return os.environ.get("EDGE_SDK_KERNELS", "fast") != "portable"


def weight_shape(node: ir.Node, g: ir.Graph) -> tuple[int, ...]:
    """OIHW shape of the weights (as in the ONNX model, also after packing)."""
    return tuple(node.attrs.get("weight_shape") or g.tensor(node.inputs[1]).shape)


def conv_geometry(node: ir.Node, g: ir.Graph, attrs: dict) -> dict:
    """Everything the kernel needs, with 1-D convolutions mapped to 2-D (height 1)."""
    x, w = g.tensor(node.inputs[0]).shape, weight_shape(node, g)
    y = g.tensor(node.outputs[0]).shape
    if "conv_out_hw" in attrs:  # output is the fused pool's; the conv's own extent is recorded
        y = (*y[:2], *attrs["conv_out_hw"])
    r = len(x) - 2
    k = list(attrs.get("kernel_shape") or w[2:])
    s = list(attrs.get("strides") or [1] * r)
    d = list(attrs.get("dilations") or [1] * r)
    begin, end = spatial_pads(list(x[2:]), k, s, d, attrs.get("auto_pad", "NOTSET"), attrs.get("pads"))
    if r == 1:
        x, y, k, s, d, begin, end = (*x[:2], 1, x[2]), (*y[:2], 1, y[2]), [1] + k, [1] + s, [1] + d, [0] + begin, [0] + end
    return dict(n=x[0], c_in=x[1], h_in=x[2], w_in=x[3], c_out=y[1], h_out=y[2], w_out=y[3],
                k_h=k[0], k_w=k[1], stride_h=s[0], stride_w=s[1], pad_top=begin[0], pad_left=begin[1],
                dil_h=d[0], dil_w=d[1], groups=int(attrs.get("group", 1)), pad_bottom=end[0], pad_right=end[1])


def check_weight_geometry(node: ir.Node, g: ir.Graph, attrs: dict, transpose: bool = False) -> None:
    """Refuse weights that disagree with the input, group or kernel_shape.

    ONNX shape inference does not check these, and the kernels index the weights
    from the input's channel count: a mismatch would read past the weight array."""
    x, w = g.tensor(node.inputs[0]).shape, weight_shape(node, g)
    group = attrs.get("group", 1)
    if not isinstance(group, (int, np.integer)) or group < 1:
        raise unsupported(node, g, f"group must be a positive integer, got {group!r}")
    if len(w) != len(x):
        raise unsupported(node, g, f"weights {list(w)} have rank {len(w)} but the input {list(x)} has rank {len(x)}")
    c_in, w_in, w_out = x[1], (w[0] if transpose else w[1]), (w[1] * group if transpose else w[0])
    need_in = w_in if transpose else w_in * group
    if c_in != need_in:
        raise unsupported(node, g, f"input has {c_in} channels but weights {list(w)} with group {group} "
                          f"expect {need_in}", "the weights do not belong to this input; re-export the model")
    if (w[0] if transpose else w_out) % group:
        raise unsupported(node, g, f"group {group} does not divide the {w[0]} "
                          f"{'input' if transpose else 'output'} channels of the weights {list(w)}")
    k = attrs.get("kernel_shape")
    if k is not None and list(k) != list(w[2:]):
        raise unsupported(node, g, f"kernel_shape {list(k)} disagrees with the weights' spatial shape {list(w[2:])}")
    if len(node.inputs) > 2 and node.inputs[2]:
        b = g.tensor(node.inputs[2]).shape
        if tuple(b) != (w_out,):
            raise unsupported(node, g, f"bias has shape {list(b)}, expected [{w_out}]")


def is_depthwise(geo: dict) -> bool:
    return geo["groups"] == geo["c_in"] == geo["c_out"] and geo["groups"] > 1


def pick_mr(cout_g: int) -> int:
    """Output channels per micro-tile: as many as the layer has, up to 8."""
    return 8 if cout_g >= 8 else 4 if cout_g >= 4 else 2 if cout_g >= 2 else 1


CHANNEL_BLOCK = 16  # conv_chan.h: output channels per weight block (packed_mr 16 selects that kernel)
# conv_chan.h takes a layer whose pixel vectors would fill less than this share of their lanes;
# on planes of up to SMALL_PLANE pixels, less than CHANNEL_LANE_USE_SMALL.  SqueezeNet on the
# AVX-512 Xeon: its 13x13 classifier (96% of the lanes) runs 12% faster on conv_chan.h, its
# 55x55 3x3 convs (96.5%) 10% slower.
# Larger planes with a reduction of LONG_K or more also take it below CHANNEL_LANE_USE_SMALL:
# ResNet-18's 56x56 3x3 layers (96.6%, K = 576) ran 5% faster there once its epilogue stored
# each channel vector with one scatter; SqueezeNet's 55x55 ones (K = 144) stay 25% faster here.
CHANNEL_LANE_USE = 0.95
CHANNEL_LANE_USE_SMALL = 0.97
SMALL_PLANE = 1024
LONG_K = 512


def pixel_lane_use(geo: dict, vl: int = MAX_VL) -> float:
    """Share of the vector lanes conv_fast.h's pixel-vectorised paths fill with real outputs
    (rows cut into vectors, or a stride-1 plane read as one wrapped row, or flat)."""
    h, w = geo["h_out"], geo["w_out"]
    pixels = h * w

    def up(n):
        return -(-n // vl) * vl
    pads = geo["pad_top"] + geo["pad_left"] + geo["pad_bottom"] + geo["pad_right"]
    if geo["k_h"] == geo["k_w"] == 1 and geo["stride_h"] == geo["stride_w"] == 1 and not pads:
        return pixels / up(pixels)  # a 1x1 reads the plane as one row
    row = geo["w_in"] + geo["pad_left"] + geo["pad_right"]
    k = geo["c_in"] // geo["groups"] * geo["k_h"] * geo["k_w"]
    wrap = (geo["stride_h"] == geo["stride_w"] == 1 and row >= vl - 1 and k >= 64 and h >= 2
            and geo["k_h"] * geo["k_w"] > 1)
    if w < vl:  # wrapped rows, or an im2col panel (which also costs the copy)
        return pixels / up((h - 1) * row + w) if wrap else pixels / up(pixels) * 0.9
    lanes = h * up(w)
    if wrap:
        lanes = min(lanes, up((h - 1) * row + w))
    return pixels / lanes


def channel_vectors_pay(geo: dict, attrs: dict) -> bool:
    """Run conv_chan.h (output channels in the lanes) instead of conv_fast.h: small planes
    that leave a twentieth or more of the pixel lanes empty, with a reduction long enough to
    hide the per-lane final stores (ResNet-18's 7x7 and 14x14 layers, MobileNetV2's 7x7 1x1s)."""
    k = geo["c_in"] // geo["groups"] * geo["k_h"] * geo["k_w"]
    roomy = geo["h_out"] * geo["w_out"] <= SMALL_PLANE or k >= LONG_K
    return (geo["groups"] == 1 and "fused_pool" not in attrs and geo["c_out"] >= CHANNEL_BLOCK and k >= 128
            and pixel_lane_use(geo) < (CHANNEL_LANE_USE_SMALL if roomy else CHANNEL_LANE_USE))


def nv_max(mr: int) -> int:
    """Vectors per micro-tile on a 32-register target (conv_fast.h nv_for)."""
    return 3 if mr >= 8 else 4 if mr >= 4 else 6 if mr >= 2 else 8


def _r16(v: int) -> int:
    return (v + 15) // 16 * 16


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
        check_weight_geometry(node, g, self.attributes(node))

    def macs(self, node, g):
        geo = conv_geometry(node, g, self.attributes(node))
        w = weight_shape(node, g)
        return geo["n"] * geo["c_out"] * geo["h_out"] * geo["w_out"] * int(np.prod(w[1:]))

    def channel_split(self, node, g):
        a = self.attributes(node)
        geo = conv_geometry(node, g, a)
        if geo["n"] != 1:
            return None
        # bias, post-affine scale and shift; a fused residual (NCHW, cut along its channels)
        per_channel = {2: (0, 1), 3: (0, 1), 4: (0, 1), 5: (1, 1)}
        ws = weight_shape(node, g)

        def part_attrs(attrs, c0, c1, group=False):
            out = dict(attrs, weight_shape=(c1 - c0, *ws[1:])) if "weight_shape" in attrs else dict(attrs)
            if group:
                out["group"] = c1 - c0
            return out
        if is_depthwise(geo) and "packed_mr" not in a:  # each channel reads only its own input channel
            return ChannelSplit(geo["c_out"], 1, {0: (1, 1), 1: (0, 1), **per_channel},
                                attrs=lambda at, c0, c1: part_attrs(at, c0, c1, group=True))
        if geo["groups"] != 1:
            return None
        mr = int(a.get("packed_mr", 1))  # packed weights [1][oc block][k][mr]: parts hold whole blocks
        return ChannelSplit(geo["c_out"], mr, {1: (1, mr) if "packed_mr" in a else (0, 1), **per_channel},
                            attrs=part_attrs)

    def row_parts(self, node, g, threads):
        ff = self._fast_fields(node, g)
        if ff is None or ff[1]["depthwise"] or ff[1]["n"] != 1 or ff[1]["chan"]:
            return 0  # conv_chan.h layers split by output channels (channel_split)
        geo = ff[1]
        rows = g.tensor(node.outputs[0]).shape[2] if geo["pool"][0] else geo["h_out"]  # 1 for a flat 1x1
        return min(threads, rows // 2)

    def _fast_fields(self, node, g) -> tuple[list, dict] | None:
        """Parameter fields for conv_fast.h, or None when the portable kernel runs."""
        a = self.attributes(node)
        geo = conv_geometry(node, g, a)
        dw = is_depthwise(geo) and fast_kernels_enabled()
        if "packed_mr" not in a and not dw:
            return None
        # The input is copied into scratch (zero borders, rows split into stride_w column
        # phases) when the conv pads or strides along columns, and always for depthwise.
        sw = geo["stride_w"]
        padded = dw or sw > 1 or any(geo[k] for k in ("pad_top", "pad_left", "pad_bottom", "pad_right"))
        hp = geo["h_in"] + geo["pad_top"] + geo["pad_bottom"]
        wp = geo["w_in"] + geo["pad_left"] + geo["pad_right"]
        ws = -(-wp // sw) if padded else wp
        # A 1x1, stride-1, unpadded conv reads each channel as one long row.
        flat = (geo["k_h"] == geo["k_w"] == 1 and geo["stride_h"] == geo["stride_w"] == 1 and not padded
                and "fused_pool" not in a)
        if flat:
            plane = geo["h_in"] * geo["w_in"]
            geo.update(h_in=1, w_in=plane, h_out=1, w_out=plane)
            hp, wp, ws = 1, plane, plane
        pool = a.get("fused_pool") or (0, 0, 0, 0)
        y = g.tensor(node.outputs[0]).shape
        ph, pw = (y[2], y[3]) if pool[0] else (0, 0)
        # Pooled rows per chunk: enough pixels to fill the micro-tiles well.
        prow = max(1, min(ph, -(-512 // max(1, pool[2] * geo["w_out"])))) if pool[0] else 0
        fields = [(k, geo[k]) for k in ("n", "c_in", "h_in", "w_in", "c_out", "h_out", "w_out", "k_h", "k_w",
                                         "stride_h", "stride_w", "pad_top", "pad_left", "dil_h", "dil_w", "groups")]
        fields += act_fields(node)
        fields += [("mr", int(a.get("packed_mr", 1))), ("padded", padded), ("hp", hp), ("ws", ws),
                   ("post_affine", bool(a.get("post_affine", False))),
                   ("pool_k_h", pool[0]), ("pool_k_w", pool[1]), ("pool_s_h", pool[2]), ("pool_s_w", pool[3]),
                   ("pool_h_out", ph), ("pool_w_out", pw), ("pool_rows", prow)]
        chunk_rows = (prow - 1) * pool[2] + pool[0] if pool[0] else 0  # Geometry<P>::chunk_rows in conv_fast.h
        pixels = (chunk_rows if pool[0] else geo["h_out"]) * geo["w_out"]
        k = geo["c_in"] // geo["groups"] * geo["k_h"] * geo["k_w"]
        # Small planes are packed whole so that each weight block is read once for all tiles.
        whole = 4 * k * (pixels + 15) <= WHOLE_PANEL_BYTES and geo["w_out"] < MAX_VL
        fields.append(("whole_panel", whole))
        fields += list(zip(("pool_pad_top", "pool_pad_left"), a.get("fused_pool_pads", (0, 0))))
        chan = int(a.get("packed_mr", 1)) == CHANNEL_BLOCK
        return fields, dict(geo, hp=hp, wp=wp, ws=ws, padded=padded, whole=whole, pixels=pixels, depthwise=dw, pool=pool,
                            prow=prow, chunk_rows=chunk_rows, chan=chan)

    def scratch_bytes(self, node, g):
        ff = self._fast_fields(node, g)
        if ff is None:
            return 0
        _, geo = ff
        if geo["depthwise"]:
            return 4 * (geo["hp"] * geo["stride_w"] * geo["ws"] + 2 * MAX_VL)  # slack: whole-vector reads
        mr = int(node.attrs["packed_mr"])
        pad = _r16(geo["c_in"] * geo["hp"] * geo["stride_w"] * geo["ws"]) if geo["padded"] else 0
        if geo["chan"]:  # conv_chan.h: the padded input, then partial sums [pixel][at most 64 channels]
            return 4 * (pad + _r16(geo["h_out"] * geo["w_out"] * 4 * MAX_VL))
        cin_g = geo["c_in"] // geo["groups"]
        k = cin_g * geo["k_h"] * geo["k_w"]
        part = _r16(k * ((geo["pixels"] + 15) if geo["whole"] else nv_max(mr) * MAX_VL))
        if geo["pool"][0]:
            part += geo["c_out"] * geo["chunk_rows"] * geo["w_out"]
        return 4 * (pad + part * int(node.attrs.get("thread_rows", 1)))  # each thread part has its own panel

    def emit(self, node, g, e):
        ff = self._fast_fields(node, g)
        ins = [e.ref(node.inputs[0]), e.ref(node.inputs[1]), e.ref(node.input(2))]
        if ff is None:
            geo = conv_geometry(node, g, self.attributes(node))
            del geo["pad_bottom"], geo["pad_right"]
            p = e.params("edge_sdk::ConvParams", list(geo.items()) + act_fields(node))
            return f"edge_sdk::conv2d_f32<{p}>({', '.join(ins)}, {e.ref(node.outputs[0])});"
        e.headers.add("edge_sdk/kernels/conv_fast.h")
        fields, geo = ff
        p = e.params("edge_sdk::ConvFastParams", fields)
        out = e.ref(node.outputs[0])
        scratch = e.scratch() if self.scratch_bytes(node, g) else "nullptr"
        if geo["depthwise"]:
            return f"edge_sdk::conv2d_dw_f32<{p}>({', '.join(ins)}, {out}, {scratch});"
        args = f"{', '.join(ins)}, {e.ref(node.input(3))}, {e.ref(node.input(4))}, {out}, {scratch}"
        if geo["chan"]:  # with a fused residual Add's other operand (passes/fuse_residual_add.py) or nullptr
            e.headers.add("edge_sdk/kernels/conv_chan.h")
            args = (f"{', '.join(ins)}, {e.ref(node.input(3))}, {e.ref(node.input(4))}, {e.ref(node.input(5))}, "
                    f"{out}, {scratch}")
            return (f"static_assert(edge_sdk::conv_chan_scratch_floats<{p}>() * 4 <= {self.scratch_bytes(node, g)}, "
                    f"\"conv scratch\");\nedge_sdk::conv2d_chan_f32<{p}>({args});")
        parts = int(node.attrs.get("thread_rows", 1))
        if parts > 1:  # the input padded once (its rows shared out), then the output rows shared out
            need = f"(edge_sdk::conv_gemm_scratch_floats<{p}>() + {parts - 1} * edge_sdk::conv_gemm_part_floats<{p}>())"
            pad = e.parallel(parts, [f"edge_sdk::conv2d_gemm_f32_pad<{p}>({ins[0]}, {scratch}, part, {parts});"]) \
                if geo["padded"] else []
            rows = e.parallel(parts, [f"edge_sdk::conv2d_gemm_f32_part<{p}>({args}, part, {parts});"])
            return "\n".join([f"static_assert({need} * 4 <= {self.scratch_bytes(node, g)}, \"conv scratch\");",
                              "{", *("  " + line for line in pad + rows), "}"])
        check = (f"static_assert(edge_sdk::conv_gemm_scratch_floats<{p}>() * 4 <= {self.scratch_bytes(node, g)}, "
                 f"\"conv scratch\");")
        return f"{check}\nedge_sdk::conv2d_gemm_f32<{p}>({args});"
