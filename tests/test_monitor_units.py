"""Monitor building blocks on their own: sources, picamera2 colour order, tracking, smoothing,
flagging, frame health, the event log (including kill -9 and a full disk)."""
from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.detector.types import Detection
from edge_sdk.errors import UserError
from edge_sdk.monitor.capture import FrameHealth
from edge_sdk.monitor.events import EventLog, read_events
from edge_sdk.monitor.sources import parse_source, picamera_to_bgr
from edge_sdk.monitor.tracking import Smoother, Tracker, greedy_match, iou

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "short_hamilton_clip.mp4"


def det(box, score):
    return Detection(tuple(float(v) for v in box), np.zeros((5, 2), np.float32), 0.9, score,
                     score is not None and score >= 0.5)


def real_frame() -> np.ndarray:
    import cv2
    if not VIDEO.is_file():
        pytest.skip(f"shared test video {VIDEO} is absent")
    cap = cv2.VideoCapture(str(VIDEO))
    ok, img = cap.read()
    cap.release()
    assert ok
    return img


# -- sources -----------------------------------------------------------------------------

def test_parse_source_kinds(tmp_path):
    f = tmp_path / "clip.mp4"
    f.write_bytes(b"x")
    assert (parse_source("0").kind, parse_source("0").target) == ("camera", 0)
    assert (parse_source("/dev/video2").kind, parse_source("/dev/video2").target) == ("camera", "/dev/video2")
    assert parse_source("rtsp://cam.local:554/stream").kind == "stream"
    assert parse_source("picamera").kind == "picamera"
    assert parse_source(str(f)).kind == "file" and not parse_source(str(f)).live
    assert parse_source("1").live
    with pytest.raises(UserError, match="not a camera index"):
        parse_source(str(tmp_path / "missing.mp4"))


@pytest.mark.parametrize("fmt", ["RGB888", "XRGB8888", "BGR888", "XBGR8888"])
def test_picamera_formats_give_bgr(fmt):
    import cv2
    bgr = real_frame()
    # What picamera2 hands back for each format, per its manual's byte order (names follow the 32-bit word).
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    alpha = np.full(bgr.shape[:2] + (1,), 255, np.uint8)
    raw = {"RGB888": bgr, "BGR888": rgb, "XRGB8888": np.concatenate([bgr, alpha], 2),
           "XBGR8888": np.concatenate([rgb, alpha], 2)}[fmt]
    out = picamera_to_bgr(raw, fmt)
    assert out.shape == bgr.shape and out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, bgr)


def test_picamera_bad_input():
    with pytest.raises(UserError, match="not supported"):
        picamera_to_bgr(np.zeros((4, 4, 3), np.uint8), "YUV420")
    with pytest.raises(UserError, match="shape"):
        picamera_to_bgr(np.zeros((6, 4), np.uint8), "RGB888")


def _monitor_parser():
    from edge_sdk.monitor.cli import add_monitor_parser
    p = argparse.ArgumentParser(prog="edge-sdk")
    add_monitor_parser(p.add_subparsers(dest="command"))
    return p


def test_picamera_refused_clearly_without_picamera2():
    try:
        import picamera2  # noqa: F401
        pytest.skip("picamera2 is importable here (a Raspberry Pi): the refusal cannot be exercised")
    except Exception:
        pass
    args = _monitor_parser().parse_args(["monitor", "--source", "picamera"])
    with pytest.raises(UserError) as e:
        args.fn(args)
    assert e.value.exit_code == 2
    text = str(e.value)
    assert "Raspberry Pi" in text and "apt install python3-picamera2" in text and "--source 0" in text


def test_display_refused_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if not VIDEO.is_file():
        pytest.skip(f"shared test video {VIDEO} is absent")
    args = _monitor_parser().parse_args(["monitor", "--source", str(VIDEO), "--display"])
    with pytest.raises(UserError, match="DISPLAY"):
        args.fn(args)


# -- tracking ----------------------------------------------------------------------------

def test_iou_and_greedy_match():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    # The best pair wins even when listed last; each side is used once.
    tracks = [(0, 0, 10, 10), (100, 100, 120, 120)]
    dets = [(101, 101, 121, 121), (1, 0, 11, 10), (2, 0, 12, 10)]
    assert sorted(greedy_match(tracks, dets, 0.3)) == [(0, 1), (1, 0)]


