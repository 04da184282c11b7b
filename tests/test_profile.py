"""`edge-sdk bench --profile` (edge_sdk/profile.py): an instrumented build records a timestamp
after each node; the table must cover every emitted node once, add up to the total, carry the
model's MACs, and the instrumentation must not change what the model computes."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import edge_sdk
from conftest import make_model
from edge_sdk.profile import format_profile, profile


def _two_convs():
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 8, 1, 1)).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Conv", ["p1", "w2"], ["y"], name="conv2")]
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w1, w2])


def test_profile_covers_every_node_and_keeps_results(save, tmp_path):
    path = save(_two_convs(), "two.onnx")
    r = profile(path, runs=5, warmup=1, out_dir=tmp_path / "prof")
    plain = edge_sdk.compile(path, out_dir=tmp_path / "plain")
    ops = [x["op"] for x in r["layers"]]
    assert ops.count("Conv") == 2  # conv1 carries the fused ReLU + MaxPool
    assert r["macs"] == int(plain.manifest["macs"]) > 0
    assert all(x["us"] >= 0 for x in r["layers"])
    assert abs(sum(x["us"] for x in r["layers"]) - r["total_us"]) <= 0.05 * r["total_us"] + 1.0
    x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
    instrumented = edge_sdk.load(tmp_path / "prof")
    np.testing.assert_array_equal(instrumented.run(x)[0], plain.run(x)[0])
    assert "profile_mark" not in (tmp_path / "plain" / "two.cpp").read_text()  # only the instrumented copy
    text = format_profile(r)
    assert "conv1" in text and "GMAC/s" in text


def test_cli_bench_profile_json_int8(save, tmp_path):
    path = save(_two_convs(), "two.onnx")
    out = subprocess.run([sys.executable, "-m", "edge_sdk", "bench", str(path), "--profile", "--quantize", "int8",
                          "--runs", "3", "--warmup", "1", "--json", "-q"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["quantize"] == "int8"
    assert [x["op"] for x in r["layers"]].count("QConv") == 2
