"""Deepfake-face detection on edge-sdk compiled models: YuNet finds faces, they are
aligned the way the classifier was trained, and a compiled classifier scores them."""
from .classifier import ClassifierSpec, FaceClassifier, bundled_names, fake_probability
from .detector import Detector
from .types import Detection, StageTimes

__all__ = ["Detector", "Detection", "StageTimes", "ClassifierSpec", "FaceClassifier", "bundled_names",
           "fake_probability"]
