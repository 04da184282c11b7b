"""Op forms the ONNX node cases do not cover (tests/conformance/extra_forms.py),
checked against onnxruntime with the same batch harness as test_conformance.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.build import build_cases, cache_dir
from conformance.check import exclusion_marks, run_and_compare
from conformance.extra_forms import FORMS, extra_case


@pytest.fixture(scope="module")
def built(request):
    cases = [extra_case(n) for n in FORMS]
    cache = cache_dir(request)
    return build_cases({"extra": cases}, cache)


@pytest.mark.parametrize("name", [pytest.param(n, marks=exclusion_marks(f"extra_{n}"), id=n) for n in FORMS])
def test_form(name, built):
    run_and_compare(built[f"extra_{name}"])
