"""edge-sdk: compile ONNX classifiers ahead of time into fast, heap-free C++ for edge devices.

    import edge_sdk
    model = edge_sdk.compile("model.onnx", device="host", out_dir="out")
    y, = model.run(x)
    model = edge_sdk.load("out")
"""
__version__ = "0.1.0"

from .compiler import compile  # noqa: E402
from .errors import (DeviceError, DeviceFitError, EdgeError, InputError, ModelError,  # noqa: E402
                     ToolchainError, UnsupportedOpError, UserError)
from .runtime import CompiledModel, load  # noqa: E402
from .detector import Detector  # noqa: E402

__all__ = ["compile", "load", "CompiledModel", "Detector", "EdgeError", "UserError", "ModelError",
           "UnsupportedOpError", "DeviceError", "DeviceFitError", "InputError", "ToolchainError",
           "__version__"]
