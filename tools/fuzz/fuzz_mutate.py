"""Fuzz the front end with structurally mutated valid models (the seeds).

    python tools/fuzz/fuzz_mutate.py -max_total_time=900 -timeout=20 [CORPUS_DIR]
    python tools/fuzz/fuzz_mutate.py --to-model crash-<sha1> out.onnx   # turn a finding into a model file

The fuzzer's bytes drive a FuzzedDataProvider that picks a seed from
tools/fuzz/seeds and applies a few mutations: dimensions, attributes, node inputs
(rewired, dropped, cycles), opset and IR versions, element types, initializer
shapes, op types, deleted or duplicated nodes.  The result is analysed and, on
one input in two, lowered to C++ text (no build).  Only success or UserError is
allowed; anything else propagates to atheris as a crash.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
with atheris.instrument_imports(include=["edge_sdk"]):
    import onnx
    from fuzz_common import compile_front_end, seed_bytes

# Values that historically break shape arithmetic: zero, negatives, off-by-one, overflow.
INTERESTING = [0, 1, 2, 3, -1, -2, 7, 64, 255, 1 << 15, (1 << 31) - 1, 1 << 31, 1 << 40, -(1 << 31), (1 << 62)]
ATTRS = ["strides", "pads", "kernel_shape", "dilations", "group", "axis", "axes", "perm", "keepdims",
         "transA", "transB", "alpha", "beta", "epsilon", "ceil_mode", "count_include_pad", "auto_pad",
         "mode", "to", "min", "max", "split", "starts", "ends", "output_padding", "output_shape", "allowzero",
         "coordinate_transformation_mode", "k", "largest", "sorted", "blocksize", "spatial"]
OPS = ["Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "Relu", "MaxPool", "AveragePool",
       "GlobalAveragePool", "Reshape", "Transpose", "Concat", "Softmax", "Flatten", "Pad", "Resize", "Slice",
       "Gather", "Split", "Squeeze", "Unsqueeze", "ReduceMean", "Cast", "Clip", "BatchNormalization",
       "TopK", "Expand", "Tile", "Where", "Einsum", "Loop", "NoSuchOp", "DepthToSpace", "LayerNormalization"]
DTYPES = list(range(0, 25))
SEEDS = seed_bytes()


def _int(fdp: atheris.FuzzedDataProvider) -> int:
    if fdp.ConsumeBool():
        return fdp.PickValueInList(INTERESTING)
    return fdp.ConsumeIntInRange(-8, 300)


def _ints(fdp: atheris.FuzzedDataProvider) -> list[int]:
    return [_int(fdp) for _ in range(fdp.ConsumeIntInRange(0, 8))]


def _names(m: onnx.ModelProto) -> list[str]:
    g = m.graph
    return ([i.name for i in g.input] + [t.name for t in g.initializer] + [o for n in g.node for o in n.output]
            + ["", "no_such_tensor"])


def _set_attr(fdp, node: onnx.NodeProto) -> None:
    name = fdp.PickValueInList(ATTRS + [a.name for a in node.attribute])
    for i, a in enumerate(node.attribute):
        if a.name == name:
            del node.attribute[i]
            break
    kind = fdp.ConsumeIntInRange(0, 3)
    if kind == 0:
        node.attribute.append(onnx.helper.make_attribute(name, _int(fdp)))
    elif kind == 1:
        node.attribute.append(onnx.helper.make_attribute(name, _ints(fdp) or [0]))
    elif kind == 2:
        node.attribute.append(onnx.helper.make_attribute(name, fdp.ConsumeFloat()))
    else:
        node.attribute.append(onnx.helper.make_attribute(
            name, fdp.PickValueInList(["NOTSET", "SAME_UPPER", "VALID", "linear", "nearest", "cubic", "reflect",
                                       "edge", "half_pixel", "asymmetric", "zzz"])))


def _mutate_once(fdp: atheris.FuzzedDataProvider, m: onnx.ModelProto) -> None:
    g = m.graph
    what = fdp.ConsumeIntInRange(0, 11)
    if what == 0:  # a dimension of an input/output/value_info
        vis = list(g.input) + list(g.output) + list(g.value_info)
        if vis:
            vi = fdp.PickValueInList(vis)
            dims = vi.type.tensor_type.shape.dim
            if dims:
                d = dims[fdp.ConsumeIntInRange(0, len(dims) - 1)]
                if fdp.ConsumeIntInRange(0, 4) == 0:
                    d.dim_param = "sym"
                else:
                    d.dim_value = _int(fdp)
            elif fdp.ConsumeBool():
                vi.type.tensor_type.shape.dim.add().dim_value = _int(fdp)
    elif what == 1 and g.initializer:  # an initializer's declared dims (data left as it was)
        t = fdp.PickValueInList(list(g.initializer))
        del t.dims[:]
        t.dims.extend(_ints(fdp))
    elif what == 2 and g.node:
        _set_attr(fdp, fdp.PickValueInList(list(g.node)))
    elif what == 3 and g.node:  # rewire an input, possibly to a later node's output (a cycle)
        n = fdp.PickValueInList(list(g.node))
        names = _names(m)
        if n.input and fdp.ConsumeBool():
            n.input[fdp.ConsumeIntInRange(0, len(n.input) - 1)] = fdp.PickValueInList(names)
        elif fdp.ConsumeBool():
            n.input.append(fdp.PickValueInList(names))
        elif n.input:
            del n.input[-1]
    elif what == 4:
        m.opset_import[0].version = fdp.PickValueInList([-1, 0, 1, 6, 7, 9, 11, 13, 17, 18, 21, 23, 24, 99])
    elif what == 5:
        m.ir_version = fdp.PickValueInList([0, 1, 3, 7, 8, 9, 10, 11, 99])
    elif what == 6:  # element type of an I/O or initializer
        vis = list(g.input) + list(g.output)
        if g.initializer and fdp.ConsumeBool():
            fdp.PickValueInList(list(g.initializer)).data_type = fdp.PickValueInList(DTYPES)
        elif vis:
            fdp.PickValueInList(vis).type.tensor_type.elem_type = fdp.PickValueInList(DTYPES)
    elif what == 7 and g.node:
        fdp.PickValueInList(list(g.node)).op_type = fdp.PickValueInList(OPS)
    elif what == 8 and g.node:
        i = fdp.ConsumeIntInRange(0, len(g.node) - 1)
        if fdp.ConsumeBool():
            del g.node[i]
        else:
            dup = onnx.NodeProto()
            dup.CopyFrom(g.node[i])
            g.node.insert(fdp.ConsumeIntInRange(0, len(g.node)), dup)
    elif what == 9 and g.initializer:  # drop an initializer, or make one of its values extreme
        t = fdp.PickValueInList(list(g.initializer))
        if fdp.ConsumeBool():
            g.initializer.remove(t)
        else:
            import numpy as np
            from onnx import numpy_helper
            try:
                arr = numpy_helper.to_array(t).copy()
            except Exception:  # an earlier mutation broke its shape: that mutation already is the test
                return
            if arr.size:
                flat = arr.reshape(-1)
                pick = fdp.ConsumeIntInRange(0, flat.size - 1)
                if arr.dtype.kind == "f":
                    flat[pick] = fdp.PickValueInList([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e38, -1e-45])
                else:
                    flat[pick] = np.array(_int(fdp)).astype(arr.dtype)
                t.CopyFrom(numpy_helper.from_array(arr, t.name))
    elif what == 10:  # swap outputs / drop a graph output
        if g.output and fdp.ConsumeBool():
            g.output[0].name = fdp.PickValueInList(_names(m))
        elif len(g.output) > 0:
            del g.output[-1]
    elif what == 11 and g.node:  # rename a node output (dangling consumers)
        n = fdp.PickValueInList(list(g.node))
        if n.output:
            n.output[0] = fdp.PickValueInList(_names(m))


def mutate(data: bytes) -> tuple[bytes, bool]:
    """Fuzzer bytes -> (model bytes, emit C++?)."""
    fdp = atheris.FuzzedDataProvider(data)
    m = onnx.ModelProto()
    m.ParseFromString(SEEDS[fdp.ConsumeIntInRange(0, len(SEEDS) - 1)])
    emit = fdp.ConsumeBool()
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        _mutate_once(fdp, m)
    return m.SerializeToString(), emit


_DIR = Path(tempfile.mkdtemp(prefix="edge_sdk_fuzz_mutate."))
_MODEL = _DIR / "model.onnx"


def TestOneInput(data: bytes) -> None:
    model, emit = mutate(data)
    _MODEL.write_bytes(model)
    compile_front_end(_MODEL, emit=emit)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--to-model":
        model, emit = mutate(Path(sys.argv[2]).read_bytes())
        Path(sys.argv[3]).write_bytes(model)
        print(f"wrote {sys.argv[3]} ({len(model)} bytes, emit={emit})")
        return
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
