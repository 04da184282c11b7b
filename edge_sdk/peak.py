"""The peak of the machine a benchmark runs on, measured rather than assumed.

A device profile states its peak (a Pi 4's is fixed by its cores and clock), but the host
profile's depends on whatever CPU this is: which SIMD units, how wide, at what clock.  So
for the host `edge-sdk bench` measures it: cpp/runner/peak_probe.cpp, built with the host's
flags, times long chains of the multiply-accumulate instructions the kernels are made of
(fp32 FMA; int8 vpdpbusd on AVX-512 VNNI, else vpmaddwd + vpaddd on AVX2, else sdot) on
one core.  The probe is built once per CPU, flags and compiler into the edge-sdk cache
folder ($EDGE_SDK_CACHE, else ~/.cache/edge-sdk) and runs (~0.1 s) with every benchmark;
the highest figure it has given on this machine is kept there as the peak.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .build.toolchain import COMMON_FLAGS, find_toolchain
from .devices import Device, get_device
from .resources import cache_root, kernel_include_dir, peak_probe_source


@dataclass(frozen=True)
class Peak:
    fp32_gmacs: float
    int8_gmacs: float
    int8_instruction: str  # what the int8 figure was measured with
    source: str            # "profile" (the device file states it) or "measured"


def _cpu_identity() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return os.uname().machine
    keep = [ln for ln in lines if ln.split(":")[0].strip() in ("model name", "flags", "Features", "CPU part")]
    return "\n".join(dict.fromkeys(keep))  # the first core's lines; every core repeats them


def _probe(device: Device) -> Path:
    """The probe binary for `device` (a native one), built once into the cache."""
    tc = find_toolchain()
    src = peak_probe_source()
    key = hashlib.sha256("\n".join([_cpu_identity(), tc.version, *tc.device_flags(device), src.read_text()])
                         .encode()).hexdigest()[:20]
    exe = cache_root() / "peak" / f"probe-{key}"
    if not exe.is_file():
        exe.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="edge-sdk-peak-", dir=exe.parent) as tmp:
            built = Path(tmp) / exe.name
            cmd = [tc.cxx, *COMMON_FLAGS, *tc.device_flags(device), f"-I{kernel_include_dir()}", str(src),
                   "-o", str(built)]
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)
            os.replace(built, exe)  # atomic: a concurrent benchmark never runs half a file
    return exe


def measure_peak(device: Device, iterations: int = 2_000_000) -> Peak:
    """Run the probe for `device` (a native one) now: the best of five timings of each figure."""
    out = subprocess.run([str(_probe(device)), str(iterations)], check=True, capture_output=True, text=True,
                         timeout=120)
    fp32, int8, instruction = out.stdout.split(maxsplit=2)
    return Peak(float(fp32), float(int8), instruction.strip(), "measured")


def peak_for(device: str | Device) -> Peak | None:
    """The device's peak: its profile's figures; else, for a native build, the highest the
    probe has measured on this machine (a run on a busy core measures low, so each call
    measures again, ~0.1 s, and keeps the maximum); else None (a cross-compiled device whose
    profile does not say)."""
    dev = get_device(device)
    if dev.peak_gmacs_fp32 > 0 and dev.peak_gmacs_int8 > 0:
        return Peak(dev.peak_gmacs_fp32, dev.peak_gmacs_int8, "", "profile")
    if not dev.is_native:
        return None
    now = measure_peak(dev)
    path = cache_root() / "peak" / "peak.json"
    key = _probe(dev).name
    try:
        seen = json.loads(path.read_text())
        best = Peak(**seen[key])
    except (OSError, ValueError, KeyError, TypeError):
        seen, best = {}, now
    best = Peak(max(best.fp32_gmacs, now.fp32_gmacs), max(best.int8_gmacs, now.int8_gmacs), now.int8_instruction,
                "measured")
    seen[key] = asdict(best)
    try:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(seen, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache still gets this run's figure
    return best
