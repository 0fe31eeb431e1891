// Counter: the single-writer counter of the SDK (see plugin.hpp), usable on its own.
#pragma once

#include <atomic>
#include <cstdint>

namespace wiremeter {

// A counter written by exactly one worker and read by the control plane at any time.
// Thread-safety: add() from the owning worker only; value() from any thread. Relaxed atomics
// compile to plain loads/stores on x86 and ARM, so the data path pays nothing for them.
class Counter {
 public:
  void add(uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(uint64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace wiremeter
