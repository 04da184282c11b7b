"""A .tflite file -> plain Python objects (subgraph 0 only), every size checked before use.

Field ids follow TFLite's schema.fbs (tests/test_tflite_reader.py compares them with
the schema-generated classes LiteRT ships, where it is installed).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ModelError, UnsupportedOpError
from .flatbuf import Buf, Table
from .opnames import op_name

MAX_MODEL_BYTES = 2 << 30
MAX_TENSOR_BYTES = 1 << 30
MAX_RANK = 8

# TensorType -> numpy dtype (the types a tensor of a model we compile may have).
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_,
                7: np.int16, 9: np.int8, 10: np.float64}
TYPE_NAMES = {0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL", 7: "INT16",
              8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 11: "COMPLEX128", 12: "UINT64", 13: "RESOURCE",
              14: "VARIANT", 15: "UINT32", 16: "UINT16", 17: "INT4"}


@dataclass
class TflQuant:
    scale: np.ndarray       # float32, one per tensor or per channel
    zero_point: np.ndarray  # int64
    axis: int


@dataclass
class TflTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    type_name: str
    data: np.ndarray | None
    quant: TflQuant | None


@dataclass
class TflOperator:
    index: int
    code: int
    name: str           # BuiltinOperator name, e.g. CONV_2D
    version: int
    inputs: list[int]   # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: Table | None


@dataclass
class TflModel:
    path: Path
    version: int
    tensors: list[TflTensor]
    operators: list[TflOperator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    n_subgraphs: int = 1
    raw_size: int = 0


def _read_file(path: Path) -> bytes:
    try:
        st = os.stat(path)
    except OSError as e:
        raise ModelError(f"cannot open '{path}': {e.strerror}") from None
    if st.st_size > MAX_MODEL_BYTES:
        raise ModelError(f"'{path.name}' is {st.st_size} bytes; .tflite files above {MAX_MODEL_BYTES} bytes "
                         "are not supported")
    with open(path, "rb") as f:
        return f.read()


def _quant(t: Table | None, where: str) -> TflQuant | None:
    if t is None:
        return None
    scale = np.array(t.ints(2, "f", "scale"), np.float32)
    zp = np.array(t.ints(3, "q", "zero_point"), np.int64)
    if scale.size == 0:
        return None
    if zp.size not in (0, scale.size):
        raise ModelError(f"{where} has {scale.size} scales but {zp.size} zero points", "re-export the model")
    if zp.size == 0:
        zp = np.zeros(scale.size, np.int64)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ModelError(f"{where} has a scale that is not a positive finite number", "re-export the model")
    if t.table(5, "details") is not None:
        raise UnsupportedOpError(f"{where} uses custom quantization details", hint="re-export with standard int8")
    return TflQuant(scale, zp, int(t.scalar(6, "i", 0)))


def _buffer_bytes(buffers: list[Table], buf: Buf, index: int, where: str) -> memoryview | None:
    if index == 0:
        return None  # buffer 0 is the empty sentinel: a tensor computed at run time
    if not 0 <= index < len(buffers):
        raise ModelError(f"{where} names buffer {index}, but the file has {len(buffers)}", "re-export the model")
    b = buffers[index]
    data = b.bytes_(0, "data")
    offset, size = b.scalar(1, "Q", 0), b.scalar(2, "Q", 0)
    if offset > 1:  # large models keep buffer data after the flatbuffer, addressed by file offset
        buf.need(offset, size, f"{where} data")
        return buf.mv[offset:offset + size]
    return data if len(data) else None


def read_model(path: str | Path) -> TflModel:
    """Parse `path`.  Raises ModelError (malformed) or UnsupportedOpError (valid but not compilable)."""
    path = Path(path)
    raw = _read_file(path)
    buf = Buf(raw)
    root = buf.root()
    if len(raw) >= 8 and raw[4:8] != b"TFL3":
        raise ModelError(f"'{path.name}' is not a TFLite model (file identifier {raw[4:8]!r}, expected b'TFL3')",
                         "pass a .tflite file written by the TensorFlow Lite / LiteRT converter")
    version = root.scalar(0, "I", 0)
    if version != 3:
        raise UnsupportedOpError(f"TFLite schema version {version} is not supported (expected 3)")
    codes = root.tables(1, "operator_codes")
    subgraphs = root.tables(2, "subgraphs")
    buffers = root.tables(4, "buffers")
    if not subgraphs:
        raise ModelError(f"'{path.name}' has no subgraph", "re-export the model")
    sg = subgraphs[0]
    op_codes = []
    for i, c in enumerate(codes):
        deprecated = c.scalar(0, "b", 0)
        builtin = c.scalar(3, "i", 0)
        op_codes.append((max(int(deprecated), int(builtin)), c.scalar(2, "i", 1), c.string(1, "custom_code")))

    tensors: list[TflTensor] = []
    for i, t in enumerate(sg.tables(0, "tensors")):
        name = t.string(3, "name") or f"tensor_{i}"
        where = f"tensor {i} '{name}'"
        shape = tuple(int(d) for d in t.ints(0, "i", "shape"))
        if len(shape) > MAX_RANK or any(d < 0 for d in shape):
            sig = t.ints(7, "i", "shape_signature")
            raise UnsupportedOpError(f"{where} has shape {list(sig or shape)}; only static shapes up to rank "
                                     f"{MAX_RANK} are supported", hint="convert with a fixed input shape")
        ttype = t.scalar(1, "b", 0)
        tname = TYPE_NAMES.get(ttype, f"type {ttype}")
        dtype = np.dtype(TENSOR_TYPES[ttype]) if ttype in TENSOR_TYPES else None
        if t.table(6, "sparsity") is not None:
            raise UnsupportedOpError(f"{where} is sparse", hint="convert without sparsity")
        data = _buffer_bytes(buffers, buf, t.scalar(2, "I", 0), where)
        arr = None
        if data is not None:
            if dtype is None:
                raise UnsupportedOpError(f"{where} holds constant data of type {tname}")
            n = int(np.prod(shape, dtype=np.int64)) if shape else 1
            nbytes = n * dtype.itemsize
            if nbytes > MAX_TENSOR_BYTES:
                raise ModelError(f"{where} declares {nbytes} bytes, above the {MAX_TENSOR_BYTES}-byte limit")
            if len(data) != nbytes:
                raise ModelError(f"{where} has shape {list(shape)} ({nbytes} bytes of {tname}) but its buffer "
                                 f"holds {len(data)} bytes", "re-export the model")
            arr = np.frombuffer(data, dtype=dtype.newbyteorder("<"), count=n).astype(dtype).reshape(shape)
        tensors.append(TflTensor(i, name, shape, dtype, tname, arr, _quant(t.table(4, "quantization"), where)))

    def indices(lst: list[int], what: str, allow_omitted: bool) -> list[int]:
        for v in lst:
            if not (-1 if allow_omitted else 0) <= v < len(tensors):
                raise ModelError(f"{what} refers to tensor {v}, but the subgraph has {len(tensors)}",
                                 "re-export the model")
        return lst

    operators = []
    for i, o in enumerate(sg.tables(3, "operators")):
        ci = o.scalar(0, "I", 0)
        if ci >= len(op_codes):
            raise ModelError(f"operator {i} uses operator code {ci}, but the file has {len(op_codes)}")
        code, ver, custom = op_codes[ci]
        name = op_name(code) if code != 32 else f"CUSTOM({custom})"
        opts = o.table(4, f"operator {i} options") if o.scalar(3, "B", 0) else None
        operators.append(TflOperator(i, code, name, ver, indices(o.ints(1, "i", "inputs"), f"operator {i}", True),
                                     indices(o.ints(2, "i", "outputs"), f"operator {i}", False), opts))
    inputs = indices(sg.ints(1, "i", "inputs"), "the subgraph's inputs", False)
    outputs = indices(sg.ints(2, "i", "outputs"), "the subgraph's outputs", False)
    return TflModel(path, version, tensors, operators, inputs, outputs, root.string(3, "description"),
                    len(subgraphs), len(raw))


__all__ = ["read_model", "TflModel", "TflTensor", "TflOperator", "TflQuant"]