def test_track_ids_stable_and_expire():
    tr = Tracker(k=3, max_missed=2, smoothing="none")
    a, b = (100, 100, 200, 200), (400, 100, 500, 200)
    tr.update([det(a, 0.1), det(b, 0.1)])
    ids = {t.box: t.id for t in tr.tracks}
    for step in range(1, 6):  # faces drift and the detector lists them in either order
        a2 = tuple(v + 3 * step for v in a)
        b2 = tuple(v - 3 * step for v in b)
        order = [det(b2, 0.1), det(a2, 0.1)] if step % 2 else [det(a2, 0.1), det(b2, 0.1)]
        tr.update(order)
        now = {t.box: t.id for t in tr.active}
        assert now[a2] == ids[a] and now[b2] == ids[b]
    for _ in range(2):  # b leaves; its track survives max_missed frames...
        tr.update([det(tuple(v + 15 for v in a), 0.1)])
    assert len(tr.tracks) == 2
    tr.update([det(tuple(v + 15 for v in a), 0.1)])  # ...and is gone after the next
    assert [t.id for t in tr.tracks] == [ids[a]]
    tr.update([det(b, 0.1), det(tuple(v + 15 for v in a), 0.1)])  # coming back is a new track
    assert {t.id for t in tr.tracks} == {ids[a], max(ids.values()) + 1}
    assert tr.total_tracks == 3


def run_scores(scores, **kw):
    tr = Tracker(**kw)
    flags = []
    for i, s in enumerate(scores):
        for ev in tr.update([det((100, 100, 200, 200), s)]):
            flags.append((ev.kind, i))
    return flags, tr


def test_flag_needs_k_consecutive_frames_and_fires_once():
    flags, tr = run_scores([0.9, 0.9, 0.1, 0.9, 0.9, 0.9] + [0.9] * 30, k=3, smoothing="none")
    assert flags == [("flag", 5)]
    assert tr.tracks[0].flagged and tr.tracks[0].flags == 1


def test_reflag_only_after_clearing_and_only_when_enabled():
    scores = [0.9] * 3 + [0.1] * 3 + [0.9] * 3
    flags, _ = run_scores(scores, k=3, smoothing="none")
    assert flags == [("flag", 2), ("clear", 5)]
    flags, _ = run_scores(scores, k=3, smoothing="none", reflag=True)
    assert flags == [("flag", 2), ("clear", 5), ("flag", 8)]


def test_unscored_faces_do_not_count():
    flags, tr = run_scores([0.9, None, 0.9, None, None, 0.9], k=3, smoothing="none")
    assert flags == [("flag", 5)]
    flags, tr = run_scores([None] * 20, k=1, smoothing="none")
    assert flags == [] and tr.tracks[0].smoothed is None


def test_smoothing_ema_and_window_mean():
    _, tr = run_scores([1.0, 0.0], k=5, smoothing="ema:0.5")
    assert tr.tracks[0].smoothed == pytest.approx(0.5)
    _, tr = run_scores([1.0, 0.0, 0.0, 1.0], k=5, smoothing="mean:3")
    assert tr.tracks[0].smoothed == pytest.approx(1 / 3)
    # One confident frame inside low scores: smoothing keeps it below threshold, so no flag.
    flags, _ = run_scores([0.1, 0.1, 0.95, 0.1, 0.1] * 4, k=1, smoothing="ema:0.3")
    assert flags == []
    flags, _ = run_scores([0.1, 0.1, 0.95, 0.1, 0.1] * 4, k=1, smoothing="none")
    assert flags and flags[0] == ("flag", 2)


@pytest.mark.parametrize("spec", ["ema:0", "ema:1.5", "mean:0", "median:3", "ema:x", "none:2"])
def test_bad_smoothing_is_a_user_error(spec):
    with pytest.raises(UserError, match="smoothing"):
        Smoother(spec)


# -- frame health ------------------------------------------------------------------------

