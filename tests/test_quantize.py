"""int8 quantization: accuracy against onnxruntime's own quantizer, pre-quantized (QDQ) import,
fallbacks, keep_float, int8 I/O, and refusal without calibration data.

References are onnxruntime: fp32 outputs of the original model, and onnxruntime.quantization's
quantize_static (QDQ, per-channel, same calibration samples) for the accuracy bar.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import SHARED, make_model, ort_run
from edge_sdk.errors import UserError
from edge_sdk.resources import assets_dir
from edge_sdk.frontend import import_onnx
from edge_sdk.passes import run_passes
from edge_sdk.quantize import pre_quant_passes, quantize_graph
from edge_sdk.quantize.build_run import HostModel
from edge_sdk.quantize.fixedpoint import quantize_multiplier
from edge_sdk.quantize.report import sqnr_db

MESO4 = assets_dir() / "mesonet" / "meso4_df.onnx"  # bundled copy of ../shared/data/models/mesonet
FACES = SHARED / "faces"


def compile_int8(path, calibration, work: Path, **kw):
    """The pipeline the compiler runs for --quantize int8: import -> passes -> quantize -> plan/emit/build."""
    g = run_passes(import_onnx(path), pre_quant_passes())
    gq, report = quantize_graph(g, path, calibration, **kw)
    return HostModel(gq, work), report, gq


def ort_quantize_static(path: Path, samples: np.ndarray, out: Path, per_channel=True) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    name = onnx.load(str(path)).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{name: s[None]} for s in samples])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(path), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return out


def small_cnn(rng) -> onnx.ModelProto:
    """Every int8 kernel in one model: strided/padded conv, ReLU+BatchNorm (depthwise 1x1), depthwise
    conv with Clip(0,6), grouped conv, residual Add, max/avg pool, Concat of differently scaled
    branches, Sigmoid/Tanh tables, squeeze-excitation Mul, x*0.5 (a table), global average pool, Gemm, and Softmax (no int8 kernel: fp32)."""
    inits = []

    def w(name, *shape, scale=0.3):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def pos(name, n):
        inits.append(numpy_helper.from_array((rng.random(n) + 0.5).astype(np.float32), name))
        return name

    inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    inits.append(numpy_helper.from_array(np.array(6.0, np.float32), "six"))
    inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "half"))
    N = helper.make_node
    nodes = [
        N("Conv", ["x", w("w1", 8, 3, 3, 3), w("b1", 8)], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv1"),
        N("Relu", ["c1"], ["r1"], name="relu1"),
        N("BatchNormalization", ["r1", pos("g", 8), w("be", 8), w("m", 8), pos("v", 8)], ["n1"], name="bn1"),
        N("Conv", ["n1", w("w2", 8, 1, 3, 3), w("b2", 8)], ["c2"], pads=[1, 1, 1, 1], group=8, name="dw2"),
        N("Clip", ["c2", "zero", "six"], ["r2"], name="relu6"),
        N("Conv", ["r2", w("w3", 8, 4, 3, 3, scale=0.2), w("b3", 8)], ["c3"], pads=[2, 2, 2, 2], dilations=[2, 2],
          group=2, name="grouped3"),
        N("Add", ["c3", "n1"], ["a3"], name="residual"),
        N("MaxPool", ["a3"], ["p3"], kernel_shape=[2, 2], strides=[2, 2], name="maxpool"),
        N("AveragePool", ["a3"], ["q3"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="avgpool"),
        N("Sigmoid", ["q3"], ["s3"], name="sigmoid"),
        N("Tanh", ["p3"], ["t3"], name="tanh"),
        N("Concat", ["t3", "s3"], ["cat"], axis=1, name="concat"),
        N("Conv", ["cat", w("w4", 16, 16, 1, 1), w("b4", 16)], ["c4"], name="pointwise4"),
        N("GlobalAveragePool", ["c4"], ["se_gap"], name="se_gap"),  # squeeze-excitation: per-channel Mul
        N("Sigmoid", ["se_gap"], ["se"], name="se_sigmoid"),
        N("Mul", ["c4", "se"], ["c4se"], name="se_mul"),
        N("Mul", ["c4se", "half"], ["c4h"], name="scalar_mul"),
        N("GlobalAveragePool", ["c4h"], ["gap"], name="gap"),
        N("Flatten", ["gap"], ["flat"], name="flatten"),
        N("Gemm", ["flat", w("w5", 10, 16), w("b5", 10)], ["logits"], transB=1, name="fc"),
        N("Softmax", ["logits"], ["prob"], axis=1, name="softmax"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])
    y = helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 10])
    return make_model(nodes, [x], [y], inits, opset=13)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small_cnn")
    rng = np.random.default_rng(1)
    path = d / "small.onnx"
    onnx.save(small_cnn(rng), str(path))
    cal = rng.random((24, 3, 16, 16), dtype=np.float32) * 2 - 0.5
    return path, cal, d


def test_quantize_multiplier_matches_tflite_definition():
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.25) == (1 << 30, -1)
    q, s = quantize_multiplier(0.0037)
    assert (1 << 30) <= q < (1 << 31) and abs(q * 2.0 ** (s - 31) - 0.0037) < 1e-11
    assert quantize_multiplier(0.0) == (0, 0)


def test_int8_without_calibration_is_refused(small):
    path, _, _ = small
    g = run_passes(import_onnx(path), pre_quant_passes())
    with pytest.raises(UserError, match="calibration"):
        quantize_graph(g, path, None)


def test_small_cnn_int8_matches_ort_quantize_static(small):
    path, cal, d = small
    m, rep, gq = compile_int8(path, cal, d / "ours")
    ops = {n.op_type for n in gq.nodes}
    assert {"QConv", "QAdd", "QMul", "QMaxPool", "QAveragePool", "QConcat", "QLookup", "QGlobalAveragePool",
            "QFullyConnectedF32"} <= ops
    # The logits feed the fp32 Softmax: their int32 accumulator is dequantized directly.
    assert rep["fp32_output_functions"] == ["fc"]
    # Only the op without an int8 kernel runs in fp32, and the report says so.
    assert [f["node"] for f in rep["fallback_ops"]] == ["softmax"]
    assert "Conv" not in ops and "BatchNormalization" not in ops
    held = cal[-4:]  # the report held these back from calibration
    ref = np.concatenate([ort_run(path, {"x": s[None]})[0] for s in held])
    ours = np.concatenate([m.run(s[None])[0] for s in held])
    qdq = ort_quantize_static(path, cal[:-4], d / "ort_qdq.onnx")
    theirs = np.concatenate([ort_run(qdq, {"x": s[None]})[0] for s in held])
    ours_db, ort_db = sqnr_db(ref, ours), sqnr_db(ref, theirs)
    print(f"small CNN int8 SQNR: ours {ours_db:.1f} dB, onnxruntime quantize_static {ort_db:.1f} dB")
    assert ours_db >= ort_db - 1.0
    assert rep["outputs"][0]["sqnr_db"] == pytest.approx(ours_db, abs=0.05)
    assert rep["held_out"] and rep["outputs"][0]["top1_agreement"] >= 0.75
    assert len(rep["layers"]) >= 10 and len(rep["worst_layers"]) == 5


def test_keep_float_and_int8_io(small):
    path, cal, d = small
    m, rep, gq = compile_int8(path, cal[:8], d / "keep", keep_float=["pointwise4"], io="int8", evaluate=False)
    assert {"pointwise4", "softmax"} == {f["node"] for f in rep["fallback_ops"]}
    assert any(n.op_type == "Conv" and n.name == "pointwise4" for n in gq.nodes)
    xin = gq.tensor("x")
    assert xin.dtype == np.int8 and xin.quant is not None
    s, z = float(xin.quant.scale[0]), int(xin.quant.zero_point[0])
    x = cal[0][None]
    xq = np.clip(np.round(x / s) + z, -128, 127).astype(np.int8)
    out = m.run(xq)[0]
    assert out.dtype == np.float32  # softmax runs in fp32, so the output is float already
    ref = ort_run(path, {"x": x})[0]
    assert sqnr_db(ref, out) > 20


def test_ort_qdq_model_compiles_without_calibration_and_agrees(small):
    path, cal, d = small
    qdq = ort_quantize_static(path, cal[:16], d / "qdq_import.onnx")
    m, rep, gq = compile_int8(qdq, None, d / "qdq")
    assert "QConv" in {n.op_type for n in gq.nodes}
    assert rep["method"] == "pre-quantized"
    ref = np.concatenate([ort_run(qdq, {"x": s[None]})[0] for s in cal[16:]])
    ours = np.concatenate([m.run(s[None])[0] for s in cal[16:]])
    db = sqnr_db(ref, ours)
    print(f"onnxruntime QDQ model: ours vs onnxruntime {db:.1f} dB")
    assert db >= 30


def face_crops(split: str, count: int, seed: int) -> np.ndarray:
    """`count` crops drawn at random (fixed seed) across every source folder of the split."""
    from edge_sdk.demo import load_face_crop
    files = sorted((FACES / split).rglob("*.jpg"))
    if not files:
        pytest.skip(f"no face crops in {FACES / split}")
    pick = np.random.default_rng(seed).choice(len(files), min(count, len(files)), replace=False)
    return np.concatenate([load_face_crop(files[i]) for i in sorted(pick)])


def test_meso4_int8_matches_ort_quantize_static(tmp_path):
    cal = face_crops("train", 24, seed=1)
    held = face_crops("val", 24, seed=2)
    m, rep, gq = compile_int8(MESO4, cal, tmp_path / "ours")
    assert rep["fallback_ops"] == []
    # Integer-only inside; at the float output boundary the last layer's accumulator is dequantized
    # and the final Sigmoid runs in fp32.
    assert {n.op_type for n in gq.nodes} <= {"QuantizeLinear", "DequantizeLinear", "QConv", "QMaxPool", "Transpose",
                                              "Reshape", "QFullyConnected", "QFullyConnectedF32", "QLookup", "Sigmoid"}
    assert rep["fp32_output_functions"] == ["/fc2/Gemm"]
    name = onnx.load(str(MESO4)).graph.input[0].name
    ref = np.concatenate([ort_run(MESO4, {name: s[None]})[0] for s in held])
    ours = np.concatenate([m.run(s[None])[0] for s in held])
    qdq = ort_quantize_static(MESO4, cal, tmp_path / "meso_qdq.onnx")
    theirs = np.concatenate([ort_run(qdq, {name: s[None]})[0] for s in held])
    ours_db, ort_db = sqnr_db(ref, ours), sqnr_db(ref, theirs)
    print(f"Meso4 int8 SQNR: ours {ours_db:.1f} dB, onnxruntime quantize_static {ort_db:.1f} dB")
    assert ours_db >= ort_db - 1.0


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUC with mid-ranks for ties (int8 outputs tie often)."""
    _, inv = np.unique(score, return_inverse=True)
    order = np.argsort(score, kind="mergesort")
    r0 = np.empty(len(score))
    r0[order] = np.arange(1, len(score) + 1)
    r = (np.bincount(inv, r0) / np.bincount(inv))[inv]
    npos = int(positive.sum())
    return float((r[positive].sum() - npos * (npos + 1) / 2) / (npos * (len(score) - npos)))


