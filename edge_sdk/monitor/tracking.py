"""Faces followed across frames, their fake scores smoothed, and a flag raised once per track.

A single frame's score is noisy (blur, pose, compression), so a face is flagged only after
its smoothed score has stayed at or above the threshold for k scored frames in a row; a
track raises one flag, and may raise another only after it has cleared (k scored frames in
a row below the threshold) when re-flagging is enabled.
"""
from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field

from ..errors import UserError


def iou(a, b) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw = min(ax1, bx1) - max(ax0, bx0)
    ih = min(ay1, by1) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def greedy_match(track_boxes: list, det_boxes: list, min_iou: float) -> list[tuple[int, int]]:
    """Pairs (track index, detection index), best IoU first, each side used at most once."""
    pairs = sorted(((iou(t, d), ti, di) for ti, t in enumerate(track_boxes) for di, d in enumerate(det_boxes)),
                   reverse=True)
    used_t, used_d, out = set(), set(), []
    for score, ti, di in pairs:
        if score < min_iou:
            break
        if ti in used_t or di in used_d:
            continue
        used_t.add(ti)
        used_d.add(di)
        out.append((ti, di))
    return out


class Smoother:
    """Per-track smoothing of fake scores: 'ema:ALPHA', 'mean:N' (window mean) or 'none'."""

    def __init__(self, spec: str = "ema:0.5"):
        self.spec = spec
        kind, _, arg = spec.partition(":")
        try:
            if kind == "ema":
                self.kind, self.alpha = "ema", float(arg or 0.5)
                ok = 0.0 < self.alpha <= 1.0
            elif kind == "mean":
                self.kind, self.window = "mean", int(arg or 5)
                ok = self.window >= 1
            elif kind == "none" and not arg:
                self.kind, ok = "none", True
            else:
                ok = False
        except ValueError:
            ok = False
        if not ok:
            raise UserError(f"bad --smoothing '{spec}'", "use ema:ALPHA (0 < ALPHA <= 1), mean:N (N >= 1) or none")

    def new_state(self):
        return collections.deque(maxlen=self.window) if self.kind == "mean" else None

    def update(self, state, previous: float | None, score: float):
        """Returns (new smoothed value, new state)."""
        if self.kind == "none":
            return score, state
        if self.kind == "ema":
            return (score if previous is None else self.alpha * score + (1 - self.alpha) * previous), state
        state.append(score)
        return sum(state) / len(state), state


@dataclass
class Track:
    id: int
    box: tuple
    detection: object                  # the latest matched Detection
    smoothed: float | None = None
    hits: int = 1
    missed: int = 0                    # frames in a row without a matching detection
    above: int = 0                     # scored frames in a row with smoothed >= threshold
    below: int = 0                     # scored frames in a row with smoothed < threshold
    flagged: bool = False
    flags: int = 0
    _state: object = field(default=None, repr=False)

    @property
    def matched(self) -> bool:
        return self.missed == 0


@dataclass
class TrackEvent:
    kind: str                          # "flag" or "clear"
    track: Track
    score: float


class Tracker:
    """IoU tracker with per-track smoothing and k-frame flagging (see the module docstring)."""

    def __init__(self, threshold: float = 0.5, k: int = 5, smoothing: str = "ema:0.5", min_iou: float = 0.3,
                 max_missed: int = 10, reflag: bool = False):
        if k < 1:
            raise UserError(f"--k must be at least 1, got {k}")
        if not 0.0 <= threshold <= 1.0:
            raise UserError(f"--threshold must be in [0, 1], got {threshold}")
        self.threshold, self.k, self.min_iou, self.max_missed, self.reflag = threshold, k, min_iou, max_missed, reflag
        self.smoother = Smoother(smoothing)
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self.total_tracks = 0

    def update(self, detections: list) -> list[TrackEvent]:
        """Match this frame's detections to tracks, update scores, return the flag/clear events it causes."""
        matches = greedy_match([t.box for t in self.tracks], [d.box for d in detections], self.min_iou)
        matched_t = {ti for ti, _ in matches}
        matched_d = {di for _, di in matches}
        events: list[TrackEvent] = []
        for ti, di in matches:
            t, d = self.tracks[ti], detections[di]
            t.box, t.detection, t.missed, t.hits = tuple(d.box), d, 0, t.hits + 1
            events += self._score(t, d.fake_score)
        for ti, t in enumerate(self.tracks):
            if ti not in matched_t:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for di, d in enumerate(detections):
            if di not in matched_d:
                t = Track(next(self._ids), tuple(d.box), d, _state=self.smoother.new_state())
                self.total_tracks += 1
                self.tracks.append(t)
                events += self._score(t, d.fake_score)
        return events

    def _score(self, t: Track, score: float | None) -> list[TrackEvent]:
        if score is None:  # face too small to score: leaves the smoothed value and the streaks alone
            return []
        t.smoothed, t._state = self.smoother.update(t._state, t.smoothed, float(score))
        if t.smoothed >= self.threshold:
            t.above, t.below = t.above + 1, 0
        else:
            t.above, t.below = 0, t.below + 1
        if not t.flagged and t.above >= self.k and (t.flags == 0 or self.reflag):
            t.flagged = True
            t.flags += 1
            return [TrackEvent("flag", t, t.smoothed)]
        if t.flagged and t.below >= self.k:
            t.flagged = False
            return [TrackEvent("clear", t, t.smoothed)]
        return []

    @property
    def active(self) -> list[Track]:
        """Tracks seen in the current frame."""
        return [t for t in self.tracks if t.missed == 0]
