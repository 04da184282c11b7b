"""--threads N: heavy layers split between the threads of a static pool in the model.

A threaded build must give the single-threaded build's outputs bit for bit (parts never
share an output byte and each computes exactly what the whole layer would), on real
exported models covering each way a layer is split: by output rows (fp32 GEMM conv, int8
conv + pool bands) and by output channels (depthwise, 1x1 and plain int8 convs, down to
single channels of narrow convs on large planes, and the
columns of a one-row classifier, fp32 Gemm or int8 fully connected).  Also:
the pool survives concurrent callers and fork(), and --threads is refused where it cannot
work, with exit code 2.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import edge_sdk
from edge_sdk.errors import UserError

from models import zoo

CASES = [  # (arch, quantize): together they take every split path
    ("meso4", "none"),               # fp32 conv + fused MaxPool: rows
    ("meso4", "int8"),               # int8 conv + pool bands: rows
    ("mobilenetv2_035_96", "none"),  # depthwise and 1x1 fp32: channels; 3x3 stem: rows; Gemm: columns
    ("mobilenetv2_035_96", "int8"),  # int8 depthwise and 1x1: channels; fully connected: columns
    ("resnet_small", "int8"),        # int8 3x3 convs without a pool: channels
    ("mesoinception4", "int8"),      # int8 convs of 1 to 4 channels on 256x256: single-channel parts
    ("efficientnet_style_128", "int8"),  # int8 SiLU tables, SE scaling (QMul by channel), QAdd: channels
]


def _compile(arch: str, q: str, threads: int, out):
    x = zoo.make_input(arch)
    cal = np.random.default_rng(3).standard_normal((8, *x.shape[1:])).astype(np.float32) if q == "int8" else None
    return edge_sdk.compile(zoo.export(arch, "torchscript"), out_dir=out, quantize=q, calibration=cal,
                            threads=threads)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("threads")
    return {(a, q): tuple(_compile(a, q, t, root / f"{a}-{q}-t{t}") for t in (1, 2)) for a, q in CASES}


@pytest.mark.parametrize("arch,q", CASES, ids=[f"{a}-{q}" for a, q in CASES])
def test_two_threads_give_the_single_thread_outputs_bit_for_bit(pairs, arch, q):
    one, two = pairs[(arch, q)]
    assert one.manifest["threads"] == 1 and one.manifest["threaded_nodes"] == 0
    assert two.manifest["threads"] == 2 and two.manifest["threaded_nodes"] > 0
    rng = np.random.default_rng(5)
    for k in range(3):
        x = rng.standard_normal(zoo.make_input(arch).shape).astype(np.float32)
        a, b = one.run(x), two.run(x)
        assert all(u.tobytes() == v.tobytes() for u, v in zip(a, b)), f"input {k} differs"
    assert one.run(x)[0].tobytes() != one.run(zoo.make_input(arch))[0].tobytes(), "inputs do not matter: could not fail"


def test_every_split_kind_is_exercised(pairs):
    """Guards the case list above: rows and channel parts both appear, in fp32 and int8."""
    seen = set()
    for (arch, q), (_, two) in pairs.items():
        src = (two.dir / f"{two.manifest['prefix']}.cpp").read_text()
        assert "#include <edge_sdk/thread_pool.h>" in src
        if "conv2d_gemm_f32_part" in src:
            seen.add("fp32 rows")
        if "// pooled rows [" in src:
            seen.add("int8 rows")
        if "// channels [" in src:
            seen.add(f"{q} channels")
        parts = re.findall(r"// channels \[(\d+), (\d+)\)", src)
        if q == "int8" and any(int(b) - int(a) == 1 for a, b in parts):
            seen.add("int8 single channels")
        if src.count("edge_sdk::gemm_f32<") >= 2:
            seen.add("fp32 classifier columns")
        if src.count("fully_connected_s8_f32<") >= 2:
            seen.add("int8 classifier columns")
        for op in re.findall(r"// channels \[\d+, \d+\)\n\s+edge_sdk::q8::(add|mul|lut)_s8[<(]", src):
            seen.add(f"int8 {op} channels")
    assert seen == {"fp32 rows", "int8 rows", "none channels", "int8 channels", "int8 single channels",
                    "fp32 classifier columns", "int8 classifier columns",
                    "int8 add channels", "int8 mul channels", "int8 lut channels"}, seen


def test_one_thread_builds_have_no_threads(pairs):
    one, _ = pairs[("meso4", "none")]
    src = (one.dir / f"{one.manifest['prefix']}.cpp").read_text()
    assert "thread_pool" not in src and "-pthread" not in one.manifest["compiler"]["flags"]
    assert "Threads::Threads" not in (one.dir / "CMakeLists.txt").read_text()
    _, two = pairs[("meso4", "none")]
    assert "-pthread" in two.manifest["compiler"]["flags"]
    assert "Threads::Threads" in (two.dir / "CMakeLists.txt").read_text()


def test_many_callers_share_one_threaded_model(pairs):
    """Callers beyond the first find the pool busy and run their parts inline: still exact."""
    _, two = pairs[("mobilenetv2_035_96", "int8")]
    models = [two, edge_sdk.load(two.dir)]  # one library, two runtimes (their own arenas, one pool)
    rng = np.random.default_rng(9)
    xs = [rng.standard_normal((1, 3, 96, 96)).astype(np.float32) for _ in range(4)]
    refs = [two.run(x)[0].tobytes() for x in xs]
    errors = []

    def work(t):
        m = models[t % 2]
        for k in range(40):
            i = (t + k) % len(xs)
            if m.run(xs[i])[0].tobytes() != refs[i]:
                errors.append((t, k))
    ths = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    [th.start() for th in ths]
    [th.join() for th in ths]
    assert errors == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_runs_a_threaded_model(pairs, tmp_path):
    """The child's copy of the pool has no worker threads: it must run inline, not hang."""
    _, two = pairs[("meso4", "int8")]
    x = zoo.make_input("meso4")
    np.save(tmp_path / "x.npy", x)
    ref = two.run(x)[0]
    script = f"""
import os, sys, numpy as np, edge_sdk
m = edge_sdk.load({str(two.dir)!r}); x = np.load({str(tmp_path / 'x.npy')!r})
m.run(x)  # the parent starts its pool
pid = os.fork()
if pid == 0:
    np.save({str(tmp_path / 'child.npy')!r}, m.run(x)[0]); os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert np.load(tmp_path / "child.npy").tobytes() == ref.tobytes()


@pytest.mark.parametrize("device,threads,match", [
    ("sparkfun-edge", 2, "bare metal and has no threads"),
    ("host", 0, "positive whole number"),
    ("rpi4", 5, "has 4 core"),
])
def test_threads_refused_where_they_cannot_work(device, threads, match, tmp_path):
    with pytest.raises(UserError, match=match):
        edge_sdk.compile(zoo.export("meso4", "torchscript"), device=device, out_dir=tmp_path / "o", threads=threads, build=False)


def test_cli_threads_error_is_exit_2_and_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edge_sdk", "compile", str(zoo.export("meso4", "torchscript")),
                        "--device", "arduino-nano33ble", "--threads", "2", "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "no threads" in r.stderr and "--threads 1" in r.stderr


def test_cli_compile_reports_the_split(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edge_sdk", "compile", str(zoo.export("meso4", "torchscript")),
                        "--threads", "2", "-o", str(tmp_path / "o"), "--json", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["threads"] == 2 and m["threaded_nodes"] >= 4  # Meso4's four convs


@pytest.mark.skipif(not shutil.which("qemu-aarch64"), reason="qemu-user is installed by `make test`")
def test_rpi4_build_with_four_threads_runs_under_qemu_bit_exact(tmp_path):
    """The pool cross-builds (aarch64, static runner with -pthread) and gives the 1-thread result."""
    path = zoo.export("meso4", "torchscript")
    x = zoo.make_input("meso4")
    cal = np.random.default_rng(3).standard_normal((8, *x.shape[1:])).astype(np.float32)
    one, four = (edge_sdk.compile(path, device="rpi4", out_dir=tmp_path / f"t{t}", quantize="int8", calibration=cal,
                                  threads=t) for t in (1, 4))
    assert four.manifest["threads"] == 4 and four.manifest["threaded_nodes"] >= 4
    assert four.run(x, emulate=True)[0].tobytes() == one.run(x, emulate=True)[0].tobytes()
