// voip: SIP and SDP parsing, the codec table.
#include "voip_sip.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace wiremeter::voip {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

size_t ifind(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequals(hay.substr(i, needle.size()), needle)) return i;
  }
  return std::string_view::npos;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 3261 25.1 token characters (method names).
bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("-.!%*_+`'~", c) != nullptr;
}

// Reads a decimal number of at most `max_digits` digits; false on anything else.
bool parse_uint(std::string_view s, uint32_t& out, size_t max_digits = 9) {
  if (s.empty() || s.size() > max_digits) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  out = v;
  return true;
}

// The next line of `text` from `pos` (without its CRLF or LF); pos moves past it. False at the
// end, or when the line has no terminator and `need_end` is set.
bool next_line(std::string_view text, size_t& pos, std::string_view& line, bool need_end) {
  if (pos >= text.size()) return false;
  size_t lf = text.find('\n', pos);
  if (lf == std::string_view::npos) {
    if (need_end) return false;
    line = text.substr(pos);
    pos = text.size();
  } else {
    line = text.substr(pos, lf - pos);
    pos = lf + 1;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

struct MethodName {
  Method method;
  std::string_view name;
};
constexpr MethodName kMethods[] = {
    {Method::kInvite, "INVITE"},     {Method::kAck, "ACK"},
    {Method::kBye, "BYE"},           {Method::kCancel, "CANCEL"},
    {Method::kRegister, "REGISTER"}, {Method::kOptions, "OPTIONS"},
    {Method::kPrack, "PRACK"},       {Method::kUpdate, "UPDATE"},
    {Method::kInfo, "INFO"},         {Method::kRefer, "REFER"},
    {Method::kNotify, "NOTIFY"},     {Method::kSubscribe, "SUBSCRIBE"},
    {Method::kMessage, "MESSAGE"},   {Method::kPublish, "PUBLISH"},
};

struct CodecName {
  Codec codec;
  std::string_view name;
};
constexpr CodecName kCodecNames[] = {
    {Codec::kUnknown, "unknown"}, {Codec::kPcmu, "PCMU"},
    {Codec::kPcma, "PCMA"},       {Codec::kG722, "G722"},
    {Codec::kG729, "G729"},       {Codec::kG723, "G723"},
    {Codec::kG726, "G726"},       {Codec::kGsm, "GSM"},
    {Codec::kIlbc, "iLBC"},       {Codec::kOpus, "opus"},
    {Codec::kAmr, "AMR"},         {Codec::kAmrWb, "AMR-WB"},
    {Codec::kSpeex, "speex"},     {Codec::kTelephoneEvent, "telephone-event"},
    {Codec::kComfortNoise, "CN"},
};
static_assert(std::size(kCodecNames) == static_cast<size_t>(Codec::kCount));

// Header names the parser uses, with their compact forms (RFC 3261 7.3.3).
enum class Header {
  kNone,
  kCallId,
  kFrom,
  kTo,
  kContact,
  kCSeq,
  kUserAgent,
  kServer,
  kContentLength,
  kContentType
};

Header header_of(std::string_view name) {
  if (name.size() == 1) {
    switch (lower(name[0])) {
      case 'i':
        return Header::kCallId;
      case 'f':
        return Header::kFrom;
      case 't':
        return Header::kTo;
      case 'm':
        return Header::kContact;
      case 'l':
        return Header::kContentLength;
      case 'c':
        return Header::kContentType;
      default:
        return Header::kNone;
    }
  }
  if (iequals(name, "Call-ID")) return Header::kCallId;
  if (iequals(name, "From")) return Header::kFrom;
  if (iequals(name, "To")) return Header::kTo;
  if (iequals(name, "Contact")) return Header::kContact;
  if (iequals(name, "CSeq")) return Header::kCSeq;
  if (iequals(name, "User-Agent")) return Header::kUserAgent;
  if (iequals(name, "Server")) return Header::kServer;
  if (iequals(name, "Content-Length")) return Header::kContentLength;
  if (iequals(name, "Content-Type")) return Header::kContentType;
  return Header::kNone;
}

Error parse_start_line(std::string_view line, Message& m) {
  if (line.empty() || line.size() > kMaxStartLine) return Error::kBadStartLine;
  if (line.substr(0, 8) == "SIP/2.0 ") {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    std::string_view rest = line.substr(8);
    uint32_t code = 0;
    if (rest.size() < 3 || !parse_uint(rest.substr(0, 3), code, 3)) return Error::kBadStatusCode;
    if (code < 100 || code > 699) return Error::kBadStatusCode;
    if (rest.size() > 3 && rest[3] != ' ') return Error::kBadStatusCode;
    m.request = false;
    m.status = static_cast<uint16_t>(code);
    m.reason = rest.size() > 4 ? rest.substr(4) : std::string_view();
    return Error::kNone;
  }
  // Request-Line = Method SP Request-URI SP SIP-Version
  size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos) return Error::kBadStartLine;
  std::string_view method = line.substr(0, sp1);
  for (char c : method) {
    if (!is_token_char(c)) return Error::kBadStartLine;
  }
  size_t sp2 = line.rfind(' ');
  if (sp2 <= sp1 + 1 || line.substr(sp2 + 1) != "SIP/2.0") return Error::kBadStartLine;
  m.request = true;
  m.method_text = method;
  m.method = method_from(method);
  m.request_uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  return Error::kNone;
}

bool parse_cseq(std::string_view value, Message& m) {
  value = trim(value);
  size_t sp = value.find_first_of(" \t");
  if (sp == std::string_view::npos) return false;
  uint32_t n = 0;
  // RFC 3261 8.1.1.5: less than 2**31.
  if (!parse_uint(value.substr(0, sp), n, 10) || n >= 0x80000000u) return false;
  std::string_view method = trim(value.substr(sp));
  if (method.empty()) return false;
  for (char c : method) {
    if (!is_token_char(c)) return false;
  }
  m.cseq = n;
  m.cseq_method_text = method;
  m.cseq_method = method_from(method);
  return true;
}

}  // namespace

