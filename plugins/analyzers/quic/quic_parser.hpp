// quic: the wire-format readers. Pure functions over caller-owned bytes, no allocation, no
// OpenSSL: QUIC versions, long and short headers (RFC 8999, RFC 9000 17), Google QUIC public
// headers (Q035..Q043) and Q046 headers, the frames of a decrypted Initial packet, the TLS
// ClientHello (RFC 8446 4.1.2) and the gQUIC CHLO tag/value message.
//
// Every reader checks each length against the bytes it was given: malformed input ends in an
// Error, never in a read past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wiremeter::quic {

inline constexpr size_t kMaxCid = 20;  // RFC 9000 17.2: connection IDs of v1 and v2

// Why a packet or message could not be read. Names in error_name(); the order is the order of
// the malformed counters.
enum class Error : uint8_t {
  kNone = 0,
  kTruncatedHeader,    // the datagram ends inside a long header
  kBadCidLength,       // a connection ID longer than 20 bytes (v1/v2)
  kBadLength,          // the Length field runs past the datagram
  kTooShortToDecrypt,  // too few bytes for the header protection sample and the AEAD tag
  kDecryptFailed,      // AEAD authentication failed with the Initial keys
  kBadFrame,           // a frame of the Initial payload is cut or not allowed in Initial
  kBadClientHello,     // the TLS handshake message is not a readable ClientHello
  kBadChlo,            // the gQUIC CHLO tag/value map is inconsistent
  kCount,
};
inline constexpr size_t kErrorCount = static_cast<size_t>(Error::kCount);
const char* error_name(Error e);

// ---- Versions ----------------------------------------------------------------------------

// What the plugin knows of a version number.
struct VersionInfo {
  uint32_t version = 0;
  bool known = false;             // a version the plugin recognizes as QUIC
  const uint8_t* salt = nullptr;  // 20-byte Initial salt; nullptr: Initial not decryptable
  bool v2 = false;                // RFC 9369: "quicv2 " key labels and rotated packet types
  bool tls = true;                // CRYPTO frames carry TLS (false: gQUIC crypto, a CHLO)
  bool gquic_q046 = false;        // Q046 header: combined CID-length byte, no Length, clear text
};
VersionInfo version_info(uint32_t version);

// A stable display name: "v1", "v2", "draft-29", "Q046", "T051", "mvfst-draft-27",
// "negotiation" (0), "grease" (0x?a?a?a?a), else "0x%08x". Writes at most 23 chars + NUL.
void version_name(uint32_t version, char (&out)[24]);

// ---- Variable-length integers (RFC 9000 16) ----------------------------------------------

// Reads one varint at data[pos]; advances pos. False when it runs past len.
bool read_varint(const uint8_t* data, size_t len, size_t& pos, uint64_t& value);

// ---- Headers -----------------------------------------------------------------------------

enum class PacketType : uint8_t {
  kInitial = 0,
  kZeroRtt,
  kHandshake,
  kRetry,
  kVersionNegotiation,
  kShort,  // 1-RTT, short header
  kGquic,  // a Google QUIC packet without IETF long header (Q035..Q043, Q046 short)
  kCount,
};
inline constexpr size_t kPacketTypeCount = static_cast<size_t>(PacketType::kCount);
const char* packet_type_name(PacketType t);

// One long-header packet (or a gQUIC packet) inside a datagram.
struct LongHeader {
  VersionInfo version;
  PacketType type = PacketType::kInitial;
  uint8_t dcid_len = 0, scid_len = 0;
  const uint8_t* dcid = nullptr;  // point into the datagram
  const uint8_t* scid = nullptr;
  size_t pn_offset = 0;   // offset of the (protected) packet number, from the packet start
  size_t packet_len = 0;  // bytes of this packet; the next coalesced packet starts there
};

// Reads the long header at the start of `data` (one packet of a datagram). For Initial, 0-RTT
// and Handshake packets packet_len covers the Length field's bytes; Retry, Version
// Negotiation and Q046 packets run to the end of the datagram.
Error parse_long_header(const uint8_t* data, size_t len, LongHeader& out);

// First byte with the header form bit set: a long header (RFC 8999 5.1).
inline bool is_long_header(uint8_t first) { return first & 0x80; }

// A gQUIC public header (Q035..Q043) from the client with the version flag: its 8-byte
// connection ID and version, and where the packet's data starts. False if it is not one.
bool parse_gquic_public_header(const uint8_t* data, size_t len, uint32_t& version,
                               const uint8_t*& cid, size_t& data_offset);

// ---- Frames of a decrypted Initial packet --------------------------------------------------

