"""Per-axis source indices and weights for Resize, following the ONNX Resize
specification (coordinate transformation modes, nearest modes, linear and
cubic interpolation, antialias, exclude_outside).  Pure numpy, compile time."""
from __future__ import annotations

import math

import numpy as np


def source_coords(mode: str, out_len: int, in_len: int, scale: float, roi: tuple[float, float] | None):
    """Source coordinate of every output index, and the tf_crop_and_resize extrapolation mask."""
    y = np.arange(out_len, dtype=np.float64)
    out_w = scale * in_len
    extrap = None
    if mode == "align_corners":
        x = np.zeros(out_len) if out_w == 1 else y * (in_len - 1) / (out_w - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        r0, r1 = roi
        x = np.full(out_len, (r1 - r0) * (in_len - 1) / 2) if out_w == 1 else y * (r1 - r0) * (in_len - 1) / (out_w - 1)
        x = x + r0 * (in_len - 1)
        extrap = (x < 0) | (x > in_len - 1)
    elif mode == "pytorch_half_pixel":
        x = np.full(out_len, -0.5) if out_w == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / out_w)
        x = offset + (y + 0.5) / scale - 0.5
    else:
        raise ValueError(mode)
    return x, extrap


def nearest_coeffs(ratio: float, mode: str) -> np.ndarray:
    if float(ratio).is_integer():
        return np.array([0.0, 1.0])
    pick_ceil = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
                 "floor": False, "ceil": True}[mode]
    return np.array([0.0, 1.0]) if pick_ceil else np.array([1.0, 0.0])


def linear_coeffs(ratio: float, scale: float, antialias: bool) -> np.ndarray:
    if not antialias:
        return np.array([1 - ratio, ratio])
    scale = min(scale, 1.0)
    start = int(np.floor(-1 / scale) + 1)
    args = (np.arange(start, start + 2 - 2 * start) - ratio) * scale
    c = np.clip(1 - np.abs(args), 0, 1)
    return c / c.sum()


def cubic_coeffs(ratio: float, scale: float, a: float, antialias: bool) -> np.ndarray:
    if not antialias:
        r, s = ratio, 1 - ratio
        return np.array([((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                         ((a + 2) * r - (a + 3)) * r * r + 1,
                         ((a + 2) * s - (a + 3)) * s * s + 1,
                         ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a])
    scale = min(scale, 1.0)

    def k(x):
        x = abs(x)
        if x <= 1:
            return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
        return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a if x < 2 else 0.0

    i0 = int(np.floor(-2 / scale) + 1)
    c = np.array([k(scale * (i - ratio)) for i in range(i0, 2 - i0)])
    return c / c.sum()


def axis_table(in_len: int, out_len: int, scale: float, at: dict, roi=None):
    """(indices [out_len, taps] int32, weights [out_len, taps] float, extrapolate mask or None)."""
    x, extrap = source_coords(at["coordinate_transformation_mode"], out_len, in_len, scale, roi)
    xi = np.floor(x)
    ratios = np.where(x == xi, 1.0, x - xi)
    mode, aa = at["mode"], bool(at.get("antialias", 0))
    if mode == "nearest":
        fn = lambda r: nearest_coeffs(r, at["nearest_mode"])  # noqa: E731
    elif mode == "linear":
        fn = lambda r: linear_coeffs(r, scale, aa)  # noqa: E731
    else:
        fn = lambda r: cubic_coeffs(r, scale, float(at["cubic_coeff_a"]), aa)  # noqa: E731
    w = np.stack([fn(float(r)) for r in ratios]) if out_len else np.zeros((0, 1))
    n = w.shape[1]
    pad = int(math.ceil(n / 2))
    xp = x + pad
    pp = np.floor(xp)
    frac = xp - pp
    if n % 2 == 0:
        off = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        base = -((n - 1) // 2)
        off = np.where(frac <= 0.5, base, base + 1)
    idx = (pp + off).astype(np.int64)[:, None] + np.arange(n)[None, :] - pad
    if at.get("exclude_outside", 0):
        w = np.where((idx < 0) | (idx >= in_len), 0.0, w)
        s = w.sum(axis=-1, keepdims=True)
        w = w / np.where(s == 0, 1.0, s)
    idx = np.clip(idx, 0, in_len - 1).astype(np.int32)
    return idx, w, extrap
