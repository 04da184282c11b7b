"""Elementwise unary ops as C++ expressions of `v`.  Kernel: elementwise.h (map_unary).

Each entry: op_type -> (expression, attribute defaults, allowed dtypes).  The
expression is a C++ expression of `v` (type T); attributes appear as their names.
"""
from __future__ import annotations

import numpy as np

from .registry import OpDef, register

F32 = (np.float32,)
SIGNED = (np.float32, np.float64, np.int8, np.int16, np.int32, np.int64)
NUMERIC = SIGNED + (np.uint8, np.uint16, np.uint32, np.uint64)
INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)

UNARY: dict[str, tuple[str, dict, tuple]] = {
    "Relu": ("v > T(0) ? v : T(0)", {}, SIGNED),
    "Neg": ("T(-v)", {}, SIGNED),
    "Abs": ("v < T(0) ? T(-v) : v", {}, SIGNED),
    "Sign": ("T((v > T(0)) - (v < T(0)))", {}, SIGNED),
    "Sqrt": ("std::sqrt(v)", {}, F32),
    "Exp": ("std::exp(v)", {}, F32),
    "Log": ("std::log(v)", {}, F32),
    "Reciprocal": ("1.0f / v", {}, F32),
    "Floor": ("std::floor(v)", {}, F32),
    "Ceil": ("std::ceil(v)", {}, F32),
    "Round": ("std::nearbyint(v)", {}, F32),
    "Sigmoid": ("edge_sdk::sigmoid_fast(v)", {}, F32),
    "Tanh": ("std::tanh(v)", {}, F32),
    "Erf": ("std::erf(v)", {}, F32),
    "Sin": ("std::sin(v)", {}, F32),
    "Cos": ("std::cos(v)", {}, F32),
    "Tan": ("std::tan(v)", {}, F32),
    "Asin": ("std::asin(v)", {}, F32),
    "Acos": ("std::acos(v)", {}, F32),
    "Atan": ("std::atan(v)", {}, F32),
    "Sinh": ("std::sinh(v)", {}, F32),
    "Cosh": ("std::cosh(v)", {}, F32),
    "Asinh": ("std::asinh(v)", {}, F32),
    "Acosh": ("std::acosh(v)", {}, F32),
    "Atanh": ("std::atanh(v)", {}, F32),
    "Softplus": ("(v > 0.0f ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)))", {}, F32),
    "Softsign": ("v / (1.0f + std::fabs(v))", {}, F32),
    "LeakyRelu": ("v >= 0.0f ? v : v * alpha", {"alpha": 0.01}, F32),
    "Elu": ("v >= 0.0f ? v : alpha * std::expm1(v)", {"alpha": 1.0}, F32),
    "Celu": ("v >= 0.0f ? v : alpha * std::expm1(v / alpha)", {"alpha": 1.0}, F32),
    "Selu": ("v > 0.0f ? gamma * v : gamma * (alpha * std::exp(v) - alpha)",
             {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875}, F32),
    "ThresholdedRelu": ("v > alpha ? v : 0.0f", {"alpha": 1.0}, F32),
    "HardSigmoid": ("std::fmax(0.0f, std::fmin(1.0f, alpha * v + beta))", {"alpha": 0.2, "beta": 0.5}, F32),
    "HardSwish": ("v * std::fmax(0.0f, std::fmin(1.0f, v * (1.0f / 6.0f) + 0.5f))", {}, F32),
    "Mish": ("v * std::tanh(v > 20.0f ? v : std::log1p(std::exp(v)))", {}, F32),
    "Shrink": ("v < -lambd ? T(v + bias) : (v > lambd ? T(v - bias) : T(0))", {"bias": 0.0, "lambd": 0.5}, SIGNED),
    "Not": ("!v", {}, (np.bool_,)),
    "IsNaN": ("std::isnan(v)", {}, F32),
    "IsInf": ("std::isinf(v) && (v > 0.0f ? detect_positive != T(0) : detect_negative != T(0))",
              {"detect_negative": 1, "detect_positive": 1}, F32),
    "BitwiseNot": ("T(~v)", {}, INTS),
    "Gelu": ("0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f))", {"approximate": "none"}, F32),
}

GELU_TANH = "0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)))"


class Unary(OpDef):
    header = "edge_sdk/kernels/elementwise.h"
    inplace = True

    def __init__(self, op_type: str, expr: str, attrs: dict, dtypes: tuple):
        self.op_type, self.expr, self.attrs, self.dtypes = op_type, expr, attrs, dtypes
        self.since = {"Gelu": 20, "IsInf": 10, "BitwiseNot": 18}.get(op_type, 1)

    def expression(self, node, ctype: str) -> str:
        a = self.attributes(node)
        expr = GELU_TANH if self.op_type == "Gelu" and a.get("approximate") == "tanh" else self.expr
        lets = "".join(f"const T {k} = static_cast<T>({float(v)!r}); "
                       for k, v in a.items() if k in expr and not isinstance(v, str))
        return f"[](T v) -> {'bool' if self.op_type in ('Not', 'IsNaN', 'IsInf') else 'T'} {{ {lets}return {expr}; }}"

    def emit(self, node, g, e):
        x, y = node.inputs[0], node.outputs[0]
        ct = e.ctype(x)
        n = g.tensor(y).size
        return (f"{{ using T = {ct}; edge_sdk::map_unary({e.ref(x)}, {e.ref(y)}, {n}, "
                f"{self.expression(node, ct)}); }}")


for _name, (_expr, _attrs, _dtypes) in UNARY.items():
    register(Unary(_name, _expr, _attrs, _dtypes))
