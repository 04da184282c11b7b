"""Load an ONNX file as untrusted input.

Checks happen before anything large is allocated: the file size, every
external-data reference, and each tensor's declared size against a limit.  Every
tensor's data must then match its declared shape, so nothing downstream meets a
weight whose bytes and dims disagree.

External data: the rule.  A reference must be a plain relative name (no absolute
path, no drive, no `..`) naming a regular file inside the model's folder, with the
byte range inside that file.  We read it ourselves, never through onnx's loader:
each path component is opened relative to the previous one with O_NOFOLLOW, so a
symlink anywhere on the path is refused, and the check and the read are the same
open file (no window to swap a file for a link).  A hard link to a file outside
the folder looks like any file inside it, and no check short of scanning the
whole filesystem can tell where its other names are; so we refuse any external
data file with more than one link (st_nlink > 1).  The hint says to copy it.
FIFOs and devices are refused (opened non-blocking, then must be S_ISREG).
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

import onnx
from onnx import external_data_helper, numpy_helper

from ..errors import ModelError, UnsupportedOpError

MAX_MODEL_BYTES = 2 << 30  # protobuf itself cannot exceed 2 GiB
MAX_TENSOR_BYTES = 1 << 30
MAX_TOTAL_BYTES = 4 << 30  # all tensors together, inline and external
_EXT_HINT = "keep external data files next to the model, referenced by a plain relative name"


def one_line(text: str, limit: int = 200) -> str:
    """Exception text from onnx/protobuf can span lines; the CLI promises one line."""
    return " ".join(str(text).split())[:limit]


def _declared_bytes(t: onnx.TensorProto) -> int:
    n = 1
    for d in t.dims:
        if d < 0:
            raise ModelError(f"tensor '{t.name}' has a negative dimension {d} in its shape {list(t.dims)}",
                             "re-export the model; a stored tensor's dimensions are never negative")
        n *= d
    try:
        dt = onnx.helper.tensor_dtype_to_np_dtype(t.data_type)
    except Exception:  # unknown data type number
        dt = None
    if dt is None or dt.kind not in "biufc" or t.data_type == onnx.TensorProto.UNDEFINED:
        raise ModelError(f"tensor '{t.name}' has unsupported data type {t.data_type}",
                         "edge-sdk compiles numeric tensors only")
    return n * dt.itemsize


def _all_tensors(model: onnx.ModelProto):
    yield from external_data_helper._get_all_tensors(model)


def _location_parts(t: onnx.TensorProto, loc: str) -> tuple[str, ...]:
    if not loc:
        raise ModelError(f"tensor '{t.name}' uses external data without a location", _EXT_HINT)
    if "\0" in loc:
        raise ModelError(f"tensor '{t.name}' external data path contains a NUL byte", _EXT_HINT)
    win = PureWindowsPath(loc)
    if PurePosixPath(loc).is_absolute() or loc.startswith(("/", "\\")) or win.drive or ":" in loc:
        raise ModelError(f"tensor '{t.name}' external data path '{loc}' is absolute", _EXT_HINT)
    parts = tuple(p for p in win.parts if p not in ("", "."))  # splits on '/' and '\\'
    if any(p == ".." for p in parts):
        raise ModelError(f"tensor '{t.name}' external data path '{loc}' leaves the model folder", _EXT_HINT)
    if not parts:
        raise ModelError(f"tensor '{t.name}' external data path '{loc}' names no file", _EXT_HINT)
    return parts


def _open_confined(t: onnx.TensorProto, base: Path, parts: tuple[str, ...], loc: str) -> int:
    """Open base/parts without following any symlink; return a read-only fd of a regular file."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | nofollow | (os.O_NONBLOCK if last else getattr(os, "O_DIRECTORY", 0))
            try:
                nfd = os.open(part, flags, dir_fd=fd)
            except OSError as e:
                sub = "/".join(parts[: i + 1])
                if e.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(os.path.join(base, sub)):
                    raise ModelError(f"tensor '{t.name}' external data path '{loc}' is a symlink", _EXT_HINT) from None
                if e.errno in (errno.ENOENT, errno.ENOTDIR):
                    raise ModelError(f"tensor '{t.name}' external data file '{loc}' does not exist", _EXT_HINT) \
                        from None
                raise ModelError(f"tensor '{t.name}' external data file '{loc}' cannot be opened: "
                                 f"{e.strerror}", _EXT_HINT) from None
            os.close(fd)
            fd = nfd
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ModelError(f"tensor '{t.name}' external data path '{loc}' is not a regular file inside the "
                             "model folder", _EXT_HINT)
        if st.st_nlink > 1:
            raise ModelError(f"tensor '{t.name}' external data file '{loc}' has {st.st_nlink} hard links; "
                             "edge-sdk cannot tell whether it lies outside the model folder",
                             "make a real copy of the file (cp without --link) next to the model")
        out, fd = fd, -1
        return out
    finally:
        if fd >= 0:
            os.close(fd)


