"""Builds the edge_sdk package and its pybind11 runtime extension."""
import shutil
from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent


class BuildPyWithData(build_py):
    """Ship the kernel headers and device profiles inside the wheel (edge_sdk/_data)."""

    def run(self):
        super().run()
        data = Path(self.build_lib) / "edge_sdk" / "_data"
        for src, dst in (("cpp/include", "include"), ("cpp/runner", "runner"), ("cpp/firmware", "firmware"), ("devices", "devices")):
            if (data / dst).exists():
                shutil.rmtree(data / dst)
            shutil.copytree(ROOT / src, data / dst)


ext = Pybind11Extension(
    "edge_sdk._runtime",
    ["cpp/python/runtime_module.cpp"],
    include_dirs=["cpp/include"],
    cxx_std=17,
    libraries=["dl"],
)

setup(ext_modules=[ext], cmdclass={"build_py": BuildPyWithData})
