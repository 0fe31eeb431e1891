// http: bounded per-flow reassembly of the framing unit being read in each direction.
//
// HTTP/1.1 keeps connections open for many requests (Zeek's trans_depth), so the bytes worth
// reassembling are not the first kilobytes of a stream but the header block (or chunk-size line)
// of the current message, wherever it starts. A window holds the bytes of one direction from a
// stream position that moves forward: advance() drops what the parser consumed and the body
// bytes it skips, and the window goes on from there. Bytes arrive in any order, overlaps and
// retransmissions are resolved (the first copy of a byte wins), up to kMaxRanges separate
// pieces per direction.
//
// The SDK's TcpStreamPool keeps only the first bytes of each direction and cannot move its start;
// this pool is the same idea with a movable start. Memory: `slots` slot pairs of `capacity`
// bytes, allocated once per worker. A flow holds a slot only while one of its directions has
// bytes waiting for the rest of their unit: a header block that arrives whole in one segment,
// in order, never touches the pool (the plugin parses it straight from the packet).
//
// Thread-safety: one pool per worker, used by that worker only; counters from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <wiremeter/counter.hpp>

namespace wiremeter::http {

// Lives in the FlowState; zero = no slot.
struct WindowHandle {
  uint32_t slot;  // slot index + 1; 0 = none
  uint32_t
      generation;  // the slot's generation when taken: a stale handle never reads a reused slot
};

struct WindowCounters {
  Counter taken;           // slots handed out
  Counter exhausted;       // a flow needed a slot and the pool was empty
  Counter ranges_dropped;  // out-of-order pieces dropped: more than kMaxRanges holes
};

class WindowPool {
 public:
  static constexpr uint32_t kMaxRanges = 8;

  WindowPool(uint32_t slots, uint32_t capacity);
  WindowPool(const WindowPool&) = delete;
  WindowPool& operator=(const WindowPool&) = delete;

  // Gives the flow a slot (both directions empty) unless it has one. False when the pool is empty.
  bool acquire(WindowHandle& h) noexcept;
  bool valid(const WindowHandle& h) const noexcept;
  // Gives the slot back and zeroes the handle.
  void release(WindowHandle& h) noexcept;

  // Stores `len` bytes at `offset` from the window start of direction `dir`; the part past the
  // capacity is cut. False when the piece had to be dropped (too many holes). `now_ns` becomes
  // first_ns() when this puts the first byte of the window in place.
  bool store(const WindowHandle& h, int dir, uint32_t offset, const uint8_t* data, uint32_t len,
             uint64_t now_ns) noexcept;
  // The bytes present from the window start without a hole.
  std::span<const uint8_t> contiguous(const WindowHandle& h, int dir) const noexcept;
  // Moves the window start forward by n bytes; the bytes past it stay, at their new offsets.
  // `now_ns` becomes first_ns() if bytes remain at the new start.
  void advance(const WindowHandle& h, int dir, uint64_t n, uint64_t now_ns) noexcept;
  void clear(const WindowHandle& h, int dir) noexcept;
  bool empty(const WindowHandle& h, int dir) const noexcept;
  // When the first byte at the window start arrived.
  uint64_t first_ns(const WindowHandle& h, int dir) const noexcept;

  uint32_t capacity() const noexcept { return capacity_; }
  uint32_t slots() const noexcept { return slots_; }
  uint32_t in_use() const noexcept { return slots_ - free_count_; }
  const WindowCounters& counters() const noexcept { return counters_; }

 private:
  struct Range {
    uint32_t begin, end;
  };
  struct Direction {
    Range ranges[kMaxRanges];  // sorted, disjoint, not adjacent
    uint32_t count = 0;
    uint64_t first_ns = 0;
  };

  Direction& dir_of(const WindowHandle& h, int dir) const noexcept {
    return directions_[size_t{h.slot - 1} * 2 + static_cast<size_t>(dir & 1)];
  }
  uint8_t* bytes_of(const WindowHandle& h, int dir) const noexcept {
    return bytes_.get() + (size_t{h.slot - 1} * 2 + static_cast<size_t>(dir & 1)) * capacity_;
  }

  uint32_t slots_, capacity_;
  std::unique_ptr<Direction[]> directions_;
  std::unique_ptr<uint8_t[]> bytes_;
  std::unique_ptr<uint32_t[]> generation_;
  std::unique_ptr<uint32_t[]> free_;
  uint32_t free_count_ = 0;
  WindowCounters counters_;
};

}  // namespace wiremeter::http
