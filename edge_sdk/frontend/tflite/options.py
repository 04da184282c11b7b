"""Builtin options of the TFLite operators the frontend reads (field ids from schema.fbs)."""
from __future__ import annotations

from .model import TflOperator

# op name -> [(field name, field id, struct format, default)]; "ivec" is a vector of int32
_CONV = [("padding", 0, "b", 0), ("stride_w", 1, "i", 0), ("stride_h", 2, "i", 0),
         ("fused_activation_function", 3, "b", 0), ("dilation_w_factor", 4, "i", 1),
         ("dilation_h_factor", 5, "i", 1)]
_DEPTHWISE = [("padding", 0, "b", 0), ("stride_w", 1, "i", 0), ("stride_h", 2, "i", 0),
              ("depth_multiplier", 3, "i", 0), ("fused_activation_function", 4, "b", 0),
              ("dilation_w_factor", 5, "i", 1), ("dilation_h_factor", 6, "i", 1)]
_POOL = [("padding", 0, "b", 0), ("stride_w", 1, "i", 0), ("stride_h", 2, "i", 0), ("filter_width", 3, "i", 0),
         ("filter_height", 4, "i", 0), ("fused_activation_function", 5, "b", 0)]
_ACT = [("fused_activation_function", 0, "b", 0)]
FIELDS = {
    "CONV_2D": _CONV,
    "DEPTHWISE_CONV_2D": _DEPTHWISE,
    "FULLY_CONNECTED": [("fused_activation_function", 0, "b", 0), ("weights_format", 1, "b", 0),
                        ("keep_num_dims", 2, "?", False), ("asymmetric_quantize_inputs", 3, "?", False)],
    "AVERAGE_POOL_2D": _POOL,
    "MAX_POOL_2D": _POOL,
    "ADD": _ACT + [("pot_scale_int16", 1, "?", True)],
    "SUB": _ACT + [("pot_scale_int16", 1, "?", True)],
    "MUL": _ACT,
    "CONCATENATION": [("axis", 0, "i", 0), ("fused_activation_function", 1, "b", 0)],
    "MEAN": [("keep_dims", 0, "?", False)],
    "SOFTMAX": [("beta", 0, "f", 0.0)],
    "RESHAPE": [("new_shape", 0, "ivec", None)],
    "SQUEEZE": [("squeeze_dims", 0, "ivec", None)],
    "STRIDED_SLICE": [("begin_mask", 0, "i", 0), ("end_mask", 1, "i", 0), ("ellipsis_mask", 2, "i", 0),
                      ("new_axis_mask", 3, "i", 0), ("shrink_axis_mask", 4, "i", 0), ("offset", 5, "?", False)],
    "RESIZE_NEAREST_NEIGHBOR": [("align_corners", 0, "?", False), ("half_pixel_centers", 1, "?", False)],
    "LEAKY_RELU": [("alpha", 0, "f", 0.0)],
    "PACK": [("values_count", 0, "i", 0), ("axis", 1, "i", 0)],
    "SHAPE": [("out_type", 0, "b", 2)],
}


def opts_of(op: TflOperator) -> dict:
    out = {}
    for name, fid, fmt, default in FIELDS.get(op.name, []):
        if op.options is None:
            out[name] = default
        elif fmt == "ivec":
            out[name] = op.options.ints(fid, "i", name) or default
        else:
            out[name] = op.options.scalar(fid, fmt, default)
    return out
