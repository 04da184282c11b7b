"""Limits on an untrusted model around shape inference and constant folding.

onnx's shape inference is native code doing unchecked int64 arithmetic (a NaN Resize
scale or a 2**62 dimension has aborted the whole process), and the constant folder
runs nodes in Python with onnx.reference (a constant Loop of 10**12 trips never
ends).  So absurd dimensions, shape operands and fold hazards are refused here
before either sees them, and every resolved shape is bounded afterwards.  Each
refusal is a UserError naming the node or tensor.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from .. import ir
from ..errors import ModelError, ShapeError, UnsupportedOpError
from .safe_load import MAX_TENSOR_BYTES

MAX_DIM = (1 << 31) - 1  # keep dimension products far from int64 overflow


def check_declared_dims(model: onnx.ModelProto, fixed: bool) -> None:
    """Refuse absurd declared dimensions before onnx's (native) shape inference sees them.

    Before the input shapes are fixed, a negative dim at axis 0 of an input is the
    symbolic batch (fix_input_shapes replaces it); afterwards every input dim must be
    a real size.  Zero is a real size (empty tensors are valid ONNX)."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    hint = "re-export the model with real (non-negative, reasonable) dimensions, or pass --input-shape"
    for kind, vis in (("input", g.input), ("output", g.output), ("value_info", g.value_info)):
        for vi in vis:
            if vi.name in inits or not vi.type.HasField("tensor_type"):
                continue
            size = 1
            for axis, d in enumerate(vi.type.tensor_type.shape.dim):
                if not d.HasField("dim_value"):
                    continue
                v = d.dim_value
                if v < 0 and not (kind == "input" and axis == 0 and not fixed):
                    raise ModelError(f"graph {kind} '{vi.name}' has a negative dimension {v} at axis {axis}", hint)
                if v > MAX_DIM:
                    raise ModelError(f"graph {kind} '{vi.name}' has dimension {v} at axis {axis}, over {MAX_DIM}", hint)
                size *= max(v, 1)
            if kind == "input" and size * 8 > MAX_TENSOR_BYTES:
                raise ModelError(f"graph input '{vi.name}' declares {size} elements, over the "
                                 f"{MAX_TENSOR_BYTES >> 20} MiB tensor limit", hint)


# Constant inputs that onnx's shape inference turns into dimensions with unchecked int64
# arithmetic (a NaN scale or a 2**62 size has aborted the process inside onnx, not raised).
# Slice's starts/ends are absent on purpose: INT64_MAX there legitimately means "to the end".
_SHAPE_OPERANDS = {"Reshape": (1,), "Expand": (1,), "Tile": (1,), "ConstantOfShape": (0,), "Pad": (1,),
                   "Resize": (2, 3), "Upsample": (1,)}
MAX_SCALE = 1 << 16


def check_shape_operands(model: onnx.ModelProto, opset: int) -> None:
    consts = {t.name: t for t in model.graph.initializer}
    for i, n in enumerate(model.graph.node):
        operands = (1,) if n.op_type == "Resize" and opset < 11 else _SHAPE_OPERANDS.get(n.op_type, ())  # (X, scales)
        for k in operands:
            if k >= len(n.input) or n.input[k] not in consts:
                continue
            v = numpy_helper.to_array(consts[n.input[k]])
            name = n.name or f"{n.op_type}_{i}"
            if v.dtype.kind == "f":
                bad = v[~np.isfinite(v) | (v <= 0) | (v > MAX_SCALE)] if v.size else v
                if bad.size:
                    raise UnsupportedOpError(f"scale {bad.reshape(-1)[0]} in '{n.input[k]}' is not a positive "
                                             f"finite factor up to {MAX_SCALE}", node=name, op_type=n.op_type,
                                             opset=opset, hint="re-export the model with sensible scales")
            elif v.dtype.kind in "iu" and v.size:
                lo = -MAX_DIM if n.op_type == "Pad" else -1  # Reshape: -1 infers, 0 copies
                if int(v.min()) < lo or int(v.max()) > MAX_DIM:
                    bad = int(v.min()) if int(v.min()) < lo else int(v.max())
                    raise UnsupportedOpError(f"value {bad} in '{n.input[k]}' is not a usable dimension",
                                             node=name, op_type=n.op_type, opset=opset,
                                             hint="re-export the model; dimensions must lie in [0, 2**31)")


def _subgraph_nodes(g: onnx.GraphProto):
    """Every node inside the subgraphs (If/Loop/Scan bodies) of g's nodes, at any depth."""
    for n in g.node:
        for a in n.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else
                        list(a.graphs) if a.type == onnx.AttributeProto.GRAPHS else []):
                yield from sub.node
                yield from _subgraph_nodes(sub)


