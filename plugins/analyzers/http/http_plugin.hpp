// http: HTTP/1.x transactions per server and per host name.
//
// Any TCP flow whose first bytes (in either direction) are a request line with a well-known
// method or an "HTTP/1.x" status line is HTTP, whatever its ports. Each direction is then read
// as a sequence of messages: header block, body, next header block, for as long as the
// connection lives (keep-alive). Bodies are never copied: their length (Content-Length, chunked
// framing, or the rest of the connection) moves the parser's position forward by sequence
// number, and only header blocks and chunk-size lines are read. A header block that arrives in
// one segment, in order, is parsed straight from the packet; one split across segments (or out
// of order) waits in a bounded per-worker window until it is complete: the SDK's TcpStreamPool,
// fed at offsets from the unit being read and moved forward past each consumed unit and skipped
// body (advance()).
//
// Responses pair with requests in order (RFC 9112 9.3: pipelined responses come in request
// order). 1xx responses are informational (Zeek's info_code) and leave the request waiting for
// its final response; responses to HEAD, and 204 and 304 responses, have no body; 101 and a 2xx
// to CONNECT turn the connection into something else, and the plugin stops reading it.
//
// Malformed messages become counters by reason (http_parser.hpp); the direction then waits for
// the start of a message at the beginning of a later segment (resynchronizes).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/record_log.hpp>
#include <wiremeter/tcp_stream.hpp>
#include <wiremeter/top_series.hpp>

#include "http_config.hpp"
#include "http_parser.hpp"
#include "http_tables.hpp"

namespace wiremeter::http {

inline constexpr uint32_t kMaxPendingPerFlow = 32;  // outstanding requests tracked per flow
// Bodies are skipped by 32-bit TCP sequence arithmetic; a body longer than this ends the parsing
// of its direction (counted as large_body).
inline constexpr uint64_t kMaxSkip = 1ull << 30;
// Segments beyond the window while its unit waits for a missing piece: past this many, the piece
// is taken as lost and the direction resynchronizes.
inline constexpr uint8_t kMaxStalls = 16;

// How a direction is being read.
enum class Mode : uint8_t {
  kHeaders = 0,  // a header block starts at `base` (zero-filled state: the stream's first message)
  kChunkSize,    // a chunk-size line starts at `base`
  kTrailers,     // the trailer section after the last chunk starts at `base`
  kUntilClose,   // the body runs to the end of the connection (HTTP/1.0 style)
  kLost,         // bytes are missing or malformed: wait for a segment that starts a message
  kDead,         // not read any more (the connection switched protocols, or a huge body)
};

enum class Role : uint8_t {
  kUndecided = 0,
  kClientForward,  // the flow's initiator sends the requests (the usual case)
  kClientReverse,  // the capture began with a response: the initiator is the server
  kNotHttp,
};

struct DirectionState {
  uint32_t base;  // TCP sequence number where the unit being read begins
  uint32_t body;  // chunked: body bytes so far; until close: bytes seen past base
  Mode mode;
  uint8_t started;  // base is set
  uint8_t stalls;
  uint8_t pad;
};

// Per-flow state, zero-filled by the core: 44 bytes. Requests waiting for their responses live
// in the worker's pending pool; the flow links them oldest to newest.
struct FlowState {
  TcpStreamHandle window;  // a slot only while a unit waits for its rest
  DirectionState dir[2];
  uint32_t oldest, newest;  // pending references (slot + 1); 0 = none
  uint16_t depth;           // requests seen: trans_depth of the newest
  Role role;
  uint8_t untracked;  // requests not tracked (pool full): their responses are counted, not paired
};

// One request and its response, a request without response, or a response without request.
struct Transaction {
  uint64_t ts_ns = 0;  // the request's first byte; the response's when there is no request
  uint64_t flow_id = 0;
  Addr client, server;
  uint16_t client_port = 0, server_port = 0;
  uint32_t depth = 0;  // trans_depth: 1 for the first request of the connection; 0 without one
  int64_t rt_us = -1;  // request end -> first response byte; -1 without a pair
  uint64_t request_body = 0, response_body = 0;
  uint16_t status = 0;     // 0: no response
  uint16_t info_code = 0;  // the last 1xx before the final response
  Method method = Method::kOther;
  bool has_request = false, has_response = false;
  Text<16> method_text;
  Text<4> version, response_version;  // "1.1"
  HostText host;
  Text<512> uri;
  Text<192> user_agent;
  Text<192> referer;
  Text<64> status_msg, info_msg;
  Text<64> content_type;  // the response's
};

// A transaction in progress, in the worker's pending pool.
struct Pending {
  enum State : uint8_t { kFree = 0, kWaiting, kResponding };
  State state = kFree;
  bool request_has_body = false;
  uint32_t next = 0;  // the flow's next newer entry, or the next free slot
  uint64_t flow_id = 0;
  uint64_t end_ns = 0;  // when the request was complete
  Transaction t;
};

// Fixed pool of Pending; references are slot + 1 so that 0 means none.
class PendingPool {
 public:
  explicit PendingPool(uint32_t capacity);
  uint32_t allocate();  // 0 when full
  void release(uint32_t ref);
  Pending& at(uint32_t ref) { return slots_[ref - 1]; }
  bool valid(uint32_t ref) const { return ref >= 1 && ref <= slots_.size(); }
  uint32_t in_use() const { return in_use_; }

