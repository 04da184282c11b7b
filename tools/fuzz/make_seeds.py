"""Write the fuzz seed corpus: small valid models that cover the importer's main paths.

Each seed compiles cleanly today, so a mutation that breaks the compiler is the
mutation's fault, not the seed's.  Run: python tools/fuzz/make_seeds.py [OUT_DIR]
(default tools/fuzz/seeds).  Deterministic: same bytes every run.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "seed", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="edge-sdk-fuzz-seed")
    m.ir_version = 8
    return m


def _vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def _w(rng, name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def seeds() -> dict[str, object]:
    rng = np.random.default_rng(0)
    out = {}
    out["conv_relu_pool"] = _model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1], name="conv"),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2], name="pool")],
        [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 4, 4, 4])], [_w(rng, "w", (4, 3, 3, 3)), _w(rng, "b", (4,))])
    out["gemm_softmax"] = _model(
        [helper.make_node("Flatten", ["x"], ["f"], axis=1, name="flat"),
         helper.make_node("Gemm", ["f", "w", "b"], ["g"], transB=1, name="fc"),
         helper.make_node("Softmax", ["g"], ["y"], axis=-1, name="sm")],
        [_vi("x", [1, 2, 2, 2])], [_vi("y", [1, 5])], [_w(rng, "w", (5, 8)), _w(rng, "b", (5,))])
    out["residual_bn"] = _model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[0, 0, 0, 0], group=2, name="dwconv"),
         helper.make_node("BatchNormalization", ["c", "s", "o", "m", "v"], ["n"], name="bn"),
         helper.make_node("Add", ["n", "x"], ["a"], name="add"),
         helper.make_node("GlobalAveragePool", ["a"], ["y"], name="gap")],
        [_vi("x", [1, 2, 5, 5])], [_vi("y", [1, 2, 1, 1])],
        [_w(rng, "w", (2, 1, 1, 1)), _w(rng, "s", (2,)), _w(rng, "o", (2,)), _w(rng, "m", (2,)),
         numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "v")])
    out["reshape_concat"] = _model(
        [helper.make_node("Shape", ["x"], ["s"], name="shape"),
         helper.make_node("Reshape", ["x", "shp"], ["r"], name="reshape"),
         helper.make_node("Concat", ["r", "r"], ["c"], axis=1, name="concat"),
         helper.make_node("Transpose", ["c"], ["y"], perm=[1, 0], name="tr")],
        [_vi("x", [1, 2, 3])], [_vi("y", [12, 1])],
        [numpy_helper.from_array(np.array([1, 6], np.int64), "shp")])
    out["pad_avgpool_sigmoid"] = _model(
        [helper.make_node("Pad", ["x", "pads"], ["p"], mode="constant", name="pad"),
         helper.make_node("AveragePool", ["p"], ["a"], kernel_shape=[3, 3], strides=[1, 1], name="avg"),
         helper.make_node("Sigmoid", ["a"], ["y"], name="sig")],
        [_vi("x", [1, 1, 4, 4])], [_vi("y", [1, 1, 4, 4])],
        [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")])
    out["matmul_mul_reduce"] = _model(
        [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
         helper.make_node("Mul", ["m", "k"], ["s"], name="mul"),
         helper.make_node("ReduceMean", ["s"], ["y"], axes=[1], keepdims=1, name="rm")],
        [_vi("x", [2, 3])], [_vi("y", [2, 1])],
        [_w(rng, "w", (3, 4)), numpy_helper.from_array(np.array([0.5], np.float32), "k")], opset=13)
    out["resize_slice"] = _model(
        [helper.make_node("Resize", ["x", "", "scales"], ["r"], mode="nearest", name="resize"),
         helper.make_node("Slice", ["r", "st", "en", "ax"], ["y"], name="slice")],
        [_vi("x", [1, 1, 2, 2])], [_vi("y", [1, 1, 2, 4])],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
         numpy_helper.from_array(np.array([1], np.int64), "st"),
         numpy_helper.from_array(np.array([3], np.int64), "en"),
         numpy_helper.from_array(np.array([2], np.int64), "ax")])
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "seeds"
    out.mkdir(parents=True, exist_ok=True)
    for name, m in seeds().items():
        (out / f"{name}.onnx").write_bytes(m.SerializeToString())
    print(f"wrote {len(seeds())} seeds to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
