"""Compile once, load many times: the detector's models are cached by what determines the
generated code (model bytes, device, quantization, input shapes, edge-sdk version and
kernel headers), never recompiled on every start.

The cache lives in $EDGE_SDK_CACHE or ~/.cache/edge-sdk.  A compile writes into a private
temporary folder that is renamed into place, and a file lock serialises processes that
want the same entry, so a half-written entry is never loaded.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from .. import __version__
from ..compiler import compile as compile_model
from ..resources import cache_root, kernel_include_dir
from ..runtime import CompiledModel, load


@lru_cache(maxsize=1)
def _kernels_digest() -> str:
    """The kernel headers are part of what a compiled model is made of."""
    h = hashlib.sha256()
    root = kernel_include_dir()
    for p in sorted(root.rglob("*.h")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cache_key(model: Path, device: str, quantize: str, input_shapes: dict | None) -> str:
    h = hashlib.sha256(model.read_bytes())
    h.update(json.dumps({"device": device, "quantize": quantize, "version": __version__,
                         "kernels": _kernels_digest(),
                         "shapes": {k: list(v) for k, v in sorted((input_shapes or {}).items())}},
                        sort_keys=True).encode())
    return h.hexdigest()[:24]


def compiled(model: str | Path, device: str = "host", quantize: str = "none",
             input_shapes: dict | None = None, progress=None) -> CompiledModel:
    """The model compiled for `device`, from the cache when it is there."""
    model = Path(model)
    key = cache_key(model, device, quantize, input_shapes)
    root = cache_root() / "models"
    entry = root / f"{model.stem}-{device}-{quantize}-{key}"
    if (entry / "manifest.json").is_file():
        return load(entry)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{entry.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (entry / "manifest.json").is_file():  # another process finished it while we waited
            return load(entry)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=root))
        try:
            compile_model(model, device=device, out_dir=tmp / "out", quantize=quantize,
                          input_shapes=input_shapes, progress=progress,
                          command=f"edge-sdk detector cache ({model.name})")
            os.replace(tmp / "out", entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return load(entry)
