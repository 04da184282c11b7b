"""Video sources for the monitor: what `--source` means and how each kind is opened.

Every opener returns an object with cv2.VideoCapture's interface (read, isOpened,
release, get), so the capture thread treats a webcam, a file, an RTSP stream and a
Raspberry Pi camera alike, and tests can hand it a fake camera with the same interface.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

PICAMERA_HINT = ("the picamera source needs a Raspberry Pi with picamera2 (sudo apt install python3-picamera2, "
                 "and a venv made with --system-site-packages); on other machines use --source 0 for a USB webcam")


@dataclass(frozen=True)
class SourceSpec:
    """kind: camera (index or /dev/videoN), file, stream (rtsp/http URL) or picamera."""
    kind: str
    target: int | str

    @property
    def live(self) -> bool:
        """Live sources drop stale frames and reconnect; files are read frame by frame until EOF."""
        return self.kind != "file"

    def __str__(self) -> str:
        return str(self.target) if self.kind != "picamera" else "picamera"


def parse_source(text: str | int) -> SourceSpec:
    """Interpret `--source`: 0, /dev/video0, rtsp://..., picamera, or a video file path."""
    s = str(text).strip()
    if re.fullmatch(r"\d+", s):
        return SourceSpec("camera", int(s))
    if re.fullmatch(r"/dev/video\d+", s):
        return SourceSpec("camera", s)
    if re.match(r"(rtsp|rtsps|rtmp|http|https|udp|tcp)://", s, re.IGNORECASE):
        return SourceSpec("stream", s)
    if s.lower() == "picamera":
        return SourceSpec("picamera", "picamera")
    if not Path(s).is_file():
        raise UserError(f"source '{s}' is not a camera index, /dev/videoN, stream URL, 'picamera' or an existing file",
                        "examples: --source 0, --source /dev/video2, --source clip.mp4, --source rtsp://host/stream")
    return SourceSpec("file", s)


def picamera_to_bgr(array: np.ndarray, fmt: str) -> np.ndarray:
    """A picamera2 capture_array() result as an OpenCV BGR uint8 image.

    libcamera names formats after the 32-bit word, not the byte order, so in memory
    "RGB888" is already B,G,R and "BGR888" is R,G,B; "XRGB8888" is B,G,R,X and
    "XBGR8888" is R,G,B,X.  Getting this backwards swaps red and blue, which a face
    classifier notices.
    """
    fmt = fmt.upper()
    a = np.asarray(array)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise UserError(f"picamera2 gave an array of shape {a.shape} for format {fmt}; expected HxWx3 or HxWx4",
                        "configure the camera with format RGB888 or XRGB8888")
    if fmt in ("RGB888", "XRGB8888"):
        return np.ascontiguousarray(a[:, :, :3])
    if fmt in ("BGR888", "XBGR8888"):
        return np.ascontiguousarray(a[:, :, 2::-1])
    raise UserError(f"picamera2 format {fmt} is not supported by the monitor",
                    "configure the camera with format RGB888 or XRGB8888")


def require_picamera2():
    """The Picamera2 class, or a UserError saying this needs a Raspberry Pi (checked before loading models)."""
    try:
        from picamera2 import Picamera2  # only on a Raspberry Pi; imported when asked for
    except Exception as e:  # ImportError, or libcamera's bindings missing on non-Pi machines
        raise UserError(f"cannot use --source picamera: {type(e).__name__}: {e}", PICAMERA_HINT) from None
    return Picamera2


class Picamera2Capture:
    """picamera2 behind cv2.VideoCapture's interface (read, isOpened, release, get)."""

    def __init__(self, size: tuple[int, int] = (640, 480), fmt: str = "XRGB8888"):
        Picamera2 = require_picamera2()
        self.fmt = fmt
        self.size = size
        self._cam = Picamera2()
        self._cam.configure(self._cam.create_video_configuration(main={"size": size, "format": fmt}))
        self._cam.start()
        self._open = True

    def read(self):
        if not self._open:
            return False, None
        try:
            return True, picamera_to_bgr(self._cam.capture_array("main"), self.fmt)
        except Exception:  # a camera that went away: the capture thread reconnects
            return False, None

    def isOpened(self) -> bool:  # noqa: N802 - cv2.VideoCapture's name
        return self._open

    def get(self, prop: int) -> float:
        import cv2
        sizes = {cv2.CAP_PROP_FRAME_WIDTH: float(self.size[0]), cv2.CAP_PROP_FRAME_HEIGHT: float(self.size[1])}
        return sizes.get(prop, 0.0)

    def release(self) -> None:
        if self._open:
            self._open = False
            try:
                self._cam.stop()
                self._cam.close()
            except Exception:
                pass


def open_source(spec: SourceSpec):
    """Open a capture for `spec`; the result may be closed (isOpened() False) when the device is absent."""
    if spec.kind == "picamera":
        return Picamera2Capture()
    import cv2
    if spec.kind == "stream":
        # FFMPEG handles RTSP; a TCP transport avoids smeared frames from lost UDP packets.
        os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        # FFMPEG's own timeouts make a dead stream's open()/read() return instead of blocking for
        # ever (our read deadline notices a hang sooner; this lets the abandoned reader finish).
        return cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG,
                                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000])
    if spec.kind == "file":
        return cv2.VideoCapture(str(spec.target))
    cap = cv2.VideoCapture(spec.target)
    if cap.isOpened():
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep the driver from queueing old frames behind our back
    return cap


def source_fps(cap, default: float = 30.0) -> float:
    """The capture's nominal frame rate, or `default` when it does not say (many webcams report 0)."""
    try:
        import cv2
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    except Exception:
        return default
    return fps if 1.0 <= fps <= 240.0 else default
