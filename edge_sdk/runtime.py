"""CompiledModel: a built model folder, loaded and callable like an onnxruntime session."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .errors import InputError, ModelError


class CompiledModel:
    """A compiled model loaded from its output folder (see :func:`load`)."""

    def __init__(self, out_dir: str | Path):
        self.dir = Path(out_dir)
        mpath = self.dir / "manifest.json"
        if not mpath.is_file():
            raise ModelError(f"'{self.dir}' is not an edge-sdk output folder (no manifest.json)",
                             "compile a model first: edge-sdk compile model.onnx -o DIR")
        self.manifest = json.loads(mpath.read_text())
        lib = self.dir / self.manifest["library"] if self.manifest.get("library") else None
        self._lib = None
        if lib is not None and self.manifest.get("runs_on_host"):
            from . import _runtime
            self._lib = _runtime.ModelLibrary(str(lib), self.manifest["prefix"])
        self.inputs = [dict(name=t["name"], shape=tuple(t["shape"]), dtype=np.dtype(t["dtype"]))
                       for t in self.manifest["inputs"]]
        self.outputs = [dict(name=t["name"], shape=tuple(t["shape"]), dtype=np.dtype(t["dtype"]))
                        for t in self.manifest["outputs"]]

    @property
    def arena_bytes(self) -> int:
        return int(self.manifest["arena_bytes"])

    @property
    def weights_bytes(self) -> int:
        return int(self.manifest["weights_bytes"])

    def _prepare(self, x) -> list[np.ndarray]:
        if isinstance(x, Mapping):
            names = [t["name"] for t in self.inputs]
            unknown = set(x) - set(names)
            if unknown:
                raise InputError(f"unknown input name(s) {sorted(unknown)}; the model takes {names}")
            missing = [n for n in names if n not in x]
            if missing:
                raise InputError(f"missing input(s) {missing}")
            arrays = [x[n] for n in names]
        elif isinstance(x, (list, tuple)) and len(self.inputs) > 1:
            arrays = list(x)
        else:
            arrays = [x]
        if len(arrays) != len(self.inputs):
            raise InputError(f"the model takes {len(self.inputs)} inputs, got {len(arrays)}",
                             "pass a dict of name -> array")
        out = []
        for a, spec in zip(arrays, self.inputs):
            a = np.asarray(a)
            if a.shape != spec["shape"]:
                raise InputError(f"input '{spec['name']}' must have shape {spec['shape']}, got {a.shape}",
                                 "recompile with --batch or --input-shape to change it")
            if a.dtype != spec["dtype"]:
                if not np.can_cast(a.dtype, spec["dtype"], casting="same_kind"):
                    raise InputError(f"input '{spec['name']}' must be {spec['dtype']}, got {a.dtype}")
                a = a.astype(spec["dtype"])
            out.append(np.asarray(a, order="C"))
        return out

    def run(self, x: np.ndarray | Mapping[str, np.ndarray] | Sequence[np.ndarray], *,
            emulate: bool = False) -> list[np.ndarray]:
        """Run one inference. Returns the outputs in ONNX order, like onnxruntime's run().

        emulate=True runs the folder's standalone runner instead (under qemu for
        cross-built Linux ARM models), so a build can be checked without the board."""
        if emulate:
            from .emulate import run_emulated
            return run_emulated(self.dir, self.manifest, self._prepare(x))
        if self._lib is None:
            raise ModelError(f"'{self.dir}' was built for device '{self.manifest['device']}' and cannot run here",
                             "use `edge-sdk run DIR INPUT.npy --emulate` for cross-built models")
        inputs = self._prepare(x)
        outputs = [np.empty(t["shape"], t["dtype"]) for t in self.outputs]
        self._lib.run(inputs, outputs)
        return outputs

    __call__ = run

    def __repr__(self) -> str:
        ins = ", ".join(f"{t['name']}{list(t['shape'])}" for t in self.inputs)
        return f"CompiledModel('{self.dir}', inputs=[{ins}], arena={self.arena_bytes} B)"


def load(out_dir: str | Path) -> CompiledModel:
    """Load a model folder written by :func:`edge_sdk.compile`."""
    return CompiledModel(out_dir)
