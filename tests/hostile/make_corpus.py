"""The hostile-model regression corpus, generated so each case reads as what it is.

    python tests/hostile/make_corpus.py OUT_DIR      # writes OUT_DIR/<case>/model.onnx (+ data files)

Every case is a model file that edge-sdk must refuse with exit code 2 and a
one-line message.  `expect` lists regexes the message must match (the node, op
type or opset where there is one).  External-data cases also write SECRET_NAME
next to (never inside) the case folder, holding exactly the bytes the model asks
for, so a compiler that followed the reference would succeed and embed them.
Fuzzer findings live as model files in crashers/ and are replayed as they are.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
SECRET_NAME = "secret.bin"
# 16 float32s whose bytes are distinctive: if they ever show up in generated weights, the secret leaked.
SECRET = np.frombuffer(b"EDGE-SDK-SECRET!" * 4, np.float32).copy()
CONV = r"'conv'|node name: conv\b"  # our messages quote the node; onnx's shape inference says "node name:"
POOL = r"'pool'|node name: pool\b"
CRASHERS = Path(__file__).resolve().parent / "crashers"


@dataclass
class Case:
    build: Callable[[Path], Path]          # folder -> model path
    expect: list[str]                      # regexes the error message must match
    reads_secret: bool = False             # an external-data case with a secret outside the folder
    skip_reason: Callable[[], str] = field(default=lambda: "")


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "hostile", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _vi(name, shape, dtype=F):
    """shape None: an output whose shape is left to inference (symbolic, rank 4)."""
    return helper.make_tensor_value_info(name, dtype, shape if shape is not None else ["n", "c", "h", "w"])


def _save(folder: Path, m: onnx.ModelProto | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "model.onnx"
    p.write_bytes(m if isinstance(m, bytes) else m.SerializeToString())
    return p


def _w(shape, name="w", seed=0):
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def _conv(folder: Path, x_shape=(1, 3, 8, 8), w_shape=(4, 3, 3, 3), **attrs) -> Path:
    return _save(folder, _model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)],
                                [_vi("x", list(x_shape))], [_vi("y", None)], [_w(w_shape)]))


def _pool(folder: Path, **attrs) -> Path:
    return _save(folder, _model([helper.make_node("MaxPool", ["x"], ["y"], name="pool", **attrs)],
                                [_vi("x", [1, 2, 8, 8])], [_vi("y", None)]))


def _valid_bytes() -> bytes:
    return _model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                   helper.make_node("Relu", ["c"], ["y"], name="relu")],
                  [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 4, 6, 6])], [_w((4, 3, 3, 3))]).SerializeToString()


# ---- external data: the model adds a 16-float external weight to its input ----
def _external(folder: Path, location: str, offset: int | None = 0, length: int | str | None = None) -> Path:
    w = numpy_helper.from_array(np.zeros(16, np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", str(offset)))
    entries.append(("length", str(SECRET.nbytes if length is None else length)))
    for k, v in entries:
        e = w.external_data.add()
        e.key, e.value = k, v
    m = _model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [_vi("x", [16])], [_vi("y", [16])], [w])
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / SECRET_NAME).write_bytes(SECRET.tobytes())
    return _save(folder, m)


def _ext_symlink_file(folder: Path) -> Path:
    p = _external(folder, "w.bin")
    os.symlink(folder.parent / SECRET_NAME, folder / "w.bin")
    return p


def _ext_symlink_dir(folder: Path) -> Path:
    p = _external(folder, "sub/w.bin")
    outside = folder.parent / (folder.name + "_outside")
    outside.mkdir(exist_ok=True)
    (outside / "w.bin").write_bytes(SECRET.tobytes())
    os.symlink(outside, folder / "sub")
    return p


def _ext_hardlink(folder: Path) -> Path:
    p = _external(folder, "w.bin")
    os.link(folder.parent / SECRET_NAME, folder / "w.bin")
    return p


def _ext_fifo(folder: Path) -> Path:
    p = _external(folder, "w.fifo")
    os.mkfifo(folder / "w.fifo")
    return p


def _ext_inside(folder: Path, offset=0, length=None, data: bytes | None = None) -> Path:
    p = _external(folder, "w.bin", offset=offset, length=length)
    (folder / "w.bin").write_bytes(SECRET.tobytes() if data is None else data)
    return p


def _fifo_skip() -> str:
    return "" if hasattr(os, "mkfifo") else "no FIFOs on this platform"


CASES: dict[str, Case] = {
    # ---- not a model ----
    "empty_file": Case(lambda d: _save(d, b""), ["is empty"]),
    "truncated_model": Case(lambda d: _save(d, _valid_bytes()[: len(_valid_bytes()) * 2 // 3]),
                            ["not a valid ONNX file|fails the ONNX checker"]),
    "random_bytes": Case(lambda d: _save(d, np.random.default_rng(7).bytes(4096)),
                         ["not a valid ONNX file|fails the ONNX checker"]),
    # ---- graph structure ----
    "unknown_op": Case(lambda d: _save(d, _model([helper.make_node("Frobnicate", ["x"], ["y"], name="frob")],
                                                 [_vi("x", [2])], [_vi("y", [2])])),
                       ["'frob'", "Frobnicate", "opset 17"]),
    "custom_domain_op": Case(lambda d: _save(d, _model(
        [helper.make_node("Gelu", ["x"], ["y"], name="g", domain="com.evil")], [_vi("x", [2])], [_vi("y", [2])]))
        if False else _custom_domain(d), ["com.evil"]),
    "missing_input": Case(lambda d: _save(d, _model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")],
                                                    [_vi("x", [2])], [_vi("y", [2])])), ["ghost"]),
    "cycle": Case(lambda d: _save(d, _model([helper.make_node("Relu", ["b"], ["a"], name="r1"),
                                             helper.make_node("Add", ["x", "a"], ["b"], name="r2")],
                                            [_vi("x", [2])], [_vi("b", [2])])), ["topologically sorted|cycle"]),
    "future_opset": Case(lambda d: _save(d, _model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                                   [_vi("x", [2])], [_vi("y", [2])], opset=99)), ["opset 99"]),
    "no_default_opset": Case(lambda d: _no_default_opset(d), ["opset"]),
    # ---- dimensions ----
    "huge_input_dim": Case(lambda d: _conv(d, x_shape=(1, 3, 1 << 40, 8)), ["'x'", "1099511627776"]),
    "huge_input_elements": Case(lambda d: _conv(d, x_shape=(1, 3, 1 << 20, 1 << 20)), ["'x'", "elements"]),
    "negative_input_dim": Case(lambda d: _conv(d, x_shape=(1, 3, -5, 8)), ["'x'", "negative", "-5"]),
    "zero_dim_into_reshape": Case(lambda d: _save(d, _model(
        [helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")], [_vi("x", [1, 0, 3])], [_vi("y", ["a", "b"])],
        [numpy_helper.from_array(np.array([1, 6], np.int64), "s")])), ["reshape|Reshape"]),
    "zero_kernel": Case(lambda d: _conv(d, w_shape=(4, 3, 0, 3)), ["conv|Conv|kernel|0"]),
    "huge_declared_weight": Case(lambda d: _save(d, _model(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")], [_vi("x", [2])], [_vi("y", [2])],
        [TensorProto(name="w", data_type=F, dims=[1 << 20, 1 << 20], raw_data=b"\0" * 16)])), ["'w'", "declares"]),
    "negative_weight_dim": Case(lambda d: _save(d, _model(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")], [_vi("x", [2])], [_vi("y", [2])],
        [TensorProto(name="w", data_type=F, dims=[-2], raw_data=b"\0" * 8)])), ["'w'", "negative"]),
    "sparse_initializer_huge": Case(lambda d: _save(d, _sparse_model()), ["'w'", "sparse"]),
    "weight_data_shape_mismatch": Case(lambda d: _save(d, _model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [_vi("x", [1, 3, 8, 8])], [_vi("y", None)],
        [TensorProto(name="w", data_type=F, dims=[4, 3, 3, 3], raw_data=b"\0" * (4 * 3 * 3 * 2 * 4))])),
        ["'w'", "declared shape"]),
    "weight_channels_mismatch": Case(lambda d: _conv(d, w_shape=(4, 5, 3, 3)), ["conv|Conv|channel"]),
    "impossible_reshape": Case(lambda d: _save(d, _model(
        [helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")], [_vi("x", [1, 2, 3])], [_vi("y", ["a", "b"])],
        [numpy_helper.from_array(np.array([4, 4], np.int64), "s")])), ["reshape|Reshape"]),
    "huge_resize": Case(lambda d: _save(d, _model(
        [helper.make_node("Resize", ["x", "", "s"], ["y"], name="resize", mode="nearest")],
        [_vi("x", [1, 3, 64, 64])], [_vi("y", None)],
        [numpy_helper.from_array(np.array([1, 1, 1e4, 1e4], np.float32), "s")])), ["'y'", "'resize'", "bytes"]),
    "absurd_resize_scale": Case(lambda d: _save(d, _model(
        [helper.make_node("Resize", ["x", "", "s"], ["y"], name="resize", mode="nearest")],
        [_vi("x", [1, 3, 64, 64])], [_vi("y", None)],
        [numpy_helper.from_array(np.array([1, 1, 1e9, 1], np.float32), "s")])), ["'resize'", "Resize", "scale"]),
    # ---- constant folding that would never end or exhaust memory ----
    "loop_huge_trip_count": Case(lambda d: _loop(d, trips=10 ** 12), ["'loop'", "Loop", "trip count"]),
    "loop_without_trip_count": Case(lambda d: _loop(d, trips=None), ["'loop'", "Loop", "trip count"]),
    "nested_loop": Case(lambda d: _loop(d, trips=4, nested=True), ["Loop", "subgraph"]),
    "range_huge": Case(lambda d: _save(d, _model(
        [helper.make_node("Range", ["a", "b", "c"], ["r"], name="range"),
         helper.make_node("Add", ["x", "r"], ["y"], name="add")], [_vi("x", [1])], [_vi("y", ["n"])],
        [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in (("a", 0), ("b", 1 << 40), ("c", 1))])),
        ["'range'", "Range", "elements"]),
    "constant_of_shape_huge": Case(lambda d: _save(d, _model(
        [helper.make_node("ConstantOfShape", ["s"], ["c"], name="cos"),
         helper.make_node("Add", ["x", "c"], ["y"], name="add")], [_vi("x", [1])], [_vi("y", ["a", "b", "c"])],
        [numpy_helper.from_array(np.array([1 << 20, 1 << 20, 1 << 10], np.int64), "s")])),
        ["'cos'", "ConstantOfShape"]),
    "tile_constant_huge": Case(lambda d: _save(d, _model(
        [helper.make_node("Tile", ["k", "r"], ["t"], name="tile"),
         helper.make_node("Add", ["x", "t"], ["y"], name="add")], [_vi("x", [1])], [_vi("y", ["a", "b"])],
        [numpy_helper.from_array(np.ones((4, 4), np.float32), "k"),
         numpy_helper.from_array(np.array([1 << 20, 1 << 20], np.int64), "r")])), ["'tile'", "Tile", "elements"]),
    "resize_nan_scale": Case(lambda d: _save(d, _model(
        [helper.make_node("Resize", ["x", "", "s"], ["y"], name="resize", mode="nearest")],
        [_vi("x", [1, 3, 8, 8])], [_vi("y", None)],
        [numpy_helper.from_array(np.array([1, 1, np.nan, 2], np.float32), "s")])), ["'resize'", "Resize", "nan"]),
    # ---- absurd attributes ----
    "conv_zero_strides": Case(lambda d: _conv(d, strides=[0, 0]), [CONV, "Conv", "stride"]),
    "conv_negative_pads": Case(lambda d: _conv(d, pads=[-1, -1, -1, -1]), [CONV, "Conv", "pad"]),
    "conv_group_not_dividing": Case(lambda d: _conv(d, w_shape=(4, 1, 3, 3), group=2), ["conv|Conv", "group|channel"]),
    "conv_huge_kernel": Case(lambda d: _conv(d, w_shape=(4, 3, 1000, 1000), kernel_shape=[1000, 1000]),
                             ["conv|Conv"]),
    "conv_dilation_zero": Case(lambda d: _conv(d, dilations=[0, 0]), [CONV, "Conv", "dilation"]),
    "conv_kernel_shape_lies": Case(lambda d: _conv(d, kernel_shape=[5, 5]), ["conv|Conv", "kernel"]),
    "pool_zero_strides": Case(lambda d: _pool(d, kernel_shape=[2, 2], strides=[0, 0]), [POOL, "MaxPool", "stride"]),
    "pool_negative_pads": Case(lambda d: _pool(d, kernel_shape=[2, 2], pads=[-3, -3, -3, -3]),
                               [POOL, "MaxPool", "pad"]),
    "pool_huge_kernel": Case(lambda d: _pool(d, kernel_shape=[100, 100]), ["pool|MaxPool"]),
    "pool_zero_kernel": Case(lambda d: _pool(d, kernel_shape=[0, 0]), ["pool|MaxPool", "kernel"]),
    # ---- external data ----
    "ext_dotdot": Case(lambda d: _external(d, "../" + SECRET_NAME), ["'w'", "leaves the model folder"], True),
    "ext_dotdot_nested": Case(lambda d: _external(d, "sub/../../" + SECRET_NAME), ["leaves the model folder"], True),
    "ext_dotdot_backslash": Case(lambda d: _external(d, "..\\" + SECRET_NAME), ["leaves the model folder"], True),
    "ext_absolute": Case(lambda d: _external(d, str((d.parent / SECRET_NAME).resolve())), ["'w'", "absolute"], True),
    "ext_symlink_file": Case(_ext_symlink_file, ["'w'", "symlink"], True),
    "ext_symlink_dir": Case(_ext_symlink_dir, ["'w'", "symlink"], True),
    "ext_hardlink": Case(_ext_hardlink, ["'w'", "hard link"], True),
    "ext_fifo": Case(_ext_fifo, ["'w'", "not a regular file"], True, _fifo_skip),
    "ext_missing_file": Case(lambda d: _external(d, "nope.bin"), ["'w'", "does not exist"], True),
    "ext_offset_past_end": Case(lambda d: _ext_inside(d, offset=1 << 20), ["'w'", "outside"], True),
    "ext_negative_offset": Case(lambda d: _ext_inside(d, offset=-16), ["'w'", "outside"], True),
    "ext_length_past_end": Case(lambda d: _ext_inside(d, offset=8), ["'w'", "outside"], True),
    "ext_malformed_offset": Case(lambda d: _ext_inside(d, offset="0x10"), ["'w'", "malformed"], True),  # type: ignore
    "ext_length_mismatch": Case(lambda d: _ext_inside(d, length=8, data=SECRET.tobytes()[:8]), ["'w'", "declares"],
                                True),
}


def _loop(folder: Path, trips: int | None, nested: bool = False) -> Path:
    """v = 0; repeat `trips` times (or while true, without a trip count): v += 1; y = x + v."""
    vi = helper.make_tensor_value_info
    body_nodes = [helper.make_node("Add", ["v_in", "one"], ["v_out"], name="inc"),
                  helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep_going")]
    if nested:
        inner = helper.make_graph(list(body_nodes), "inner", [vi("j", TensorProto.INT64, []),
                                  vi("cond_in", TensorProto.BOOL, []), vi("v_in", F, [1])],
                                  [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, [1])],
                                  [numpy_helper.from_array(np.array([1.0], np.float32), "one")])
        body_nodes = [helper.make_node("Loop", ["big", "cond_in", "v_in"], ["v_out"], body=inner, name="inner_loop"),
                      helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep_going")]
    body = helper.make_graph(body_nodes, "body", [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
                                                  vi("v_in", F, [1])],
                             [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, [1])],
                             [numpy_helper.from_array(np.array([1.0], np.float32), "one"),
                              numpy_helper.from_array(np.array(1 << 40, np.int64), "big")])
    inits = [numpy_helper.from_array(np.array(True), "cond"), numpy_helper.from_array(np.zeros(1, np.float32), "v0")]
    if trips is not None:
        inits.append(numpy_helper.from_array(np.array(trips, np.int64), "M"))
    nodes = [helper.make_node("Loop", ["M" if trips is not None else "", "cond", "v0"], ["v"], body=body, name="loop"),
             helper.make_node("Add", ["x", "v"], ["y"], name="add")]
    return _save(folder, _model(nodes, [_vi("x", [1])], [_vi("y", [1])], inits))


def _sparse_model() -> onnx.ModelProto:
    """A sparse initializer of 2**40 elements (one value): densifying it would exhaust memory."""
    sp = helper.make_sparse_tensor(numpy_helper.from_array(np.array([1.0], np.float32), "w"),
                                   numpy_helper.from_array(np.array([5], np.int64), "w_idx"), [1 << 40])
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "hostile", [_vi("x", [1])],
                          [_vi("y", ["n"])], sparse_initializer=[sp])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _custom_domain(folder: Path) -> Path:
    m = _model([helper.make_node("Gelu", ["x"], ["y"], name="g", domain="com.evil")], [_vi("x", [2])], [_vi("y", [2])])
    m.opset_import.append(helper.make_opsetid("com.evil", 1))
    return _save(folder, m)


def _no_default_opset(folder: Path) -> Path:
    m = _model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [_vi("x", [2])], [_vi("y", [2])])
    del m.opset_import[:]
    m.opset_import.append(helper.make_opsetid("com.other", 1))
    return _save(folder, m)


def crasher_cases() -> dict[str, Path]:
    """Fuzzer findings, kept as the model files that triggered them (see tools/fuzz/triage.py)."""
    return {p.name: p for p in sorted(CRASHERS.glob("*.onnx"))}


def build_all(out: Path) -> dict[str, Path]:
    built = {}
    for name, case in CASES.items():
        if case.skip_reason():
            continue
        built[name] = case.build(out / name)
    return built


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile_corpus")
    for name, p in build_all(target).items():
        print(f"{name:28s} {p}")
