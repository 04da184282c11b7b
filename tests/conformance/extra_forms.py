"""Op forms the ONNX node cases do not cover (older opsets, attribute forms,
constant indices, int8 quantization), with expected outputs from onnxruntime."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .cases import Case

RNG = np.random.default_rng(7)


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# name -> (op, attrs, opset, runtime inputs {name: array}, initializers {name: array}, number of outputs)
FORMS = {
    "softmax_opset11_axis1": ("Softmax", {"axis": 1}, 11, {"x": _x(2, 3, 4)}, {}, 1),
    "softmax_opset11_default": ("Softmax", {}, 11, {"x": _x(2, 3, 4)}, {}, 1),
    "logsoftmax_opset11_axis2": ("LogSoftmax", {"axis": 2}, 11, {"x": _x(2, 3, 4)}, {}, 1),
    "hardmax_opset11_axis1": ("Hardmax", {"axis": 1}, 11, {"x": _x(2, 3, 4)}, {}, 1),
    "reducemean_axes_attr_opset13": ("ReduceMean", {"axes": [1, 3], "keepdims": 0}, 13, {"x": _x(2, 3, 4, 5)}, {}, 1),
    "reducesum_axes_attr_opset11": ("ReduceSum", {"axes": [-1]}, 11, {"x": _x(2, 3, 4)}, {}, 1),
    "reducemax_all_axes_opset13": ("ReduceMax", {"keepdims": 0}, 13, {"x": _x(2, 3, 4)}, {}, 1),
    "reducel2_axes_attr_opset13": ("ReduceL2", {"axes": [0, 2]}, 13, {"x": _x(2, 3, 4)}, {}, 1),
    "reducelogsumexp_opset13": ("ReduceLogSumExp", {"axes": [1]}, 13, {"x": _x(2, 3, 4)}, {}, 1),
    "reduceprod_int32_opset18": ("ReduceProd", {"keepdims": 1}, 18,
                                 {"x": RNG.integers(-3, 4, (2, 3, 4)).astype(np.int32)},
                                 {"axes": np.array([2], np.int64)}, 1),
    "argmin_opset11_last": ("ArgMin", {"axis": 1, "select_last_index": 1}, 12,
                            {"x": RNG.integers(0, 3, (3, 5)).astype(np.float32)}, {}, 1),
    "split_attr_opset11": ("Split", {"axis": 1, "split": [1, 2]}, 11, {"x": _x(2, 3, 4)}, {}, 2),
    "split_equal_opset11": ("Split", {"axis": -1}, 11, {"x": _x(2, 6)}, {}, 3),
    "slice_attrs_opset9": ("Slice", {"starts": [1, 0], "ends": [3, -1], "axes": [0, 2]}, 9, {"x": _x(4, 3, 5)}, {}, 1),
    "slice_neg_step_opset13": ("Slice", {}, 13, {"x": _x(4, 6)},
                               {"starts": np.array([-1, 4], np.int64), "ends": np.array([-5, 0], np.int64),
                                "axes": np.array([0, 1], np.int64), "steps": np.array([-1, -2], np.int64)}, 1),
    "pad_attrs_reflect_opset7": ("Pad", {"pads": [0, 1, 2, 0, 2, 1], "mode": "reflect"}, 7, {"x": _x(2, 3, 4)}, {}, 1),
    "pad_attrs_constant_opset7": ("Pad", {"pads": [1, 0, 0, 2], "value": 1.5}, 7, {"x": _x(3, 4)}, {}, 1),
    "pad_edge_opset13": ("Pad", {"mode": "edge"}, 13, {"x": _x(1, 2, 3, 3)},
                         {"pads": np.array([0, 0, 2, 1, 0, 0, 1, 3], np.int64)}, 1),
    "pad_crop_opset13": ("Pad", {}, 13, {"x": _x(4, 5)}, {"pads": np.array([-1, 2, 1, -2], np.int64)}, 1),
    "clip_attrs_opset7": ("Clip", {"min": -0.5, "max": 0.25}, 7, {"x": _x(3, 4)}, {}, 1),
    "upsample_nearest_attr_opset7": ("Upsample", {"scales": [1.0, 1.0, 2.0, 3.0]}, 7, {"x": _x(1, 2, 3, 2)}, {}, 1),
    "upsample_linear_opset9": ("Upsample", {"mode": "linear"}, 9, {"x": _x(1, 2, 3, 4)},
                               {"scales": np.array([1, 1, 2, 2], np.float32)}, 1),
    "resize_nearest_opset10": ("Resize", {"mode": "nearest"}, 10, {"x": _x(1, 2, 3, 4)},
                               {"scales": np.array([1, 1, 2, 1.5], np.float32)}, 1),
    "resize_linear_opset10": ("Resize", {"mode": "linear"}, 10, {"x": _x(1, 2, 3, 4)},
                              {"scales": np.array([1, 1, 2, 2], np.float32)}, 1),
    "resize_linear_sizes_opset11": ("Resize", {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
                                    11, {"x": _x(1, 2, 5, 4)},
                                    {"roi": np.zeros(0, np.float32), "scales": np.zeros(0, np.float32),
                                     "sizes": np.array([1, 2, 3, 7], np.int64)}, 1),
    "resize_nearest_int8_opset13": ("Resize", {"mode": "nearest"}, 13,
                                    {"x": RNG.integers(-9, 9, (1, 1, 3, 3)).astype(np.int8)},
                                     {"roi": np.zeros(0, np.float32), "scales": np.array([1, 1, 2, 2], np.float32)}, 1),
    "gather_const_indices_axis1": ("Gather", {"axis": 1}, 13, {"x": _x(3, 5, 2)},
                                   {"idx": np.array([[4, -1], [0, 2]], np.int64)}, 1),
    "gather_int32_indices": ("Gather", {"axis": 0}, 13,
                             {"x": _x(5, 3), "idx": np.array([3, -2, 0], np.int32)}, {}, 1),
    "cast_float_to_int32": ("Cast", {"to": onnx.TensorProto.INT32}, 13,
                            {"x": (_x(3, 4) * 50).astype(np.float32)}, {}, 1),
    "cast_int64_to_bool": ("Cast", {"to": onnx.TensorProto.BOOL}, 13,
                           {"x": RNG.integers(-2, 3, (3, 4)).astype(np.int64)}, {}, 1),
    "tile_rank4": ("Tile", {}, 13, {"x": _x(1, 2, 3, 2)}, {"r": np.array([2, 1, 2, 3], np.int64)}, 1),
    "expand_rank_grows": ("Expand", {}, 13, {"x": _x(3, 1)}, {"s": np.array([2, 1, 3, 4], np.int64)}, 1),
    "depthtospace_dcr": ("DepthToSpace", {"blocksize": 2}, 13, {"x": _x(1, 8, 2, 3)}, {}, 1),
    "spacetodepth_b3": ("SpaceToDepth", {"blocksize": 3}, 13, {"x": _x(2, 2, 6, 3)}, {}, 1),
    "lrn_size3": ("LRN", {"size": 3, "alpha": 0.001, "beta": 0.5, "bias": 2.0}, 13, {"x": _x(1, 5, 3, 3)}, {}, 1),
    "mod_int32_fmod0": ("Mod", {}, 13, {"a": RNG.integers(-20, 20, (4, 5)).astype(np.int32),
                                        "b": np.array([3, -3, 7, -7, 5], np.int32)}, {}, 1),
    "dropout_mask_inference": ("Dropout", {}, 13, {"x": _x(3, 4)}, {}, 2),
    "quantizelinear_int8": ("QuantizeLinear", {}, 13, {"x": _x(3, 4) * 4},
                            {"scale": np.array(0.05, np.float32), "zp": np.array(-3, np.int8)}, 1),
    "dequantizelinear_int8": ("DequantizeLinear", {}, 13, {"x": RNG.integers(-128, 128, (3, 4)).astype(np.int8)},
                              {"scale": np.array(0.05, np.float32), "zp": np.array(5, np.int8)}, 1),
}


def _model(name):
    """A one-node model of the form `name` (shape-inferred) and its run-time inputs."""
    op, attrs, opset, runtime, inits, n_out = FORMS[name]
    ins = list(runtime) + list(inits)
    if op == "Gather" and "idx" in inits:
        ins = ["x", "idx"]
    if op in ("Resize",) and opset >= 11:
        ins = ["x", "roi", "scales"] + (["sizes"] if "sizes" in inits else [])
    outs = [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op, ins, outs, **attrs)
    vi = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in runtime.items()]
    ov = [helper.make_empty_tensor_value_info(o) for o in outs]
    g = helper.make_graph([node], name, vi, ov, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return onnx.shape_inference.infer_shapes(m), runtime


def extra_case(name) -> Case:
    """The form `name` as a Case, expected outputs computed by onnxruntime."""
    import onnxruntime as ort
    m, runtime = _model(name)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    expected = sess.run(None, runtime)
    return Case(f"extra_{name}", FORMS[name][0], m, list(runtime.values()), [np.asarray(e) for e in expected])
