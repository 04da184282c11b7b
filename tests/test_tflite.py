"""TFLite frontend: compiled .tflite models against TFLite's reference kernels, bit for bit (int8).

Goldens come from LiteRT's (or tflite-runtime's) interpreter with OpResolverType.BUILTIN_REF
at test time (tests/tflite/oracle.py); the fixtures in tests/tflite/fixtures were written once
by tools/make_tflite_fixtures.py (TensorFlow is not needed here).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "tflite"))
import oracle  # noqa: E402

import edge_sdk  # noqa: E402

FIX = Path(__file__).parent / "tflite" / "fixtures"
pytestmark = pytest.mark.skipif(oracle.interpreter_module() is None,
                                reason="the TFLite oracle needs ai-edge-litert (pip install -e .[dev])")

SINGLE_OPS = sorted(p.stem for p in FIX.glob("op_*_int8.tflite") if p.stem != "op_l2norm_int8")
UNARY = {"op_hard_swish_int8", "op_leaky_relu_int8", "op_logistic_int8", "op_relu_int8", "op_relu6_int8",
         "op_tanh_int8", "op_requantize_int8"}
SEEDS = range(4)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    cache: dict[tuple[str, str], edge_sdk.CompiledModel] = {}

    def get(stem: str, device: str = "host"):
        if (stem, device) not in cache:
            out = tmp_path_factory.mktemp(f"{stem}-{device}")
            cache[(stem, device)] = edge_sdk.compile(FIX / f"{stem}.tflite", device=device, out_dir=out / "m")
        return cache[(stem, device)]
    return get


def _run(model, xs, **kw):
    return model.run(xs if len(xs) > 1 else xs[0], **kw)


def assert_bit_exact(model, path: Path, input_sets, **kw):
    it = oracle.make_interpreter(path)
    for xs in input_sets:
        want = oracle.run(it, xs)
        got = _run(model, xs, **kw)
        assert len(got) == len(want)
        for w, g in zip(want, got):
            g = np.asarray(g)
            assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
            diff = np.flatnonzero(g != w)
            assert diff.size == 0, (f"{path.name}: {diff.size} of {w.size} outputs differ from TFLite's reference "
                                    f"kernels, first at {diff[:5]}: got {g.reshape(-1)[diff[:5]]}, "
                                    f"want {w.reshape(-1)[diff[:5]]}")


def _seeded(path: Path):
    it = oracle.make_interpreter(path)
    return [oracle.random_inputs(it, s) for s in SEEDS]


def _all_codes(path: Path):
    """Inputs that together hold every int8 code: unary ops are checked on their whole domain."""
    d = oracle.make_interpreter(path).get_input_details()[0]
    n = int(np.prod(d["shape"]))
    codes = np.random.default_rng(7).permutation(np.arange(-128, 128)).astype(np.int8)
    reps = -(-256 // n)
    flat = np.concatenate([codes, codes[: reps * n - 256]]) if reps * n > 256 else codes
    return [[flat[i * n:(i + 1) * n].reshape(d["shape"])] for i in range(reps)]


@pytest.mark.parametrize("stem", SINGLE_OPS)
def test_single_op_bit_exact(compiled, stem):
    path = FIX / f"{stem}.tflite"
    inputs = _seeded(path) + (_all_codes(path) if stem in UNARY else [])
    assert_bit_exact(compiled(stem), path, inputs)


@pytest.mark.parametrize("stem", ["small_cnn_int8", "mobilenet_v2_035_96_int8", "meso4_256_int8",
                                  "conv_pool_overlap_int8"])
def test_int8_model_bit_exact_on_host(compiled, stem):
    assert_bit_exact(compiled(stem), FIX / f"{stem}.tflite", _seeded(FIX / f"{stem}.tflite"))


def test_int8_model_with_float_io(compiled):
    """QUANTIZE (float -> int8) at the input and DEQUANTIZE at the output, exactly as TFLite."""
    stem = "small_cnn_int8_float_io"
    assert_bit_exact(compiled(stem), FIX / f"{stem}.tflite", _seeded(FIX / f"{stem}.tflite"))


def test_fp32_model_close(compiled):
    stem = "small_cnn_fp32"
    path = FIX / f"{stem}.tflite"
    it = oracle.make_interpreter(path)
    for xs in _seeded(path):
        np.testing.assert_allclose(_run(compiled(stem), xs)[0], oracle.run(it, xs)[0], rtol=1e-5, atol=1e-6)


def test_io_matches_tflite_signature(compiled):
    """Inputs/outputs keep TFLite's names, NHWC shapes, dtypes and quantization (in the manifest)."""
    path = FIX / "mobilenet_v2_035_96_int8.tflite"
    it = oracle.make_interpreter(path)
    man = compiled("mobilenet_v2_035_96_int8").manifest
    for entry, d in zip(man["inputs"] + man["outputs"], it.get_input_details() + it.get_output_details()):
        assert entry["name"] == d["name"]
        assert entry["shape"] == list(d["shape"]) and entry["dtype"] == np.dtype(d["dtype"]).name
        assert entry["scale"] == [pytest.approx(d["quantization"][0], rel=1e-7)]
        assert entry["zero_point"] == [d["quantization"][1]]


