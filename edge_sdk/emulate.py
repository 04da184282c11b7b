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
