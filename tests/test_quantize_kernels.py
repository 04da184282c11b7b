"""int8 kernels against onnxruntime's integer operators (QOperator models: QLinearConv,
QLinearMatMul), imported as pre-quantized models and run by our generated code.

onnxruntime requantizes with a float multiply and round-half-even, our kernels with the
TFLite fixed-point rule (kernels/int8/requant.h), so results agree exactly except where a
value sits within float error of a rounding tie: we require |diff| <= 1 step and nearly
all values bit-exact.  Shapes sweep SIMD tile edges (7/8/9, 15/16/17, 31/32/33), zero
points, saturation (clamping), depthwise, grouped, strided, dilated and padded convolution.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from conftest import make_model, ort_run
from edge_sdk.frontend import import_onnx
from edge_sdk.passes import run_passes
from edge_sdk.quantize import dequantize_prequantized, pre_quant_passes, quantize_graph
from edge_sdk.quantize.build_run import HostModel

# (name, c_in, c_out, group, kernel, stride, pad, dilation, h, w, activation dtype, y_scale)
CONV_CASES = [
    ("plain3x3", 3, 8, 1, 3, 1, 1, 1, 9, 17, TensorProto.INT8, 0.05),
    ("edge7", 5, 7, 1, 3, 2, 1, 1, 15, 15, TensorProto.UINT8, 0.05),
    ("edge9", 4, 9, 1, 1, 1, 0, 1, 8, 16, TensorProto.INT8, 0.03),
    ("depthwise", 16, 16, 16, 3, 1, 1, 1, 16, 16, TensorProto.INT8, 0.02),
    ("depthwise_s2", 8, 8, 8, 5, 2, 2, 1, 17, 17, TensorProto.UINT8, 0.02),
    ("grouped", 8, 12, 4, 3, 1, 2, 2, 11, 13, TensorProto.INT8, 0.04),
    ("saturating", 6, 8, 1, 3, 1, 1, 1, 8, 8, TensorProto.INT8, 0.002),
    ("wide33", 33, 32, 1, 1, 1, 0, 1, 4, 31, TensorProto.INT8, 0.1),
]
# (name, m, k, n, activation dtype)
MATMUL_CASES = [("mm15", 1, 15, 16, TensorProto.INT8), ("mm33", 3, 33, 17, TensorProto.UINT8),
                ("mm64", 2, 64, 9, TensorProto.INT8)]


def _qoperator_model(rng):
    inits, nodes, ins, outs, feeds = [], [], [], [], {}

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def quant_input(name, shape, dtype):
        npdt = np.uint8 if dtype == TensorProto.UINT8 else np.int8
        zp = int(rng.integers(100, 150)) if npdt == np.uint8 else int(rng.integers(-20, 20))
        ins.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        feeds[name] = (rng.standard_normal(shape) * 1.5).astype(np.float32)
        s, z = const(f"{name}_s", np.array(0.02, np.float32)), const(f"{name}_z", np.array(zp, npdt))
        nodes.append(helper.make_node("QuantizeLinear", [name, s, z], [f"{name}_q"]))
        return f"{name}_q", s, z, npdt

    def dequant_output(name, q, shape, ys, yz):
        nodes.append(helper.make_node("DequantizeLinear", [q, ys, yz], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))

    for (name, ci, co, grp, k, st, p, d, h, w, dt, ysc) in CONV_CASES:
        xq, xs, xz, npdt = quant_input(f"{name}_x", (1, ci, h, w), dt)
        # 7-bit weights: without VNNI, onnxruntime's x86 int8 kernels sum pairs of u8*s8 products in
        # int16 (vpmaddubsw) and saturate on full-range weights (its docs: reduce_range).  Then it is
        # no oracle; with |w| <= 64 a pair is at most 2*255*64 < 32767 and it is exact on every x86.
        wq = const(f"{name}_w", rng.integers(-64, 64, (co, ci // grp, k, k)).astype(np.int8))
        ws = const(f"{name}_ws", (rng.random(co) * 0.02 + 0.005).astype(np.float32))
        wz = const(f"{name}_wz", np.zeros(co, np.int8))
        ys = const(f"{name}_ys", np.array(ysc, np.float32))
        yz = const(f"{name}_yz", np.array(7 if npdt == np.int8 else 131, npdt))
        b = const(f"{name}_b", rng.integers(-3000, 3000, co).astype(np.int32))
        nodes.append(helper.make_node("QLinearConv", [xq, xs, xz, wq, ws, wz, ys, yz, b], [f"{name}_yq"],
                                      kernel_shape=[k, k], strides=[st, st], pads=[p] * 4, dilations=[d, d],
                                      group=grp))
        ho = (h + 2 * p - d * (k - 1) - 1) // st + 1
        wo = (w + 2 * p - d * (k - 1) - 1) // st + 1
        dequant_output(f"{name}_y", f"{name}_yq", (1, co, ho, wo), ys, yz)
    for (name, m, k, n, dt) in MATMUL_CASES:
        aq, as_, az, npdt = quant_input(f"{name}_a", (m, k), dt)
        bq = const(f"{name}_b", rng.integers(-64, 64, (k, n)).astype(np.int8))
        bs, bz = const(f"{name}_bs", np.array(0.01, np.float32)), const(f"{name}_bz", np.array(0, np.int8))
        ys = const(f"{name}_ys", np.array(0.05, np.float32))
        yz = const(f"{name}_yz", np.array(-5 if npdt == np.int8 else 120, npdt))
        nodes.append(helper.make_node("QLinearMatMul", [aq, as_, az, bq, bs, bz, ys, yz], [f"{name}_yq"]))
        dequant_output(f"{name}_y", f"{name}_yq", (m, n), ys, yz)
    return make_model(nodes, ins, outs, inits, opset=13), feeds


def test_int8_kernels_agree_with_onnxruntime_qoperator(save, tmp_path):
    model, feeds = _qoperator_model(np.random.default_rng(3))
    path = save(model, "qop.onnx")
    g = run_passes(dequantize_prequantized(import_onnx(path)), pre_quant_passes())
    gq, rep = quantize_graph(g, path, None)
    assert rep["fallback_ops"] == []
    ops = [n.op_type for n in gq.nodes]
    assert ops.count("QConv") == len(CONV_CASES) and ops.count("QFullyConnected") == len(MATMUL_CASES)
    m = HostModel(gq, tmp_path / "build")
    ours = m.run(*[feeds[t] for t in gq.inputs])
    # The fast conv path (im2col + int8 dot products) is bit-identical to the reference kernel.
    for n in gq.nodes:
        if n.op_type == "QConv":
            n.attrs["reference"] = True
    ref_kernel = HostModel(gq, tmp_path / "reference").run(*[feeds[t] for t in gq.inputs])
    for a, b in zip(ours, ref_kernel):
        np.testing.assert_array_equal(a, b)
    want = ort_run(path, feeds)
    names = [c[0] for c in CONV_CASES] + [c[0] for c in MATMUL_CASES]
    total = exact = 0
    for name, a, b in zip(names, ours, want):
        step = float(numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == f"{name}_ys")))
        diff = np.abs(np.round((a.astype(np.float64) - b) / step))
        assert diff.max() <= 1, f"{name}: off by {diff.max()} steps"
        total += diff.size
        exact += int(np.sum(diff == 0))
    print(f"QOperator sweep: {exact}/{total} values bit-exact with onnxruntime, the rest within 1 step")
    assert exact / total >= 0.99, f"only {exact}/{total} values bit-exact"
    sat = ours[names.index("saturating")]
    assert np.isclose(sat.max(), 0.002 * (127 - 7)) and np.isclose(sat.min(), 0.002 * (-128 - 7))
