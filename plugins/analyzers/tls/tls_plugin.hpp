// tls: TLS handshakes over TCP.
//
// For every TCP flow whose client opens with a TLS ClientHello (on any port), the plugin
// reassembles the first bytes of both directions (wiremeter/tcp_stream.hpp) and reads the
// handshake from them: SNI, offered ALPN and versions from the ClientHello; the negotiated
// version, cipher suite, ALPN, key share group and session resumption from the ServerHello; the
// ECDHE curve from the ServerKeyExchange; and the server's certificate chain (TLS <= 1.2: TLS 1.3
// encrypts it), each certificate read once with OpenSSL and kept by its SHA-256 fingerprint.
// Alerts and ChangeCipherSpec are followed until the connection is established (both sides
// switched to encryption and an encrypted record followed, as Zeek's ssl.log defines it).
//
// The reassembly slot is released as soon as nothing more can be learnt (established, a fatal
// alert, a malformed or over-long stream, or the flow's end); from then on the flow costs one
// flow-state read per packet. Flows that do not start with a ClientHello never take a slot.
//
// Results: a log of handshakes, tables per server name and per certificate (expired, expiring,
// not yet valid, self-signed, and SNI not matching the certificate are flagged), counts per
// version and cipher suite, metrics and REST views.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/record_log.hpp>
#include <wiremeter/tcp_stream.hpp>
#include <wiremeter/top_series.hpp>

#include "tls_config.hpp"
#include "tls_names.hpp"
#include "tls_parser.hpp"
#include "tls_tables.hpp"
#include "x509.hpp"

namespace wiremeter::tls {

// Per-flow state: 12 bytes; zero-filled = a flow not looked at yet.
struct FlowState {
  TcpStreamHandle stream;
  uint8_t phase;       // Phase
  uint8_t client_dir;  // the stream direction (WM_DIR_*) that sent the ClientHello
  uint8_t reserved[2];
};
enum Phase : uint8_t {
  kUndecided = 0,  // no payload seen yet
  kTracking = 1,   // a ClientHello started: the handshake is being read in a stream slot
  kDone = 2,       // not TLS, or the handshake is read: nothing more to do for this flow
};

// Events counted apart from malformed input.
enum class Event : uint8_t {
  kNotTls,         // TCP flows whose first payload is not a ClientHello
  kSlotExhausted,  // TLS flows not read because every stream slot was in use
  kTruncated,      // a handshake longer than stream_bytes (certificate chain cut)
  kHelloRetry,     // HelloRetryRequests
  kUnfinished,     // flows that ended before their handshake was complete
  kCount,
};
inline constexpr size_t kEventCount = static_cast<size_t>(Event::kCount);
const char* event_name(Event e);

class Worker {
 public:
  explicit Worker(uint32_t state_offset, const Config& config = Config{});

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept;

  Counter client_hellos, handshakes, established, resumed, alerts_total, certificates_seen;
  std::array<Counter, kVersionSlots> versions;
  std::array<Counter, 256> alerts;  // by description
  std::array<Counter, kMalformedCount> malformed;
  std::array<Counter, kEventCount> events;
  std::array<Counter, kCertFlagCount> cert_flags;  // handshakes whose leaf had the flag
  std::array<Counter, 3> sni_matches;              // not decided, no, yes

  const TcpStreamCounters& stream_counters() const { return pool_.counters(); }
  const Config& config() const { return config_; }

  std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }
  // Read only under lock().
  const ServerNameTable& server_names() const { return server_names_; }
  const CertificateTable& certificates() const { return certificates_; }
  const CipherCounts& ciphers() const { return ciphers_; }
  // Has its own lock.
  const RecordLog<Connection>& connections() const { return connections_; }

 private:
  // A handshake being read; one per stream slot, indexed like the pool's slots.
  struct Session {
    Connection conn;
    DirectionState dir[2];  // by stream direction
    uint8_t client_dir = 0;
    bool side_encrypted[2] = {};  // by stream direction
    bool tls13 = false;
    bool finished = false;  // nothing more to learn: release the slot
    uint8_t client_session_id_len = 0;
    uint8_t client_session_id[32] = {};
    bool has_leaf = false;
    CertInfo leaf;
  };
  class Events;

  void track(const wm_packet& p, FlowState& state) noexcept;
  void on_server_certificate(Session& s, std::span<const uint8_t> body) noexcept;
  void finish(Session& s, FlowState& state) noexcept;

