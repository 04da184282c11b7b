"""One error hierarchy for the whole SDK.

Every error a user can cause derives from :class:`UserError`; the CLI prints
it as one line with a hint and exits with code 2.  Anything else that escapes
is a bug in edge-sdk (exit code 1).
"""
from __future__ import annotations


class EdgeError(Exception):
    """Base class of every error edge-sdk raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class UserError(EdgeError):
    """Bad input, unsupported model, or a model that does not fit: exit code 2."""

    exit_code = 2


class ModelError(UserError):
    """The model file is malformed, unsafe or inconsistent."""


class UnsupportedOpError(UserError):
    """An operator, attribute value or data type edge-sdk cannot compile."""

    def __init__(self, message: str, *, node: str = "", op_type: str = "", opset: int | None = None,
                 hint: str | None = None):
        where = f"node '{node}' ({op_type}" + (f", opset {opset}" if opset else "") + ")" if op_type else ""
        super().__init__(f"{where}: {message}" if where else message,
                         hint or "see `edge-sdk ops` for what is supported, or replace the node before export")
        self.node, self.op_type, self.opset = node, op_type, opset


class ShapeError(ModelError):
    """A tensor shape could not be resolved to static dimensions."""


class DeviceError(UserError):
    """Unknown or invalid device profile."""


class DeviceFitError(UserError):
    """The compiled model does not fit the device's RAM or flash."""


class InputError(UserError):
    """Inputs given to a compiled model do not match its signature."""


class ToolchainError(EdgeError):
    """The C++ compiler is missing or failed on generated code."""

    exit_code = 2


class InternalError(EdgeError):
    """A bug in edge-sdk."""