@pytest.mark.slow
def test_meso4_int8_keeps_auc_on_real_faces(tmp_path):
    from edge_sdk.demo import load_face_crop
    train = sorted((FACES / "train").rglob("*.jpg"))
    val = sorted((FACES / "val").rglob("*.jpg"))
    if not train or not val:
        pytest.skip("face crops not present")
    pick = np.random.default_rng(0).choice(len(train), 64, replace=False)
    cal = np.concatenate([load_face_crop(train[i]) for i in sorted(pick)])
    x = np.concatenate([load_face_crop(f) for f in val])
    fake = np.array(["/real/" not in str(f) for f in val])
    m, rep, _ = compile_int8(MESO4, cal, tmp_path / "meso", evaluate=False)
    name = onnx.load(str(MESO4)).graph.input[0].name
    ref = np.concatenate([ort_run(MESO4, {name: s[None]})[0] for s in x]).reshape(-1)
    ours = np.concatenate([m.run(s[None])[0] for s in x]).reshape(-1)
    auc_fp32, auc_int8 = _auc(-ref, fake), _auc(-ours, fake)  # the output is p(real)
    print(f"Meso4 AUC on {len(val)} validation crops: fp32 {auc_fp32:.4f}, int8 {auc_int8:.4f}, "
          f"SQNR {sqnr_db(ref, ours):.1f} dB")
    assert abs(auc_int8 - auc_fp32) <= 0.01


