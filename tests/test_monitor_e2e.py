"""The monitor with the real edge-sdk deepfake detector (compiled YuNet + the default classifier):
outcomes on a real-person clip and on videos assembled at test time from held-out face crops,
the fault loop with real frames and the real detector, and the command line."""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.monitor.capture import CaptureConfig
from edge_sdk.monitor.events import EventLog
from edge_sdk.monitor.loop import Monitor, MonitorConfig
from edge_sdk.monitor.sources import parse_source

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
VIDEO = SHARED / "video" / "short_hamilton_clip.mp4"
VAL = SHARED / "faces" / "val"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "monitor"

# One held-out identity (FF++ video 035: its own real frames, and Deepfakes swapped onto it).
IDENTITY = "035"
FAKE_SOURCE = "ffpp_c23_deepfakes"


def crops_of(source: str, identity: str) -> list[Path]:
    """The val crops of one identity from one source (the identity is the video id in the file name)."""
    with (VAL / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    pat = re.compile(rf"videos__{identity}(_\d+)?_f\d+")
    return sorted(VAL.parent / r["path"] for r in rows if r["source"] == source and pat.search(r["path"]))


def _triangle(t: int, amplitude: int) -> int:
    """0 .. amplitude .. 0: a smooth back-and-forth drift (a wrap-around would be a scene cut)."""
    t %= 2 * amplitude
    return t if t <= amplitude else 2 * amplitude - t


def assemble_video(crops: list[Path], path: Path, frames_per_crop: int = 8, fps: float = 25.0) -> Path:
    """The crops, one after another, on a 640x360 textured background, drifting slowly as a face
    in a video would; written with cv2.VideoWriter (mp4v)."""
    import cv2
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(40, 200, (360, 640, 3), dtype=np.uint8), (0, 0), 9)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 360))
    assert writer.isOpened()
    n = 0
    for crop_path in crops:
        crop = cv2.imread(str(crop_path))
        assert crop is not None and crop.shape == (256, 256, 3), crop_path
        for _ in range(frames_per_crop):
            x, y = 150 + _triangle(n * 3, 90), 50 + _triangle(n * 2, 40)
            frame = background.copy()
            frame[y:y + 256, x:x + 256] = crop
            writer.write(frame)
            n += 1
    writer.release()
    return path


@pytest.fixture(scope="module")
def detector():
    from edge_sdk.detector import Detector
    return Detector()  # the default: compiled YuNet + the bundled default classifier, cached after the first use


def run_monitor(detector, source, tmp_path, **cfg):
    events = EventLog(str(tmp_path / "events.jsonl"), echo=None)
    mon = Monitor(detector, source, events=events, config=MonitorConfig(stats_every=0, quiet=True, **cfg))
    summary = mon.run()
    events.close()
    recs = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    return summary, recs


class Counting:
    """Counts the faces and scores the real detector returns (a pass-through, nothing replaced)."""

    def __init__(self, inner):
        self.inner, self.threshold, self.scores, self.faces = inner, inner.threshold, [], 0

    @property
    def last_times(self):
        return self.inner.last_times

    def run(self, img):
        dets = self.inner.run(img)
        self.faces += len(dets)
        self.scores += [d.fake_score for d in dets if d.fake_score is not None]
        return dets


@pytest.mark.skipif(not VIDEO.is_file(), reason=f"shared test video {VIDEO} is absent")
def test_real_person_clip_raises_no_flag(detector, tmp_path):
    det = Counting(detector)
    summary, recs = run_monitor(det, parse_source(str(VIDEO)), tmp_path)
    assert summary["reason"] == "eof" and summary["frames"] == 275 and summary["dropped"] == 0
    assert det.faces >= 250 and len(det.scores) >= 200  # the face is found and scored, not skipped
    flags = [r for r in recs if r["event"] == "flag"]
    assert flags == [], f"real clip flagged: {flags}"
    assert recs[-1]["event"] == "stop" and recs[-1]["flags"] == 0


@pytest.mark.skipif(not (VAL / "manifest.csv").is_file(), reason=f"held-out face crops {VAL} are absent")
@pytest.mark.parametrize("label", ["fake", "real"])
def test_assembled_identity_video(detector, tmp_path, label):
    source = FAKE_SOURCE if label == "fake" else "ffpp_c23_youtube"
    crops = crops_of(source, IDENTITY)
    assert len(crops) >= 5
    video = assemble_video(crops, tmp_path / f"{label}.mp4")
    det = Counting(detector)
    summary, recs = run_monitor(det, parse_source(str(video)), tmp_path)
    assert summary["frames"] == 8 * len(crops)
    assert det.faces >= 0.9 * summary["frames"] and len(det.scores) >= 0.9 * summary["frames"], \
        "the face detector must find and score the placed crops"
    flags = [r for r in recs if r["event"] == "flag"]
    if label == "fake":
        assert len(flags) >= 1 and summary["flags"] == len(flags)
        assert all(f["score"] >= detector.threshold for f in flags)
        assert len({f["track"] for f in flags}) == len(flags)  # one flag per track
    else:
        assert flags == [], f"real identity flagged: {flags}, mean score {np.mean(det.scores):.3f}"


@pytest.mark.skipif(not VIDEO.is_file(), reason=f"shared test video {VIDEO} is absent")
def test_faults_with_the_real_detector(detector, tmp_path):
    sys.path.insert(0, str(FIXTURES))
    from fake_camera import FakeCamera, RecordingDetector, load_frames
    cam = FakeCamera(load_frames(limit=40), {12: ("disconnect",), 25: ("hang", 1.0)}, fps=30.0, end=45)
    det = RecordingDetector(detector)
    capture = CaptureConfig(live=True, read_timeout=0.4, first_read_timeout=60.0, backoff_base=0.05, backoff_cap=0.2,
                            max_attempts=2)
    events = EventLog(str(tmp_path / "events.jsonl"), echo=None)
    summary = Monitor(det, cam.open, events=events, capture=capture,
                      config=MonitorConfig(stats_every=0, quiet=True)).run()
    recs = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in recs if r["event"] == "fault"] == ["disconnect", "hang", "disconnect", "gave_up"]
    assert [r["event"] for r in recs].count("reconnect") == 2
    assert 25 not in [s for s, _ in det.seen] and cam.hung == [25]
    assert summary["frames"] == len(det.seen) >= 15 and summary["latency"]["detect"]["mean_ms"] > 0


@pytest.mark.skipif(not VIDEO.is_file(), reason=f"shared test video {VIDEO} is absent")
def test_command_line_json_run(detector, tmp_path, capsys):
    from edge_sdk.monitor.cli import add_monitor_parser
    p = argparse.ArgumentParser(prog="edge-sdk")
    add_monitor_parser(p.add_subparsers(dest="command"))
    events = tmp_path / "events.jsonl"
    args = p.parse_args(["monitor", "--source", str(VIDEO), "--max-frames", "40", "--json", "--stats-every", "0.5",
                         "--events", str(events), "--record", str(tmp_path / "out.mp4")])
    assert args.fn(args) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    recs = [json.loads(x) for x in events.read_text().splitlines()]
    assert [r for r in out if r["event"] != "stats"] == recs
    assert recs[0]["event"] == "start" and recs[-1]["event"] == "stop" and recs[-1]["reason"] == "max_frames"
    assert recs[-1]["frames"] == 40 and (tmp_path / "out.mp4").stat().st_size > 10_000
    stop = recs[-1]
    for stage in ("decode", "detect", "align", "classify"):
        assert stop["latency"][stage]["mean_ms"] is not None and stop["latency"][stage]["p90_ms"] is not None
