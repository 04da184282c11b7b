"""ONNX operator definitions, one module per op or op family (see registry.py)."""
from .registry import OpDef, lookup, register, supported_ops, unsupported

__all__ = ["OpDef", "lookup", "register", "supported_ops", "unsupported"]