def _load_external(t: onnx.TensorProto, base: Path) -> None:
    """Check one external reference and replace it by the bytes it names (read through one fd)."""
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location", "")
    parts = _location_parts(t, loc)
    declared = _declared_bytes(t)
    if declared > MAX_TENSOR_BYTES:
        raise ModelError(f"tensor '{t.name}' declares {declared} bytes, over the {MAX_TENSOR_BYTES >> 20} MiB limit")
    fd = _open_confined(t, base, parts, loc)
    try:
        size = os.fstat(fd).st_size
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else size - offset
        except ValueError:
            raise ModelError(f"tensor '{t.name}' has a malformed external data offset/length "
                             f"('{info.get('offset', '')}', '{info.get('length', '')}')", _EXT_HINT) from None
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelError(f"tensor '{t.name}' external data range [{offset}, {offset + length}) "
                             f"is outside '{loc}' ({size} bytes)", "re-export the model with its external data")
        if length != declared:
            raise ModelError(f"tensor '{t.name}' declares {declared} bytes but its external data holds {length}",
                             "re-export the model with its external data")
        chunks, pos = [], offset
        while pos < offset + length:
            chunk = os.pread(fd, min(offset + length - pos, 64 << 20), pos)
            if not chunk:
                raise ModelError(f"tensor '{t.name}' external data file '{loc}' shrank while being read")
            chunks.append(chunk)
            pos += len(chunk)
    finally:
        os.close(fd)
    del t.external_data[:]
    t.data_location = onnx.TensorProto.DEFAULT
    t.raw_data = b"".join(chunks)


def _check_data_matches_shape(t: onnx.TensorProto) -> None:
    try:
        numpy_helper.to_array(t)
    except Exception as e:
        raise ModelError(f"tensor '{t.name}' data does not match its declared shape {list(t.dims)} "
                         f"(data type {t.data_type}): {one_line(e, 120)}",
                         "re-export the model; its weights are corrupt") from None


def load_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Parse, validate and return the model with its external data loaded."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file '{path}' does not exist")
    if not path.is_file():
        raise ModelError(f"'{path}' is not a file", "pass the path of an .onnx file")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelError(f"'{path}' is {size} bytes; ONNX files are limited to 2 GiB",
                         "store large weights as external data")
    if size == 0:
        raise ModelError(f"'{path}' is empty", "check the file was exported completely")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ModelError(f"'{path}' is not a valid ONNX file: {type(e).__name__}: {one_line(e)}",
                         "check the file was exported completely") from None
    _check_text(model)
    if len(model.graph.sparse_initializer):  # never densified: refuse before anything reads their dims
        raise ModelError(f"tensor '{model.graph.sparse_initializer[0].values.name}' is a sparse initializer, "
                         "which edge-sdk does not compile", "store the weights densely when exporting")
    base = path.parent
    total = 0
    tensors = list(_all_tensors(model))
    for t in tensors:  # sizes first: nothing is read or allocated before every declaration is in bounds
        n = _declared_bytes(t)
        if n > MAX_TENSOR_BYTES:
            raise ModelError(f"tensor '{t.name}' declares {n} bytes, over the {MAX_TENSOR_BYTES >> 20} MiB limit",
                             "edge-sdk compiles models for edge devices; this tensor cannot be one")
        total += n
        if total > MAX_TOTAL_BYTES:
            raise ModelError(f"the model's tensors declare more than {MAX_TOTAL_BYTES >> 30} GiB in total",
                             "edge-sdk compiles models for edge devices; this model cannot be one")
    for t in tensors:
        if t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data):
            _load_external(t, base)
        _check_data_matches_shape(t)
    check_model(model, str(path))
    return model


