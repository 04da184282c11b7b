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
    "Pow": ("T(std::pow(a, b))", NUMERIC, False),  # mixed base/exponent types: see Binary.emit
    "Equal": ("a == b", NUMERIC + (np.bool_,), True),
    "Less": ("a < b", NUMERIC, True),
    "LessOrEqual": ("a <= b", NUMERIC, True),
    "Greater": ("a > b", NUMERIC, True),
    "GreaterOrEqual": ("a >= b", NUMERIC, True),
    "And": ("a && b", (np.bool_,), True),
    "Or": ("a || b", (np.bool_,), True),
    "Xor": ("a != b", (np.bool_,), True),
    "PRelu": ("a < T(0) ? T(a * b) : a", FLOAT + (np.int32, np.int64), False),
    "Mod": ("", NUMERIC, False),  # see _mod_expr
    "BitwiseAnd": ("T(a & b)", INTS, False),
    "BitwiseOr": ("T(a | b)", INTS, False),
    "BitwiseXor": ("T(a ^ b)", INTS, False),
    # Shifting by the type's width or more is undefined in C++; ONNX gives 0.
    "BitShift": ("b >= T(8 * sizeof(T)) ? T(0) : T(a {shift} b)", (np.uint8, np.uint16, np.uint32, np.uint64), False),
}
# Variadic ops fold pairwise left to right.
VARIADIC = {"Sum": "T(a + b)", "Max": "(a > b{nan}) ? a : b", "Min": "(a < b{nan}) ? a : b",
            "Mean": "T(a + b)"}


def _emit_pair(e, expr: str, a: str, b: str, y: str, ct_out: str, ct_in: str) -> str:
    p = bcast_params(e, e.shape(y), e.shape(a), e.shape(b))
    return (f"{{ using T = {ct_in}; edge_sdk::map_binary<{p}>({e.ref(a)}, {e.ref(b)}, {e.ref(y)}, "
            f"[](T a, T b) -> {ct_out} {{ return {expr}; }}); }}")


def _mod_expr(ct: str, fmod: bool) -> str:
    """fmod=1: C's truncated remainder; fmod=0: the result takes the divisor's sign (Python's %)."""
    if ct in ("float", "double"):
        rem = "std::fmod(a, b)"
    elif ct.startswith("uint"):  # x % 0 is undefined in C++: give 0
        rem = "(b == T(0) ? T(0) : T(a % b))"
    else:  # ... and INT_MIN % -1 overflows, while any x % -1 is 0
        rem = "(b == T(0) || b == T(-1) ? T(0) : T(a % b))"
    if fmod or ct.startswith("uint"):
        return rem
    return f"[&] {{ const T r = {rem}; return (r != T(0) && ((r < T(0)) != (b < T(0)))) ? T(r + b) : r; }}()"


def _emit_pow(e, a: str, b: str, y: str) -> str:
    """Pow keeps the base's type; the exponent may be any numeric type (integers raise in double,
    and the result saturates into the base's type: an out-of-range float-to-int conversion is undefined)."""
    ta, tb = e.ctype(a), e.ctype(b)
    calc = "float" if ta == "float" else "double"
    p = bcast_params(e, e.shape(y), e.shape(a), e.shape(b))
    return (f"edge_sdk::map_binary<{p}>({e.ref(a)}, {e.ref(b)}, {e.ref(y)}, "
            f"[]({ta} a, {tb} b) -> {ta} {{ return edge_sdk::cast_value<{ta}>(std::pow(static_cast<{calc}>(a), "
            f"static_cast<{calc}>(b))); }});")


class Binary(OpDef):
    header = "edge_sdk/kernels/elementwise.h"
    inplace = True

    def __init__(self, op_type, expr, dtypes, to_bool):
        self.op_type, self.expr, self.dtypes, self.to_bool = op_type, expr, dtypes, to_bool
        self.since = {"BitShift": 11, "BitwiseAnd": 18, "BitwiseOr": 18, "BitwiseXor": 18, "Mod": 10}.get(op_type, 1)

    def check(self, node, g):
        super().check(node, g)
        exp_type = np.dtype(g.tensor(node.inputs[1]).dtype)
        if self.op_type == "Pow" and exp_type not in [np.dtype(d) for d in NUMERIC]:
            raise unsupported(node, g, f"Pow exponent type {exp_type.name} is not supported")

    def emit(self, node, g, e):
        a, b = node.inputs[:2]
        y = node.outputs[0]
        ct = e.ctype(a)
        expr = self.expr
        if self.op_type == "Pow":
            return _emit_pow(e, a, b, y)
        if self.op_type == "Mod":
            expr = _mod_expr(ct, bool(node.attrs.get("fmod", 0)))
        if self.op_type == "BitShift":
            expr = expr.replace("{shift}", "<<" if node.attrs["direction"] == "LEFT" else ">>")
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
