"""One converter per TFLite operator: (importer, operator, options) -> IR nodes.

int8 tensors keep TFLite's scales and zero points (set on the IR tensors by Importer.out);
float32 models use the IR's ONNX float ops.
"""
from __future__ import annotations

import numpy as np

from .importer import F32, INT8, NHWC_AXIS_TO_NCHW, TO_NCHW, TO_NHWC, Importer, same_bytes_both_layouts
from .model import TflOperator
from .options import opts_of
from .tables import (activation_range, hard_swish_table, leaky_relu_table, logistic_table, relu_table,
                     requantize_table, tanh_table)

ACT_NAMES = {0: None, 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}


def _int8(im: Importer, op: TflOperator) -> bool:
    dt = im.dtype(im.t(op.outputs[0]))
    return dt == INT8


def _sz(im: Importer, i: int) -> tuple[float, int]:
    q = im.t(i).quant
    if q is None:
        raise im.unsupported(f"int8 tensor '{im.t(i).name}' has no quantization parameters")
    return float(q.scale[0]), int(q.zero_point[0])


def _act_int8(im: Importer, op, opts) -> tuple[int, int]:
    act = opts.get("fused_activation_function", 0)
    if act not in ACT_NAMES:
        raise im.unsupported(f"fused activation {act} is not supported (NONE, RELU, RELU_N1_TO_1, RELU6 are)")
    s, z = _sz(im, op.outputs[0])
    return activation_range(act, s, z)


def _act_as_clip(im: Importer, op, opts):
    """The int8 clamp range as the IR's ("Clip", lo, hi) activation attr, chosen so that
    quant_ops.act_range gives back exactly TFLite's integer range."""
    lo, hi = _act_int8(im, op, opts)
    s, z = _sz(im, op.outputs[0])
    return ("Clip", (lo - z) * s if lo > -128 else float("-inf"), (hi - z) * s if hi < 127 else float("inf"))


def _float_act(im: Importer, y: str, act: int) -> None:
    """Append the float activation node after y (renaming y's producer output)."""
    if act == 0:
        return
    if act not in ACT_NAMES:
        raise im.unsupported(f"fused activation {act} is not supported")
    pre = im.add_tensor(y + "~pre", im.tensors[y].shape, F32)
    im.nodes[-1].outputs = [pre if o == y else o for o in im.nodes[-1].outputs]
    if act == 1:
        im.node("Relu", [pre], [y])
    else:
        lo, hi = (0.0, 6.0) if act == 3 else (-1.0, 1.0)
        bounds = [im.add_const(nm, np.array(v, np.float32)) for nm, v in (("lo", lo), ("hi", hi))]
        im.node("Clip", [pre, *bounds], [y])


