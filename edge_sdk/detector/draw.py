"""Boxes, landmarks and scores drawn onto a frame (annotated images and videos)."""
from __future__ import annotations

import numpy as np

from .types import Detection

RED, GREEN, GREY = (0, 0, 230), (0, 200, 0), (160, 160, 160)


def draw_detections(frame: np.ndarray, detections: list[Detection], labels: list[str] | None = None,
                    flagged: list[bool] | None = None) -> np.ndarray:
    """Draw in place and return the frame.  Red: fake (or `flagged`), green: real, grey: unscored.
    `labels` replaces the default text (e.g. with a track id)."""
    import cv2
    thick = max(1, round(frame.shape[1] / 640))
    for i, d in enumerate(detections):
        fake = flagged[i] if flagged is not None else d.is_fake
        colour = GREY if d.fake_score is None else (RED if fake else GREEN)
        x0, y0, x1, y1 = (int(round(v)) for v in d.box)
        cv2.rectangle(frame, (x0, y0), (x1, y1), colour, thick)
        for x, y in np.asarray(d.landmarks):
            cv2.circle(frame, (int(x), int(y)), thick, colour, -1)
        text = labels[i] if labels else ("?" if d.fake_score is None else
                                         f"{'FAKE' if fake else 'real'} {d.fake_score:.2f}")
        cv2.putText(frame, text, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * thick, colour, thick,
                    cv2.LINE_AA)
    return frame
