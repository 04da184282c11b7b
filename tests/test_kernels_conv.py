"""Fast conv kernels (conv_fast.h) against the portable kernel (conv.h) and onnxruntime.

Many independent Conv nodes go into one model (one input and one output each)
so a whole sweep costs one C++ build per kernel family.  Shapes sit around the
tile edges of the fast paths: output widths of a vector-1 / vector / vector+1
(16 lanes on AVX-512, 8 on AVX2), micro-tiles of MR = 1, 2, 4, 8 output
channels (8 runs as two row tiles of 4 on 16-register targets) and their +-1,
strides, dilations, asymmetric pads, every auto_pad mode, groups and depthwise,
and weight-heavy layers (weight blocks outermost, or a chunked reduction).
EDGE_SDK_KERNELS=portable compiles the same model with the portable kernel only.
"""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edge_sdk
from conftest import SHARED, assert_close_to_ort, make_model, ort_run

# (c_in, c_out, h, w, k, stride, dilation, pads or auto_pad, group, activation)
CONV_CASES = [
    (3, 8, 9, 15, 3, 1, 1, [1, 1, 1, 1], 1, "Relu"),
    (3, 8, 9, 16, 3, 1, 1, [1, 1, 1, 1], 1, None),
    (3, 8, 9, 17, 3, 1, 1, [1, 1, 1, 1], 1, "Relu"),
    (4, 7, 6, 33, 3, 1, 1, [0, 0, 0, 0], 1, None),
    (5, 9, 7, 49, 3, 1, 1, [1, 2, 0, 1], 1, "Relu"),
    (2, 1, 5, 40, 5, 1, 1, [2, 2, 2, 2], 1, None),
    (2, 2, 5, 31, 3, 1, 2, [2, 2, 2, 2], 1, "Relu"),
    (3, 3, 5, 23, 3, 1, 3, [3, 3, 3, 3], 1, None),
    (6, 5, 8, 8, 3, 1, 1, [1, 1, 1, 1], 1, "Relu"),
    (16, 17, 7, 7, 3, 1, 1, [1, 1, 1, 1], 1, None),
    (8, 16, 3, 3, 1, 1, 1, [0, 0, 0, 0], 1, "Relu"),
    (24, 12, 12, 12, 1, 1, 1, [0, 0, 0, 0], 1, None),
    (300, 9, 4, 5, 1, 1, 1, [0, 0, 0, 0], 1, "Relu"),      # K > one K-chunk
    (40, 10, 5, 5, 3, 1, 1, [1, 1, 1, 1], 1, None),        # K = 360: chunked, whole panel
    (64, 40, 5, 7, 1, 1, 1, [0, 0, 0, 0], 1, "Relu"),      # more weights than input: weight blocks outer
    (32, 20, 6, 18, 3, 1, 1, [1, 1, 1, 1], 1, None),       # the same with a padded 3x3
    (200, 40, 5, 5, 1, 1, 1, [0, 0, 0, 0], 1, "Relu"),     # chunked reduction (64 + 64 + 64 + 8 channels)
    (144, 52, 7, 7, 1, 1, 1, [0, 0, 0, 0], 1, None),       # chunked, 7 vectors: tiles 3 + 2 + 2 on AVX2
    (32, 24, 9, 36, 3, 1, 1, [0, 0, 0, 0], 1, "Relu"),    # wrapped rows: 34 outputs of 36 columns
    (16, 9, 6, 55, 3, 1, 1, [1, 1, 1, 1], 1, "LeakyRelu"),  # wrapped, split vector stores
    (16, 9, 6, 55, 3, 1, 1, [1, 1, 1, 1], 1, "Silu"),      # the same with SiLU (Sigmoid + Mul, fused)
    (5, 7, 9, 23, 3, 2, 1, [1, 1, 1, 1], 1, "Sigmoid"),    # im2col path, partial tiles
    (8, 16, 2, 16, 3, 1, 1, [1, 1, 1, 1], 1, None),        # wrapped, 18-column rows, every vector split
    (64, 20, 6, 13, 3, 1, 1, [1, 1, 1, 1], 1, "Relu"),     # wrapped rows narrower than a vector (15 columns)
    (48, 9, 2, 14, 3, 1, 1, [1, 1, 1, 1], 1, "HardSigmoid"),  # the same, two rows
    (64, 40, 7, 7, 3, 1, 1, [1, 1, 1, 1], 1, "Relu"),     # channels in the lanes (conv_chan.h), 40 = 2.5 blocks
    (32, 80, 9, 11, 3, 2, 1, [1, 1, 1, 1], 1, "LeakyRelu"),  # the same, stride 2, 5 blocks
    (64, 24, 5, 5, 3, 1, 1, [1, 1, 1, 1], 1, "Silu"),      # the same with SiLU
    (160, 48, 7, 7, 1, 1, 1, [0, 0, 0, 0], 1, None),       # the same, a flat 1x1 (reduction in 3 chunks)
    (24, 16, 6, 13, 3, 1, 2, [2, 2, 2, 2], 1, "Relu"),     # the same, dilated, one block
    (3, 8, 20, 35, 3, 2, 1, [1, 1, 1, 1], 1, "Relu"),
    (3, 8, 21, 36, 7, 2, 1, [3, 3, 3, 3], 1, None),
    (4, 6, 17, 33, 3, 2, 1, [0, 1, 1, 0], 1, "Relu"),
    (4, 6, 11, 11, 1, 2, 1, [0, 0, 0, 0], 1, None),
    (4, 4, 13, 40, 3, 3, 1, [1, 1, 1, 1], 1, "Relu"),
    (3, 5, 9, 37, 5, 2, 1, [2, 2, 2, 2], 1, None),         # stride 2, even left pad, shuffled copy
    (2, 3, 8, 33, 3, 2, 1, [0, 0, 0, 0], 1, "Relu"),
    (4, 8, 12, 20, 3, 1, 1, "SAME_UPPER", 1, None),
    (4, 8, 12, 20, 4, 2, 1, "SAME_UPPER", 1, "Relu"),
    (4, 8, 12, 20, 4, 2, 1, "SAME_LOWER", 1, None),
    (4, 8, 12, 20, 3, 2, 1, "VALID", 1, "Relu"),
    (8, 12, 10, 18, 3, 1, 1, [1, 1, 1, 1], 2, None),       # grouped
    (6, 9, 10, 10, 3, 2, 1, [1, 1, 1, 1], 3, "Relu"),
    (4, 8, 9, 17, 3, 1, 1, [1, 1, 1, 1], 4, None),         # channel multiplier 2
    (8, 8, 10, 18, 3, 1, 1, [1, 1, 1, 1], 8, "Relu"),      # depthwise
    (6, 6, 13, 37, 3, 1, 1, [1, 1, 1, 1], 6, "Silu"),      # depthwise, 5 vectors a row: blocks of 4 + 1
    (5, 5, 7, 6, 3, 2, 1, [1, 1, 1, 1], 5, "Sigmoid"),     # depthwise, rows narrower than a vector
    (8, 8, 10, 17, 3, 2, 1, [1, 1, 1, 1], 8, None),
    (5, 5, 6, 6, 3, 1, 2, [2, 2, 2, 2], 5, "Relu"),
    (6, 6, 3, 3, 3, 1, 1, [1, 1, 1, 1], 6, None),
    (7, 7, 33, 40, 5, 2, 1, [2, 1, 2, 1], 7, "Relu"),
    (6, 6, 9, 34, 5, 2, 1, [2, 2, 2, 2], 6, "Relu"),
    (4, 4, 12, 20, 3, 2, 1, "SAME_LOWER", 4, None),
]

