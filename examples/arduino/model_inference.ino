// A model compiled by edge-sdk with `--name model` for arduino-nano33ble.
// Runs one inference a second and prints the first output and the latency.
#include <model.h>

alignas(64) static uint8_t arena[MODEL_ARENA_BYTES > 0 ? MODEL_ARENA_BYTES : 1];
static float input0[MODEL_INPUT0_ELEMENTS];
static float output0[MODEL_OUTPUT0_ELEMENTS];

void setup() {
  Serial.begin(115200);
  while (!Serial) {
  }
  Serial.print("arena bytes = ");
  Serial.println(MODEL_ARENA_BYTES);
}

void loop() {
  // Your application writes MODEL_INPUT0_ELEMENTS values into input0 here.
  const void* inputs[] = {input0};
  void* outputs[] = {output0};
  const unsigned long t0 = micros();
  const int rc = model_run(inputs, outputs, arena);
  const unsigned long dt = micros() - t0;
  Serial.print("rc=");
  Serial.print(rc);
  Serial.print(" output0[0]=");
  Serial.print(static_cast<double>(output0[0]), 6);
  Serial.print(" us=");
  Serial.println(dt);
  delay(1000);
}
