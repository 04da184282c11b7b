"""Frame capture in its own thread: read deadline, bounded queue, fault detection, reconnection.

Two threads per source.  A *reader* owns one opened capture and does nothing but call
read(), because cv2's read() can block forever on a dead camera or stream and cannot be
interrupted.  The *supervisor* waits for the reader's frames with a deadline, checks them
(frozen, black), hands them to the consumer through a bounded queue, and when something is
wrong abandons that reader (it releases its capture if read() ever returns), opens a new
capture with capped exponential backoff, and bumps the connection `generation` so that any
frame of the old connection still in flight is recognisably stale.
"""
from __future__ import annotations

import collections
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import UserError
from .sources import source_fps

STARTING, RUNNING, RECONNECTING, STOPPED, DONE, FAILED = \
    "STARTING", "RUNNING", "RECONNECTING", "STOPPED", "DONE", "FAILED"


@dataclass
class Frame:
    image: np.ndarray
    seq: int            # frames read from the source since start, over all connections (0-based)
    generation: int     # connection number; a frame from an older connection is stale
    t_read: float       # time.monotonic() when read() returned
    decode_ms: float    # time spent in read() (grab + decode)


@dataclass
class CaptureConfig:
    live: bool = True                  # camera/stream: drop stale frames, reconnect on faults
    loop: bool = False                 # file: start again at EOF
    realtime: bool = False             # file: pace at the file's fps and drop frames like a camera would
    read_timeout: float = 2.0          # seconds without a frame -> "hang"
    first_read_timeout: float = 10.0   # after (re)connecting: streams take a while to deliver the first frame
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_attempts: int | None = None    # consecutive failed opens before giving up; None = never give up
    frozen_frames: int = 150           # identical frames in a row -> "frozen" (a static H.264 scene can
                                       # decode to identical frames for a while: keep this generous)
    black_frames: int = 60             # frames darker than black_level in a row -> "black"
    black_level: float = 8.0           # mean pixel value (0..255)
    healthy_reset: int = 30            # healthy frames after which the backoff starts again from base
    queue_size: int | None = None      # default: 1 when dropping (keep only the newest), 4 otherwise

    @property
    def drops(self) -> bool:
        return self.live or self.realtime


class FrameHealth:
    """Notices a frozen feed (the same image again and again) and a black one, on a downsampled copy.

    An exact hash of the downsampled frame works because a live sensor never repeats
    itself bit for bit (noise), while a frozen driver hands back the same buffer.
    """

    def __init__(self, frozen_frames: int, black_frames: int, black_level: float):
        self.frozen_frames, self.black_frames, self.black_level = frozen_frames, black_frames, black_level
        self.reset()

    def reset(self) -> None:
        self._last_hash: bytes | None = None
        self.same_run = 0
        self.dark_run = 0

    def check(self, image: np.ndarray) -> str | None:
        """'frozen' or 'black' on the frame that completes a run of M, else None."""
        small = np.ascontiguousarray(image[::8, ::8])
        h = hashlib.blake2b(small.tobytes(), digest_size=16).digest()
        self.same_run = self.same_run + 1 if h == self._last_hash else 1
        self._last_hash = h
        self.dark_run = self.dark_run + 1 if float(small.mean()) < self.black_level else 0
        # A black picture is also a constant one: report the more specific fault.
        if self.black_frames and self.dark_run == self.black_frames:
            return "black"
        if self.frozen_frames and self.same_run == self.frozen_frames and self.dark_run == 0:
            return "frozen"
        return None


class FrameQueue:
    """Bounded hand-off to the consumer: either keeps the newest frames (live) or waits for room (files)."""

    def __init__(self, size: int):
        self.size = size
        self._items: collections.deque[Frame] = collections.deque()
        self._cond = threading.Condition()
        self.dropped = 0

    def put_latest(self, item: Frame) -> None:
        with self._cond:
            while len(self._items) >= self.size:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def put_wait(self, item: Frame, stop: threading.Event) -> bool:
        with self._cond:
            while len(self._items) >= self.size:
                if stop.is_set():
                    return False
                self._cond.wait(0.05)
            self._items.append(item)
            self._cond.notify()
            return True

    def get(self, timeout: float) -> Frame | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify()
            return item

    def clear(self) -> int:
        with self._cond:
            n = len(self._items)
            self._items.clear()
            self._cond.notify()
            return n


