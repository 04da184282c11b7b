"""The fuzz target shared by both fuzzers and by the regression tests.

`compile_front_end(path, emit)` runs what `edge-sdk compile --no-build` runs up to
the C++ text: safe load, import, passes, planning, the host fit check and (with
emit) code generation.  The contract being fuzzed: a model file either compiles or
raises edge_sdk's UserError (the CLI's clean exit 2).  Anything else escaping is a
finding, and the fuzzers let it propagate so atheris records the input.
"""
from __future__ import annotations

import os
from pathlib import Path

from edge_sdk.compiler import analyze
from edge_sdk.errors import UserError

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "seeds"


def compile_front_end(path: str | os.PathLike, emit: bool = False) -> str:
    """Return "ok" or "user-error"; any other exception propagates (a finding)."""
    try:
        a = analyze(path)
        if emit:
            from edge_sdk.codegen.cpp_writer import write_sources
            from edge_sdk.devices import get_device
            from edge_sdk.plan.fit import check_fit
            check_fit(a.graph, a.plan, get_device("host"))
            write_sources(a.graph, a.plan, "fuzz", "// fuzz", a.sha256)
    except UserError:
        return "user-error"
    return "ok"


def seed_bytes() -> list[bytes]:
    return [p.read_bytes() for p in sorted(SEEDS.glob("*.onnx"))]
