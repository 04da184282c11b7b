"""`edge-sdk demo`: compile the bundled MesoNet for this machine and score the bundled face crops."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .compiler import compile as compile_model
from .errors import UserError
from .resources import assets_dir

DEFAULT_MODEL = "mesonet/meso4_df.onnx"


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


def run_demo(out_dir: str | Path = "out/demo-meso4", progress=None) -> list[dict]:
    model_path = assets_dir() / DEFAULT_MODEL
    model = compile_model(model_path, device="host", out_dir=out_dir, progress=progress,
                          command=f"edge-sdk demo ({DEFAULT_MODEL})")
    rows = []
    for img in sorted((assets_dir() / "samples").glob("*.jpg")):
        x = load_face_crop(img)
        p_real = float(model.run(x)[0].reshape(-1)[0])
        rows.append({"image": img.name, "p_real": p_real, "fake_score": 1.0 - p_real,
                     "verdict": "FAKE" if p_real < 0.5 else "real"})
    return rows