const char* codec_name(Codec c) {
  size_t i = static_cast<size_t>(c);
  return i < std::size(kCodecNames) ? kCodecNames[i].name.data() : "unknown";
}

Codec static_codec(uint8_t pt) {
  switch (pt) {
    case 0:
      return Codec::kPcmu;
    case 3:
      return Codec::kGsm;
    case 4:
      return Codec::kG723;
    case 8:
      return Codec::kPcma;
    case 9:
      return Codec::kG722;
    case 13:
      return Codec::kComfortNoise;
    case 18:
      return Codec::kG729;
    case 19:
      return Codec::kComfortNoise;  // reserved; older CN
    default:
      return Codec::kUnknown;
  }
}

uint32_t static_clock_rate(uint8_t pt) {
  // RFC 3551 table 4: every static audio type below 24 but a few runs at 8000 Hz.
  switch (pt) {
    case 0:
    case 3:
    case 4:
    case 5:
    case 7:
    case 8:
    case 9:
    case 12:
    case 13:
    case 15:
    case 18:
      return 8000;
    case 6:
      return 16000;  // DVI4/16000
    case 10:
    case 11:
      return 44100;  // L16
    case 14:
    case 25:
    case 26:
    case 28:
    case 31:
    case 32:
    case 33:
    case 34:
      return 90000;  // MPA and the static video types
    case 16:
      return 11025;
    case 17:
      return 22050;
    default:
      return 0;
  }
}

Codec codec_from_name(std::string_view name) {
  if (iequals(name, "G7221")) return Codec::kUnknown;   // G.722.1, not G.722
  if (istarts_with(name, "G726")) return Codec::kG726;  // G726-32, AAL2-G726-32
  if (iequals(name, "G729A") || iequals(name, "G729B") || iequals(name, "G729AB")) {
    return Codec::kG729;
  }
  for (size_t i = 1; i < std::size(kCodecNames); ++i) {
    if (iequals(name, kCodecNames[i].name)) return kCodecNames[i].codec;
  }
  return Codec::kUnknown;
}

