"""The monitor loop: capture -> detector -> tracker -> events, stats, snapshots, video, window.

The detector is passed in (anything with run(bgr_frame) -> list[Detection] and, optionally,
`last_times` with detect/align/classify milliseconds), so the same loop runs the compiled
deepfake detector on a Pi and a test's detector on a fake camera.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

from ..errors import UserError
from .annotate import SnapshotWriter, VideoRecorder, draw_tracks
from .capture import CaptureConfig, CaptureThread, Frame
from .events import EventLog
from .sources import SourceSpec, open_source
from .stats import Stats, format_stats
from .tracking import Tracker

WINDOW = "edge-sdk monitor"


@dataclass
class MonitorConfig:
    threshold: float | None = None      # None: the detector's own threshold
    k: int = 5                          # scored frames in a row at/above threshold before a flag
    smoothing: str = "ema:0.5"
    min_iou: float = 0.3
    max_missed: int = 10                # frames a track survives without a matching face
    reflag: bool = False
    max_frames: int | None = None
    duration: float | None = None
    stats_every: float = 5.0            # seconds; 0 disables the periodic line
    snapshots: str | None = None
    snapshot_frames: bool = False
    record: str | None = None
    display: bool = False
    json: bool = False
    quiet: bool = False


def check_display() -> None:
    """Refuse --display up front when no window can be opened (no X/Wayland, or headless OpenCV)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and os.name != "nt":
        raise UserError("--display needs a graphical session, and DISPLAY is not set",
                        "run headless (the default) with --record out.mp4 or --snapshots DIR, or use ssh -X")
    import cv2
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        raise UserError("--display: this OpenCV build has no GUI support (opencv-python-headless)",
                        "pip install opencv-python instead of opencv-python-headless, or use --record") from None


