"""Find the C++ compiler and turn a device profile into compile flags.

clang++ is preferred (clang++-19, then clang++); `--cxx` or $EDGE_SDK_CXX
overrides it, and g++ is the last resort for native builds.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..devices import Device
from ..errors import InternalError, ToolchainError

COMMON_FLAGS = ["-std=c++17", "-O3", "-fno-exceptions", "-fno-rtti", "-fno-strict-aliasing",
                "-fno-math-errno", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"]
WEIGHTS_FLAGS = ["-std=c++17", "-O0", "-fvisibility=hidden"]


@dataclass(frozen=True)
class Toolchain:
    cxx: str
    kind: str  # "clang" or "gcc"
    version: str

    def device_flags(self, device: Device) -> list[str]:
        flags = []
        if device.triple and not device.is_native:
            flags.append(f"--target={device.triple}")
        for f in device.cflags:
            flags += march_flags(f[len("-march="):], self.kind) if f.startswith("-march=") else [f]
        return flags


def march_flags(march: str, kind: str) -> list[str]:
    """-march=<march>, plus what a compiler of `kind` ("clang" or "gcc") needs to build it warning-free."""
    if march == "native" and kind == "clang":
        # clang 19 reads AVX10.1 from the CPUID of AVX512-FP16 Xeons (Sapphire Rapids and
        # later) as "+avx10.1-256" and warns that it promotes it to 512 bits.  The promotion
        # is right for such a CPU, but under -Werror the warning failed every native build.
        # A clang older than that warning does not know its name: -Wno-unknown-warning-option.
        return ["-march=native", "-Wno-unknown-warning-option", "-Wno-invalid-feature-combination"]
    return [f"-march={march}"]


def _version(cxx: str) -> str:
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.splitlines()[0] if out else ""


def find_toolchain(cxx: str | None = None) -> Toolchain:
    cxx = cxx or os.environ.get("EDGE_SDK_CXX")
    candidates = [cxx] if cxx else ["clang++-19", "clang++", "g++"]
    for c in candidates:
        path = shutil.which(c) if c else None
        if path:
            ver = _version(path)
            kind = "clang" if "clang" in ver.lower() else "gcc"
            return Toolchain(path, kind, ver)
    if cxx:
        raise ToolchainError(f"C++ compiler '{cxx}' was not found", "check --cxx / $EDGE_SDK_CXX")
    raise ToolchainError("no C++ compiler found", "install clang: sudo apt-get install clang-19 lld-19")


def run_compiler(cmds: list[list[str]], cwd: Path) -> None:
    """Run compile commands in parallel; raise InternalError with the first failure's output."""
    procs = [(c, subprocess.Popen(c, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
             for c in cmds]
    failures = []
    for c, p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            failures.append((c, out))
    if failures:
        c, out = failures[0]
        log = cwd / "build.log"
        log.write_text(" ".join(c) + "\n" + out)
        first = "\n".join(out.strip().splitlines()[:15])
        raise InternalError(f"generated code failed to compile (full log in {log}):\n{first}",
                            "please report this with the model")


def _archiver() -> str:
    for a in ("llvm-ar-19", "llvm-ar", "ar"):
        if shutil.which(a):
            return a
    raise ToolchainError("no archiver (llvm-ar or ar) found", "install llvm-19 or binutils")


def build_libraries(tc: Toolchain, device: Device, out_dir: Path, prefix: str,
                    extra_flags: list[str] | None = None) -> dict[str, str]:
    """Compile <prefix>.cpp and <prefix>_weights.cpp; link lib<prefix>.so and archive lib<prefix>.a."""
    inc = ["-Iinclude", "-I."]
    dev = tc.device_flags(device)
    extra = list(extra_flags or [])
    objs = [f"{prefix}.o", f"{prefix}_weights.o"]
    cmds = [
        [tc.cxx, *COMMON_FLAGS, *dev, *extra, "-fPIC", *inc, "-c", f"{prefix}.cpp", "-o", objs[0]],
        [tc.cxx, *WEIGHTS_FLAGS, *dev, "-fPIC", *inc, "-c", f"{prefix}_weights.cpp", "-o", objs[1]],
    ]
    run_compiler(cmds, out_dir)
    lib = f"lib{prefix}.so"
    link = [tc.cxx, *dev, *extra, "-shared", "-o", lib, *objs]
    if tc.kind == "clang" and (shutil.which("ld.lld-19") or shutil.which("ld.lld")):
        link.insert(1, "-fuse-ld=lld")
    static = f"lib{prefix}.a"
    runner = f"{prefix}_runner"
    # The runner is linked statically so it runs on the board (or under qemu) without a matching libstdc++.
    runner_cmd = [tc.cxx, "-std=c++17", "-O2", *dev, *extra, *inc, f"-DEDGE_MODEL_HEADER=\"{prefix}.h\"",
                  f"-DEDGE_MODEL_ABI={prefix}_abi", "runner.cpp", *objs, "-static", "-o", runner]
    if "-fuse-ld=lld" in link:
        runner_cmd.insert(1, "-fuse-ld=lld")
    run_compiler([link, runner_cmd], out_dir)
    run_compiler([[_archiver(), "rcs", static, *objs]], out_dir)
    for o in objs:
        (out_dir / o).unlink(missing_ok=True)
    return {"library": lib, "static_library": static, "runner": runner}
