"""The SIMD int8 convolution paths (x86 AVX-512 VNNI in kernels/int8/qconv_x86.h, the im2col
and row kernels in qconv.h) must be bit-identical to the portable reference kernel
(conv2d_s8_reference): same int32 accumulators, same requant.h rounding.

Shapes sweep the SIMD tile edges: channels 1..64 around 4/16/32 (the VNNI kernel's tap quads,
16-lane vectors and 4-channel tiles), output planes around the 32-pixel block, 1x1/3x3/5x5
kernels, stride 1/2, padding, dilation, groups and depthwise, and zero points at both ends of
the int8 range (the VNNI path stores x + 128 as unsigned and folds 128 * sum(w) into the bias).
The direct (qconv_x86_direct.h) and depthwise (qconv_x86_dw.h) VNNI paths get narrow wide-row
layers and depthwise layers around their 16-pixel blocks and 4-tap quads; the same narrow layers
run the AVX2 direct path (qconv_avx2_direct.h) on AVX2 hosts: odd channel counts (a channel
paired with 0), channel tiles with a tail, stride 2 and dilation 2 (pair-row phases), and the
depthwise layers run the AVX2 depthwise path (qconv_avx2_dw.h).  Wider spatial layers run the
AVX2 gather (qconv_avx2.h), whose blocks span two output rows and padded edges.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edge_sdk
from conftest import make_model
from edge_sdk.frontend import import_onnx
from edge_sdk.passes import run_passes
from edge_sdk.quantize import dequantize_prequantized, pre_quant_passes, quantize_graph
from edge_sdk.quantize.build_run import HostModel

# (c_in, c_out, group, kernel, stride, pad, dilation, h, w, activation zero point (uint8)[, output scale])
CASES = [
    (1, 4, 1, 3, 1, 1, 1, 9, 9, 128),
    (3, 16, 1, 3, 2, 1, 1, 17, 17, 0),
    (4, 15, 1, 1, 1, 0, 1, 6, 6, 255),
    (15, 17, 1, 3, 1, 1, 1, 7, 9, 131),
    (16, 16, 1, 1, 1, 0, 1, 8, 4, 100),
    (17, 33, 1, 5, 2, 2, 1, 13, 11, 140),
    (31, 32, 1, 3, 1, 0, 1, 10, 10, 1),
    (32, 31, 1, 1, 2, 0, 1, 9, 9, 254),
    (33, 64, 1, 3, 1, 1, 2, 8, 8, 120),
    (64, 3, 1, 1, 1, 0, 1, 5, 7, 128),
    (64, 64, 1, 3, 1, 1, 1, 6, 6, 110),
    (16, 32, 1, 3, 1, 1, 1, 5, 20, 128),  # wide rows: 32-pixel blocks span output rows
    (3, 40, 1, 5, 1, 2, 1, 7, 33, 60),
    (16, 32, 4, 3, 1, 1, 1, 9, 7, 135),   # grouped, 4 channels per group
    (32, 32, 2, 5, 2, 2, 1, 11, 11, 90),  # grouped, 16 per group
    (17, 17, 17, 3, 1, 1, 1, 10, 10, 128),  # depthwise
    (32, 32, 32, 5, 2, 2, 1, 15, 15, 200),  # depthwise, stride 2
    (8, 8, 1, 3, 1, 1, 1, 1, 1, 128),     # 1x1 plane: one partial pixel block
    # The direct VNNI path (qconv_x86_direct.h): narrow layers, rows of 16-pixel blocks.
    (3, 8, 1, 3, 1, 1, 1, 9, 40, 128),    # Meso4's stem: 2 full blocks + a tail of 8
    (8, 16, 1, 5, 1, 2, 1, 6, 33, 0),     # 5x5: two tap quads, the second mostly zero weights
    (16, 32, 1, 3, 2, 1, 1, 7, 37, 255),  # stride 2, two 16-channel tiles
    (16, 24, 1, 3, 2, 1, 1, 7, 37, 200),  # stride 2 on the AVX2 direct path (under 32 output channels)
    (5, 7, 1, 7, 1, 3, 1, 8, 16, 60),     # 7 taps per row, odd channel counts, one exact block
    (4, 8, 1, 3, 1, 0, 2, 9, 21, 200),    # dilation 2: the direct path needs dil_w == 1
    # ... and wide layers, where it replaces the per-byte gather (up to 256 input channels).
    (64, 48, 1, 3, 1, 1, 1, 6, 20, 140),  # three 16-channel tiles
    (130, 64, 1, 3, 2, 1, 1, 5, 35, 7),   # stride 2, input channels past 128
    (256, 16, 1, 3, 1, 0, 1, 4, 18, 250),  # the widest input it takes
    (40, 32, 1, 2, 1, 0, 1, 5, 17, 128),  # 2x2: one half-empty tap quad per kernel row
    # The AVX2 gather (qconv_avx2.h) on layers too wide for the direct path: 16-pixel blocks that
    # span two output rows read one 16-byte load per row, padded rows and columns masked.
    (72, 8, 1, 3, 1, 1, 1, 7, 20, 128),
    (8, 72, 1, 3, 1, 1, 1, 5, 23, 30),
    (80, 6, 1, 3, 1, 2, 1, 4, 17, 250),   # padding wider than one column, 21-wide output rows
    (96, 5, 1, 3, 1, 0, 1, 6, 18, 3),     # no padding: every tap's two loads used as they are
    # The depthwise VNNI path (qconv_x86_dw.h): flattened planes, junk columns dropped.
    (24, 24, 24, 3, 1, 1, 1, 6, 6, 90),   # MobileNet's small planes
    (16, 16, 16, 3, 2, 1, 1, 13, 14, 128),  # stride 2 over odd and even sizes
    (8, 8, 8, 5, 1, 2, 1, 20, 19, 30),    # 5x5: two tap quads per kernel row
    (8, 8, 8, 3, 2, 0, 1, 9, 9, 250),     # stride 2, no padding
    (8, 8, 8, 3, 1, 2, 2, 9, 9, 128),     # dilated depthwise: the row kernel
    # ... planes of at most 64 bytes: one vector, windows by a compile-time vpermb table.
    (33, 33, 33, 3, 1, 1, 1, 3, 3, 128),  # MobileNetV2's last 3x3 planes, an odd channel count
    (16, 16, 16, 3, 2, 1, 1, 8, 8, 40),   # exactly 64 input bytes, stride 2
    (8, 8, 8, 5, 1, 2, 1, 7, 7, 201),     # 5x5 on 7x7: two quads a row, four output blocks
    (8, 8, 8, 3, 2, 0, 1, 7, 5, 255),     # stride 2, no padding, a non-square plane
    (4, 4, 4, 3, 1, 1, 1, 1, 1, 0),       # 1x1 plane: every tap but the centre is padding
    # The depthwise AVX2 path (qconv_avx2_dw.h): flattened strips, stride-2 rows wide enough for
    # the vector fill of the pair planes (odd and even left padding).
    (8, 8, 8, 3, 2, 1, 1, 7, 41, 77),
    (8, 8, 8, 5, 2, 2, 1, 6, 38, 128),
    (4, 4, 4, 3, 1, 1, 1, 40, 70, 222),   # strips of 3 rows: several strips and a short last one
    # Pointwise (1x1) convs on the VNNI path with vector packing of channel quads.
    (24, 8, 1, 1, 1, 0, 1, 7, 9, 3),      # 63 pixels: a full and a partial 32-pixel block
    (10, 4, 1, 1, 1, 0, 1, 6, 6, 177),    # 10 channels: the last quad half empty
    (16, 16, 2, 1, 1, 0, 1, 5, 8, 128),   # grouped pointwise
    # Stride-1 layers of 16+ input channels on the channel-quad VNNI path (qconv_x86_quad.h).
    (18, 32, 1, 3, 1, 1, 1, 7, 7, 60),    # a half-empty last quad, a 7x7 plane (junk columns)
    (16, 16, 1, 5, 1, 2, 1, 9, 20, 200),  # 5x5
    (32, 16, 1, 3, 1, 0, 1, 6, 19, 128),  # no padding
    (16, 32, 1, 3, 1, 1, 1, 12, 30, 90, 0.0004),  # with the long requantization
    # Small planes and strided layers on the output-channel-lane VNNI path (qconv_x86_cout.h): tiles
    # that span rows, tails of channel blocks and of pixels, passes over the input quads.
    (64, 48, 1, 3, 1, 1, 1, 7, 7, 60),    # ResNet's 7x7 stage: 3 blocks of 16 channels, 49 pixels
    (36, 80, 1, 3, 2, 1, 1, 15, 13, 128),  # stride 2 on odd sizes, 5 blocks, a half-empty last quad
    (20, 32, 1, 1, 2, 0, 1, 9, 10, 200),  # 1x1 stride 2 (ResNet's downsample)
    (16, 16, 1, 5, 1, 2, 1, 5, 6, 3),     # 5x5 on a 5x6 plane
    (256, 64, 1, 3, 1, 1, 1, 4, 5, 90),   # 64 quads: several passes, partial sums in between
    (32, 72, 1, 3, 1, 1, 1, 7, 7, 60),    # 72 channels: a last block of 8 (padded weights, masked stores)
    (48, 120, 1, 1, 2, 0, 1, 13, 11, 128),  # SqueezeNet's classifier in small: 1x1, a last block of 8
    # ... and its tap-quad layout for few input channels: 4 columns of one channel a dword.
    (3, 32, 1, 7, 2, 3, 1, 30, 27, 0),    # ResNet's 7x7 stride-2 stem on RGB
    (1, 16, 1, 3, 1, 1, 1, 12, 21, 128),  # grayscale 3x3
    (3, 16, 1, 3, 2, 1, 1, 20, 21, 50),   # an RGB 3x3 stem: channel quads, 3 of 4 bytes real
    # An output scale that makes some channels' multipliers >= 0.5 (shift >= 0): the x86 epilogues'
    # long requantization form beside the short one (QConvParams::short_requant false).
    (24, 8, 1, 1, 1, 0, 1, 7, 9, 3, 0.0004),
    (16, 32, 1, 3, 2, 1, 1, 7, 37, 255, 0.0004),
    (16, 16, 16, 3, 1, 1, 1, 12, 40, 90, 0.0004),
    (16, 16, 16, 3, 1, 1, 1, 6, 6, 90, 0.0004),
]


def _model(rng, cases=CASES):
    inits, nodes, ins, outs, feeds = [], [], [], [], {}

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr, name))
        return name

    for i, (ci, co, grp, k, st, p, d, h, w, zp, *y_scale) in enumerate(cases):
        x = f"c{i}_x"
        ins.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, ci, h, w]))
        feeds[x] = (rng.standard_normal((1, ci, h, w)) * 2.0).astype(np.float32)
        xs, xz = const(f"{x}_s", np.array(0.02, np.float32)), const(f"{x}_z", np.array(zp, np.uint8))
        nodes.append(helper.make_node("QuantizeLinear", [x, xs, xz], [f"{x}_q"]))
        # Full-range weights make the accumulators large.
        wq = const(f"c{i}_w", rng.integers(-127, 128, (co, ci // grp, k, k)).astype(np.int8))
        ws = const(f"c{i}_ws", (rng.random(co) * 0.02 + 0.005).astype(np.float32))
        wz = const(f"c{i}_wz", np.zeros(co, np.int8))
        ys = const(f"c{i}_ys", np.array(y_scale[0] if y_scale else 0.3, np.float32))
        yz = const(f"c{i}_yz", np.array(125, np.uint8))
        b = const(f"c{i}_b", rng.integers(-30000, 30000, co).astype(np.int32))
        nodes.append(helper.make_node("QLinearConv", [f"{x}_q", xs, xz, wq, ws, wz, ys, yz, b], [f"c{i}_yq"],
                                      kernel_shape=[k, k], strides=[st, st], pads=[p] * 4, dilations=[d, d],
                                      group=grp))
        ho = (h + 2 * p - d * (k - 1) - 1) // st + 1
        wo = (w + 2 * p - d * (k - 1) - 1) // st + 1
        nodes.append(helper.make_node("DequantizeLinear", [f"c{i}_yq", ys, yz], [f"c{i}_y"]))
        outs.append(helper.make_tensor_value_info(f"c{i}_y", TensorProto.FLOAT, [1, co, ho, wo]))
    return make_model(nodes, ins, outs, inits, opset=13), feeds


def test_fast_int8_conv_is_bit_identical_to_the_portable_kernels(save, tmp_path, monkeypatch):
    model, feeds = _model(np.random.default_rng(11))
    path = save(model, "qconv.onnx")
    g = run_passes(dequantize_prequantized(import_onnx(path)), pre_quant_passes())
    gq, rep = quantize_graph(g, path, None)
    assert rep["fallback_ops"] == []
    assert [n.op_type for n in gq.nodes].count("QConv") == len(CASES)
    args = [feeds[t] for t in gq.inputs]
    fast = HostModel(gq, tmp_path / "fast").run(*args)
    monkeypatch.setenv("EDGE_SDK_KERNELS", "portable")  # no SIMD path: the im2col / row kernels
    portable = HostModel(gq, tmp_path / "portable").run(*args)
    monkeypatch.delenv("EDGE_SDK_KERNELS")
    for n in gq.nodes:
        if n.op_type == "QConv":
            n.attrs["reference"] = True
    reference = HostModel(gq, tmp_path / "reference").run(*args)
    for case, a, b, c in zip(CASES, fast, portable, reference):
        np.testing.assert_array_equal(a, c, err_msg=f"fast path differs from the reference, case {case}")
        np.testing.assert_array_equal(b, c, err_msg=f"portable path differs from the reference, case {case}")
    # Both requantization forms of the x86 epilogues ran (QConvParams::short_requant).
    src = "".join(p.read_text() for p in (tmp_path / "fast").glob("*.cpp"))
    assert "/*short_requant*/ true" in src and "/*short_requant*/ false" in src
    assert "/*channel_quads*/ true" in src  # the channel-quad kernel ran too
    assert "/*cout_lanes*/ true" in src and "/*cout_lanes*/ false" in src  # and the output-channel-lane one
    # The sweep must exercise clamping at both ends and values in between.
    allv = np.concatenate([np.asarray(a).ravel() for a in fast])
    assert allv.min() < allv.max()


def test_a_last_partial_channel_block_stores_only_its_channels(save, tmp_path):
    """qconv_x86_cout.h pads 72 output channels to 5 blocks of 16; the last block's 8 idle lanes must
    not be stored: the conv's int8 output is made a graph output, written into a larger buffer."""
    case = (32, 72, 1, 3, 1, 1, 1, 7, 7, 60)
    model, feeds = _model(np.random.default_rng(13), [case])
    path = save(model, "partial.onnx")
    gq, _ = quantize_graph(run_passes(dequantize_prequantized(import_onnx(path)), pre_quant_passes()), path, None)
    conv = next(n for n in gq.nodes if n.op_type == "QConv")
    gq.outputs.append(conv.outputs[0])
    m = HostModel(gq, tmp_path / "m")
    assert "/*c_out*/ 72" in (tmp_path / "m" / "qmodel.cpp").read_text()
    assert "/*cout_lanes*/ true" in (tmp_path / "m" / "qmodel.cpp").read_text()
    shape = gq.tensor(conv.outputs[0]).shape
    size = int(np.prod(shape))
    canary = np.full(size + 4096, 0x5A, np.int8)
    y = np.empty(gq.tensor(gq.outputs[0]).shape, np.float32)
    m.lib.run([feeds[t] for t in gq.inputs], [y, canary[:size].reshape(shape)])
    assert (canary[size:] == 0x5A).all(), "stores past the last channel"
    ref = m.run(*[feeds[t] for t in gq.inputs])
    np.testing.assert_array_equal(canary[:size].reshape(shape), ref[1])


@pytest.mark.skipif(not shutil.which("qemu-aarch64"), reason="qemu-user is installed by `make test`")
def test_host_simd_int8_conv_is_bit_exact_with_an_arm_build(save, tmp_path):
    """The cross-target proof: the aarch64 build has no VNNI path and must agree bit for bit."""
    model, feeds = _model(np.random.default_rng(12))
    path = save(model, "qconv.onnx")
    host = edge_sdk.compile(path, out_dir=tmp_path / "host")
    arm = edge_sdk.compile(path, device="rpi4", out_dir=tmp_path / "rpi4")
    for case, a, b in zip(CASES, host.run(feeds), arm.run(feeds, emulate=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"host and aarch64 differ, case {case}")
