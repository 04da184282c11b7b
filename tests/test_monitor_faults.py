"""The real monitor loop (capture thread, tracker, event log) against a fake camera that serves
real video frames and injects disconnects, hangs, frozen and black pictures; and against real
video files through OpenCV."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edge_sdk.monitor.capture import FAILED, RECONNECTING, RUNNING, CaptureConfig, CaptureThread
from edge_sdk.monitor.events import EventLog
from edge_sdk.monitor.loop import Monitor, MonitorConfig
from edge_sdk.monitor.sources import parse_source

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "monitor"
sys.path.insert(0, str(FIXTURES))
from fake_camera import VIDEO, FakeCamera, SerialDetector, load_frames  # noqa: E402

pytestmark = pytest.mark.skipif(not VIDEO.is_file(), reason=f"shared test video {VIDEO} is absent")

FAST = dict(live=True, read_timeout=0.3, first_read_timeout=1.0, backoff_base=0.02, backoff_cap=0.1,
            frozen_frames=8, black_frames=8)


@pytest.fixture(scope="module")
def frames():
    return load_frames(limit=60)


def wall(record) -> float:
    return dt.datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp()


def read_events(path: Path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_faults_are_noticed_reconnected_and_stale_frames_never_scored(frames, tmp_path):
    script = {15: ("disconnect",), 30: ("hang", 1.0), 45: ("frozen", 12), 70: ("black", 12), 100: ("refuse", 2)}
    cam = FakeCamera(frames, script, fps=100.0, end=130)
    # Slower than the camera, so a frame is always waiting in the queue when a fault strikes.
    detector = SerialDetector(score=lambda s: 0.1, delay=0.03)
    path = tmp_path / "events.jsonl"
    events = EventLog(str(path), echo=None)
    mon = Monitor(detector, cam.open, config=MonitorConfig(k=3, stats_every=0, quiet=True),
                  capture=CaptureConfig(max_attempts=3, **FAST), events=events, source_name="fake")
    summary = mon.run()
    events.close()

    recs = read_events(path)
    assert recs == list(events.records)  # every record reached the file, whole and in order
    assert recs[0]["event"] == "start" and recs[-1]["event"] == "stop"
    faults = [r for r in recs if r["event"] == "fault"]
    assert [f["kind"] for f in faults] == ["disconnect", "hang", "frozen", "black", "disconnect", "disconnect",
                                           "gave_up"]
    assert all(f["state"] == RECONNECTING for f in faults[:-1]) and faults[-1]["state"] == FAILED
    reconnects = [r for r in recs if r["event"] == "reconnect"]
    assert len(reconnects) == 5 and reconnects[-1]["attempts"] == 3  # the camera refused two opens first
    assert summary["reason"] == "gave_up" and summary["reconnects"] == 5
    assert summary["faults"] == {"disconnect": 3, "hang": 1, "frozen": 1, "black": 1, "gave_up": 1}
    states = mon.capture.states
    assert states[-1] == FAILED and states.count(RECONNECTING) == 6
    assert all(a != b for a, b in zip(states, states[1:]))
    assert [s for s in states if s in (RUNNING, RECONNECTING)][:4] == [RUNNING, RECONNECTING, RUNNING, RECONNECTING]

    # Stale frames: the one a hung read() finally returned, and anything read before a fault
    # but scored after the fault was recorded (10 ms grace: a frame found fresh just before the
    # fault may start its detection just after it).
    seen = detector.seen
    assert cam.hung == [30] and 30 not in [s for s, _ in seen]
    assert len(cam.events) == 6
    for (kind, s_event, _), f in zip(cam.events, faults):
        late = [s for s, t in seen if t > wall(f) + 0.01 and s < s_event]
        assert not late, f"frames {late} read before the {kind} fault were scored after it"
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert summary["frames"] == len(seen) and len(seen) > 30 and summary["dropped"] > 10


def test_reconnect_backoff_is_exponential_and_capped(frames):
    cam = FakeCamera(frames, {5: ("refuse", 6)}, fps=100.0, end=40)
    cfg = CaptureConfig(**{**FAST, "backoff_base": 0.05, "backoff_cap": 0.3})
    mon = Monitor(SerialDetector(), cam.open, config=MonitorConfig(stats_every=0, quiet=True, max_frames=20),
                  capture=cfg)
    mon.run()
    # open #1 starts the run; #2..#8 follow the disconnect at frame 5 (six refused, the seventh works)
    gaps = [b - a for a, b in zip(cam.open_times[1:8], cam.open_times[2:8])]
    want = [min(0.3, 0.05 * 2 ** i) for i in range(1, 7)]
    assert len(gaps) == 6 and mon.capture.reconnects == 1
    for got, w in zip(gaps, want):
        assert w - 0.005 <= got <= w + 0.25, (gaps, want)


def test_frame_from_before_a_reconnect_is_stale_however_young(frames):
    cam = FakeCamera(frames, {3: ("disconnect",)}, fps=100.0)
    cap = CaptureThread(cam.open, CaptureConfig(**FAST)).start()
    try:
        first = cap.get(2.0)
        assert first is not None and not cap.is_stale(first, now=first.t_read)
        deadline = time.monotonic() + 5
        while not cap.reconnects and time.monotonic() < deadline:
            time.sleep(0.005)
        assert cap.reconnects == 1 and cap.faults["disconnect"] == 1
        assert cap.is_stale(first, now=first.t_read)  # age 0, but read on the connection that failed
    finally:
        cap.stop()


def test_frame_held_across_a_fault_is_stale(frames):
    cam = FakeCamera(frames, {3: ("hang", 1.5)}, fps=100.0)
    cap = CaptureThread(cam.open, CaptureConfig(**FAST)).start()
    try:
        first = None
        while first is None:
            first = cap.get(1.0)
        assert not cap.is_stale(first)
        assert cap.is_stale(first, now=first.t_read + FAST["read_timeout"] + 0.01)  # too old, whatever else
        deadline = time.monotonic() + 5
        while not cap.faults["hang"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cap.faults["hang"] == 1
        assert cap.is_stale(first)  # from before the reconnection
        fresh = cap.get(2.0)
        assert fresh is not None and fresh.generation == cap.generation and not cap.is_stale(fresh)
    finally:
        cap.stop()
    assert cap.state == "STOPPED"


def test_slow_consumer_gets_the_newest_frame_and_drops_count(frames):
    cam = FakeCamera(frames, fps=200.0)

    class Slow(SerialDetector):
        def run(self, img):
            time.sleep(0.05)
            return super().run(img)
    det = Slow()
    mon = Monitor(det, cam.open, config=MonitorConfig(max_frames=10, stats_every=0, quiet=True),
                  capture=CaptureConfig(**FAST))
    summary = mon.run()
    assert summary["frames"] == 10 and summary["dropped"] > 10
    gaps = [b - a for (a, _), (b, _) in zip(det.seen, det.seen[1:])]
    assert sum(gaps) / len(gaps) >= 2  # the camera ran ahead and the loop took the newest frame, not the next one


def test_file_source_processes_every_frame_then_stops():
    class Count:
        threshold, last_times = 0.5, None
        n = 0

        def run(self, img):
            self.n += 1
            return []
    det = Count()
    spec = parse_source(str(VIDEO))
    mon = Monitor(det, spec, config=MonitorConfig(stats_every=0, quiet=True))
    summary = mon.run()
    assert summary["reason"] == "eof" and summary["dropped"] == 0 and summary["stale"] == 0
    assert det.n == summary["frames"] == summary["frames_read"] == len(load_frames())

    looped = Monitor(Count(), spec, config=MonitorConfig(stats_every=0, quiet=True, max_frames=det.n + 30),
                     capture=CaptureConfig(live=False, loop=True))
    s2 = looped.run()
    assert s2["reason"] == "max_frames" and s2["frames"] == det.n + 30


def test_realtime_file_is_paced_and_drops_when_behind():
    class Slow:
        threshold, last_times = 0.5, None

        def run(self, img):
            time.sleep(0.1)  # 10 fps against a 30 fps file
            return []
    mon = Monitor(Slow(), parse_source(str(VIDEO)), config=MonitorConfig(stats_every=0, quiet=True, duration=1.5),
                  capture=CaptureConfig(live=False, realtime=True))
    t0 = time.monotonic()
    s = mon.run()
    assert s["reason"] == "duration" and s["dropped"] > 10
    # Paced at the file's 30 fps: about 45 frames read in 1.5 s, not the whole file.
    assert 20 <= s["frames_read"] <= 70 and time.monotonic() - t0 < 4


def test_flags_once_per_track_with_snapshots_and_recording(frames, tmp_path):
    import cv2
    cam = FakeCamera(frames, fps=100.0, end=40)
    det = SerialDetector(score=lambda s: 0.9 if s >= 10 else 0.2)
    path = tmp_path / "events.jsonl"
    events = EventLog(str(path), echo=None)
    mon = Monitor(det, cam.open, events=events,
                  config=MonitorConfig(k=3, smoothing="none", stats_every=0, quiet=True,
                                       snapshots=str(tmp_path / "snaps"), snapshot_frames=True,
                                       record=str(tmp_path / "out.mp4")),
                  # Not live: every frame is scored, so the flag does not depend on this machine's load
                  # (in CI, a live loop busy opening the recorder dropped the high-scoring frames).
                  capture=CaptureConfig(max_attempts=1, **{**FAST, "live": False}))
    summary = mon.run()
    flags = [r for r in read_events(path) if r["event"] == "flag"]
    assert len(flags) == 1 and summary["flags"] == 1
    f = flags[0]
    assert f["track"] == 1 and f["score"] == 0.9 and f["box"] == [240.0, 60.0, 400.0, 260.0]
    scored_high = [s for s, _ in det.seen if s >= 10]
    assert f["frame"] == scored_high[2]  # the third scored frame at 0.9 (k=3); frame numbers are the camera's
    snaps = sorted((tmp_path / "snaps").iterdir())
    assert [p.name.split("_")[-1] for p in snaps] == ["face.jpg", "frame.jpg"]
    face = cv2.imread(str(snaps[0]))
    assert face is not None and face.shape[:2] == (200, 160)
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == summary["frames"] == 40


def test_unwritable_snapshot_folder_warns_and_continues(frames, tmp_path, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    cam = FakeCamera(frames, fps=100.0, end=20)
    mon = Monitor(SerialDetector(score=lambda s: 0.9), cam.open,
                  config=MonitorConfig(k=2, smoothing="none", stats_every=0, quiet=True,
                                       snapshots=str(blocker / "snaps")),
                  capture=CaptureConfig(max_attempts=1, **{**FAST, "live": False}))  # every frame scored
    summary = mon.run()
    err = capsys.readouterr().err
    assert err.count("cannot write snapshots") == 1 and summary["flags"] == 1 and summary["frames"] == 20


SIGTERM_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {fixtures!r})
    from fake_camera import FakeCamera, SerialDetector, load_frames
    from edge_sdk.monitor.capture import CaptureConfig
    from edge_sdk.monitor.events import EventLog
    from edge_sdk.monitor.loop import Monitor, MonitorConfig
    cam = FakeCamera(load_frames(limit=30), fps=60.0)
    caps = []
    def opener():
        caps.append(cam.open())
        return caps[-1]
    events = EventLog(sys.argv[1], echo="json")
    mon = Monitor(SerialDetector(score=lambda s: 0.9), opener, events=events,
                  config=MonitorConfig(k=2, stats_every=0.2, json=True), capture=CaptureConfig(read_timeout=0.5))
    mon.install_signal_handlers()
    summary = mon.run()
    print("released", all(c.released for c in caps), flush=True)
""")