 private:
  std::vector<Pending> slots_;
  uint32_t free_ = 0;  // first free reference; 0 = none
  uint32_t in_use_ = 0;
};

inline constexpr size_t kStatusCodes = 500;  // 100 .. 599

// One per worker thread.
//
// Thread-safety: on_batch and on_flow_end run on the worker's thread. The Counters may be read
// from any thread. The server and host tables are read by the control plane under lock(); the
// worker takes it once per message (never per packet), as RecordLog does.
class Worker {
 public:
  Worker(uint32_t state_offset, const Settings& settings = Settings{});

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept;

  Counter flows;  // flows found to carry HTTP
  Counter requests, responses, informational;
  Counter unanswered;        // requests without response when their flow ended
  Counter orphan_responses;  // responses without a request (the capture began mid-connection)
  Counter untracked;         // requests not paired because the pending pool was full
  Counter tunnels;           // 101 Switching Protocols, or CONNECT 2xx
  Counter large_bodies;      // bodies past kMaxSkip: their direction is not read further
  Counter lost;              // directions that lost bytes (gap, no window slot) and resynced
  Counter resyncs;           // a message start found again after a loss or an error
  Counter rt_sum_us, rt_min_us, rt_max_us;
  std::array<Counter, kRtBuckets> rt;  // per bucket, not cumulative
  std::array<Counter, kMethodCount> methods;
  std::array<Counter, kStatusCodes> status;
  std::array<Counter, kErrorCount> malformed;

  std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }
  // Read only under lock().
  const ServerTable& servers() const { return servers_; }
  const HostTable& hosts() const { return hosts_; }
  // Has its own lock.
  const RecordLog<Transaction>& transactions() const { return transactions_; }
  // Counters only (thread-safe).
  const TcpStreamCounters& window_counters() const { return window_.counters(); }
  uint32_t window_in_use() const { return window_in_use_.load(std::memory_order_relaxed); }

 private:
  void handle(const wm_packet& p, FlowState& s) noexcept;
  void process(const wm_packet& p, FlowState& s, int d, uint32_t seq, const uint8_t* payload,
               uint32_t len) noexcept;
  uint64_t run_units(const wm_packet& p, FlowState& s, int d, std::span<const uint8_t> data,
                     uint64_t unit_ns) noexcept;
  uint64_t on_request(const wm_packet& p, FlowState& s, int d, std::span<const uint8_t> block,
                      uint64_t unit_ns) noexcept;
  uint64_t on_response(const wm_packet& p, FlowState& s, int d, std::span<const uint8_t> block,
                       uint64_t unit_ns) noexcept;
  void on_body_end(FlowState& s, int d) noexcept;
  void on_close(FlowState& s, int d) noexcept;
  void finish_oldest(FlowState& s) noexcept;  // logs and frees the flow's oldest entry
  void lose(FlowState& s, int d) noexcept;
  void note_request_body(FlowState& s, uint64_t ts_ns) noexcept;
  void record_rt(MessageStats& server, MessageStats* host, uint64_t us) noexcept;
  bool is_client(const FlowState& s, int d) const noexcept {
    return (s.role == Role::kClientForward) == (d == 0);
  }
  void release_window_if_idle(FlowState& s) noexcept;

  FlowStateSlot<FlowState> slot_;
  Settings settings_;
  mutable std::mutex mutex_;
  ServerTable servers_;
  HostTable hosts_;
  PendingPool pending_;
  TcpStreamPool window_;
  std::atomic<uint32_t> window_in_use_{0};
  RecordLog<Transaction> transactions_;
  uint64_t rt_count_ = 0;
  Request request_;    // scratch for the parser
  Response response_;  // scratch for the parser
};

class Plugin {
 public:
  using Worker = http::Worker;
  using FlowState = http::FlowState;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);

  // Merged views of the workers (control plane; they allocate).
  struct Totals {
    uint64_t flows = 0, requests = 0, responses = 0, informational = 0, unanswered = 0;
    uint64_t orphan_responses = 0, untracked = 0, tunnels = 0, large_bodies = 0, lost = 0;
    uint64_t resyncs = 0;
    uint64_t rt_sum_us = 0, rt_min_us = 0, rt_max_us = 0, rt_count = 0;
    std::array<uint64_t, kRtBuckets> rt{};
    std::array<uint64_t, kMethodCount> methods{};
    std::array<uint64_t, kStatusCodes> status{};
    std::array<uint64_t, kErrorCount> malformed{};
    uint64_t window_taken = 0, window_exhausted = 0, window_truncated = 0;
    uint64_t window_in_use = 0;
  };
  struct ServerView {
    std::string server;  // "addr:port" ("[v6]:port"), or "other"
    std::string addr;
    uint16_t port = 0;
    std::string host;
    MessageStats stats;
  };
  struct HostView {
    std::string host;  // or "other"
    MessageStats stats;
  };
  static Totals totals(std::span<Worker* const> workers);
  static std::vector<ServerView> servers(std::span<Worker* const> workers);
  static std::vector<HostView> hosts(std::span<Worker* const> workers);
  static std::vector<Transaction> transactions(std::span<Worker* const> workers, uint64_t& dropped);

 private:
  Host& host_;
  Settings settings_;
  int requests_id_, responses_id_, response_seconds_id_, unanswered_id_, malformed_id_,
      host_requests_id_, host_errors_id_;
  std::atomic<double> requests_per_s_{0}, response_ms_avg_{0};
  uint64_t last_tick_ns_ = 0, last_requests_ = 0, last_rt_sum_us_ = 0, last_rt_count_ = 0;
  // Requests per second of the busiest servers and of those being viewed.
  TopSeries server_series_{10, 60, 1.0, ".requests_per_s"};
};

std::string format_addr(const Addr& a);
// "198.18.0.1:80", "[2001:db8::1]:80".
std::string format_endpoint(const Addr& a, uint16_t port);

}  // namespace wiremeter::http