# Conv -> Relu -> BatchNormalization -> MaxPool chains the epilogue fusion handles
# (and some it must leave alone).  (c_in, c_out, h, w, k, pool (kernel == stride, or (kernel,
# stride[, padding])), with_bn)
FUSE_CASES = [
    (3, 8, 16, 32, 3, 2, True),
    (3, 8, 17, 35, 3, 2, True),       # odd extent: the pool drops the last row/column
    (16, 12, 12, 34, 3, 2, False),    # wrapped rows into the pre-pool chunk
    (32, 32, 7, 7, 3, 0, True),       # channels in the lanes with the affine (conv_chan.h)
    (8, 16, 12, 24, 5, 4, True),
    (4, 6, 9, 18, 3, 3, False),
    (4, 5, 8, 8, 3, 2, True),         # rows narrower than a vector (im2col path)
    (6, 4, 10, 20, 3, 0, True),       # BN only
    # Overlapping 3x3 stride-2 windows (SqueezeNet's stem): rows carried from chunk to chunk.
    (3, 16, 40, 45, 3, (3, 2), False),
    (8, 8, 23, 70, 3, (3, 2), True),  # pooled rows 34 wide: the vector path, its last vector shifted
    (4, 8, 9, 12, 3, (3, 2), False),  # pooled rows narrower than a vector, im2col path
    # ResNet's stem pool, padded by 1: -inf rows above (and, odd sizes, below) the conv output,
    # edge columns on the scalar path.
    (3, 16, 40, 44, 3, (3, 2, 1), False),
    (4, 8, 41, 67, 3, (3, 2, 1), True),
]


