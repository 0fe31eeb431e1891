// dns: DNS transactions per server.
//
// Reads DNS over UDP (port 53, mDNS 5353, LLMNR 5355 on either side) and over TCP (53, 5355;
// messages that arrive whole in one segment), matches each response to its query within the
// flow, and keeps per server: requests, responses, errors, unanswered queries, response time
// and the rcode breakdown. It also keeps the names resolved with their answers and TTL, the
// most queried names and a log of recent transactions.
//
// Queries to a multicast group (mDNS, LLMNR) are logged as queries without response but not
// counted unanswered: other hosts answer them, from other flows.
//
// Malformed messages become counters by reason (dns_parser.hpp); messages cut by IP
// fragmentation, the snap length or TCP segmentation are counted apart as incomplete, and their
// header and question still count.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/record_log.hpp>
#include <wiremeter/top_series.hpp>

#include "dns_parser.hpp"
#include "dns_tables.hpp"

namespace wiremeter::dns {

// Sizes of the per-worker tables, and the time after which a query counts as unanswered.
struct Limits {
  // Stub resolvers give up after about 5 s (glibc retries at 5 s); an answer later than this is
  // of no use to anyone, so the query is unanswered even if the flow lives on.
  uint64_t query_timeout_ns = 10'000'000'000ull;
  uint32_t pending = 8192;  // outstanding queries
  uint32_t servers = 1024;
  uint32_t names = 2048;         // resolved names
  uint32_t top_names = 1024;     // Space-Saving counters
  uint32_t transactions = 4096;  // the RecordLog; at most 4096 keeps its buffer preallocated
};

// Conditions that lose part of a message although its bytes are not wrong.
enum class Incomplete : uint8_t {
  kIpFragment,    // the first fragment of a UDP datagram: the rest is in later fragments
  kSnaplen,       // the capture cut the datagram
  kTcpSegmented,  // a DNS/TCP message that continues in later segments (skipped)
  kTcpGap,        // a DNS/TCP segment after missing bytes: framing restarts at the segment
  kCount,
};
inline constexpr size_t kIncompleteCount = static_cast<size_t>(Incomplete::kCount);
const char* incomplete_name(Incomplete i);

enum class Transport : uint8_t { kUdp = 0, kTcp = 1 };

// Per-flow state: zero-filled by the core when the flow is created. The queries themselves live
// in the worker's PendingPool, so that flows that never carry DNS pay only these 8 bytes.
// Outstanding queries kept per flow; beyond, the oldest counts as unanswered. Bounds the
// per-query work whatever a client sends.
inline constexpr uint32_t kMaxPendingPerFlow = 32;

struct FlowState {
  uint32_t pending;      // reference of the flow's newest outstanding query; 0 = none
  uint16_t tcp_skip[2];  // per direction: bytes of a DNS/TCP message still to come
  uint32_t tcp_next[2];  // per direction: the TCP sequence number of the next new byte
  uint8_t tcp_synced;    // bit per direction: tcp_next is known
};

// One query/response pair, an unanswered query or a response without its query.
struct Transaction {
  uint64_t ts_ns = 0;   // the query's time; the response's when no query was seen
  int64_t rtt_us = -1;  // -1: not a matched pair
  Addr client, server;
  uint16_t client_port = 0, server_port = 0;
  uint16_t id = 0;
  uint16_t qtype = 0;
  bool has_qtype = false;  // false: a response without question (mDNS announcements)
  int8_t rcode = -1;       // -1: no response
  Transport transport = Transport::kUdp;
  bool partial = false;         // the response was incomplete: answers may be missing
  bool retransmission = false;  // the query repeated an outstanding one (same id and name)
  StoredName query;
  Answers answers;
};

// One per worker thread.
//
// Thread-safety: on_batch, on_flow_end and worker_tick run on the worker's thread (on_flow_end
// also at shutdown, after the worker stopped). The Counters may be read from any thread. The
// tables are read by the control plane under lock(); the worker takes the same lock once per
// batch that holds DNS, never per packet of other traffic, and never while waiting for I/O.
class Worker {
 public:
  explicit Worker(uint32_t state_offset, const Limits& limits = Limits{});

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept;
  void worker_tick(uint64_t now_ns) noexcept;

  Counter queries, responses, unanswered, unmatched_responses, late_responses, retransmissions;
  Counter pending_full;  // queries not tracked because the pending pool was full
  Counter rtt_sum_us, rtt_min_us, rtt_max_us;
  std::array<Counter, kRttBuckets> rtt;  // per bucket, not cumulative
  std::array<Counter, kRcodes> rcodes;
  std::array<Counter, kErrorCount> malformed;
  std::array<Counter, kIncompleteCount> incomplete;

  std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }
  // Read only under lock().
  const ServerTable& servers() const { return servers_; }
  const NameTable& names() const { return names_; }
  const TopNames& top_names() const { return top_names_; }
  const PendingPool& pending() const { return pending_; }
  // Transactions dated before this may be missing from transactions(): the log overwrote one
  // of them (0: it overwrote none). Records reach the log out of time order (an unanswered
  // query up to the timeout after its time), so this is the latest time it overwrote, plus 1.
  uint64_t log_complete_from_ns() const { return log_complete_from_ns_; }
  // Has its own lock.
  const RecordLog<Transaction>& transactions() const { return transactions_; }

