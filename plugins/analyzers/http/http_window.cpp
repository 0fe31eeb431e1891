#include "http_window.hpp"

#include <algorithm>
#include <cstring>

namespace wiremeter::http {

WindowPool::WindowPool(uint32_t slots, uint32_t capacity)
    : slots_(slots),
      capacity_(capacity ? capacity : 1),
      directions_(std::make_unique<Direction[]>(size_t{slots} * 2)),
      bytes_(std::make_unique<uint8_t[]>(size_t{slots} * 2 * capacity_)),
      generation_(std::make_unique<uint32_t[]>(slots)),
      free_(std::make_unique<uint32_t[]>(slots)) {
  for (uint32_t i = 0; i < slots; ++i) free_[i] = slots - 1 - i;
  free_count_ = slots;
}

bool WindowPool::valid(const WindowHandle& h) const noexcept {
  return h.slot != 0 && h.slot <= slots_ && generation_[h.slot - 1] == h.generation;
}

bool WindowPool::acquire(WindowHandle& h) noexcept {
  if (valid(h)) return true;
  if (free_count_ == 0) {
    counters_.exhausted.add();
    h = WindowHandle{};
    return false;
  }
  uint32_t slot = free_[--free_count_];
  h.slot = slot + 1;
  h.generation = generation_[slot];
  directions_[size_t{slot} * 2] = Direction{};
  directions_[size_t{slot} * 2 + 1] = Direction{};
  counters_.taken.add();
  return true;
}

void WindowPool::release(WindowHandle& h) noexcept {
  if (valid(h)) {
    uint32_t slot = h.slot - 1;
    ++generation_[slot];
    free_[free_count_++] = slot;
  }
  h = WindowHandle{};
}

bool WindowPool::store(const WindowHandle& h, int dir, uint32_t offset, const uint8_t* data,
                       uint32_t len, uint64_t now_ns) noexcept {
  if (!valid(h) || offset >= capacity_ || len == 0) return true;
  uint32_t b = offset, e = len > capacity_ - offset ? capacity_ : offset + len;
  Direction& d = dir_of(h, dir);
  uint8_t* buf = bytes_of(h, dir);
  // Ranges that overlap or touch [b, e) merge with it; count what remains first, so that a
  // piece that would need a ninth range is dropped before anything is written.
  uint32_t first = 0;
  while (first < d.count && d.ranges[first].end < b) ++first;
  uint32_t last = first;  // one past the last range that merges
  while (last < d.count && d.ranges[last].begin <= e) ++last;
  uint32_t merged = last - first;
  if (d.count - merged + 1 > kMaxRanges) {
    counters_.ranges_dropped.add();
    return false;
  }
  // Copy only into the holes: the first copy of a byte wins.
  uint32_t pos = b;
  for (uint32_t i = first; i < last && pos < e; ++i) {
    const Range& r = d.ranges[i];
    if (r.begin > pos) std::memcpy(buf + pos, data + (pos - b), std::min(r.begin, e) - pos);
    pos = std::max(pos, r.end);
  }
  if (pos < e) std::memcpy(buf + pos, data + (pos - b), e - pos);
  Range m{b, e};
  if (merged) {
    m.begin = std::min(b, d.ranges[first].begin);
    m.end = std::max(e, d.ranges[last - 1].end);
  }
  bool had_start = d.count && d.ranges[0].begin == 0;
  // Replace ranges [first, last) by m.
  if (merged == 0) {
    std::memmove(d.ranges + first + 1, d.ranges + first, (d.count - first) * sizeof(Range));
    ++d.count;
  } else if (merged > 1) {
    std::memmove(d.ranges + first + 1, d.ranges + last, (d.count - last) * sizeof(Range));
    d.count -= merged - 1;
  }
  d.ranges[first] = m;
  if (!had_start && m.begin == 0) d.first_ns = now_ns;
  return true;
}

std::span<const uint8_t> WindowPool::contiguous(const WindowHandle& h, int dir) const noexcept {
  if (!valid(h)) return {};
  const Direction& d = dir_of(h, dir);
  if (d.count == 0 || d.ranges[0].begin != 0) return {};
  return {bytes_of(h, dir), d.ranges[0].end};
}

void WindowPool::advance(const WindowHandle& h, int dir, uint64_t n, uint64_t now_ns) noexcept {
  if (!valid(h) || n == 0) return;
  Direction& d = dir_of(h, dir);
  uint8_t* buf = bytes_of(h, dir);
  uint32_t kept = 0;
  uint32_t top = 0;
  for (uint32_t i = 0; i < d.count; ++i) {
    Range r = d.ranges[i];
    if (r.end <= n) continue;
    r.begin = r.begin > n ? static_cast<uint32_t>(r.begin - n) : 0;
    r.end = static_cast<uint32_t>(r.end - n);
    d.ranges[kept++] = r;
    top = r.end;
  }
  d.count = kept;
  if (kept) std::memmove(buf, buf + n, top);
  if (kept && d.ranges[0].begin == 0) d.first_ns = now_ns;
}

void WindowPool::clear(const WindowHandle& h, int dir) noexcept {
  if (valid(h)) dir_of(h, dir) = Direction{};
}

bool WindowPool::empty(const WindowHandle& h, int dir) const noexcept {
  return !valid(h) || dir_of(h, dir).count == 0;
}

uint64_t WindowPool::first_ns(const WindowHandle& h, int dir) const noexcept {
  return valid(h) ? dir_of(h, dir).first_ns : 0;
}

}  // namespace wiremeter::http
