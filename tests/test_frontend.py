"""Importer: untrusted-input checks, opsets, batch fixing, folding, fusion, determinism."""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edge_sdk
from edge_sdk.compiler import analyze
from edge_sdk.errors import ModelError, ShapeError, UnsupportedOpError

from conftest import assert_close_to_ort, conv_bn_relu_model, make_model, ort_run


def _external_model(tmp_path, location: str, offset=0, length=None, name="w"):
    w = numpy_helper.from_array(np.ones((4,), np.float32), name)
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(16 if length is None else length))):
        e = w.external_data.add()
        e.key, e.value = k, v
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    m = make_model([helper.make_node("Add", ["x", name], ["y"])], [x], [y], [w])
    d = tmp_path / "model"
    d.mkdir(exist_ok=True)
    p = d / "m.onnx"
    p.write_bytes(m.SerializeToString())
    return p


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_model_folder_is_refused(tmp_path, location):
    (tmp_path / "outside.bin").write_bytes(np.ones(4, np.float32).tobytes())
    p = _external_model(tmp_path, location)
    with pytest.raises(ModelError, match="absolute|leaves the model folder"):
        analyze(p)


def test_external_data_symlink_is_refused(tmp_path):
    (tmp_path / "real.bin").write_bytes(np.ones(4, np.float32).tobytes())
    p = _external_model(tmp_path, "link.bin")
    os.symlink(tmp_path / "real.bin", p.parent / "link.bin")
    with pytest.raises(ModelError, match="symlink"):
        analyze(p)


def test_external_data_range_past_end_is_refused(tmp_path):
    p = _external_model(tmp_path, "w.bin", offset=8)
    (p.parent / "w.bin").write_bytes(np.ones(4, np.float32).tobytes())
    with pytest.raises(ModelError, match="outside"):
        analyze(p)


def test_external_data_inside_folder_compiles(tmp_path):
    p = _external_model(tmp_path, "w.bin")
    (p.parent / "w.bin").write_bytes(np.full(4, 2.5, np.float32).tobytes())
    m = edge_sdk.compile(p, out_dir=tmp_path / "out")
    x = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(m.run(x)[0], x + 2.5)


def test_huge_declared_tensor_is_refused_before_allocation(tmp_path):
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20], raw_data=b"\0" * 16)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    p = tmp_path / "huge.onnx"
    p.write_bytes(make_model([helper.make_node("Identity", ["x"], ["y"])], [x], [y], [t]).SerializeToString())
    with pytest.raises(ModelError, match="declares"):
        analyze(p)


@pytest.mark.parametrize("content", [b"", b"not a protobuf \xff\xfe garbage" * 10])
def test_garbage_file_is_a_model_error(tmp_path, content):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(ModelError):
        analyze(p)


def test_unsupported_op_names_node_op_and_opset(save):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    p = save(make_model([helper.make_node("Einsum", ["x"], ["y"], equation="ij->ij", name="weird")], [x], [y]))
    with pytest.raises(UnsupportedOpError) as e:
        analyze(p)
    assert "'weird'" in str(e.value) and "Einsum" in str(e.value) and "opset 17" in str(e.value)


def test_opset_out_of_range_is_refused(save):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    m = make_model([helper.make_node("Relu", ["x"], ["y"])], [x], [y], opset=5)
    m.ir_version = 3
    with pytest.raises(UnsupportedOpError, match="opset 5"):
        analyze(save(m))


def test_symbolic_batch_defaults_to_one_and_batch_option(save, tmp_path):
    p = save(conv_bn_relu_model())
    x1 = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    m1 = edge_sdk.compile(p, out_dir=tmp_path / "b1")
    assert m1.inputs[0]["shape"] == (1, 3, 8, 8)
    assert_close_to_ort(m1.run(x1), ort_run(p, {"x": x1}))
    x4 = np.random.default_rng(2).standard_normal((4, 3, 8, 8)).astype(np.float32)
    m4 = edge_sdk.compile(p, out_dir=tmp_path / "b4", batch=4)
    assert_close_to_ort(m4.run(x4), ort_run(p, {"x": x4}))