MAX_FOLD_TRIPS = 1 << 12  # a constant Loop is run in Python by the constant folder: bound its trip count
MAX_FOLD_ELEMENTS = 1 << 26  # what Range / ConstantOfShape may produce when folded (<= 256 MiB of int32/float)


def check_fold_hazards(model: onnx.ModelProto, opset: int) -> None:
    """Refuse nodes whose constant folding would hang or exhaust memory before any check
    could see their result: a Loop with a huge or unbounded trip count (the folder runs
    it with onnx.reference), a Range or ConstantOfShape of billions of elements."""
    consts = {t.name: t for t in model.graph.initializer}

    def const(name: str):
        return numpy_helper.to_array(consts[name]) if name in consts else None

    for n in _subgraph_nodes(model.graph):
        if n.op_type == "Loop":
            raise UnsupportedOpError("a Loop inside a subgraph is not supported (nested loops can run for ever)",
                                     node=n.name or "?", op_type=n.op_type, opset=opset,
                                     hint="unroll the loops before export")
    for i, n in enumerate(model.graph.node):
        name = n.name or f"{n.op_type}_{i}"

        def refuse(msg: str, hint: str = "re-export the model without this node") -> None:
            raise UnsupportedOpError(msg, node=name, op_type=n.op_type, opset=opset, hint=hint)

        if n.op_type == "Loop":
            m = const(n.input[0]) if n.input and n.input[0] else None
            if m is None or m.size != 1:
                refuse("Loop without a constant trip count is not supported (it may never end)",
                       "unroll the loop before export")
            if not 0 <= int(m.reshape(-1)[0]) <= MAX_FOLD_TRIPS:
                refuse(f"Loop trip count {int(m.reshape(-1)[0])} is outside [0, {MAX_FOLD_TRIPS}]",
                       "unroll the loop before export")
        elif n.op_type == "Range" and len(n.input) == 3 and all(x in consts for x in n.input):
            start, limit, delta = (float(const(x).reshape(-1)[0]) for x in n.input)
            if delta == 0 or not all(np.isfinite([start, limit, delta])):
                refuse(f"Range with start {start}, limit {limit}, delta {delta} is not a finite sequence")
            if max(0.0, np.ceil((limit - start) / delta)) > MAX_FOLD_ELEMENTS:
                refuse(f"Range from {start} to {limit} by {delta} has over {MAX_FOLD_ELEMENTS} elements")
        elif n.op_type in ("Tile", "Expand") and len(n.input) == 2 and all(x in consts for x in n.input):
            data, arg = consts[n.input[0]], const(n.input[1]).reshape(-1)
            if n.op_type == "Tile":
                out = np.prod([float(d) for d in data.dims]) * np.prod([float(r) for r in arg])
            else:
                dims = list(data.dims)
                r = max(len(dims), arg.size)
                dims, want = [1] * (r - len(dims)) + dims, [1] * (r - arg.size) + [int(v) for v in arg]
                out = np.prod([float(max(a, b)) for a, b in zip(dims, want)])
            if out > MAX_FOLD_ELEMENTS:
                refuse(f"{n.op_type} of constant '{n.input[0]}' would make {out:.3g} elements, over "
                       f"{MAX_FOLD_ELEMENTS}")
        elif n.op_type == "ConstantOfShape" and n.input and n.input[0] in consts:
            shape = const(n.input[0]).reshape(-1)
            if shape.size and (int(shape.min()) < 0 or np.prod([float(d) for d in shape]) > MAX_FOLD_ELEMENTS):
                refuse(f"ConstantOfShape of shape {shape.tolist()} is negative or over {MAX_FOLD_ELEMENTS} elements")


def check_resolved_sizes(g: ir.Graph) -> None:
    """Inference can produce negative or enormous shapes from absurd attributes (a kernel
    larger than the padded input, a Resize by 1e5); refuse them naming the node."""
    producer = {o: n for n in g.nodes for o in n.outputs if o}
    for t in g.tensors.values():
        n = producer.get(t.name)
        by = f" (output of node '{n.name}', {n.op_type})" if n else ""
        if any(d < 0 for d in t.shape):
            raise ShapeError(f"tensor '{t.name}'{by} has a negative dimension in its inferred shape {list(t.shape)}",
                             "check the node's attributes (kernel, pads, strides) against its input's shape")
        if t.nbytes > MAX_TENSOR_BYTES:
            raise ShapeError(f"tensor '{t.name}'{by} would hold {t.nbytes} bytes (shape {list(t.shape)}), over the "
                             f"{MAX_TENSOR_BYTES >> 20} MiB limit", "check the input shapes and Resize/Tile/Expand factors")
