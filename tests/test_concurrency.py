"""Many threads, one model: correct results and no data races.

* Python threads call run() on ONE CompiledModel (the runtime serialises them on its
  mutex, GIL released) and on separate CompiledModels (their own arenas, truly in
  parallel over the same dlopen()ed code); every output must equal the single-thread
  result bit for bit.
* ThreadSanitizer: a C++ harness (tests/concurrency/tsan_harness.cpp) built with
  -fsanitize=thread together with the generated sources drives the model's ABI table
  the way cpp/python/runtime_module.cpp does, with one arena per thread and with one
  shared arena under a mutex.  A control build without the mutex must make TSan report
  the race, so a silent TSan run means something.
* valgrind memcheck on the standalone runner (built for x86-64-v3: valgrind does not
  decode AVX-512), skipped only when valgrind is not installed.
Both an fp32 and an int8 build of a small CNN are covered (different kernels), and both
again with --threads 2, so TSan also checks the model's thread pool under many callers.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edge_sdk

from conftest import make_model

HERE = Path(__file__).resolve().parent
CXX = shutil.which("clang++-19")
VALGRIND = shutil.which("valgrind")
THREADS, ITERS = 8, 200
TSAN_REPORT = "WARNING: ThreadSanitizer"


def _cnn():
    rng = np.random.default_rng(0)

    def w(name, shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=2, name="conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["z"], transB=1, name="fc"),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1, name="sm")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 24, 24])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])
    return make_model(nodes, [x], [y], [w("w1", (16, 3, 3, 3)), w("b1", (16,)), w("w2", (32, 8, 3, 3)),
                                        w("b2", (32,)), w("w3", (10, 32)), w("b3", (10,))])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("concurrency")
    p = root / "cnn.onnx"
    p.write_bytes(_cnn().SerializeToString())
    cal = np.random.default_rng(1).standard_normal((8, 3, 24, 24)).astype(np.float32)
    out = {}
    for kind, q, threads in (("fp32", "none", 1), ("int8", "int8", 1), ("fp32_t2", "none", 2), ("int8_t2", "int8", 2)):
        m = edge_sdk.compile(p, out_dir=root / kind, quantize=q, calibration=cal if q == "int8" else None,
                             threads=threads)
        assert (m.manifest["threaded_nodes"] > 0) == (threads > 1)
        out[kind] = root / kind
    return out


def _inputs(n=6):
    rng = np.random.default_rng(2)
    return [rng.standard_normal((1, 3, 24, 24)).astype(np.float32) for _ in range(n)]


def _hammer(models, inputs, refs) -> list[str]:
    """THREADS threads, each cycling through inputs on models[t % len(models)]; returns the mismatches."""
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    def work(t):
        m = models[t % len(models)]
        start.wait()
        for k in range(ITERS):
            i = (t + k) % len(inputs)
            got = m.run(inputs[i])
            if len(got) != len(refs[i]) or any(a.tobytes() != b.tobytes() for a, b in zip(got, refs[i])):
                errors.append(f"thread {t} iter {k} input {i}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


@pytest.mark.parametrize("kind", ["fp32", "int8"])
def test_threads_share_one_compiled_model(built, kind):
    m = edge_sdk.load(built[kind])
    inputs = _inputs()
    refs = [m.run(x) for x in inputs]
    assert refs[0][0].tobytes() != refs[1][0].tobytes(), "inputs do not change the output: the test could not fail"
    assert _hammer([m], inputs, refs) == []


@pytest.mark.parametrize("kind", ["fp32", "int8"])
def test_threads_on_separate_compiled_models(built, kind):
    models = [edge_sdk.load(built[kind]) for _ in range(4)]
    inputs = _inputs()
    refs = [models[0].run(x) for x in inputs]
    assert _hammer(models, inputs, refs) == []


def test_fp32_and_int8_models_run_concurrently(built):
    """Two different libraries at once (no shared state between generated models)."""
    models = [edge_sdk.load(built["fp32"]), edge_sdk.load(built["int8"])]
    inputs = _inputs(4)
    # _hammer maps thread t to models[t % 2]; give each thread the reference of its own model.
    refs_by_model = [[m.run(x) for x in inputs] for m in models]
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    def work(t):
        m, refs = models[t % 2], refs_by_model[t % 2]
        start.wait()
        for k in range(ITERS):
            i = (t + k) % len(inputs)
            if m.run(inputs[i])[0].tobytes() != refs[i][0].tobytes():
                errors.append(f"thread {t} iter {k}")

    ths = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    [th.start() for th in ths]
    [th.join() for th in ths]
    assert errors == []


def _model_sources(d: Path) -> tuple[str, list[str], list[str]]:
    man = json.loads((d / "manifest.json").read_text())
    prefix = man["prefix"]
    flags = [f for f in man["compiler"]["flags"] if f not in ("-O3", "-Werror", "-fvisibility=hidden")]
    return prefix, flags, [str(d / f"{prefix}.cpp"), str(d / f"{prefix}_weights.cpp")]


def _build_tsan(d: Path, out: Path, *defines: str) -> Path:
    prefix, flags, sources = _model_sources(d)
    exe = out / ("tsan_" + prefix + "".join(x.lower() for x in defines))
    cmd = [CXX, *flags, "-O1", "-g", "-fsanitize=thread", "-fno-omit-frame-pointer", f"-I{d / 'include'}", f"-I{d}",
           f'-DEDGE_MODEL_HEADER="{prefix}.h"', f"-DEDGE_MODEL_ABI={prefix}_abi", *(f"-D{x}" for x in defines),
           str(HERE / "concurrency" / "tsan_harness.cpp"), *sources, "-o", str(exe), "-pthread"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return exe


def _run_tsan(exe: Path, halt_on_error: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "TSAN_OPTIONS": f"halt_on_error={halt_on_error} exitcode=66 report_signal_unsafe=0"}
    r = subprocess.run([str(exe), str(THREADS), "12"], capture_output=True, text=True, timeout=300, env=env)
    if "unexpected memory mapping" in r.stderr or "FATAL: ThreadSanitizer" in r.stderr:
        # TSan cannot start with this kernel's mmap randomisation; run it without ASLR.
        r = subprocess.run(["setarch", os.uname().machine, "-R", str(exe), str(THREADS), "12"], capture_output=True,
                           text=True, timeout=300, env=env)
    return r


@pytest.mark.skipif(CXX is None, reason="clang++-19 not installed")
@pytest.mark.parametrize("kind", ["fp32", "int8", "fp32_t2", "int8_t2"])  # _t2: --threads 2, the model's own pool
def test_generated_code_is_threadsanitizer_clean(built, kind, tmp_path):
    r = _run_tsan(_build_tsan(built[kind], tmp_path))
    assert r.returncode == 0 and TSAN_REPORT not in r.stderr, r.stdout + r.stderr[-6000:]
    assert "private-arena mismatches 0, shared-arena mismatches 0" in r.stdout, r.stdout


@pytest.mark.skipif(CXX is None, reason="clang++-19 not installed")
def test_threadsanitizer_sees_a_shared_arena_without_its_mutex(built, tmp_path):
    """The negative control: drop the runtime's mutex around the shared arena."""
    r = _run_tsan(_build_tsan(built["fp32"], tmp_path, "SHARED_WITHOUT_LOCK"), halt_on_error=1)
    assert "ThreadSanitizer: data race" in r.stderr, r.stdout + r.stderr[-3000:]


@pytest.mark.skipif(VALGRIND is None, reason="valgrind not installed (apt install valgrind)")
@pytest.mark.skipif(CXX is None, reason="clang++-19 not installed")
@pytest.mark.parametrize("kind", ["fp32", "int8"])
def test_runner_is_valgrind_clean(built, kind, tmp_path):
    d = built[kind]
    prefix, flags, sources = _model_sources(d)
    # valgrind 3.19 decodes neither AVX-512 nor clang-19's default DWARF 5
    flags = [f for f in flags if not f.startswith("-march")] + ["-march=x86-64-v3"]
    exe = tmp_path / f"{prefix}_runner_v3"
    r = subprocess.run([CXX, *flags, "-O2", "-gdwarf-4", f"-I{d / 'include'}", f"-I{d}", f'-DEDGE_MODEL_HEADER="{prefix}.h"',
                        f"-DEDGE_MODEL_ABI={prefix}_abi", str(d / "runner.cpp"), *sources, "-o", str(exe)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    x = _inputs(1)[0]
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run([VALGRIND, "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
                        "-q", str(exe), "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    want = edge_sdk.load(d).run(x)[0]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, rtol=1e-4, atol=1e-5)
