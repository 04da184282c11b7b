"""Frontends turn a model file into an :class:`edge_sdk.ir.Graph`."""
from .onnx_import import import_onnx

__all__ = ["import_onnx"]
