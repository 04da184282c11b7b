// edge_sdk._runtime: dlopen() a compiled model library and run it on numpy
// arrays without copying them.  Each ModelLibrary owns its arena; run() holds a
// per-model mutex and releases the GIL while the model computes.
#include <dlfcn.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "edge_sdk/abi.h"

namespace py = pybind11;

namespace {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

py::dtype dtype_of(int32_t code) {
  switch (code) {
    case EDGE_DTYPE_FLOAT32: return py::dtype("float32");
    case EDGE_DTYPE_UINT8: return py::dtype("uint8");
    case EDGE_DTYPE_INT8: return py::dtype("int8");
    case EDGE_DTYPE_UINT16: return py::dtype("uint16");
    case EDGE_DTYPE_INT16: return py::dtype("int16");
    case EDGE_DTYPE_INT32: return py::dtype("int32");
    case EDGE_DTYPE_INT64: return py::dtype("int64");
    case EDGE_DTYPE_BOOL: return py::dtype("bool");
    case EDGE_DTYPE_FLOAT64: return py::dtype("float64");
    case EDGE_DTYPE_UINT32: return py::dtype("uint32");
    case EDGE_DTYPE_UINT64: return py::dtype("uint64");
    default: throw std::runtime_error("unknown dtype code " + std::to_string(code));
  }
}

py::dict tensor_info(const edge_tensor_info& t) {
  py::dict d;
  std::vector<int64_t> shape(t.shape, t.shape + t.rank);
  d["name"] = std::string(t.name);
  d["dtype"] = dtype_of(t.dtype);
  d["shape"] = py::tuple(py::cast(shape));
  d["bytes"] = t.bytes;
  return d;
}

class ModelLibrary {
 public:
  ModelLibrary(const std::string& path, const std::string& prefix) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw std::runtime_error(std::string("cannot load model library: ") + dlerror());
    using AbiFn = const edge_model_abi* (*)();
    auto fn = reinterpret_cast<AbiFn>(dlsym(handle_, (prefix + "_abi").c_str()));
    if (!fn) {
      dlclose(handle_);
      throw std::runtime_error("model library " + path + " has no symbol " + prefix + "_abi");
    }
    abi_ = fn();
    if (!abi_ || abi_->abi_version != EDGE_SDK_ABI_VERSION) {
      dlclose(handle_);
      throw std::runtime_error("model library " + path + " was built for another edge-sdk ABI version");
    }
    size_t bytes = (abi_->arena_bytes + EDGE_SDK_ARENA_ALIGN - 1) / EDGE_SDK_ARENA_ALIGN * EDGE_SDK_ARENA_ALIGN;
    if (bytes == 0) bytes = EDGE_SDK_ARENA_ALIGN;
    arena_.reset(std::aligned_alloc(EDGE_SDK_ARENA_ALIGN, bytes));
    if (!arena_) throw std::bad_alloc();
  }
  ~ModelLibrary() {
    if (handle_) dlclose(handle_);
  }
  ModelLibrary(const ModelLibrary&) = delete;
  ModelLibrary& operator=(const ModelLibrary&) = delete;

  py::list inputs() const { return infos(abi_->inputs, abi_->num_inputs); }
  py::list outputs() const { return infos(abi_->outputs, abi_->num_outputs); }
  uint64_t arena_bytes() const { return abi_->arena_bytes; }

  // inputs: C-contiguous arrays of exactly the declared dtype/shape (checked in Python
  // and again here); outputs: preallocated arrays the model writes into.
  void run(const std::vector<py::array>& inputs, const std::vector<py::array>& outputs) {
    check(inputs, abi_->inputs, abi_->num_inputs, "input", false);
    check(outputs, abi_->outputs, abi_->num_outputs, "output", true);
    std::vector<const void*> in_ptrs;
    std::vector<void*> out_ptrs;
    for (const auto& a : inputs) in_ptrs.push_back(a.data());
    for (const auto& a : outputs) out_ptrs.push_back(const_cast<void*>(a.data()));
    int rc;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      rc = abi_->run(in_ptrs.data(), out_ptrs.data(), arena_.get());
    }
    if (rc != EDGE_OK) throw std::runtime_error("model run failed with code " + std::to_string(rc));
  }

 private:
  static py::list infos(const edge_tensor_info* t, uint32_t n) {
    py::list out;
    for (uint32_t i = 0; i < n; ++i) out.append(tensor_info(t[i]));
    return out;
  }
  static void check(const std::vector<py::array>& arrays, const edge_tensor_info* info, uint32_t n,
                    const char* what, bool writable) {
    if (arrays.size() != n)
      throw std::invalid_argument(std::string("expected ") + std::to_string(n) + " " + what + "s, got " +
                                  std::to_string(arrays.size()));
    for (uint32_t i = 0; i < n; ++i) {
      const py::array& a = arrays[i];
      if (!(a.flags() & py::array::c_style)) throw std::invalid_argument(std::string(what) + " is not C-contiguous");
      if (static_cast<uint64_t>(a.nbytes()) != info[i].bytes)
        throw std::invalid_argument(std::string(what) + " '" + info[i].name + "' has " + std::to_string(a.nbytes()) +
                                    " bytes, expected " + std::to_string(info[i].bytes));
      if (!a.dtype().is(dtype_of(info[i].dtype)))
        throw std::invalid_argument(std::string(what) + " '" + info[i].name + "' has the wrong dtype");
      if (writable && !a.writeable()) throw std::invalid_argument(std::string(what) + " is read-only");
    }
  }

  void* handle_ = nullptr;
  const edge_model_abi* abi_ = nullptr;
  std::unique_ptr<void, AlignedFree> arena_;
  std::mutex mutex_;
};

}  // namespace

PYBIND11_MODULE(_runtime, m) {
  m.doc() = "Loads edge-sdk model libraries (dlopen) and runs them on numpy arrays.";
  py::class_<ModelLibrary>(m, "ModelLibrary")
      .def(py::init<const std::string&, const std::string&>(), py::arg("path"), py::arg("prefix"))
      .def_property_readonly("inputs", &ModelLibrary::inputs)
      .def_property_readonly("outputs", &ModelLibrary::outputs)
      .def_property_readonly("arena_bytes", &ModelLibrary::arena_bytes)
      .def("run", &ModelLibrary::run, py::arg("inputs"), py::arg("outputs"));
}