def test_batchnorm_folds_into_conv_and_relu_fuses(save):
    g = analyze(save(conv_bn_relu_model())).graph
    assert [n.op_type for n in g.nodes] == ["Conv"]
    assert g.nodes[0].attrs["activation"][0] == "Relu"


def test_symbolic_non_batch_dim_needs_input_shape(save):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "len"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "len"])
    p = save(make_model([helper.make_node("Relu", ["x"], ["y"])], [x], [y]))
    with pytest.raises(ShapeError, match="--input-shape"):
        analyze(p)
    g = analyze(p, input_shapes={"x": (1, 7)}).graph
    assert g.tensor("y").shape == (1, 7)


def test_shape_chain_folds_away(save, tmp_path):
    """Exporter-style Shape -> Gather -> Unsqueeze -> Concat -> Reshape leaves no shape arithmetic."""
    idx = numpy_helper.from_array(np.array(0, np.int64), "zero")
    minus1 = numpy_helper.from_array(np.array([-1], np.int64), "minus1")
    axes = numpy_helper.from_array(np.array([0], np.int64), "axes")
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6])
    p = save(make_model(nodes, [x], [y], [idx, minus1, axes]))
    g = analyze(p).graph
    assert [n.op_type for n in g.nodes] == ["Reshape", "Relu"]
    xv = np.random.default_rng(0).standard_normal((1, 2, 3)).astype(np.float32)
    assert_close_to_ort(edge_sdk.compile(p, out_dir=tmp_path / "o").run(xv), ort_run(p, {"x": xv}))


def test_local_functions_are_inlined(save, tmp_path):
    fn = helper.make_function("custom", "Swishy", ["a"], ["b"],
                              [helper.make_node("Sigmoid", ["a"], ["s"]), helper.make_node("Mul", ["a", "s"], ["b"])],
                              [helper.make_opsetid("", 17)])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])
    m = make_model([helper.make_node("Swishy", ["x"], ["y"], domain="custom")], [x], [y], functions=[fn])
    m.opset_import.append(helper.make_opsetid("custom", 1))
    p = save(m)
    xv = np.linspace(-3, 3, 5, dtype=np.float32)[None]
    assert_close_to_ort(edge_sdk.compile(p, out_dir=tmp_path / "o").run(xv), ort_run(p, {"x": xv}))


def test_generated_code_is_deterministic(save, tmp_path):
    p = save(conv_bn_relu_model())
    a = edge_sdk.compile(p, out_dir=tmp_path / "a", build=False, command="cmd")
    b = edge_sdk.compile(p, out_dir=tmp_path / "b", build=False, command="cmd")
    for f in ("model.cpp", "model_weights.cpp", "model.h"):
        assert (a.dir / f).read_bytes() == (b.dir / f).read_bytes()
    head = (a.dir / "model.cpp").read_text().splitlines()[:3]
    assert edge_sdk.__version__ in head[0] and "sha256" in head[1] and "command: cmd" in head[2]


def test_output_folder_with_foreign_files_is_not_overwritten(save, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    with pytest.raises(edge_sdk.UserError, match="not an edge-sdk output"):
        edge_sdk.compile(save(conv_bn_relu_model()), out_dir=out)
    assert (out / "notes.txt").read_text() == "precious"


def test_silu_after_conv_fuses_into_the_conv_epilogue(save, tmp_path):
    rng = np.random.default_rng(4)
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 20, 20])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 20, 20])
    p = save(make_model(nodes, [x], [y], [w]))
    g = analyze(p).graph
    assert [n.op_type for n in g.nodes] == ["Conv"] and g.nodes[0].attrs["activation"][0] == "Silu"
    xv = rng.standard_normal((1, 3, 20, 20)).astype(np.float32) * 4
    assert_close_to_ort(edge_sdk.compile(p, out_dir=tmp_path / "o").run(xv), ort_run(p, {"x": xv}))
