// Bounded TCP reassembly of a window of each direction of a flow, for parsers that need more
// than one segment (HTTP headers, TLS handshakes with certificates).
//
// Each direction of a flow gets a buffer (its size per direction: a parser may need less from
// one side), and the parser sees the in-order bytes from the window's start as one contiguous
// span that grows as segments arrive, whatever their order, with retransmissions and overlaps
// resolved (the first copy of a byte wins, as most stacks do). Bytes beyond the buffer are not
// kept; the parser is told so and should give up on what it could not see.
//
// The window starts at the first byte of the stream. A parser that only needs the beginning
// (a TLS handshake) leaves it there. One that reads unit after unit (HTTP/1.1 keep-alive: the
// header block of each message, wherever it starts) calls advance() with the bytes it consumed
// or skips (a body): the window goes on from there, the bytes already held past that point stay,
// and later segments land relative to the new start.
//
// Two ways to feed it:
// - add(handle, packet): the pool follows the sequence numbers (the SYN, or the first segment
//   seen, fixes the start) and takes a slot at the first payload byte.
// - acquire(handle) and store(handle, dir, offset, ...): the parser follows the sequence numbers
//   itself and gives each piece's offset from the window's start; it takes a slot only when a
//   unit does not arrive whole in one segment (it parses a whole one straight from the packet),
//   and gives the slot back when no direction holds bytes.
//
// Memory: the buffers live in a per-worker pool of `slots` slot pairs allocated once, not in the
// per-flow state (which stays 8 bytes: a TcpStreamHandle). A flow gives its slot back when the
// plugin calls release(): as soon as the parser is done (headers parsed, certificate seen) and at
// the latest in on_flow_end. When the pool is empty the flow is not reassembled (counted in
// `exhausted`), and the plugin falls back to what single segments show. Nothing allocates after
// construction.
//
// Thread-safety: a pool belongs to one worker (like the flows it serves); counters are readable
// from any thread.
#pragma once

#include <wiremeter/abi.h>

#include <algorithm>
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
  uint32_t slot;  // slot index + 1; 0 = none yet; kRefused = the pool was empty, or released
  uint32_t
      generation;  // the slot's generation when taken: a stale handle never reads a reused slot
  static constexpr uint32_t kRefused = 0xffffffffu;
};

struct TcpStreamCounters {
  Counter taken;         // slots handed out
  Counter exhausted;     // flows that found the pool empty
  Counter truncated;     // windows that went past their buffer (once per direction until it moves)
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
      : TcpStreamPool(slots, bytes_per_direction, bytes_per_direction) {}
  // Buffers of `forward_bytes` for the initiator's direction and `reverse_bytes` for the
  // responder's (each rounded up to a multiple of 64).
  TcpStreamPool(uint32_t slots, uint32_t forward_bytes, uint32_t reverse_bytes)
      : slots_(slots),
        capacity_{round_up_64(forward_bytes), round_up_64(reverse_bytes)},
        words_{capacity_[0] / 64, capacity_[1] / 64},
        directions_(std::make_unique<Direction[]>(size_t{slots} * 2)),
        bytes_(std::make_unique<uint8_t[]>(size_t{slots} * (capacity_[0] + capacity_[1]))),
        bits_(std::make_unique<uint64_t[]>(size_t{slots} * (words_[0] + words_[1]))),
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
    if (offset < 0) {  // begins before the window: keep the part at or after its start
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
    uint32_t before = d.contiguous;
    put(h, u.direction, static_cast<uint32_t>(offset), payload, len, p.ts_ns);
    u.grew = d.contiguous > before;
    u.truncated = d.truncated;
    u.data = contiguous(h, u.direction);
    return u;
  }

  // The in-order bytes of a direction from its window's start (empty without a slot).
  std::span<const uint8_t> contiguous(const TcpStreamHandle& h, int dir) const noexcept {
    if (!valid(h)) return {};
    int d = dir & 1;
    return {buffer(h.slot - 1, d), directions_[index(h, d)].contiguous};
  }

  // Gives the slot back; the handle stays released (add() takes no new slot for this flow, an
  // explicit acquire() does). Call when the parser is done and in on_flow_end.
  void release(TcpStreamHandle& h) noexcept {
    if (valid(h)) {
      uint32_t slot = h.slot - 1;
      ++generation_[slot];
      for (int d = 0; d < 2; ++d) reset(slot, d);
      free_[free_count_++] = slot;
    }
    h.slot = TcpStreamHandle::kRefused;
  }

  // --- For parsers that follow the sequence numbers themselves ---

  // Gives the flow a slot (both windows empty) unless it holds one, whatever add() or release()
  // did before. False when the pool is empty (counted in `exhausted`).
  bool acquire(TcpStreamHandle& h) noexcept { return valid(h) || take(h); }
  // Whether the handle holds a slot.
  bool holds(const TcpStreamHandle& h) const noexcept { return valid(h); }

