"""`edge-sdk monitor`: watch a camera, file or stream and flag deepfake faces.

Wired into edge_sdk/cli.py with add_monitor_parser(sub); the parser sets fn=cmd_monitor.
"""
from __future__ import annotations

import argparse

from ..errors import UserError

DESCRIPTION = """Watch a camera, video file or stream and flag faces the deepfake classifier scores as fake.

Sources: 0 (camera index), /dev/video2, clip.mp4, rtsp://host/stream, picamera (Raspberry Pi).
Files are read frame by frame, every frame processed (no drops) as fast as the detector
goes; --realtime paces a file at its own fps and drops frames like a live camera; --loop
restarts it at the end.  Live sources keep only the newest frame, reconnect on faults
(disconnect, hang, frozen or black picture) with capped exponential backoff.
A face is flagged once per track, after its smoothed fake score stays >= --threshold for
--k scored frames in a row."""


def _positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return v
    return parse


def add_monitor_parser(subparsers) -> argparse.ArgumentParser:
    m = subparsers.add_parser("monitor", help="flag deepfake faces in a camera, file or stream",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--source", default="0", help="0 | /dev/videoN | FILE | rtsp://... | picamera (default 0)")
    d = m.add_argument_group("detector")
    d.add_argument("--model", help="deepfake classifier ONNX (default: the bundled one)")
    d.add_argument("--device", default="host", help="device profile to compile for (default host)")
    d.add_argument("--quantize", choices=["none", "int8"], default=None, help="default: the detector's choice")
    d.add_argument("--min-face", type=_positive(int), help="smallest face side in pixels that gets scored")
    d.add_argument("--min-face-score", type=float, help="face detection confidence below which a face is "
                                                           "tracked but not scored (default 0.8)")
    d.add_argument("--detect-width", type=_positive(int), help="frame width the face detector runs at")
    f = m.add_argument_group("flagging")
    f.add_argument("--threshold", type=float, help="fake score at or above which a face counts as fake "
                                                   "(default: the detector's)")
    f.add_argument("--k", type=_positive(int), default=5, help="scored frames in a row above threshold (default 5)")
    f.add_argument("--smoothing", default="ema:0.5", help="ema:ALPHA | mean:N | none (default ema:0.5)")
    f.add_argument("--reflag", action="store_true", help="flag a track again after it has cleared")
    f.add_argument("--max-missed", type=int, default=10, help="frames a face may go undetected before "
                                                                "its track ends (default 10)")
    o = m.add_argument_group("outputs")
    o.add_argument("--events", metavar="FILE", help="append events as JSON lines (fsync'ed per line)")
    o.add_argument("--snapshots", metavar="DIR", help="JPEG of each flagged face")
    o.add_argument("--snapshot-frames", action="store_true", help="with --snapshots: also the whole frame")
    o.add_argument("--record", metavar="OUT.mp4", help="annotated video")
    o.add_argument("--display", action="store_true", help="show a window (needs a desktop session)")
    o.add_argument("--stats-every", type=float, default=5.0, metavar="S", help="stats period in seconds (0: off)")
    o.add_argument("--json", action="store_true", help="stdout as JSON lines (events and stats)")
    o.add_argument("-q", "--quiet", action="store_true", help="no stats or events on stdout")
    r = m.add_argument_group("run and source control")
    r.add_argument("--loop", action="store_true", help="file: start again at the end")
    r.add_argument("--realtime", action="store_true", help="file: pace at its fps and drop frames when behind")
    r.add_argument("--max-frames", type=_positive(int), help="stop after N processed frames")
    r.add_argument("--duration", type=_positive(float), metavar="S", help="stop after S seconds")
    r.add_argument("--read-timeout", type=_positive(float), default=2.0, metavar="S",
                   help="no frame for S seconds counts as a hung source (default 2)")
    r.add_argument("--backoff-base", type=_positive(float), default=0.5, metavar="S")
    r.add_argument("--backoff-cap", type=_positive(float), default=30.0, metavar="S")
    r.add_argument("--max-attempts", type=_positive(int), help="give up after N failed reconnects (default: never)")
    r.add_argument("--frozen-frames", type=int, default=150, metavar="M",
                   help="M identical frames in a row = frozen camera (default 150; 0: off)")
    r.add_argument("--black-frames", type=int, default=60, metavar="M",
                   help="M black frames in a row = covered or dead camera (default 60; 0: off)")
    m.set_defaults(fn=cmd_monitor)
    return m


def _make_detector(args):
    from ..detector import Detector
    kwargs = {"model": args.model, "device": args.device, "quantize": args.quantize}
    for name in ("threshold", "min_face", "min_face_score", "detect_width"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    if args.snapshots:
        kwargs["keep_crops"] = True  # the snapshot is the aligned crop the classifier scored
    return Detector(**kwargs)


def cmd_monitor(args) -> int:
    from .capture import CaptureConfig
    from .events import EventLog
    from .loop import Monitor, MonitorConfig, check_display
    from .sources import parse_source, require_picamera2
    from .tracking import Smoother

    spec = parse_source(args.source)
    # Everything that can be refused is refused before the detector is compiled/loaded.
    if spec.kind == "picamera":
        require_picamera2()
    if args.display:
        check_display()
    Smoother(args.smoothing)
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UserError(f"--threshold must be in [0, 1], got {args.threshold}")
    if args.backoff_cap < args.backoff_base:
        raise UserError("--backoff-cap must be >= --backoff-base")
    if (args.loop or args.realtime) and spec.kind != "file":
        raise UserError("--loop and --realtime apply to video files only")
    events = EventLog(args.events, echo="json" if args.json else (None if args.quiet else "text"))
    try:
        detector = _make_detector(args)
        capture = CaptureConfig(live=spec.live, loop=args.loop, realtime=args.realtime,
                                read_timeout=args.read_timeout, backoff_base=args.backoff_base,
                                backoff_cap=args.backoff_cap, max_attempts=args.max_attempts,
                                frozen_frames=args.frozen_frames, black_frames=args.black_frames)
        config = MonitorConfig(threshold=args.threshold, k=args.k, smoothing=args.smoothing, reflag=args.reflag,
                               max_missed=args.max_missed, max_frames=args.max_frames, duration=args.duration,
                               stats_every=args.stats_every, snapshots=args.snapshots,
                               snapshot_frames=args.snapshot_frames, record=args.record, display=args.display,
                               json=args.json, quiet=args.quiet)
        monitor = Monitor(detector, spec, config=config, capture=capture, events=events)
        restore = monitor.install_signal_handlers()
        try:
            summary = monitor.run()
        finally:
            restore()
    finally:
        events.close()
    if summary["reason"] == "gave_up" or summary["reason"].startswith("fault:"):
        raise UserError(f"the video source failed ({summary['reason']}) after {summary['frames']} frames",
                        "check the camera or stream; --max-attempts bounds the reconnection attempts")
    return 0
