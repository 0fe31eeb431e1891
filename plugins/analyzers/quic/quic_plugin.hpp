// quic: QUIC connections with their version and, where the Initial packets can be decrypted,
// the TLS ClientHello's server name (SNI), ALPN and TLS versions.
//
// A UDP flow is QUIC when its first datagram is a long-header packet (or a gQUIC public header)
// of a recognized version, padded to at least 1200 bytes as RFC 9000 14.1 requires of client
// Initials, or sent to or from UDP port 443. From then on every packet counts by type (Initial,
// 0-RTT, Handshake, Retry, Version Negotiation, short header, gQUIC).
//
// Client Initial packets are decrypted (RFC 9001 5) with keys derived from the version's salt
// and the Destination Connection ID, only until the ClientHello is read and at most
// `initial_packets` packets per flow; afterwards no packet costs more than its header check.
// ClientHellos that span CRYPTO frames or Initial packets are reassembled in per-worker
// handshake slots. gQUIC up to Q046 carries its CHLO in clear; Q050 is decrypted like IETF QUIC.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/rate_feed.hpp>
#include <wiremeter/top_series.hpp>

#include "quic_crypto.hpp"
#include "quic_parser.hpp"
#include "quic_tables.hpp"

namespace wiremeter::quic {

// The plugin's settings (plugins.quic), all optional.
struct Limits {
  uint32_t connections = 8192;     // connection rows per worker (live + recently ended)
  uint32_t server_names = 4096;    // server-name rows per worker
  uint32_t handshake_slots = 256;  // ClientHellos being reassembled at once, per worker
  uint32_t initial_packets = 4;    // client Initial packets decrypted per flow at most
  uint64_t handshake_idle_ns = 5'000'000'000ull;  // a slot idle this long is freed
};
// Parses the section's JSON (a flat object of integers). Throws std::invalid_argument naming
// the field on bad input, including unknown fields.
Limits parse_settings(std::string_view json);

// Conditions that drop part of the analysis although the traffic is fine.
enum class Overflow : uint8_t {
  kConnections,     // every connection row holds a live flow: the new one has no row
  kServerNames,     // the server-name table is full: the name counts as "other"
  kHandshakeSlots,  // no slot to reassemble a multi-packet ClientHello
  kCount,
};
inline constexpr size_t kOverflowCount = static_cast<size_t>(Overflow::kCount);
const char* overflow_name(Overflow o);

// Per-flow state, zero-filled by the core: 12 bytes per flow (10 used). The connection itself lives
// in the worker's ConnectionTable, a ClientHello in reassembly in its HandshakePool.
struct FlowState {
  enum Status : uint8_t { kUnknown = 0, kQuic, kNotQuic };
  uint32_t connection;    // ConnectionTable reference; 0 = no row
  uint16_t handshake;     // HandshakePool reference; 0 = none
  uint8_t status;         // Status
  uint8_t initial_tries;  // client Initial packets tried (decrypted or not)
  // 1 once the ClientHello or CHLO was read, or reading it was given up.
  uint8_t hello_done : 1;
  uint8_t decrypted : 1;    // a client Initial decrypted
  uint8_t server_scid : 1;  // the server's SCID was recorded
  uint8_t gquic : 1;        // Google QUIC with public headers (Q035..Q043)
  uint8_t version_slot;     // the connection's VersionCounters slot + 1; 0 = none
};

// One per worker thread.
//
// Thread-safety: on_batch, on_flow_end and worker_tick run on the worker's thread. Counters
// and the tables' live fields are read from any thread; the rest of the tables under lock(),
// which the worker takes only for per-connection events (a new connection, its ClientHello, its
// server SCID, its end), never for other packets.
class Worker {
 public:
  Worker(uint32_t state_offset, uint32_t worker_id, const Limits& limits = Limits{});

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept;
  void worker_tick(uint64_t now_ns) noexcept;

  Counter datagrams, bytes, connections;
  Counter decrypt_ok, decrypt_failed, decrypt_unsupported;
  Counter hellos_complete, hellos_partial;
  std::array<Counter, kPacketTypeCount> packet_types;
  std::array<Counter, kErrorCount> malformed;
  std::array<Counter, kOverflowCount> overflow;
  VersionCounters versions;

  std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }
  // Read under lock().
  const ConnectionTable& connection_table() const { return connections_; }
  const ServerNameTable& server_names() const { return server_names_; }
  // The first connection that got no row (UINT64_MAX: none): from then on the table may miss
  // connections of any window.
  uint64_t rowless_since_ns() const { return rowless_since_ns_; }
  uint32_t id() const { return worker_id_; }

