"""Reduce* ops over constant axes (attribute or input).  Kernel: reduce.h.

Each op is (initial value, step, finish) as C++ expressions: `acc` the running
value of type A, `v` an element of type T, `count` the number of elements reduced.
"""
from __future__ import annotations

import numpy as np

from .binary import INTS
from .broadcast import MAX_RANK
from .registry import OpDef, register, unsupported

FLOAT = (np.float32, np.float64)
NUMERIC = FLOAT + INTS

# op -> (init, step, finish, dtypes, accumulator: "T" or a C++ type)
REDUCE = {
    "ReduceSum": ("A(0)", "A(acc + v)", "acc", NUMERIC, "T"),
    "ReduceMean": ("A(0)", "A(acc + v)", "T(acc / A(count))", NUMERIC, "T"),
    "ReduceProd": ("A(1)", "A(acc * v)", "acc", NUMERIC, "T"),
    "ReduceMax": ("edge_sdk::lowest_value<T>()", "(v > acc{nan}) ? v : acc", "acc", NUMERIC + (np.bool_,), "T"),
    "ReduceMin": ("edge_sdk::highest_value<T>()", "(v < acc{nan}) ? v : acc", "acc", NUMERIC + (np.bool_,), "T"),
    "ReduceL1": ("A(0)", "A(acc + (v < T(0) ? T(-v) : v))", "acc", NUMERIC, "T"),
    "ReduceL2": ("A(0)", "A(acc + A(v) * A(v))", "T(std::sqrt(acc))", FLOAT, "double"),
    "ReduceSumSquare": ("A(0)", "A(acc + v * v)", "acc", NUMERIC, "T"),
    "ReduceLogSum": ("A(0)", "A(acc + v)", "T(std::log(acc))", FLOAT, "double"),
    "ReduceLogSumExp": ("A(0)", "A(acc + std::exp(A(v)))", "T(std::log(acc))", FLOAT, "double"),
}
# Opset from which `axes` is an input instead of an attribute.
AXES_INPUT_SINCE = {"ReduceSum": 13}


def _split_axes(shape, axes):
    """Kept and reduced (dims, strides) lists, size-1 dims dropped and contiguous runs merged."""
    strides = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
    groups = {True: ([], []), False: ([], [])}
    last = None
    for i, d in enumerate(shape):
        if d == 1:
            continue
        dims, sts = groups[i in axes]
        if last is not None and last[0] == (i in axes) and last[1] == i - 1 and sts[-1] == strides[i] * d:
            dims[-1] *= d
            sts[-1] = strides[i]
        else:
            dims.append(d)
            sts.append(strides[i])
        last = (i in axes, i)
    (rd, rs), (kd, ks) = groups[True], groups[False]
    return (kd, ks), (rd or [1], rs or [1])


def reduce_axes(op: OpDef, node, g) -> list[int] | None:
    """The reduced axes (sorted, non-negative), [] for a no-op; None if they are not constants."""
    rank = len(g.tensor(node.inputs[0]).shape)
    at = op.attributes(node)
    if node.input(1):
        axes = g.const(node.input(1))
        if axes is None:
            return None
        axes = [int(a) for a in np.asarray(axes).reshape(-1)]
    else:
        axes = at.get("axes")
    if not axes:
        return [] if at.get("noop_with_empty_axes", 0) else list(range(rank))
    return sorted({int(a) % rank for a in axes})


class Reduce(OpDef):
    header = "edge_sdk/kernels/reduce.h"
    attrs = {"keepdims": 1, "noop_with_empty_axes": 0}

    def __init__(self, op_type, init, step, finish, dtypes, acc):
        self.op_type, self.init, self.step, self.finish, self.dtypes, self.acc = op_type, init, step, finish, dtypes, acc

    def check(self, node, g):
        super().check(node, g)
        if reduce_axes(self, node, g) is None:
            raise unsupported(node, g, "axes computed at run time are not supported", "make axes a constant")
        if len(g.tensor(node.inputs[0]).shape) > MAX_RANK:
            raise unsupported(node, g, f"inputs of rank above {MAX_RANK} are not supported")

    def emit(self, node, g, e):
        x, y = node.inputs[0], node.outputs[0]
        if g.tensor(y).size == 0:
            return "// empty output"
        axes = reduce_axes(self, node, g)
        (kd, ks), (rd, rs) = _split_axes(g.tensor(x).shape, axes)
        pad = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
        p = e.params("edge_sdk::ReduceParams", [("keep_rank", len(kd)), ("keep_dims", pad(kd)),
                                                ("keep_strides", pad(ks)), ("red_rank", len(rd)),
                                                ("red_dims", pad(rd)), ("red_strides", pad(rs))])
        ct = e.ctype(x)
        acc = ct if self.acc == "T" or ct == "double" else self.acc
        step = self.step.replace("{nan}", " || std::isnan(v)" if ct in ("float", "double") else "")
        return (f"{{ using T = {ct}; using A = {acc}; edge_sdk::reduce<{p}, A>({e.ref(x)}, {e.ref(y)}, {self.init}, "
                f"[](A acc, T v) -> A {{ return {step}; }}, "
                f"[](A acc, int64_t count) -> T {{ (void)count; return {self.finish}; }}); }}")


for _n, _spec in REDUCE.items():
    register(Reduce(_n, *_spec))


class ArgExtreme(OpDef):
    """ArgMax / ArgMin along one axis; int64 output."""
    header = "edge_sdk/kernels/reduce.h"
    attrs = {"axis": 0, "keepdims": 1, "select_last_index": 0}
    dtypes = NUMERIC

    def emit(self, node, g, e):
        x = g.tensor(node.inputs[0]).shape
        if g.tensor(node.outputs[0]).size == 0:
            return "// empty output"
        at = self.attributes(node)
        axis = int(at["axis"]) % len(x)
        outer = int(np.prod(x[:axis], dtype=np.int64))
        inner = int(np.prod(x[axis + 1:], dtype=np.int64))
        flags = f"{'true' if self.op_type == 'ArgMax' else 'false'}, {'true' if at['select_last_index'] else 'false'}"
        return (f"edge_sdk::arg_extreme<{flags}>({e.ref(node.inputs[0])}, {e.ref(node.outputs[0])}, "
                f"{outer}, {x[axis]}, {inner});")


register(type("ArgMax", (ArgExtreme,), {"op_type": "ArgMax"}))
register(type("ArgMin", (ArgExtreme,), {"op_type": "ArgMin"}))
