"""Compile many conformance cases with few compiler runs.

Each case is analysed by the real pipeline (``compiler.analyze``) and emitted
by the real writer (``codegen.cpp_writer.write_sources``) under its own prefix;
the generated files are namespaced by that prefix, so one *unity* translation
unit can #include a whole batch of cases and build into one shared library.
Libraries are cached under a folder named by a hash of everything that goes
into them (generated sources, kernel headers, compiler and flags), so a rerun
with unchanged code compiles nothing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import onnx

from edge_sdk.build.toolchain import COMMON_FLAGS, find_toolchain
from edge_sdk.codegen.cpp_writer import c_identifier, write_sources
from edge_sdk.compiler import analyze
from edge_sdk.resources import kernel_include_dir

from .cases import Case


@dataclass
class Built:
    """Where a case ended up: a library and the prefix of its entry points, or the error that stopped it."""
    case: Case
    lib: Path | None = None
    prefix: str = ""
    error: BaseException | None = None
    ops: frozenset[str] = frozenset()  # op types left in the graph after the passes


def _headers_digest() -> str:
    h = hashlib.sha256()
    root = kernel_include_dir()
    for p in sorted(root.rglob("*.h")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _generate(case: Case, work: Path) -> tuple[Built, dict[str, str] | None]:
    """Analyse and emit one case; the files are returned, not yet written into a batch."""
    path = work / f"{case.name}.onnx"
    onnx.save(case.model, str(path))
    prefix = c_identifier(case.name)
    try:
        a = analyze(path)
        assert a.plan is not None
        src = write_sources(a.graph, a.plan, prefix, f"// conformance case {case.name}", a.sha256)
    except Exception as e:  # noqa: BLE001 - re-raised by the test of this case
        return Built(case, error=e), None
    return Built(case, prefix=prefix, ops=frozenset(n.op_type for n in a.graph.nodes)), src.files


# Extra compiler flags for a whole run, e.g. "-fsanitize=undefined -shared-libsan" (then LD_PRELOAD the runtime).
EXTRA_FLAGS = os.environ.get("EDGE_SDK_CONFORMANCE_CXXFLAGS", "").split()


def _compile(tc, sources: list[Path], out: Path, cwd: Path) -> subprocess.CompletedProcess:
    cmd = ["nice", "-n", "10", tc.cxx, *COMMON_FLAGS, *EXTRA_FLAGS, "-fPIC", "-shared", f"-I{kernel_include_dir()}", "-I.",
           *[str(s) for s in sources], "-o", str(out)]
    if tc.kind == "clang" and (shutil.which("ld.lld-19") or shutil.which("ld.lld")):
        cmd.insert(4, "-fuse-ld=lld")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def _build_batch(tc, key: str, items: list[tuple[Built, dict[str, str]]], cache: Path) -> None:
    """Build one library for `items` (or, if that fails, find the cases that break it)."""
    folder = cache / key
    lib = folder / "libbatch.so"
    if not lib.is_file():
        tmp = cache / f".{key}.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for _, files in items:
            for fname, text in files.items():
                (tmp / fname).write_text(text)
        unity = tmp / "unity.cpp"
        unity.write_text("".join(f'#include "{b.prefix}.cpp"\n#include "{b.prefix}_weights.cpp"\n'
                                 for b, _ in items))
        r = _compile(tc, [unity], tmp / "libbatch.so", tmp)
        if r.returncode != 0:
            _isolate(tc, items, tmp, r.stdout + r.stderr)
            shutil.rmtree(tmp, ignore_errors=True)
            return
        if folder.exists() and not lib.is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a broken leftover
        try:
            tmp.rename(folder)
        except OSError:  # another pytest process built the same batch first
            shutil.rmtree(tmp, ignore_errors=True)
    os.utime(folder)  # marks it as in use for _prune
    for b, _ in items:
        b.lib = lib


def _prune(cache: Path, keep_days: float = 3.0) -> None:
    """Drop libraries no run has used for a few days (every source change makes new ones)."""
    cutoff = time.time() - keep_days * 86400
    for d in cache.iterdir():
        if d.is_dir() and d.name != "models" and d.stat().st_mtime < cutoff:
            shutil.rmtree(d, ignore_errors=True)


def _isolate(tc, items, tmp: Path, batch_log: str) -> None:
    """The batch failed to build: build each case alone so only the broken ones fail."""
    for b, _ in items:
        one = tmp / f"{b.prefix}_only.cpp"
        one.write_text(f'#include "{b.prefix}.cpp"\n#include "{b.prefix}_weights.cpp"\n')
        r = _compile(tc, [one], tmp / f"lib{b.prefix}.so", tmp)
        if r.returncode != 0:
            log = "\n".join((r.stdout + r.stderr).splitlines()[:25])
            b.error = RuntimeError(f"generated code failed to compile:\n{log}")
            continue
        solo = tmp.parent / f"solo-{b.prefix}-{hashlib.sha256(one.read_bytes()).hexdigest()[:8]}"
        solo.mkdir(exist_ok=True)
        shutil.copy(tmp / f"lib{b.prefix}.so", solo / f"lib{b.prefix}.so")
        b.lib = solo / f"lib{b.prefix}.so"
    if all(b.error is None for b, _ in items):  # should not happen; keep the evidence
        for b, _ in items:
            b.error = RuntimeError("batch failed to build although every case builds alone:\n" + batch_log[:3000])
            b.lib = None


def build_cases(batches: dict[str, list[Case]], cache: Path, jobs: int = 2) -> dict[str, Built]:
    """Build every batch (batch name -> cases); return case name -> Built."""
    tc = find_toolchain()
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / "models"
    work.mkdir(exist_ok=True)
    salt = "|".join([_headers_digest(), tc.version, " ".join(COMMON_FLAGS + EXTRA_FLAGS)])
    result: dict[str, Built] = {}
    plans = []
    for bname, cases in sorted(batches.items()):
        items = []
        for case in cases:
            built, files = _generate(case, work)
            result[case.name] = built
            if files is not None:
                items.append((built, files))
        if items:
            h = hashlib.sha256(salt.encode())
            for b, files in items:
                for fname in sorted(files):
                    h.update(fname.encode())
                    h.update(files[fname].encode())
            plans.append((f"{c_identifier(bname)}-{h.hexdigest()[:16]}", items))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda p: _build_batch(tc, p[0], p[1], cache), plans))
    _prune(cache)
    return result


def cache_dir(request) -> Path:
    """Where built case libraries are kept: $EDGE_SDK_CONFORMANCE_CACHE, pytest's cache, or a temp dir."""
    if os.environ.get("EDGE_SDK_CONFORMANCE_CACHE"):
        return Path(os.environ["EDGE_SDK_CONFORMANCE_CACHE"])
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("edge_sdk_conformance"))
    return request.getfixturevalue("tmp_path_factory").mktemp("edge_sdk_conformance")
