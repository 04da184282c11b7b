"""What an op's emit() sees: C++ names for tensors, and a place to declare
compile-time parameter blocks.  Keeps ops free of storage details."""
from __future__ import annotations

import contextlib

import numpy as np

from .. import ir
from ..errors import UnsupportedOpError
from ..plan import ArenaPlan

CTYPES = {
    np.dtype(np.float32): "float", np.dtype(np.float64): "double",
    np.dtype(np.int8): "int8_t", np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t", np.dtype(np.uint16): "uint16_t",
    np.dtype(np.int32): "int32_t", np.dtype(np.uint32): "uint32_t",
    np.dtype(np.int64): "int64_t", np.dtype(np.uint64): "uint64_t",
    np.dtype(np.bool_): "bool",
}


def ctype_of(dtype) -> str:
    try:
        return CTYPES[np.dtype(dtype)]
    except KeyError:
        raise UnsupportedOpError(f"data type {np.dtype(dtype).name} is not supported",
                                 hint="convert the model to float32") from None


def cxx_literal(v, ctype: str) -> str:
    """A C++ literal of exactly the value `v` for `ctype`."""
    if ctype in ("float", "double"):
        f = float(v)
        suffix = "f" if ctype == "float" else ""
        if np.isnan(f):
            return f"__builtin_nan{suffix}(\"\")"
        if np.isinf(f):
            return ("-" if f < 0 else "") + f"__builtin_inf{suffix}()"
        s = repr(float(np.float32(f))) if ctype == "float" else repr(f)
        if "e" not in s and "." not in s:
            s += ".0"
        return s + suffix
    if ctype == "bool":
        return "true" if v else "false"
    i = int(v)
    if ctype == "int64_t":
        return "INT64_MIN" if i == -(1 << 63) else f"INT64_C({i})"
    if ctype == "uint64_t":
        return f"UINT64_C({i})"
    if ctype == "int32_t" and i == -(1 << 31):
        return "INT32_MIN"
    return str(i) + ("u" if ctype.startswith("uint") else "")


class EmitContext:
    def __init__(self, g: ir.Graph, plan: ArenaPlan, names: dict[str, str], namespace: str):
        self.g = g
        self.plan = plan
        self.names = names          # tensor name -> C++ variable
        self.namespace = namespace  # where decl() puts things
        self.decls: list[str] = []
        self.headers: set[str] = set()
        self.node_index = -1
        self.scratch_shift = 0      # bytes into the node's scratch: where the current thread part's begins
        self.uses_pool = False      # some node runs on the thread pool (--threads)
        self._counter = 0

    # --- tensors --------------------------------------------------------
    def ref(self, tensor: str) -> str:
        """C++ variable (a typed pointer) for `tensor`, or nullptr if the input is omitted."""
        return self.names[tensor] if tensor else "nullptr"

    def tensor(self, name: str) -> ir.Tensor:
        return self.g.tensor(name)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.g.tensor(name).shape

    def ctype(self, name: str) -> str:
        return ctype_of(self.g.tensor(name).dtype)

    def scratch(self, ctype: str = "float") -> str:
        """Pointer expression for the current node's planned scratch buffer."""
        key = self.plan.scratch[self.node_index]
        return f"reinterpret_cast<{ctype}*>(arena_base + {self.plan.offsets[key] + self.scratch_shift})"

    @contextlib.contextmanager
    def part(self, g: ir.Graph, views: dict[str, str], scratch_shift: int):
        """Emit one thread part of the current node (ops/partition.py): its graph, the C++
        pointer expressions of its part tensors, and where its scratch begins."""
        saved = self.g, self.names, self.scratch_shift
        self.g, self.names, self.scratch_shift = g, {**self.names, **views}, scratch_shift
        try:
            yield self
        finally:
            self.g, self.names, self.scratch_shift = saved

    def parallel(self, parts: int, body: list[str]) -> list[str]:
        """Code that runs `body` (C++ statements using `int part`) for part = 0 .. parts-1 on the
        model's thread pool: the calling thread and the workers claim parts until none is left."""
        self.uses_pool = True
        fn = self.unique("part_fn")
        return [f"auto {fn} = [&](int part) {{", *("  " + line if line else "" for line in body), "};",
                f"thread_pool().run({parts}, {fn});"]

    # --- declarations ---------------------------------------------------
    def unique(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}{self._counter}"

    def decl(self, code: str) -> None:
        """Add a namespace-scope declaration (parameter blocks, lookup tables)."""
        self.decls.append(code)

    def params(self, struct: str, fields: list[tuple[str, object]]) -> str:
        """Declare `constexpr struct name = {...}` with fields in declaration order; return name."""
        name = self.unique("p")
        body = ", ".join(f"/*{k}*/ {_field(v)}" for k, v in fields)
        self.decl(f"constexpr {struct} {name} = {{{body}}};")
        return name

    def array(self, ctype: str, values) -> str:
        """Declare a constexpr array; return its name."""
        name = self.unique("a")
        vals = list(np.asarray(values).reshape(-1)) or [0]
        self.decl(f"constexpr {ctype} {name}[] = {{{', '.join(cxx_literal(v, ctype) for v in vals)}}};")
        return name


def _field(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "{" + ", ".join(_field(x) for x in v) + "}"
    if isinstance(v, (float, np.floating)):
        return cxx_literal(v, "float")
    if isinstance(v, str):
        return v  # already a C++ expression (enum value)
    return str(int(v))
