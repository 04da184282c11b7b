"""Group fuzz findings by where they fail, and turn them into model files.

    python tools/fuzz/triage.py mutate WORK/findings [--save tests/hostile/crashers]

For each crash-* input: rebuild the model (mutate fuzzer) or take the bytes as the
model (import fuzzer), run the front end once, and print one line per distinct
(exception type, innermost edge_sdk frame) with the inputs that hit it.  --save
writes one model per signature, named after it, for the regression corpus.
"""
from __future__ import annotations

import argparse
import subprocess
import hashlib
import sys
import tempfile
import traceback
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def model_bytes(kind: str, data: bytes) -> tuple[bytes, bool]:
    if kind == "import":
        return data, False
    from fuzz_mutate import mutate
    return mutate(data)


def signature(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "edge_sdk" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "outside edge_sdk"
    return f"{type(exc).__name__} at {where}"


def classify_one(kind: str, finding: Path) -> str:
    """Run one finding in this process; print its signature (a native abort kills only this child)."""
    from fuzz_common import compile_front_end
    model, emit = model_bytes(kind, finding.read_bytes())
    p = Path(tempfile.mkdtemp(prefix="edge_sdk_triage.")) / "model.onnx"
    p.write_bytes(model)
    try:
        return f"fixed ({compile_front_end(p, emit=emit)})"
    except Exception as e:  # noqa: BLE001 - classifying is the point
        return signature(e) + " | " + (" ".join(str(e).split())[:160])


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print("SIG " + classify_one(sys.argv[2], Path(sys.argv[3])))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["import", "mutate"])
    ap.add_argument("findings", type=Path)
    ap.add_argument("--save", type=Path)
    a = ap.parse_args()
    groups: dict[str, list[tuple[str, bytes, bool, str]]] = defaultdict(list)
    for f in sorted(a.findings.iterdir()):
        model, emit = model_bytes(a.kind, f.read_bytes())
        try:
            proc = subprocess.run([sys.executable, __file__, "--one", a.kind, str(f)], capture_output=True,
                                  text=True, timeout=120)
            line = next((ln[4:] for ln in proc.stdout.splitlines() if ln.startswith("SIG ")), None)
            if line is None:
                tail = " ".join((proc.stderr.strip().splitlines() or ["?"])[-1].split())[:160]
                line = f"native crash (exit {proc.returncode}) | {tail}"
        except subprocess.TimeoutExpired:
            line = "hang (over 120 s) | "
        sig, _, msg = line.partition(" | ")
        groups[sig].append((f.name, model, emit, msg))
    for sig, items in sorted(groups.items()):
        print(f"{len(items):4d}  {sig}   e.g. {items[0][0]}: {items[0][3]}")
        if a.save and not sig.startswith("fixed"):
            a.save.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha1(items[0][1]).hexdigest()[:12]
            suffix = ".emit.onnx" if items[0][2] else ".onnx"
            (a.save / f"{a.kind}_{name}{suffix}").write_bytes(items[0][1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
