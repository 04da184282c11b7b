"""Throughput and per-stage latency of the monitor loop: periodic windows and a whole-run summary."""
from __future__ import annotations

import collections
import time

import numpy as np

STAGES = ("decode", "detect", "align", "classify", "total")


def _mean_p90(values) -> dict:
    if not len(values):
        return {"mean_ms": None, "p90_ms": None}
    a = np.asarray(values, dtype=np.float64)
    return {"mean_ms": round(float(a.mean()), 3), "p90_ms": round(float(np.percentile(a, 90)), 3)}


class Stats:
    """Counters plus latency samples per stage; `window()` reports and restarts the periodic window."""

    def __init__(self, clock=time.monotonic, keep: int = 10_000):
        self.clock = clock
        self.t_start = clock()
        self.frames = 0            # frames scored
        self.faces = 0             # detections over all scored frames
        self.flags = 0
        self.stale = 0             # frames refused because they were stale
        # Whole run: exact means from running sums; p90 over the last `keep` frames, so memory
        # stays flat however long the monitor runs (an unbounded list grew RSS 6% in a 30-min soak).
        self._all = {s: collections.deque(maxlen=keep) for s in STAGES}
        self._sum = {s: 0.0 for s in STAGES}
        self._count = {s: 0 for s in STAGES}
        self._win = {s: [] for s in STAGES}
        self._win_t0 = self.t_start
        self._win_frames = 0
        self._win_faces = 0
        self._frames_at_start = 0
        self.first_frame_ms: float | None = None

    def add_first_frame(self, times_ms: dict, faces: int) -> None:
        """The first frame pays for loading (or compiling) the models: it is counted, but its
        latency is kept apart and the fps clock starts after it."""
        self.frames += 1
        self.faces += faces
        self.first_frame_ms = times_ms.get("total")
        self.t_start = self._win_t0 = self.clock()
        self._frames_at_start = self.frames

    def add_frame(self, times_ms: dict, faces: int) -> None:
        self.frames += 1
        self.faces += faces
        self._win_frames += 1
        self._win_faces += faces
        for s in STAGES:
            v = times_ms.get(s)
            if v is not None:
                self._all[s].append(v)
                self._sum[s] += v
                self._count[s] += 1
                self._win[s].append(v)

    def window(self, **extra) -> dict:
        now = self.clock()
        dt = max(now - self._win_t0, 1e-9)
        out = {"event": "stats", "seconds": round(dt, 3), "frames": self._win_frames,
               "fps": round(self._win_frames / dt, 2), "faces": self._win_faces,
               "latency": {s: _mean_p90(self._win[s]) for s in STAGES}, **extra}
        self._win = {s: [] for s in STAGES}
        self._win_t0, self._win_frames, self._win_faces = now, 0, 0
        return out

    def summary(self, **extra) -> dict:
        dt = max(self.clock() - self.t_start, 1e-9)
        return {"seconds": round(dt, 3), "frames": self.frames,
                "fps": round((self.frames - self._frames_at_start) / dt, 2), "first_frame_ms": self.first_frame_ms,
                "faces": self.faces, "flags": self.flags, "stale": self.stale,
                "latency": {s: self._run_latency(s) for s in STAGES}, **extra}

    def _run_latency(self, stage: str) -> dict:
        d = _mean_p90(self._all[stage])
        if self._count[stage]:
            d["mean_ms"] = round(self._sum[stage] / self._count[stage], 3)
        return d


def format_stats(d: dict) -> str:
    lat = d["latency"]
    parts = [f"{s} {lat[s]['mean_ms']:.1f}/{lat[s]['p90_ms']:.1f}" for s in STAGES if lat[s]["mean_ms"] is not None]
    return (f"{d.get('fps', 0):6.1f} fps  faces {d.get('faces', 0)}  tracks {d.get('tracks', 0)}  "
            f"flags {d.get('flags', 0)}  dropped {d.get('dropped', 0)}  stale {d.get('stale', 0)}  "
            f"state {d.get('state', '?')}  ms mean/p90: " + ", ".join(parts))
