"""Run a cross-built model folder under emulation (qemu-user for Linux ARM
profiles), through the folder's standalone runner and .npy files."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .devices import get_device
from .errors import ToolchainError, UserError


def emulator_command(out_dir: Path, manifest: dict) -> list[str]:
    dev = get_device(manifest["device"])
    if dev.emulator == "qemu-system":
        fw = manifest.get("firmware")
        if not fw or not (out_dir / fw).is_file():
            raise UserError(f"'{out_dir}' has no test firmware", "recompile without --no-build")
        qemu = shutil.which(dev.qemu)
        if not qemu:
            raise ToolchainError(f"{dev.qemu} is not installed", "sudo apt-get install qemu-system-arm")
        # Semihosting gives the firmware the host's files (in0.bin ...) in qemu's working directory.
        return [qemu, "-M", dev.qemu_cpu, "-nographic", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native", "-kernel", str((out_dir / fw).resolve())]
    runner = manifest.get("runner")
    if not runner or not (out_dir / runner).is_file():
        raise UserError(f"'{out_dir}' has no runner executable", "recompile without --no-build")
    exe = str((out_dir / runner).resolve())
    if manifest.get("runs_on_host"):
        return [exe]
    if dev.emulator == "qemu-user":
        qemu = shutil.which(dev.qemu)
        if not qemu:
            raise ToolchainError(f"{dev.qemu} is not installed", "sudo apt-get install qemu-user")
        return [qemu, "-cpu", dev.qemu_cpu, exe]
    raise UserError(f"device '{dev.name}' ({dev.os}) cannot be emulated in this version")


def run_emulated(out_dir: str | Path, manifest: dict, inputs: list[np.ndarray], timeout: float = 600) -> list[np.ndarray]:
    out_dir = Path(out_dir)
    cmd = emulator_command(out_dir, manifest)
    with tempfile.TemporaryDirectory(prefix="edge-sdk-emu-") as tmp:
        if manifest.get("firmware"):
            return _run_firmware(cmd, Path(tmp), manifest, inputs, timeout)
        args = []
        for k, x in enumerate(inputs):
            p = Path(tmp) / f"in{k}.npy"
            np.save(p, np.ascontiguousarray(x))
            args += ["-i", str(p)]
        outs = [Path(tmp) / f"out{k}.npy" for k in range(len(manifest["outputs"]))]
        for p in outs:
            args += ["-o", str(p)]
        r = subprocess.run(cmd + args, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise UserError(f"the model failed under emulation (exit {r.returncode}): {r.stderr.strip()[:300]}")
        return [np.load(p) for p in outs]


def _run_firmware(cmd: list[str], tmp: Path, manifest: dict, inputs: list[np.ndarray], timeout: float):
    for k, x in enumerate(inputs):
        np.ascontiguousarray(x).tofile(tmp / f"in{k}.bin")
    try:
        r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UserError(f"the firmware did not finish within {timeout:.0f} s under emulation") from None
    if r.returncode != 0:
        raise UserError(f"the firmware failed under emulation (exit {r.returncode}): {r.stderr.strip()[:300]}",
                        "exit 99 is a hard fault; 4-7 are semihosting file errors")
    outs = []
    for k, spec in enumerate(manifest["outputs"]):
        outs.append(np.fromfile(tmp / f"out{k}.bin", dtype=spec["dtype"]).reshape(spec["shape"]))
    return outs