  // Stores `len` bytes at `offset` from the window's start of direction `dir`; the part past the
  // buffer is cut (and the window flagged truncated). `now_ns` becomes first_ns() if this puts
  // the window's first byte in place. Returns the contiguous bytes from the start.
  std::span<const uint8_t> store(const TcpStreamHandle& h, int dir, uint32_t offset,
                                 const uint8_t* data, uint32_t len, uint64_t now_ns) noexcept {
    if (!valid(h)) return {};
    if (len) put(h, dir & 1, offset, data, len, now_ns);
    return contiguous(h, dir);
  }

  // Moves the window of direction `dir` forward by `bytes` (consumed or skipped): the bytes held
  // past that point stay, at their new offsets, and later segments land relative to the new
  // start. Moving past everything held empties the window. `now_ns` becomes first_ns() if a byte
  // is present at the new start.
  void advance(const TcpStreamHandle& h, int dir, uint64_t bytes, uint64_t now_ns = 0) noexcept {
    if (!valid(h) || bytes == 0) return;
    int di = dir & 1;
    Direction& d = directions_[index(h, di)];
    d.start_seq += static_cast<uint32_t>(bytes);
    d.truncated = false;  // the buffer's end moves on with the start
    uint32_t slot = h.slot - 1;
    uint64_t* bits = bitmap(slot, di);
    uint32_t used_words = (d.high + 63) / 64;
    if (bytes >= d.high) {
      std::memset(bits, 0, used_words * sizeof(uint64_t));
      d.high = d.contiguous = 0;
      return;
    }
    auto n = static_cast<uint32_t>(bytes);
    uint8_t* buf = buffer(slot, di);
    std::memmove(buf, buf + n, d.high - n);
    uint32_t ws = n / 64, bs = n % 64;
    for (uint32_t i = 0; i + ws < used_words; ++i) {
      uint64_t lo = bits[i + ws] >> bs;
      uint64_t hi = bs && i + ws + 1 < used_words ? bits[i + ws + 1] << (64 - bs) : 0;
      bits[i] = lo | hi;
    }
    for (uint32_t i = used_words - ws; i < used_words; ++i) bits[i] = 0;
    d.high -= n;
    d.contiguous = extent(slot, di, d.contiguous > n ? d.contiguous - n : 0);
    if (bits[0] & 1) d.first_ns = now_ns;
  }

  // Drops the bytes held in the window of direction `dir`; the slot and the window's start stay.
  void clear(const TcpStreamHandle& h, int dir) noexcept {
    if (!valid(h)) return;
    Direction& d = direction(h, dir & 1);
    Direction kept;
    kept.start_seq = d.start_seq;
    kept.started = d.started;
    reset(h.slot - 1, dir & 1);
    d = kept;
  }
  // No byte held in the window of `dir` (true without a slot).
  bool empty(const TcpStreamHandle& h, int dir) const noexcept {
    return !valid(h) || directions_[index(h, dir & 1)].high == 0;
  }
  // When the window's first byte was put in place (or the window moved onto a byte present).
  uint64_t first_ns(const TcpStreamHandle& h, int dir) const noexcept {
    return valid(h) ? directions_[index(h, dir & 1)].first_ns : 0;
  }

  uint32_t slots() const noexcept { return slots_; }
  // The forward direction's buffer (both directions' when built with one size).
  uint32_t capacity() const noexcept { return capacity_[0]; }
  uint32_t capacity(int dir) const noexcept { return capacity_[dir & 1]; }
  uint32_t in_use() const noexcept { return slots_ - free_count_; }
  const TcpStreamCounters& counters() const noexcept { return counters_; }
  // Bytes the pool holds, for memory reports.
  size_t memory_bytes() const noexcept {
    size_t per_slot = capacity_[0] + capacity_[1] + (words_[0] + words_[1]) * sizeof(uint64_t) +
                      2 * sizeof(Direction) + 2 * sizeof(uint32_t);
    return size_t{slots_} * per_slot;
  }

 private:
  struct Direction {
    uint32_t start_seq = 0;   // sequence number of the window's first byte (add() only)
    uint32_t contiguous = 0;  // bytes [0, contiguous) are all present
    uint32_t high = 0;        // one past the last byte present; 0 = empty
    bool started = false;
    bool truncated = false;
    uint64_t first_ns = 0;
  };

  static uint32_t round_up_64(uint32_t n) { return n == 0 ? 64 : (n + 63) / 64 * 64; }
  static uint32_t load32(const uint8_t* b) {
    return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  }

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
  static size_t index(const TcpStreamHandle& h, int dir) noexcept {
    return size_t{h.slot - 1} * 2 + static_cast<size_t>(dir);
  }
  Direction& direction(const TcpStreamHandle& h, int dir) noexcept {
    return directions_[index(h, dir)];
  }
  uint8_t* buffer(uint32_t slot, int dir) const noexcept {
    return bytes_.get() + size_t{slot} * (capacity_[0] + capacity_[1]) + (dir ? capacity_[0] : 0);
  }
  uint64_t* bitmap(uint32_t slot, int dir) const noexcept {
    return bits_.get() + size_t{slot} * (words_[0] + words_[1]) + (dir ? words_[0] : 0);
  }
  // Only the words below `high` can have bits set: clearing costs what the window held.
  void reset(uint32_t slot, int dir) noexcept {
    Direction& d = directions_[size_t{slot} * 2 + static_cast<size_t>(dir)];
    std::memset(bitmap(slot, dir), 0, (d.high + 63) / 64 * sizeof(uint64_t));
    d = Direction{};
  }

