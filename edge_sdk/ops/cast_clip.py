"""Cast and CastLike (numeric types, bool) and Clip (bounds as attributes or inputs).  Kernel: elementwise.h."""
from __future__ import annotations

import numpy as np

from ..codegen.context import CTYPES, cxx_literal
from .binary import NUMERIC
from .registry import OpDef, register, unsupported


@register
class Cast(OpDef):
    op_type = "Cast"
    header = "edge_sdk/kernels/elementwise.h"
    dtypes = tuple(CTYPES)

    def check(self, node, g):
        super().check(node, g)
        out = np.dtype(g.tensor(node.outputs[0]).dtype)
        if out not in CTYPES:
            raise unsupported(node, g, f"casting to {out.name} is not supported (numeric types and bool are)")

    def emit(self, node, g, e):
        x, y = node.inputs[0], node.outputs[0]
        ti, to = e.ctype(x), e.ctype(y)
        return (f"edge_sdk::map_unary({e.ref(x)}, {e.ref(y)}, {g.tensor(y).size}, "
                f"[]({ti} v) {{ return edge_sdk::cast_value<{to}>(v); }});")


@register
class CastLike(Cast):
    """Cast to the element type of the second input (only its type is read)."""
    op_type = "CastLike"
    since = 15


@register
class Clip(OpDef):
    """y = min(max(x, lo), hi); lo > hi gives hi, as in the ONNX reference."""
    op_type = "Clip"
    header = "edge_sdk/kernels/elementwise.h"
    inplace = True
    dtypes = NUMERIC

    def check(self, node, g):
        super().check(node, g)
        for index in (1, 2):  # the emitter reads element [0] of a bound: it must have exactly one
            name = node.input(index) if g.opset >= 11 else ""
            if name and g.tensor(name).size != 1:
                raise unsupported(node, g, f"bound '{name}' has shape {list(g.tensor(name).shape)}; "
                                  "Clip's min and max are scalars", "re-export the model")

    def emit(self, node, g, e):
        x, y = node.inputs[0], node.outputs[0]
        ct = e.ctype(x)

        def bound(attr: str, index: int) -> str | None:
            """C++ expression of a bound, or None when absent (no comparison: g++ warns on always-false ones)."""
            if g.opset < 11:
                v = node.attr(attr)
                return None if v is None else cxx_literal(v, ct)
            name = node.input(index)
            if not name:
                return None
            c = g.const(name)
            return cxx_literal(np.asarray(c).reshape(-1)[0], ct) if c is not None else f"{e.ref(name)}[0]"

        lo, hi = bound("min", 1), bound("max", 2)
        decl = "".join(f"const T {k} = {v}; " for k, v in (("lo", lo), ("hi", hi)) if v is not None)
        body = "T r = v; " + ("r = r < lo ? lo : r; " if lo else "") + ("r = r > hi ? hi : r; " if hi else "")
        return (f"{{ using T = {ct}; {decl}"
                f"edge_sdk::map_unary({e.ref(x)}, {e.ref(y)}, {g.tensor(y).size}, "
                f"[=](T v) -> T {{ {body}return r; }}); }}")
