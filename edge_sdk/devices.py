"""Device profiles: one TOML file per device in ``devices/``, validated on load."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from functools import lru_cache

from .errors import DeviceError
from .resources import devices_dir


@dataclass(frozen=True)
class Device:
    name: str
    description: str
    os: str                 # "linux" or "bare-metal"
    arch: str               # x86_64, aarch64, armv7, thumbv7em, native
    triple: str             # clang --target; "" for a native build
    cpu: str
    cflags: tuple[str, ...]
    simd: tuple[str, ...]
    cores: int
    ram_bytes: int          # 0: not checked
    flash_bytes: int        # 0: not checked
    default_quantize: str   # "none" or "int8"
    toolchain: str
    emulator: str           # "none", "qemu-user", "qemu-system"
    qemu: str               # emulator binary ("" for none)
    qemu_cpu: str           # qemu -cpu (Linux) or -M board (bare metal)
    peak_gmacs_fp32: float
    peak_gmacs_int8: float
    extra: tuple[tuple[str, object], ...] = ()

    @property
    def is_native(self) -> bool:
        return self.triple == "" or self.name == "host"

    @property
    def effective_cores(self) -> int:
        return self.cores or os.cpu_count() or 1


_TYPES = {"cflags": tuple, "simd": tuple}


def _validate(raw: dict, path: str) -> Device:
    known = {f.name: f for f in fields(Device) if f.name != "extra"}
    missing = [k for k in known if k not in raw]
    if missing:
        raise DeviceError(f"device profile {path} lacks field(s): {', '.join(missing)}")
    values = {}
    for k, f in known.items():
        v = raw[k]
        want = _TYPES.get(k, {"str": str, "int": int, "float": float}.get(str(f.type), str))
        if want is tuple:
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise DeviceError(f"device profile {path}: '{k}' must be a list of strings")
            v = tuple(v)
        elif want is float:
            if not isinstance(v, (int, float)):
                raise DeviceError(f"device profile {path}: '{k}' must be a number")
            v = float(v)
        elif not isinstance(v, want) or isinstance(v, bool):
            raise DeviceError(f"device profile {path}: '{k}' must be {want.__name__}, got {type(v).__name__}")
        values[k] = v
    if values["os"] not in ("linux", "bare-metal"):
        raise DeviceError(f"device profile {path}: os must be 'linux' or 'bare-metal'")
    if values["default_quantize"] not in ("none", "int8"):
        raise DeviceError(f"device profile {path}: default_quantize must be 'none' or 'int8'")
    if min(values["cores"], values["ram_bytes"], values["flash_bytes"]) < 0:
        raise DeviceError(f"device profile {path}: cores and budgets must not be negative")
    extra = tuple(sorted((k, v) for k, v in raw.items() if k not in known))
    return Device(**values, extra=extra)


@lru_cache(maxsize=None)
def all_devices() -> dict[str, Device]:
    out = {}
    for p in sorted(devices_dir().glob("*.toml")):
        with open(p, "rb") as f:
            try:
                raw = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise DeviceError(f"device profile {p} is not valid TOML: {e}") from None
        d = _validate(raw, str(p))
        if d.name != p.stem:
            raise DeviceError(f"device profile {p} declares name '{d.name}'; it must match the file name")
        out[d.name] = d
    return out


def get_device(name: str | Device) -> Device:
    if isinstance(name, Device):
        return name
    devs = all_devices()
    if name not in devs:
        raise DeviceError(f"unknown device '{name}'", f"valid devices: {', '.join(sorted(devs))}")
    return devs[name]
