"""Build an ir.Graph into a host library and run it (the accuracy report and tests need
int8 numbers from the real generated code, not from a model of it)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .. import ir


class HostModel:
    def __init__(self, g: ir.Graph, work_dir: str | Path, prefix: str = "qmodel", cflags: tuple[str, ...] = ()):
        """cflags: added to the compiler's (tests: -DEDGE_SDK_KERNELS_PORTABLE builds no SIMD path)."""
        from .._runtime import ModelLibrary
        from ..build.toolchain import COMMON_FLAGS, WEIGHTS_FLAGS, find_toolchain, run_compiler
        from ..codegen.cpp_writer import write_sources
        from ..devices import get_device
        from ..ops import lookup
        from ..plan import plan_arena
        from ..resources import kernel_include_dir
        for n in g.nodes:
            lookup(n, g).check(n, g)
        d = Path(work_dir)
        d.mkdir(parents=True, exist_ok=True)
        plan = plan_arena(g)
        src = write_sources(g, plan, prefix, "// edge-sdk int8 evaluation build", "")
        for fname, text in src.files.items():
            (d / fname).write_text(text)
        if (d / "include").exists():
            shutil.rmtree(d / "include")
        shutil.copytree(kernel_include_dir(), d / "include")
        # Just the shared library for this machine (the compiler's own build also makes the
        # static library and the runner, which an evaluation build does not need).
        tc = find_toolchain()
        dev = [*tc.device_flags(get_device("host")), *cflags]
        inc = ["-Iinclude", "-I."]
        run_compiler([[tc.cxx, *COMMON_FLAGS, *dev, "-fPIC", *inc, "-c", f"{prefix}.cpp", "-o", f"{prefix}.o"],
                      [tc.cxx, *WEIGHTS_FLAGS, *dev, "-fPIC", *inc, "-c", f"{prefix}_weights.cpp", "-o", "w.o"]], d)
        run_compiler([[tc.cxx, *dev, "-shared", "-o", f"lib{prefix}.so", f"{prefix}.o", "w.o"]], d)
        self.lib = ModelLibrary(str(d / f"lib{prefix}.so"), prefix)
        self.g = g
        self.arena_bytes = plan.arena_bytes

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        ins = [np.ascontiguousarray(np.asarray(x, np.dtype(str(self.g.tensor(t).dtype)))) for x, t in zip(inputs, self.g.inputs)]
        outs = [np.empty(self.g.tensor(t).shape, np.dtype(str(self.g.tensor(t).dtype))) for t in self.g.outputs]
        self.lib.run(ins, outs)
        return outs