class Monitor:
    """Runs until the source ends, a bound is reached or request_stop() is called; run() returns the summary."""

    def __init__(self, detector, source: SourceSpec | Callable[[], object], *, config: MonitorConfig | None = None,
                 capture: CaptureConfig | None = None, events: EventLog | None = None, source_name: str | None = None,
                 fps_hint: float | None = None):
        self.detector = detector
        self.config = config or MonitorConfig()
        if isinstance(source, SourceSpec):
            self.opener = lambda: open_source(source)
            self.source_name = source_name or str(source)
            self.capture_config = capture or CaptureConfig(live=source.live)
        else:
            self.opener = source
            self.source_name = source_name or getattr(source, "__name__", "custom source")
            self.capture_config = capture or CaptureConfig()
        self.fps_hint = fps_hint
        cfg = self.config
        self.threshold = cfg.threshold if cfg.threshold is not None else float(getattr(detector, "threshold", 0.5))
        self.tracker = Tracker(threshold=self.threshold, k=cfg.k, smoothing=cfg.smoothing, min_iou=cfg.min_iou,
                               max_missed=cfg.max_missed, reflag=cfg.reflag)
        self.events = events or EventLog(None, echo="json" if cfg.json else ("text" if not cfg.quiet else None))
        self.stats = Stats()
        self.capture: CaptureThread | None = None
        self._stop = threading.Event()
        self._stop_reason: str | None = None

    def request_stop(self, reason: str = "stopped") -> None:
        """Finish the current frame, then stop (safe to call from a signal handler or another thread)."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stop.set()

    def _on_capture_event(self, record: dict) -> None:
        self.events.emit(record)

    def install_signal_handlers(self) -> Callable[[], None]:
        """SIGINT/SIGTERM stop the loop cleanly; returns a function restoring the previous handlers."""
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, lambda s, f: self.request_stop(signal.Signals(s).name))
        return lambda: [signal.signal(s, h) for s, h in old.items()]

    def run(self) -> dict:
        cfg = self.config
        if cfg.display:
            check_display()
        self.capture = cap = CaptureThread(self.opener, self.capture_config, on_event=self._on_capture_event,
                                           fps_hint=self.fps_hint, name=f"video source '{self.source_name}'")
        cap.start()
        fps = cap.fps_hint or 30.0
        recorder = VideoRecorder(cfg.record, fps) if cfg.record else None
        snaps = SnapshotWriter(cfg.snapshots, cfg.snapshot_frames) if cfg.snapshots else None
        self.events.emit({"event": "start", "source": self.source_name, "threshold": self.threshold, "k": cfg.k,
                          "smoothing": cfg.smoothing, "live": self.capture_config.live, "pid": os.getpid(),
                          "detector": _describe(self.detector)})
        t0 = time.monotonic()
        next_stats = t0 + cfg.stats_every if cfg.stats_every else None
        reason = None
        try:
            while not self._stop.is_set():
                if cfg.max_frames is not None and self.stats.frames >= cfg.max_frames:
                    reason = "max_frames"
                    break
                now = time.monotonic()
                if cfg.duration is not None and now - t0 >= cfg.duration:
                    reason = "duration"
                    break
                if next_stats is not None and now >= next_stats:
                    self._report_stats()
                    next_stats = now + cfg.stats_every
                frame = cap.get(0.05)
                if frame is None:
                    if cap.finished.is_set():
                        frame = cap.get(0.0)
                        if frame is None:
                            reason = cap.end_reason
                            break
                    else:
                        continue
                if cap.is_stale(frame):
                    self.stats.stale += 1
                    continue
                self._process(frame, recorder, snaps)
        except BaseException as e:  # the stop record still goes out, saying why
            reason = "interrupted" if isinstance(e, KeyboardInterrupt) else f"error: {type(e).__name__}: {e}"
            raise
        finally:
            cap.stop()
            if recorder:
                recorder.close()
            if cfg.display:
                _close_window()
            reason = self._stop_reason or reason or "stopped"
            summary = self.summary(reason)
            self.events.emit({"event": "stop", **summary})
            if not cfg.json and not cfg.quiet:
                self.events.print_text("summary: " + format_stats(summary))
        return summary

    def _process(self, frame: Frame, recorder, snaps) -> None:
        t0 = time.perf_counter()
        detections = self.detector.run(frame.image)
        lt = getattr(self.detector, "last_times", None)
        events = self.tracker.update(detections)
        for ev in events:
            t = ev.track
            rec = {"event": ev.kind, "frame": frame.seq, "track": t.id, "box": [round(float(v), 1) for v in t.box],
                   "score": round(float(ev.score), 4)}
            if ev.kind == "flag":
                self.stats.flags += 1
                rec["face_score"] = round(float(t.detection.face_score), 4)
                if snaps:
                    snaps.save(frame.image, t, frame.seq)
            self.events.emit(rec)
        if recorder or self.config.display:
            annotated = draw_tracks(frame.image, self.tracker.active, self.threshold)
            if recorder:
                recorder.write(annotated)
            if self.config.display:
                import cv2
                cv2.imshow(WINDOW, annotated)
                if (cv2.waitKey(1) & 0xFF) in (ord("q"), 27):
                    self.request_stop("quit key")
        total = (time.perf_counter() - t0) * 1000.0
        times = {"decode": frame.decode_ms, "total": total}
        if lt is not None:
            times.update(detect=lt.detect_ms, align=lt.align_ms, classify=lt.classify_ms)
        if self.stats.frames == 0:
            self.stats.add_first_frame(times, len(detections))
        else:
            self.stats.add_frame(times, len(detections))

    def _counters(self) -> dict:
        cap = self.capture
        return {"tracks": len(self.tracker.active), "tracks_total": self.tracker.total_tracks,
                "flags": self.stats.flags, "dropped": cap.dropped if cap else 0,
                "stale": self.stats.stale + (cap.discarded if cap else 0), "state": cap.state if cap else "?"}

    def _report_stats(self) -> None:
        if self.stats.frames == 0:  # still loading the detector or waiting for the first frame
            return
        window = self.stats.window(**self._counters())
        if self.config.json:
            self.events.print_json(window)
        elif not self.config.quiet:
            self.events.print_text(format_stats(window))

    def summary(self, reason: str) -> dict:
        cap = self.capture
        extra = self._counters()
        extra.pop("flags")
        extra.pop("stale")
        s = self.stats.summary(**extra)
        s["stale"] += cap.discarded if cap else 0
        s.update(reason=reason, frames_read=cap.seq if cap else 0, reconnects=cap.reconnects if cap else 0,
                 faults=dict(cap.faults) if cap else {}, events_file_error=self.events.failed)
        return s


def _describe(detector) -> str:
    d = getattr(detector, "describe", None)
    if callable(d):
        try:
            return str(d())
        except Exception:
            pass
    return type(detector).__name__


def _close_window() -> None:
    try:
        import cv2
        cv2.destroyWindow(WINDOW)
    except Exception:
        pass
