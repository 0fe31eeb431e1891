// voip: SIP calls and the quality of their RTP streams.
//
// SIP is read on UDP and TCP port 5060 (either side), and on any UDP flow whose payload starts
// like a SIP request or status line. TCP is read per segment: messages that start a segment
// count (several per segment too); a message continued in later segments keeps what arrived.
// INVITE dialogs become calls (by Call-ID) with caller, callee, state, setup and ringing times,
// duration, final code and the media endpoints of their SDP.
//
// RTP streams (one SSRC on one 5-tuple) are found two ways: a UDP packet to or from a media
// endpoint that SDP announced on this worker is RTP from its first packet; any other UDP flow
// between unprivileged ports, to an even port, whose packets parse as RTP version 2 with one
// SSRC, one payload type and sequence numbers that advance by 1..10 over three packets is RTP
// too (the heuristic; settings can turn it off). Per stream: packets, expected and lost
// (RFC 3550 A.3), duplicates, reordering, interarrival jitter (A.8) and a MOS (E-model). The
// control plane ties streams to calls by the SDP endpoints, so this works when the call's
// signalling and its media land on different workers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/top_series.hpp>

#include "voip_config.hpp"
#include "voip_rtp.hpp"
#include "voip_sip.hpp"
#include "voip_tables.hpp"

namespace wiremeter::voip {

inline constexpr uint16_t kSipPort = 5060;
// Packets a flow direction may show before it is judged "not RTP" (and no longer examined).
inline constexpr uint8_t kMaxTries = 4;
// Packets that confirm a heuristic candidate.
inline constexpr uint32_t kConfirmPackets = 3;
// Largest sequence step between a candidate's packets (a few losses are fine).
inline constexpr uint16_t kCandidateMaxGap = 10;

// Conditions that lose part of a SIP message although its bytes are not wrong.
enum class Incomplete : uint8_t {
  kIpFragment,    // the first fragment of a datagram: the rest is in later fragments
  kBodyCut,       // Content-Length says more than the datagram or segment holds
  kTcpContinued,  // a TCP segment that does not start a SIP message (skipped)
  kCount,
};
inline constexpr size_t kIncompleteCount = static_cast<size_t>(Incomplete::kCount);
const char* incomplete_name(Incomplete i);

// Setup time (INVITE to 2xx) histogram bounds in seconds: the callee answering takes seconds.
inline constexpr std::array<double, 8> kSetupBounds = {0.5, 1, 2, 5, 10, 20, 30, 60};
inline constexpr size_t kSetupBuckets = kSetupBounds.size() + 1;
// MOS histogram bounds (of streams when they end).
inline constexpr std::array<double, 9> kMosBounds = {1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4};
inline constexpr size_t kMosBuckets = kMosBounds.size() + 1;
inline constexpr size_t kStatusCodes = 600;  // 100..699

enum class Verdict : uint8_t { kUnknown = 0, kRtp, kNotMedia, kSip };

// Per-flow state: zero-filled by the core. The streams themselves live in the worker's table.
struct FlowState {
  uint32_t stream[2];  // per direction: slot + 1 of its stream in the worker's table; 0 = none
  Verdict verdict[2];
  uint8_t tries[2];  // packets that did not look like RTP
};

// The quality figures of a stream, derived from its counters.
struct StreamQuality {
  bool has_mos = false;
  double packetization_ms = 0;
  Quality q;
};
StreamQuality stream_quality(const Stream& s, Codec codec);

// One per worker thread.
//
// Thread-safety: on_batch and on_flow_end run on the worker's thread (on_flow_end also at
// shutdown, after the worker stopped). The Counters may be read from any thread. The tables are
// read by the control plane under lock(); the worker takes the same lock once per batch that
// holds SIP or RTP candidates, never per packet of other traffic.
class Worker {
 public:
  Worker(uint32_t worker_id, uint32_t state_offset, const Config& config = Config{});

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept;

