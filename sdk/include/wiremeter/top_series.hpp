// TopSeries: history series for the busiest entities of a plugin (protocols, hosts, MACs).
//
// A plugin has too many entities to graph them all (the host caps the number of series), so
// every second it hands the cumulative byte counters of its entities to update(), which turns
// them into bits/s and records "<plugin>.<key>.bps" for the `top` busiest in that second, and
// keeps recording (possibly 0) an entity that was among them within `linger_s`, so that a
// graph does not break up when its entity drops out of the top for a moment. An entity whose
// detail view is open (watch()) is graphed too, whatever its rank.
//
// Thread-safety: control plane (on_tick), one caller at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>
#include <wiremeter/plugin.hpp>

namespace wiremeter {

class TopSeries {
 public:
  explicit TopSeries(size_t top = 10, uint64_t linger_s = 60) : top_(top), linger_s_(linger_s) {}
  // Another unit: `scale` per counted unit and the series' suffix, e.g. (1, ".requests_per_s")
  // for a count of requests.
  TopSeries(size_t top, uint64_t linger_s, double scale, std::string suffix)
      : top_(top), linger_s_(linger_s), scale_(scale), suffix_(std::move(suffix)) {}

  // `totals`: every entity's key and cumulative bytes (or other count), now. Keys must be stable
  // across calls.
  void update(const Host& host, uint64_t now_ns,
              const std::vector<std::pair<std::string, uint64_t>>& totals) {
    if (last_ns_ && now_ns > last_ns_) {
      double dt = static_cast<double>(now_ns - last_ns_) / 1e9;
      std::vector<std::pair<double, const std::string*>> rates;
      rates.reserve(totals.size());
      for (const auto& [key, bytes] : totals) {
        auto it = last_bytes_.find(key);
        uint64_t before = it == last_bytes_.end() ? 0 : it->second;
        rates.emplace_back(bytes > before ? static_cast<double>(bytes - before) * scale_ / dt : 0.0,
                           &key);
      }
      size_t n = std::min(rates.size(), top_);
      std::partial_sort(rates.begin(), rates.begin() + static_cast<std::ptrdiff_t>(n), rates.end(),
                        [](const auto& a, const auto& b) {
                          return a.first != b.first ? a.first > b.first : *a.second < *b.second;
                        });
      for (size_t i = 0; i < rates.size(); ++i) {
        const std::string& key = *rates[i].second;
        if (i < n && rates[i].first > 0) {
          graphed_ns_[key] = now_ns;
        } else {
          auto g = graphed_ns_.find(key);
          if (g == graphed_ns_.end()) continue;
          if (now_ns - g->second >= linger_s_ * 1'000'000'000) {
            graphed_ns_.erase(g);
            continue;
          }
        }
        host.record_series(key + suffix_, rates[i].first);
      }
    }
    last_ns_ = now_ns;
    last_bytes_.clear();
    for (const auto& [key, bytes] : totals) last_bytes_[key] = bytes;
  }

  // For plugins with many entities (100k servers, ARP bindings): walking all of them and
  // formatting every key each second is too much. The caller instead works out each entity's
  // count of the last second itself (by index, from its own previous totals), keeps only the
  // `top()` busiest, adds every key of graphed_keys() with its count (0 if it had none), and
  // hands those few here, already per second (`scale` still applies). Do not mix with update().
  void update_rates(const Host& host, uint64_t now_ns,
                    std::vector<std::pair<std::string, double>> per_second) {
    std::sort(per_second.begin(), per_second.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    size_t n = std::min(per_second.size(), top_);
    std::unordered_map<std::string, double> rate;
    for (size_t i = 0; i < per_second.size(); ++i) {
      const auto& [key, value] = per_second[i];
      if (i < n && value > 0) graphed_ns_[key] = now_ns;
      rate[key] = value * scale_;
    }
    for (auto it = graphed_ns_.begin(); it != graphed_ns_.end();) {
      if (now_ns > it->second && now_ns - it->second >= linger_s_ * 1'000'000'000) {
        it = graphed_ns_.erase(it);
        continue;
      }
      auto r = rate.find(it->first);
      host.record_series(it->first + suffix_, r == rate.end() ? 0.0 : r->second);
      ++it;
    }
    last_ns_ = now_ns;
  }
  // How many entities update_rates() wants at most besides graphed_keys().
  size_t top() const { return top_; }
  // The keys being graphed (busy within linger_s, or watched): update_rates() records them
  // whatever their rank.
  std::vector<std::string> graphed_keys() const {
    std::vector<std::string> keys;
    keys.reserve(graphed_ns_.size());
    for (const auto& [key, t] : graphed_ns_) keys.push_back(key);
    return keys;
  }

  // Whether `key` has a series being recorded now (a detail view can offer its graph).
  bool graphed(const std::string& key) const { return graphed_ns_.count(key) != 0; }

  // Someone is looking at `key` (its detail view): graph it from the next second on, busy or
  // not, until linger_s after the last look.
  void watch(const std::string& key) {
    uint64_t& t = graphed_ns_[key];
    t = std::max(t, last_ns_);
  }

 private:
  size_t top_;
  uint64_t linger_s_;
  double scale_ = 8;  // bytes -> bits
  std::string suffix_ = ".bps";
  uint64_t last_ns_ = 0;
  std::unordered_map<std::string, uint64_t> last_bytes_;
  std::unordered_map<std::string, uint64_t> graphed_ns_;  // key -> last second in the top
};

}  // namespace wiremeter
