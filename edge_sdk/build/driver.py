"""One entry point from a device profile to built artefacts and their measured sizes."""
from __future__ import annotations

from pathlib import Path

from ..devices import Device
from .arduino import write_arduino_library
from .firmware import build_static_library, build_test_firmware, section_sizes
from .toolchain import COMMON_FLAGS, Toolchain, build_libraries


def build_for_device(tc: Toolchain, dev: Device, out_dir: Path, prefix: str, *, arena_bytes: int, threads: int = 1,
                     input_bytes: list[int], output_bytes: list[int], io_ctypes: tuple[list[str], list[str]]) -> dict:
    """Build what `dev` needs into out_dir; return file names, flags and real sizes.

    Linux: shared + static library and a standalone runner.  Bare metal: a static
    library and, for emulated boards, a test firmware ELF.  flash_bytes is code +
    constant data of the model; ram_bytes adds its static data, the arena and the
    I/O buffers the caller provides.  threads > 1 (Linux only) links the thread pool.
    """
    if dev.os == "linux":
        extra = ["-pthread"] if threads > 1 else []  # the model's thread pool (cpp/include/edge_sdk/thread_pool.h)
        files = build_libraries(tc, dev, out_dir, prefix, extra)
        flags = COMMON_FLAGS + tc.device_flags(dev) + extra
        sizes = section_sizes(out_dir, files["library"])
    else:
        res = build_static_library(tc, dev, out_dir, prefix)
        flags = res.pop("flags")
        files = res
        files["arduino_library"] = write_arduino_library(out_dir, prefix, dev, io_ctypes)
        if dev.emulator == "qemu-system":
            files["firmware"] = build_test_firmware(tc, dev, out_dir, prefix, input_bytes, output_bytes, flags)
        sizes = section_sizes(out_dir, files["static_library"])
    return {"files": files, "flags": flags, "flash_bytes": sizes["text"] + sizes["data"],
            "ram_bytes": sizes["data"] + sizes["bss"] + arena_bytes + sum(input_bytes) + sum(output_bytes)}
