"""The x86 fully connected paths, AVX-512 VNNI (kernels/int8/qfc_x86.h) or AVX2 (qfc_avx2.h),
whichever this machine has, must be bit-identical to the portable dot-product loop of qconv.h,
for both int8 outputs (fully_connected_s8) and the float logits a classifier head ends in
(fully_connected_s8_f32).  The AVX2 path's edges are its 16-byte chunks and 4-row passes, which
the same sweep crosses (k tails of 8, 2 and 1; n tails of 1, 2 and 3 rows).

Shapes sweep its edges: k around the 64-byte chunk (a masked tail, a k shorter than one chunk),
n around its 8-row passes (a tail of rows, fewer rows than one pass), several input rows, and
input zero points at both ends of the range (the VNNI path reads x + 128 as unsigned and folds
(zp + 128) * sum(w) into a second bias), and a head large enough to be prefetched, whose last
rows have no rows ahead.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from conftest import make_model
from edge_sdk.frontend import import_onnx
from edge_sdk.passes import run_passes
from edge_sdk.quantize import dequantize_prequantized, pre_quant_passes, quantize_graph
from edge_sdk.quantize.build_run import HostModel

# (rows m, k, n, input zero point (uint8), output kept in int8 (QDQ) or read as float)
CASES = [
    (1, 200, 37, 128, True),   # three full 64-byte chunks and a tail of 8; 4 passes of 8 rows + 5
    (3, 64, 8, 0, True),       # exactly one chunk and one pass, three input rows
    (2, 130, 17, 255, True),
    (1, 33, 5, 77, True),      # k shorter than a chunk, n shorter than a pass
    (1, 1280, 10, 128, False),  # a classifier head: MobileNetV2's 1280 features to logits
    (2, 96, 19, 3, False),
    (1, 1280, 103, 128, False),  # over 128 KiB of weights: rows 16 ahead are prefetched (qfc_prefetch.h)
]


def _model(rng):
    inits, nodes, ins, outs, feeds = [], [], [], [], {}

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr, name))
        return name

    for i, (m, k, n, zp, int8_out) in enumerate(CASES):
        x = f"f{i}_x"
        ins.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, [m, k]))
        feeds[x] = (rng.standard_normal((m, k)) * 2.0).astype(np.float32)
        xs, xz = const(f"{x}_s", np.array(0.02, np.float32)), const(f"{x}_z", np.array(zp, np.uint8))
        nodes.append(helper.make_node("QuantizeLinear", [x, xs, xz], [f"{x}_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{x}_q", xs, xz], [f"{x}_d"]))
        # Full-range weights make the sums large.
        wq = const(f"f{i}_w", rng.integers(-127, 128, (k, n)).astype(np.int8))
        ws = const(f"f{i}_ws", np.array(0.01, np.float32))
        wz = const(f"f{i}_wz", np.array(0, np.int8))
        nodes.append(helper.make_node("DequantizeLinear", [wq, ws, wz], [f"f{i}_wd"]))
        b = const(f"f{i}_b", (rng.standard_normal(n) * 3).astype(np.float32))
        y = f"f{i}_y"
        nodes.append(helper.make_node("Gemm", [f"{x}_d", f"f{i}_wd", b], [y if not int8_out else f"{y}_f"]))
        if int8_out:
            ys, yz = const(f"f{i}_ys", np.array(0.3, np.float32)), const(f"f{i}_yz", np.array(125, np.uint8))
            nodes.append(helper.make_node("QuantizeLinear", [f"{y}_f", ys, yz], [f"{y}_q"]))
            nodes.append(helper.make_node("DequantizeLinear", [f"{y}_q", ys, yz], [y]))
        outs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, [m, n]))
    return make_model(nodes, ins, outs, inits, opset=13), feeds


def test_fast_int8_fully_connected_is_bit_identical_to_the_portable_loop(save, tmp_path, monkeypatch):
    model, feeds = _model(np.random.default_rng(5))
    path = save(model, "qfc.onnx")
    g = run_passes(dequantize_prequantized(import_onnx(path)), pre_quant_passes())
    gq, rep = quantize_graph(g, path, None)
    assert rep["fallback_ops"] == []
    ops = [n.op_type for n in gq.nodes]
    assert ops.count("QFullyConnected") == sum(c[4] for c in CASES), ops
    assert ops.count("QFullyConnectedF32") == sum(not c[4] for c in CASES), ops
    args = [feeds[t] for t in gq.inputs]
    fast = HostModel(gq, tmp_path / "fast").run(*args)
    monkeypatch.setenv("EDGE_SDK_KERNELS", "portable")
    portable = HostModel(gq, tmp_path / "portable").run(*args)
    for case, a, b in zip(CASES, fast, portable):
        np.testing.assert_array_equal(a, b, err_msg=f"fast path differs from the portable loop, case {case}")
        assert np.ptp(a) > 0, case  # the sweep must produce values, not one clamped constant