def _conv_node(i, case, inits):
    cin, cout, h, w, k, s, d, pads, grp, act = case
    rng = np.random.default_rng(100 + i)
    inits.append(numpy_helper.from_array(rng.standard_normal((cout, cin // grp, k, k)).astype(np.float32), f"w{i}"))
    inits.append(numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), f"b{i}"))
    attrs = dict(kernel_shape=[k, k], strides=[s, s], dilations=[d, d], group=grp)
    if isinstance(pads, str):
        attrs["auto_pad"] = pads
    else:
        attrs["pads"] = pads
    out = f"c{i}" if act else f"y{i}"
    nodes = [helper.make_node("Conv", [f"x{i}", f"w{i}", f"b{i}"], [out], **attrs)]
    if act == "Silu":  # as the exporters write it
        nodes += [helper.make_node("Sigmoid", [out], [f"s{i}"]), helper.make_node("Mul", [out, f"s{i}"], [f"y{i}"])]
    elif act:
        nodes.append(helper.make_node(act, [out], [f"y{i}"]))
    return nodes


def _fuse_nodes(i, case, inits):
    cin, cout, h, w, k, pool, bn = case
    rng = np.random.default_rng(200 + i)
    inits.append(numpy_helper.from_array(rng.standard_normal((cout, cin, k, k)).astype(np.float32), f"w{i}"))
    nodes = [helper.make_node("Conv", [f"x{i}", f"w{i}"], [f"c{i}"], kernel_shape=[k, k], pads=[k // 2] * 4),
             helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
    last = f"r{i}"
    if bn:
        for nm, v in (("g", rng.uniform(-1.5, 1.5, cout)), ("be", rng.standard_normal(cout)),
                      ("m", rng.standard_normal(cout)), ("v", rng.uniform(0.5, 2.0, cout))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), f"{nm}{i}"))
        nodes.append(helper.make_node("BatchNormalization", [last, f"g{i}", f"be{i}", f"m{i}", f"v{i}"], [f"n{i}"]))
        last = f"n{i}"
    if pool:
        pk, ps, pp = (pool + (0,))[:3] if isinstance(pool, tuple) else (pool, pool, 0)
        nodes.append(helper.make_node("MaxPool", [last], [f"y{i}"], kernel_shape=[pk, pk], strides=[ps, ps],
                                      pads=[pp] * 4))
    else:
        nodes.append(helper.make_node("Identity", [last], [f"y{i}"]))
    return nodes


def _model(cases, make, shape_of):
    nodes, inits, ins, outs = [], [], [], []
    for i, c in enumerate(cases):
        nodes += make(i, c, inits)
        ins.append(helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, shape_of(c)))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, ["n", "c", "h", "w"]))
    return make_model(nodes, ins, outs, inits, opset=13)


def _compile_both(save, tmp_path, monkeypatch, model, name):
    path = save(model, f"{name}.onnx")
    fast = edge_sdk.compile(path, out_dir=tmp_path / f"{name}_fast")
    monkeypatch.setenv("EDGE_SDK_KERNELS", "portable")
    portable = edge_sdk.compile(path, out_dir=tmp_path / f"{name}_portable")
    monkeypatch.delenv("EDGE_SDK_KERNELS")
    return path, fast, portable


def _feeds(model, seed=0):
    rng = np.random.default_rng(seed)
    return {i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32)
            for i in model.graph.input}


def _check(path, model, fast, portable):
    feeds = _feeds(model)
    want = ort_run(path, feeds)
    got_fast = fast.run(feeds)
    got_portable = portable.run(feeds)
    for a, b, w in zip(got_fast, got_portable, want):
        assert_close_to_ort([b], [w], rtol=1e-4)
        assert_close_to_ort([a], [w], rtol=1e-4)
        assert_close_to_ort([a], [b], rtol=1e-4)


def test_conv_fast_matches_portable_and_ort(save, tmp_path, monkeypatch):
    model = _model(CONV_CASES, _conv_node, lambda c: [1, c[0], c[2], c[3]])
    path, fast, portable = _compile_both(save, tmp_path, monkeypatch, model, "convs")
    src = (fast.dir / f"{fast.manifest['prefix']}.cpp").read_text()
    assert "conv2d_gemm_f32" in src and "conv2d_dw_f32" in src and "conv2d_chan_f32" in src  # the fast paths really ran
    assert "conv2d_gemm_f32" not in (portable.dir / f"{portable.manifest['prefix']}.cpp").read_text()
    assert "Sigmoid" not in fast.manifest["ops"]  # every sigmoid and SiLU ran in a conv epilogue
    _check(path, model, fast, portable)


