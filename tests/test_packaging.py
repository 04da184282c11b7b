"""`pip install .` gives a self-contained package: extension, kernel headers, device
profiles, runner and firmware sources, bundled models with their NOTICE."""
from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_carries_everything_a_user_needs_outside_the_repo(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("edge_sdk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert any(n.startswith("edge_sdk/_runtime.") and n.endswith(".so") for n in names)
    for required in ("edge_sdk/_data/include/edge_sdk/abi.h", "edge_sdk/_data/include/edge_sdk/kernels/conv.h",
                     "edge_sdk/_data/include/edge_sdk/kernels/int8/requant.h", "edge_sdk/_data/devices/rpi4.toml",
                     "edge_sdk/_data/runner/runner.cpp", "edge_sdk/_data/firmware/startup_cortex_m.cpp",
                     "edge_sdk/assets/mesonet/meso4_df.onnx", "edge_sdk/assets/mesonet/NOTICE.MesoNet",
                     "edge_sdk/assets/mesonet/LICENSE.MesoNet", "edge_sdk/assets/samples/real00240.jpg"):
        assert required in names, required
    assert "edge_sdk/assets/demo/demo_clip.mp4" in names  # make demo's clip, built from the Apache-2.0 samples
    assert "edge_sdk/assets/deepfake/default.json" in names
    # Research-only data never ships: no FF++ crops, no test-fixture footage from ../shared.
    assert not any("faces/" in n or "hamilton" in n or "facenet_pytorch" in n for n in names)
    assert [n for n in names if n.endswith((".mp4", ".avi"))] == ["edge_sdk/assets/demo/demo_clip.mp4"]
