"""Run a fuzzer for a total time, restarting it after each finding, and summarise.

    nice -n 19 python tools/fuzz/run.py mutate --minutes 15 --work /tmp/fuzz_mutate
    nice -n 19 python tools/fuzz/run.py import --minutes 15 --work /tmp/fuzz_import

libFuzzer's -fork mode does not work under atheris (it re-executes argv[0]), so
this loop does the equivalent: the corpus in WORK/corpus survives restarts,
findings land in WORK/findings (crash-*, timeout-*, oom-*), and a JSON summary
(executions, final cov/ft, findings) is printed and written to WORK/summary.json.
Exit status 1 if anything was found.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")
DONE = re.compile(r"Done (\d+) runs")


def run(kind: str, seconds: float, work: Path, timeout_s: int = 20, rss_mb: int = 3072) -> dict:
    corpus, findings = work / "corpus", work / "findings"
    corpus.mkdir(parents=True, exist_ok=True)
    findings.mkdir(parents=True, exist_ok=True)
    if kind == "import" and not any(corpus.iterdir()):
        for s in sorted((HERE / "seeds").glob("*.onnx")):
            shutil.copy(s, corpus / s.name)
    script = HERE / f"fuzz_{kind}.py"
    end = time.monotonic() + seconds
    execs, cov, ft, restarts = 0, 0, 0, 0
    log = (work / "fuzz.log").open("a")
    while (left := int(end - time.monotonic())) > 2:
        proc = subprocess.run([sys.executable, str(script), str(corpus), f"-max_total_time={left}",
                               f"-timeout={timeout_s}", f"-rss_limit_mb={rss_mb}", f"-artifact_prefix={findings}/",
                               "-print_final_stats=1"], capture_output=True, text=True, cwd=work)
        out = proc.stdout + proc.stderr
        log.write(out)
        last = 0
        for line in out.splitlines():
            if m := STATS.match(line):
                last, cov, ft = int(m.group(1)), max(cov, int(m.group(2))), max(ft, int(m.group(3)))
            if m := DONE.search(line):
                last = int(m.group(1))
        if m := re.search(r"stat::number_of_executed_units:\s*(\d+)", out):
            last = int(m.group(1))
        execs += last
        if proc.returncode == 0:
            break
        restarts += 1
    log.close()
    found = sorted(p.name for p in findings.iterdir())
    summary = {"fuzzer": kind, "seconds": seconds, "executions": execs, "cov": cov, "ft": ft,
               "restarts_after_findings": restarts, "findings": found, "corpus_files": len(list(corpus.iterdir()))}
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["import", "mutate"])
    ap.add_argument("--minutes", type=float, default=15)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--timeout", type=int, default=20, help="seconds per input before it counts as a hang")
    a = ap.parse_args()
    s = run(a.kind, a.minutes * 60, a.work, a.timeout)
    print(json.dumps(s, indent=2))
    return 1 if s["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
