"""Detector: faces in a BGR frame -> aligned crops -> fake scores, all edge-sdk code.

    from edge_sdk import Detector
    det = Detector()                      # bundled default classifier, compiled on first use
    for d in det.run(frame):              # frame: HxWx3 uint8 BGR, as OpenCV gives
        print(d.box, d.fake_score, d.is_fake)
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..devices import get_device
from ..errors import InputError
from .align import aligned_crop
from .classifier import DEFAULT_CLASSIFIER, ClassifierSpec, FaceClassifier
from .faces import YuNet
from .types import Detection, StageTimes


def _resolve_quantize(quantize: str | None, device: str) -> str:
    if quantize is None:
        return get_device(device).default_quantize or "none"
    return quantize


class Detector:
    """Deepfake-face detector.

    model: None for the bundled default, the name of a bundled classifier
        (edge_sdk.detector.bundled_names()), a ClassifierSpec, or a path to your own ONNX
        classifier (then give `preprocess` and `output`, see ClassifierSpec.for_model).
    device: the device profile the models are compiled for (must run on this machine).
    quantize: None (the device's default), "none" or "int8" for the classifier.
    threshold: fake_score at or above which a face is called fake; None takes the
        classifier's recommended threshold.
    min_face: faces whose crop side (in frame pixels) is below this are detected but not
        scored (fake_score None): too few pixels to judge, and small real faces are exactly
        what weak classifiers call fake.
    min_face_score: faces YuNet is less sure of than this are detected but not scored either:
        their landmarks (profiles, occlusion, motion blur) give a misaligned crop, and a
        misaligned real face is what MesoNet-style classifiers call fake.
    detect_width: frames wider than this are scaled down to it for face detection.
    """

    def __init__(self, model: str | Path | ClassifierSpec | None = None, device: str = "host",
                 quantize: str | None = None, threshold: float | None = None, *, min_face: int = 96,
                 min_face_score: float = 0.8,
                 detect_width: int = 640, face_threshold: float = 0.6, preprocess: str | None = None,
                 output: str = "p_fake", keep_crops: bool = False, progress=None):
        if isinstance(model, ClassifierSpec):
            spec = model
        elif model is None or (isinstance(model, str) and not str(model).endswith(".onnx")
                               and not Path(model).exists()):
            spec = ClassifierSpec.bundled(model or DEFAULT_CLASSIFIER)
        else:
            spec = ClassifierSpec.for_model(model, preprocess, output)
        self.spec = spec
        self.device = device
        self.quantize = _resolve_quantize(quantize, device)
        self.threshold = spec.threshold if threshold is None else float(threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise InputError(f"threshold must be in [0, 1], got {self.threshold}")
        self.min_face = int(min_face)
        self.min_face_score = float(min_face_score)
        self.keep_crops = keep_crops
        self.faces = YuNet(detect_width, device, score_threshold=face_threshold, progress=progress)
        self.classifier = FaceClassifier(spec, device, self.quantize, progress=progress)
        self.last_times = StageTimes()

    def _check(self, frame) -> np.ndarray:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise InputError(f"frame must be an HxWx3 uint8 BGR array, got {got}")
        if frame.shape[0] < 8 or frame.shape[1] < 8:
            raise InputError(f"frame of {frame.shape[1]}x{frame.shape[0]} pixels is too small")
        return frame

    def run(self, frame: np.ndarray) -> list[Detection]:
        """All faces in one BGR frame, most confident first."""
        frame = self._check(frame)
        t0 = time.perf_counter()
        faces = self.faces.detect(frame)
        t1 = time.perf_counter()
        align_s = classify_s = 0.0
        out: list[Detection] = []
        spec = self.spec
        for f in faces:
            ta = time.perf_counter()
            side = spec.crop_scale * max(np.hypot(*(f.landmarks[0] - f.landmarks[1])),
                                         np.hypot(*((f.landmarks[0] + f.landmarks[1] - f.landmarks[3]
                                                     - f.landmarks[4]) / 2)))
            crop = None
            if side >= self.min_face and f.score >= self.min_face_score:
                crop = aligned_crop(frame, f.landmarks, spec.crop_size, spec.crop_scale, spec.crop_resize)
            tb = time.perf_counter()
            score = self.classifier.score(crop) if crop is not None else None
            tc = time.perf_counter()
            align_s += tb - ta
            classify_s += tc - tb
            out.append(Detection(tuple(float(v) for v in f.box), f.landmarks.astype(np.float32), f.score, score,
                                 score is not None and score >= self.threshold,
                                 crop if self.keep_crops else None))
        self.last_times = StageTimes((t1 - t0) * 1e3, align_s * 1e3, classify_s * 1e3)
        return out

    __call__ = run

    def __repr__(self) -> str:
        return (f"Detector(model='{self.spec.name}', device='{self.device}', quantize='{self.quantize}', "
                f"threshold={self.threshold})")
