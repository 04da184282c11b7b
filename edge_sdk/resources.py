"""Where the package's data lives: the source tree when run from a checkout or an
editable install, ``edge_sdk/_data`` when installed from a wheel."""
from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(source_rel: str, data_rel: str) -> Path:
    src = _PKG.parent / source_rel
    if src.exists():
        return src
    return _PKG / "_data" / data_rel


def kernel_include_dir() -> Path:
    """Folder holding edge_sdk/abi.h and edge_sdk/kernels/*.h."""
    return _find("cpp/include", "include")


def runner_source() -> Path:
    """The standalone runner's C++ source (compiled once per model folder)."""
    return _find("cpp/runner", "runner") / "runner.cpp"


def peak_probe_source() -> Path:
    """The C++ probe that measures a native machine's peak (edge_sdk/peak.py)."""
    return _find("cpp/runner", "runner") / "peak_probe.cpp"


def cache_root() -> Path:
    """Where compiled detectors and measured peaks are kept: $EDGE_SDK_CACHE, else ~/.cache/edge-sdk."""
    env = os.environ.get("EDGE_SDK_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "edge-sdk"


def firmware_dir() -> Path:
    """Start-up code and test harness for emulated Cortex-M boards."""
    return _find("cpp/firmware", "firmware")


def devices_dir() -> Path:
    return _find("devices", "devices")


def assets_dir() -> Path:
    """Models and samples shipped inside the package."""
    return _PKG / "assets"
