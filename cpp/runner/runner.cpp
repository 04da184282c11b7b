// Standalone runner for one compiled model: copy it to the board and run
//   <model>_runner -i in0.npy [-i in1.npy ...] [-o out0.npy ...] [--bench N]
// Inputs/outputs are .npy files (little-endian, C order) of exactly the model's
// dtypes and shapes.  --bench N runs N timed inferences and prints percentiles.
// Built with -DEDGE_MODEL_HEADER="<model>.h" -DEDGE_MODEL_ABI=<model>_abi.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include EDGE_MODEL_HEADER

namespace {

const char* npy_descr(int32_t dtype) {
  switch (dtype) {
    case EDGE_DTYPE_FLOAT32: return "<f4";
    case EDGE_DTYPE_UINT8: return "|u1";
    case EDGE_DTYPE_INT8: return "|i1";
    case EDGE_DTYPE_INT16: return "<i2";
    case EDGE_DTYPE_UINT16: return "<u2";
    case EDGE_DTYPE_INT32: return "<i4";
    case EDGE_DTYPE_INT64: return "<i8";
    case EDGE_DTYPE_BOOL: return "|b1";
    case EDGE_DTYPE_FLOAT64: return "<f8";
    case EDGE_DTYPE_UINT32: return "<u4";
    case EDGE_DTYPE_UINT64: return "<u8";
    default: return "?";
  }
}

std::string shape_text(const edge_tensor_info& t) {
  // numpy's spelling: (), (5,), (1, 3, 256, 256)
  std::string s = "(";
  for (int i = 0; i < t.rank; ++i) s += std::to_string(t.shape[i]) + (i + 1 < t.rank ? ", " : (t.rank == 1 ? "," : ""));
  return s + ")";
}

bool read_npy(const char* path, const edge_tensor_info& t, std::vector<unsigned char>& data) {
  FILE* f = std::fopen(path, "rb");
  if (!f) return std::fprintf(stderr, "error: cannot open %s\n", path), false;
  unsigned char pre[10];
  bool ok = std::fread(pre, 1, 10, f) == 10 && std::memcmp(pre, "\x93NUMPY", 6) == 0;
  size_t hlen = 0;
  if (ok && pre[6] == 1) {
    hlen = pre[8] | (pre[9] << 8);
  } else if (ok) {
    unsigned char more[2];
    ok = std::fread(more, 1, 2, f) == 2;
    hlen = pre[8] | (pre[9] << 8) | (more[0] << 16) | (static_cast<size_t>(more[1]) << 24);
  }
  std::string header(hlen, ' ');
  ok = ok && hlen < (1u << 20) && std::fread(&header[0], 1, hlen, f) == hlen;
  const std::string want_descr = std::string("'descr': '") + npy_descr(t.dtype) + "'";
  if (!ok || header.find(want_descr) == std::string::npos || header.find("'fortran_order': False") == std::string::npos ||
      header.find("'shape': " + shape_text(t)) == std::string::npos) {
    std::fprintf(stderr, "error: %s must be a C-order %s array of shape %s for input '%s'\n", path,
                 npy_descr(t.dtype), shape_text(t).c_str(), t.name);
    std::fclose(f);
    return false;
  }
  data.resize(t.bytes);
  ok = std::fread(data.data(), 1, t.bytes, f) == t.bytes;
  std::fclose(f);
  if (!ok) std::fprintf(stderr, "error: %s is truncated\n", path);
  return ok;
}

bool write_npy(const char* path, const edge_tensor_info& t, const unsigned char* data) {
  std::string header = std::string("{'descr': '") + npy_descr(t.dtype) + "', 'fortran_order': False, 'shape': " +
                       shape_text(t) + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  FILE* f = std::fopen(path, "wb");
  if (!f) return std::fprintf(stderr, "error: cannot write %s\n", path), false;
  const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(header.size() & 0xff),
                                 static_cast<unsigned char>(header.size() >> 8)};
  bool ok = std::fwrite(pre, 1, 10, f) == 10 && std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
            std::fwrite(data, 1, t.bytes, f) == t.bytes;
  ok = (std::fclose(f) == 0) && ok;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const edge_model_abi* abi = EDGE_MODEL_ABI();
  std::vector<const char*> in_paths, out_paths;
  int bench = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-i" || a == "-o" || a == "--bench") && i + 1 < argc) {
      if (a == "-i") in_paths.push_back(argv[++i]);
      else if (a == "-o") out_paths.push_back(argv[++i]);
      else bench = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s -i in.npy [-i ...] [-o out.npy ...] [--bench N]\n", argv[0]);
      return 2;
    }
  }
  if (in_paths.size() != abi->num_inputs || (!out_paths.empty() && out_paths.size() != abi->num_outputs)) {
    std::fprintf(stderr, "error: model '%s' takes %u input(s) and writes %u output(s)\n", abi->model_name,
                 abi->num_inputs, abi->num_outputs);
    return 2;
  }
  std::vector<std::vector<unsigned char>> ins(abi->num_inputs), outs(abi->num_outputs);
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  for (uint32_t k = 0; k < abi->num_inputs; ++k) {
    if (!read_npy(in_paths[k], abi->inputs[k], ins[k])) return 2;
    in_ptrs.push_back(ins[k].data());
  }
  for (uint32_t k = 0; k < abi->num_outputs; ++k) {
    outs[k].resize(abi->outputs[k].bytes);
    out_ptrs.push_back(outs[k].data());
  }
  void* arena = std::aligned_alloc(EDGE_SDK_ARENA_ALIGN, (abi->arena_bytes + EDGE_SDK_ARENA_ALIGN) / EDGE_SDK_ARENA_ALIGN * EDGE_SDK_ARENA_ALIGN);
  int rc = abi->run(in_ptrs.data(), out_ptrs.data(), arena);
  if (rc != EDGE_OK) return std::fprintf(stderr, "error: model returned %d\n", rc), 1;
  for (size_t k = 0; k < out_paths.size(); ++k)
    if (!write_npy(out_paths[k], abi->outputs[k], outs[k].data())) return 1;
  if (bench > 0) {
    std::vector<double> ms;
    for (int r = 0; r < bench; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      abi->run(in_ptrs.data(), out_ptrs.data(), arena);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
    std::printf("%s: %d runs, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, arena %llu bytes\n", abi->model_name, bench,
                pct(0.5), pct(0.9), pct(0.99), static_cast<unsigned long long>(abi->arena_bytes));
  }
  std::free(arena);
  return 0;
}
