"""What the deepfake-face detector returns for one frame."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detection:
    """One face in a frame.

    box: (x0, y0, x1, y1) in frame pixels.  landmarks: 5x2 (x, y) in frame pixels, in
    YuNet's order: right eye, left eye, nose tip, right mouth corner, left mouth corner
    (right/left as seen from the person).  face_score: detector confidence in [0, 1].
    fake_score: the classifier's probability that the face is manipulated, in [0, 1], or
    None when the face was not scored (smaller than the detector's `min_face`).
    is_fake: fake_score >= threshold.
    """
    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    face_score: float
    fake_score: float | None
    is_fake: bool
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)  # aligned BGR crop fed to the classifier

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict:
        return {"box": [round(float(v), 1) for v in self.box],
                "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in np.asarray(self.landmarks)],
                "face_score": round(float(self.face_score), 4),
                "fake_score": None if self.fake_score is None else round(float(self.fake_score), 4),
                "is_fake": bool(self.is_fake)}


@dataclass
class StageTimes:
    """Milliseconds spent in each stage of the last Detector.run()."""
    detect_ms: float = 0.0
    align_ms: float = 0.0
    classify_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"detect_ms": self.detect_ms, "align_ms": self.align_ms, "classify_ms": self.classify_ms}