  FlowStateSlot<FlowState> slot_;
  Config config_;
  TcpStreamPool pool_;
  std::vector<Session> sessions_;
  std::vector<uint8_t> scratch_;  // a handshake message that spans records
  RecordWalker walker_;
  ClientHello client_hello_;  // parse results, reused: kept off the data path's stack
  ServerHello server_hello_;
  CertificateList chain_;
  CertInfo cert_scratch_;

  mutable std::mutex mutex_;
  ServerNameTable server_names_;
  CertificateTable certificates_;
  CipherCounts ciphers_;
  RecordLog<Connection> connections_;
};

class Plugin {
 public:
  using Worker = tls::Worker;
  using FlowState = tls::FlowState;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);
  // Each second: handshakes per second "tls.<server name>.handshakes_per_s" of the busiest
  // server names and "tls.cert.<sha256>.handshakes_per_s" of the busiest certificates, and of
  // the ones being viewed.
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);

  // Merged views of the workers (control plane; they allocate).
  struct Totals {
    uint64_t client_hellos = 0, handshakes = 0, established = 0, resumed = 0, alerts = 0;
    uint64_t certificates_seen = 0;
    std::array<uint64_t, kVersionSlots> versions{};
    std::array<uint64_t, 256> alerts_by{};
    std::array<uint64_t, kMalformedCount> malformed{};
    std::array<uint64_t, kEventCount> events{};
    std::array<uint64_t, kCertFlagCount> cert_flags{};
    std::array<uint64_t, 3> sni_matches{};
    uint64_t streams_taken = 0, streams_truncated = 0, bytes_before_start = 0;
    uint64_t server_names_overflow = 0, certificates_overflow = 0, connections_dropped = 0;
  };
  struct ServerNameRow {
    std::string name;
    ServerNameEntry stats;
  };
  struct CertificateRow {
    std::string sha256;  // hex
    CertificateEntry entry;
    std::vector<std::string> servers;
    uint8_t flags = 0;  // validity at last_seen
    double days_left = 0;
  };
  struct CipherRow {
    uint16_t suite = 0;
    std::string name;
    uint64_t handshakes = 0;
  };
  Totals totals(std::span<Worker* const> workers) const;
  std::vector<ServerNameRow> server_names(std::span<Worker* const> workers) const;
  std::vector<CertificateRow> certificates(std::span<Worker* const> workers) const;
  std::vector<CipherRow> ciphers(std::span<Worker* const> workers, uint64_t& other) const;
  std::vector<Connection> connections(std::span<Worker* const> workers) const;

 private:
  Host& host_;
  Config config_;
  int handshakes_id_, client_hellos_id_, established_id_, resumed_id_, cipher_id_, alerts_id_,
      malformed_id_, events_id_, cert_flags_id_, certs_id_, certs_expiring_id_, certs_expired_id_,
      expiry_id_, overflow_id_;
  TopSeries series_{10, 60, 1.0, ".handshakes_per_s"};       // by server name
  TopSeries cert_series_{10, 60, 1.0, ".handshakes_per_s"};  // by "cert.<sha256>"

  // What on_tick keeps of each worker: the handshakes of every server name and certificate
  // row at the previous tick. Rows are only ever appended, so a row's index names the same
  // entity for the worker's life and the last second's count of a row needs no key.
  struct TickState {
    std::vector<uint64_t> name_before, cert_before;
    // Scratch, kept for its capacity: filled under the worker's lock without allocating.
    struct Moved {
      uint32_t row;
      uint64_t handshakes;  // in the last second
    };
    struct MovedCert {
      uint64_t handshakes;
      uint8_t sha256[32];
    };
    struct Name {
      uint16_t len;
      char text[kMaxServerName];
    };
    std::vector<Moved> moved_names;
    std::vector<Name> names;
    std::vector<MovedCert> moved_certs;
  };
  // Per server name and per certificate (raw SHA-256): handshakes of the last second, summed
  // over the workers. Copies fixed-size data under each worker's lock and nothing else.
  void handshakes_last_second(std::span<Worker* const> workers,
                              std::unordered_map<std::string, uint64_t>& names,
                              std::unordered_map<std::string, uint64_t>& certs);
  std::unordered_map<const Worker*, TickState> tick_state_;
  uint64_t last_tick_ns_ = 0;
};

std::string format_addr(const Addr& a);
std::string hex(const uint8_t* data, size_t len);

}  // namespace wiremeter::tls
