// RateFeed: per-second counts of a kind with many entities (ARP bindings, MPLS labels, DHCP
// clients), for TopSeries::update_rates().
//
// TopSeries::update() wants every entity's key as a string each second; with millions of
// entities that is millions of strings a second. A RateFeed keeps the previous totals by the
// entity's number (an IPv4 address, a label, a MAC) instead, works out each one's count of the
// last second without formatting anything, and formats only the busiest and the ones being
// graphed.
//
// Thread-safety: control plane (on_tick), one caller at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/top_series.hpp>

namespace wiremeter {

class RateFeed {
 public:
  // An entity's cumulative count now; called once per worker that has it (the counts add up).
  void add(uint64_t id, uint64_t total) {
    Slot& s = slots_[id];
    if (s.tick != tick_) {
      s.tick = tick_;
      s.now = 0;
    }
    s.now += total;
  }

  // Ends the second that add() filled: hands `series` the per-second counts of its top()
  // busiest entities and of its graphed ones. `key_of(id)` is an entity's key; `id_of(key, id)`
  // reads a key back (false if it names none). Entities not added this second are gone (evicted)
  // and forgotten. The first call only learns the totals, like TopSeries::update().
  template <typename KeyOf, typename IdOf>
  void finish(const Host& host, uint64_t now_ns, TopSeries& series, KeyOf&& key_of, IdOf&& id_of) {
    busy_.clear();
    for (auto it = slots_.begin(); it != slots_.end();) {
      Slot& s = it->second;
      if (s.tick != tick_) {
        it = slots_.erase(it);
        continue;
      }
      s.last_second = s.now > s.before ? s.now - s.before : 0;
      s.before = s.now;
      if (s.last_second) busy_.emplace_back(s.last_second, it->first);
      ++it;
    }
    ++tick_;
    bool timed = last_ns_ && now_ns > last_ns_;
    double dt = timed ? static_cast<double>(now_ns - last_ns_) / 1e9 : 0;
    last_ns_ = now_ns;
    if (!timed) return;

    size_t n = std::min(busy_.size(), series.top());
    std::partial_sort(busy_.begin(), busy_.begin() + static_cast<std::ptrdiff_t>(n), busy_.end(),
                      [](const auto& a, const auto& b) {
                        return a.first != b.first ? a.first > b.first : a.second < b.second;
                      });
    std::vector<std::pair<std::string, double>> per_second;
    std::unordered_set<uint64_t> listed;
    for (size_t i = 0; i < n; ++i) {
      per_second.emplace_back(key_of(busy_[i].second), static_cast<double>(busy_[i].first) / dt);
      listed.insert(busy_[i].second);
    }
    for (std::string& key : series.graphed_keys()) {
      uint64_t id = 0;
      double rate = 0;
      if (id_of(key, id)) {
        if (listed.count(id)) continue;
        auto it = slots_.find(id);
        if (it != slots_.end()) rate = static_cast<double>(it->second.last_second) / dt;
      }
      per_second.emplace_back(std::move(key), rate);
    }
    series.update_rates(host, now_ns, std::move(per_second));
  }

  size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    uint64_t before = 0;       // the total at the previous tick
    uint64_t now = 0;          // the total this tick, summed over the workers
    uint64_t last_second = 0;  // now - before
    uint64_t tick = 0;         // the tick that last added it
  };
  std::unordered_map<uint64_t, Slot> slots_;
  std::vector<std::pair<uint64_t, uint64_t>> busy_;  // (count of the last second, id)
  uint64_t tick_ = 1;
  uint64_t last_ns_ = 0;
};

}  // namespace wiremeter