  // Puts [begin, begin + len) of the window of `dir` in place, cut at the buffer's end.
  void put(const TcpStreamHandle& h, int dir, uint32_t begin, const uint8_t* src, uint32_t len,
           uint64_t now_ns) noexcept {
    Direction& d = direction(h, dir);
    uint32_t cap = capacity_[dir];
    uint32_t end = begin + len;
    if (end > cap || end < begin) {
      if (!d.truncated) counters_.truncated.add();
      d.truncated = true;
      end = begin < cap ? cap : begin;
    }
    if (end <= begin) return;
    uint32_t slot = h.slot - 1;
    uint64_t* bits = bitmap(slot, dir);
    bool had_start = bits[0] & 1;
    if (begin >= d.high) {
      // Past every byte held (in-order segments, mostly): nothing to resolve.
      std::memcpy(buffer(slot, dir) + begin, src, end - begin);
      mark_present(bits, begin, end);
      if (d.contiguous == begin) d.contiguous = end;
    } else {
      copy_missing(buffer(slot, dir), bits, begin, end, src);
      d.contiguous = extent(slot, dir, d.contiguous);
    }
    d.high = std::max(d.high, end);
    if (!had_start && (bits[0] & 1)) d.first_ns = now_ns;
  }

  static void mark_present(uint64_t* bits, uint32_t begin, uint32_t end) noexcept {
    uint32_t first = begin / 64, last = (end - 1) / 64;
    uint64_t head = ~uint64_t{0} << (begin % 64);
    uint64_t tail = ~uint64_t{0} >> (63 - (end - 1) % 64);
    if (first == last) {
      bits[first] |= head & tail;
      return;
    }
    bits[first] |= head;
    for (uint32_t w = first + 1; w < last; ++w) bits[w] = ~uint64_t{0};
    bits[last] |= tail;
  }

  // Copies the bytes of [begin, end) that are not present yet and marks them present. Runs of
  // missing bytes go in one memcpy each: most pieces land in a hole (or past the end) whole.
  static void copy_missing(uint8_t* buf, uint64_t* bits, uint32_t begin, uint32_t end,
                           const uint8_t* src) noexcept {
    uint32_t pos = begin;
    uint32_t run = begin;  // start of the missing bytes not copied yet
    while (pos < end) {
      uint32_t w = pos / 64, b = pos % 64;
      uint32_t n = 64 - b < end - pos ? 64 - b : end - pos;
      uint64_t mask = (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << b;
      uint64_t present = bits[w] & mask;
      bits[w] |= mask;
      pos += n;
      if (present == 0) continue;  // all missing: the run goes on
      uint32_t chunk = pos - n;
      if (chunk > run) std::memcpy(buf + run, src + (run - begin), chunk - run);
      run = pos;
      // The first copy of a byte wins: fill only the holes of this word.
      uint64_t missing = mask & ~present;
      while (missing) {
        int k = std::countr_zero(missing);
        int len = std::countr_one(missing >> k);
        uint32_t at = w * 64 + static_cast<uint32_t>(k);
        std::memcpy(buf + at, src + (at - begin), static_cast<size_t>(len));
        missing &= len == 64 ? 0 : ~(((uint64_t{1} << len) - 1) << k);
      }
    }
    if (end > run) std::memcpy(buf + run, src + (run - begin), end - run);
  }
  // The first missing byte at or after `from`.
  uint32_t extent(uint32_t slot, int dir, uint32_t from) const noexcept {
    const uint64_t* bits = bitmap(slot, dir);
    uint32_t cap = capacity_[dir];
    uint32_t pos = from;
    while (pos < cap) {
      uint32_t w = pos / 64, b = pos % 64;
      uint64_t rest = bits[w] >> b;
      uint32_t ones = static_cast<uint32_t>(std::countr_one(rest));
      if (ones < 64 - b) return pos + ones;
      pos += 64 - b;
    }
    return cap;
  }

  uint32_t slots_;
  uint32_t capacity_[2];
  uint32_t words_[2];
  std::unique_ptr<Direction[]> directions_;
  std::unique_ptr<uint8_t[]> bytes_;
  std::unique_ptr<uint64_t[]> bits_;
  std::unique_ptr<uint32_t[]> generation_;
  std::unique_ptr<uint32_t[]> free_;
  uint32_t free_count_ = 0;
  TcpStreamCounters counters_;
};

}  // namespace wiremeter
