// A tiny static thread pool for models compiled with --threads N (Linux targets only: a model
// compiled with one thread, the default and the only choice on microcontrollers, never
// includes this header).
//
// The generated code splits a heavy layer's output channels into up to N parts, and
// ThreadPool::run(parts, fn) calls fn(0) on the calling thread and fn(1..parts-1) on the
// workers, returning when all are done.  Workers spin for a short while between jobs (layers
// follow each other within microseconds) and then sleep on a condition variable, so an idle
// model costs no CPU.
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
  static_assert(Workers >= 1 && Workers < 256, "1..255 worker threads");

 public:
  static constexpr int kMaxParts = Workers + 1;

  ThreadPool() {
    static const int registered = pthread_atfork(nullptr, nullptr, pool_detail::on_fork_child);
    (void)registered;
    for (int i = 0; i < Workers; ++i) threads_[i] = std::thread([this, i] { work(i + 1); });
  }

  ~ThreadPool() {
    publish(0, true);
    for (auto& t : threads_) t.join();
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Calls fn(part) for every part in [0, parts), parts <= kMaxParts; returns when all are done.
  template <class F>
  void run(int parts, F& fn) {
    if (parts <= 1 || pool_detail::forked().load(std::memory_order_relaxed) ||
        busy_.exchange(true, std::memory_order_acquire)) {
      for (int p = 0; p < parts; ++p) fn(p);
      return;
    }
    ctx_ = &fn;
    call_ = [](void* ctx, int part) { (*static_cast<F*>(ctx))(part); };
    pending_.store(parts - 1, std::memory_order_relaxed);
    publish(parts, false);
    fn(0);
    while (pending_.load(std::memory_order_acquire) != 0) pool_detail::cpu_relax();
    busy_.store(false, std::memory_order_release);
  }

 private:
  // A job word: sequence number << 9 | stop << 8 | parts, so a worker reads a job's part count
  // and its sequence number in one load.
  static constexpr int kSpins = 20000;  // about 50-100 us of pause instructions before sleeping

  void publish(int parts, bool stop) {
    const uint64_t seq = (job_.load(std::memory_order_relaxed) >> 9) + 1;
    job_.store(seq << 9 | (stop ? 256u : 0u) | static_cast<uint64_t>(parts), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0 || stop) {
      { std::lock_guard<std::mutex> lock(mutex_); }
      wake_.notify_all();
    }
  }

  uint64_t next_job(uint64_t seen) {
    for (int i = 0; i < kSpins; ++i) {
      const uint64_t j = job_.load(std::memory_order_acquire);
      if (j != seen) return j;
      pool_detail::cpu_relax();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    uint64_t j;
    while ((j = job_.load(std::memory_order_seq_cst)) == seen) wake_.wait(lock);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return j;
  }

  void work(int id) {
    uint64_t seen = 0;  // the job word before any job: a worker that starts late still sees the first
    for (;;) {
      seen = next_job(seen);
      if (seen & 256u) return;
      if (id < static_cast<int>(seen & 255u)) {  // this worker has a part of the job
        call_(ctx_, id);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  std::thread threads_[Workers];
  std::atomic<uint64_t> job_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> busy_{false};
  void* ctx_ = nullptr;
  void (*call_)(void*, int) = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace edge_sdk
