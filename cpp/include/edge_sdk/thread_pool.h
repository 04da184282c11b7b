// A tiny static thread pool for models compiled with --threads N (Linux targets only: a model
// compiled with one thread, the default and the only choice on microcontrollers, never
// includes this header).
//
// The generated code splits a heavy layer into up to N parts (output rows or channels), and
// ThreadPool::run(parts, fn) calls fn(0..parts-1) on the calling thread and the workers,
// which claim parts from one atomic counter, and returns when all are done.  Workers spin
// for a short while between jobs (layers follow each other within microseconds) and then
// sleep on a condition variable, so an idle model costs no CPU.
//
// Safe under concurrency: run() from a second thread while the pool is busy (two callers on
// one model, each with its own arena) does that caller's parts inline instead of waiting, and
// a forked child (whose copy of the pool has no threads) runs everything inline too.
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace edge_sdk {

namespace pool_detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

// Set in a child process after fork(): its pool has no worker threads.
inline std::atomic<bool>& forked() {
  static std::atomic<bool> flag{false};
  return flag;
}

inline void on_fork_child() { forked().store(true, std::memory_order_relaxed); }

}  // namespace pool_detail

template <int Workers>
class ThreadPool {
  static_assert(Workers >= 1 && Workers < 255, "1..254 worker threads");

 public:
  static constexpr int kMaxParts = Workers + 1;

  ThreadPool() {
    static const int registered = pthread_atfork(nullptr, nullptr, pool_detail::on_fork_child);
    (void)registered;
    for (int i = 0; i < Workers; ++i) threads_[i] = std::thread([this] { work(); });
  }

  ~ThreadPool() {
    stop_.store(true, std::memory_order_relaxed);
    publish();
    for (auto& t : threads_) t.join();
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Calls fn(part) for every part in [0, parts), parts <= kMaxParts; returns when all are done.
  // Parts are claimed, not assigned: the caller takes parts too, so a worker that the OS has
  // not scheduled (a busy device) costs a little speed, never a wait for its time slice.
  template <class F>
  void run(int parts, F& fn) {
    if (parts <= 1 || pool_detail::forked().load(std::memory_order_relaxed) ||
        busy_.exchange(true, std::memory_order_acquire)) {
      for (int p = 0; p < parts; ++p) fn(p);
      return;
    }
    ctx_ = &fn;
    call_ = [](void* ctx, int part) { (*static_cast<F*>(ctx))(part); };
    done_.store(0, std::memory_order_relaxed);
    const uint64_t seq = (claim_.load(std::memory_order_relaxed) >> 16) + 1;
    claim_.store(seq << 16 | static_cast<uint64_t>(parts) << 8, std::memory_order_release);  // no part claimed yet
    publish();
    run_parts(seq);
    for (int spins = 0; done_.load(std::memory_order_acquire) != parts; ++spins) {
      if (spins < kCallerSpins) pool_detail::cpu_relax();
      else std::this_thread::yield();  // a worker holding a part was preempted: let it finish
    }
    busy_.store(false, std::memory_order_release);
  }

 private:
  static constexpr int kSpins = 20000;       // a worker's pause instructions before it sleeps
  static constexpr int kCallerSpins = 2000;  // the caller's, waiting for a part in progress

  // Claim and run parts of job `seq` until none is left (or the job is already over).
  void run_parts(uint64_t seq) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    for (;;) {
      if ((c >> 16) != seq || (c & 0xffu) >= ((c >> 8) & 0xffu)) return;  // another job, or none left
      if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      call_(ctx_, static_cast<int>(c & 0xffu));
      done_.fetch_add(1, std::memory_order_release);
      c = claim_.load(std::memory_order_acquire);
    }
  }

  void publish() {
    wake_seq_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      { std::lock_guard<std::mutex> lock(mutex_); }
      wake_.notify_all();
    }
  }

  uint32_t next_wake(uint32_t seen) {
    for (int i = 0; i < kSpins; ++i) {
      const uint32_t w = wake_seq_.load(std::memory_order_acquire);
      if (w != seen) return w;
      pool_detail::cpu_relax();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    uint32_t w;
    while ((w = wake_seq_.load(std::memory_order_seq_cst)) == seen) wake_.wait(lock);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return w;
  }

  void work() {
    uint32_t seen = 0;  // the wake count before any job: a worker that starts late still sees the first
    for (;;) {
      seen = next_wake(seen);
      if (stop_.load(std::memory_order_relaxed)) return;
      // ctx_ is read only with a claimed part of the current job (the caller waits for every
      // claimed part): run_parts checks the job's sequence number in the word it claims from.
      run_parts(claim_.load(std::memory_order_acquire) >> 16);
    }
  }

  std::thread threads_[Workers];
  std::atomic<uint64_t> claim_{0};     // job sequence << 16 | parts << 8 | next unclaimed part
  std::atomic<uint32_t> wake_seq_{0};  // bumped for every job (and for stop)
  std::atomic<int> done_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> busy_{false};
  std::atomic<bool> stop_{false};
  void* ctx_ = nullptr;
  void (*call_)(void*, int) = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace edge_sdk