def _is_text(x) -> bool:
    if not isinstance(x, str):  # protobuf hands back bytes for a string field that is not valid UTF-8
        return False
    try:
        x.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _check_text(model: onnx.ModelProto) -> None:
    """Names reach onnx's C++ API, which rejects non-UTF-8 with a TypeError: refuse them first."""
    g = model.graph
    for i, n in enumerate(g.node):
        if not all(_is_text(x) for x in (n.name, n.op_type, n.domain, *n.input, *n.output,
                                         *(a.name for a in n.attribute))):
            raise ModelError(f"node #{i} has a name, op type or tensor name that is not valid UTF-8",
                             "re-export the model; the file is corrupt")
    for kind, items in (("input", g.input), ("output", g.output), ("value_info", g.value_info),
                        ("initializer", g.initializer), ("opset import", model.opset_import)):
        for x in items:
            if not _is_text(getattr(x, "name", getattr(x, "domain", ""))):
                raise ModelError(f"a graph {kind} has a name that is not valid UTF-8",
                                 "re-export the model; the file is corrupt")


def _check_graph_structure(model: onnx.ModelProto) -> None:
    """Name the node for the structural faults the checker reports without one: an op
    unknown to ONNX, an input nothing defines, an input produced later (a cycle)."""
    g = model.graph
    opset = next((i.version for i in model.opset_import if i.domain in ("", "ai.onnx")), None)
    producer = {o: (i, n) for i, n in enumerate(g.node) for o in n.output if o}
    known = {t.name for t in g.initializer} | {vi.name for vi in g.input}
    for i, n in enumerate(g.node):
        name = n.name or f"#{i}"
        if n.domain in ("", "ai.onnx") and opset is not None and not onnx.defs.has(n.op_type, opset):
            raise UnsupportedOpError(f"'{n.op_type}' is not an ONNX operator at opset {opset}", node=name,
                                     op_type=n.op_type, opset=opset,
                                     hint="see `edge-sdk ops` for what is supported; custom ops need a custom domain")
        for t in n.input:
            if not t or t in known:
                continue
            if t in producer and producer[t][0] >= i:
                later = producer[t][1].name or f"#{producer[t][0]}"
                raise ModelError(f"node '{name}' ({n.op_type}) reads '{t}', which node '{later}' computes at or "
                                 "after it: the graph has a cycle or is not topologically sorted",
                                 "re-export the model; ONNX graphs are acyclic and sorted")
            if t not in producer:
                raise ModelError(f"node '{name}' ({n.op_type}) reads '{t}', which no input, initializer or node "
                                 "defines", "re-export the model; a tensor is missing")
        known.update(o for o in n.output if o)


def check_model(model: onnx.ModelProto, where: str = "model") -> None:
    _check_graph_structure(model)
    if model.ByteSize() > MAX_MODEL_BYTES - (1 << 20):
        return  # checker cannot serialize it; individual checks already ran
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # ValidationError, and anything else the checker throws on hostile input
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{where} fails the ONNX checker: {one_line(first, 300)}",
                         "re-export the model with a current exporter") from None
