"""Face-crop manifests, identity groups and augmentation (OpenCV + numpy only).

The crops are 256x256 aligned faces (MesoNet's crop rule). They are FaceForensics++
research-only material read from /work/shared/data/faces; nothing here copies them anywhere.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DATA_ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces"  # ../shared beside the checkout
RESIZE = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}
_VIDEO_RE = re.compile(r"videos__(\d{3}(?:_\d{3})?)_f\d+")


@dataclass
class Split:
    images: np.ndarray      # (N, 256, 256, 3) uint8 RGB
    labels: np.ndarray      # (N,) 1 = fake
    sources: list[str]
    videos: list[str]       # "036" (real) or "036_035" (fake: target_source); "" for non-FF++ images
    paths: list[str]


def read_split(name: str, root: Path = DATA_ROOT) -> Split:
    rows = list(csv.DictReader(open(root / name / "manifest.csv", newline="")))
    imgs, labels, sources, videos, paths = [], [], [], [], []
    for r in rows:
        bgr = cv2.imread(str(root / r["path"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise RuntimeError(f"unreadable: {r['path']}")
        if bgr.shape[:2] != (256, 256):  # MesoNet's own test crops come at other sizes; its rule is nearest
            bgr = cv2.resize(bgr, (256, 256), interpolation=cv2.INTER_NEAREST)
        imgs.append(bgr[:, :, ::-1])
        labels.append(1 if r["label"] == "fake" else 0)
        sources.append(r["source"])
        m = _VIDEO_RE.search(r["path"])
        videos.append(m.group(1) if m else "")
        paths.append(r["path"])
    return Split(np.ascontiguousarray(np.stack(imgs)), np.asarray(labels, np.int64), sources, videos, paths)


def identity_holdout(videos: list[str], fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out samples: whole connected identity groups (a fake video
    '036_035' ties identities 036 and 035 together), so no face is on both sides."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            a = parent[a]
        return a
    for v in sorted(set(videos)):  # sorted: set order changes with PYTHONHASHSEED
        ids = v.split("_")
        for other in ids[1:]:
            ra, rb = find(ids[0]), find(other)
            parent[max(ra, rb)] = min(ra, rb)  # the root is the smallest id: independent of order
    groups = sorted({find(v.split("_")[0]) for v in videos})
    rng = np.random.default_rng(seed)
    rng.shuffle(groups)
    held: set[str] = set()
    target = fraction * len(videos)
    count = {g: sum(find(v.split("_")[0]) == g for v in videos) for g in groups}
    for g in groups:  # fill up to the requested share of samples
        if sum(count[h] for h in held) >= target:
            break
        held.add(g)
    return np.asarray([find(v.split("_")[0]) in held for v in videos])


def to_input(rgb256: np.ndarray, size: int, resize: str) -> np.ndarray:
    """(256, 256, 3) uint8 -> (3, S, S) float32 in [0, 1]: the deployed preprocessing."""
    img = rgb256 if size == rgb256.shape[0] else cv2.resize(rgb256, (size, size), interpolation=RESIZE[resize])
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255.0


def augment(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0, p_grey: float = 0.0) -> np.ndarray:
    """One training view of a 256x256 RGB crop; output stays 256x256 uint8 RGB.
    `strength` scales how often each degradation is applied (1 = the full recipe)."""
    img = rgb
    k = strength
    # scale / shift / small rotation jitter around the aligned crop
    if rng.random() < 0.8:
        s = rng.uniform(0.9, 1.12)
        ang = rng.uniform(-6, 6)
        m = cv2.getRotationMatrix2D((128 + rng.uniform(-10, 10), 128 + rng.uniform(-10, 10)), ang, s)
        interp = [cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_AREA][rng.integers(3)]
        img = cv2.warpAffine(img, m, (256, 256), flags=interp, borderMode=cv2.BORDER_REFLECT_101)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    # colour jitter: brightness, contrast, saturation, small hue shift
    if rng.random() < 0.8:
        f = img.astype(np.float32)
        f = f * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
        mean = f.mean()
        f = (f - mean) * rng.uniform(0.75, 1.25) + mean
        grey = f.mean(axis=2, keepdims=True)
        f = (f - grey) * rng.uniform(0.7, 1.3) + grey
        img = np.clip(f, 0, 255).astype(np.uint8)
        if rng.random() < 0.3:
            hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2HSV)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + rng.integers(-6, 7)) % 180).astype(np.uint8)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if p_grey and rng.random() < p_grey:  # skin tone is an identity cue, not an artefact
        g = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
        img = np.repeat(g[:, :, None], 3, axis=2)
    # lower resolution: faces far from the camera are small in the frame
    if rng.random() < 0.2 * k:
        side = int(rng.integers(96, 200))
        small = cv2.resize(np.ascontiguousarray(img), (side, side), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (256, 256), interpolation=[cv2.INTER_NEAREST, cv2.INTER_LINEAR][rng.integers(2)])
    if rng.random() < 0.25 * k:
        img = cv2.GaussianBlur(np.ascontiguousarray(img), (0, 0), rng.uniform(0.3, 1.3))
    if rng.random() < 0.6 * k:  # JPEG re-compression at a random quality
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[:, :, ::-1]),
                               [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(95 - int(60 * k), 96))])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    if rng.random() < 0.15 * k:
        img = np.clip(img.astype(np.float32) + rng.normal(0, rng.uniform(1, 5), img.shape), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)
