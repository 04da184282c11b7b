/* edge-sdk model ABI: a plain C description of one compiled model.
 *
 * Every generated model exports `const edge_model_abi* <name>_abi(void)`.
 * The Python runtime dlopen()s a model library and reads this table; firmware
 * can ignore it and call `<name>_run` directly. */
#ifndef EDGE_SDK_ABI_H
#define EDGE_SDK_ABI_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_SDK_ABI_VERSION 1u
#define EDGE_SDK_ARENA_ALIGN 64u

#if defined(__GNUC__) || defined(__clang__)
#define EDGE_SDK_EXPORT __attribute__((visibility("default")))
#else
#define EDGE_SDK_EXPORT
#endif

/* Element types use the ONNX TensorProto numbering. */
enum {
  EDGE_DTYPE_FLOAT32 = 1, EDGE_DTYPE_UINT8 = 2, EDGE_DTYPE_INT8 = 3, EDGE_DTYPE_UINT16 = 4,
  EDGE_DTYPE_INT16 = 5, EDGE_DTYPE_INT32 = 6, EDGE_DTYPE_INT64 = 7, EDGE_DTYPE_BOOL = 9,
  EDGE_DTYPE_FLOAT64 = 11, EDGE_DTYPE_UINT32 = 12, EDGE_DTYPE_UINT64 = 13
};

/* Return codes of <name>_run. */
enum { EDGE_OK = 0, EDGE_ERR_NULL_ARENA = 1, EDGE_ERR_MISALIGNED_ARENA = 2, EDGE_ERR_NULL_IO = 3 };

typedef struct {
  const char* name;
  int32_t dtype;
  int32_t rank;
  const int64_t* shape;
  uint64_t bytes;
} edge_tensor_info;

typedef struct {
  uint32_t abi_version;
  const char* model_name;
  const char* model_sha256;
  uint64_t arena_bytes;
  uint32_t num_inputs;
  uint32_t num_outputs;
  const edge_tensor_info* inputs;
  const edge_tensor_info* outputs;
  /* inputs/outputs: arrays of pointers in ONNX order; arena: arena_bytes, 64-byte aligned. */
  int (*run)(const void* const* inputs, void* const* outputs, void* arena);
} edge_model_abi;

#endif /* EDGE_SDK_ABI_H */
