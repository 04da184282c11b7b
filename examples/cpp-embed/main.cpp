// Embeds a compiled model: no heap inside the model, the arena is a static
// buffer whose size the generated header states at compile time.
//   classify input.bin   (raw float32 tensor of MODEL_INPUT0_ELEMENTS values)
#include <cstdio>

#include "model.h"

alignas(EDGE_SDK_ARENA_ALIGN) static unsigned char arena[MODEL_ARENA_BYTES > 0 ? MODEL_ARENA_BYTES : 1];
static float input[MODEL_INPUT0_ELEMENTS];
static float output[MODEL_OUTPUT0_ELEMENTS];

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s input.bin\n", argv[0]);
    return 2;
  }
  FILE* f = std::fopen(argv[1], "rb");
  if (!f || std::fread(input, sizeof(float), MODEL_INPUT0_ELEMENTS, f) != MODEL_INPUT0_ELEMENTS) {
    std::fprintf(stderr, "cannot read %u float32 values from %s\n", MODEL_INPUT0_ELEMENTS, argv[1]);
    return 2;
  }
  std::fclose(f);
  const void* inputs[] = {input};
  void* outputs[] = {output};
  const int rc = model_run(inputs, outputs, arena);
  if (rc != EDGE_OK) {
    std::fprintf(stderr, "model_run failed: %d\n", rc);
    return 1;
  }
  for (unsigned i = 0; i < MODEL_OUTPUT0_ELEMENTS; ++i) std::printf("%.6f\n", static_cast<double>(output[i]));
  return 0;
}