const char* method_name(Method m) {
  for (const MethodName& n : kMethods) {
    if (n.method == m) return n.name.data();
  }
  return "other";
}

Method method_from(std::string_view token) {
  // Method names are case-sensitive (RFC 3261 7.1): "invite" is an extension method.
  for (const MethodName& n : kMethods) {
    if (n.name == token) return n.method;
  }
  return Method::kOther;
}

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone:
      return "none";
    case Error::kBadStartLine:
      return "bad_start_line";
    case Error::kBadStatusCode:
      return "bad_status_code";
    case Error::kNoHeaderEnd:
      return "no_header_end";
    case Error::kTooManyHeaders:
      return "too_many_headers";
    case Error::kMissingCallId:
      return "missing_call_id";
    case Error::kBadCSeq:
      return "bad_cseq";
    case Error::kCount:
      break;
  }
  return "unknown";
}

bool parse_addr(std::string_view text, Addr& out) {
  text = trim(text);
  if (!text.empty() && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Addr a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.version = 4;
  } else if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.version = 6;
  } else {
    return false;
  }
  out = a;
  return true;
}

bool Sdp::lookup(uint8_t pt, Codec& codec, uint32_t& clock) const {
  for (size_t i = 0; i < rtpmap_count; ++i) {
    if (rtpmaps[i].pt == pt) {
      codec = rtpmaps[i].codec;
      clock = rtpmaps[i].clock;
      return true;
    }
  }
  if (pt >= 96) return false;
  codec = static_codec(pt);
  clock = static_clock_rate(pt);
  return true;
}

void parse_sdp(std::string_view body, Sdp& out) {
  out = Sdp{};
  Addr session_addr;
  size_t pos = 0;
  std::string_view line;
  SdpMedia* media = nullptr;  // the m= section being read; nullptr in the session section
  bool media_has_addr = false;
  auto finish_media = [&] {
    if (media && !media_has_addr) media->addr = session_addr;
  };
  // An SDP body is small (a few hundred bytes); 256 lines bounds a hostile one.
  for (int n = 0; n < 256 && next_line(body, pos, line, false); ++n) {
    if (line.size() < 2 || line[1] != '=') continue;
    std::string_view value = line.substr(2);
    switch (line[0]) {
      case 'c': {
        // c=<nettype> <addrtype> <connection-address>[/ttl[/count]]
        if (!istarts_with(value, "IN IP4 ") && !istarts_with(value, "IN IP6 ")) {
          out.truncated = true;
          break;
        }
        std::string_view a = value.substr(7);
        a = a.substr(0, a.find('/'));
        Addr addr;
        if (!parse_addr(a, addr)) {
          out.truncated = true;
          break;
        }
        if (media) {
          media->addr = addr;
          media_has_addr = true;
        } else {
          session_addr = addr;
        }
        break;
      }
      case 'm': {
        finish_media();
        media = nullptr;
        if (out.media_count >= kMaxSdpMedia) {
          out.truncated = true;
          break;
        }
        // m=<media> <port>[/<number of ports>] <proto> <fmt> ...
        size_t sp1 = value.find(' ');
        if (sp1 == std::string_view::npos) break;
        size_t sp2 = value.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) break;
        std::string_view kind = value.substr(0, sp1);
        std::string_view port_text = value.substr(sp1 + 1, sp2 - sp1 - 1);
        port_text = port_text.substr(0, port_text.find('/'));
        uint32_t port = 0;
        if (!parse_uint(port_text, port, 5) || port > 65535) {
          out.truncated = true;
          break;
        }
        std::string_view rest = value.substr(sp2 + 1);
        size_t sp3 = rest.find(' ');
        std::string_view proto = rest.substr(0, sp3);
        SdpMedia& m = out.media[out.media_count++];
        m = SdpMedia{};
        m.kind = iequals(kind, "audio")   ? MediaKind::kAudio
                 : iequals(kind, "video") ? MediaKind::kVideo
                                          : MediaKind::kOther;
        m.rtp = ifind(proto, "RTP/") != std::string_view::npos;
        m.port = static_cast<uint16_t>(port);
        if (m.rtp && sp3 != std::string_view::npos) {
          std::string_view fmts = rest.substr(sp3 + 1);
          size_t p = 0;
          while (p < fmts.size()) {
            size_t e = fmts.find(' ', p);
            if (e == std::string_view::npos) e = fmts.size();
            uint32_t pt = 0;
            if (parse_uint(fmts.substr(p, e - p), pt, 3) && pt < 128) {
              if (m.format_count < kMaxMediaFormats) {
                m.formats[m.format_count++] = static_cast<uint8_t>(pt);
              } else {
                out.truncated = true;
              }
            }
            p = e + 1;
          }
        }
        media = &m;
        media_has_addr = false;
        break;
      }
      case 'a': {
        // a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
        if (!istarts_with(value, "rtpmap:")) break;
        std::string_view v = value.substr(7);
        size_t sp = v.find(' ');
        uint32_t pt = 0;
        if (sp == std::string_view::npos || !parse_uint(v.substr(0, sp), pt, 3) || pt > 127) {
          out.truncated = true;
          break;
        }
        std::string_view enc = trim(v.substr(sp + 1));
        size_t slash = enc.find('/');
        uint32_t clock = 0;
        if (slash != std::string_view::npos) {
          std::string_view c = enc.substr(slash + 1);
          c = c.substr(0, c.find('/'));
          if (!parse_uint(c, clock, 7)) clock = 0;
        }
        std::string_view name = enc.substr(0, slash);
        bool known = false;
        for (size_t i = 0; i < out.rtpmap_count; ++i) known |= out.rtpmaps[i].pt == pt;
        if (known) break;  // the same type in a second m= section: the first one stands
        if (out.rtpmap_count >= kMaxRtpMaps) {
          out.truncated = true;
          break;
        }
        RtpMap& r = out.rtpmaps[out.rtpmap_count++];
        r.pt = static_cast<uint8_t>(pt);
        r.codec = codec_from_name(name);
        // G.722's RTP clock is 8000 whatever its rtpmap says (RFC 3551 4.5.2; some phones
        // write G722/16000).
        r.clock = r.codec == Codec::kG722 ? 8000 : clock;
        break;
      }
      default:
        break;
    }
  }
  finish_media();
}

