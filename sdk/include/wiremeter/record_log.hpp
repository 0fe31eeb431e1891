// A bounded log of records (ended flows, transactions, calls) that a worker produces and the
// control plane reads.
//
// Thread-safety: push() from the owning worker, snapshot()/for_each()/counters from any thread.
// A short mutex guards the buffer. That is fine for events that happen per flow or per
// transaction, never per packet: the worker holds it for one copy, the reader for one pass.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace wiremeter {

template <typename T>
class RecordLog {
 public:
  // Keeps the newest `capacity` records; older ones are counted in dropped().
  // The whole capacity is reserved at once, so push() never allocates or moves the records on
  // the data path. It costs address space, not memory: the pages are only touched as records
  // arrive.
  explicit RecordLog(size_t capacity) : capacity_(capacity ? capacity : 1) {
    buffer_.reserve(capacity_);
  }

  void push(const T& record) {
    std::lock_guard lock(mutex_);
    // Record number n lives at n % capacity: readers find it by its sequence number.
    if (buffer_.size() < capacity_) {
      buffer_.push_back(record);
    } else {
      buffer_[total_ % capacity_] = record;
      ++dropped_;
    }
    ++total_;
  }

  // Visits the kept records, oldest first. Copies them out a chunk at a time and calls `visit`
  // outside the lock, so a reader going through 100k records never holds up the worker for
  // more than one chunk's copy. Records overwritten meanwhile are skipped, never torn.
  template <typename F>
  void for_each(F&& visit) const {
    constexpr uint64_t kChunk = 256;
    uint64_t seq, end;
    {
      std::lock_guard lock(mutex_);
      end = total_;
      seq = total_ - buffer_.size();
    }
    std::vector<T> chunk;
    chunk.reserve(kChunk);
    while (seq < end) {
      chunk.clear();
      {
        std::lock_guard lock(mutex_);
        uint64_t oldest = total_ - buffer_.size();
        if (seq < oldest) seq = oldest;
        for (; seq < end && chunk.size() < kChunk; ++seq) {
          chunk.push_back(buffer_[seq % capacity_]);
        }
      }
      for (const T& r : chunk) visit(r);
    }
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
  uint64_t total_ = 0;
  uint64_t dropped_ = 0;
};

// The records of every worker's log in one list, oldest first (by `time_of`, stable for equal
// times), with `dropped` the records the logs overwrote. `log_of(worker)` returns the worker's
// RecordLog; null workers are skipped. Control plane.
template <typename T, typename Worker, typename LogOf, typename TimeOf>
std::vector<T> merge_logs(std::span<Worker* const> workers, LogOf&& log_of, TimeOf&& time_of,
                          uint64_t& dropped) {
  std::vector<T> all;
  dropped = 0;
  for (Worker* w : workers) {
    if (!w) continue;
    const RecordLog<T>& log = log_of(*w);
    dropped += log.dropped();
    log.for_each([&](const T& r) { all.push_back(r); });
  }
  std::stable_sort(all.begin(), all.end(),
                   [&](const T& a, const T& b) { return time_of(a) < time_of(b); });
  return all;
}

}  // namespace wiremeter
