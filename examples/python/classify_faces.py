"""Compile the bundled MesoNet once, then score face crops with it.

    python examples/python/classify_faces.py [IMAGE ...]

With no arguments it scores the bundled sample crops. The compiled folder is
reused on later runs (edge_sdk.load), so only the first run pays for clang.
"""
from __future__ import annotations

import sys
from pathlib import Path

import edge_sdk
from edge_sdk.demo import load_face_crop
from edge_sdk.resources import assets_dir

OUT = Path("out/example-meso4")


def main(paths: list[str]) -> None:
    if (OUT / "manifest.json").exists():
        model = edge_sdk.load(OUT)
    else:
        model = edge_sdk.compile(assets_dir() / "mesonet" / "meso4_df.onnx", device="host", out_dir=OUT)
    print(model)
    images = [Path(p) for p in paths] or sorted((assets_dir() / "samples").glob("*.jpg"))
    for img in images:
        p_real = float(model.run(load_face_crop(img))[0].reshape(-1)[0])
        print(f"{img.name:24s} p_real={p_real:.4f} -> {'FAKE' if p_real < 0.5 else 'real'}")


if __name__ == "__main__":
    main(sys.argv[1:])