  Counter sip_messages, keepalives, response_retransmissions;
  std::array<Counter, kMethodCount> requests, request_retransmissions;
  std::array<Counter, kStatusCodes> responses;
  std::array<Counter, kErrorCount> malformed;
  std::array<Counter, kIncompleteCount> incomplete;
  Counter calls_started, calls_evicted, calls_evicted_active;
  Counter setup_sum_us;
  std::array<Counter, kSetupBuckets> setup;  // per bucket, not cumulative
  Counter rtp_packets, rtp_expected, rtp_invalid, rtp_untracked;
  Counter streams_started, streams_evicted, candidates_rejected;
  Counter mos_sum_milli;
  std::array<Counter, kMosBuckets> mos;  // per bucket, not cumulative

  uint32_t id() const { return worker_id_; }
  std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }
  // Read only under lock().
  const CallTable& calls() const { return calls_; }
  const StreamTable& streams() const { return streams_; }

 private:
  bool relevant(const wm_packet& p) const noexcept;
  void handle_udp(const wm_packet& p) noexcept;
  void handle_tcp(const wm_packet& p) noexcept;
  void handle_sip_datagram(const wm_packet& p, const uint8_t* data, size_t len) noexcept;
  void on_message(const wm_packet& p, bool tcp) noexcept;
  bool on_request(Call& c, const wm_packet& p, Side side) noexcept;
  bool on_response(Call& c, const wm_packet& p, Side side) noexcept;
  void handle_rtp(const wm_packet& p, FlowState& st, uint8_t dir, const uint8_t* data,
                  size_t len) noexcept;
  void reject(FlowState& st, uint8_t dir) noexcept;
  void end_stream(Stream& s) noexcept;
  void resolve_payload_type(Stream& s, uint8_t pt) noexcept;

  uint32_t worker_id_;
  FlowStateSlot<FlowState> slot_;
  Config config_;
  mutable std::mutex mutex_;
  CallTable calls_;
  StreamTable streams_;
  MediaHints hints_;
  uint64_t next_serial_ = 1;
  Message message_;  // the message being handled; a member to keep it off the hot stack
};

class Plugin {
 public:
  using Worker = voip::Worker;
  using FlowState = voip::FlowState;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);
  // Each second: the RTP payload bit rate "voip.<stream id>.bps" of the busiest streams and of
  // the one being viewed, and "voip.call.<key>.bps" (the sum over the call's streams) of the
  // busiest calls and of the one being viewed.
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);

  // Merged views of the workers (control plane; they allocate).
  struct StreamRow {
    Stream stream;
    std::string id;       // "<worker>:<serial>"
    std::string call_id;  // the call its SDP endpoint belongs to; empty when none
    Codec codec = Codec::kUnknown;
    StreamQuality quality;
  };
  struct CallRow {
    Call call;
    std::vector<size_t> streams;  // indices into Snapshot::streams
    double worst_mos = -1;        // -1: no stream with a MOS
    uint64_t end_ns = 0;          // BYE, else the latest SIP or RTP packet seen
  };
  struct Snapshot {
    std::vector<CallRow> calls;
    std::vector<StreamRow> streams;
  };
  static Snapshot snapshot(std::span<Worker* const> workers);

 private:
  Host& host_;
  TopSeries series_;       // streams
  TopSeries call_series_;  // calls, by call_series_key()
  Config config_;
  int messages_id_, requests_id_, responses_id_, retransmissions_id_, malformed_id_, incomplete_id_,
      calls_id_, calls_started_id_, calls_evicted_id_, setup_id_, streams_id_, streams_started_id_,
      rtp_packets_id_, rtp_expected_id_, mos_id_, worst_mos_id_;
};

std::string format_addr(const Addr& a);
// A call's key in its graph's name: "call.<16 hex digits>", the hash of its Call-ID. A Call-ID
// may hold any text (quotes, '/', '&', spaces), which has no place in a series name.
std::string call_series_key(std::string_view call_id);
// Streams of one call whose graphs its detail view starts (the busiest): a call's media
// endpoints can draw any number of SSRCs.
inline constexpr size_t kCallStreamGraphs = 8;

}  // namespace wiremeter::voip