// Calls on_crypto(offset, data, len) for each CRYPTO frame of an Initial packet's plaintext,
// skipping PADDING, PING, ACK and CONNECTION_CLOSE (the frames RFC 9000 12.4 allows there).
// Returns kBadFrame on a cut frame or one not allowed in Initial packets.
template <typename OnCrypto>
Error for_each_crypto_frame(const uint8_t* data, size_t len, OnCrypto&& on_crypto) {
  size_t pos = 0;
  while (pos < len) {
    uint64_t type = 0;
    if (!read_varint(data, len, pos, type)) return Error::kBadFrame;
    switch (type) {
      case 0x00:  // PADDING: runs of zeros, skipped in one go
        while (pos < len && data[pos] == 0) ++pos;
        break;
      case 0x01:  // PING
        break;
      case 0x02:
      case 0x03: {  // ACK: largest, delay, range count, first range, ranges, [ECN counts]
        uint64_t v = 0, ranges = 0;
        if (!read_varint(data, len, pos, v) || !read_varint(data, len, pos, v) ||
            !read_varint(data, len, pos, ranges) || !read_varint(data, len, pos, v)) {
          return Error::kBadFrame;
        }
        // Each range takes at least 2 bytes: a count beyond that is malformed, not a loop.
        if (ranges > len) return Error::kBadFrame;
        for (uint64_t i = 0; i < ranges * 2 + (type == 0x03 ? 3 : 0); ++i) {
          if (!read_varint(data, len, pos, v)) return Error::kBadFrame;
        }
        break;
      }
      case 0x06: {  // CRYPTO: offset, length, data
        uint64_t offset = 0, n = 0;
        if (!read_varint(data, len, pos, offset) || !read_varint(data, len, pos, n) ||
            n > len - pos) {
          return Error::kBadFrame;
        }
        on_crypto(offset, data + pos, static_cast<size_t>(n));
        pos += static_cast<size_t>(n);
        break;
      }
      case 0x1c:
      case 0x1d: {  // CONNECTION_CLOSE: error code, [frame type], reason phrase
        uint64_t v = 0, n = 0;
        if (!read_varint(data, len, pos, v) || (type == 0x1c && !read_varint(data, len, pos, v)) ||
            !read_varint(data, len, pos, n) || n > len - pos) {
          return Error::kBadFrame;
        }
        pos += static_cast<size_t>(n);
        break;
      }
      default:
        return Error::kBadFrame;
    }
  }
  return Error::kNone;
}

// ---- The TLS ClientHello and the gQUIC CHLO ------------------------------------------------

inline constexpr size_t kNameText = 256;  // a DNS name (253) + NUL
inline constexpr size_t kAlpnText = 64;
inline constexpr size_t kAgentText = 96;

// What the handshake told about the connection. Texts are NUL-terminated printable ASCII
// (other bytes become '?'), cut to their buffers.
struct Hello {
  char server_name[kNameText] = {};
  char alpn[kAlpnText] = {};         // the offered protocols, comma-separated, in order
  char user_agent[kAgentText] = {};  // gQUIC UAID
  uint16_t tls_version_max = 0;      // highest supported_versions entry (GREASE ignored), else
                                     // legacy_version
  bool has_server_name = false;
  bool has_alpn = false;
  bool transport_parameters = false;  // quic_transport_parameters (0x39 or draft 0xffa5)
  bool complete = false;  // the whole message was read (false: cut, read as far as it went)
  bool chlo = false;      // from a gQUIC CHLO rather than a TLS ClientHello

  void clear() { *this = Hello{}; }
};

// Reads a TLS handshake stream that starts with a ClientHello (type, 24-bit length, body).
// `data` may hold only the first `len` bytes of a longer message: the fields found so far are
// filled, `complete` stays false and the result is kNone. kBadClientHello if it is no
// ClientHello or a length inside is inconsistent.
Error parse_client_hello(const uint8_t* data, size_t len, Hello& out);

// Bytes the handshake message at `data` needs in total (4 + its 24-bit length), or 0 if fewer
// than 4 bytes are present.
size_t handshake_message_size(const uint8_t* data, size_t len);

// Finds "CHLO" in `data` (gQUIC stream data or a Q050 CRYPTO stream) and reads its tag/value
// map: SNI, UAID. kBadChlo if the map is inconsistent; kNone with chlo=false if there is none.
Error parse_chlo(const uint8_t* data, size_t len, Hello& out);

// "TLSv1.3" for 0x0304 and the like; "" for 0.
const char* tls_version_name(uint16_t v);

}  // namespace wiremeter::quic
