"""The edge-sdk command line: exit codes, one-line errors, --json."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import conv_bn_relu_model, make_model, ort_run


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edge_sdk", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def assert_user_error(r, *needles):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    errors = [line for line in r.stderr.splitlines() if line.startswith("edge-sdk: error:")]
    assert len(errors) == 1, r.stderr
    for n in needles:
        assert n in r.stderr


def test_compile_run_roundtrip(save, tmp_path):
    p = save(conv_bn_relu_model())
    r = cli("compile", p, "--device", "x86-64", "-o", tmp_path / "out", "--json")
    assert r.returncode == 0, r.stderr
    manifest = json.loads(r.stdout)
    assert manifest["device"] == "x86-64"
    header = (tmp_path / "out" / "model.h").read_text()
    assert f"#define MODEL_ARENA_BYTES {manifest['arena_bytes']}u" in header
    assert set(manifest) >= {"inputs", "outputs", "arena_bytes", "weights_bytes", "compiler", "model_sha256"}
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = cli("run", tmp_path / "out", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), ort_run(p, {"x": x})[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("command", [["compile"], ["inspect"], ["bench"], ["bench", "--profile"]])
def test_missing_model_is_exit_2(tmp_path, command):
    assert_user_error(cli(command[0], tmp_path / "nope.onnx", *command[1:]), "does not exist")


def test_bench_checks_the_model_before_onnxruntime_reads_it(tmp_path):
    """bench hands the file to onnxruntime as its baseline; the safe loader's checks come first."""
    model = conv_bn_relu_model()
    w = next(t for t in model.graph.initializer if t.dims)
    onnx.external_data_helper.set_external_data(w, location="../outside.bin")
    w.data_location = TensorProto.EXTERNAL
    w.ClearField("raw_data")
    w.ClearField("float_data")
    (tmp_path / "m").mkdir()
    onnx.save(model, tmp_path / "m" / "model.onnx")
    assert_user_error(cli("bench", tmp_path / "m" / "model.onnx"), "outside.bin")


def test_unknown_device_lists_valid_ones(save):
    assert_user_error(cli("compile", save(conv_bn_relu_model()), "--device", "toaster"), "toaster", "x86-64", "host")


def test_unsupported_op_is_exit_2_with_node_name(save):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    p = save(make_model([helper.make_node("Einsum", ["x"], ["y"], equation="ij->ij", name="odd_one")], [x], [y]))
    assert_user_error(cli("compile", p), "odd_one", "Einsum", "opset 17")
    r = cli("inspect", p, "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["unsupported"][0]["node"] == "odd_one"
    assert cli("inspect", p, "--strict").returncode == 2


def test_run_with_wrong_input_shape_is_exit_2(save, tmp_path):
    p = save(conv_bn_relu_model())
    assert cli("compile", p, "-o", tmp_path / "o", "-q").returncode == 0
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 9, 9), np.float32))
    assert_user_error(cli("run", tmp_path / "o", tmp_path / "bad.npy"), "shape")


def test_inspect_reports_macs_params_and_arena(save):
    r = cli("inspect", save(conv_bn_relu_model()), "--json")
    rep = json.loads(r.stdout)
    assert rep["macs"] == 4 * 8 * 8 * 3 * 3 * 3
    assert rep["parameters"] == 4 * 3 * 3 * 3 + 4  # BatchNorm folded into the conv's weights and bias
    assert isinstance(rep["arena_bytes"], int) and rep["arena_bytes"] >= 0


def test_ops_json_lists_at_least_60_op_types():
    r = cli("ops", "--json")
    ops = json.loads(r.stdout)["ops"]
    assert len(ops) >= 60 and {"Conv", "Gemm", "MaxPool", "Softmax", "Resize", "Pad"} <= set(ops)


def test_devices_include_host_and_x86_64():
    names = {d["name"] for d in json.loads(cli("devices", "--json").stdout)["devices"]}
    assert {"host", "x86-64"} <= names


@pytest.mark.parametrize("args", [["compile"], ["run", "dir"], ["frobnicate"]])
def test_bad_arguments_are_exit_2(args):
    assert cli(*args).returncode == 2


