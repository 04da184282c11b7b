"""TFLite frontend: a .tflite flatbuffer -> ir.Graph, keeping the model's own int8 quantization.

No TensorFlow or flatbuffers package is needed: flatbuf.py reads the file (bounds-checked),
model.py turns it into plain objects, importer.py / convert_ops.py build the IR.
"""
from __future__ import annotations

from pathlib import Path

from ... import ir
from .importer import Importer
from .model import read_model


def is_tflite(path) -> bool:
    return str(path).lower().endswith(".tflite")


def import_tflite(path: str | Path, batch: int = 1, input_shapes=None, row_fusion: bool = True) -> ir.Graph:
    """Read `path` and return a static-shape IR graph (int8 models: internal int8 ops, TFLite's scales).

    row_fusion: run conv -> per-channel ops -> max pool chains with a large un-pooled output row by
    row (fuse_rows.py): much less RAM, slower on x86 than the unfused SIMD convolution."""
    if batch != 1 or input_shapes:
        from ...errors import UserError
        raise UserError("a .tflite model's shapes are fixed when it is converted; --batch and --input-shape do not "
                        "apply to it", "convert the model with the input shape you need")
    return Importer(read_model(path)).run(row_fusion=row_fusion)


__all__ = ["import_tflite", "is_tflite", "read_model"]


def tflite_quant_options(g: ir.Graph, quant):
    """The compiler's QuantOptions for an imported .tflite: int8 models keep TFLite's own
    quantization (nothing to calibrate); float models are compiled as float."""
    import dataclasses

    from ...errors import UserError
    is_int8 = any(t.quant is not None and t.dtype == "int8" for t in g.tensors.values())
    if quant.mode == "int8" and not is_int8:
        why = f" (the default for {quant.from_device_default})" if quant.from_device_default else ""
        raise UserError(f"int8 compilation{why} of a float .tflite is not supported: edge-sdk keeps a TFLite "
                        "model's own quantization", "convert it to full-integer int8 with the TFLite converter "
                        "(representative_dataset, TFLITE_BUILTINS_INT8), or pass --quantize none")
    return dataclasses.replace(quant, mode="none") if quant.mode != "none" else quant


__all__ += ["tflite_quant_options"]
