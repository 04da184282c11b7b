"""Crop and align a face the way the classifiers were trained.

MesoNet's rule, which the shipped training crops follow: the crop's side is
2.86 x max(eye-to-eye, eyes-to-mouth), the face is rotated so the line from the eyes'
midpoint to the mouth's midpoint is vertical, and the result is resized to 256 with
nearest-neighbour sampling (what MesoNet trained with; bilinear measurably hurts).

The centre: measured on the training crops with YuNet's landmarks, the crop centre sits
0.028 x side above the midpoint between the eyes' and the mouth's midpoints (towards the
eyes), on the face's vertical axis; CENTRE_SHIFT encodes that.
"""
from __future__ import annotations

import numpy as np

CROP_SCALE = 2.86
CENTRE_SHIFT = 0.028

INTERPOLATIONS = {"nearest": 0, "bilinear": 1, "area": 3, "cubic": 2}  # cv2.INTER_* values


def face_geometry(landmarks: np.ndarray, scale: float = CROP_SCALE) -> tuple[np.ndarray, float, np.ndarray]:
    """(centre xy, side, unit vector eyes->mouth) for YuNet's five landmarks."""
    k = np.asarray(landmarks, np.float64).reshape(5, 2)
    eyes, mouth = (k[0] + k[1]) / 2, (k[3] + k[4]) / 2
    down = mouth - eyes
    eyes_mouth = float(np.hypot(*down))
    eye_eye = float(np.hypot(*(k[0] - k[1])))
    side = scale * max(eye_eye, eyes_mouth, 1e-3)
    down = down / eyes_mouth if eyes_mouth > 1e-6 else np.array([0.0, 1.0])
    centre = (eyes + mouth) / 2 - CENTRE_SHIFT * side * down
    return centre, side, down


def crop_matrix(landmarks: np.ndarray, size: int = 256, scale: float = CROP_SCALE) -> np.ndarray:
    """2x3 affine map from frame pixels to the upright size x size crop."""
    centre, side, down = face_geometry(landmarks, scale)
    s = size / side
    # Rows of the rotation take `down` to +y and its perpendicular to +x.
    right = np.array([down[1], -down[0]])
    rot = np.stack([right, down]) * s
    t = np.array([size / 2, size / 2]) - rot @ centre
    return np.hstack([rot, t[:, None]]).astype(np.float64)


def aligned_crop(frame: np.ndarray, landmarks: np.ndarray, size: int = 256, scale: float = CROP_SCALE,
                 interpolation: str = "nearest") -> np.ndarray:
    """The upright face crop (BGR uint8, size x size); outside the frame is black."""
    import cv2
    m = crop_matrix(landmarks, size, scale)
    # Sample centres: OpenCV maps destination pixel centres, so nearest picks the same source
    # pixels a resize of an axis-aligned crop would.
    return cv2.warpAffine(frame, m, (size, size), flags=INTERPOLATIONS[interpolation],
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def resize_crop(crop: np.ndarray, size: int, method: str) -> np.ndarray:
    """A crop resized to the classifier's input, with the method its spec names."""
    if crop.shape[0] == size and crop.shape[1] == size:
        return crop
    import cv2
    return cv2.resize(crop, (size, size), interpolation=INTERPOLATIONS[method])
