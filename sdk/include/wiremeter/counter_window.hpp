// CounterWindow: the counts of a summary view within a time window (`from`/`to`), for plugins
// whose counters are cumulative totals (requests, replies, size buckets, ...) with no timestamp
// per event.
//
// Every second (on_tick) the plugin hands its current totals to record(); the window keeps
// timestamped copies in rings of fixed size, one per tier: by default one per second for the
// last 10 minutes and one per minute for the last 24 hours. window(from, to) answers the
// difference of the two snapshots that bracket [from, to] most tightly (the latest one at or
// before `from`, the earliest one at or after `to`, or the current totals when `to` is after
// the last snapshot), and says which times it used: the answer covers at least the window asked
// for, widened to the granularity of the history that reaches back that far.
//
//   CounterWindow<ArpCounters> arp_window;               // in the plugin
//   arp_window.record(now_ns, merged.arp);               // on_tick
//   auto w = arp_window.window(from_ns, to_ns, merged.arp, host.now_ns());  // a view
//   // w.counts: what was counted between w.from_ns and w.to_ns
//
// T: a trivially copyable struct of counters that only grow. Differences are taken with
// `later - earlier` when T has an operator-, else word by word for a struct made of uint64_t
// only (saturating at 0). Memory is fixed at construction: the sum of the tiers' capacities
// times (sizeof(T) + 8) bytes, ~200 KB for a struct of 12 counters with the default tiers.
//
// Thread-safety: control plane, one caller at a time (on_tick and the query hook are serialized
// per plugin by the host).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <type_traits>
#include <vector>
#include <wiremeter/query.hpp>

namespace wiremeter {

// later - earlier for a struct of uint64_t counters, word by word; a counter that went down
// (it was reset) counts 0.
template <typename T>
T subtract_counters(const T& later, const T& earlier) {
  if constexpr (requires { later - earlier; }) {
    return later - earlier;
  } else {
    static_assert(sizeof(T) % sizeof(uint64_t) == 0 && std::has_unique_object_representations_v<T>,
                  "without operator-, T must be made of uint64_t counters only");
    constexpr size_t kWords = sizeof(T) / sizeof(uint64_t);
    uint64_t a[kWords], b[kWords];
    std::memcpy(a, &later, sizeof(T));
    std::memcpy(b, &earlier, sizeof(T));
    for (size_t i = 0; i < kWords; ++i) a[i] = a[i] >= b[i] ? a[i] - b[i] : 0;
    T out;
    std::memcpy(&out, a, sizeof(T));
    return out;
  }
}

template <typename T>
class CounterWindow {
  static_assert(std::is_trivially_copyable_v<T>, "snapshots are plain copies");

 public:
  // One ring: a snapshot per `interval_ns` (the first record() of each interval, aligned to
  // multiples of it), `capacity` of them.
  struct Tier {
    uint64_t interval_ns;
    size_t capacity;
  };
  static constexpr Tier kSeconds{1'000'000'000ull, 600};       // 10 minutes
  static constexpr Tier kMinutes{60'000'000'000ull, 24 * 60};  // 24 hours

  struct Result {
    T counts{};                       // counted from from_ns to to_ns
    uint64_t from_ns = 0, to_ns = 0;  // the times the answer actually covers
  };

  CounterWindow() : CounterWindow({kSeconds, kMinutes}) {}
  // Tiers from the finest to the coarsest.
  explicit CounterWindow(std::initializer_list<Tier> tiers) {
    for (const Tier& t : tiers) {
      if (t.interval_ns == 0 || t.capacity == 0) {
        throw std::invalid_argument("CounterWindow: a tier needs an interval and a capacity");
      }
      rings_.push_back(Ring{t, std::vector<Snapshot>(t.capacity), 0, 0});
    }
    if (rings_.empty()) throw std::invalid_argument("CounterWindow: no tier");
  }

  // The totals at `now_ns`. A clock that went back (the wall clock was set) makes the history
  // meaningless: it starts over.
  void record(uint64_t now_ns, const T& totals) {
    if (has_last_ && now_ns < last_ns_) clear();
    for (Ring& r : rings_) {
      if (r.size && r.at(r.size - 1).ns / r.tier.interval_ns == now_ns / r.tier.interval_ns) {
        continue;  // this interval has its snapshot
      }
      r.push({now_ns, totals});
    }
    last_ns_ = now_ns;
    has_last_ = true;
  }

  bool empty() const { return !has_last_; }
  void clear() {
    for (Ring& r : rings_) r.head = r.size = 0;
    has_last_ = false;
  }

  // What was counted within [from_ns, to_ns], given the totals now (`current` at `now_ns`).
  // Throws QueryError when from_ns > to_ns. Edges: a window that starts before the oldest
  // snapshot starts at the oldest one (the answer's from_ns says so); one that ends before it
  // is empty; one that starts after `now_ns` is empty, at now_ns. Without any snapshot, the
  // answer is `current` since 0.
  Result window(uint64_t from_ns, uint64_t to_ns, const T& current, uint64_t now_ns) const {
    if (from_ns > to_ns) throw QueryError("from: must not be after to");
    Result out;
    if (!has_last_) {
      out.counts = current;
      out.to_ns = now_ns;
      return out;
    }
    if (from_ns >= now_ns && now_ns >= last_ns_) {
      out.from_ns = out.to_ns = now_ns;
      return out;
    }
    const Snapshot* start = nullptr;   // latest at or before from
    const Snapshot* oldest = nullptr;  // fallback when the history does not reach back
    const Snapshot* end = nullptr;     // earliest at or after to
    for (const Ring& r : rings_) {
      if (!r.size) continue;
      const Snapshot& first = r.at(0);
      if (!oldest || first.ns < oldest->ns) oldest = &first;
      // Rings are in time order: binary search on the logical index.
      size_t lo = 0, hi = r.size;  // first index with ns > from
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r.at(mid).ns <= from_ns) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      if (lo > 0 && (!start || r.at(lo - 1).ns > start->ns)) start = &r.at(lo - 1);
      lo = 0, hi = r.size;  // first index with ns >= to
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r.at(mid).ns < to_ns) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      if (lo < r.size && (!end || r.at(lo).ns < end->ns)) end = &r.at(lo);
    }
    if (!start) start = oldest;
    const T& later = end ? end->totals : current;
    out.from_ns = start->ns;
    out.to_ns = end ? end->ns : std::max(now_ns, last_ns_);
    if (out.to_ns < out.from_ns) out.to_ns = out.from_ns;
    out.counts = subtract_counters(later, start->totals);
    return out;
  }

 private:
  struct Snapshot {
    uint64_t ns;
    T totals;
  };
  struct Ring {
    Tier tier;
    std::vector<Snapshot> slots;
    size_t head;  // index of the oldest
    size_t size;
    const Snapshot& at(size_t i) const { return slots[(head + i) % slots.size()]; }
    void push(const Snapshot& s) {
      if (size < slots.size()) {
        slots[(head + size++) % slots.size()] = s;
      } else {
        slots[head] = s;  // overwrite the oldest
        head = (head + 1) % slots.size();
      }
    }
  };

  std::vector<Ring> rings_;
  uint64_t last_ns_ = 0;
  bool has_last_ = false;
};

}  // namespace wiremeter
