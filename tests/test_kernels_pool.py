"""Fast MaxPool (pool_fast.h) against the portable kernel (pool.h) and onnxruntime.

Every case is one MaxPool node of a single model, so the sweep costs one build per
kernel family.  Shapes sit around the fast path's edges: output widths of a vector
-1 / vector / vector+1 (8 lanes on AVX2, 16 on AVX-512), strides 1 to 4 (the phase
split has its own stride-2 route), dilations, asymmetric pads, ceil_mode, auto_pad,
1-D pooling and fused activations (vector and per-lane).
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import edge_sdk
from edge_sdk.errors import UnsupportedOpError
from conftest import assert_close_to_ort, make_model, ort_run

# (c, h, w, k, stride, dilation, pads or auto_pad, ceil_mode, activation)
POOL_CASES = [
    (3, 9, 15, 3, 1, 1, [1, 1, 1, 1], 0, None),
    (2, 10, 16, 2, 2, 1, [0, 0, 0, 0], 0, "Relu"),
    (2, 11, 17, 3, 2, 1, [0, 0, 0, 0], 1, None),
    (4, 111, 111, 3, 2, 1, [0, 0, 0, 0], 1, None),  # SqueezeNet's stem pool
    (2, 12, 40, 3, 3, 1, [1, 1, 1, 1], 0, "Clip"),
    (2, 13, 33, 3, 1, 2, [2, 2, 2, 2], 0, None),
    (2, 9, 30, 5, 2, 2, [2, 1, 3, 4], 0, "Sigmoid"),
    (1, 5, 5, 2, 2, 1, [0, 0, 0, 0], 1, None),
    (2, 8, 71, 4, 4, 1, [1, 2, 0, 1], 1, None),
    (3, 7, 9, 3, 2, 1, "SAME_UPPER", 0, "Relu"),
    (3, 7, 18, 4, 2, 1, "SAME_LOWER", 0, None),
    (2, 6, 33, 1, 1, 1, [0, 0, 0, 0], 0, None),      # 1x1: a copy
    (2, 1, 65, 3, 2, 1, [1, 0, 1, 0], 0, None),      # one row
]


def _pool_nodes(i, case):
    c, h, w, k, s, d, pads, ceil, act = case
    attrs = dict(kernel_shape=[k, k], strides=[s, s], dilations=[d, d], ceil_mode=ceil)
    if isinstance(pads, str):
        attrs["auto_pad"] = pads
    else:
        attrs["pads"] = pads
    out = f"p{i}" if act else f"y{i}"
    nodes = [helper.make_node("MaxPool", [f"x{i}"], [out], **attrs)]
    if act == "Clip":
        nodes.append(helper.make_node("Clip", [out, "lo", "hi"], [f"y{i}"]))
    elif act:
        nodes.append(helper.make_node(act, [out], [f"y{i}"]))
    return nodes


def _pool_model():
    nodes, ins, outs = [], [], []
    for i, c in enumerate(POOL_CASES):
        nodes += _pool_nodes(i, c)
        ins.append(helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, [1, c[0], c[1], c[2]]))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, ["n", "c", "h", "w"]))
    # 1-D pooling (mapped to a 2-D plane of height 1)
    nodes.append(helper.make_node("MaxPool", ["x1d"], ["y1d"], kernel_shape=[3], strides=[2], pads=[1, 1], ceil_mode=1))
    ins.append(helper.make_tensor_value_info("x1d", TensorProto.FLOAT, [2, 3, 41]))
    outs.append(helper.make_tensor_value_info("y1d", TensorProto.FLOAT, ["n", "c", "w"]))
    inits = [helper.make_tensor("lo", TensorProto.FLOAT, [], [-0.5]), helper.make_tensor("hi", TensorProto.FLOAT, [], [0.75])]
    return make_model(nodes, ins, outs, inits, opset=13)


def _feeds(model, nan: bool):
    rng = np.random.default_rng(3)
    feeds = {}
    for i in model.graph.input:
        x = rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32)
        if nan:  # sprinkled NaNs must win their windows in both kernels
            x.reshape(-1)[rng.choice(x.size, max(1, x.size // 50), replace=False)] = np.nan
        feeds[i.name] = x
    return feeds


def test_max_pool_fast_matches_portable_and_ort(save, tmp_path, monkeypatch):
    model = _pool_model()
    path = save(model, "pools.onnx")
    fast = edge_sdk.compile(path, out_dir=tmp_path / "fast")
    monkeypatch.setenv("EDGE_SDK_KERNELS", "portable")
    portable = edge_sdk.compile(path, out_dir=tmp_path / "portable")
    monkeypatch.delenv("EDGE_SDK_KERNELS")
    fast_src = (fast.dir / f"{fast.manifest['prefix']}.cpp").read_text()
    assert fast_src.count("max_pool_fast_f32<") == len(POOL_CASES) + 1  # every pool took the fast path
    assert "max_pool_fast_f32" not in (portable.dir / f"{portable.manifest['prefix']}.cpp").read_text()

    feeds = _feeds(model, nan=False)
    got_fast, got_portable = fast.run(feeds), portable.run(feeds)
    assert_close_to_ort(got_fast, ort_run(path, feeds), rtol=1e-6)
    for a, b in zip(got_fast, got_portable):
        np.testing.assert_array_equal(a, b)  # a max is exact: the kernels agree bit for bit

    feeds = _feeds(model, nan=True)
    got_fast, got_portable = fast.run(feeds), portable.run(feeds)
    assert sum(np.isnan(a).sum() for a in got_fast) > 100  # (Relu and Clip map NaN to a number)
    for a, b in zip(got_fast, got_portable):
        np.testing.assert_array_equal(a, b)  # NaN in the same places, every other value equal


def test_ceil_mode_window_in_end_padding_is_refused(save, tmp_path):
    """ONNX shape inference keeps a last window that starts in the end padding; onnxruntime
    drops it.  The compiler must not pick one silently."""
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[4, 4], strides=[4, 4], pads=[1, 2, 0, 3],
                            ceil_mode=1)
    model = make_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 70])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "h", "w"])], opset=13)
    with pytest.raises(UnsupportedOpError, match="starts in the end padding.*gives 19 outputs and onnxruntime 18"):
        edge_sdk.compile(save(model, "ceil.onnx"), out_dir=tmp_path / "ceil")
