// http: the bounded per-worker tables behind the plugin: per server (address, port, Host), per
// host name, and the requests waiting for their response.
//
// Every table has a fixed capacity chosen when the worker is made and allocates nothing after
// its constructor. When the server or host table is full, further keys count in its "other"
// row: the first ones seen keep their rows (on a monitored link, the busy servers appear early
// and stay).
//
// Thread-safety: none of these types locks; the worker that owns them guards the ones the
// control plane reads (Worker::lock()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>
#include <wiremeter/slot_index.hpp>

#include "http_parser.hpp"

namespace wiremeter::http {

// Response time (request end -> first response byte) histogram bounds in microseconds, 1 ms to
// 10 s: a cache answers in a millisecond, an application server in tens to hundreds.
inline constexpr std::array<uint64_t, 13> kRtBoundsUs = {1000,    2500,    5000,    10000,  25000,
                                                         50000,   100000,  250000,  500000, 1000000,
                                                         2500000, 5000000, 10000000};
inline constexpr size_t kRtBuckets = kRtBoundsUs.size() + 1;
size_t rt_bucket(uint64_t us);

inline constexpr size_t kStatusClasses = 5;  // 1xx .. 5xx
inline constexpr size_t kCodesPerRow = 12;   // distinct status codes kept per row

// An IPv4 or IPv6 address (IPv4 in the first 4 bytes, the rest zero).
struct Addr {
  std::array<uint8_t, 16> bytes{};
  uint8_t version = 0;
  bool operator==(const Addr& o) const { return version == o.version && bytes == o.bytes; }
  uint64_t hash() const;
};

// Text in a fixed buffer, made JSON-safe by copy_text().
template <size_t N>
struct Text {
  uint16_t length = 0;
  char text[N] = {};
  void set(std::string_view s) { length = static_cast<uint16_t>(copy_text(text, N, s)); }
  std::string_view view() const { return {text, length}; }
};
using HostText = Text<128>;

// Counters of one row (a server, a host name, or the totals). Plain integers: the owning worker
// writes them under its lock.
struct MessageStats {
  struct Code {
    uint16_t code = 0;
    uint64_t count = 0;
  };
  uint64_t requests = 0, responses = 0;
  std::array<uint64_t, kMethodCount> methods{};
  std::array<uint64_t, kStatusClasses> classes{};
  std::array<Code, kCodesPerRow> codes{};          // the first kCodesPerRow codes seen
  uint64_t codes_other = 0;                        // responses with a code past those
  uint64_t request_bytes = 0, response_bytes = 0;  // header blocks and bodies
  uint64_t rt_count = 0, rt_sum_us = 0, rt_min_us = 0, rt_max_us = 0;
  std::array<uint64_t, kRtBuckets> rt{};  // per bucket, not cumulative
  uint64_t first_ns = 0, last_ns = 0;

  void add_request(Method m, uint64_t ts_ns);
  void add_response(uint16_t status, uint64_t ts_ns);
  void add_rt(uint64_t us);
  void merge(const MessageStats& o);
  void touch(uint64_t ts_ns);
};

struct ServerRow {
  Addr addr;
  uint16_t port = 0;
  HostText host;  // lower case; empty for responses without a request
  MessageStats stats;
};

struct HostRow {
  HostText host;  // lower case
  MessageStats stats;
};

// Rows by (server address, port, Host).
class ServerTable {
 public:
  explicit ServerTable(uint32_t capacity);
  // The row, created if there is room, else other().
  MessageStats& at(const Addr& addr, uint16_t port, std::string_view host);
  size_t size() const { return used_; }
  const ServerRow& row(size_t i) const { return rows_[i]; }
  const MessageStats& other() const { return other_; }
  uint64_t overflow() const { return overflow_; }  // keys that found the table full

 private:
  std::vector<ServerRow> rows_;
  uint32_t used_ = 0;
  SlotIndex index_;
  MessageStats other_;
  uint64_t overflow_ = 0;
};

class HostTable {
 public:
  explicit HostTable(uint32_t capacity);
  MessageStats& at(std::string_view host);
  size_t size() const { return used_; }
  const HostRow& row(size_t i) const { return rows_[i]; }
  const MessageStats& other() const { return other_; }
  uint64_t overflow() const { return overflow_; }

 private:
  std::vector<HostRow> rows_;
  uint32_t used_ = 0;
  SlotIndex index_;
  MessageStats other_;
  uint64_t overflow_ = 0;
};

// Host names compare case-insensitively: the tables keep them in lower case.
HostText host_key(std::string_view host);
uint64_t hash_text(std::string_view s, uint64_t seed = 0);

}  // namespace wiremeter::http
