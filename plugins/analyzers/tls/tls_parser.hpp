// tls: the TLS record layer and handshake parser, over the reassembled bytes of one direction
// of a TCP stream (wiremeter/tcp_stream.hpp).
//
// The stream grows as segments arrive; RecordWalker::walk() is called with the whole contiguous
// prefix each time and continues where it stopped, so every byte is looked at once. Records may
// span segments (the walker waits for the whole record) and handshake messages may span records
// (the walker keeps the handshake bytes as a list of record fragments and copies a message into
// a scratch buffer only when it does span records).
//
// Everything here is bounds-checked against the span it is given: malformed input becomes a
// Malformed reason and stops the direction, never a read out of bounds. No allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace wiremeter::tls {

// Why a direction's parse stopped early.
enum class Malformed : uint8_t {
  kNone = 0,
  kRecordType,        // a content type that is not TLS (20..24): not TLS, or lost sync
  kRecordVersion,     // record version not 3.x
  kRecordLength,      // record longer than 2^14 + 2048 (RFC 5246 6.2.3)
  kHandshakeLength,   // a handshake message longer than the stream buffer
  kTooManyFragments,  // a handshake message cut into more records than kept
  kClientHello,
  kServerHello,
  kCertificate,
  kServerKeyExchange,
  kCount,
};
inline constexpr size_t kMalformedCount = static_cast<size_t>(Malformed::kCount);
const char* malformed_name(Malformed m);

// Content types (RFC 8446 5.1).
inline constexpr uint8_t kChangeCipherSpec = 20, kAlert = 21, kHandshake = 22,
                         kApplicationData = 23, kHeartbeat = 24;
// Handshake types used here.
inline constexpr uint8_t kClientHelloType = 1, kServerHelloType = 2, kNewSessionTicket = 4,
                         kCertificateType = 11, kServerKeyExchangeType = 12,
                         kCertificateRequest = 13, kServerHelloDone = 14, kClientKeyExchange = 16,
                         kCertificateStatus = 22;

inline constexpr size_t kMaxServerName = 255;  // RFC 6066: host_name is at most 2^8 - 1 here
inline constexpr size_t kAlpnText = 128;       // offered protocols, comma-separated
inline constexpr size_t kAlpnSelected = 64;
inline constexpr size_t kMaxGroups = 16;

// What a ClientHello says (RFC 8446 4.1.2, RFC 5246 7.4.1.2).
struct ClientHello {
  uint16_t legacy_version = 0;
  uint16_t max_supported_version = 0;  // highest of supported_versions (GREASE skipped); 0: none
  uint16_t cipher_count = 0;           // suites offered, GREASE skipped
  uint8_t session_id_len = 0;
  uint8_t session_id[32] = {};
  uint16_t sni_len = 0;
  char sni[kMaxServerName + 1] = {};  // host_name, lower-cased; printable ASCII only
  uint16_t alpn_len = 0;
  char alpn[kAlpnText] = {};  // "h2,http/1.1"; cut at a protocol boundary when too long
  uint8_t group_count = 0;    // supported_groups (first kMaxGroups, GREASE skipped)
  std::array<uint16_t, kMaxGroups> groups{};
  bool has_session_ticket = false;  // a non-empty session_ticket extension: resumption attempt
  bool has_pre_shared_key = false;
};

// What a ServerHello says (RFC 8446 4.1.3).
struct ServerHello {
  uint16_t legacy_version = 0;
  uint16_t selected_version = 0;  // supported_versions extension (TLS 1.3); 0: none
  uint16_t cipher = 0;
  uint16_t key_share_group = 0;  // TLS 1.3 key_share; 0: none
  uint8_t compression = 0;
  uint8_t session_id_len = 0;
  uint8_t session_id[32] = {};
  bool hello_retry_request = false;  // the special random of RFC 8446 4.1.3
  bool pre_shared_key = false;       // the server accepted a PSK: TLS 1.3 resumption
  uint8_t alpn_len = 0;
  char alpn[kAlpnSelected] = {};
  // The version the connection runs: supported_versions when present, else legacy_version.
  uint16_t version() const { return selected_version ? selected_version : legacy_version; }
};

// The certificates of a Certificate message (TLS 1.2: RFC 5246 7.4.2; TLS 1.3 form with its
// request context and per-certificate extensions when `tls13`): the first kMaxChain DER blobs.
inline constexpr size_t kMaxChain = 8;
struct CertificateList {
  uint8_t count = 0;   // kept in `der`
  uint16_t total = 0;  // in the message
  std::array<std::span<const uint8_t>, kMaxChain> der{};
};

Malformed parse_client_hello(std::span<const uint8_t> body, ClientHello& out) noexcept;
Malformed parse_server_hello(std::span<const uint8_t> body, ServerHello& out) noexcept;
Malformed parse_certificate(std::span<const uint8_t> body, bool tls13,
                            CertificateList& out) noexcept;
// The named curve of an ECDHE ServerKeyExchange (RFC 8422 5.4); 0 when explicit curves.
Malformed parse_server_key_exchange_curve(std::span<const uint8_t> body, uint16_t& group) noexcept;

// What the walker found, in stream order. Called only while walk() runs.
class RecordEvents {
 public:
  virtual ~RecordEvents() = default;
  // A complete handshake message in plaintext. `body` is valid during the call only.
  virtual void on_handshake(uint8_t type, std::span<const uint8_t> body) noexcept = 0;
  virtual void on_change_cipher_spec() noexcept = 0;
  virtual void on_alert(uint8_t level, uint8_t description) noexcept = 0;
  // A record after this direction went encrypted (after its ChangeCipherSpec; TLS 1.3 after the
  // ServerHello), of any content type, or an application_data record.
  virtual void on_encrypted_record(uint8_t content_type) noexcept = 0;
  virtual void on_malformed(Malformed reason) noexcept = 0;
};

// Per-direction progress, kept between walks. Trivially copyable; zero-filled = start.
struct DirectionState {
  static constexpr size_t kMaxFragments = 32;
  struct Fragment {
    uint32_t offset, length;  // handshake bytes not yet consumed, in the stream
  };
  uint32_t next_record;  // stream offset of the next record header
  uint32_t records;
  uint8_t fragment_count;
  bool encrypted;  // records from here on are ciphertext
  bool stopped;    // malformed, or past the buffer: nothing more will be read
  bool truncated;  // stopped because a record went past the buffer
  Fragment fragments[kMaxFragments];
};

class RecordWalker {
 public:
  // `scratch` holds a handshake message that spans records; it must be at least `capacity`
  // bytes (the stream buffer's size: no message can be longer and still be seen whole).
  RecordWalker(uint8_t* scratch, uint32_t capacity) : scratch_(scratch), capacity_(capacity) {}

  // Reads the complete records of `stream` past state.next_record. `truncated`: the stream
  // buffer is full and bytes past it were dropped, so a record that does not fit never will.
  void walk(std::span<const uint8_t> stream, bool truncated, DirectionState& state,
            RecordEvents& events) const noexcept;

 private:
  void handshake_fragment(std::span<const uint8_t> stream, uint32_t offset, uint32_t length,
                          DirectionState& state, RecordEvents& events) const noexcept;
  uint8_t* scratch_;
  uint32_t capacity_;
};

// True when the first bytes of a client's stream look like a TLS handshake record carrying a
// ClientHello: content type 22, version 3.x, and handshake type 1 when present.
bool looks_like_client_hello(std::span<const uint8_t> first_bytes) noexcept;

}  // namespace wiremeter::tls
