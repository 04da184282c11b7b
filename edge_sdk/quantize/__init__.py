"""Post-training int8 quantization (TFLite int8 scheme) and import of pre-quantized models.

Entry point: :func:`quantize_graph`, run after the passes and before planning.
  calibrate.py   fp32 ranges from onnxruntime on the original model (minmax/percentile/entropy)
  fixedpoint.py  the requantization rule (Q31 multiplier + shift) and (scale, zero point) choice
  rewrite.py     float graph -> int8 ops, fp32 fallback with Dequantize/Quantize around it
  prequant.py    QDQ / QOperator models -> float graph + their own scales and integer weights
  report.py      accuracy report: fp32 vs int8 SQNR per output and per layer, top-1 agreement
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import UserError
from .calibrate import DEFAULT_METHOD, METHODS, FloatRunner, collect_ranges, load_samples
from .prequant import dequantize_prequantized, is_prequantized
from .report import accuracy_report, format_report
from .rewrite import QuantPlan, _int8_io, rewrite_int8
from .rewrite_ops import ACT_FUNCS

__all__ = ["quantize_graph", "pre_quant_passes", "dequantize_prequantized", "is_prequantized", "format_report",
           "METHODS", "DEFAULT_METHOD"]

# The passes to run before quantize_graph: the float-only ones (conv epilogue fusion with pools,
# weight packing) make layouts the int8 kernels do not read; run those after quantization.
def pre_quant_passes():
    from ..passes import SIMPLIFY_PASSES
    return SIMPLIFY_PASSES


FLOAT_ONLY_ATTRS = ("packed_mr", "fused_pool", "fused_pool_pads", "post_affine")
MIN_HELD_OUT_TOTAL = 10  # with fewer samples, the report is computed on the calibration samples
MAX_EVAL_BATCHES = 32


# Producers whose int8 form requantizes its result to any scale at no extra cost.
_FREE_OUTPUT_SCALE = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul"})


# A Concat input takes the output's range only if its own spans at least this share of it
# (its quantization step grows by at most 4x: two bits of that branch's resolution).
_CONCAT_SHARE_MIN_SPAN = 0.25


def _share_concat_ranges(g: ir.Graph, plan: QuantPlan) -> None:
    """Give a Concat's inputs its output's range where that costs little, as TFLite's converter
    does: with the output's scale and zero point an input is produced straight into its slice
    of the output (QConcat.placed_inputs), and the Concat copies and requantizes nothing.
    Only an input that feeds the Concat alone, from a producer that requantizes its result
    anyway, and whose range is not much narrower than the output's (a narrow branch, say a
    sigmoid's [0, 1] beside a [-20, 20] one, keeps its resolution and is requantized)."""
    users = g.consumers()
    producer = g.producers()
    for n in g.nodes:
        if n.op_type != "Concat" or n.outputs[0] not in plan.ranges:
            continue
        lo, hi = plan.ranges[n.outputs[0]]
        for t in n.inputs:
            p = producer.get(t)
            if (p is None or p.op_type not in _FREE_OUTPUT_SCALE or t not in plan.ranges or t in plan.fixed
                    or [u.name for u in users.get(t, [])] != [n.name] or t in g.outputs):
                continue
            t_lo, t_hi = plan.ranges[t]
            if t_hi - t_lo >= _CONCAT_SHARE_MIN_SPAN * (hi - lo):
                plan.ranges[t] = (lo, hi)


def _split(batches: list[np.ndarray]) -> tuple[list, list, bool]:
    if len(batches) < MIN_HELD_OUT_TOTAL:
        return batches, batches[:MAX_EVAL_BATCHES], False
    k = max(1, len(batches) // 5)
    return batches[:-k], batches[-k:][:MAX_EVAL_BATCHES], True


def _preactivations(model_path, g: ir.Graph) -> dict[str, str]:
    """For nodes carrying a fused activation that is not a clamp: the fp32 tensor before it."""
    from ..frontend.safe_load import load_onnx
    m = load_onnx(model_path)
    prod = {o: n for n in m.graph.node for o in n.output}
    out = {}
    for n in g.nodes:
        act = n.attrs.get("activation")
        if act and act[0] in ACT_FUNCS and n.outputs[0] in prod and prod[n.outputs[0]].op_type == act[0]:
            out[n.outputs[0]] = prod[n.outputs[0]].input[0]
    return out


def quantize_graph(g: ir.Graph, model_path, calibration, *, method: str = DEFAULT_METHOD,
                   keep_float=(), io: str = "float", on_progress=None, evaluate: bool = True):
    """Rewrite float graph `g` (after the passes) to int8.  Returns (int8 graph, accuracy report).

    calibration: array (N, ...) of input samples, .npy/.npz path, or an iterable of arrays;
    may be None only for a pre-quantized model (its own scales are used).
    """
    say = on_progress or (lambda msg: None)
    if io not in ("float", "int8"):
        raise UserError(f"io must be 'float' or 'int8', got '{io}'")
    if method not in METHODS:
        raise UserError(f"unknown calibration method '{method}'", f"choose one of {', '.join(METHODS)}")
    if any(k in n.attrs for n in g.nodes for k in FLOAT_ONLY_ATTRS):
        raise AssertionError("quantize_graph needs a graph from run_passes(g, pre_quant_passes()): "
                             "packed/epilogue-fused float convolutions cannot be quantized")
    if g.metadata.get("prequant") is None and is_prequantized(g):
        from ..passes import run_passes
        g = run_passes(dequantize_prequantized(g), pre_quant_passes())
    plan: QuantPlan | None = g.metadata.get("prequant")
    node_names = {n.name for n in g.nodes}
    unknown = [k for k in keep_float if k not in node_names]
    if unknown:
        raise UserError(f"keep_float names unknown node(s): {', '.join(unknown)}",
                        "see `edge-sdk inspect` for node names (fused nodes keep the first node's name)")
    if calibration is None and plan is None:
        raise UserError("int8 quantization needs calibration data (only pre-quantized models compile without it)",
                        "pass --calibration samples.npy (or a folder of images with a preprocessing spec)")
    if len(g.inputs) != 1 and calibration is not None:
        raise UserError("calibration of models with several inputs is not supported yet")
    batches = load_samples(calibration, g.tensor(g.inputs[0]).shape) if calibration is not None else []
    cal, ev, held_out = _split(batches)
    if plan is None:
        names = list(g.inputs) + [o for n in g.nodes for o in n.outputs
                                  if o and np.dtype(g.tensor(o).dtype) == np.float32]
        preact = _preactivations(model_path, g)
        say(f"calibrating {len(names)} tensors on {len(cal)} batches ({method})")
        runner = FloatRunner(model_path, names + list(preact.values()))
        plan = QuantPlan(ranges=collect_ranges(runner, cal, method, say), preact=preact)
        _share_concat_ranges(g, plan)
    plan.keep_float = frozenset(keep_float)
    gq, fallbacks, layers, float_outputs = rewrite_int8(g, plan, io=io)
    report: dict = {"method": "pre-quantized" if "prequant" in g.metadata else method, "io": io,
                    "int8_nodes": len(layers), "fallback_ops": fallbacks, "fp32_output_functions": float_outputs}
    if evaluate and ev:
        report.update(accuracy_report(gq, model_path, ev, layers, fallbacks, held_out, say, plan.ref_names))
    elif not ev:
        report["note"] = "no samples to evaluate accuracy on (pre-quantized model without calibration data)"
    if io == "int8":
        gq = _int8_io(gq)
    gq.metadata["quantization"] = report
    return gq, report
