// Test firmware for one compiled model on an emulated Cortex-M board: reads
// raw input tensors in0.bin, in1.bin ... through semihosting, runs the model
// with a statically allocated arena of exactly <MODEL>_ARENA_BYTES, and writes
// out0.bin, out1.bin ...  Exit status 0 on success (reported by qemu).
#include <stdio.h>

// fw_config.h (generated per model) includes the model header and defines
// EDGE_MODEL_ABI, EDGE_MODEL_ARENA_BYTES and EDGE_MODEL_IO_BUFFER(k, is_output).
#include "fw_config.h"

namespace {
alignas(EDGE_SDK_ARENA_ALIGN) unsigned char g_arena[EDGE_MODEL_ARENA_BYTES > 0 ? EDGE_MODEL_ARENA_BYTES : 1];
constexpr unsigned kMaxTensors = 8;
}  // namespace

int main(void) {
  const edge_model_abi* abi = EDGE_MODEL_ABI();
  if (abi->num_inputs > kMaxTensors || abi->num_outputs > kMaxTensors) return 3;
  unsigned char* in_buf[kMaxTensors];
  unsigned char* out_buf[kMaxTensors];
  const void* ins[kMaxTensors];
  void* outs[kMaxTensors];
  char name[16];
  for (unsigned k = 0; k < abi->num_inputs; ++k) {
    in_buf[k] = static_cast<unsigned char*>(EDGE_MODEL_IO_BUFFER(k, 0));
    snprintf(name, sizeof name, "in%u.bin", k);
    FILE* f = fopen(name, "rb");
    if (!f) return 4;
    const size_t n = fread(in_buf[k], 1, abi->inputs[k].bytes, f);
    fclose(f);
    if (n != abi->inputs[k].bytes) return 5;
    ins[k] = in_buf[k];
  }
  for (unsigned k = 0; k < abi->num_outputs; ++k) outs[k] = out_buf[k] = static_cast<unsigned char*>(EDGE_MODEL_IO_BUFFER(k, 1));
  const int rc = abi->run(ins, outs, g_arena);
  if (rc != EDGE_OK) return 10 + rc;
  for (unsigned k = 0; k < abi->num_outputs; ++k) {
    snprintf(name, sizeof name, "out%u.bin", k);
    FILE* f = fopen(name, "wb");
    if (!f) return 6;
    const size_t n = fwrite(out_buf[k], 1, abi->outputs[k].bytes, f);
    fclose(f);
    if (n != abi->outputs[k].bytes) return 7;
  }
  return 0;
}
