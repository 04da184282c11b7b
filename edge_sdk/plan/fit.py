"""Fit check: does the planned model fit the device's RAM and flash budgets?

Done before building, from the plan: RAM needs the arena, the caller's input
and output buffers and a stack allowance; flash needs the weights and an
allowance for code.  The real sizes are measured from the built artefact later.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..devices import Device
from ..errors import DeviceFitError
from .arena import ArenaPlan

STACK_ALLOWANCE = 8 << 10   # kernels keep little on the stack; this covers the app around them
CODE_ALLOWANCE = 64 << 10   # runtime kernels and generated code, typical for a CNN


def io_bytes(g: ir.Graph) -> int:
    return sum(g.tensor(t).nbytes for t in set(g.inputs) | set(g.outputs))


def check_fit(g: ir.Graph, plan: ArenaPlan, dev: Device) -> dict:
    """Raise DeviceFitError if the model cannot fit `dev`; return the estimate."""
    ram = plan.arena_bytes + io_bytes(g) + STACK_ALLOWANCE
    flash = g.weights_bytes() + CODE_ALLOWANCE
    est = {"ram_estimate_bytes": ram, "flash_estimate_bytes": flash}
    problems = []
    if dev.ram_bytes and ram > dev.ram_bytes:
        problems.append(f"RAM: needs ~{ram:,} B (arena {plan.arena_bytes:,} + I/O {io_bytes(g):,} + stack "
                        f"{STACK_ALLOWANCE:,}) but {dev.name} has {dev.ram_bytes:,} B")
    if dev.flash_bytes and flash > dev.flash_bytes:
        problems.append(f"flash: needs ~{flash:,} B (weights {g.weights_bytes():,} + code ~{CODE_ALLOWANCE:,}) "
                        f"but {dev.name} has {dev.flash_bytes:,} B")
    if problems:
        float_weights = any(np.dtype(t.dtype) == np.float32 for t in g.tensors.values() if t.is_const)
        hints = (["quantize to int8 (--quantize int8 --calibration DATA): ~4x smaller weights and activations"]
                 if float_weights else [])
        hints.append("use a smaller input resolution (--input-shape) or a narrower model")
        raise DeviceFitError(f"the model does not fit {dev.name}: " + "; ".join(problems), "; or ".join(hints))
    return est
