"""The golden outputs of TFLite tests: TFLite's own reference kernels (OpResolverType.BUILTIN_REF).

LiteRT (ai-edge-litert) is preferred: tflite-runtime 2.14, its last release, aborts on models
written by current converters.  Both are dev dependencies; TensorFlow is not needed.
"""
from __future__ import annotations

import numpy as np


def interpreter_module():
    """(module, name) of the TFLite Python interpreter available here, LiteRT first; None if neither."""
    from edge_sdk.bench_tflite import find_interpreter
    return find_interpreter()


def make_interpreter(path, reference: bool = True, threads: int = 1):
    """An allocated Interpreter on `path`: TFLite's reference kernels, or its default (XNNPACK) ones."""
    found = interpreter_module()
    if found is None:
        raise ImportError("neither ai-edge-litert nor tflite-runtime is installed (pip install ai-edge-litert)")
    mod, _ = found
    kind = mod.OpResolverType.BUILTIN_REF if reference else mod.OpResolverType.AUTO
    it = mod.Interpreter(model_path=str(path), experimental_op_resolver_type=kind, num_threads=threads)
    it.allocate_tensors()
    return it


def run(it, inputs: list[np.ndarray]) -> list[np.ndarray]:
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def random_inputs(it, seed: int) -> list[np.ndarray]:
    """Seeded inputs over each input's whole range: all int8 codes, or [-1, 1) for float inputs."""
    rng = np.random.default_rng(seed)
    out = []
    for d in it.get_input_details():
        if np.dtype(d["dtype"]) == np.int8:
            out.append(rng.integers(-128, 128, d["shape"], dtype=np.int8))
        else:
            out.append(rng.uniform(-1, 1, d["shape"]).astype(d["dtype"]))
    return out
