// Time series for the graphs: 1 s resolution for recent history, downsampled for longer.
//
// Each series keeps three rings: 600 points of 1 s (10 minutes), 1440 of 1 min (a day) and
// 720 of 1 h (30 days). A coarser point holds the average and the maximum of the finer points
// it covers, so a 1-second spike stays visible in a day-long graph. Memory is fixed per series
// (about 44 KiB) and the number of series is capped. Top-N series (hosts, MACs, protocols) come
// and go: when the cap is reached, the series updated least recently gives way to the new one if
// nothing has been recorded in it for kHistoryStaleS.
//
// Thread-safe: record() from the control plane's tick, query() from web threads.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace wiremeter::core {

struct HistoryPoint {
  uint64_t t;  // start of the interval, Unix seconds
  double avg;
  double max;
};

struct HistoryLevel {
  uint32_t step_s;
  uint32_t points;
};

inline constexpr HistoryLevel kHistoryLevels[] = {{1, 600}, {60, 1440}, {3600, 720}};
// Every module graphs its 10 busiest entities of each kind (and those of the last minute): with
// all twelve that is a few hundred series at once. 1024 of about 44 KiB each: 45 MB at most.
inline constexpr size_t kMaxHistorySeries = 1024;
inline constexpr uint64_t kHistoryStaleS = 60;

class History {
 public:
  // Adds the value for second `t` to `series`. Seconds must not go backwards per series; a
  // repeated second replaces the previous value. Returns false when the series cap is reached
  // and no series is stale.
  bool record(const std::string& series, uint64_t t, double value);

  // Points of `series` in [from, to], at the finest resolution that covers `from` and yields at
  // most `max_points` (coarser otherwise). nullopt for an unknown series.
  struct Result {
    uint32_t step_s;
    std::vector<HistoryPoint> points;
  };
  std::optional<Result> query(const std::string& series, uint64_t from, uint64_t to,
                              size_t max_points) const;

  std::vector<std::string> names() const;
  // New series turned away because the cap was reached with none stale.
  uint64_t refused() const;

 private:
  struct Ring {
    std::vector<HistoryPoint> buf;  // indexed by (t / step) % size
    // The interval being filled (coarser levels only).
    uint64_t open_t = UINT64_MAX;
    double sum = 0, max = 0;
    uint32_t count = 0;
  };
  struct Series {
    Ring levels[3];
    uint64_t last_t = 0;
  };
  static void put(Ring& r, const HistoryLevel& lvl, const HistoryPoint& p);
  bool evict_stale(uint64_t now);  // with mutex_ held

  uint64_t refused_ = 0;  // with mutex_ held
  mutable std::mutex mutex_;
  std::map<std::string, Series> series_;
};

}  // namespace wiremeter::core