def test_small_cnn_bit_exact_under_cortex_m4_emulation(compiled):
    stem = "small_cnn_int8"
    assert_bit_exact(compiled(stem, "sparkfun-edge"), FIX / f"{stem}.tflite", _seeded(FIX / f"{stem}.tflite")[:2],
                     emulate=True)


@pytest.mark.slow
def test_mobilenet_v2_bit_exact_under_cortex_m4_emulation(compiled):
    stem = "mobilenet_v2_035_96_int8"
    model = compiled(stem, "sparkfun-edge")
    assert model.manifest["arena_bytes"] < 150_000
    assert_bit_exact(model, FIX / f"{stem}.tflite", _seeded(FIX / f"{stem}.tflite")[:2], emulate=True)


@pytest.mark.parametrize("stem,device", [("meso4_256_int8", "rpi4"), ("small_cnn_int8_float_io", "rpi3")])
def test_bit_exact_cross_built_for_linux_arm(compiled, stem, device):
    """aarch64 and armv7 builds (run under qemu-user) give TFLite's reference outputs too."""
    assert_bit_exact(compiled(stem, device), FIX / f"{stem}.tflite", _seeded(FIX / f"{stem}.tflite")[:2], emulate=True)


def test_meso4_row_fused_fits_sparkfun_edge_and_is_bit_exact_under_emulation(compiled):
    """Keras Meso4 256x256 int8 (TFLite Micro: 1,053,327 B of arena) on a 384 KB Cortex-M4: conv +
    BatchNorm (MUL, ADD) + max pool run row by row, only pooled rows are stored."""
    stem = "meso4_256_int8"
    model = compiled(stem, "sparkfun-edge")
    man = model.manifest
    assert "TflConvPool" in man["ops"]
    io = sum(int(np.prod(t["shape"])) for t in man["inputs"] + man["outputs"])
    assert man["arena_bytes"] + io <= 384 * 1024, man["arena_bytes"]
    assert_bit_exact(model, FIX / f"{stem}.tflite", _seeded(FIX / f"{stem}.tflite")[:2], emulate=True)


def test_row_fusion_reads_the_nhwc_input_without_a_transposed_copy():
    from edge_sdk.frontend.tflite import import_tflite
    g = import_tflite(FIX / "meso4_256_int8.tflite")
    fused = [n for n in g.nodes if n.op_type == "TflConvPool"]
    assert fused and fused[0].inputs[0] == g.inputs[0] and fused[0].attrs["in_layout"] == "nhwc"
    assert not any(n.op_type in ("TflMul", "TflAdd") and n.outputs[0] in {m.inputs[0] for m in g.nodes
                                                                         if m.op_type == "QMaxPool"} for n in g.nodes
                   if g.tensor(n.outputs[0]).nbytes >= 64 * 1024)


@pytest.mark.parametrize("stem", ["conv_pool_overlap_int8", "small_cnn_int8"])
def test_row_fusion_forced_on_small_models_is_bit_exact(tmp_path, monkeypatch, stem):
    """Row fusion on every conv -> max pool, whatever its size: strided conv with SAME padding,
    overlapping padded pools, no per-channel table, NHWC graph input and NCHW inner inputs."""
    from edge_sdk.frontend.tflite import fuse_rows
    monkeypatch.setattr(fuse_rows, "ROW_FUSION_MIN_BYTES", 0)
    model = edge_sdk.compile(FIX / f"{stem}.tflite", out_dir=tmp_path / "m")
    assert "TflConvPool" in model.manifest["ops"]
    assert_bit_exact(model, FIX / f"{stem}.tflite", _seeded(FIX / f"{stem}.tflite"))


