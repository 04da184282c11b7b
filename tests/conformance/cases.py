"""The ONNX node conformance cases, made compilable ahead of time.

Source: ``onnx.backend.test.case.node.collect_testcases()`` (each case is one
single-node model with input data and the expected outputs computed by the
ONNX reference implementation).  Two edits make a case compilable without
changing what it checks:

* inputs that carry parameters (shapes, axes, pads, scales, weights...) become
  initializers, as exporters emit them, so every shape is static;
* a case stamped with an opset newer than the frontend accepts is re-stamped
  with the newest accepted opset, but only when the op's schema there has the
  same inputs and outputs, knows every attribute the node uses and accepts
  the case's types (the newer versions only widened the type lists);
  one stamped older than the frontend accepts is re-stamped with the oldest
  accepted opset when the op's definition did not change in between.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from edge_sdk.frontend.onnx_import import MAX_OPSET, MIN_OPSET

REDUCE_OPS = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp")
# op -> indices of the inputs that carry parameters rather than data.
CONST_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4), "Pad": (1, 2, 3),
    "Resize": (1, 2, 3), "Upsample": (1,), "Split": (1,), "Squeeze": (1,), "Unsqueeze": (1,),
    "Clip": (1, 2), "BatchNormalization": (1, 2, 3, 4), "Conv": (1, 2), "ConvTranspose": (1, 2),
    "Dropout": (1, 2), "CastLike": (1,), "TopK": (1,), "OneHot": (1, 2), "CumSum": (1,), "Trilu": (1,),
    "ConstantOfShape": (0,), "Compress": (1,), "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2),
    "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2),
    **{op: (1,) for op in REDUCE_OPS},
}


@dataclass
class Case:
    name: str
    op_type: str
    model: onnx.ModelProto         # ready to save and compile
    inputs: list[np.ndarray]       # the remaining (runtime) inputs, in graph order
    expected: list[np.ndarray]     # outputs in graph order
    rtol: float = 1e-3
    atol: float = 1e-5
    expanded: bool = False         # a function-expanded case: many nodes, op_type names the function


def _restamp(model: onnx.ModelProto, node: onnx.NodeProto) -> None:
    """Lower the default-domain opset to MAX_OPSET when that keeps the node's semantics."""
    imp = next(i for i in model.opset_import if i.domain in ("", "ai.onnx"))
    if imp.version < MIN_OPSET:
        if onnx.defs.get_schema(node.op_type, MIN_OPSET).since_version <= imp.version:
            imp.version = MIN_OPSET
        return
    if imp.version <= MAX_OPSET:
        return
    try:
        new = onnx.defs.get_schema(node.op_type, imp.version)
        old = onnx.defs.get_schema(node.op_type, MAX_OPSET)
    except onnx.defs.SchemaError:
        return  # op absent at MAX_OPSET: the frontend rejects the case, as it would the model
    same_io = ([i.name for i in new.inputs], [o.name for o in new.outputs]) == \
              ([i.name for i in old.inputs], [o.name for o in old.outputs])
    if same_io and all(a.name in old.attributes for a in node.attribute):
        original, imp.version = imp.version, MAX_OPSET
        try:  # the older type lists must accept the case's types, else keep the case as exported
            onnx.checker.check_model(model, full_check=True)
        except Exception:  # noqa: BLE001 - any checker/inference failure
            imp.version = original


def _prepare(tc, base: Case | None = None) -> Case:
    """A compilable Case; `base` (for an expanded case) is the node case whose frozen inputs it shares."""
    model = onnx.ModelProto()
    model.CopyFrom(tc.model)
    g = model.graph
    node = g.node[0]
    inputs_data, outputs_data = tc.data_sets[0]
    # Exotic element types (float8, int4...) come as TensorProto; edge-sdk rejects them at import.
    by_name = {vi.name: numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else x
               for vi, x in zip(g.input, inputs_data)}
    if base is not None:
        freeze = {t.name for t in base.model.graph.initializer}
    else:
        freeze = {node.input[i] for i in CONST_INPUTS.get(node.op_type, ()) if i < len(node.input) and node.input[i]}
    keep = []
    for vi in g.input:
        arr = np.asarray(by_name[vi.name])
        if vi.name in freeze:
            g.initializer.append(numpy_helper.from_array(arr, vi.name))
            continue
        # Pin every input dimension to the data's (some cases declare symbolic dims).
        if vi.type.HasField("tensor_type"):
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for d in arr.shape:
                dims.add().dim_value = int(d)
        keep.append(vi)
    runtime = [np.asarray(by_name[vi.name]) for vi in keep]
    del g.input[:]
    g.input.extend(keep)
    if base is None:
        _restamp(model, node)
    expected = [numpy_helper.to_array(o) if isinstance(o, onnx.TensorProto) else np.asarray(o) for o in outputs_data]
    if base is not None:
        return Case(tc.name, base.op_type, model, runtime, expected, expanded=True)
    return Case(tc.name, node.op_type, model, runtime, expected)


@functools.lru_cache(maxsize=1)
def _raw_cases():
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings():  # the case generators overflow on purpose
        warnings.simplefilter("ignore")
        return collect_testcases(None)


@functools.lru_cache(maxsize=1)
def expanded_cases() -> dict[str, Case]:
    """Function ops expanded into graphs of other ops (test_softmax_axis_0_expanded...),
    for node cases that exist: each is a multi-node model exercising passes and the planner."""
    nodes = all_cases()
    out: dict[str, Case] = {}
    for tc in _raw_cases():
        if tc.model is None or "_expanded" not in tc.name or len(tc.data_sets) != 1:
            continue
        base = nodes.get(tc.name.split("_expanded")[0])
        if base is None or any(n.domain not in ("", "ai.onnx") for n in tc.model.graph.node):
            continue
        imp = next((i.version for i in tc.model.opset_import if i.domain in ("", "ai.onnx")), 0)
        if imp > MAX_OPSET:
            continue  # the expansion may use any op of its opset; no sound re-stamping
        out[tc.name] = _prepare(tc, base)
    return out


@functools.lru_cache(maxsize=1)
def all_cases() -> dict[str, Case]:
    """Every single-node, default-domain, non-expanded case, by case name."""
    out: dict[str, Case] = {}
    for tc in _raw_cases():
        if tc.model is None or "_expanded" in tc.name or len(tc.model.graph.node) != 1:
            continue
        node = tc.model.graph.node[0]
        if node.domain not in ("", "ai.onnx") or len(tc.data_sets) != 1:
            continue
        if any(not vi.type.HasField("tensor_type") for vi in list(tc.model.graph.input) + list(tc.model.graph.output)):
            continue  # sequences and optionals are outside edge-sdk's scope
        out[tc.name] = _prepare(tc)
    return out


def cases_by_op() -> dict[str, list[Case]]:
    ops: dict[str, list[Case]] = {}
    for c in all_cases().values():
        ops.setdefault(c.op_type, []).append(c)
    return ops
