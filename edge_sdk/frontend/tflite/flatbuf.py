"""A minimal FlatBuffers reader for untrusted .tflite files (no `flatbuffers` or TensorFlow needed).

Only what TFLite's schema uses: tables with a vtable, scalars, offsets to tables,
vectors of scalars / tables / strings, and raw byte vectors (returned as zero-copy
memoryview slices).  Every offset read from the file is checked against the buffer
before it is followed, and vectors are checked before anything is allocated, so a
corrupt or hostile file gives a ModelError, never an IndexError, a hang or a huge
allocation.  Field ids are the schema's (0-based, in declaration order).
"""
from __future__ import annotations

import struct

from ...errors import ModelError

_HINT = "the file is not a valid .tflite flatbuffer (truncated or corrupt); re-export it"


class FlatbufferError(ModelError):
    def __init__(self, message: str):
        super().__init__(f"malformed .tflite: {message}", _HINT)


class Buf:
    """The file's bytes, with bounds-checked little-endian reads."""

    def __init__(self, data: bytes | memoryview):
        self.mv = memoryview(data).cast("B")
        self.n = len(self.mv)

    def need(self, pos: int, size: int, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > self.n:
            raise FlatbufferError(f"{what} at byte {pos} (+{size}) lies outside the {self.n}-byte file")

    def u8(self, pos: int) -> int:
        self.need(pos, 1, "byte")
        return self.mv[pos]

    def unpack(self, fmt: str, pos: int, what: str = "scalar"):
        size = struct.calcsize(fmt)
        self.need(pos, size, what)
        return struct.unpack_from(fmt, self.mv, pos)[0]

    def u32(self, pos: int) -> int:
        return self.unpack("<I", pos, "offset")

    def root(self) -> "Table":
        if self.n < 8:
            raise FlatbufferError(f"{self.n} bytes is too short for a flatbuffer")
        return Table(self, self.u32(0), "root")


class Table:
    """One table: `pos` is where its soffset to the vtable is stored."""

    __slots__ = ("buf", "pos", "vt", "vt_len", "what")

    def __init__(self, buf: Buf, pos: int, what: str):
        self.buf, self.pos, self.what = buf, pos, what
        vt = pos - buf.unpack("<i", pos, f"{what} vtable offset")
        self.vt_len = buf.unpack("<H", vt, f"{what} vtable")
        if self.vt_len < 4 or self.vt_len % 2:
            raise FlatbufferError(f"{what} has a vtable of impossible size {self.vt_len}")
        buf.need(vt, self.vt_len, f"{what} vtable")
        self.vt = vt

    def _field(self, fid: int) -> int:
        """Absolute position of field `fid`, or 0 when it is absent (default value)."""
        slot = 4 + 2 * fid
        if slot + 2 > self.vt_len:
            return 0
        off = self.buf.unpack("<H", self.vt + slot)
        return self.pos + off if off else 0

    def scalar(self, fid: int, fmt: str, default=0):
        p = self._field(fid)
        return default if not p else self.buf.unpack("<" + fmt, p, f"{self.what} field {fid}")

    def _indirect(self, fid: int) -> int:
        p = self._field(fid)
        return 0 if not p else p + self.buf.u32(p)

    def table(self, fid: int, what: str) -> "Table | None":
        p = self._indirect(fid)
        return Table(self.buf, p, what) if p else None

    def _vector(self, fid: int, elem: int, what: str) -> tuple[int, int]:
        """(start, length) of a vector field; (0, 0) when absent.  Bounds checked for all elements."""
        p = self._indirect(fid)
        if not p:
            return 0, 0
        n = self.buf.u32(p)
        self.buf.need(p + 4, n * elem, f"{self.what}.{what} ({n} elements)")
        return p + 4, n

    def ints(self, fid: int, fmt: str = "i", what: str = "vector") -> list[int] | list[float]:
        start, n = self._vector(fid, struct.calcsize(fmt), what)
        return list(struct.unpack_from(f"<{n}{fmt}", self.buf.mv, start)) if n else []

    def bytes_(self, fid: int, what: str = "bytes") -> memoryview:
        start, n = self._vector(fid, 1, what)
        return self.buf.mv[start:start + n]

    def string(self, fid: int, what: str = "string") -> str:
        return bytes(self.bytes_(fid, what)).decode("utf-8", "replace")

    def tables(self, fid: int, what: str) -> list["Table"]:
        start, n = self._vector(fid, 4, what)
        return [Table(self.buf, start + 4 * i + self.buf.u32(start + 4 * i), f"{what}[{i}]") for i in range(n)]
