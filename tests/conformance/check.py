"""Run one built case and compare it with its expected outputs."""
from __future__ import annotations

import numpy as np

from .build import Built
from .exclusions import EXCLUSIONS


def exclusion_marks(name: str) -> list:
    """A strict xfail for an excluded case: only a refusal (UserError) or a wrong answer
    (AssertionError) satisfies it, unless the reason names a known bug ("BUG ...")."""
    import pytest

    from edge_sdk.errors import UserError

    if name not in EXCLUSIONS:
        return []
    reason = EXCLUSIONS[name]
    expected = BaseException if reason.startswith("BUG") else (UserError, AssertionError)
    return [pytest.mark.xfail(reason=reason, strict=True, raises=expected)]


def run_and_compare(b: Built) -> None:
    from edge_sdk import _runtime

    if b.error is not None:
        raise b.error
    case = b.case
    if case.expanded:
        assert b.ops, "no node is left to run: the case folded away at compile time, so it tests nothing"
    else:
        assert case.op_type in b.ops, (f"no {case.op_type} node is left to run: the case folded away at compile "
                                       "time, so it tests nothing; keep one input at run time (cases.CONST_INPUTS)")
    lib = _runtime.ModelLibrary(str(b.lib), b.prefix)
    assert len(lib.inputs) == len(case.inputs)
    ins = [np.array(x, order="C") for x in case.inputs]  # np.ascontiguousarray would turn 0-d into 1-d
    for x, spec in zip(ins, lib.inputs):
        assert (x.shape, x.dtype) == (tuple(spec["shape"]), spec["dtype"]), f"input signature {spec}"
    outs = [np.empty(spec["shape"], spec["dtype"]) for spec in lib.outputs]
    lib.run(ins, outs)
    assert len(outs) == len(case.expected)
    for k, (got, want) in enumerate(zip(outs, case.expected)):
        assert got.shape == want.shape, f"output {k}: shape {got.shape}, expected {want.shape}"
        assert got.dtype == want.dtype, f"output {k}: dtype {got.dtype}, expected {want.dtype}"
        if np.issubdtype(want.dtype, np.floating):
            np.testing.assert_allclose(got, want, rtol=case.rtol, atol=case.atol, equal_nan=True,
                                       err_msg=f"output {k}")
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"output {k}")
