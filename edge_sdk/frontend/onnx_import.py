"""ONNX file -> ir.Graph with every shape static and every constant folded."""
from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import numpy_helper

from .. import ir
from ..errors import ModelError, ShapeError, UnsupportedOpError
from .limits import check_declared_dims, check_fold_hazards, check_resolved_sizes, check_shape_operands
from .resolve_shapes import fix_input_shapes, resolve_shapes
from .safe_load import load_onnx, one_line

MIN_OPSET, MAX_OPSET = 7, 23


def _opset_of(model: onnx.ModelProto) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    raise ModelError("model imports no default ONNX opset")


def _inline(model: onnx.ModelProto) -> onnx.ModelProto:
    if not model.functions:
        return model
    try:
        from onnx import inliner
        return inliner.inline_local_functions(model)
    except Exception as e:
        raise ModelError(f"could not inline the model's local functions: {one_line(e)}") from None


def _attr_value(a: onnx.AttributeProto):
    if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
        return None  # subgraphs are reported as unsupported by the op registry
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [x.decode("utf-8", "replace") for x in v]
    return v


def _dtype(elem_type: int, where: str) -> np.dtype:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        raise UnsupportedOpError(f"tensor '{where}' has ONNX element type {elem_type}, which edge-sdk does not support") from None


def _to_ir(model: onnx.ModelProto, opset: int, path: str) -> ir.Graph:
    g = model.graph
    tensors: dict[str, ir.Tensor] = {}
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        tensors[init.name] = ir.Tensor(init.name, tuple(arr.shape), arr.dtype, np.asarray(arr, order="C"))
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.name in tensors:
            continue
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
            continue
        if not all(d.HasField("dim_value") for d in tt.shape.dim):
            continue
        tensors[vi.name] = ir.Tensor(vi.name, tuple(d.dim_value for d in tt.shape.dim), _dtype(tt.elem_type, vi.name))
    nodes = []
    used_names: set[str] = set()
    for i, n in enumerate(g.node):
        name = n.name or f"{n.op_type}_{i}"
        while name in used_names:
            name = f"{name}_{i}"
        used_names.add(name)
        if n.domain not in ("", "ai.onnx"):
            raise UnsupportedOpError(f"operator domain '{n.domain}' is not supported", node=name,
                                     op_type=n.op_type, opset=opset,
                                     hint="export with standard ONNX ops only")
        nodes.append(ir.Node(n.op_type, name, list(n.input), list(n.output),
                             {a.name: _attr_value(a) for a in n.attribute}, n.domain))
    inputs = [vi.name for vi in g.input if vi.name not in {t.name for t in g.initializer}]
    outputs = [vi.name for vi in g.output]
    graph = ir.Graph(g.name or os.path.basename(path), nodes, tensors, inputs, outputs, opset,
                     metadata={"producer": f"{model.producer_name} {model.producer_version}".strip()})
    graph.prune()
    for n in graph.nodes:
        for t in list(n.inputs) + list(n.outputs):
            if t and t not in graph.tensors:
                raise ShapeError(f"could not infer a static shape for tensor '{t}' of node '{n.name}' ({n.op_type})",
                                 "give every input a fixed shape (--input-shape) or re-export with static shapes")
    for t in inputs + outputs:
        if t not in graph.tensors:
            raise ShapeError(f"could not infer a static shape for graph input/output '{t}'",
                             "give every input a fixed shape (--input-shape)")
    return graph


def import_onnx(path: str | os.PathLike, batch: int = 1,
                input_shapes: dict[str, tuple[int, ...]] | None = None) -> ir.Graph:
    """Load `path` safely and return a static-shape graph ready for the passes."""
    if batch < 1:
        raise ModelError(f"batch must be at least 1, got {batch}")
    model = load_onnx(path)
    opset = _opset_of(model)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UnsupportedOpError(f"model uses ONNX opset {opset}; edge-sdk supports opsets {MIN_OPSET}-{MAX_OPSET}",
                                 hint="re-export with an opset in range (e.g. torch.onnx.export(..., opset_version=17))")
    model = _inline(model)
    check_declared_dims(model, fixed=False)
    fix_input_shapes(model, batch, input_shapes)
    check_declared_dims(model, fixed=True)
    check_shape_operands(model, opset)
    check_fold_hazards(model, opset)
    model = resolve_shapes(model, opset)
    g = _to_ir(model, opset, str(path))
    check_resolved_sizes(g)
    return g