def test_emit_qdq_model_runs_in_onnxruntime_and_agrees(small):
    from edge_sdk.quantize.export_qdq import write_qdq
    path, cal, d = small
    m, _, gq = compile_int8(path, cal[:16], d / "emit", evaluate=False)
    qdq = write_qdq(gq, d / "ours_qdq.onnx")
    onnx.checker.check_model(onnx.load(str(qdq)))
    ref = np.concatenate([ort_run(qdq, {"x": s[None]})[0] for s in cal[16:]])
    ours = np.concatenate([m.run(s[None])[0] for s in cal[16:]])
    db = sqnr_db(ref, ours)
    print(f"our int8 graph as QDQ in onnxruntime vs our generated code: {db:.1f} dB")
    assert db >= 30


def test_image_folder_calibration_matches_the_demo_preprocessing(tmp_path):
    from edge_sdk.demo import load_face_crop
    from edge_sdk.quantize.images import Preprocess, load_image_folder
    folder = FACES / "val" / "real" / "mesonet_test_images"
    if not folder.is_dir():
        pytest.skip("face crops not present")
    spec = Preprocess.parse("size=256,scale=1/255,resize=nearest,channels=rgb,layout=nchw")
    got = load_image_folder(folder, spec)
    want = np.concatenate([load_face_crop(f) for f in sorted(folder.glob("*.jpg"))])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    with pytest.raises(UserError):
        Preprocess.parse("size=256,colour=rgb")


