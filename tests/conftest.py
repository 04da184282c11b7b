"""Shared fixtures: small ONNX graphs built in-test, and onnxruntime as the reference."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

# The detector's compiled-model cache: inside the checkout (ignored by git), so test runs
# reuse it and never touch the user's ~/.cache.
os.environ.setdefault("EDGE_SDK_CACHE", str(REPO / ".cache" / "edge-sdk"))


def make_model(nodes, inputs, outputs, initializers=(), opset=17, functions=()):
    graph = helper.make_graph(nodes, "test", inputs, outputs, list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], functions=list(functions))
    m.ir_version = 8
    return m


def ort_run(path, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, feeds)


def assert_close_to_ort(got: list[np.ndarray], want: list[np.ndarray], rtol: float = 1e-3):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        scale = max(float(np.max(np.abs(b))), 1e-6) if b.size else 1.0
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


@pytest.fixture
def save(tmp_path):
    """save(model, name) -> path of the model written under tmp_path."""
    def _save(model: onnx.ModelProto, name: str = "model.onnx") -> Path:
        p = tmp_path / name
        onnx.save(model, str(p))
        return p
    return _save


def conv_bn_relu_model(batch_dim="N"):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    bn = [numpy_helper.from_array(v.astype(np.float32), n) for v, n in (
        (rng.random(4) + 0.5, "gamma"), (rng.standard_normal(4), "beta"),
        (rng.standard_normal(4), "mean"), (rng.random(4) + 0.5, "var"))]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["y"], name="relu")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch_dim, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch_dim, 4, 8, 8])
    return make_model(nodes, [x], [y], [w, b, *bn])
