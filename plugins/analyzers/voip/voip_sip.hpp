// voip: the SIP message parser (RFC 3261) with the SDP offer/answer it carries (RFC 4566), and
// the codec table shared with the RTP side.
//
// The parser reads one message from a buffer it does not own and returns views into it; it
// never allocates, never writes outside its output and never reads past `len`. Everything is
// bounded: the start line, the number of header lines, the SDP lines kept. What does not check
// out is an Error, which the plugin counts by reason.
//
// Thread-safety: pure functions; any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wiremeter::voip {

// ---- codecs ------------------------------------------------------------------------------

enum class Codec : uint8_t {
  kUnknown = 0,
  kPcmu,  // G.711 mu-law
  kPcma,  // G.711 A-law
  kG722,
  kG729,
  kG723,
  kG726,
  kGsm,
  kIlbc,
  kOpus,
  kAmr,
  kAmrWb,
  kSpeex,
  kTelephoneEvent,  // RFC 4733 DTMF
  kComfortNoise,    // RFC 3389
  kCount,
};
const char* codec_name(Codec c);
// The codec of a static payload type (RFC 3551 table 4), kUnknown for dynamic ones.
Codec static_codec(uint8_t pt);
// The codec of an a=rtpmap encoding name (case-insensitive: "PCMA", "pcma", "G729").
Codec codec_from_name(std::string_view name);
// The RTP clock rate of a static payload type, 0 when unknown. G.722 uses 8000 although it
// samples at 16 kHz (RFC 3551 4.5.2).
uint32_t static_clock_rate(uint8_t pt);
// Packets that carry no audio frames of the stream's codec: their timestamps do not advance
// like the audio's, so they stay out of jitter.
inline bool is_signalling_codec(Codec c) {
  return c == Codec::kTelephoneEvent || c == Codec::kComfortNoise;
}

// ---- SIP ---------------------------------------------------------------------------------

enum class Method : uint8_t {
  kOther = 0,  // a syntactically valid method this table does not name
  kInvite,
  kAck,
  kBye,
  kCancel,
  kRegister,
  kOptions,
  kPrack,
  kUpdate,
  kInfo,
  kRefer,
  kNotify,
  kSubscribe,
  kMessage,
  kPublish,
  kCount,
};
inline constexpr size_t kMethodCount = static_cast<size_t>(Method::kCount);
const char* method_name(Method m);
Method method_from(std::string_view token);

enum class Error : uint8_t {
  kNone = 0,
  kBadStartLine,    // neither "METHOD uri SIP/2.0" nor "SIP/2.0 code reason"
  kBadStatusCode,   // not three digits from 100 to 699
  kNoHeaderEnd,     // the header section does not end (no empty line) within the message
  kTooManyHeaders,  // more than kMaxHeaderLines header lines
  kMissingCallId,
  kBadCSeq,  // CSeq missing, or not "<number> <method>" matching a request's method
  kCount,
};
inline constexpr size_t kErrorCount = static_cast<size_t>(Error::kCount);
const char* error_name(Error e);

inline constexpr size_t kMaxStartLine = 2048;
inline constexpr size_t kMaxHeaderLines = 128;
inline constexpr size_t kMaxSdpMedia = 4;
inline constexpr size_t kMaxMediaFormats = 8;
inline constexpr size_t kMaxRtpMaps = 8;

// An IPv4 or IPv6 address (IPv4 in the first 4 bytes, the rest zero); version 0 = none.
struct Addr {
  std::array<uint8_t, 16> bytes{};
  uint8_t version = 0;
  bool operator==(const Addr& o) const { return version == o.version && bytes == o.bytes; }
};

enum class MediaKind : uint8_t { kAudio = 0, kVideo, kOther };

// One m= line with the connection address that applies to it.
struct SdpMedia {
  MediaKind kind = MediaKind::kOther;
  bool rtp = false;          // the transport is RTP (RTP/AVP, RTP/SAVP, ..., UDP/TLS/RTP/SAVPF)
  Addr addr;                 // media-level c=, else the session-level one; version 0 when neither
  uint16_t port = 0;         // 0: the stream is disabled (RFC 3264 6)
  uint8_t format_count = 0;  // payload types kept (up to kMaxMediaFormats)
  std::array<uint8_t, kMaxMediaFormats> formats{};
};

struct RtpMap {
  uint8_t pt = 0;
  Codec codec = Codec::kUnknown;
  uint32_t clock = 0;
};

struct Sdp {
  uint8_t media_count = 0;
  std::array<SdpMedia, kMaxSdpMedia> media{};
  uint8_t rtpmap_count = 0;
  std::array<RtpMap, kMaxRtpMaps> rtpmaps{};
  bool truncated = false;  // more m= or a=rtpmap lines than kept, or bad c=/m= lines skipped
  // The clock rate and codec of payload type `pt` as this SDP describes it (rtpmap, else the
  // static table). Returns false when it says nothing about a dynamic type.
  bool lookup(uint8_t pt, Codec& codec, uint32_t& clock) const;
};
// Parses an SDP body. Never fails: lines it cannot use are skipped (and `truncated` set).
void parse_sdp(std::string_view body, Sdp& out);

// A name-addr or addr-spec header (From, To, Contact): the URI, display name and tag.
struct NameAddr {
  std::string_view display, uri, tag;
};
NameAddr parse_name_addr(std::string_view value);

struct Message {
  bool request = false;
  Method method = Method::kOther;  // requests
  std::string_view method_text, request_uri;
  uint16_t status = 0;  // responses
  std::string_view reason;
  std::string_view call_id;
  NameAddr from, to, contact;
  std::string_view user_agent;  // User-Agent of requests, Server of responses
  uint32_t cseq = 0;
  Method cseq_method = Method::kOther;
  std::string_view cseq_method_text;
  uint16_t header_lines = 0;
  // The headers end before the buffer does not: the rest of the message is in later IP
  // fragments or TCP segments (only with allow_partial).
  bool partial_headers = false;
  bool partial_body = false;  // Content-Length says more than the buffer holds
  size_t length = 0;          // bytes of this message (headers + body) within the buffer
  bool has_sdp = false;
  Sdp sdp;
};

// True when `data` starts like a SIP message: "SIP/2.0 " or one of the methods of the table
// followed by a space. The test for UDP on ports other than 5060.
bool looks_like_sip(const uint8_t* data, size_t len);
// A keep-alive: only CR, LF, spaces or NULs (RFC 5626 CRLF pings and the like).
bool is_keepalive(const uint8_t* data, size_t len);

// Parses one message. With allow_partial, a message whose header section is cut (a first IP
// fragment) is read up to its last complete line instead of failing with kNoHeaderEnd.
Error parse_message(const uint8_t* data, size_t len, Message& out, bool allow_partial = false);

// "a.b.c.d" or an IPv6 literal (brackets allowed) into an Addr.
bool parse_addr(std::string_view text, Addr& out);

}  // namespace wiremeter::voip