def test_reader_field_ids_match_tflite_schema():
    """The hand-written reader against the schema-generated classes LiteRT ships."""
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    from edge_sdk.frontend.tflite.model import read_model
    from edge_sdk.frontend.tflite.opnames import BUILTIN_NAMES
    for name, code in vars(schema.BuiltinOperator).items():
        if not name.startswith("_"):
            assert BUILTIN_NAMES[code] == name
    for path in sorted(FIX.glob("*.tflite")):
        ours = read_model(path)
        ref = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0).subgraphs[0]
        assert [t.shape for t in ours.tensors] == [tuple(t.shape) for t in ref.tensors]
        assert [t.name for t in ours.tensors] == [t.name.decode() for t in ref.tensors]
        for a, b in zip(ours.tensors, ref.tensors):
            if b.quantization is not None and b.quantization.scale is not None:
                np.testing.assert_array_equal(a.quant.scale, b.quantization.scale)
                np.testing.assert_array_equal(a.quant.zero_point, b.quantization.zeroPoint)
                assert a.quant.axis == b.quantization.quantizedDimension
        assert [(o.inputs, o.outputs) for o in ours.operators] == [(list(o.inputs), list(o.outputs))
                                                                  for o in ref.operators]


def test_float_tflite_is_not_requantized_and_shapes_are_fixed():
    from edge_sdk.compiler import QuantOptions, analyze
    from edge_sdk.errors import UserError
    with pytest.raises(UserError, match="float .tflite"):
        analyze(FIX / "small_cnn_fp32.tflite", quant=QuantOptions(mode="int8", calibration=np.zeros((1, 32, 32, 3))))
    with pytest.raises(UserError, match="--batch"):
        analyze(FIX / "small_cnn_int8.tflite", batch=2)
    a = analyze(FIX / "small_cnn_int8.tflite", quant=QuantOptions(mode="int8", from_device_default="sparkfun-edge"))
    assert a.quant_report is None and "QConv" in {n.op_type for n in a.graph.nodes}


def test_mutated_files_only_raise_user_errors(tmp_path):
    """Byte mutations of a valid model: the importer answers with a UserError (exit 2) or a graph,
    never an internal exception (every size and offset in the file is checked before use)."""
    from edge_sdk.errors import UserError
    from edge_sdk.frontend.tflite import import_tflite
    base = (FIX / "small_cnn_int8.tflite").read_bytes()
    rng = np.random.default_rng(0)
    outcomes = {"graph": 0, "user_error": 0}
    for i in range(400):
        data = bytearray(base)
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        f = tmp_path / f"m{i}.tflite"
        f.write_bytes(bytes(data))
        try:
            import_tflite(f)
            outcomes["graph"] += 1
        except UserError:
            outcomes["user_error"] += 1
    assert outcomes["user_error"] > 100 and outcomes["graph"] > 50, outcomes


def test_bench_against_tflite_interpreter():
    from edge_sdk.bench_tflite import bench_tflite
    r = bench_tflite(FIX / "small_cnn_int8.tflite", runs=5, warmup=1)
    assert r["bit_exact_vs_reference_kernels"] and r["int8"]
    assert r["edge_sdk"]["p50_ms"] > 0 and r["tflite"]["p50_ms"] > 0 and r["ratio_p50"] > 0


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "edge_sdk", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_bench_command_takes_a_tflite(tmp_path):
    import json
    r = _cli("bench", FIX / "small_cnn_int8.tflite", "--runs", "5", "--warmup", "1", "--json", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["baseline"].startswith(oracle.interpreter_module()[1]) and rep["bit_exact_vs_reference_kernels"]
    assert rep["ratio_p50"] == pytest.approx(rep["edge_sdk"]["p50_ms"] / rep["tflite"]["p50_ms"])


def test_unsupported_op_names_operator_and_index(tmp_path):
    r = _cli("compile", FIX / "op_l2norm_int8.tflite", "-o", tmp_path / "m", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    msg = r.stderr.strip().splitlines()
    assert any("operator 0" in ln and "L2_NORMALIZATION" in ln for ln in msg), r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("damage", ["truncated", "bad_identifier", "offset_out_of_range"])
def test_malformed_file_is_a_user_error(tmp_path, damage):
    data = bytearray((FIX / "op_add_int8.tflite").read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 3]
    elif damage == "bad_identifier":
        data[4:8] = b"XXXX"
    else:
        data[0:4] = (len(data) + 1000).to_bytes(4, "little")  # root table offset past the end
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(bytes(data))
    r = _cli("compile", bad, "-o", tmp_path / "m", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and ".tflite" in r.stderr
