"""What the monitor writes besides events: annotated frames (video, window) and face snapshots.

Both outputs are best effort: a folder or file that cannot be written is reported once on
stderr and the monitor keeps running.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

RED, GREEN, GREY = (0, 0, 255), (0, 200, 0), (160, 160, 160)


def draw_tracks(frame: np.ndarray, tracks, threshold: float) -> np.ndarray:
    """A copy of `frame` with each visible track's box, id and smoothed score; red when flagged."""
    import cv2
    out = frame.copy()
    for t in tracks:
        x0, y0, x1, y1 = (int(round(v)) for v in t.box)
        if t.flagged:
            color = RED
        elif t.smoothed is None:
            color = GREY
        else:
            color = GREEN if t.smoothed < threshold else (0, 165, 255)  # orange: above threshold, not yet k frames
        cv2.rectangle(out, (x0, y0), (x1, y1), color, 2)
        label = f"#{t.id} " + ("--" if t.smoothed is None else f"{t.smoothed:.2f}") + (" FAKE" if t.flagged else "")
        cv2.putText(out, label, (x0, max(12, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
    return out


def _warn(msg: str) -> None:
    print(f"edge-sdk: warning: {msg}", file=sys.stderr, flush=True)


class VideoRecorder:
    """Annotated frames into an .mp4 (mp4v), opened on the first frame so the size is known."""

    def __init__(self, path: str, fps: float):
        self.path, self.fps = path, fps
        self._writer = None
        self.failed: str | None = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if self.failed:
            return
        import cv2
        if self._writer is None:
            h, w = frame.shape[:2]
            parent = Path(self.path).parent
            if not parent.is_dir() or not os.access(parent, os.W_OK):
                self.failed = f"folder '{parent}' does not exist or is not writable"
            else:
                self._writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
                if not self._writer.isOpened():
                    self.failed = "OpenCV could not open a video writer for it"
            if self.failed:
                _warn(f"cannot record to '{self.path}': {self.failed}; continuing without recording")
                return
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


class SnapshotWriter:
    """JPEGs of flagged faces (the classifier's crop, else the box) and optionally the whole frame."""

    def __init__(self, folder: str, full_frame: bool = False):
        self.folder, self.full_frame = Path(folder), full_frame
        self.failed: str | None = None
        self.written: list[str] = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self._fail(e.strerror or str(e))

    def _fail(self, why: str) -> None:
        if self.failed is None:
            self.failed = why
            _warn(f"cannot write snapshots to '{self.folder}': {why}; monitoring continues without snapshots")

    def save(self, frame: np.ndarray, track, frame_no: int) -> None:
        if self.failed:
            return
        import cv2
        det = track.detection
        crop = getattr(det, "crop", None)
        if crop is None:
            h, w = frame.shape[:2]
            x0, y0, x1, y1 = track.box
            x0, y0 = max(0, int(x0)), max(0, int(y0))
            x1, y1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
            crop = frame[y0:y1, x0:x1]
        stem = f"frame{frame_no:07d}_track{track.id}"
        jobs = [(self.folder / f"{stem}_face.jpg", crop)]
        if self.full_frame:
            jobs.append((self.folder / f"{stem}_frame.jpg", frame))
        for path, img in jobs:
            try:
                ok = img is not None and img.size > 0 and cv2.imwrite(str(path), img)
            except cv2.error as e:
                ok = False
                self._fail(str(e).strip().splitlines()[-1])
            if not ok:
                self._fail("the JPEG could not be written (folder removed, read-only or disk full?)")
                return
            self.written.append(str(path))
