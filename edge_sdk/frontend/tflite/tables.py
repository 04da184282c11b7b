"""Elementwise int8 TFLite ops as 256-entry tables, computed at compile time.

An int8 -> int8 function has 256 possible inputs, so LOGISTIC, TANH, HARD_SWISH,
LEAKY_RELU, RELU/RELU6/RELU_N1_TO_1 and int8->int8 QUANTIZE become one table each
(the QLookup op, kernels/int8/qops.h lut_s8).  Each table is computed exactly as
TFLite's reference kernels compute the value (activations.cc with
OpResolverType.BUILTIN_REF, quantize.cc): the same integer fixed-point steps, and
float32 where TFLite uses float32 (its LOGISTIC/TANH tables call expf/tanhf).  The
tests feed all 256 codes through LiteRT's reference interpreter and compare.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from ...quantize.fixedpoint import quantize_multiplier

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
F32 = np.float32


def _wrap32(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def _wrap16(v: int) -> int:
    return (v + (1 << 15)) % (1 << 16) - (1 << 15)


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm32(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _cdiv(ab + nudge, 1 << 31)


def rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT (ties away from zero), any signed width."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier (double rounding, as requant.h)."""
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm32(_wrap32(x * (1 << left)), multiplier), right)


def tfl_round(x: float) -> int:
    """TfLiteRound / std::round: half away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def activation_range(act: int, scale: float, zp: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8: act 0 NONE, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6."""
    def q(v: float) -> int:  # zp + TfLiteRound(v / scale), the division in float32
        return zp + tfl_round(float(F32(v) / F32(scale)))
    lo, hi = -128, 127
    if act == 1:
        lo = max(lo, q(0.0))
    elif act == 3:
        lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
    elif act == 2:
        lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
    elif act != 0:
        raise ValueError(act)
    return lo, hi


def _clamp8(v: int) -> int:
    return -128 if v < -128 else 127 if v > 127 else v


def _table(fn) -> np.ndarray:
    """Table indexed by x + 128 (lut_s8's convention)."""
    return np.array([fn(x) for x in range(-128, 128)], np.int8)


def relu_table(s_in, z_in, s_out, z_out, lo_real: float, hi_real: float | None) -> np.ndarray:
    """RELU / RELU6 / RELU_N1_TO_1 on int8 (activations.cc QuantizedReluX)."""
    m, sh = quantize_multiplier(float(F32(s_in) / F32(s_out)))  # input.scale / output.scale in float32

    def bound(v: float) -> int:  # output.zero_point + roundf(v / output.scale), in float32
        return z_out + tfl_round(float(F32(v) / F32(s_out)))
    lo = max(-128, bound(lo_real))
    hi = 127 if hi_real is None else min(127, bound(hi_real))
    return _table(lambda x: max(lo, min(hi, z_out + mbqm(x - z_in, m, sh))))


def leaky_relu_table(s_in, z_in, s_out, z_out, alpha: float) -> np.ndarray:
    """LEAKY_RELU on int8 (activations.cc LeakyReluPrepare, reference_ops::QuantizeLeakyRelu)."""
    # alpha_multiplier = input.scale * alpha / output.scale: float32 arithmetic, then widened to double
    m_a, s_a = quantize_multiplier(float(F32(F32(s_in) * F32(alpha)) / F32(s_out)))
    m_i, s_i = quantize_multiplier(float(F32(s_in) / F32(s_out)))

    def f(x: int) -> int:
        v = x - z_in
        return _clamp8(z_out + (mbqm(v, m_i, s_i) if v >= 0 else mbqm(v, m_a, s_a)))
    return _table(f)


def requantize_table(s_in, z_in, s_out, z_out) -> np.ndarray:
    """int8 -> int8 QUANTIZE (quantize.cc: input.scale / output.scale in double, then Requantize)."""
    m, sh = quantize_multiplier(float(np.float64(F32(s_in)) / np.float64(F32(s_out))))
    return _table(lambda x: _clamp8(mbqm(x - z_in, m, sh) + z_out))


_LIBM = None


def _libm():
    """The C library's expf/tanhf: TFLite builds its LOGISTIC/TANH tables with them."""
    global _LIBM
    if _LIBM is None:
        lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        for fn in ("expf", "tanhf"):
            getattr(lib, fn).restype = ctypes.c_float
            getattr(lib, fn).argtypes = [ctypes.c_float]
        _LIBM = lib
    return _LIBM


def _float_table(s_in, z_in, s_out, z_out, transform) -> np.ndarray:
    """activations.cc PopulateLookupTable<int8_t>: dequantize, transform, round, requantize in float32."""
    inverse_scale = F32(1) / F32(s_out)

    def f(x: int) -> int:
        dequantized = F32(s_in) * F32(x - z_in)
        rescaled = tfl_round(float(F32(transform(dequantized)) * inverse_scale))
        return _clamp8(int(rescaled + z_out))
    return _table(f)


def logistic_table(s_in, z_in, s_out, z_out) -> np.ndarray:
    expf = _libm().expf
    return _float_table(s_in, z_in, s_out, z_out, lambda v: F32(1) / (F32(1) + F32(expf(float(-v)))))


def tanh_table(s_in, z_in, s_out, z_out) -> np.ndarray:
    tanhf = _libm().tanhf
    return _float_table(s_in, z_in, s_out, z_out, lambda v: F32(tanhf(float(v))))


# ---- HARD_SWISH (reference_ops::HardSwish on int8 with HardSwishPrepare's int16 multipliers)

def _srdhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    return _wrap16(_cdiv(ab + nudge, 1 << 15))


def _sdhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    return _wrap16(_cdiv(a * b, 1 << 15))


def _sat_left16(v: int, amount: int) -> int:
    return max(-32768, min(32767, v * (1 << amount)))


def _downscale16(m32: int) -> int:
    if m32 >= INT32_MAX - (1 << 15):
        return 32767
    return (m32 + (1 << 15)) >> 16


def hard_swish_table(s_in, z_in, s_out, z_out) -> np.ndarray:
    hires = F32(1.0 / 128.0) * F32(s_in)
    out_m, out_e = quantize_multiplier(float(hires / F32(s_out)))
    relu_m, relu_e = quantize_multiplier(float(hires / F32(3.0 / 32768.0)))
    out_m16, relu_m16 = _downscale16(out_m), _downscale16(relu_m)
    if out_e > 0:
        raise ValueError("HARD_SWISH output multiplier exponent must be <= 0 (TFLite rejects the model)")

    def f(x: int) -> int:
        v = _wrap16(x - z_in)
        hi = _wrap16(v * (1 << 7))
        pre_out = _srdhm16(hi, out_m16)
        r = hi
        if relu_e > 0:
            r = _sat_left16(r, relu_e - 1)
        r = _srdhm16(r, relu_m16)
        if relu_e > 0:
            r = _sat_left16(r, 1)
        if relu_e < 0:
            r = rdbpot(r, -relu_e)
        r = _wrap16((r + (1 << 15)) >> 1)
        y = rdbpot(_sdhm16(r, pre_out), -out_e) + z_out
        return _clamp8(y)
    return _table(f)
