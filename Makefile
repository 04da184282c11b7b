# edge-sdk: `make demo` and `make test` set up everything they need on a fresh
# Debian/Ubuntu machine (apt packages, a venv, pip install -e .[dev]).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.edge-sdk-setup
PYTEST_ARGS ?= -n auto  # pytest-xdist: one worker per core (the suite is built to run in parallel)

.PHONY: setup demo test test-slow test-cpp bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py tools/setup.sh cpp/python/runtime_module.cpp
	VENV=$(VENV) tools/setup.sh

demo: setup
	$(PY) -m edge_sdk demo

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-slow: setup
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

test-cpp: setup
	cmake -S . -B build -DCMAKE_CXX_COMPILER=clang++-19 && cmake --build build -j2 && ctest --test-dir build --output-on-failure

clean:
	rm -rf build out .cache .pytest_cache *.egg-info
