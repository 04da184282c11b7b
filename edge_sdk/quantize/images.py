"""Calibration samples from a folder of images and a preprocessing spec
(`--calibration DIR --preprocess size=224,layout=nchw,scale=1/255,mean=0.485:0.456:0.406,...`).

The spec must match what the model saw in training; the defaults (RGB, [0, 1], NCHW,
bilinear) suit most torchvision-style exports.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
RESIZE = {"nearest": 0, "bilinear": 1, "area": 3, "bicubic": 2}  # cv2.INTER_* values


@dataclass(frozen=True)
class Preprocess:
    height: int
    width: int
    layout: str = "nchw"          # or "nhwc"
    scale: float = 1.0 / 255.0    # applied first: x * scale
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)  # then (x - mean) / std per channel
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    channels: str = "rgb"         # or "bgr"
    resize: str = "bilinear"      # nearest, bilinear, area, bicubic

    @classmethod
    def parse(cls, spec: str, input_shape: tuple[int, ...] | None = None) -> "Preprocess":
        """'size=224,layout=nchw,scale=1/255,mean=a:b:c,std=a:b:c,channels=rgb,resize=bilinear'."""
        kv: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if "=" not in part:
                raise UserError(f"preprocessing item '{part}' is not key=value")
            k, v = part.split("=", 1)
            kv[k.strip().lower()] = v.strip()
        layout = kv.pop("layout", "nchw").lower()
        if "size" in kv:
            dims = [int(d) for d in kv.pop("size").lower().split("x")]
            h, w = (dims[0], dims[0]) if len(dims) == 1 else (dims[0], dims[1])
        elif input_shape is not None and len(input_shape) == 4:
            h, w = (input_shape[2], input_shape[3]) if layout == "nchw" else (input_shape[1], input_shape[2])
        else:
            raise UserError("the preprocessing spec needs size=HxW")

        def num(s: str) -> float:
            a, _, b = s.partition("/")
            return float(a) / float(b) if b else float(a)

        def triple(s: str) -> tuple[float, ...]:
            return tuple(num(x) for x in s.split(":"))
        try:
            p = cls(h, w, layout, num(kv.pop("scale", "1/255")), triple(kv.pop("mean", "0:0:0")),
                    triple(kv.pop("std", "1:1:1")), kv.pop("channels", "rgb").lower(), kv.pop("resize", "bilinear").lower())
        except ValueError as e:
            raise UserError(f"bad preprocessing spec '{spec}': {e}") from None
        if kv:
            raise UserError(f"unknown preprocessing keys: {', '.join(sorted(kv))}",
                            "use size, layout, scale, mean, std, channels, resize")
        if p.layout not in ("nchw", "nhwc") or p.channels not in ("rgb", "bgr") or p.resize not in RESIZE:
            raise UserError(f"bad preprocessing spec '{spec}'",
                            "layout nchw|nhwc, channels rgb|bgr, resize nearest|bilinear|area|bicubic")
        return p

    def load(self, path: Path) -> np.ndarray:
        """One image -> (1, C, H, W) or (1, H, W, C) float32."""
        try:
            import cv2
        except ImportError:
            raise UserError("OpenCV is needed to read images", "pip install 'edge-sdk[vision]'") from None
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise UserError(f"cannot read image '{path}'")
        return self.from_bgr(bgr)

    def from_bgr(self, bgr: np.ndarray) -> np.ndarray:
        """A BGR uint8 image (as OpenCV gives) -> (1, C, H, W) or (1, H, W, C) float32."""
        import cv2
        if bgr.shape[:2] != (self.height, self.width):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=RESIZE[self.resize])
        img = (bgr[:, :, ::-1] if self.channels == "rgb" else bgr).astype(np.float32) * np.float32(self.scale)
        if any(self.mean) or any(s != 1.0 for s in self.std):
            img = (img - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        if self.layout == "nchw":
            img = img.transpose(2, 0, 1)
        return np.ascontiguousarray(img[None], dtype=np.float32)


def load_image_folder(folder: str | Path, spec: Preprocess, limit: int = 500, seed: int = 0) -> np.ndarray:
    """Up to `limit` images under `folder` (recursively; a fixed-seed sample if there are more)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under '{folder}'")
    if len(files) > limit:
        files = [files[i] for i in sorted(np.random.default_rng(seed).choice(len(files), limit, replace=False))]
    return np.concatenate([spec.load(f) for f in files])
