"""On-device monitor: capture -> face detection + deepfake scoring -> tracking -> events.

`edge-sdk monitor --source 0|/dev/videoN|FILE|rtsp://...|picamera`; from Python:
Monitor(detector, parse_source("clip.mp4")).run() returns the run's summary.
"""
from .capture import CaptureConfig, CaptureThread, Frame
from .events import EventLog, read_events
from .loop import Monitor, MonitorConfig
from .sources import SourceSpec, open_source, parse_source, picamera_to_bgr
from .tracking import Tracker

__all__ = ["CaptureConfig", "CaptureThread", "EventLog", "read_events", "Frame", "Monitor", "MonitorConfig", "SourceSpec",
           "Tracker", "open_source", "parse_source", "picamera_to_bgr"]
