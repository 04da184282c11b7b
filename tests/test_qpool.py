"""int8 MaxPool (QMaxPool, kernels/int8/qops.h) against onnxruntime on the same QDQ graph.

The max of int8 values requantized with the input's own scale is exact, so our bytes must
equal onnxruntime's.  Geometries sweep the separable kernel's edges: windows clipped by
padding on either side and by ceil mode at the end of a row or plane, strides 1 to 3,
non-square kernels, rows narrower than a vector and a single column; a dilated pool takes
the general loop.  A pool the int8 lowering fuses into a conv epilogue is tested in
test_qconv_fused.py; these pools read a graph input, so they stay standalone.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper, shape_inference

from conftest import make_model, ort_run
from edge_sdk.frontend import import_onnx
from edge_sdk.passes import run_passes
from edge_sdk.quantize import dequantize_prequantized, pre_quant_passes, quantize_graph
from edge_sdk.quantize.build_run import HostModel

# (kernel (h, w), stride (h, w), pads (top, left, bottom, right), ceil mode, dilation, h, w)
CASES = [
    ((3, 3), (2, 2), (0, 0, 0, 0), 0, 1, 27, 27),   # SqueezeNet's 27 -> 13
    ((3, 3), (2, 2), (1, 1, 1, 1), 0, 1, 20, 21),   # ResNet's stem pool: clipped at both edges
    ((2, 2), (2, 2), (0, 0, 0, 0), 0, 1, 9, 35),    # odd sizes: the last row and column dropped
    ((3, 3), (1, 1), (1, 1, 1, 1), 0, 1, 6, 40),    # stride 1 (Inception branches)
    ((3, 3), (2, 2), (0, 0, 0, 0), 1, 1, 28, 28),   # ceil mode: last windows cut by the plane
    ((5, 3), (3, 2), (2, 0, 1, 1), 1, 1, 13, 17),   # non-square, asymmetric pads, ceil mode
    ((2, 4), (1, 3), (0, 2, 0, 1), 0, 1, 5, 1),     # a one-column input, windows mostly padding
    ((3, 3), (2, 2), (1, 1, 1, 1), 0, 2, 11, 12),   # dilated: the general loop
]


def _model(rng):
    inits, nodes, ins, outs, feeds = [], [], [], [], {}
    for i, (k, s, p, ceil, d, h, w) in enumerate(CASES):
        x = f"p{i}_x"
        ins.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 3, h, w]))
        feeds[x] = (rng.standard_normal((1, 3, h, w)) * 2.0).astype(np.float32)
        inits += [numpy_helper.from_array(np.array(0.02, np.float32), f"{x}_s"),
                  numpy_helper.from_array(np.array(7, np.int8), f"{x}_z")]
        q = [f"{x}_s", f"{x}_z"]
        nodes += [helper.make_node("QuantizeLinear", [x, *q], [f"{x}_q"]),
                  helper.make_node("DequantizeLinear", [f"{x}_q", *q], [f"{x}_d"]),
                  helper.make_node("MaxPool", [f"{x}_d"], [f"{x}_p"], kernel_shape=list(k), strides=list(s),
                                   pads=[p[0], p[1], p[2], p[3]], ceil_mode=ceil, dilations=[d, d]),
                  helper.make_node("QuantizeLinear", [f"{x}_p", *q], [f"{x}_pq"]),
                  helper.make_node("DequantizeLinear", [f"{x}_pq", *q], [f"p{i}_y"])]
        outs.append(f"p{i}_y")
    model = make_model(nodes, ins, [], inits, opset=13)
    shapes = {v.name: v for v in shape_inference.infer_shapes(model).graph.value_info}
    model.graph.output.extend(shapes[y] for y in outs)
    return model, feeds


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qpool")
    model, feeds = _model(np.random.default_rng(3))
    path = tmp / "qpool.onnx"
    path.write_bytes(model.SerializeToString())
    g = run_passes(dequantize_prequantized(import_onnx(path)), pre_quant_passes())
    gq, rep = quantize_graph(g, path, None)
    assert rep["fallback_ops"] == []
    assert [n.op_type for n in gq.nodes].count("QMaxPool") == len(CASES)
    ours = HostModel(gq, tmp / "build").run(*[feeds[t] for t in gq.inputs])
    return ours, ort_run(path, feeds)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[str(c) for c in CASES])
def test_int8_max_pool_equals_onnxruntime(pooled, i):
    ours, want = pooled
    assert ours[i].shape == want[i].shape
    np.testing.assert_array_equal(ours[i], want[i], err_msg=f"case {CASES[i]}")
    assert np.unique(want[i]).size > min(10, want[i].size // 4)  # real maxima, not one clamped constant
