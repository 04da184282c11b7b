"""A short fuzz run of the front end (about 60 s in all), as in CI.

Both fuzzers from tools/fuzz run from the seed corpus for a fixed time; any
finding (an exception other than UserError, a hang past -timeout, a native
crash) makes atheris exit non-zero and this test fail, printing the input's
path and the traceback.  A self-test first checks that a finding really fails
the run.  Long runs: tools/fuzz/README.md.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is a dev dependency (pip install -e .[dev])")

FUZZ = Path(__file__).resolve().parents[1] / "tools" / "fuzz"
SECONDS = int(os.environ.get("EDGE_SDK_FUZZ_SECONDS", "27"))


def _fuzz(kind: str, tmp_path: Path, seconds: int, env=None, extra=()) -> subprocess.CompletedProcess:
    corpus = tmp_path / f"{kind}_corpus"
    corpus.mkdir()
    if kind == "import":
        for s in (FUZZ / "seeds").glob("*.onnx"):
            shutil.copy(s, corpus / s.name)
    cmd = [sys.executable, str(FUZZ / f"fuzz_{kind}.py"), str(corpus), f"-max_total_time={seconds}", "-timeout=20",
           "-rss_limit_mb=3072", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=seconds + 120,
                          env={**os.environ, **(env or {})})


def _report(p: subprocess.CompletedProcess) -> str:
    return "\n".join((p.stdout + p.stderr).splitlines()[-40:])


def test_a_finding_fails_the_fuzz_run(tmp_path):
    corpus = tmp_path / "import_corpus"
    p = _fuzz("import", tmp_path, 10, env={"EDGE_SDK_FUZZ_SELFTEST": "1"}, extra=("-runs=1",))
    assert p.returncode == 0, _report(p)  # no self-test input yet: clean
    shutil.rmtree(corpus)
    corpus.mkdir()
    (corpus / "selftest").write_bytes(b"EDGE_SDK_FUZZ_SELFTEST")
    p = subprocess.run([sys.executable, str(FUZZ / "fuzz_import.py"), str(corpus), "-runs=1",
                        f"-artifact_prefix={tmp_path}/"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120, env={**os.environ, "EDGE_SDK_FUZZ_SELFTEST": "1"})
    assert p.returncode != 0 and "fuzz self-test finding" in p.stdout + p.stderr, _report(p)
    assert any(x.name.startswith("crash-") for x in tmp_path.iterdir()), "atheris wrote no crash file"


@pytest.mark.parametrize("kind", ["import", "mutate"])
def test_short_fuzz_run_finds_nothing(kind, tmp_path):
    p = _fuzz(kind, tmp_path, SECONDS)
    crashes = sorted(x.name for x in tmp_path.iterdir() if x.name.startswith(("crash-", "timeout-", "oom-")))
    assert p.returncode == 0 and not crashes, (
        f"fuzz_{kind} found {crashes}; reproduce with `python tools/fuzz/triage.py {kind} DIR` "
        f"and add the model to tests/hostile/crashers/\n" + _report(p))
    assert "Done" in p.stderr or "stat::number_of_executed_units" in p.stderr, _report(p)
