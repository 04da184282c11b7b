"""Build the demo clip `make demo` runs the monitor on: edge_sdk/assets/demo/demo_clip.mp4.

Only MesoNet's four sample crops (Apache-2.0, edge_sdk/assets/samples) appear in it, so
the package can ship it.  Two scenes of four seconds at 10 fps, 640x360: a real and a
fake face side by side, drifting slowly so that tracking has something to follow.

    python tools/make_demo_clip.py          # deterministic: same frames every time
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "edge_sdk" / "assets" / "samples"
OUT = ROOT / "edge_sdk" / "assets" / "demo" / "demo_clip.mp4"
W, H, FPS, SCENE_S, FACE = 640, 360, 10, 4, 200
SCENES = [("real00240.jpg", "df00204.jpg"), ("df01254.jpg", "real00772.jpg")]


def background(t: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    g = 90 + 25 * np.sin(x / 97.0 + t / 15.0) + 15 * np.cos(y / 61.0)
    return np.dstack([g, g * 0.95, g * 0.9]).astype(np.uint8)


def main() -> None:
    faces = {n: cv2.resize(cv2.imread(str(SAMPLES / n)), (FACE, FACE), interpolation=cv2.INTER_AREA)
             for pair in SCENES for n in pair}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(OUT), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    t = 0
    for left, right in SCENES:
        for i in range(SCENE_S * FPS):
            frame = background(t)
            dx, dy = int(12 * np.sin(i / 9.0)), int(8 * np.cos(i / 11.0))
            for name, x0 in ((left, 60), (right, W - 60 - FACE)):
                y0 = (H - FACE) // 2 + dy
                frame[y0:y0 + FACE, x0 + dx:x0 + dx + FACE] = faces[name]
            writer.write(frame)
            t += 1
    writer.release()
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {t} frames)")


if __name__ == "__main__":
    main()
