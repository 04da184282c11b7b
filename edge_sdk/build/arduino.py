"""Package a compiled model as an Arduino library (zip): library.properties,
the generated sources and runtime headers under src/, and an example sketch."""
from __future__ import annotations

import zipfile
from pathlib import Path

from .. import __version__
from ..devices import Device

ARCHITECTURES = {"arduino-nano33ble": "mbed_nano,mbed", "sparkfun-edge": "apollo3"}

SKETCH = """// {prefix} compiled by edge-sdk {version} for {device}.
// Runs one inference a second on a zero input and prints the first output and
// the latency. Replace fill_input() with your sensor or camera data.
#include <{prefix}.h>

alignas(64) static uint8_t arena[{macro}_ARENA_BYTES > 0 ? {macro}_ARENA_BYTES : 1];
{buffers}

static void fill_input() {{
  // Your application writes {macro}_INPUT0_ELEMENTS values into input0 here (sensor, camera...).
}}

void setup() {{
  Serial.begin(115200);
  while (!Serial) {{
  }}
  Serial.print("{prefix}: arena bytes = ");
  Serial.println({macro}_ARENA_BYTES);
}}

void loop() {{
  fill_input();
  const void* inputs[] = {{{in_list}}};
  void* outputs[] = {{{out_list}}};
  const unsigned long t0 = micros();
  const int rc = {prefix}_run(inputs, outputs, arena);
  const unsigned long dt = micros() - t0;
  Serial.print("rc=");
  Serial.print(rc);
  Serial.print(" output0[0]=");
  Serial.print(static_cast<double>(output0[0]), 6);
  Serial.print(" us=");
  Serial.println(dt);
  delay(1000);
}}
"""


def write_arduino_library(out_dir: Path, prefix: str, dev: Device, io_ctypes: tuple[list[str], list[str]]) -> str:
    """Write arduino/<prefix>.zip next to the sources; return its relative path."""
    macro = prefix.upper()
    lib = f"EdgeSdk_{prefix}"
    ins, outs = io_ctypes
    buffers = "\n".join([f"static {ct} input{k}[{macro}_INPUT{k}_ELEMENTS];" for k, ct in enumerate(ins)] +
                        [f"static {ct} output{k}[{macro}_OUTPUT{k}_ELEMENTS];" for k, ct in enumerate(outs)])
    sketch = SKETCH.format(prefix=prefix, version=__version__, device=dev.name, macro=macro, buffers=buffers,
                           in_list=", ".join(f"input{k}" for k in range(len(ins))),
                           out_list=", ".join(f"output{k}" for k in range(len(outs))))
    props = "\n".join([f"name={lib}", f"version={__version__}", "author=edge-sdk", "maintainer=edge-sdk",
                       f"sentence={prefix} compiled ahead of time by edge-sdk (no heap, fixed arena).",
                       f"paragraph=Arena {macro}_ARENA_BYTES bytes; call {prefix}_run(inputs, outputs, arena).",
                       "category=Data Processing", "url=https://github.com/edge-sdk/edge-sdk",
                       f"architectures={ARCHITECTURES.get(dev.name, '*')}", f"includes={prefix}.h", ""])
    rel = f"arduino/{lib}.zip"
    (out_dir / "arduino").mkdir(exist_ok=True)
    with zipfile.ZipFile(out_dir / rel, "w", zipfile.ZIP_DEFLATED) as z:
        def add(arcname: str, data: str | bytes) -> None:
            info = zipfile.ZipInfo(f"{lib}/{arcname}", date_time=(2020, 1, 1, 0, 0, 0))  # deterministic
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
        add("library.properties", props)
        for f in (f"{prefix}.h", f"{prefix}.cpp", f"{prefix}_weights.h", f"{prefix}_weights.cpp"):
            add(f"src/{f}", (out_dir / f).read_bytes())
        for h in sorted((out_dir / "include").rglob("*.h")):
            add(f"src/{h.relative_to(out_dir / 'include').as_posix()}", h.read_bytes())
        add(f"examples/{prefix}_inference/{prefix}_inference.ino", sketch)
    return rel
