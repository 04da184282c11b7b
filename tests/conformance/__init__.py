"""ONNX backend conformance harness: the node test cases shipped with the onnx
package, compiled by edge-sdk in batches and compared with their expected outputs.

    pytest tests/test_conformance.py                 # node cases of every claimed op
    pytest tests/test_conformance.py -m slow         # + function-expanded multi-node cases
    pytest tests/test_conformance_extra.py           # forms the suite lacks, vs onnxruntime

Environment:
  EDGE_SDK_CXX=g++                       build with another compiler (kernels must stay warning-free)
  EDGE_SDK_CONFORMANCE_CXXFLAGS="..."    extra flags, e.g. "-fsanitize=undefined -shared-libsan" with
                                         LD_PRELOAD=<libclang_rt.ubsan_standalone-x86_64.so>
  EDGE_SDK_CONFORMANCE_CACHE=DIR         where built libraries are cached (default: pytest's cache)

Modules: cases.py (loading and making cases compilable), build.py (batched unity
builds), check.py (run and compare), exclusions.py (the one list of known
failures), extra_forms.py (onnxruntime-checked forms).
"""