def test_conv_epilogue_fusion(save, tmp_path, monkeypatch):
    model = _model(FUSE_CASES, _fuse_nodes, lambda c: [1, c[0], c[2], c[3]])
    path, fast, portable = _compile_both(save, tmp_path, monkeypatch, model, "fused")
    assert "MaxPool" not in fast.manifest["ops"] and "BatchNormalization" not in fast.manifest["ops"]
    _check(path, model, fast, portable)


def _residual_nodes(i, case, inits):
    """ResNet's block end: conv, then Add of another tensor of its shape, then (maybe) an activation."""
    cin, cout, h, w, act, conv_first = case
    rng = np.random.default_rng(300 + i)
    inits.append(numpy_helper.from_array((rng.standard_normal((cout, cin, 3, 3)) * 0.1).astype(np.float32), f"w{i}"))
    inits.append(numpy_helper.from_array(rng.standard_normal((cout, cin, 1, 1)).astype(np.float32), f"v{i}"))
    nodes = [helper.make_node("Conv", [f"x{i}", f"w{i}"], [f"c{i}"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Conv", [f"x{i}", f"v{i}"], [f"r{i}"], kernel_shape=[1, 1]),  # the other operand
             helper.make_node("Add", [f"c{i}", f"r{i}"] if conv_first else [f"r{i}", f"c{i}"],
                              [f"s{i}" if act else f"y{i}"])]
    if act:
        nodes.append(helper.make_node(act, [f"s{i}"], [f"y{i}"]))
    return nodes


# (c_in, c_out, h, w, activation after the Add, conv output as the Add's first operand)
RESIDUAL_CASES = [
    (64, 64, 7, 7, "Relu", True),     # ResNet-18's last stage, scaled down
    (48, 40, 5, 9, None, False),      # channels past a whole vector, no activation
    (32, 32, 14, 14, "LeakyRelu", True),
]


@pytest.mark.parametrize("threads", [1, 2])
def test_residual_add_fused_into_the_conv_epilogue(save, tmp_path, monkeypatch, threads):
    model = _model(RESIDUAL_CASES, _residual_nodes, lambda c: [1, c[0], c[2], c[3]])
    path = save(model, "residual.onnx")
    fast = edge_sdk.compile(path, out_dir=tmp_path / "fast", threads=threads)
    monkeypatch.setenv("EDGE_SDK_KERNELS", "portable")
    portable = edge_sdk.compile(path, out_dir=tmp_path / "portable")
    monkeypatch.delenv("EDGE_SDK_KERNELS")
    assert "Add" not in fast.manifest["ops"] and "Relu" not in fast.manifest["ops"]  # all in conv_chan.h epilogues
    assert "Add" in portable.manifest["ops"]
    _check(path, model, fast, portable)


def test_conv_1d_and_batch(save, tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    w1 = numpy_helper.from_array(rng.standard_normal((6, 3, 5)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[5], pads=[2, 1], strides=[2])]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 41])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "w"])], [w1], opset=13)
    path, fast, portable = _compile_both(save, tmp_path, monkeypatch, model, "conv1d")
    _check(path, model, fast, portable)


def test_meso4_fused_arena(tmp_path):
    """MesoNet's Conv-Relu-BN-MaxPool blocks never store the pre-pool tensor (2.6 MB arena before fusion)."""
    path = SHARED / "models" / "mesonet" / "meso4_df.onnx"
    if not path.is_file():
        pytest.skip("MesoNet model not available")
    m = edge_sdk.compile(path, out_dir=tmp_path / "meso4")
    assert m.arena_bytes < 1_500_000
    assert "BatchNormalization" not in m.manifest["ops"] and "MaxPool" not in m.manifest["ops"]


@pytest.mark.parametrize("m,k,n,trans_b", [(1, 17, 5, 1), (1, 64, 33, 1), (3, 40, 9, 1), (2, 31, 7, 0)])
def test_gemm_vector_dot(save, tmp_path, m, k, n, trans_b):
    rng = np.random.default_rng(m * 1000 + k)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    c = rng.standard_normal(n).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=trans_b)]
    model = make_model(nodes, [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", "n"])],
                       [numpy_helper.from_array(b, "b"), numpy_helper.from_array(c, "c")], opset=13)
    path = save(model, "gemm.onnx")
    feeds = _feeds(model)
    got = edge_sdk.compile(path, out_dir=tmp_path / "gemm").run(feeds)
    assert_close_to_ort(got, ort_run(path, feeds), rtol=1e-4)
