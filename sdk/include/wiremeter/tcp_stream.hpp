// Bounded TCP reassembly of the first bytes of each direction of a flow, for parsers that need
// more than one segment (HTTP headers, TLS handshakes with certificates).
//
// Only the beginning of a stream is kept: each direction of a flow gets a buffer of
// `bytes_per_direction`, and the parser sees the in-order bytes from the first byte of the stream
// as one contiguous span that grows as segments arrive, whatever their order, with
// retransmissions and overlaps resolved (the first copy of a byte wins, as most stacks do).
// Bytes beyond the buffer are not kept; the parser is told so and should give up on what it
// could not see.
//
// Memory: the buffers live in a per-worker pool of `slots` slot pairs allocated once, not in the
// per-flow state (which stays 8 bytes: a TcpStreamHandle). A flow takes a slot at its first
// payload byte and gives it back when the plugin calls release(): as soon as the parser is done
// (headers parsed, certificate seen) and at the latest in on_flow_end. When the pool is empty the
// flow is not reassembled (counted in `exhausted`), and the plugin falls back to what single
// segments show.
//
// Thread-safety: a pool belongs to one worker (like the flows it serves); counters are readable
// from any thread.
#pragma once

#include <wiremeter/abi.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <wiremeter/counter.hpp>

namespace wiremeter {

// Lives in a plugin's FlowState; zero-filled = no slot yet.
struct TcpStreamHandle {
  uint32_t slot;  // slot index + 1; 0 = none yet; kRefused = the pool was empty
  uint32_t
      generation;  // the slot's generation when taken: a stale handle never reads a reused slot
  static constexpr uint32_t kRefused = 0xffffffffu;
};

struct TcpStreamCounters {
  Counter taken;         // flows that got a slot
  Counter exhausted;     // flows that found the pool empty
  Counter truncated;     // directions whose stream went past the buffer
  Counter before_start;  // payload bytes before the first byte of the stream (joined mid-flow)
};

// What one add() did to the direction of the packet.
struct TcpStreamUpdate {
  std::span<const uint8_t> data;  // the contiguous bytes from the start of this direction
  int direction = 0;              // WM_DIR_FORWARD or WM_DIR_REVERSE
  bool grew = false;              // data got longer with this packet
  bool truncated = false;         // bytes past the buffer were seen (the stream goes on unseen)
  bool active = false;            // the flow has a slot (false: refused, released or not TCP)
};

class TcpStreamPool {
 public:
  TcpStreamPool(uint32_t slots, uint32_t bytes_per_direction)
      : slots_(slots),
        capacity_(round_up_64(bytes_per_direction)),
        directions_(std::make_unique<Direction[]>(size_t{slots} * 2)),
        bytes_(std::make_unique<uint8_t[]>(size_t{slots} * 2 * capacity_)),
        bits_(std::make_unique<uint64_t[]>(size_t{slots} * 2 * (capacity_ / 64))),
        generation_(std::make_unique<uint32_t[]>(slots)),
        free_(std::make_unique<uint32_t[]>(slots)) {
    for (uint32_t i = 0; i < slots; ++i) free_[i] = slots - 1 - i;
    free_count_ = slots;
  }
  TcpStreamPool(const TcpStreamPool&) = delete;
  TcpStreamPool& operator=(const TcpStreamPool&) = delete;

  // Feeds one TCP packet of the flow whose handle this is. Takes a slot on the first payload byte.
  TcpStreamUpdate add(TcpStreamHandle& h, const wm_packet& p) noexcept {
    TcpStreamUpdate u;
    u.direction = p.direction == WM_DIR_REVERSE ? 1 : 0;
    if (p.l4_proto != 6 || !(p.flags & WM_PKT_L4) || p.l4_off + 20u > p.cap_len) return u;
    if (h.slot == TcpStreamHandle::kRefused) return u;
    const uint8_t* tcp = p.data + p.l4_off;
    uint32_t seq = load32(tcp + 4);
    bool syn = p.tcp_flags & 0x02;
    if (h.slot == 0) {
      if (p.payload_len == 0 && !syn) return u;  // a pure ACK says nothing about the stream yet
      if (!take(h)) return u;
    }
    if (!valid(h)) return u;
    u.active = true;
    Direction& d = direction(h, u.direction);
    if (syn) {
      // The stream starts after the SYN, unless data of this direction already fixed the start.
      if (!d.started) {
        d.started = true;
        d.start_seq = seq + 1;
      }
      seq += 1;
    }
    uint32_t len = p.payload_len;
    const uint8_t* payload = p.data + p.payload_off;
    if (len == 0) {
      u.data = contiguous(h, u.direction);
      return u;
    }
    if (!d.started) {  // joined mid-flow, or the SYN was lost: the first segment seen starts it
      d.started = true;
      d.start_seq = seq;
    }
    auto offset = static_cast<int32_t>(seq - d.start_seq);
    if (offset < 0) {  // begins before the stream: keep the part at or after its start
      uint32_t skip = static_cast<uint32_t>(-static_cast<int64_t>(offset));
      if (skip >= len) {
        counters_.before_start.add(len);
        u.data = contiguous(h, u.direction);
        return u;
      }
      counters_.before_start.add(skip);
      payload += skip;
      len -= skip;
      offset = 0;
    }
    uint32_t begin = static_cast<uint32_t>(offset);
    uint32_t end = begin + len;
    if (end > capacity_ || end < begin) {
      if (!d.truncated) counters_.truncated.add();
      d.truncated = true;
      end = begin < capacity_ ? capacity_ : begin;
    }
    uint32_t before = d.contiguous;
    if (end > begin) store(h, u.direction, begin, end, payload);
    d.contiguous = extent(h, u.direction, d.contiguous);
    u.grew = d.contiguous > before;
    u.truncated = d.truncated;
    u.data = contiguous(h, u.direction);
    return u;
  }

