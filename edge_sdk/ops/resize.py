"""Resize (opset 10+) and Upsample (opset 7-9) with constant scales or sizes.

Each resized axis is one separable pass (resize.h) driven by index/weight
tables from resize_tables.py; two or more passes ping-pong through scratch.
"""
from __future__ import annotations

import math

import numpy as np

from ..codegen.context import cxx_literal
from .registry import OpDef, register, unsupported
from .resize_tables import axis_table

RESIZE_ATTRS = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                "nearest_mode": "round_prefer_floor", "cubic_coeff_a": -0.75, "exclude_outside": 0,
                "extrapolation_value": 0.0, "antialias": 0, "keep_aspect_ratio_policy": "stretch"}
MODES = ("nearest", "linear", "cubic")
TRANSFORMS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
              "tf_crop_and_resize")


def _const(g, name):
    v = g.const(name) if name else None
    return None if v is None or np.asarray(v).size == 0 else np.asarray(v, np.float64).reshape(-1)


class ResizeBase(OpDef):
    header = "edge_sdk/kernels/resize.h"
    dtypes = None
    attrs = RESIZE_ATTRS

    def settings(self, node, g) -> dict:
        """Attributes in Resize-13+ terms (older forms map onto them)."""
        at = self.attributes(node)
        if self.op_type == "Upsample" or g.opset < 11:  # asymmetric; nearest = np.repeat for integer scales
            at["coordinate_transformation_mode"] = "asymmetric"
            at["nearest_mode"] = "floor"
            at["mode"] = {"bilinear": "linear"}.get(at["mode"], at["mode"])
        return at

    def params(self, node, g):
        """(per-axis scales, per-axis roi pairs or None, resized axes order); None when not constant."""
        x = g.tensor(node.inputs[0]).shape
        y = g.tensor(node.outputs[0]).shape
        r = len(x)
        at = self.settings(node, g)
        roi = sizes = None
        if self.op_type == "Upsample" and g.opset < 9:
            scales = np.asarray(node.attr("scales"), np.float64)
        elif self.op_type == "Upsample" or g.opset < 11:
            scales = _const(g, node.input(1))
            if scales is None:
                return None
        else:
            if (node.input(1) and g.const(node.input(1)) is None) or (node.input(2) and g.const(node.input(2)) is None) \
                    or (node.input(3) and g.const(node.input(3)) is None):
                return None
            roi, scales, sizes = _const(g, node.input(1)), _const(g, node.input(2)), _const(g, node.input(3))
        axes = [int(a) % r for a in (at.get("axes") or range(r))]
        full = [1.0] * r
        if scales is not None:
            for a, s in zip(axes, scales):
                full[a] = float(s)
        elif sizes is not None:
            for a, s in zip(axes, sizes):
                full[a] = float(s) / x[a]
            policy = at["keep_aspect_ratio_policy"]
            if policy != "stretch":
                pick = min if policy == "not_larger" else max
                s = pick(full[a] for a in axes)
                full = [s if i in axes else 1.0 for i in range(r)]
        else:
            return None
        rois = None
        if roi is not None and at["coordinate_transformation_mode"] == "tf_crop_and_resize":
            rois = [(0.0, 1.0)] * r
            k = len(axes)
            for i, a in enumerate(axes):
                rois[a] = (float(roi[i]), float(roi[k + i]))
        def identity(a):  # the reference implementation skips these axes; so must we, for the same result
            plain_roi = rois is None or (math.isclose(rois[a][0], 0.0) and math.isclose(rois[a][1], 1.0))
            return math.isclose(full[a], 1.0) and y[a] == x[a] and plain_roi

        return full, rois, [a for a in axes if not identity(a)]

    def check(self, node, g):
        super().check(node, g)
        at = self.settings(node, g)
        if at["mode"] not in MODES:
            raise unsupported(node, g, f"mode '{at['mode']}' is not supported (supported: {', '.join(MODES)})")
        if at["coordinate_transformation_mode"] not in TRANSFORMS:
            raise unsupported(node, g, f"coordinate_transformation_mode '{at['coordinate_transformation_mode']}' "
                              "is not supported")
        if self.params(node, g) is None:
            raise unsupported(node, g, "scales/sizes (and roi) must be constants", "export with a fixed output size")
        if at["mode"] != "nearest" and np.dtype(g.tensor(node.inputs[0]).dtype) != np.float32:
            raise unsupported(node, g, f"{at['mode']} interpolation needs a float32 input")

    def scratch_bytes(self, node, g):
        return 2 * self._max_intermediate(node, g) * np.dtype(g.tensor(node.inputs[0]).dtype).itemsize

    def _max_intermediate(self, node, g) -> int:
        p = self.params(node, g)
        if p is None or len(p[2]) < 2:
            return 0
        cur, y, most = list(g.tensor(node.inputs[0]).shape), g.tensor(node.outputs[0]).shape, 0
        for a in p[2][:-1]:
            cur[a] = y[a]
            most = max(most, int(np.prod(cur, dtype=np.int64)))
        return most

    def emit(self, node, g, e):
        at = self.settings(node, g)
        scales, rois, passes = self.params(node, g)
        xname, yname = node.inputs[0], node.outputs[0]
        y = g.tensor(yname).shape
        if g.tensor(yname).size == 0:
            return "// empty output"
        if not passes:
            return f"std::memcpy({e.ref(yname)}, {e.ref(xname)}, {g.tensor(yname).nbytes});"
        ct = e.ctype(xname)
        fill = cxx_literal(at["extrapolation_value"], ct)
        half = self._max_intermediate(node, g)
        bufs = [e.scratch(ct), f"{e.scratch(ct)} + {half}"] if len(passes) > 1 else []
        cur, src, lines = list(g.tensor(xname).shape), e.ref(xname), []
        for k, a in enumerate(passes):
            dst = e.ref(yname) if k == len(passes) - 1 else bufs[k % 2]
            idx, w, extrap = axis_table(cur[a], y[a], scales[a], at, rois[a] if rois else None)
            outer = int(np.prod(cur[:a], dtype=np.int64))
            inner = int(np.prod(cur[a + 1:], dtype=np.int64))
            ex = e.array("uint8_t", extrap.astype(np.uint8)) if extrap is not None and extrap.any() else "nullptr"
            if at["mode"] == "nearest":
                pick = idx[np.arange(len(idx)), np.argmax(w, axis=1)]  # nearest weights are one-hot
                lines.append(f"edge_sdk::resize_axis_nearest<{ct}>({src}, {dst}, {outer}, {cur[a]}, {inner}, {y[a]}, "
                             f"{e.array('int32_t', pick)}, {ex}, {fill});")
            else:
                lines.append(f"edge_sdk::resize_axis_f32({src}, {dst}, {outer}, {cur[a]}, {inner}, {y[a]}, "
                             f"{idx.shape[1]}, {e.array('int32_t', idx)}, {e.array('float', w)}, {ex}, {fill});")
            cur[a] = y[a]
            src = dst
        return "\n".join(lines)


@register
class Resize(ResizeBase):
    op_type = "Resize"
    since = 10


@register
class Upsample(ResizeBase):
    op_type = "Upsample"
    attrs = {**RESIZE_ATTRS, "mode": "nearest"}
