// Minimal Cortex-M4F start-up for the emulated test board (qemu mps2-an386):
// vector table at 0x0, FPU enabled before any float code, .data copied and
// .bss zeroed, newlib's semihosting I/O initialised, main() called, and the
// exit status reported to the host through semihosting SYS_EXIT_EXTENDED.
#include <stdint.h>
#include <string.h>

extern "C" {
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
void initialise_monitor_handles(void);
void __libc_init_array(void);
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);
void semihost_exit(int code);
}

extern "C" void semihost_exit(int code) {
  // SYS_EXIT_EXTENDED (0x20): r1 -> {ADP_Stopped_ApplicationExit, status}
  volatile uint32_t block[2] = {0x20026u, static_cast<uint32_t>(code)};
  register uint32_t r0 __asm__("r0") = 0x20u;
  register volatile uint32_t* r1 __asm__("r1") = block;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  for (;;) {
  }
}

extern "C" void Fault_Handler(void) { semihost_exit(99); }

// Linked without crti/crtn: newlib's __libc_init_array calls these.
extern "C" void _init(void) {}
extern "C" void _fini(void) {}

extern "C" void Reset_Handler(void) {
  // CPACR: full access to CP10/CP11 (the FPU), then barriers.
  *reinterpret_cast<volatile uint32_t*>(0xE000ED88u) |= (0xFu << 20);
  __asm__ volatile("dsb\n isb" ::: "memory");
  memcpy(&_sdata, &_sidata, static_cast<size_t>(reinterpret_cast<char*>(&_edata) - reinterpret_cast<char*>(&_sdata)));
  memset(&_sbss, 0, static_cast<size_t>(reinterpret_cast<char*>(&_ebss) - reinterpret_cast<char*>(&_sbss)));
  initialise_monitor_handles();
  __libc_init_array();
  semihost_exit(main());
}

__attribute__((section(".isr_vector"), used)) void (*const vector_table[16])(void) = {
    reinterpret_cast<void (*)(void)>(&_estack), Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, nullptr, nullptr, nullptr, nullptr, Fault_Handler, Fault_Handler, nullptr,
    Fault_Handler, Fault_Handler};
