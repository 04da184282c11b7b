"""TflModel -> ir.Graph: TFLite's own int8 scales and zero points, TFLite's arithmetic.

Layout: TFLite tensors are NHWC, the IR (and the int8 conv kernels) NCHW.  Every rank-4
tensor computed at run time is stored NCHW in the IR; a rank-4 graph input gets one
Transpose after it and a rank-4 graph output one before it, so users see TFLite's shapes.
Conv/depthwise weights are permuted to OIHW at import.  Ops whose meaning depends on the
order of elements (RESHAPE, SQUEEZE, non-4D results) read an NHWC view made on demand,
skipped when H*W == 1 or C == 1 (then both orders are the same bytes).  The passes cancel
back-to-back transposes.

int8 ops map to internal ops that reproduce TFLite's reference kernels: QConv /
QFullyConnected / QMaxPool / QConcat (same arithmetic as TFLite), Tfl* (ops/tfl_ops.py) for
ops with TFLite-specific arithmetic, QLookup tables (tables.py) for elementwise functions.
float32 models map to the IR's ONNX float ops.
"""
from __future__ import annotations

import numpy as np

from ... import ir
from ...errors import ModelError, UnsupportedOpError
from .model import TflModel, TflOperator, TflTensor
from .options import opts_of

MIN_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "MEAN": 2, "ADD": 2, "SUB": 2,
              "MUL": 2, "RESHAPE": 1, "PAD": 2, "PADV2": 2, "TRANSPOSE": 2, "STRIDED_SLICE": 4,
              "RESIZE_NEAREST_NEIGHBOR": 2}
TO_NCHW = [0, 3, 1, 2]       # nchw = nhwc.transpose(TO_NCHW)
TO_NHWC = [0, 2, 3, 1]
NHWC_AXIS_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}
INT8 = np.dtype(np.int8)
F32 = np.dtype(np.float32)


