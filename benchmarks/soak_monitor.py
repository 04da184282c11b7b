"""Soak test of `edge-sdk monitor`: a looping video for a long time; memory, fps, events.

    nice python benchmarks/soak_monitor.py --video clip.mp4 --minutes 30 --sample 10 \
        --out benchmarks/results/soak_monitor.json

The monitor runs as a child process (`--loop --json --stats-every SAMPLE --duration`),
exactly as a user would start it, so the numbers include the capture thread, the
compiled detector and the events file.  Every SAMPLE seconds the child's RSS is read
from /proc; fps comes from the monitor's own stats windows.  Reported:
  * RSS growth: median RSS of the last quarter of samples against the first quarter
    after warm-up (the first stats window, which pays for compiling/loading), in %, and
    the least-squares slope in MiB/hour;
  * fps stability: mean, standard deviation, coefficient of variation, min/max of the
    stats windows after warm-up;
  * events file validity: every line is one JSON object, it starts with "start" and
    ends with "stop", and the stop record's frame count matches the stats.
Exit status 1 if the events file is invalid or the monitor did not stop cleanly.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

LAUNCH = ("import argparse, sys\n"
          "from edge_sdk.monitor.cli import add_monitor_parser\n"
          "p = argparse.ArgumentParser(prog='edge-sdk')\n"
          "add_monitor_parser(p.add_subparsers(dest='command'))\n"
          "a = p.parse_args(sys.argv[1:])\n"
          "sys.exit(a.fn(a))\n")


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _slope_per_hour(ts: list[float], ys: list[float]) -> float:
    if len(ts) < 2:
        return 0.0
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    den = sum((t - mt) ** 2 for t in ts)
    return 0.0 if den == 0 else sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / den * 3600.0


def check_events(path: Path) -> dict:
    lines = path.read_text().splitlines() if path.exists() else []
    bad, kinds, records = [], {}, []
    for i, line in enumerate(lines):
        try:
            rec = json.loads(line)
            assert isinstance(rec, dict) and "event" in rec
        except (ValueError, AssertionError):
            bad.append(i + 1)
            continue
        records.append(rec)
        kinds[rec["event"]] = kinds.get(rec["event"], 0) + 1
    ok = (not bad and bool(records) and records[0]["event"] == "start" and records[-1]["event"] == "stop")
    return {"lines": len(lines), "invalid_lines": bad[:20], "by_event": kinds, "valid": ok,
            "stop": records[-1] if records and records[-1]["event"] == "stop" else None}


def soak(video: Path, minutes: float, sample_s: float, work: Path, extra: list[str]) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    events = work / "events.jsonl"
    if events.exists():
        events.unlink()
    duration = minutes * 60.0
    cmd = [sys.executable, "-c", LAUNCH, "monitor", "--source", str(video), "--loop", "--json", "--stats-every",
           str(sample_s), "--duration", str(duration), "--events", str(events), *extra]
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    windows: list[dict] = []

    def read_stdout():
        for line in child.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == "stats":
                rec["_t"] = time.monotonic() - t0
                windows.append(rec)

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    samples: list[tuple[float, float]] = []
    while child.poll() is None:
        rss = _rss_mib(child.pid)
        if rss is not None:
            samples.append((time.monotonic() - t0, rss))
        try:
            child.wait(timeout=sample_s)
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() - t0 > duration + 600:  # the monitor ignored --duration: stop it
            child.terminate()
    reader.join(timeout=10)
    stderr = child.stderr.read()[-2000:]
    warm_t = windows[0]["_t"] if windows else 0.0  # after the first window the models are loaded
    warm = [(t, r) for t, r in samples if t >= warm_t]
    q = max(1, len(warm) // 4)
    first = statistics.median(r for _, r in warm[:q]) if warm else None
    last = statistics.median(r for _, r in warm[-q:]) if warm else None
    fps = [w["fps"] for w in windows[1:] if w.get("frames")]
    ev = check_events(events)
    return {
        "video": str(video), "minutes": minutes, "sample_s": sample_s, "exit_code": child.returncode,
        "wall_s": round(time.monotonic() - t0, 1), "stderr_tail": stderr if child.returncode else "",
        "rss_mib": {"samples": len(samples), "warm_first_quarter_median": first, "last_quarter_median": last,
                    "growth_pct": round((last - first) / first * 100.0, 2) if first else None,
                    "slope_mib_per_hour": round(_slope_per_hour(*zip(*warm)), 2) if len(warm) > 1 else None,
                    "max": max((r for _, r in samples), default=None),
                    "series": [(round(t, 1), round(r, 1)) for t, r in samples]},
        "fps": {"windows": len(fps), "mean": round(statistics.fmean(fps), 2) if fps else None,
                "stdev": round(statistics.pstdev(fps), 2) if fps else None,
                "cv_pct": round(statistics.pstdev(fps) / statistics.fmean(fps) * 100, 2) if fps else None,
                "min": min(fps, default=None), "max": max(fps, default=None)},
        "events": ev,
        "frames_in_stats": sum(w.get("frames", 0) for w in windows),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples and stats windows")
    ap.add_argument("--work", type=Path, default=Path("/tmp/edge_sdk_soak"))
    ap.add_argument("--out", type=Path, help="write the JSON report here too")
    ap.add_argument("monitor_args", nargs="*", help="extra arguments for edge-sdk monitor (after --)")
    a = ap.parse_args()
    r = soak(a.video, a.minutes, a.sample, a.work, a.monitor_args)
    text = json.dumps(r, indent=2)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
    brief = {k: v for k, v in r.items() if k != "rss_mib"}
    brief["rss_mib"] = {k: v for k, v in r["rss_mib"].items() if k != "series"}
    print(json.dumps(brief, indent=2))
    return 0 if r["events"]["valid"] and r["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
