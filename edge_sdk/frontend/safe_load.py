"""Load an ONNX file as untrusted input.

Checks happen before anything large is allocated: the file size, every
external-data reference (it must name a regular file inside the model's
folder, with the byte range inside that file), and each tensor's declared
size against a limit.
"""
from __future__ import annotations

import os
from pathlib import Path

import onnx
from onnx import external_data_helper

from ..errors import ModelError

MAX_MODEL_BYTES = 2 << 30  # protobuf itself cannot exceed 2 GiB
MAX_TENSOR_BYTES = 1 << 30


def _declared_bytes(t: onnx.TensorProto) -> int:
    n = 1
    for d in t.dims:
        if d < 0:
            raise ModelError(f"initializer '{t.name}' has a negative dimension {d}")
        n *= d
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except Exception:  # unknown or string type
        raise ModelError(f"initializer '{t.name}' has unsupported data type {t.data_type}",
                         "edge-sdk compiles numeric tensors only")
    return n * itemsize


def _all_tensors(model: onnx.ModelProto):
    yield from external_data_helper._get_all_tensors(model)


def _check_external_location(t: onnx.TensorProto, base: Path) -> None:
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location", "")
    hint = "keep external data files next to the model, referenced by a plain relative name"
    if not loc:
        raise ModelError(f"tensor '{t.name}' uses external data without a location", hint)
    p = Path(loc)
    if p.is_absolute() or loc.startswith(("/", "\\")) or ":" in loc:
        raise ModelError(f"tensor '{t.name}' external data path '{loc}' is absolute", hint)
    if any(part == ".." for part in p.parts):
        raise ModelError(f"tensor '{t.name}' external data path '{loc}' leaves the model folder", hint)
    full = base / p
    # Refuse symlinks anywhere along the path below the model folder.
    cur = base
    for part in p.parts:
        cur = cur / part
        if cur.is_symlink():
            raise ModelError(f"tensor '{t.name}' external data path '{loc}' is a symlink", hint)
    try:
        real = full.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise ModelError(f"tensor '{t.name}' external data file '{loc}' does not exist", hint)
    if base.resolve() not in real.parents or not real.is_file():
        raise ModelError(f"tensor '{t.name}' external data path '{loc}' is not a file inside the model folder", hint)
    size = real.stat().st_size
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else size - offset
    except ValueError:
        raise ModelError(f"tensor '{t.name}' has a malformed external data offset/length")
    if offset < 0 or length < 0 or offset + length > size:
        raise ModelError(f"tensor '{t.name}' external data range [{offset}, {offset + length}) "
                         f"is outside '{loc}' ({size} bytes)")
    if length != _declared_bytes(t):
        raise ModelError(f"tensor '{t.name}' declares {_declared_bytes(t)} bytes but its external data "
                         f"holds {length}")


def load_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Parse, validate and return the model with its external data loaded."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file '{path}' does not exist")
    if not path.is_file():
        raise ModelError(f"'{path}' is not a file")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelError(f"'{path}' is {size} bytes; ONNX files are limited to 2 GiB",
                         "store large weights as external data")
    if size == 0:
        raise ModelError(f"'{path}' is empty")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ModelError(f"'{path}' is not a valid ONNX file: {type(e).__name__}: {str(e)[:200]}",
                         "check the file was exported completely") from None
    base = path.parent
    for t in _all_tensors(model):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            _check_external_location(t, base)
        elif _declared_bytes(t) > MAX_TENSOR_BYTES:
            raise ModelError(f"tensor '{t.name}' declares {_declared_bytes(t)} bytes, over the "
                             f"{MAX_TENSOR_BYTES >> 20} MiB limit")
    try:
        external_data_helper.load_external_data_for_model(model, str(base))
    except Exception as e:
        raise ModelError(f"could not read external data: {e}") from None
    check_model(model, str(path))
    return model


def check_model(model: onnx.ModelProto, where: str = "model") -> None:
    if model.ByteSize() > MAX_MODEL_BYTES - (1 << 20):
        return  # checker cannot serialize it; individual checks already ran
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "validation failed"
        raise ModelError(f"{where} fails the ONNX checker: {first[:300]}",
                         "re-export the model with a current exporter") from None
