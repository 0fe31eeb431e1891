#include "wiremeter/core/history.hpp"

#include <algorithm>

namespace wiremeter::core {

void History::put(Ring& r, const HistoryLevel& lvl, const HistoryPoint& p) {
  if (r.buf.empty()) r.buf.assign(lvl.points, HistoryPoint{0, 0, 0});
  r.buf[(p.t / lvl.step_s) % lvl.points] = p;
}

bool History::evict_stale(uint64_t now) {
  auto oldest = series_.end();
  for (auto it = series_.begin(); it != series_.end(); ++it) {
    if (oldest == series_.end() || it->second.last_t < oldest->second.last_t) oldest = it;
  }
  if (oldest == series_.end() || oldest->second.last_t + kHistoryStaleS > now) return false;
  series_.erase(oldest);
  return true;
}

bool History::record(const std::string& name, uint64_t t, double value) {
  std::lock_guard lock(mutex_);
  auto it = series_.find(name);
  if (it == series_.end()) {
    if (series_.size() >= kMaxHistorySeries && !evict_stale(t)) {
      ++refused_;
      return false;
    }
    it = series_.emplace(name, Series{}).first;
  }
  Series& s = it->second;
  if (t < s.last_t) return true;  // clock stepped back: keep what we have
  s.last_t = t;
  put(s.levels[0], kHistoryLevels[0], {t, value, value});
  for (int l = 1; l < 3; ++l) {
    const HistoryLevel& lvl = kHistoryLevels[l];
    Ring& r = s.levels[l];
    uint64_t start = t - t % lvl.step_s;
    if (r.open_t != start) {
      if (r.open_t != UINT64_MAX && r.count) {
        put(r, lvl, {r.open_t, r.sum / r.count, r.max});
      }
      r.open_t = start;
      r.sum = 0;
      r.max = value;
      r.count = 0;
    }
    r.sum += value;
    r.max = std::max(r.max, value);
    ++r.count;
  }
  return true;
}

std::optional<History::Result> History::query(const std::string& name, uint64_t from, uint64_t to,
                                              size_t max_points) const {
  std::lock_guard lock(mutex_);
  auto it = series_.find(name);
  if (it == series_.end()) return std::nullopt;
  const Series& s = it->second;
  if (max_points == 0) max_points = 1;
  // The finest level that still reaches back to `from` and answers within max_points.
  int level = 2;
  for (int l = 0; l < 3; ++l) {
    const HistoryLevel& lvl = kHistoryLevels[l];
    uint64_t oldest = s.last_t > uint64_t{lvl.step_s} * lvl.points
                          ? s.last_t - uint64_t{lvl.step_s} * lvl.points
                          : 0;
    if (from >= oldest && (to - std::min(from, to)) / lvl.step_s <= max_points) {
      level = l;
      break;
    }
  }
  const HistoryLevel& lvl = kHistoryLevels[level];
  const Ring& r = s.levels[level];
  Result out{lvl.step_s, {}};
  uint64_t horizon = s.last_t > uint64_t{lvl.step_s} * lvl.points
                         ? s.last_t - uint64_t{lvl.step_s} * lvl.points
                         : 0;
  for (const HistoryPoint& p : r.buf) {
    if (p.t == 0 || p.t < from || p.t > to || p.t <= horizon) continue;
    out.points.push_back(p);
  }
  // The coarse interval still being filled, so a graph reaches up to now.
  if (level > 0 && r.count && r.open_t >= from && r.open_t <= to) {
    out.points.push_back({r.open_t, r.sum / r.count, r.max});
  }
  std::sort(out.points.begin(), out.points.end(),
            [](const HistoryPoint& a, const HistoryPoint& b) { return a.t < b.t; });
  if (out.points.size() > max_points) {
    out.points.erase(out.points.begin(), out.points.begin() + static_cast<std::ptrdiff_t>(
                                                                  out.points.size() - max_points));
  }
  return out;
}

uint64_t History::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

std::vector<std::string> History::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (auto& [k, v] : series_) out.push_back(k);
  return out;
}

}  // namespace wiremeter::core
