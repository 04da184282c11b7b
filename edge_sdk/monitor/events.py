"""The monitor's event log: one JSON object per line, appended, each line durable on its own.

Each record is written with a single os.write() on an O_APPEND descriptor and then
fsync'ed before emit() returns, so every record emit() reported is a whole, durable line.
The one exception is the record being written at the instant of a kill -9: Linux stops a
write at a page boundary when a fatal signal is pending, so it can leave a partial last
line.  That record never completed, so nothing committed is lost: read_events() ignores
such a tail, and the next EventLog on the file cuts it off before appending.  If the file
stops accepting writes (disk full, permissions changed, medium removed) the error is
reported once on stderr and the monitor keeps running: the events still reach stdout.
"""
from __future__ import annotations

import collections
import datetime as _dt
import json
import os
import sys
import threading

from ..errors import UserError


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _human(record: dict) -> str:
    e = record.get("event")
    if e == "flag":
        return (f"[{record['time']}] FLAG track {record['track']} at frame {record['frame']}: "
                f"fake score {record['score']:.3f}, box {record['box']}")
    if e == "clear":
        return (f"[{record['time']}] clear track {record['track']} at frame {record['frame']} "
                f"(score {record['score']:.3f})")
    if e == "fault":
        return f"[{record['time']}] FAULT {record['kind']}: {record.get('detail', '')} -> {record.get('state', '')}"
    if e == "reconnect":
        return (f"[{record['time']}] reconnected after {record['attempts']} attempt(s), "
                f"{record['downtime_s']:.1f} s down")
    if e == "start":
        return f"[{record['time']}] monitoring {record['source']} (threshold {record['threshold']}, k {record['k']})"
    if e == "stop":
        return f"[{record['time']}] stopped ({record.get('reason', '')})"
    return json.dumps(record, sort_keys=True)


class EventLog:
    """Writes event records to an optional JSON-lines file and echoes them to a text stream.

    echo: "text" (one readable line per event), "json" (the JSON line itself) or None.
    Thread-safe: the capture thread reports faults while the main loop reports flags.
    """

    def __init__(self, path: str | None = None, echo: str | None = "text", stream=None, err=None):
        self.path = path
        self.echo = echo
        self.stream = stream if stream is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.failed: str | None = None      # the first write error, once the file stopped accepting lines
        self.written = 0
        self.records: collections.deque[dict] = collections.deque(maxlen=1000)  # the most recent records (bounded: the monitor runs for months)
        self._lock = threading.Lock()
        self._fd: int | None = None
        if path:
            self._open(path)

    def _open(self, path: str) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)  # read: to check the last byte
        except OSError:
            try:  # write-only targets (a FIFO, /dev/full in tests) are fine too
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as e:
                raise UserError(f"cannot open the events file '{path}': {e.strerror}",
                                "choose a writable path for --events") from None
        try:
            self._drop_partial_tail()
        except OSError:
            pass

    def _drop_partial_tail(self) -> None:
        """Cut off a partial last line left by a killed writer, so the file stays valid JSON lines."""
        size = os.fstat(self._fd).st_size
        if not size or os.pread(self._fd, 1, size - 1) == b"\n":
            return
        end = size
        while end > 0:  # find the last newline, reading backwards in blocks
            start = max(0, end - 65536)
            cut = os.pread(self._fd, end - start, start).rfind(b"\n")
            if cut >= 0:
                end = start + cut + 1
                break
            end = start
        os.ftruncate(self._fd, end)
        print(f"edge-sdk: note: removed a {size - end}-byte partial record that an interrupted run left "
              f"at the end of '{self.path}'", file=self.err, flush=True)

    def _write_bytes(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def emit(self, record: dict) -> dict:
        record = {"event": record["event"], "time": record.get("time") or now_iso(),
                  **{k: v for k, v in record.items() if k not in ("event", "time")}}
        line = json.dumps(record, separators=(",", ":"), default=_jsonable) + "\n"
        with self._lock:
            self.records.append(record)
            if self._fd is not None and self.failed is None:
                try:
                    self._write_bytes(line.encode())
                    os.fsync(self._fd)
                    self.written += 1
                except OSError as e:
                    self.failed = f"{e.strerror or e}"
                    print(f"edge-sdk: warning: cannot write to the events file '{self.path}' ({self.failed}); "
                          f"events continue on stdout only", file=self.err, flush=True)
                    if self.echo is None:  # --quiet: the flags must still go somewhere
                        self.echo = "text"
            if self.echo == "json":
                print(line, end="", file=self.stream, flush=True)
            elif self.echo == "text":
                print(_human(record), file=self.stream, flush=True)
        return record

    def print_json(self, record: dict) -> None:
        """A stdout-only JSON line (periodic stats), not written to the events file."""
        with self._lock:
            print(json.dumps(record, separators=(",", ":"), default=_jsonable), file=self.stream, flush=True)

    def print_text(self, text: str) -> None:
        with self._lock:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
                self._fd = None


def read_events(path) -> list[dict]:
    """The records of an events file; a partial last line (a writer killed mid-write) is ignored."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    return [json.loads(line) for line in lines[:-1] if line]


def _jsonable(x):
    try:
        import numpy as np
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:
        pass
    return str(x)
