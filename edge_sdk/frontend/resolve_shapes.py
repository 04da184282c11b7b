"""Make every shape static: fix symbolic input dims, then alternate ONNX shape
inference with constant folding until nothing changes.

Folding is what makes exporter chains (Shape -> Gather -> Concat -> Reshape)
disappear: each node whose inputs are all known is evaluated once here with
``onnx.reference`` and replaced by an initializer.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

from ..errors import ModelError, ShapeError

# Never folded: randomness, and quantization boundaries that issue-3 import reads as-is.
NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
           "Bernoulli", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
MAX_FOLDED_BYTES = 256 << 20


def fix_input_shapes(model: onnx.ModelProto, batch: int, input_shapes: dict[str, tuple[int, ...]] | None):
    inits = {t.name for t in model.graph.initializer}
    input_shapes = dict(input_shapes or {})
    if input_shapes:
        _forget_derived_shapes(model)
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            raise ModelError(f"graph input '{vi.name}' is not a tensor", "edge-sdk compiles tensor models only")
        if vi.name in input_shapes:
            shape = input_shapes.pop(vi.name)
            del tt.shape.dim[:]
            for d in shape:
                tt.shape.dim.add().dim_value = int(d)
            continue
        if not tt.HasField("shape"):
            raise ShapeError(f"graph input '{vi.name}' has no shape", f"pass --input-shape {vi.name}=1x3x224x224")
        for axis, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value") and d.dim_value >= 0:  # 0 is a real (empty) dimension
                continue
            if axis == 0:
                d.Clear()
                d.dim_value = batch
            else:
                sym = d.dim_param or "?"
                raise ShapeError(f"graph input '{vi.name}' has symbolic dimension '{sym}' at axis {axis}",
                                 f"pass --input-shape {vi.name}=... with every dimension")
    if input_shapes:
        raise ModelError(f"--input-shape names unknown input(s): {', '.join(sorted(input_shapes))}",
                         "see `edge-sdk inspect` for the input names")


def _forget_derived_shapes(model: onnx.ModelProto) -> None:
    """A new input shape makes the exporter's recorded intermediate and output shapes
    stale (YuNet records 640x640 everywhere); drop them so inference derives them again."""
    del model.graph.value_info[:]
    for vi in model.graph.output:
        vi.type.tensor_type.ClearField("shape")


def _infer(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    try:
        return shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:  # onnx raises InferenceError / ValidationError with long text
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise ModelError(f"shape inference failed: {first}", "check the model with onnx.checker and its input shapes") from None


def _static_shape(vi: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    dims = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(d.dim_value)
    return tuple(dims)


def _shape_or_size(node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    """Shape (with opset 15's start/end) or Size of a static shape, from the dims alone: the
    tensor itself is never made, so a model declaring a 24 GiB activation folds in no memory."""
    if node.op_type == "Size":
        size = int(np.prod(shape, dtype=object))
        if size >= 1 << 63:
            raise ShapeError(f"node '{node.name}' (Size): its input has {size} elements, over int64",
                             "check the model's shapes")
        return np.array(size, dtype=np.int64)
    attrs = {a.name: a.i for a in node.attribute}
    rank = len(shape)
    start, end = attrs.get("start", 0), attrs.get("end", rank)
    start, end = (max(0, min(rank, v + rank if v < 0 else v)) for v in (start, end))
    return np.array(shape[start:end], dtype=np.int64)


def _value_infos(model: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    g = model.graph
    return {vi.name: vi for vi in list(g.input) + list(g.value_info) + list(g.output)}


def _evaluate(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opset: int) -> list[np.ndarray]:
    ins = [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(feeds[n].dtype), feeds[n].shape)
           for n in node.input if n]
    outs = [onnx.helper.make_empty_tensor_value_info(n) for n in node.output if n]
    graph = onnx.helper.make_graph([node], "fold", ins, outs)
    m = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    sess = ReferenceEvaluator(m)
    res = sess.run(None, {n: feeds[n] for n in node.input if n})
    return [np.asarray(r) for r in res]


def fold_once(model: onnx.ModelProto, opset: int) -> bool:
    """Fold every node whose inputs are known; return True if anything changed."""
    g = model.graph
    consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    vis = _value_infos(model)
    graph_outputs = {o.name for o in g.output}
    kept, folded = [], []
    for node in g.node:
        outs: list[np.ndarray] | None = None
        if node.domain not in ("", "ai.onnx") or node.op_type in NO_FOLD:
            outs = None
        elif node.op_type == "Constant":
            outs = _evaluate(node, {}, opset)
        elif node.op_type in ("Shape", "Size") and node.input[0] in vis and _static_shape(vis[node.input[0]]) is not None:
            outs = [_shape_or_size(node, _static_shape(vis[node.input[0]]))]
        elif all((not i) or i in consts for i in node.input) and len(node.input) > 0:
            try:
                outs = _evaluate(node, {i: consts[i] for i in node.input if i}, opset)
            except Exception:
                outs = None  # leave it to the compiler, which reports it precisely
            if outs is not None and sum(o.nbytes for o in outs) > MAX_FOLDED_BYTES:
                outs = None
        if outs is None:
            kept.append(node)
            continue
        for name, value in zip([o for o in node.output if o], outs):
            consts[name] = value
            folded.append(numpy_helper.from_array(np.asarray(value, order="C"), name))
    if not folded:
        return False
    del g.node[:]
    g.node.extend(kept)
    g.initializer.extend(folded)
    # A folded graph output stays an output; the emitter copies the constant out.
    _ = graph_outputs
    return True


def resolve_shapes(model: onnx.ModelProto, opset: int, max_rounds: int = 20) -> onnx.ModelProto:
    model = _infer(model, opset)
    for _ in range(max_rounds):
        if not fold_once(model, opset):
            break
        # Drop stale value_info so inference recomputes shapes downstream of folded nodes.
        del model.graph.value_info[:]
        model = _infer(model, opset)
    return model
