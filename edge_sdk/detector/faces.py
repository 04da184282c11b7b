"""Face detection with YuNet, compiled by edge-sdk itself.

YuNet (libfacedetection, Apache-2.0) is the network OpenCV's FaceDetectorYN runs.  It
takes a BGR image in [0, 255] (no scaling) whose sides are multiples of 32 and gives,
for each of the strides 8, 16 and 32 and each cell, a class and an objectness score,
a box and five landmarks relative to the cell.  The decoding below follows OpenCV's
(face_detect.cpp), so boxes match FaceDetectorYN's.  The frame is resized to
`detect_width` (aspect kept) and zero-padded at the bottom/right to one of a few input
heights (ASPECTS), so that a handful of compiled variants serve frames of any size.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..resources import assets_dir
from .model_cache import compiled

YUNET = "yunet/face_detection_yunet_2023mar.onnx"
STRIDES = (8, 16, 32)
ASPECTS = (9 / 16, 3 / 4, 1.0, 4 / 3, 16 / 9)  # input height / width buckets, each compiled once


@dataclass
class Face:
    box: np.ndarray        # x0, y0, x1, y1 in frame pixels
    landmarks: np.ndarray  # 5x2: right eye, left eye, nose, right mouth corner, left mouth corner
    score: float


def _pad_to(n: int, d: int = 32) -> int:
    return max(d, ((n + d - 1) // d) * d)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression, highest score first (boxes as x0, y0, x1, y1)."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


def decode_yunet(outputs: dict[str, np.ndarray], width: int, height: int, score_threshold: float):
    """YuNet's raw outputs (named cls_8 ... kps_32) for a width x height input ->
    (boxes Nx4, landmarks Nx5x2, scores N) in input pixels, before NMS."""
    boxes, kps, scores = [], [], []
    for s in STRIDES:
        cols, rows = width // s, height // s
        cls = np.clip(outputs[f"cls_{s}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{s}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        idx = np.nonzero(score >= score_threshold)[0]
        if idx.size == 0:
            continue
        r, c = (idx // cols).astype(np.float32), (idx % cols).astype(np.float32)
        b = outputs[f"bbox_{s}"].reshape(rows * cols, 4)[idx]
        k = outputs[f"kps_{s}"].reshape(rows * cols, 5, 2)[idx]
        cx, cy = (c + b[:, 0]) * s, (r + b[:, 1]) * s
        w, h = np.exp(b[:, 2]) * s, np.exp(b[:, 3]) * s
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        kps.append(np.stack([(k[:, :, 0] + c[:, None]) * s, (k[:, :, 1] + r[:, None]) * s], axis=2))
        scores.append(score[idx])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros(0, np.float32)
    return np.concatenate(boxes), np.concatenate(kps), np.concatenate(scores)


class YuNet:
    """YuNet compiled for `device` at a fixed input size derived from the frame size.

    One compiled model per distinct frame size (cached on disk, see model_cache), so a
    camera's frames never trigger a recompile."""

    def __init__(self, detect_width: int = 320, device: str = "host", score_threshold: float = 0.6,
                 nms_threshold: float = 0.3, top_k: int = 50, model: str | Path | None = None, progress=None):
        if detect_width < 32:
            raise InputError(f"detect_width must be at least 32 pixels, got {detect_width}")
        self.detect_width = int(detect_width)
        self.device = device
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.top_k = top_k
        self.model_path = Path(model) if model else assets_dir() / YUNET
        self._progress = progress
        self._models: dict[tuple[int, int], object] = {}

    def input_size(self, frame_w: int, frame_h: int) -> tuple[int, int, float]:
        """(input width, input height, scale frame->input) for a frame size: the frame is
        scaled to fit the smallest aspect bucket that holds it at `detect_width`."""
        pw = _pad_to(self.detect_width)
        aspect = frame_h / frame_w
        bucket = next((a for a in ASPECTS if a >= aspect - 1e-6), ASPECTS[-1])
        ph = _pad_to(round(pw * bucket))
        scale = min(pw / frame_w, ph / frame_h)
        return pw, ph, scale

    def _model(self, pw: int, ph: int):
        m = self._models.get((pw, ph))
        if m is None:
            m = compiled(self.model_path, self.device, "none", {"input": (1, 3, ph, pw)}, progress=self._progress)
            self._models[(pw, ph)] = m
        return m

    def blob(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """The network input for a BGR frame: resized, zero-padded, NCHW float32."""
        import cv2
        fh, fw = frame.shape[:2]
        pw, ph, scale = self.input_size(fw, fh)
        img = frame if scale == 1.0 else cv2.resize(frame, (round(fw * scale), round(fh * scale)),
                                                    interpolation=cv2.INTER_LINEAR)
        x = np.zeros((1, 3, ph, pw), np.float32)
        x[0, :, :img.shape[0], :img.shape[1]] = img.transpose(2, 0, 1)
        return x, scale

    def detect(self, frame: np.ndarray) -> list[Face]:
        x, scale = self.blob(frame)
        ph, pw = x.shape[2:]
        model = self._model(pw, ph)
        outs = dict(zip((t["name"] for t in model.outputs), model.run(x)))
        boxes, kps, scores = decode_yunet(outs, pw, ph, self.score_threshold)
        keep = nms(boxes, scores, self.nms_threshold)[: self.top_k]
        return [Face(boxes[i] / scale, kps[i] / scale, float(scores[i])) for i in keep]
