// A bounded log of records (ended flows, transactions, calls) that a worker produces and the
// control plane reads.
//
// Thread-safety: push() from the owning worker, snapshot()/for_each()/counters from any thread.
// A short mutex guards the buffer. That is fine for events that happen per flow or per
// transaction, never per packet: the worker holds it for one copy, the reader for one pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace wiremeter {

template <typename T>
class RecordLog {
 public:
  // Keeps the newest `capacity` records; older ones are counted in dropped().
  explicit RecordLog(size_t capacity) : capacity_(capacity ? capacity : 1) {
    buffer_.reserve(capacity_ < 4096 ? capacity_ : 4096);
  }

  void push(const T& record) {
    std::lock_guard lock(mutex_);
    if (buffer_.size() < capacity_) {
      buffer_.push_back(record);
    } else {
      buffer_[next_] = record;
      ++dropped_;
    }
    next_ = (next_ + 1) % capacity_;
    ++total_;
  }

  // Visits the kept records, oldest first.
  template <typename F>
  void for_each(F&& visit) const {
    std::lock_guard lock(mutex_);
    size_t n = buffer_.size();
    size_t start = n < capacity_ ? 0 : next_;
    for (size_t i = 0; i < n; ++i) visit(buffer_[(start + i) % n]);
  }

  std::vector<T> snapshot() const {
    std::vector<T> out;
    for_each([&](const T& r) { out.push_back(r); });
    return out;
  }

  uint64_t total() const {
    std::lock_guard lock(mutex_);
    return total_;
  }
  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<T> buffer_;
  size_t next_ = 0;
  uint64_t total_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace wiremeter