def test_sigterm_finishes_cleanly_with_a_stop_record(tmp_path):
    path = tmp_path / "events.jsonl"
    script = tmp_path / "child.py"
    script.write_text(SIGTERM_CHILD.format(fixtures=str(FIXTURES)))
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (path.exists() and b'"flag"' in path.read_bytes()):
        time.sleep(0.05)
    time.sleep(1.0)  # some stats periods (0.2 s) go by
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    recs = read_events(path)
    assert recs[0]["event"] == "start" and recs[-1]["event"] == "stop" and recs[-1]["reason"] == "SIGTERM"
    assert [r["event"] for r in recs].count("flag") == 1 and recs[-1]["frames"] >= 2
    lines = out.splitlines()
    assert lines[-1] == "released True"
    stdout_recs = [json.loads(x) for x in lines[:-1]]
    assert any(r["event"] == "stats" and r["fps"] > 0 for r in stdout_recs)
    assert [r for r in stdout_recs if r["event"] != "stats"] == recs
    assert os.path.getsize(path) > 0


def test_detector_error_still_writes_the_stop_record(frames, tmp_path):
    class Broken(SerialDetector):
        def run(self, img):
            if len(self.seen) == 5:
                raise RuntimeError("classifier exploded")
            return super().run(img)
    path = tmp_path / "events.jsonl"
    events = EventLog(str(path), echo=None)
    mon = Monitor(Broken(), FakeCamera(frames, fps=100.0).open, events=events,
                  config=MonitorConfig(stats_every=0, quiet=True), capture=CaptureConfig(**FAST))
    with pytest.raises(RuntimeError, match="exploded"):
        mon.run()
    recs = read_events(path)
    assert recs[-1]["event"] == "stop" and recs[-1]["reason"] == "error: RuntimeError: classifier exploded"
    assert recs[-1]["frames"] == 5 and mon.capture.state == "STOPPED"