class Importer:
    def __init__(self, m: TflModel):
        self.m = m
        self.tensors: dict[str, ir.Tensor] = {}
        self.nodes: list[ir.Node] = []
        self.names: dict[int, str] = {}       # TFLite tensor index -> IR name (NCHW if rank 4)
        self.nhwc_views: dict[str, str] = {}  # IR name -> name of its NHWC transpose
        self.folded: dict[int, np.ndarray] = {}  # shape arithmetic evaluated at import
        self.op: TflOperator | None = None
        self._pending_to_nchw: list[tuple[str, str]] = []  # (NHWC-ordered result, its NCHW tensor)
        used: set[str] = set()
        for t in m.tensors:
            nm = t.name
            while nm in used:
                nm = f"{t.name}#{t.index}"
            used.add(nm)
            self.names[t.index] = nm

    # ---- errors ----------------------------------------------------------------------
    def unsupported(self, why: str, hint: str | None = None) -> UnsupportedOpError:
        op = self.op
        hint = hint or f"supported TFLite operators: {', '.join(supported_tflite_ops())}"
        if op is None:
            return UnsupportedOpError(why, hint=hint)
        return UnsupportedOpError(why, node=f"operator {op.index}", op_type=op.name, hint=hint)

    def malformed(self, why: str) -> ModelError:
        where = f"operator {self.op.index} ({self.op.name}): " if self.op else ""
        return ModelError(f"{where}{why}", "the .tflite file is inconsistent; re-export it")

    def expect_shape(self, i: int, shape) -> None:
        """The output shape the file declares must be the one the op computes (kernels size their
        loops from the IR shapes: an inconsistent file must not reach them)."""
        declared = tuple(self.t(i).shape)
        if declared != tuple(int(d) for d in shape):
            raise self.malformed(f"tensor '{self.t(i).name}' is declared {list(declared)} but the operator "
                                 f"computes {list(shape)}")

    # ---- tensors ---------------------------------------------------------------------
    def t(self, i: int) -> TflTensor:
        return self.m.tensors[i]

    def const(self, i: int) -> np.ndarray | None:
        if i in self.folded:
            return self.folded[i]
        return self.t(i).data

    def quant(self, t: TflTensor, axis_map=None) -> ir.QuantParams | None:
        if t.quant is None:
            return None
        q = t.quant
        axis = None if q.scale.size == 1 else (axis_map(q.axis) if axis_map else q.axis)
        return ir.QuantParams(q.scale.astype(np.float32), q.zero_point.astype(np.int64), axis)

    def add_tensor(self, name: str, shape, dtype, data=None, quant=None) -> str:
        self.tensors[name] = ir.Tensor(name, tuple(int(d) for d in shape), np.dtype(dtype), data, quant)
        return name

    def add_const(self, stem: str, arr: np.ndarray, quant=None) -> str:
        name = f"{stem}~{len(self.tensors)}"
        arr = np.array(arr, order="C")  # (ascontiguousarray would turn a scalar into shape (1,))
        return self.add_tensor(name, arr.shape, arr.dtype, arr, quant)

    def node(self, op_type: str, inputs: list[str], outputs: list[str], **attrs) -> ir.Node:
        name = f"{self.op.name.lower()}_{self.op.index}" if self.op else f"io_{len(self.nodes)}"
        if any(n.name == name for n in self.nodes):
            name = f"{name}_{len(self.nodes)}"
        n = ir.Node(op_type, name, inputs, outputs, attrs)
        self.nodes.append(n)
        return n

    def dtype(self, t: TflTensor) -> np.dtype:
        if t.dtype is None or t.dtype not in (INT8, F32, np.dtype(np.int32)):
            raise self.unsupported(f"tensor '{t.name}' has type {t.type_name}; int8 and float32 models are supported",
                                   "convert to full-integer int8 (or float32)")
        return t.dtype

    def x(self, i: int) -> str:
        """IR name of input tensor i as stored (rank-4 tensors NCHW); constants are materialised."""
        name = self.names[i]
        if name in self.tensors:
            return name
        arr = self.const(i)
        if arr is None:
            raise ModelError(f"operator {self.op.index} ({self.op.name}) reads tensor {i} '{self.t(i).name}' "
                             "before anything computes it", "re-export the model")
        t = self.t(i)
        if arr.ndim == 4:
            arr = arr.transpose(TO_NCHW)
        return self.add_tensor(name, arr.shape, arr.dtype, np.ascontiguousarray(arr),
                               self.quant(t, lambda a: NHWC_AXIS_TO_NCHW[a] if arr.ndim == 4 else a))

    def out(self, i: int, dtype=None) -> str:
        """Declare output tensor i (rank 4 stored NCHW) and return its IR name."""
        t = self.t(i)
        shape = t.shape
        if len(shape) == 4:
            shape = tuple(shape[p] for p in TO_NCHW)
        return self.add_tensor(self.names[i], shape, dtype or self.dtype(t), None, self.quant(t))

    def nhwc(self, i: int) -> str:
        """IR name of tensor i with TFLite's shape and element order (a view when the bytes agree)."""
        src = self.x(i)
        shape = self.tensors[src].shape
        if len(shape) != 4:
            return src
        if src not in self.nhwc_views:
            nhwc_shape = [shape[p] for p in TO_NHWC]
            dst = self.add_tensor(f"{src}~nhwc", nhwc_shape, self.tensors[src].dtype, None, self.tensors[src].quant)
            if same_bytes_both_layouts(nhwc_shape):
                self.node("Reshape", [src, self.add_const("shape", np.array(nhwc_shape, np.int64))], [dst])
            else:
                self.node("Transpose", [src], [dst], perm=TO_NHWC)
            self.nhwc_views[src] = dst
        return self.nhwc_views[src]

    def out_from_nhwc(self, i: int, dtype=None) -> str:
        """Name to write tensor i in TFLite's shape and order; flush_layout() then adds the Transpose (or,
        when the bytes agree, the view) into the stored NCHW tensor."""
        t = self.t(i)
        if len(t.shape) != 4:
            return self.out(i, dtype)
        final = self.out(i, dtype)
        tmp = self.add_tensor(f"{final}~nhwc", t.shape, self.tensors[final].dtype, None, self.tensors[final].quant)
        self._pending_to_nchw.append((tmp, final))
        return tmp

    def flush_layout(self) -> None:
        for tmp, final in self._pending_to_nchw:
            if same_bytes_both_layouts(self.tensors[tmp].shape):
                shape = np.array(self.tensors[final].shape, np.int64)
                self.node("Reshape", [tmp, self.add_const("shape", shape)], [final])
            else:
                self.node("Transpose", [tmp], [final], perm=TO_NCHW)
        self._pending_to_nchw = []

    # ---- the graph -------------------------------------------------------------------
    def run(self, row_fusion: bool = True) -> ir.Graph:
        from .convert_ops import CONVERTERS, fold
        m = self.m
        inputs, outputs = [], []
        for i in m.inputs:
            t = self.t(i)
            dt = self.dtype(t)
            public = self.names[i]
            if len(t.shape) == 4:
                self.add_tensor(public + "~in", t.shape, dt, None, self.quant(t))
                inputs.append(public + "~in")
                self.op = None
                self.out(i)
                self.node("Transpose", [public + "~in"], [public], perm=TO_NCHW)
            else:
                self.out(i)
                inputs.append(public)
        for op in m.operators:
            self.op = op
            if not op.outputs:
                raise self.malformed("the operator has no output")
            try:
                if fold(self, op):
                    continue
            except (ValueError, IndexError, TypeError) as e:
                raise self.malformed(f"its constant inputs are inconsistent ({e})") from None
            conv = CONVERTERS.get(op.name)
            if conv is None:
                raise self.unsupported("operator is not supported by the TFLite frontend")
            need = MIN_INPUTS.get(op.name, 1)
            if len(op.inputs) < need or any(i < 0 for i in op.inputs[:need]):
                raise self.malformed(f"it has {len(op.inputs)} inputs")
            conv(self, op, opts_of(op))
            self.flush_layout()
        self.op = None
        for i in m.outputs:
            name = self.names[i]
            if name not in self.tensors:
                raise ModelError(f"graph output '{name}' is not computed by any operator", "re-export the model")
            t = self.t(i)
            if len(t.shape) == 4:
                public = name + "~out"
                self.add_tensor(public, t.shape, self.tensors[name].dtype, None, self.tensors[name].quant)
                self.node("Transpose", [name], [public], perm=TO_NHWC)
                outputs.append(public)
            else:
                outputs.append(name)
        g = ir.Graph(m.path.stem, self.nodes, self.tensors, inputs, outputs, opset=21,
                     metadata={"producer": "tflite", "tflite_io_names": {
                         "inputs": [self.names[i] for i in m.inputs], "outputs": [self.names[i] for i in m.outputs]}})
        _public_names(g)
        g.prune()
        if not row_fusion:
            return g
        from .fuse_rows import fuse_rows
        return fuse_rows(g)


def supported_tflite_ops() -> list[str]:
    from .convert_ops import CONVERTERS
    return sorted(CONVERTERS)


def same_bytes_both_layouts(nhwc_shape) -> bool:
    """NHWC and NCHW order the elements identically when H*W == 1 or C == 1 (batch 1 or any batch)."""
    _, h, w, c = nhwc_shape
    return h * w == 1 or c == 1


def _public_names(g: ir.Graph) -> None:
    """Graph inputs/outputs carry TFLite's tensor names (the internal NCHW tensors are renamed)."""
    for lst, suffix in ((g.inputs, "~in"), (g.outputs, "~out")):
        for k, name in enumerate(list(lst)):
            if not name.endswith(suffix):
                continue
            public, internal = name[: -len(suffix)], name
            g.tensors[public + "~nchw"] = g.tensors.pop(public)
            g.tensors[public + "~nchw"].name = public + "~nchw"
            t = g.tensors.pop(internal)
            t.name = public
            g.tensors[public] = t
            for n in g.nodes:
                n.inputs = [public + "~nchw" if i == public else public if i == internal else i for i in n.inputs]
                n.outputs = [public + "~nchw" if o == public else public if o == internal else o for o in n.outputs]
            lst[k] = public