NameAddr parse_name_addr(std::string_view value) {
  NameAddr r;
  value = trim(value);
  std::string_view params;
  size_t lt = value.find('<');
  if (lt != std::string_view::npos) {
    size_t gt = value.find('>', lt);
    if (gt == std::string_view::npos) {
      r.uri = trim(value.substr(lt + 1));
    } else {
      r.uri = trim(value.substr(lt + 1, gt - lt - 1));
      params = value.substr(gt + 1);
    }
    std::string_view display = trim(value.substr(0, lt));
    if (display.size() >= 2 && display.front() == '"' && display.back() == '"') {
      display = display.substr(1, display.size() - 2);
    }
    r.display = display;
  } else {
    // addr-spec: parameters after the URI belong to the header (RFC 3261 20.10).
    size_t semi = value.find(';');
    r.uri = trim(value.substr(0, semi));
    if (semi != std::string_view::npos) params = value.substr(semi);
  }
  size_t t = ifind(params, ";tag=");
  if (t != std::string_view::npos) {
    std::string_view tag = params.substr(t + 5);
    tag = tag.substr(0, tag.find_first_of(";, \t"));
    r.tag = tag;
  }
  return r;
}

bool looks_like_sip(const uint8_t* data, size_t len) {
  if (!data || len < 8) return false;
  std::string_view s(reinterpret_cast<const char*>(data), len < 16 ? len : 16);
  if (s.substr(0, 8) == "SIP/2.0 ") return true;
  for (const MethodName& n : kMethods) {
    if (s.size() > n.name.size() && s.substr(0, n.name.size()) == n.name &&
        s[n.name.size()] == ' ') {
      return true;
    }
  }
  return false;
}

bool is_keepalive(const uint8_t* data, size_t len) {
  if (!data || len == 0) return false;
  for (size_t i = 0; i < len; ++i) {
    uint8_t c = data[i];
    if (c != '\r' && c != '\n' && c != ' ' && c != 0) return false;
  }
  return true;
}