def test_bench_reports_percentiles_ratio_and_memory(save):
    r = cli("bench", save(conv_bn_relu_model()), "--runs", "5", "--warmup", "1", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    for engine in ("edge_sdk", "onnxruntime"):
        assert 0 < rep[engine]["p50_ms"] <= rep[engine]["p90_ms"] <= rep[engine]["p99_ms"]
    assert rep["ratio_p50"] == pytest.approx(rep["edge_sdk"]["p50_ms"] / rep["onnxruntime"]["p50_ms"])
    assert rep["max_rel_error"] < 1e-4
    assert rep["macs"] == 4 * 8 * 8 * 27 and rep["weights_bytes"] == (108 + 4) * 4
    assert rep["peak_ram_bytes"] == rep["arena_bytes"] + (3 + 4) * 8 * 8 * 4  # arena + input + output


def test_model_too_big_for_device_is_refused_with_numbers_and_advice(tmp_path):
    from edge_sdk.resources import assets_dir
    r = cli("compile", assets_dir() / "mesonet" / "meso4_df.onnx", "--device", "arduino-nano33ble", "--quantize", "none", "--no-build",
            "-o", tmp_path / "o")
    assert_user_error(r, "does not fit arduino-nano33ble", "262,144 B", "int8")
    assert not (tmp_path / "o").exists()


def test_int8_default_of_mcu_profiles_needs_an_explicit_choice(save):
    assert_user_error(cli("compile", save(conv_bn_relu_model()), "--device", "sparkfun-edge", "--no-build"),
                      "int8", "default for sparkfun-edge", "--quantize none")


def test_int8_compile_reports_accuracy_and_needs_calibration(save, tmp_path):
    p = save(conv_bn_relu_model())
    assert_user_error(cli("compile", p, "--quantize", "int8", "-o", tmp_path / "no"), "calibration")
    cal = np.random.default_rng(0).standard_normal((24, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "cal.npy", cal)
    r = cli("compile", p, "--quantize", "int8", "--calibration", tmp_path / "cal.npy", "-o", tmp_path / "q",
            "--emit-qdq", tmp_path / "q.onnx", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)["quantization"]
    assert rep["outputs"] and all(o["sqnr_db"] > 25 for o in rep["outputs"])
    # onnxruntime running our exported QDQ graph agrees with our integer code: same scales, same maths.
    import edge_sdk
    ours = edge_sdk.load(tmp_path / "q").run(cal[:1])[0]
    # Unfused (DequantizeLinear -> float Conv -> QuantizeLinear): onnxruntime's fused int8 kernels
    # saturate int16 pair sums on CPUs without VNNI, so they are not the oracle for full-range weights.
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    qdq = ort.InferenceSession(str(tmp_path / "q.onnx"), so, providers=["CPUExecutionProvider"]).run(
        None, {"x": cal[:1]})[0]
    sqnr = 10 * np.log10(np.sum(qdq.astype(np.float64) ** 2) / max(np.sum((ours - qdq).astype(np.float64) ** 2), 1e-30))
    assert sqnr > 40


def test_emit_qdq_keeps_ops_the_lowering_fused_into_the_conv(save, tmp_path):
    """Conv -> Relu -> MaxPool -> Flatten -> Gemm: the int8 lowering pulls the pool into the conv's
    epilogue; the QDQ file must still hold the MaxPool, or onnxruntime cannot even load it."""
    from onnx import numpy_helper
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((6, 3, 3, 3)).astype(np.float32) * 0.3, "w")
    fw = numpy_helper.from_array(rng.standard_normal((2, 6 * 4 * 4)).astype(np.float32) * 0.1, "fw")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("Gemm", ["f", "fw"], ["y"], transB=1)]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w, fw])
    cal = rng.standard_normal((16, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "cal.npy", cal)
    r = cli("compile", save(model), "--quantize", "int8", "--calibration", tmp_path / "cal.npy", "-o", tmp_path / "q",
            "--emit-qdq", tmp_path / "q.onnx")
    assert r.returncode == 0, r.stderr
    qdq = onnx.load(str(tmp_path / "q.onnx"))
    assert [n.op_type for n in qdq.graph.node if n.op_type == "MaxPool"] == ["MaxPool"]
    import edge_sdk
    ours = edge_sdk.load(tmp_path / "q").run(cal[:1])[0]
    want = ort_run(tmp_path / "q.onnx", {"x": cal[:1]})[0]
    assert want.shape == ours.shape == (1, 2)
    np.testing.assert_allclose(ours, want, atol=0.05 * float(np.abs(want).max()))


def test_bench_int8_measures_onnxruntime_fp32_and_int8(save):
    r = cli("bench", save(conv_bn_relu_model()), "--quantize", "int8", "--runs", "3", "--warmup", "1", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["quantize"] == "int8" and rep["calibration"] == "random samples (speed only)"
    best = min(("onnxruntime_fp32", "onnxruntime_int8"), key=lambda k: rep[k]["p50_ms"])
    assert rep["onnxruntime_engine"] == best
    assert rep["ratio_p50"] == pytest.approx(rep["edge_sdk"]["p50_ms"] / rep[best]["p50_ms"])
