"""Build generated sources into libraries with clang/LLVM for a device."""
from .toolchain import Toolchain, find_toolchain

__all__ = ["Toolchain", "find_toolchain"]
