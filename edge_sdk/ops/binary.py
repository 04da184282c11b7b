"""Elementwise binary, variadic and ternary ops with NumPy broadcasting.
Kernel: elementwise.h (map_binary / map_ternary)."""
from __future__ import annotations

import numpy as np

from .broadcast import bcast_params
from .registry import OpDef, register, unsupported

FLOAT = (np.float32, np.float64)
INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
NUMERIC = FLOAT + INTS

# op -> (expression of a and b, allowed input dtypes, output is bool)
BINARY = {
    "Add": ("T(a + b)", NUMERIC, False),
    "Sub": ("T(a - b)", NUMERIC, False),
    "Mul": ("T(a * b)", NUMERIC, False),
    "Div": ("T(a / b)", NUMERIC, False),
    "Pow": ("T(std::pow(a, b))", FLOAT, False),
    "Equal": ("a == b", NUMERIC + (np.bool_,), True),
    "Less": ("a < b", NUMERIC, True),
    "LessOrEqual": ("a <= b", NUMERIC, True),
    "Greater": ("a > b", NUMERIC, True),
    "GreaterOrEqual": ("a >= b", NUMERIC, True),
    "And": ("a && b", (np.bool_,), True),
    "Or": ("a || b", (np.bool_,), True),
    "Xor": ("a != b", (np.bool_,), True),
    "PRelu": ("a < T(0) ? T(a * b) : a", FLOAT + (np.int32, np.int64), False),
}
# Variadic ops fold pairwise left to right.
VARIADIC = {"Sum": "T(a + b)", "Max": "(a > b{nan}) ? a : b", "Min": "(a < b{nan}) ? a : b",
            "Mean": "T(a + b)"}


def _emit_pair(e, expr: str, a: str, b: str, y: str, ct_out: str, ct_in: str) -> str:
    p = bcast_params(e, e.shape(y), e.shape(a), e.shape(b))
    return (f"{{ using T = {ct_in}; edge_sdk::map_binary<{p}>({e.ref(a)}, {e.ref(b)}, {e.ref(y)}, "
            f"[](T a, T b) -> {ct_out} {{ return {expr}; }}); }}")


class Binary(OpDef):
    header = "edge_sdk/kernels/elementwise.h"
    inplace = True

    def __init__(self, op_type, expr, dtypes, to_bool):
        self.op_type, self.expr, self.dtypes, self.to_bool = op_type, expr, dtypes, to_bool

    def check(self, node, g):
        super().check(node, g)
        if self.op_type == "Pow" and g.tensor(node.inputs[1]).dtype != g.tensor(node.inputs[0]).dtype:
            raise unsupported(node, g, "Pow with different base and exponent types is not supported")

    def emit(self, node, g, e):
        a, b = node.inputs[:2]
        y = node.outputs[0]
        ct = e.ctype(a)
        expr = self.expr
        if self.op_type == "Div" and ct not in ("float", "double"):
            expr = "T(b == 0 ? 0 : a / b)"  # integer division by zero is UB in C++
        return _emit_pair(e, expr, a, b, y, "bool" if self.to_bool else "T", ct)

    def _inplace_ok(self):
        return not self.to_bool


class Variadic(OpDef):
    header = "edge_sdk/kernels/elementwise.h"
    dtypes = FLOAT + INTS

    def __init__(self, op_type, expr):
        self.op_type, self.expr = op_type, expr

    def emit(self, node, g, e):
        y = node.outputs[0]
        ct = e.ctype(y)
        ins = [i for i in node.inputs if i]
        lines = []
        if len(ins) == 1:
            p = bcast_params(e, e.shape(y), e.shape(ins[0]))
            lines.append(f"edge_sdk::map_binary<{p}>({e.ref(ins[0])}, {e.ref(ins[0])}, {e.ref(y)}, "
                         f"[]({ct} a, {ct}) {{ return a; }});")
        acc = ins[0]
        expr = self.expr.replace("{nan}", " || std::isnan(a)" if ct in ("float", "double") else "")
        for b in ins[1:]:
            lines.append(_emit_pair(e, expr, acc, b, y, "T", ct))
            acc = y
        if self.op_type == "Mean":
            n = g.tensor(y).size
            lines.append(f"edge_sdk::map_unary({e.ref(y)}, {e.ref(y)}, {n}, "
                         f"[]({ct} v) {{ return {ct}(v / {ct}({len(ins)})); }});")
        return "\n".join(lines)


@register
class Where(OpDef):
    op_type = "Where"
    header = "edge_sdk/kernels/elementwise.h"
    dtypes = (np.bool_,)

    def emit(self, node, g, e):
        c, a, b = node.inputs
        y = node.outputs[0]
        p = bcast_params(e, e.shape(y), e.shape(c), e.shape(a), e.shape(b))
        ct = e.ctype(y)
        return (f"edge_sdk::map_ternary<{p}>({e.ref(c)}, {e.ref(a)}, {e.ref(b)}, {e.ref(y)}, "
                f"[](bool c, {ct} a, {ct} b) {{ return c ? a : b; }});")


for _n, (_x, _d, _b) in BINARY.items():
    register(Binary(_n, _x, _d, _b))
for _n, _x in VARIADIC.items():
    register(Variadic(_n, _x))
