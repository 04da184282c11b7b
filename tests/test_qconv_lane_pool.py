"""A MaxPool fused into the output-channel-lane int8 conv (passes/fuse_qconv_epilogue.py, lane_pool;
conv2d_s8_max_pool in kernels/int8/qops.h): ResNet's 7x7 stride-2 stem with its 3x3 stride-2 pool
padded by 1, and other convs that run in output-channel lanes with an overlapping or a plain pool.
On x86 VNNI the conv's epilogue pools the int32 sums (qconv_x86_cout.h); elsewhere (here: a build
without SIMD, -DEDGE_SDK_KERNELS_PORTABLE, and an AVX2 build, x86-64-v3) each 16 output channels are
convolved into scratch and max_pool_s8 pools them.  Every route must give exactly the bytes of the
unfused int8 graph, also split by channels between threads.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import make_model
from test_qconv_fused import _cpu_has
from edge_sdk.frontend import import_onnx
from edge_sdk.passes import fuse_qconv_epilogue, run_passes
from edge_sdk.passes.split_for_threads import split_for_threads
from edge_sdk.quantize import pre_quant_passes, quantize_graph
from edge_sdk.quantize.build_run import HostModel

# (c_in, c_out, conv kernel, stride, pad, h, w, pool (kernel, stride, pad), ceil mode, Relu before / Clip after the pool)
STEMS = [
    (3, 32, 7, 2, 3, 30, 27, (3, 2, 1), 0, "relu"),   # ResNet's stem on RGB (tap quads); a 15x14 conv output
    (3, 64, 7, 2, 3, 40, 44, (3, 2, 1), 0, "relu"),   # 4 blocks: 4x6 tiles and a 4-pixel tail a row (22 wide)
    (16, 48, 3, 1, 1, 11, 13, (3, 2, 0), 0, "relu"),  # channel quads, 3 blocks, overlapping windows unpadded
    (20, 32, 3, 2, 1, 17, 15, (2, 2, 0), 0, None),    # a plain 2x2 pool after a stride-2 conv, no activation
    (32, 80, 3, 1, 1, 7, 7, (3, 2, 1), 1, "clip"),    # 5 blocks (a 1-block tail); ceil mode; a Clip after the pool
    (16, 16, 3, 1, 1, 5, 4, (3, 2, 1), 0, "relu"),    # a row narrower than a tile: tail tiles only
]


def _stem_model(rng, case):
    ci, co, k, st, p, h, w, (pk, ps, pp), ceil, act = case
    inits = []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    nodes = [helper.make_node("Conv", ["x", const("w", rng.standard_normal((co, ci, k, k)) * 0.3),
                                       const("b", rng.standard_normal(co) * 0.1)], ["c"],
                              kernel_shape=[k, k], strides=[st, st], pads=[p] * 4)]
    t = "c"
    if act == "relu":
        nodes.append(helper.make_node("Relu", ["c"], ["r"]))
        t = "r"
    nodes.append(helper.make_node("MaxPool", [t], ["p"], kernel_shape=[pk, pk], strides=[ps, ps], pads=[pp] * 4,
                                  ceil_mode=ceil))
    t = "p"
    if act == "clip":  # becomes the pool's activation (fuse_activations), a clamp after the max
        nodes.append(helper.make_node("Clip", ["p", const("lo", -0.5), const("hi", 1.0)], ["pc"]))
        t = "pc"
    nodes.append(helper.make_node("Sigmoid", [t], ["y"]))  # keeps the pooled tensor int8 inside the graph
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, ci, h, w])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, co, "h", "w"])], inits, opset=13)


ROUTE_FLAGS = {"fast": (), "threads": (), "no-simd": ("-DEDGE_SDK_KERNELS_PORTABLE",), "avx2": ("-march=x86-64-v3",)}


@pytest.mark.parametrize("route", list(ROUTE_FLAGS))
@pytest.mark.parametrize("case", STEMS, ids=[f"stem{i}" for i in range(len(STEMS))])
def test_lane_pool_is_bit_identical_to_the_unfused_graph(save, tmp_path, route, case):
    if route == "avx2" and not _cpu_has("avx2"):
        pytest.skip("the AVX2 build needs an AVX2 CPU to run")
    rng = np.random.default_rng(7)
    path = save(_stem_model(rng, case), "stem.onnx")
    ci, h, w = case[0], case[5], case[6]
    g = run_passes(import_onnx(path), pre_quant_passes())
    gq, rep = quantize_graph(g, path, rng.standard_normal((6, ci, h, w)).astype(np.float32), evaluate=False)
    assert rep["fallback_ops"] == []
    x = rng.standard_normal((1, ci, h, w)).astype(np.float32) * 1.5
    want = HostModel(gq, tmp_path / "unfused").run(x)[0]
    fused_g = run_passes(gq, (fuse_qconv_epilogue,))
    convs = [n for n in fused_g.nodes if n.op_type == "QConv"]
    assert len(convs) == 1 and "lane_pool" in convs[0].attrs, "the pool was not fused into the lane kernel"
    assert not any(n.op_type == "QMaxPool" for n in fused_g.nodes)
    if route == "threads":
        split_for_threads(fused_g, 2)  # by 16-channel blocks: one block stays whole
        assert len(convs[0].attrs.get("thread_parts", ())) == (2 if case[1] >= 32 else 0)
    fused = HostModel(fused_g, tmp_path / route, cflags=ROUTE_FLAGS[route])
    src = (tmp_path / route / "qmodel.cpp").read_text()
    assert "conv2d_s8_max_pool" in src and "/*cout_lanes*/ true" in src
    np.testing.assert_array_equal(fused.run(x)[0], want)
    assert np.unique(want).size > 3, "the block's output should not be constant"