class _Reader(threading.Thread):
    """Calls read() on one capture until told to stop; releases the capture when done."""

    def __init__(self, cap, name: str):
        super().__init__(name=name, daemon=True)  # a read() that never returns must not keep the process alive
        self.cap = cap
        self.out: collections.deque = collections.deque()
        self.ready = threading.Semaphore(0)
        self.room = threading.Semaphore(1)   # at most one frame ahead of the supervisor
        self.cancelled = threading.Event()

    def _put(self, item) -> bool:
        while not self.cancelled.is_set():
            if self.room.acquire(timeout=0.05):
                if self.cancelled.is_set():
                    return False
                self.out.append(item)
                self.ready.release()
                return True
        return False

    def take(self, timeout: float):
        if not self.ready.acquire(timeout=timeout):
            return None
        item = self.out.popleft()
        self.room.release()
        return item

    def run(self) -> None:
        try:
            while not self.cancelled.is_set():
                try:
                    if not self.cap.isOpened():
                        self._put(("closed", None, 0.0, 0.0))
                        return
                    t0 = time.monotonic()
                    ok, img = self.cap.read()
                    t1 = time.monotonic()
                except Exception as e:  # a driver error is a disconnect, not a crash of the monitor
                    self._put(("error", f"{type(e).__name__}: {e}", 0.0, 0.0))
                    return
                if self.cancelled.is_set():
                    return
                if not ok or img is None:
                    self._put(("fail", None, 0.0, 0.0))
                    return
                if not self._put(("frame", img, t1, (t1 - t0) * 1000.0)):
                    return
        finally:
            try:
                self.cap.release()
            except Exception:
                pass