ZOO_SQNR_DEFAULT = ["keras_nhwc_64", "seed_cnn_150", "efficientnet_style_128"]
ZOO_SQNR_SLOW = ["mesoinception4", "mobilenetv2_035_96", "resnet_small", "squeezenet11"]


@pytest.mark.parametrize("arch", ZOO_SQNR_DEFAULT + [pytest.param(a, marks=pytest.mark.slow) for a in ZOO_SQNR_SLOW])
def test_zoo_int8_sqnr_at_least_onnxruntime_quantize_static(arch, tmp_path):
    """Real exported architectures: our int8 SQNR vs fp32 >= onnxruntime's quantize_static - 1 dB."""
    from models import zoo
    path = zoo.export(arch, "torchscript")
    rng = np.random.default_rng(11)
    shape = zoo.ARCHS[arch].input_shape[1:]
    cal = rng.standard_normal((16, *shape)).astype(np.float32)
    held = rng.standard_normal((16, *shape)).astype(np.float32)
    m, _, _ = compile_int8(path, cal, tmp_path / "ours")
    name = onnx.load(str(path)).graph.input[0].name
    ref = np.concatenate([ort_run(path, {name: s[None]})[0] for s in held])
    ours = np.concatenate([m.run(s[None])[0] for s in held])
    qdq = ort_quantize_static(path, cal, tmp_path / "qdq.onnx")
    theirs = np.concatenate([ort_run(qdq, {name: s[None]})[0] for s in held])
    ours_db, ort_db = sqnr_db(ref, ours), sqnr_db(ref, theirs)
    print(f"{arch} int8 SQNR: ours {ours_db:.1f} dB, onnxruntime quantize_static {ort_db:.1f} dB")
    assert ours_db >= ort_db - 1.0


