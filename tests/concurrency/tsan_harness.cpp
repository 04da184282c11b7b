// ThreadSanitizer harness for one generated model, driving it through its ABI table
// exactly as cpp/python/runtime_module.cpp does: inputs/outputs as pointer arrays,
// a 64-byte-aligned arena of arena_bytes.  Built with -fsanitize=thread together with
// the model's generated sources (see tests/test_concurrency.py).
//
//   tsan_harness THREADS ITERS
// 1. reference: every input run once on one thread;
// 2. private:   THREADS threads, one arena each (the header's reentrancy promise);
// 3. shared:    THREADS threads, one arena under a std::mutex (the runtime's ModelLibrary).
// Every output must equal its reference byte for byte.  Built with -DSHARED_WITHOUT_LOCK
// (the negative control), step 3 drops the mutex so TSan must report the arena race.
#include EDGE_MODEL_HEADER

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace {

constexpr int kInputs = 6;
using Bytes = std::vector<unsigned char>;

struct Arena {
  explicit Arena(uint64_t n) {
    size_t bytes = (n + EDGE_SDK_ARENA_ALIGN - 1) / EDGE_SDK_ARENA_ALIGN * EDGE_SDK_ARENA_ALIGN;
    p = std::aligned_alloc(EDGE_SDK_ARENA_ALIGN, bytes ? bytes : EDGE_SDK_ARENA_ALIGN);
  }
  ~Arena() { std::free(p); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  void* p;
};

// Deterministic inputs: floats in [-1, 1) for float tensors, raw bytes otherwise.
Bytes make_input(const edge_tensor_info& t, uint32_t seed) {
  Bytes b(t.bytes);
  uint32_t s = seed * 2654435761u + 12345u;
  if (t.dtype == EDGE_DTYPE_FLOAT32) {
    for (uint64_t i = 0; i < t.bytes / 4; ++i) {
      s = s * 1664525u + 1013904223u;
      float v = static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
      std::memcpy(&b[i * 4], &v, 4);
    }
  } else {
    for (auto& c : b) c = static_cast<unsigned char>((s = s * 1664525u + 1013904223u) >> 24);
  }
  return b;
}

struct Case {
  std::vector<Bytes> in;
  std::vector<Bytes> want;
};

bool run_one(const edge_model_abi* abi, const Case& c, void* arena, std::vector<Bytes>& out) {
  std::vector<const void*> ins;
  std::vector<void*> outs;
  for (const auto& b : c.in) ins.push_back(b.data());
  out.resize(abi->num_outputs);
  for (uint32_t i = 0; i < abi->num_outputs; ++i) {
    out[i].assign(abi->outputs[i].bytes, 0xAB);
    outs.push_back(out[i].data());
  }
  return abi->run(ins.data(), outs.data(), arena) == EDGE_OK;
}

int hammer(const edge_model_abi* abi, const std::vector<Case>& cases, int threads, int iters, bool shared) {
  std::mutex mu;
  Arena shared_arena(abi->arena_bytes);
  std::vector<int> bad(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Arena own(abi->arena_bytes);
      std::vector<Bytes> out;
      for (int k = 0; k < iters; ++k) {
        const Case& c = cases[(t + k) % cases.size()];
        bool ok;
        if (shared) {
#ifdef SHARED_WITHOUT_LOCK
          ok = run_one(abi, c, shared_arena.p, out);
#else
          std::lock_guard<std::mutex> lock(mu);
          ok = run_one(abi, c, shared_arena.p, out);
#endif
        } else {
          ok = run_one(abi, c, own.p, out);
        }
        if (!ok || out != c.want) ++bad[t];
      }
    });
  }
  for (auto& th : pool) th.join();
  int total = 0;
  for (int b : bad) total += b;
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
  const int iters = argc > 2 ? std::atoi(argv[2]) : 20;
  const edge_model_abi* abi = EDGE_MODEL_ABI();
  std::vector<Case> cases(kInputs);
  Arena ref_arena(abi->arena_bytes);
  for (int k = 0; k < kInputs; ++k) {
    for (uint32_t i = 0; i < abi->num_inputs; ++i) cases[k].in.push_back(make_input(abi->inputs[i], 100u * k + i));
    if (!run_one(abi, cases[k], ref_arena.p, cases[k].want)) return std::fprintf(stderr, "reference run failed\n"), 3;
  }
  if (cases[0].want == cases[1].want) return std::fprintf(stderr, "inputs do not change the output\n"), 4;
  const int priv = hammer(abi, cases, threads, iters, false);
  const int shar = hammer(abi, cases, threads, iters, true);
  std::printf("threads %d iters %d: private-arena mismatches %d, shared-arena mismatches %d\n", threads, iters, priv,
              shar);
  return priv || shar ? 1 : 0;
}
