"""Real multipliers -> (Q31 multiplier, shift), exactly as TFLite's QuantizeMultiplier.

The C++ side (kernels/int8/requant.h) applies them; together they are the one
requantization rule of edge-sdk's int8 code.
"""
from __future__ import annotations

import math

import numpy as np

QMIN, QMAX = -128, 127


def quantize_multiplier(real: float) -> tuple[int, int]:
    """M -> (q, shift) with M ~= q * 2^(shift - 31), q in [2^30, 2^31) (or 0)."""
    if real <= 0.0 or not math.isfinite(real):
        return 0, 0
    m, shift = math.frexp(real)           # real = m * 2^shift, m in [0.5, 1)
    q = int(math.floor(m * (1 << 31) + 0.5))  # TfLiteRound: half away from zero (m > 0)
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:                       # too small to represent: the product is 0
        return 0, 0
    if shift > 30:
        shift, q = 30, (1 << 31) - 1
    return q, shift


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(reals, np.float64).reshape(-1)]
    return (np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32))


def short_requant(shifts) -> bool:
    """Every shift in [-23, -1]: the x86 conv epilogues' short requantization form applies to every
    channel (requant_const() in requant_x86.h), so they drop the per-channel test for the long one."""
    s = np.asarray(shifts).reshape(-1)
    return bool(s.size) and bool(np.all((s >= -23) & (s <= -1)))


def choose_qparams(lo: float, hi: float) -> tuple[float, int]:
    """Asymmetric int8 (scale, zero_point) covering [lo, hi], with real 0 exactly representable."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        return 1.0, 0
    scale = (hi - lo) / (QMAX - QMIN)
    zp = int(round(QMIN - lo / scale))
    return float(np.float32(scale)), int(min(max(zp, QMIN), QMAX))


def clamp_range(activation, scale: float, zp: int) -> tuple[int, int]:
    """A fused activation as the int8 clamp range [lo, hi], or None if it is not a clamp."""
    kind, a, b = activation or (None, 0.0, 0.0)
    lo, hi = QMIN, QMAX
    if kind is None:
        return lo, hi
    if kind == "Relu":
        return max(lo, zp), hi
    if kind == "Clip":
        if math.isfinite(a):
            lo = max(lo, min(hi, zp + int(round(a / scale))))
        if math.isfinite(b):
            hi = min(hi, max(lo, zp + int(round(b / scale))))
        return lo, hi
    return None