  // The in-order bytes of a direction kept so far (empty without a slot).
  std::span<const uint8_t> contiguous(const TcpStreamHandle& h, int dir) const noexcept {
    if (!valid(h)) return {};
    uint32_t i = (h.slot - 1) * 2 + static_cast<uint32_t>(dir & 1);
    return {bytes_.get() + size_t{i} * capacity_, directions_[i].contiguous};
  }

  // Gives the slot back; the handle stays released (no new slot for this flow). Call when the
  // parser is done and in on_flow_end.
  void release(TcpStreamHandle& h) noexcept {
    if (valid(h)) {
      uint32_t slot = h.slot - 1;
      ++generation_[slot];
      directions_[slot * 2] = Direction{};
      directions_[slot * 2 + 1] = Direction{};
      std::memset(bits_.get() + size_t{slot} * 2 * words(), 0, 2 * words() * sizeof(uint64_t));
      free_[free_count_++] = slot;
    }
    h.slot = TcpStreamHandle::kRefused;
  }

  uint32_t slots() const noexcept { return slots_; }
  uint32_t capacity() const noexcept { return capacity_; }
  uint32_t in_use() const noexcept { return slots_ - free_count_; }
  const TcpStreamCounters& counters() const noexcept { return counters_; }
  // Bytes the pool holds, for memory reports.
  size_t memory_bytes() const noexcept {
    return size_t{slots_} * (2 * (capacity_ + capacity_ / 8 + sizeof(Direction)) + 8);
  }

 private:
  struct Direction {
    uint32_t start_seq = 0;
    uint32_t contiguous = 0;  // bytes [0, contiguous) are all present
    bool started = false;
    bool truncated = false;
  };

  static uint32_t round_up_64(uint32_t n) { return n == 0 ? 64 : (n + 63) / 64 * 64; }
  static uint32_t load32(const uint8_t* b) {
    return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  }
  uint32_t words() const noexcept { return capacity_ / 64; }

  bool take(TcpStreamHandle& h) noexcept {
    if (free_count_ == 0) {
      counters_.exhausted.add();
      h.slot = TcpStreamHandle::kRefused;
      return false;
    }
    uint32_t slot = free_[--free_count_];
    h.slot = slot + 1;
    h.generation = generation_[slot];
    counters_.taken.add();
    return true;
  }
  bool valid(const TcpStreamHandle& h) const noexcept {
    return h.slot != 0 && h.slot != TcpStreamHandle::kRefused && h.slot <= slots_ &&
           generation_[h.slot - 1] == h.generation;
  }
  Direction& direction(const TcpStreamHandle& h, int dir) noexcept {
    return directions_[(h.slot - 1) * 2 + static_cast<uint32_t>(dir)];
  }

  // Copies the bytes of [begin, end) that are not present yet and marks them present.
  void store(const TcpStreamHandle& h, int dir, uint32_t begin, uint32_t end,
             const uint8_t* src) noexcept {
    size_t i = size_t{h.slot - 1} * 2 + static_cast<size_t>(dir);
    uint8_t* buf = bytes_.get() + i * capacity_;
    uint64_t* bits = bits_.get() + i * words();
    uint32_t pos = begin;
    while (pos < end) {
      uint32_t w = pos / 64, b = pos % 64;
      uint32_t n = 64 - b < end - pos ? 64 - b : end - pos;
      uint64_t mask = (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << b;
      uint64_t missing = mask & ~bits[w];
      if (missing == mask) {
        std::memcpy(buf + pos, src + (pos - begin), n);
      } else {
        while (missing) {  // the first copy of a byte wins: fill only the holes
          int k = std::countr_zero(missing);
          buf[w * 64 + k] = src[w * 64 + k - begin];
          missing &= missing - 1;
        }
      }
      bits[w] |= mask;
      pos += n;
    }
  }
  // The first missing byte at or after `from`.
  uint32_t extent(const TcpStreamHandle& h, int dir, uint32_t from) const noexcept {
    size_t i = size_t{h.slot - 1} * 2 + static_cast<size_t>(dir);
    const uint64_t* bits = bits_.get() + i * words();
    uint32_t pos = from;
    while (pos < capacity_) {
      uint32_t w = pos / 64, b = pos % 64;
      uint64_t rest = bits[w] >> b;
      uint32_t ones = static_cast<uint32_t>(std::countr_one(rest));
      if (ones < 64 - b) return pos + ones;
      pos += 64 - b;
    }
    return capacity_;
  }

  uint32_t slots_;
  uint32_t capacity_;
  std::unique_ptr<Direction[]> directions_;
  std::unique_ptr<uint8_t[]> bytes_;
  std::unique_ptr<uint64_t[]> bits_;
  std::unique_ptr<uint32_t[]> generation_;
  std::unique_ptr<uint32_t[]> free_;
  uint32_t free_count_ = 0;
  TcpStreamCounters counters_;
};

}  // namespace wiremeter