Error parse_message(const uint8_t* data, size_t len, Message& m, bool allow_partial) {
  m = Message{};
  if (!data || len == 0) return Error::kBadStartLine;
  std::string_view text(reinterpret_cast<const char*>(data), len);
  size_t pos = 0;
  std::string_view line;
  if (!next_line(text, pos, line, true)) return Error::kBadStartLine;
  if (Error e = parse_start_line(line, m); e != Error::kNone) return e;

  // Headers: "name: value" lines up to an empty line. A line starting with whitespace continues
  // the previous header (RFC 3261 7.3.1); its value then spans both lines.
  bool ended = false, has_call_id = false, has_cseq = false, cseq_ok = true;
  uint32_t content_length = 0;
  bool has_length = false;
  std::string_view content_type;
  Header current = Header::kNone;
  const char* value_begin = nullptr;
  std::string_view value;
  auto commit = [&]() {
    if (current == Header::kNone) return;
    switch (current) {
      case Header::kCallId:
        if (!has_call_id) {
          m.call_id = trim(value);
          has_call_id = !m.call_id.empty();
        }
        break;
      case Header::kFrom:
        if (m.from.uri.empty()) m.from = parse_name_addr(value);
        break;
      case Header::kTo:
        if (m.to.uri.empty()) m.to = parse_name_addr(value);
        break;
      case Header::kContact:
        // Several contacts may be listed; the first one is the one that answers.
        if (m.contact.uri.empty()) m.contact = parse_name_addr(value.substr(0, value.find(',')));
        break;
      case Header::kCSeq:
        if (!has_cseq) {
          has_cseq = true;
          cseq_ok = parse_cseq(value, m);
        }
        break;
      case Header::kUserAgent:
        if (m.request && m.user_agent.empty()) m.user_agent = trim(value);
        break;
      case Header::kServer:
        if (!m.request && m.user_agent.empty()) m.user_agent = trim(value);
        break;
      case Header::kContentLength:
        has_length = parse_uint(trim(value), content_length, 9);
        break;
      case Header::kContentType:
        content_type = trim(value);
        break;
      case Header::kNone:
        break;
    }
    current = Header::kNone;
  };
  for (;;) {
    if (!next_line(text, pos, line, true)) break;
    if (line.empty()) {
      ended = true;
      break;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (current != Header::kNone) {
        value = std::string_view(value_begin,
                                 static_cast<size_t>(line.data() + line.size() - value_begin));
      }
      continue;
    }
    commit();
    if (++m.header_lines > kMaxHeaderLines) return Error::kTooManyHeaders;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // not a header; tolerated like tshark
    current = header_of(trim(line.substr(0, colon)));
    value = line.substr(colon + 1);
    value_begin = value.data();
  }
  commit();
  if (!ended) {
    if (!allow_partial) return Error::kNoHeaderEnd;
    m.partial_headers = true;
  }
  if (!has_call_id) return Error::kMissingCallId;
  if (!has_cseq || !cseq_ok) return Error::kBadCSeq;
  // A request's CSeq names its own method (RFC 3261 8.1.1.5; CANCEL and ACK included).
  if (m.request && m.cseq_method_text != m.method_text) return Error::kBadCSeq;

  size_t body_len = 0;
  if (ended) {
    size_t available = len - pos;
    // Without Content-Length (allowed over UDP) the body is the rest of the datagram.
    body_len = has_length ? content_length : available;
    if (body_len > available) {
      m.partial_body = true;
      body_len = available;
    }
    m.length = pos + body_len;
  } else {
    m.length = len;
  }
  std::string_view body = text.substr(pos, body_len);
  bool sdp_type = ifind(content_type, "application/sdp") != std::string_view::npos;
  if (body_len > 0 && (sdp_type || (content_type.empty() && body.substr(0, 3) == "v=0"))) {
    m.has_sdp = true;
    parse_sdp(body, m.sdp);
  }
  return Error::kNone;
}

}  // namespace wiremeter::voip
