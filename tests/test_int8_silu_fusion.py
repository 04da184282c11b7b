"""x * sigmoid(x) (SiLU as exporters write it) in the int8 graph is QLookup + QMul; the lowering
pass passes/fuse_qlookup_mul.py makes it one table built by the C++ compiler.  The fused graph
must give exactly the unfused graph's bytes (fast and portable kernels), and the pass must leave
products of two different tensors alone."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import make_model
from edge_sdk.frontend import import_onnx
from edge_sdk.passes import fuse_qlookup_mul, run_passes
from edge_sdk.quantize import pre_quant_passes, quantize_graph
from edge_sdk.quantize.build_run import HostModel


def _model(rng, swapped: bool):
    w = numpy_helper.from_array((rng.standard_normal((8, 4, 3, 3)) * 0.4).astype(np.float32), "w")
    w2 = numpy_helper.from_array((rng.standard_normal((8, 4, 3, 3)) * 0.4).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["s"]),
             helper.make_node("Mul", ["s", "c"] if swapped else ["c", "s"], ["silu"]),
             # A product of two different tensors: not a table, must stay a QMul.
             helper.make_node("Conv", ["x", "w2"], ["d"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["silu", "d"], ["p"]),
             helper.make_node("Conv", ["p", "w2"], ["y"], pads=[1, 1, 1, 1], group=2)]
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 12, 13])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 12, 13])], [w, w2], opset=13)


@pytest.mark.parametrize("kernels", ["fast", "portable"])
@pytest.mark.parametrize("swapped", [False, True], ids=["x_first", "table_first"])
def test_silu_table_is_bit_identical_to_lookup_then_mul(save, tmp_path, monkeypatch, kernels, swapped):
    if kernels == "portable":
        monkeypatch.setenv("EDGE_SDK_KERNELS", "portable")
    rng = np.random.default_rng(9)
    path = save(_model(rng, swapped), "silu.onnx")
    g = run_passes(import_onnx(path), pre_quant_passes())
    gq, rep = quantize_graph(g, path, rng.standard_normal((6, 4, 12, 13)).astype(np.float32) * 2, evaluate=False)
    assert rep["fallback_ops"] == []
    assert [n.op_type for n in gq.nodes].count("QMul") == 2
    x = rng.standard_normal((1, 4, 12, 13)).astype(np.float32) * 2
    want = HostModel(gq, tmp_path / "unfused").run(x)[0]
    fused = run_passes(gq, (fuse_qlookup_mul,))
    ops = [n.op_type for n in fused.nodes]
    assert ops.count("QMul") == 1 and sum("times_input" in n.attrs for n in fused.nodes) == 1
    got = HostModel(fused, tmp_path / "fused").run(x)[0]
    np.testing.assert_array_equal(got, want)
    assert np.unique(want).size > 20
