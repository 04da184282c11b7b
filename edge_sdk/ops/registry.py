"""The op registry: one :class:`OpDef` per ONNX op type, found by type and opset.

Adding an op means one module in ``edge_sdk/ops/`` (registered with
:func:`register`) plus its kernel header in ``cpp/include/edge_sdk/kernels/``.
Modules in this package are imported automatically.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import UnsupportedOpError

if TYPE_CHECKING:
    from .. import ir
    from ..codegen.context import EmitContext


@dataclass(frozen=True)
class ChannelSplit:
    """How a node's output channels divide into independent parts (--threads; ops/partition.py).

    Each part is the same op on a contiguous range of output channels.  `inputs` maps an input
    index to (axis, channels per index) for the inputs that are cut along with the channels;
    every dimension before `axis` must be 1, so a part is one contiguous run of the tensor.
    `attrs(attrs, c0, c1)` returns the part's attributes (group counts, recorded shapes)."""

    channels: int
    align: int                                  # part boundaries are multiples of this
    inputs: dict[int, tuple[int, int]]          # input index -> (axis, channels per index)
    output_axis: int = 1
    attrs: Callable[[dict, int, int], dict] = field(default=lambda a, c0, c1: dict(a))


class OpDef:
    """How one ONNX op type compiles.  Subclasses override what they need.

    Class attributes:
      op_type  ONNX op type.
      since    oldest opset whose semantics this definition implements.
      header   kernel header (relative to cpp/include) that the emitted code needs.
      attrs    attribute defaults from the ONNX spec.
      inplace  the kernel may write output 0 over input 0 (same size, elementwise).
      alias    output 0 is input 0's bytes reinterpreted (Reshape): no code runs.
      dtypes   element types the kernel accepts for input 0 (None: any numeric).
    """

    op_type: str = ""
    since: int = 1
    header: str = ""
    attrs: dict[str, Any] = {}
    inplace: bool = False
    alias: bool = False
    dtypes: tuple[type, ...] | None = (np.float32,)

    def attributes(self, node: "ir.Node") -> dict[str, Any]:
        """The node's attributes with spec defaults filled in."""
        out = dict(self.attrs)
        out.update({k: v for k, v in node.attrs.items() if v is not None})
        return out

    def placed_inputs(self, node: "ir.Node", g: "ir.Graph") -> list[int | None] | None:
        """For an op that only copies inputs into contiguous slices of output 0: the byte
        offset of each input's slice (None where it is transformed).  The planner then has
        the input produced in place there, and emit() skips it (plan.placed_at)."""
        return None

    def check(self, node: "ir.Node", g: "ir.Graph") -> None:
        """Raise UnsupportedOpError for a form of the op the kernel cannot run."""
        if self.dtypes is not None and node.inputs and node.inputs[0]:
            dt = g.tensor(node.inputs[0]).dtype
            if np.dtype(dt) not in [np.dtype(d) for d in self.dtypes]:
                raise unsupported(node, g, f"input type {np.dtype(dt).name} is not supported "
                                  f"(supported: {', '.join(np.dtype(d).name for d in self.dtypes)})")

    def scratch_bytes(self, node: "ir.Node", g: "ir.Graph") -> int:
        """Bytes of scratch memory the kernel needs while it runs (planned in the arena)."""
        return 0

    def macs(self, node: "ir.Node", g: "ir.Graph") -> int:
        """Multiply-accumulates per inference (for inspect and bench)."""
        return 0

    def thread_work(self, node: "ir.Node", g: "ir.Graph") -> int:
        """The node's work in multiply-accumulates (its MACs; an elementwise op's cost in
        MAC-equivalents), which --threads compares with what waking a worker costs."""
        return self.macs(node, g)

    def channel_split(self, node: "ir.Node", g: "ir.Graph") -> ChannelSplit | None:
        """How this node's output channels may run on several threads, or None (it runs whole)."""
        return None

    def row_parts(self, node: "ir.Node", g: "ir.Graph", threads: int) -> int:
        """How many parts of output rows this op's own emitter can run on threads (0: none).
        Preferred over a channel split: parts share the input instead of each re-reading it.
        The pass then sets attrs["thread_rows"], which scratch_bytes() and emit() honour."""
        return 0

    def emit(self, node: "ir.Node", g: "ir.Graph", e: "EmitContext") -> str:
        raise NotImplementedError(self.op_type)


_REGISTRY: dict[str, list[OpDef]] = {}
_LOADED = False


def register(cls_or_obj):
    """Class decorator (or call with an instance) adding an OpDef to the registry."""
    obj = cls_or_obj() if isinstance(cls_or_obj, type) else cls_or_obj
    if not obj.op_type:
        raise ValueError(f"{obj!r} has no op_type")
    defs = _REGISTRY.setdefault(obj.op_type, [])
    defs.append(obj)
    defs.sort(key=lambda d: d.since)
    return cls_or_obj


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from . import __path__ as pkg_path
    for mod in sorted(m.name for m in pkgutil.iter_modules(pkg_path)):
        if mod not in ("registry", "helpers"):
            importlib.import_module(f"{__package__}.{mod}")


def supported_ops() -> dict[str, list[int]]:
    """op_type -> the opset versions its definitions start at."""
    _load_all()
    return {k: [d.since for d in v] for k, v in sorted(_REGISTRY.items())}


def lookup(node: "ir.Node", g: "ir.Graph") -> OpDef:
    _load_all()
    defs = _REGISTRY.get(node.op_type)
    if not defs:
        raise UnsupportedOpError("operator is not supported", node=node.name, op_type=node.op_type,
                                 opset=g.opset)
    usable = [d for d in defs if d.since <= g.opset]
    if not usable:
        raise UnsupportedOpError(f"only opset {defs[0].since} and later are supported for this op",
                                 node=node.name, op_type=node.op_type, opset=g.opset,
                                 hint="re-export with a newer opset")
    return usable[-1]


def unsupported(node: "ir.Node", g: "ir.Graph", message: str, hint: str | None = None) -> UnsupportedOpError:
    return UnsupportedOpError(message, node=node.name, op_type=node.op_type, opset=g.opset, hint=hint)
