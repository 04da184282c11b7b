"""Reading a face crop the way MesoNet was trained (its sample crops, calibration folders)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import UserError


def load_face_crop(path: Path, size: int = 256) -> np.ndarray:
    """A face crop as MesoNet expects it: NCHW float32 RGB in [0, 1], resized with nearest-neighbour."""
    try:
        import cv2
    except ImportError:
        raise UserError("OpenCV is needed to read images", "pip install 'edge-sdk[vision]'") from None
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UserError(f"cannot read image '{path}'")
    if bgr.shape[:2] != (size, size):
        bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_NEAREST)
    rgb = bgr[:, :, ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