class CaptureThread:
    """Reads a source in the background and hands fresh frames to `get()`.

    opener() returns a new capture (cv2.VideoCapture interface) each time it is called.
    on_event(record) receives "fault" and "reconnect" records (called from the capture
    thread).  `state` is one of STARTING, RUNNING, RECONNECTING, STOPPED, DONE, FAILED;
    `states` keeps the history of transitions.
    """

    def __init__(self, opener: Callable[[], object], config: CaptureConfig,
                 on_event: Callable[[dict], None] | None = None, fps_hint: float | None = None,
                 name: str = "the video source"):
        self.opener, self.config, self.name = opener, config, name
        self.on_event = on_event or (lambda record: None)
        self.fps_hint = fps_hint
        size = config.queue_size or (1 if config.drops else 4)
        self.queue = FrameQueue(size)
        self.health = FrameHealth(config.frozen_frames, config.black_frames, config.black_level)
        self.generation = 0
        self.seq = 0
        self.state = STARTING
        self.states = [STARTING]
        self.end_reason: str | None = None
        self.faults: collections.Counter = collections.Counter()
        self.reconnects = 0
        self.discarded = 0          # frames thrown away from the queue at a fault (stale)
        self._stop = threading.Event()
        self.finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: _Reader | None = None
        self._failures = 0

    # -- consumer side -------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        return self.queue.dropped

    def get(self, timeout: float = 0.1) -> Frame | None:
        return self.queue.get(timeout)

    def is_stale(self, frame: Frame, now: float | None = None) -> bool:
        """A frame of an older connection, or (live sources) older than the read deadline."""
        if frame.generation != self.generation:
            return True
        if self.config.drops:
            now = time.monotonic() if now is None else now
            return now - frame.t_read > self.config.read_timeout
        return False

    def start(self) -> "CaptureThread":
        cap = self._open()
        if cap is None:
            raise UserError(f"cannot open {self.name}",
                            "check the camera index or path, that no other program holds the camera, "
                            "or the stream URL")
        if self.fps_hint is None:
            self.fps_hint = source_fps(cap)
        self._thread = threading.Thread(target=self._supervise, args=(cap,), name="edge-sdk-capture", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.cancelled.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.config.read_timeout + 2.0)
        if self._reader is not None:  # let a reader that is not stuck release the camera before we return
            self._reader.join(self.config.read_timeout)

    # -- capture side --------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.states.append(state)

    def _open(self):
        try:
            cap = self.opener()
        except UserError:
            raise
        except Exception:
            return None
        if cap is None or not cap.isOpened():
            if cap is not None:
                try:
                    cap.release()
                except Exception:
                    pass
            return None
        return cap

    def _supervise(self, cap) -> None:
        try:
            while not self._stop.is_set():
                if cap is None:
                    cap = self._reconnect()
                    if cap is None:
                        break
                self._set_state(RUNNING)
                outcome, detail = self._pump(cap)
                cap = None
                if outcome == "stop":
                    break
                if outcome == "eof":
                    if self.config.loop:
                        cap = self._open()
                        if cap is not None:
                            continue
                        outcome, detail = "disconnect", "cannot reopen the file to loop it"
                    else:
                        self.end_reason = "eof"
                        self._set_state(DONE)
                        break
                self._fault(outcome, detail)
                if not self.config.live:  # a file that hangs or errors will not get better by reopening it
                    self.end_reason = f"fault:{outcome}"
                    self._set_state(FAILED)
                    break
        finally:
            if self.end_reason is None:
                self.end_reason = "stopped"
                self._set_state(STOPPED)
            self.finished.set()

    def _pump(self, cap) -> tuple[str, str]:
        """Move frames from one connection to the queue until it ends; returns (outcome, detail)."""
        cfg = self.config
        reader = _Reader(cap, f"edge-sdk-reader-{self.generation}")
        self._reader = reader
        reader.start()
        self.health.reset()
        healthy, first, reported = 0, True, None
        pace_t0, paced = time.monotonic(), 0
        fps = self.fps_hint or 30.0
        try:
            while not self._stop.is_set():
                timeout = cfg.first_read_timeout if first else cfg.read_timeout
                item = reader.take(timeout)
                if item is None:
                    return ("stop", "") if self._stop.is_set() else ("hang", f"no frame within {timeout:g} s")
                kind, img, t_read, decode_ms = item
                if kind == "closed":
                    return "disconnect", "the capture reports it is closed (isOpened() is false)"
                if kind == "error":
                    return "disconnect", f"read() raised {img}"
                if kind == "fail":
                    return ("disconnect", "read() failed") if cfg.live else ("eof", "")
                first = False
                problem = self.health.check(img)
                if problem:
                    detail = (f"{cfg.frozen_frames} identical frames in a row" if problem == "frozen"
                              else f"{cfg.black_frames} frames darker than {cfg.black_level:g} in a row")
                    if cfg.live:
                        # The camera answers but the picture is bad: reopening may not help, so back off
                        # further each time rather than reconnecting every M frames for ever.
                        self._failures = min(self._failures + 1, 30)
                        return problem, detail
                    if reported != problem:  # a file may have black or still stretches: report, keep going
                        self._record_fault(problem, detail, RUNNING)
                        reported = problem
                elif self.health.same_run == 1 and self.health.dark_run == 0:
                    reported = None
                    healthy += 1
                    if healthy == cfg.healthy_reset:
                        self._failures = 0
                frame = Frame(img, self.seq, self.generation, t_read, decode_ms)
                self.seq += 1
                if cfg.realtime and not cfg.live:
                    paced += 1
                    delay = pace_t0 + paced / fps - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return "stop", ""
                if cfg.drops:
                    self.queue.put_latest(frame)
                elif not self.queue.put_wait(frame, self._stop):
                    return "stop", ""
            return "stop", ""
        finally:
            reader.cancelled.set()  # the reader releases its capture once read() returns

    def _record_fault(self, kind: str, detail: str, state: str) -> None:
        self.faults[kind] += 1
        self.on_event({"event": "fault", "kind": kind, "detail": detail, "state": state,
                       "generation": self.generation, "frame": self.seq})

    def _fault(self, kind: str, detail: str) -> None:
        # Everything read on this connection so far is now stale: bump the generation first,
        # then empty the queue, so a frame the consumer already holds is recognised as stale too.
        self.generation += 1
        self.discarded += self.queue.clear()
        next_state = RECONNECTING if self.config.live else FAILED
        self._set_state(next_state)
        self._record_fault(kind, detail, next_state)

    def _reconnect(self):
        cfg = self.config
        down_since = time.monotonic()
        attempt = 0
        while not self._stop.is_set():
            delay = min(cfg.backoff_cap, cfg.backoff_base * (2 ** self._failures))
            if self._stop.wait(delay):
                return None
            attempt += 1
            cap = self._open()
            if cap is not None:
                self.reconnects += 1
                self._set_state(RUNNING)
                self.on_event({"event": "reconnect", "attempts": attempt, "generation": self.generation,
                               "downtime_s": round(time.monotonic() - down_since, 3), "state": RUNNING})
                return cap
            self._failures = min(self._failures + 1, 30)
            if cfg.max_attempts and attempt >= cfg.max_attempts:
                self.end_reason = "gave_up"
                self._set_state(FAILED)
                self.faults["gave_up"] += 1
                self.on_event({"event": "fault", "kind": "gave_up", "state": FAILED, "generation": self.generation,
                               "detail": f"could not reopen the source after {attempt} attempts", "frame": self.seq})
                return None
        return None
