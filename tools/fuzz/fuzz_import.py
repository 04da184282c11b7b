"""Fuzz the importer and compiler front end with raw bytes as the model file.

    python tools/fuzz/fuzz_import.py tools/fuzz/seeds -max_total_time=900 -timeout=20

Every input is written to model.onnx in a private temporary folder and analysed
(no C++ build).  Only success or edge_sdk's UserError is allowed; any other
exception is raised to atheris, which stops and writes the input as crash-<sha1>.
See tools/fuzz/README.md.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
with atheris.instrument_imports(include=["edge_sdk"]):
    from fuzz_common import compile_front_end

_DIR = Path(tempfile.mkdtemp(prefix="edge_sdk_fuzz_import."))
_MODEL = _DIR / "model.onnx"


_SELFTEST = os.environ.get("EDGE_SDK_FUZZ_SELFTEST") == "1"


def TestOneInput(data: bytes) -> None:
    if _SELFTEST and data.startswith(b"EDGE_SDK_FUZZ_SELFTEST"):  # tests/test_fuzz.py: a finding must fail the run
        raise RuntimeError("fuzz self-test finding")
    _MODEL.write_bytes(data)
    compile_front_end(_MODEL)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
