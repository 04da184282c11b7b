"""ONNX node conformance: every case of every op type edge-sdk claims.

Cases come from the onnx package (tests/conformance/cases.py), are compiled in
batches into shared libraries (tests/conformance/build.py) and must reproduce
the expected outputs: floats within rtol 1e-3 / atol 1e-5, integers and bools
exactly.  Known failures live in tests/conformance/exclusions.py only.
"""
from __future__ import annotations

import os
from pathlib import Path

import onnx
import pytest

from conformance.build import build_cases, cache_dir
from conformance.check import exclusion_marks, run_and_compare
from conformance.cases import cases_by_op, expanded_cases
from conformance.exclusions import EXCLUSIONS
from conformance.extra_forms import FORMS
from edge_sdk.ops import supported_ops

BATCH = 40  # cases per shared library: big enough to amortise the compiler, small enough to parallelise
# ONNX op types only: the registry also holds edge-sdk's internal ops (QConv...), which no ONNX case covers.
CLAIMED = {op: v for op, v in supported_ops().items() if onnx.defs.has(op)}
BY_OP = {op: sorted(cs, key=lambda c: c.name) for op, cs in cases_by_op().items() if op in CLAIMED}
# Ops an expansion may use beyond the claimed ones: the frontend folds them away (static shapes, constants).
FOLDED = {"Constant", "Shape", "Size", "ConstantOfShape", "Range"}
EXPANDED = sorted((c for c in expanded_cases().values() if c.op_type in CLAIMED
                   and {n.op_type for n in c.model.graph.node} <= set(CLAIMED) | FOLDED), key=lambda c: c.name)


def _params():
    for op, cases in sorted(BY_OP.items()):
        for c in cases:
            yield pytest.param(c.name, marks=exclusion_marks(c.name), id=c.name)
    for c in EXPANDED:  # multi-node graphs: slower to build, and they mostly re-test the same kernels
        yield pytest.param(c.name, marks=[pytest.mark.slow, *exclusion_marks(c.name)], id=c.name)


@pytest.fixture(scope="session")
def built(request):
    """Build the libraries for exactly the cases this session selected."""
    wanted = {item.callspec.params["name"] for item in request.session.items
              if item.originalname == "test_case" and hasattr(item, "callspec")}
    batches: dict[str, list] = {}
    groups = dict(BY_OP)
    for c in EXPANDED:
        groups.setdefault(f"{c.op_type}_expanded", []).append(c)
    for op, cases in groups.items():
        chosen = [c for c in cases if c.name in wanted]
        for k in range(0, len(chosen), BATCH):
            batches[f"{op}_{k // BATCH}"] = chosen[k:k + BATCH]
    cache = cache_dir(request)
    return build_cases(batches, cache)


@pytest.mark.parametrize("name", list(_params()))
def test_case(name, built):
    run_and_compare(built[name])


def test_every_claimed_op_has_a_passing_case():
    """Claiming an op means at least one of its cases runs and is expected to pass: an ONNX
    conformance case, or an onnxruntime-checked form (test_conformance_extra.py) where the
    ONNX suite has none edge-sdk can compile (e.g. QuantizeLinear's cases are all uint8 or wider)."""
    extra_ops = {form[0] for name, form in FORMS.items() if f"extra_{name}" not in EXCLUSIONS}
    missing = [op for op in CLAIMED
               if op not in extra_ops and not any(c.name not in EXCLUSIONS for c in BY_OP.get(op, []))]
    assert not missing, f"claimed ops without a (non-excluded) conformance case: {missing}"


def test_exclusions_name_real_cases():
    from conformance.cases import all_cases

    stale = sorted(set(EXCLUSIONS) - set(all_cases()) - set(expanded_cases()) - {f"extra_{n}" for n in FORMS})
    assert not stale, f"exclusions.py names cases that do not exist: {stale}"
