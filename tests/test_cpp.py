"""The C++ side on its own: the runtime's CMake build and tests, and a C++ app
that embeds a compiled model folder with add_subdirectory()."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import edge_sdk

from conftest import REPO, conv_bn_relu_model, ort_run

CMAKE = shutil.which("cmake")
CXX = shutil.which("clang++-19") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(not CMAKE or not CXX, reason="cmake and clang++ are installed by `make test`")


def _run(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_runtime_cmake_build_and_ctest(tmp_path):
    _run([CMAKE, "-S", REPO, "-B", tmp_path, f"-DCMAKE_CXX_COMPILER={CXX}"])
    _run([CMAKE, "--build", tmp_path, "-j2"])
    out = _run(["ctest", "--test-dir", tmp_path, "--output-on-failure"])
    assert "100% tests passed" in out


APP = r"""
#include <cstdio>
#include <cstdlib>
#include "model.h"
alignas(64) static unsigned char arena[MODEL_ARENA_BYTES + 64];
int main(int argc, char** argv) {
  static float in[MODEL_INPUT0_ELEMENTS], out[MODEL_OUTPUT0_ELEMENTS];
  FILE* f = std::fopen(argv[1], "rb");
  if (!f || std::fread(in, 1, sizeof in, f) != sizeof in) return 3;
  std::fclose(f);
  const void* ins[] = {in};
  void* outs[] = {out};
  int rc = model_run(ins, outs, arena);
  if (rc != EDGE_OK) return 10 + rc;
  f = std::fopen(argv[2], "wb");
  std::fwrite(out, 1, sizeof out, f);
  std::fclose(f);
  return argc == 3 ? 0 : 4;
}
"""


def test_cpp_app_embeds_model_with_add_subdirectory(save, tmp_path):
    p = save(conv_bn_relu_model(), "model.onnx")
    edge_sdk.compile(p, device="x86-64", out_dir=tmp_path / "app" / "model")
    app = tmp_path / "app"
    (app / "main.cpp").write_text(APP)
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(app CXX)\nadd_subdirectory(model)\n"
        "add_executable(app main.cpp)\ntarget_link_libraries(app PRIVATE edge_model_model)\n")
    _run([CMAKE, "-S", app, "-B", app / "build", f"-DCMAKE_CXX_COMPILER={CXX}"])
    _run([CMAKE, "--build", app / "build"])
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
    x.tofile(tmp_path / "x.bin")
    _run([app / "build" / "app", tmp_path / "x.bin", tmp_path / "y.bin"])
    y = np.fromfile(tmp_path / "y.bin", np.float32).reshape(1, 4, 8, 8)
    np.testing.assert_allclose(y, ort_run(p, {"x": x})[0], rtol=1e-4, atol=1e-5)


GXX = shutil.which("g++")


@pytest.mark.skipif(not GXX, reason="g++ is part of build-essential")
@pytest.mark.parametrize("model", ["meso4_df", "mesoinception4_df"])
def test_generated_code_is_warning_free_under_gxx_and_clang(model, tmp_path):
    from edge_sdk.resources import assets_dir
    out = tmp_path / model
    edge_sdk.compile(assets_dir() / "mesonet" / f"{model}.onnx", out_dir=out, build=False)
    for cxx in (GXX, CXX):
        for src in (f"{model}.cpp", f"{model}_weights.cpp"):
            _run([cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti",
                  "-Iinclude", "-I.", "-c", src, "-o", "/dev/null"], cwd=out)