 private:
  bool classify(const wm_packet& p, FlowState& state, const uint8_t* data, size_t len) noexcept;
  void handle(const wm_packet& p, FlowState& state, const uint8_t* data, size_t len) noexcept;
  void client_initial(const wm_packet& p, FlowState& state, Connection* conn, const LongHeader& h,
                      const uint8_t* packet) noexcept;
  // Decrypts a copy of the packet with `keys` into scratch_; kNone with the plaintext span.
  Error try_decrypt(const InitialKeys& keys, const LongHeader& h, const uint8_t* packet,
                    const uint8_t*& plain, size_t& plain_len) noexcept;
  // Reads the ClientHello (TLS) or CHLO (gQUIC) from a contiguous stream prefix into hello_.
  // False if it is malformed (counted).
  bool read_hello(bool tls, const uint8_t* data, size_t len) noexcept;
  // Records hello_ for the flow and stops further decryption.
  void finish_hello(const wm_packet& p, FlowState& state, Connection* conn,
                    Decryption how) noexcept;
  // Stops reading the flow's handshake without a ClientHello.
  void give_up(const wm_packet& p, FlowState& state) noexcept;
  void set_decryption(Connection* conn, Decryption d) noexcept;
  void count_type(Connection* conn, PacketType t) noexcept;

  FlowStateSlot<FlowState> slot_;
  uint32_t worker_id_;
  Limits limits_;
  mutable std::mutex mutex_;
  ConnectionTable connections_;
  ServerNameTable server_names_;
  HandshakePool handshakes_;
  InitialCrypto crypto_;
  std::vector<uint8_t> scratch_;  // one packet's copy, decrypted in place (64 KiB)
  Hello hello_;                   // the ClientHello being read
  uint64_t rowless_since_ns_ = UINT64_MAX;
};

class Plugin {
 public:
  using Worker = quic::Worker;
  using FlowState = quic::FlowState;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);
  // Each second: the bit rate "quic.<server name>.bps" of the busiest server names and of the one
  // being viewed, and "quic.conn.<worker>:<flow id>.bps" of the busiest connections and of the
  // one being viewed.
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);

  // Merged views of the workers (control plane; they allocate).
  struct Totals {
    uint64_t datagrams = 0, bytes = 0, connections = 0;
    uint64_t decrypt_ok = 0, decrypt_failed = 0, decrypt_unsupported = 0;
    uint64_t hellos_complete = 0, hellos_partial = 0, connections_recycled = 0;
    std::array<uint64_t, kPacketTypeCount> packet_types{};
    std::array<uint64_t, kErrorCount> malformed{};
    std::array<uint64_t, kOverflowCount> overflow{};
  };
  struct ConnectionRow {
    std::string id;  // "<worker>:<flow id>"
    Connection c;
  };
  struct ServerNameRow {
    std::string name;
    uint64_t connections = 0, bytes = 0, first_ns = 0, last_ns = 0;
  };
  struct VersionRow {
    std::string name;  // "v1", "draft-29", "Q046", ... or "other"
    uint32_t version = 0;
    uint64_t connections = 0, decrypted = 0, server_names = 0, first_ns = 0, last_ns = 0;
  };
  static Totals totals(std::span<Worker* const> workers);
  static std::vector<ConnectionRow> connections(std::span<Worker* const> workers);
  static std::vector<ServerNameRow> server_names(std::span<Worker* const> workers);
  static std::vector<VersionRow> versions(std::span<Worker* const> workers);
  // The versions of the connections active in `window`, counted from the connection rows;
  // nullopt when a worker's table may no longer hold them all (it recycled a connection active
  // in the window, or a connection got no row).
  static std::optional<std::vector<VersionRow>> versions_in(std::span<Worker* const> workers,
                                                            const TimeWindow& window);

 private:
  Host& host_;
  TopSeries series_;  // server names
  // Connections: up to 4M rows per worker, so their keys are formatted only for the busiest and
  // the graphed ones (RateFeed), by the number connection_number() packs.
  TopSeries connection_series_;
  RateFeed connection_bytes_;
  Limits limits_;
  int connections_id_, packets_id_, decryptions_id_, hellos_id_, malformed_id_, overflow_id_,
      name_connections_id_, name_bytes_id_;
};

// A connection as one number for RateFeed: the worker in the top 16 bits, the flow id (counted
// from 1 per worker, so it never reaches 2^48 in practice) in the rest.
inline constexpr unsigned kFlowIdBits = 48;
inline uint64_t connection_number(uint32_t worker, uint64_t flow_id) {
  return uint64_t{worker} << kFlowIdBits | (flow_id & ((uint64_t{1} << kFlowIdBits) - 1));
}
// The connection's key in its graph's name: "conn.<worker>:<flow id>" (the row's id).
std::string connection_series_key(std::string_view id);

std::string format_addr(const Addr& a);
std::string hex(const uint8_t* data, size_t len);

}  // namespace wiremeter::quic
