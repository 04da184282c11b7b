"""Smallest TFLite Micro arena that runs a .tflite (bisection), for comparison with edge-sdk's arena.

Needs the `tflite-micro` package, which needs numpy<2, so run it from its own venv:
    python3 -m venv /tmp/tflm && /tmp/tflm/bin/pip install "numpy<2" tflite-micro
    /tmp/tflm/bin/python tests/tflite/tflm_arena.py tests/tflite/fixtures/mobilenet_v2_035_96_int8.tflite
An arena "runs" when the interpreter allocates and invokes and gives the same output as with 64 MiB.
TFLite Micro's arena holds the input and output tensors too (edge-sdk's arena does not: its I/O
buffers are the caller's), so compare it with edge-sdk's arena + I/O bytes as well.
"""
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime

def runs(path, n, x):
    try:
        it = runtime.Interpreter.from_file(path, arena_size=n)
        it.set_input(x, 0)
        it.invoke()
        return it.get_output(0)
    except Exception:
        return None

path = sys.argv[1]
it = runtime.Interpreter.from_file(path, arena_size=64 << 20)
d = it.get_input_details(0)
if d["dtype"] == np.int8:
    x = np.random.default_rng(0).integers(-128, 128, d["shape"], dtype=np.int8)
else:
    x = np.zeros(d["shape"], d["dtype"])
ref = runs(path, 64 << 20, x)
lo, hi = 1024, 64 << 20
while hi - lo > 16:
    mid = (lo + hi) // 2
    y = runs(path, mid, x)
    if y is not None and np.array_equal(y, ref):
        hi = mid
    else:
        lo = mid
print(path.split('/')[-1], "tflm_min_arena_bytes", hi)