def test_calibration_histogram_handles_near_constant_tensors():
    from edge_sdk.quantize.calibrate import BINS, _histogram_range
    for lo, hi in ((3.0, 3.0), (0.5, 0.5 + 1e-12), (1e8, 1e8 + 1.0), (-2.0, 5.0)):
        a, b = _histogram_range(lo, hi)
        assert a == lo and b >= hi
        np.histogram(np.array([lo, hi], np.float64), bins=BINS, range=(a, b))  # raises on a degenerate range


def test_concat_inputs_share_its_scale_and_are_written_in_place(tmp_path):
    """Branches that feed only a Concat, with ranges comparable to its output's, get its output
    range (as TFLite's converter does), so each is produced straight into its slice and the
    Concat copies nothing.  A branch also read elsewhere, or much narrower than the rest (a
    small ReLU branch, a sigmoid), keeps its own scale and is requantized into place.  The int8
    result stays close to onnxruntime's fp32."""
    rng = np.random.default_rng(4)

    def w(name, *shape, scale=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)
    inits = [w("wa", 4, 3, 1, 1, scale=3.0), w("wa2", 4, 3, 1, 1, scale=2.0), w("wb", 4, 3, 1, 1, scale=1.5),
             w("ws", 4, 3, 3, 3, scale=0.05), w("wc", 4, 3, 1, 1), w("wd", 2, 20, 1, 1), w("we", 2, 4, 1, 1)]
    N = helper.make_node
    nodes = [N("Conv", ["x", "wa"], ["a"], name="widest"),                        # the output's range
             N("Conv", ["x", "wa2"], ["a2"], name="comparable"),                 # shares it
             N("Conv", ["x", "wb"], ["b"], name="read_twice"),
             N("Conv", ["b", "we"], ["b_tap"], name="second_reader"),
             N("Conv", ["x", "ws"], ["s"], pads=[1, 1, 1, 1], name="narrow"),
             N("Relu", ["s"], ["sr"], name="narrow_relu"),
             N("Conv", ["x", "wc"], ["c"], name="to_sigmoid"),
             N("Sigmoid", ["c"], ["cs"], name="sigmoid"),
             N("Concat", ["a", "a2", "b", "sr", "cs"], ["cat"], axis=1, name="concat"),
             N("Conv", ["cat", "wd"], ["d"], name="mix"),
             N("Add", ["d", "b_tap"], ["y"], name="join")]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 12, 12])], inits, opset=13)
    path = tmp_path / "cat.onnx"
    onnx.save(model, str(path))
    cal = rng.standard_normal((24, 3, 12, 12)).astype(np.float32)
    m, _, gq = compile_int8(path, cal, tmp_path / "q")
    (cat,) = [n for n in gq.nodes if n.op_type == "QConcat"]
    out = gq.tensor(cat.outputs[0]).quant
    same = [gq.producers()[t].name for t in cat.inputs
            if (gq.tensor(t).quant.scale, gq.tensor(t).quant.zero_point) == (out.scale, out.zero_point)]
    assert same == ["widest", "comparable"]
    src = (tmp_path / "q" / "qmodel.cpp").read_text()
    assert src.count("was written in place") == 2 and src.count("concat_part_s8<") == 3
    x = rng.standard_normal((1, 3, 12, 12)).astype(np.float32)
    assert sqnr_db(ort_run(path, {"x": x})[0], m.run(x)[0]) > 25