def test_frame_health_frozen_black_and_live_noise():
    img = real_frame()
    h = FrameHealth(frozen_frames=5, black_frames=5, black_level=8.0)
    assert [h.check(img) for _ in range(6)] == [None, None, None, None, "frozen", None]
    h.reset()
    rng = np.random.default_rng(0)
    noisy = [np.clip(img.astype(np.int16) + rng.integers(-2, 3, img.shape), 0, 255).astype(np.uint8)
             for _ in range(20)]
    assert all(h.check(x) is None for x in noisy)  # a still scene from a real sensor is not frozen
    h.reset()
    dark = (img // 40).astype(np.uint8)  # a nearly black picture whose pixels still differ
    assert dark.mean() < 8.0
    assert [h.check(dark) for _ in range(5)][-1] == "black"  # also constant, but black is the more specific fault


# -- event log ---------------------------------------------------------------------------

def test_event_lines_parse_and_append(tmp_path):
    path = tmp_path / "events.jsonl"
    for run in range(2):
        log = EventLog(str(path), echo=None)
        log.emit({"event": "start", "source": "x", "run": run})
        log.emit({"event": "flag", "frame": 3, "track": 1, "box": [1.0, 2.0, 3.0, 4.0], "score": np.float32(0.75)})
        log.emit({"event": "stop", "run": run})
        log.close()
    lines = path.read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    assert [r["event"] for r in recs] == ["start", "flag", "stop"] * 2
    assert recs[1]["score"] == 0.75 and recs[1]["time"].endswith("Z")


def test_partial_last_line_is_cut_off_before_appending(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_text('{"event":"start"}\n{"event":"fl')  # a writer killed mid-record
    assert read_events(path) == [{"event": "start"}]
    log = EventLog(str(path), echo=None)
    log.emit({"event": "stop"})
    log.close()
    assert [r["event"] for r in read_events(path)] == ["start", "stop"]
    assert path.read_text().endswith("\n") and "12-byte partial record" in capsys.readouterr().err


def test_a_file_that_is_one_partial_line_becomes_empty(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"x" * 100_000)  # longer than the backwards read block
    EventLog(str(path), echo=None, err=io.StringIO()).close()
    assert path.read_bytes() == b""


def test_unwritable_events_file_reported_once_and_events_continue(capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available to simulate a full disk")
    log = EventLog("/dev/full", echo="json")
    for i in range(3):
        log.emit({"event": "flag", "frame": i, "track": 1, "box": [0, 0, 1, 1], "score": 0.9})
    out, err = capsys.readouterr()
    assert err.count("cannot write to the events file") == 1 and "No space left" in err
    assert [json.loads(x)["frame"] for x in out.splitlines()] == [0, 1, 2]
    assert log.failed and log.written == 0


def test_events_open_failure_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="events file"):
        EventLog(str(tmp_path / "no" / "such" / "dir" / "e.jsonl"), echo=None)


WRITER = textwrap.dedent("""
    import sys
    from edge_sdk.monitor.events import EventLog
    log = EventLog(sys.argv[1], echo=None)
    i = 0
    while True:
        # lines of varying length, some larger than a page, to give a torn write every chance
        log.emit({"event": "flag", "i": i, "track": i % 7, "pad": "x" * ((i * 997) % 9000)})
        i += 1
""")


def test_kill_9_loses_no_committed_record(tmp_path):
    path = tmp_path / "events.jsonl"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(path)])
        deadline = time.monotonic() + 20
        start = path.stat().st_size if path.exists() else 0
        while time.monotonic() < deadline and (not path.exists() or path.stat().st_size < start + 200_000):
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    # The record in flight at the kill may be a partial last line; the readers skip it ...
    recs = read_events(path)
    # ... and the next run cuts it off, so the file is valid JSON lines throughout.
    EventLog(str(path), echo=None, err=io.StringIO()).close()
    data = path.read_bytes()
    assert data.endswith(b"\n")
    assert [json.loads(x) for x in data.decode().splitlines()] == recs
    # Three runs, each counting from 0 without a gap: nothing lost in the middle.
    starts = [k for k, r in enumerate(recs) if r["i"] == 0]
    assert len(starts) == 3
    for a, b in zip(starts, starts[1:] + [len(recs)]):
        assert [r["i"] for r in recs[a:b]] == list(range(b - a))
        assert b - a > 5


# -- stats -------------------------------------------------------------------------------

def test_stats_keep_the_first_frame_apart_and_report_windows():
    from edge_sdk.monitor.stats import Stats
    now = [100.0]
    st = Stats(clock=lambda: now[0])
    now[0] += 20.0  # the first frame compiled the models
    st.add_first_frame({"total": 20000.0, "detect": 19990.0}, faces=1)
    for i in range(10):
        now[0] += 0.1
        st.add_frame({"decode": 1.0, "detect": float(i), "total": 10.0 + i}, faces=2)
    w = st.window(tracks=1)
    assert w["frames"] == 10 and w["fps"] == pytest.approx(10.0) and w["faces"] == 20 and w["tracks"] == 1
    assert w["latency"]["detect"]["mean_ms"] == pytest.approx(4.5)
    assert w["latency"]["detect"]["p90_ms"] == pytest.approx(float(np.percentile(np.arange(10.0), 90)))
    assert w["latency"]["align"]["mean_ms"] is None  # a stage nobody reported
    s = st.summary()
    assert s["frames"] == 11 and s["fps"] == pytest.approx(10.0) and s["first_frame_ms"] == 20000.0
    assert s["latency"]["detect"]["mean_ms"] == pytest.approx(4.5)
    assert st.window()["frames"] == 0


def test_quiet_run_still_reports_flags_when_the_events_file_fails(capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available to simulate a full disk")
    log = EventLog("/dev/full", echo=None)
    log.emit({"event": "flag", "frame": 7, "track": 2, "box": [0, 0, 1, 1], "score": 0.9})
    out, err = capsys.readouterr()
    assert "cannot write to the events file" in err and "FLAG track 2 at frame 7" in out