def _same_pads(in_hw, k_hw, s_hw, d_hw, padding: int) -> tuple[list[int], list[int]]:
    """TFLite SAME (0) / VALID (1) padding as explicit (begin, end) per spatial dim."""
    begin, end = [], []
    for n, k, s, d in zip(in_hw, k_hw, s_hw, d_hw):
        if padding == 1:
            begin.append(0), end.append(0)
            continue
        out = (n + s - 1) // s
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begin.append(total // 2), end.append(total - total // 2)
    return begin, end


def _out_hw(in_hw, k_hw, s_hw, d_hw, padding: int) -> list[int]:
    if padding == 0:
        return [(n + s - 1) // s for n, s in zip(in_hw, s_hw)]
    return [max((n - ((k - 1) * d + 1)) // s + 1, 0) for n, k, s, d in zip(in_hw, k_hw, s_hw, d_hw)]


def _check_padding(im, opts):
    if opts["padding"] not in (0, 1):
        raise im.unsupported(f"padding type {opts['padding']} is not supported (SAME and VALID are)")


# ---- convolutions and fully connected --------------------------------------------------

def conv2d(im: Importer, op: TflOperator, opts, depthwise: bool = False) -> None:
    _check_padding(im, opts)
    x, w_i, b_i = op.inputs[0], op.inputs[1], op.inputs[2] if len(op.inputs) > 2 else -1
    w = im.const(w_i)
    if w is None:
        raise im.unsupported("filters computed at run time are not supported")
    in_shape = im.t(x).shape
    if len(in_shape) != 4:
        raise im.unsupported("only 4-D (NHWC) inputs are supported")
    c_in = in_shape[3]
    if depthwise:  # [1, KH, KW, C*M] -> [C*M, 1, KH, KW], group = C
        kh, kw = w.shape[1:3]
        w_oihw = w.transpose(3, 0, 1, 2)
        group = c_in
        if w.shape[3] % c_in:
            raise im.unsupported(f"{w.shape[3]} output channels are not a multiple of {c_in} input channels")
    else:          # [O, KH, KW, I] -> [O, I, KH, KW]
        kh, kw = w.shape[1:3]
        w_oihw = w.transpose(0, 3, 1, 2)
        group = c_in // w.shape[3]
        if group < 1 or c_in % w.shape[3]:
            raise im.unsupported(f"filter depth {w.shape[3]} does not divide {c_in} input channels")
    strides, dil = [opts["stride_h"], opts["stride_w"]], [opts["dilation_h_factor"], opts["dilation_w_factor"]]
    if min(strides + dil) < 1:
        raise im.unsupported(f"strides {strides} / dilations {dil} must be at least 1")
    begin, end = _same_pads(in_shape[1:3], (kh, kw), strides, dil, opts["padding"])
    attrs = dict(kernel_shape=[kh, kw], strides=strides, dilations=dil, pads=begin + end, group=group)
    c_out = w_oihw.shape[0]
    im.expect_shape(op.outputs[0], (in_shape[0], *_out_hw(in_shape[1:3], (kh, kw), strides, dil, opts["padding"]),
                                    c_out))
    if b_i >= 0 and (im.const(b_i) is None or np.asarray(im.const(b_i)).size != c_out):
        raise im.malformed(f"the bias must be {c_out} constant values")
    int8 = _int8(im, op)
    wq = im.t(w_i).quant
    if int8:
        if wq is None or np.any(wq.zero_point != 0):
            raise im.unsupported("int8 filters must be symmetric (zero point 0)")
        axis_ok = wq.scale.size == 1 or wq.axis == (3 if depthwise else 0)
        if not axis_ok:
            raise im.unsupported(f"per-channel filter scales along axis {wq.axis} are not supported")
        wq_ir = im.quant(im.t(w_i), lambda a: 0)
        wname = im.add_const(im.names[w_i], w_oihw, wq_ir)
        ins = [im.x(x), wname]
        if b_i >= 0:
            ins.append(im.add_const(im.names[b_i], np.asarray(im.const(b_i), np.int32).reshape(-1)))
        y = im.out(op.outputs[0])
        im.node("QConv", ins, [y], activation=_act_as_clip(im, op, opts), **attrs)
    else:
        ins = [im.x(x), im.add_const(im.names[w_i], w_oihw.astype(np.float32))]
        if b_i >= 0:
            ins.append(im.add_const(im.names[b_i], np.asarray(im.const(b_i), np.float32)))
        y = im.out(op.outputs[0])
        im.node("Conv", ins, [y], **attrs)
        _float_act(im, y, opts["fused_activation_function"])


def fully_connected(im: Importer, op: TflOperator, opts) -> None:
    x_i, w_i, b_i = op.inputs[0], op.inputs[1], op.inputs[2] if len(op.inputs) > 2 else -1
    w = im.const(w_i)
    if w is None or w.ndim != 2:
        raise im.unsupported("weights must be a constant 2-D tensor")
    if opts["weights_format"] != 0:
        raise im.unsupported("shuffled weight formats are not supported")
    n, k = w.shape
    x = im.nhwc(x_i)
    y_t = im.t(op.outputs[0])
    if im.tensors[x].size % k:
        raise im.unsupported(f"input of {im.tensors[x].size} elements is not a multiple of {k}")
    m_rows = im.tensors[x].size // k
    in_shape = im.t(x_i).shape
    im.expect_shape(op.outputs[0], (*in_shape[:-1], n) if opts["keep_num_dims"] else (m_rows, n))
    if b_i >= 0 and (im.const(b_i) is None or np.asarray(im.const(b_i)).size != n):
        raise im.malformed(f"the bias must be {n} constant values")
    if len(im.tensors[x].shape) != 2:  # TFLite flattens the input to [-1, K]
        flat = im.add_tensor(x + "~2d", (m_rows, k), im.tensors[x].dtype, None, im.tensors[x].quant)
        im.node("Reshape", [x, im.add_const("shape", np.array([m_rows, k], np.int64))], [flat])
        x = flat
    y = im.out_from_nhwc(op.outputs[0])
    if len(im.tensors[y].shape) != 2:
        y2 = im.add_tensor(y + "~2d", (m_rows, n), im.tensors[y].dtype, None, im.tensors[y].quant)
    else:
        y2 = y
    if _int8(im, op):
        wq = im.t(w_i).quant
        if wq is None or np.any(wq.zero_point != 0):
            raise im.unsupported("int8 weights must be symmetric (zero point 0)")
        if wq.scale.size > 1 and wq.axis != 0:
            raise im.unsupported(f"per-channel weight scales along axis {wq.axis} are not supported")
        ins = [x, im.add_const(im.names[w_i], w, im.quant(im.t(w_i), lambda a: 0))]
        if b_i >= 0:
            ins.append(im.add_const(im.names[b_i], np.asarray(im.const(b_i), np.int32).reshape(-1)))
        im.node("QFullyConnected", ins, [y2], activation=_act_as_clip(im, op, opts))
    else:
        ins = [x, im.add_const(im.names[w_i], w.astype(np.float32))]
        if b_i >= 0:
            ins.append(im.add_const(im.names[b_i], np.asarray(im.const(b_i), np.float32)))
        im.node("Gemm", ins, [y2], transB=1)
        _float_act(im, y2, opts["fused_activation_function"])
    if y2 != y:
        im.node("Reshape", [y2, im.add_const("shape", np.array(im.tensors[y].shape, np.int64))], [y])


# ---- pooling and reductions ------------------------------------------------------------

def _pool_geometry(im, op, opts):
    _check_padding(im, opts)
    in_shape = im.t(op.inputs[0]).shape
    k, s = [opts["filter_height"], opts["filter_width"]], [opts["stride_h"], opts["stride_w"]]
    if min(k + s) < 1:
        raise im.unsupported(f"filter {k} and strides {s} must be at least 1")
    if len(in_shape) != 4:
        raise im.unsupported("only 4-D (NHWC) inputs are supported")
    begin, end = _same_pads(in_shape[1:3], k, s, (1, 1), opts["padding"])
    im.expect_shape(op.outputs[0], (in_shape[0], *_out_hw(in_shape[1:3], k, s, (1, 1), opts["padding"]),
                                    in_shape[3]))
    return k, s, begin, end


def max_pool(im: Importer, op, opts) -> None:
    k, s, begin, end = _pool_geometry(im, op, opts)
    x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
    if _int8(im, op):
        if _sz(im, op.inputs[0]) != _sz(im, op.outputs[0]):
            raise im.unsupported("int8 MAX_POOL_2D needs the same scale and zero point in and out")
        im.node("QMaxPool", [x], [y], kernel_shape=k, strides=s, pads=begin + end,
                activation=_act_as_clip(im, op, opts))
    else:
        im.node("MaxPool", [x], [y], kernel_shape=k, strides=s, pads=begin + end)
        _float_act(im, y, opts["fused_activation_function"])


def average_pool(im: Importer, op, opts) -> None:
    k, s, begin, end = _pool_geometry(im, op, opts)
    x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
    if _int8(im, op):
        im.node("TflAveragePool", [x], [y], kernel=k, strides=s, pads=begin[:2], act=_act_int8(im, op, opts))
    else:
        im.node("AveragePool", [x], [y], kernel_shape=k, strides=s, pads=begin + end, count_include_pad=0)
        _float_act(im, y, opts["fused_activation_function"])


def mean(im: Importer, op, opts) -> None:
    x_i, y_i = op.inputs[0], op.outputs[0]
    axes = im.const(op.inputs[1])
    shape = im.t(x_i).shape
    if axes is None:
        raise im.unsupported("axes must be constant")
    axes = sorted({int(a) % len(shape) for a in np.asarray(axes).reshape(-1)})
    if len(shape) != 4 or axes != [1, 2]:
        raise im.unsupported(f"only the mean over H and W of a 4-D tensor is supported (axes {axes})")
    im.expect_shape(y_i, (shape[0], 1, 1, shape[3]) if opts["keep_dims"] else (shape[0], shape[3]))
    x = im.x(x_i)                      # NCHW: each (n, c) plane is contiguous
    y = im.out(y_i)
    if _int8(im, op):
        im.node("TflMean", [x], [y], size=shape[1] * shape[2])
    else:
        im.node("ReduceMean", [x, im.add_const("axes", np.array([2, 3], np.int64))], [y],
                keepdims=int(bool(opts["keep_dims"])))


# ---- elementwise -----------------------------------------------------------------------

def _broadcast_operand(im: Importer, i: int, out_rank: int) -> str:
    """Input i of a broadcasting op, in the stored layout of a rank-`out_rank` output."""
    t = im.t(i)
    if len(t.shape) == out_rank or out_rank != 4:
        return im.x(i)
    # A lower-rank operand broadcast against a 4-D (NCHW-stored) output: align it on NHWC first.
    arr = im.const(i)
    shape4 = (1,) * (4 - len(t.shape)) + tuple(t.shape)
    nchw = tuple(shape4[p] for p in TO_NCHW)
    if arr is not None:
        return im.add_const(im.names[i], arr.reshape(shape4).transpose(TO_NCHW), im.quant(t))
    src = im.x(i)
    dst = im.add_tensor(src + "~4d", nchw, im.tensors[src].dtype, None, im.tensors[src].quant)
    if same_bytes_both_layouts(shape4):
        im.node("Reshape", [src, im.add_const("shape", np.array(nchw, np.int64))], [dst])
    else:
        mid = im.add_tensor(src + "~4dnhwc", shape4, im.tensors[src].dtype, None, im.tensors[src].quant)
        im.node("Reshape", [src, im.add_const("shape", np.array(shape4, np.int64))], [mid])
        im.node("Transpose", [mid], [dst], perm=TO_NCHW)
    return dst


def binary(kind: str):
    def conv(im: Importer, op, opts) -> None:
        out_rank = len(im.t(op.outputs[0]).shape)
        try:
            im.expect_shape(op.outputs[0], np.broadcast_shapes(im.t(op.inputs[0]).shape, im.t(op.inputs[1]).shape))
        except ValueError:
            raise im.malformed("the input shapes do not broadcast") from None
        a, b = (_broadcast_operand(im, i, out_rank) for i in op.inputs[:2])
        y = im.out(op.outputs[0])
        if _int8(im, op):
            im.node(f"Tfl{kind}", [a, b], [y], act=_act_int8(im, op, opts))
        else:
            im.node(kind, [a, b], [y])
            _float_act(im, y, opts["fused_activation_function"])
    return conv


def _lookup(im: Importer, op, table: np.ndarray) -> None:
    im.expect_shape(op.outputs[0], im.t(op.inputs[0]).shape)
    x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
    im.node("QLookup", [x, im.add_const(f"{op.name.lower()}_table", table)], [y])


def unary(kind: str):
    def conv(im: Importer, op, opts) -> None:
        if not _int8(im, op):
            im.expect_shape(op.outputs[0], im.t(op.inputs[0]).shape)
            x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
            if kind in ("RELU6", "RELU_N1_TO_1"):
                lo, hi = (0.0, 6.0) if kind == "RELU6" else (-1.0, 1.0)
                im.node("Clip", [x, im.add_const("lo", np.array(lo, np.float32)),
                                 im.add_const("hi", np.array(hi, np.float32))], [y])
            elif kind == "LEAKY_RELU":
                im.node("LeakyRelu", [x], [y], alpha=float(opts["alpha"]))
            else:
                onnx_op = {"RELU": "Relu", "LOGISTIC": "Sigmoid", "TANH": "Tanh", "HARD_SWISH": "HardSwish"}[kind]
                im.node(onnx_op, [x], [y])
            return
        (si, zi), (so, zo) = _sz(im, op.inputs[0]), _sz(im, op.outputs[0])
        if kind == "RELU":
            table = relu_table(si, zi, so, zo, 0.0, None)
        elif kind == "RELU6":
            table = relu_table(si, zi, so, zo, 0.0, 6.0)
        elif kind == "RELU_N1_TO_1":
            table = relu_table(si, zi, so, zo, -1.0, 1.0)
        elif kind == "LEAKY_RELU":
            table = leaky_relu_table(si, zi, so, zo, float(opts["alpha"]))
        elif kind == "LOGISTIC":
            table = logistic_table(si, zi, so, zo)
        elif kind == "TANH":
            table = tanh_table(si, zi, so, zo)
        else:
            try:
                table = hard_swish_table(si, zi, so, zo)
            except ValueError as e:
                raise im.unsupported(str(e)) from None
        _lookup(im, op, table)
    return conv


def softmax(im: Importer, op, opts) -> None:
    im.expect_shape(op.outputs[0], im.t(op.inputs[0]).shape)
    if not im.t(op.inputs[0]).shape:
        raise im.unsupported("SOFTMAX of a scalar is not supported")
    x = im.nhwc(op.inputs[0])
    y = im.out_from_nhwc(op.outputs[0])
    if _int8(im, op):
        im.node("TflSoftmax", [x], [y], beta=float(opts["beta"]))
    else:
        if float(opts["beta"]) != 1.0:
            raise im.unsupported("float SOFTMAX with beta != 1 is not supported")
        im.node("Softmax", [x], [y], axis=-1)


def quantize(im: Importer, op, opts) -> None:
    im.expect_shape(op.outputs[0], im.t(op.inputs[0]).shape)
    src = im.t(op.inputs[0])
    if src.dtype == F32 and _int8(im, op):
        im.node("TflQuantize", [im.x(op.inputs[0])], [im.out(op.outputs[0])])
    elif src.dtype == INT8 and _int8(im, op):
        (si, zi), (so, zo) = _sz(im, op.inputs[0]), _sz(im, op.outputs[0])
        _lookup(im, op, requantize_table(si, zi, so, zo))
    else:
        raise im.unsupported(f"QUANTIZE from {src.type_name} to {im.t(op.outputs[0]).type_name} is not supported")


def dequantize(im: Importer, op, opts) -> None:
    im.expect_shape(op.outputs[0], im.t(op.inputs[0]).shape)
    src = im.t(op.inputs[0])
    if src.dtype != INT8 or im.t(op.outputs[0]).dtype != F32:
        raise im.unsupported(f"DEQUANTIZE from {src.type_name} is not supported (int8 is)")
    s, z = _sz(im, op.inputs[0])
    x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
    im.node("DequantizeLinear", [x, im.add_const("scale", np.array(s, np.float32)),
                                 im.add_const("zp", np.array(z, np.int8))], [y])


# ---- layout ----------------------------------------------------------------------------

def reshape(im: Importer, op, opts) -> None:
    if int(np.prod(im.t(op.inputs[0]).shape)) != int(np.prod(im.t(op.outputs[0]).shape)):
        raise im.malformed("input and output sizes differ")
    x = im.nhwc(op.inputs[0])
    y = im.out_from_nhwc(op.outputs[0])
    _same_quant(im, op)
    im.node("Reshape", [x, im.add_const("shape", np.array(im.tensors[y].shape, np.int64))], [y])


def _same_quant(im, op):
    if _int8(im, op) and _sz(im, op.inputs[0]) != _sz(im, op.outputs[0]):
        raise im.unsupported("int8 layout ops need the same scale and zero point in and out")


def concatenation(im: Importer, op, opts) -> None:
    rank = len(im.t(op.outputs[0]).shape)
    if rank == 0 or any(len(im.t(i).shape) != rank for i in op.inputs):
        raise im.malformed("inputs and output must have the same rank")
    axis = int(opts["axis"]) % rank
    first = list(im.t(op.inputs[0]).shape)
    first[axis] = sum(im.t(i).shape[axis] for i in op.inputs)
    if any(list(im.t(i).shape[:axis]) + list(im.t(i).shape[axis + 1:]) != first[:axis] + first[axis + 1:]
           for i in op.inputs):
        raise im.malformed("inputs differ outside the concatenation axis")
    im.expect_shape(op.outputs[0], first)
    ins = [im.x(i) for i in op.inputs]
    y = im.out(op.outputs[0])
    ir_axis = NHWC_AXIS_TO_NCHW[axis] if rank == 4 else axis
    if _int8(im, op):
        if opts["fused_activation_function"] != 0:
            raise im.unsupported("int8 CONCATENATION with a fused activation is not supported")
        out_sz = _sz(im, op.outputs[0])
        if any(_sz(im, i) != out_sz for i in op.inputs):
            raise im.unsupported("int8 CONCATENATION inputs must share the output's scale and zero point (as TFLite)")
        im.node("QConcat", ins, [y], axis=ir_axis)
    else:
        im.node("Concat", ins, [y], axis=ir_axis)
        _float_act(im, y, opts["fused_activation_function"])


def pad(im: Importer, op, opts) -> None:
    pads = im.const(op.inputs[1])
    rank = len(im.t(op.inputs[0]).shape)
    if pads is None or np.asarray(pads).shape != (rank, 2):
        raise im.unsupported("paddings must be a constant [rank, 2] tensor")
    pads = np.asarray(pads, np.int64)
    if np.any(pads < 0):
        raise im.unsupported("negative paddings are not supported")
    im.expect_shape(op.outputs[0], np.array(im.t(op.inputs[0]).shape) + pads.sum(axis=1))
    if rank == 4:
        pads = pads[TO_NCHW]
    x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
    if _int8(im, op):
        _same_quant(im, op)
        value = _sz(im, op.outputs[0])[1]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:  # PADV2: explicit constant
            v = im.const(op.inputs[2])
            if v is None:
                raise im.unsupported("the pad value must be constant")
            value = int(np.asarray(v).reshape(-1)[0])
        im.node("TflPad", [x], [y], begin=[int(v) for v in pads[:, 0]], value=value)
        return
    else:
        v = im.const(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else np.zeros((), np.float32)
        cval = im.add_const("pad_value", np.asarray(v, np.float32).reshape(()))
    im.node("Pad", [x, im.add_const("pads", np.concatenate([pads[:, 0], pads[:, 1]])), cval], [y], mode="constant")


def transpose(im: Importer, op, opts) -> None:
    perm = im.const(op.inputs[1])
    if perm is None:
        raise im.unsupported("perm must be constant")
    perm = [int(p) for p in np.asarray(perm).reshape(-1)]
    rank = len(perm)
    in_shape = im.t(op.inputs[0]).shape
    if sorted(perm) != list(range(len(in_shape))):
        raise im.malformed(f"perm {perm} is not a permutation of {len(in_shape)} axes")
    im.expect_shape(op.outputs[0], [in_shape[p] for p in perm])
    _same_quant(im, op)
    if rank == 4:
        x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
        t1 = [TO_NHWC[j] for j in perm]      # stored NCHW -> NHWC -> TFLite's perm
        composed = [t1[k] for k in TO_NCHW]  # -> stored NCHW of the result
        im.node("Transpose", [x], [y], perm=composed)
    else:
        x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
        im.node("Transpose", [x], [y], perm=perm)


def strided_slice_plan(shape, begin, end, strides, opts) -> tuple[list[int], list[int], list[int], list[int]]:
    """TFLite's StartForAxis / StopForAxis: per-axis (start, stop, step) and the axes kept."""
    starts, stops, steps, kept = [], [], [], []
    for a, dim in enumerate(shape):
        step = int(strides[a])
        if step == 0:
            raise ValueError("stride 0")
        shrink = bool(opts["shrink_axis_mask"] >> a & 1)
        if opts["begin_mask"] >> a & 1 and not shrink:
            start = 0 if step > 0 else dim - 1
        else:
            start = int(begin[a]) + (dim if int(begin[a]) < 0 else 0)
            start = max(0, min(dim, start)) if step > 0 else max(-1, min(dim - 1, start))
        if shrink:
            stop = start + 1
        elif opts["end_mask"] >> a & 1:
            stop = dim if step > 0 else -1
        else:
            e = int(end[a]) + (int(begin[a]) if opts["offset"] else 0)
            stop = e + (dim if e < 0 else 0)
            stop = max(0, min(dim, stop)) if step > 0 else max(-1, min(dim - 1, stop))
        starts.append(start), stops.append(stop), steps.append(step)
        if not shrink:
            kept.append(a)
    return starts, stops, steps, kept


def strided_slice(im: Importer, op, opts) -> None:
    shape = im.t(op.inputs[0]).shape
    vals = [im.const(i) for i in op.inputs[1:4]]
    if any(v is None for v in vals):
        raise im.unsupported("begin, end and strides must be constant")
    if opts["ellipsis_mask"] or opts["new_axis_mask"]:
        raise im.unsupported("ellipsis_mask and new_axis_mask are not supported")
    begin, end, strides = (np.asarray(v).reshape(-1) for v in vals)
    if not len(begin) == len(end) == len(strides) == len(shape):
        raise im.unsupported("begin/end/strides must give every axis")
    try:
        starts, stops, steps, kept = strided_slice_plan(shape, begin, end, strides, opts)
    except ValueError:
        raise im.unsupported("a stride of 0 is not valid") from None
    _same_quant(im, op)
    sliced_shape = [len(range(a, b, c)) for a, b, c in zip(starts, stops, steps)]
    im.expect_shape(op.outputs[0], [sliced_shape[a] for a in kept])
    keep_layout = len(shape) == 4 and len(kept) == 4
    x = im.x(op.inputs[0]) if keep_layout else im.nhwc(op.inputs[0])
    order = TO_NCHW if keep_layout else list(range(len(shape)))
    ends = [b if b >= 0 else -(shape[a] + 1) for a, b in enumerate(stops)]  # -1 "before 0" in ONNX terms
    y_final = im.out(op.outputs[0]) if keep_layout else im.out_from_nhwc(op.outputs[0])
    consts = [im.add_const(nm, np.array([v[a] for a in order], np.int64))
              for nm, v in (("starts", starts), ("ends", ends), ("steps", steps))]
    consts.insert(2, im.add_const("axes", np.arange(len(shape), dtype=np.int64)))
    if len(kept) == len(shape):
        im.node("Slice", [x] + consts, [y_final])
        return
    mid_shape = [sliced_shape[a] for a in order]
    mid = im.add_tensor(y_final + "~slice", mid_shape, im.tensors[y_final].dtype, None, im.tensors[y_final].quant)
    im.node("Slice", [x] + consts, [mid])
    im.node("Reshape", [mid, im.add_const("shape", np.array(im.tensors[y_final].shape, np.int64))], [y_final])


def resize_nearest(im: Importer, op, opts) -> None:
    size = im.const(op.inputs[1])
    shape = im.t(op.inputs[0]).shape
    if size is None or len(shape) != 4:
        raise im.unsupported("the output size must be constant and the input 4-D")
    _same_quant(im, op)
    if np.asarray(size).size != 2:
        raise im.malformed("the size input must hold 2 values")
    oh, ow = (int(v) for v in np.asarray(size).reshape(-1)[:2])
    im.expect_shape(op.outputs[0], (shape[0], oh, ow, shape[3]))
    align, half = bool(opts["align_corners"]), bool(opts["half_pixel_centers"])
    idx_h = nearest_indices(shape[1], oh, align, half)
    idx_w = nearest_indices(shape[2], ow, align, half)
    x, y = im.x(op.inputs[0]), im.out(op.outputs[0])
    n, c = shape[0], shape[3]
    mid = im.add_tensor(y + "~rows", (n, c, oh, shape[2]), im.tensors[y].dtype, None, im.tensors[y].quant)
    im.node("Gather", [x, im.add_const("rows", np.array(idx_h, np.int64))], [mid], axis=2)
    im.node("Gather", [mid, im.add_const("cols", np.array(idx_w, np.int64))], [y], axis=3)


def nearest_indices(n_in: int, n_out: int, align_corners: bool, half_pixel: bool) -> list[int]:
    """reference_ops::ResizeNearestNeighbor's source index per output index (float32 arithmetic)."""
    f = np.float32
    scale = f(n_in - 1) / f(n_out - 1) if (align_corners and n_out > 1) else f(n_in) / f(n_out)
    offset = f(0.5) if half_pixel else f(0.0)
    out = []
    for i in range(n_out):
        v = (f(i) + offset) * scale
        j = int(np.floor(abs(v) + f(0.5)) * np.sign(v)) if align_corners else int(np.floor(v))
        j = min(j, n_in - 1)
        out.append(max(0, j) if half_pixel else j)
    return out


# ---- shape arithmetic folded at import ---------------------------------------------------

def fold(im: Importer, op: TflOperator) -> bool:
    """Evaluate SHAPE / PACK / STRIDED_SLICE / RESHAPE of constants (Keras's Flatten computes its
    target shape at run time); True if `op` was folded."""
    if op.name == "SHAPE":
        if not op.inputs or op.inputs[0] < 0:
            raise ValueError("SHAPE without an input")
        im.folded[op.outputs[0]] = np.array(im.t(op.inputs[0]).shape, np.int32)
        return True
    ins = [im.const(i) if i >= 0 else None for i in op.inputs]
    if any(v is None for v, i in zip(ins, op.inputs) if i >= 0) or not op.inputs:
        return False
    if im.t(op.outputs[0]).dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        return False
    opts = opts_of(op)
    if op.name == "PACK":
        val = np.stack([np.asarray(v) for v in ins], axis=int(opts["axis"]))
    elif op.name == "STRIDED_SLICE":
        x = np.asarray(ins[0])
        starts, stops, steps, kept = strided_slice_plan(x.shape, ins[1], ins[2], ins[3], opts)
        idx = tuple(slice(a, (b if b >= 0 else None), c) for a, b, c in zip(starts, stops, steps))
        val = x[idx].reshape([len(range(a, b, c)) for a, b, c, k in zip(starts, stops, steps, range(x.ndim))
                              if k in kept])
    elif op.name in ("RESHAPE", "SQUEEZE"):
        val = np.asarray(ins[0]).reshape(im.t(op.outputs[0]).shape)
    elif op.name == "CONCATENATION":
        val = np.concatenate([np.asarray(v) for v in ins], axis=int(opts["axis"]))
    else:
        return False
    im.expect_shape(op.outputs[0], val.shape)
    im.folded[op.outputs[0]] = val.astype(im.t(op.outputs[0]).dtype)
    return True


CONVERTERS = {
    "CONV_2D": conv2d,
    "DEPTHWISE_CONV_2D": lambda im, op, o: conv2d(im, op, o, depthwise=True),
    "FULLY_CONNECTED": fully_connected,
    "AVERAGE_POOL_2D": average_pool,
    "MAX_POOL_2D": max_pool,
    "MEAN": mean,
    "ADD": binary("Add"),
    "SUB": binary("Sub"),
    "MUL": binary("Mul"),
    "RESHAPE": reshape,
    "SQUEEZE": reshape,
    "SOFTMAX": softmax,
    "LOGISTIC": unary("LOGISTIC"),
    "TANH": unary("TANH"),
    "RELU": unary("RELU"),
    "RELU6": unary("RELU6"),
    "RELU_N1_TO_1": unary("RELU_N1_TO_1"),
    "LEAKY_RELU": unary("LEAKY_RELU"),
    "HARD_SWISH": unary("HARD_SWISH"),
    "PAD": pad,
    "PADV2": pad,
    "CONCATENATION": concatenation,
    "QUANTIZE": quantize,
    "DEQUANTIZE": dequantize,
    "STRIDED_SLICE": strided_slice,
    "TRANSPOSE": transpose,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest,
}