KILL_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {fixtures!r})
    from fake_camera import FakeCamera, SerialDetector, load_frames
    from edge_sdk.monitor.capture import CaptureConfig
    from edge_sdk.monitor.events import EventLog
    from edge_sdk.monitor.loop import Monitor, MonitorConfig
    cam = FakeCamera(load_frames(limit=20), fps=1000.0)
    # Scores alternate, k=1, re-flagging on: a flag and a clear record every frame.
    det = SerialDetector(score=lambda s: 0.9 if s % 2 else 0.1)
    Monitor(det, cam.open, events=EventLog(sys.argv[1], echo=None),
            config=MonitorConfig(k=1, smoothing="none", reflag=True, stats_every=0, quiet=True),
            capture=CaptureConfig(read_timeout=1.0)).run()
""")


def test_kill_9_of_a_running_monitor_leaves_whole_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    script = tmp_path / "child.py"
    script.write_text(KILL_CHILD.format(fixtures=str(FIXTURES)))
    proc = subprocess.Popen([sys.executable, str(script), str(path)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not path.exists() or path.read_bytes().count(b"\n") < 150):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    from edge_sdk.monitor.events import read_events as read_after_kill  # a partial last line is allowed here
    recs = read_after_kill(path)
    assert len(recs) >= 150 and recs[0]["event"] == "start" and recs[-1]["event"] in ("flag", "clear")
    kinds = [r["event"] for r in recs[1:]]
    assert all(a != b for a, b in zip(kinds, kinds[1:]))  # flag, clear, flag, ...: no line lost in between