 private:
  // What the plugin keeps of one parsed message; one per worker, reused, so that the 1 KiB
  // names never land on the stack of the hot path.
  struct Parsed {
    Header header;
    bool has_question = false;
    uint16_t qtype = 0;
    Name qname;
    bool has_owner = false;  // the first answer's owner, for responses without question
    uint16_t owner_type = 0;
    Name owner;
    Name scratch;
    Answers answers;
    bool partial = false;
  };

  void handle_udp(const wm_packet& p, FlowState* state) noexcept;
  void handle_tcp(const wm_packet& p, FlowState* state) noexcept;
  void handle_message(const wm_packet& p, FlowState* state, const uint8_t* msg, size_t len,
                      Transport transport, int incomplete_reason) noexcept;
  Error parse(const uint8_t* msg, size_t len) noexcept;
  void on_query(const wm_packet& p, FlowState* state, Transport transport) noexcept;
  void on_response(const wm_packet& p, FlowState* state, Transport transport) noexcept;
  void report_unanswered(const PendingQuery& q) noexcept;
  // Drops the flow's queries that worker_tick already reported; true if one had this id (so a
  // response to it is late).
  bool prune(FlowState& state, uint64_t flow_id, int response_id = -1) noexcept;
  void record_rtt(ServerStats& server, uint64_t us) noexcept;
  void log(const Transaction& t) noexcept;

  FlowStateSlot<FlowState> slot_;
  Limits limits_;
  mutable std::mutex mutex_;
  ServerTable servers_;
  NameTable names_;
  TopNames top_names_;
  PendingPool pending_;
  uint32_t pending_count_ = 0;  // queries in kPending state (worker_tick skips its scan at 0)
  uint64_t rtt_count_ = 0;
  RecordLog<Transaction> transactions_;
  // The time of each record in transactions_, at the same position (record n at n % size), so
  // that the record it overwrites tells how far back the log is complete.
  std::vector<uint64_t> logged_ts_;
  uint64_t logged_ = 0;
  uint64_t log_complete_from_ns_ = 0;
  Parsed parsed_;
  Transaction transaction_;  // scratch for the record pushed to transactions_
};

class Plugin {
 public:
  using Worker = dns::Worker;
  using FlowState = dns::FlowState;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);

  // Merged views of the workers (control plane; they allocate).
  struct Totals {
    uint64_t queries = 0, responses = 0, unanswered = 0, unmatched_responses = 0;
    uint64_t late_responses = 0, retransmissions = 0, pending_full = 0;
    uint64_t rtt_sum_us = 0, rtt_min_us = 0, rtt_max_us = 0, rtt_count = 0;
    std::array<uint64_t, kRttBuckets> rtt{};
    std::array<uint64_t, kRcodes> rcodes{};
    std::array<uint64_t, kErrorCount> malformed{};
    std::array<uint64_t, kIncompleteCount> incomplete{};
  };
  struct ServerRow {
    std::string server;  // the address as text, or "other" for servers past the table's size
    ServerStats stats;
  };
  struct NameRow {
    std::string name, type;
    std::vector<std::string> answers;
    uint32_t ttl = 0;
    uint64_t count = 0, first_ns = 0, last_ns = 0;
  };
  struct TopRow {
    std::string name;
    uint64_t queries = 0, first_ns = 0, last_ns = 0;
  };
  // Servers and queried names counted from what happened within a time window: the
  // transactions dated in it (the query's time) and the queries still waiting.
  struct WindowCounts {
    std::vector<ServerRow> servers;
    std::vector<TopRow> names;
  };
  static Totals totals(std::span<Worker* const> workers);
  static std::vector<ServerRow> servers(std::span<Worker* const> workers);
  static std::vector<NameRow> names(std::span<Worker* const> workers);
  static std::vector<TopRow> top_names(std::span<Worker* const> workers, uint64_t& total);
  static std::vector<Transaction> transactions(std::span<Worker* const> workers, uint64_t& dropped);
  // nullopt when a worker's log no longer holds every transaction of the window.
  static std::optional<WindowCounts> window_counts(std::span<Worker* const> workers,
                                                   const TimeWindow& window);

 private:
  Host& host_;
  int queries_id_, responses_id_, unanswered_id_, response_seconds_id_, malformed_id_,
      incomplete_id_, server_requests_id_, server_responses_id_, server_errors_id_,
      server_unanswered_id_, server_response_seconds_id_, name_queries_id_;
  // on_tick writes these, write_json and query (web threads) read them.
  std::atomic<double> queries_per_s_{0}, response_ms_avg_{0};
  uint64_t last_tick_ns_ = 0, last_queries_ = 0, last_rtt_sum_us_ = 0, last_rtt_count_ = 0;
  // Requests per second of the busiest servers and of the one being viewed.
  TopSeries server_series_{10, 60, 1.0, ".requests_per_s"};
};

std::string format_addr(const Addr& a);

}  // namespace wiremeter::dns
