#include "http_parser.hpp"

#include <array>
#include <cstring>

namespace wiremeter::http {
namespace {

constexpr std::array<const char*, kMethodCount> kMethodNames = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "other"};

// Methods that mark the start of a flow as HTTP: RFC 9110's, PATCH, and the WebDAV ones that
// browsers and sync clients send. Anything else is parsed inside an HTTP flow, but never makes a
// flow HTTP: a protocol whose first word happens to be a token must not look like a request.
constexpr std::array<std::string_view, 20> kStartMethods = {
    "GET",     "POST",   "HEAD",     "PUT",       "DELETE",     "OPTIONS", "PATCH",
    "CONNECT", "TRACE",  "PROPFIND", "PROPPATCH", "MKCOL",      "COPY",    "MOVE",
    "LOCK",    "UNLOCK", "REPORT",   "SEARCH",    "MKCALENDAR", "PURGE"};

constexpr size_t kMaxLeadingEmptyLines = 8;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// RFC 9110 5.6.2 tchar.
bool tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// "HTTP/d.d" -> "d.d"; empty when it is not an HTTP version.
std::string_view http_version(std::string_view s) {
  if (s.size() != 8 || s.substr(0, 5) != "HTTP/" || s[5] < '0' || s[5] > '9' || s[6] != '.' ||
      s[7] < '0' || s[7] > '9') {
    return {};
  }
  return s.substr(5);
}

// Splits the block into its lines (without the line end); calls visit(line) for each until the
// empty line. Returns false if visit does.
template <typename Visit>
bool for_each_line(std::string_view block, Visit&& visit) {
  size_t pos = 0;
  while (pos < block.size()) {
    size_t nl = block.find('\n', pos);
    if (nl == std::string_view::npos) nl = block.size();
    std::string_view line = block.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (line.empty()) break;
    if (!visit(line)) return false;
  }
  return true;
}

// Reads the header fields after the start line into the shared framing and the request's
// named fields (when `request` is given).
Error parse_fields(std::string_view fields, Framing& f, Request* request) {
  bool bad_length = false;
  bool first = true;
  bool ok = for_each_line(fields, [&](std::string_view line) {
    if (line.front() == ' ' || line.front() == '\t') {
      // obs-fold (RFC 9112 5.2): a continuation of the previous field. Not after the start
      // line, though: there it would be a malformed first field.
      return !first;
    }
    first = false;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!tchar(c)) return false;
    }
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      uint64_t n = 0;
      if (value.empty() || value.size() > 18) {
        bad_length = true;
        return true;
      }
      for (char c : value) {
        if (c < '0' || c > '9') {
          bad_length = true;
          return true;
        }
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (f.has_length && f.content_length != n) bad_length = true;
      f.has_length = true;
      f.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      // The last coding decides (RFC 9112 6.3): "gzip, chunked" is chunked.
      std::string_view last = value;
      size_t comma = last.rfind(',');
      if (comma != std::string_view::npos) last = trim(last.substr(comma + 1));
      f.chunked = iequals(last, "chunked");
    } else if (iequals(name, "connection")) {
      if (icontains(value, "close")) f.close = true;
    } else if (iequals(name, "upgrade")) {
      f.upgrade = true;
    } else if (iequals(name, "content-type")) {
      f.content_type = value;
    } else if (request) {
      if (iequals(name, "host")) {
        request->host = value;
      } else if (iequals(name, "user-agent")) {
        request->user_agent = value;
      } else if (iequals(name, "referer")) {
        request->referer = value;
      }
    }
    return true;
  });
  if (!ok) return Error::kBadHeader;
  if (bad_length && !f.chunked) return Error::kBadContentLength;
  return Error::kNone;
}

std::string_view as_text(std::span<const uint8_t> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// The first line and the rest.
std::pair<std::string_view, std::string_view> split_first_line(std::string_view block) {
  size_t nl = block.find('\n');
  if (nl == std::string_view::npos) return {block, {}};
  std::string_view line = block.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return {line, block.substr(nl + 1)};
}

}  // namespace

const char* method_name(Method m) {
  size_t i = static_cast<size_t>(m);
  return i < kMethodCount ? kMethodNames[i] : "other";
}

Method method_of(std::string_view token) {
  for (size_t i = 0; i + 1 < kMethodCount; ++i) {
    if (token == kMethodNames[i]) return static_cast<Method>(i);
  }
  return Method::kOther;
}

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone:
      return "none";
    case Error::kBadRequestLine:
      return "bad_request_line";
    case Error::kBadStatusLine:
      return "bad_status_line";
    case Error::kBadHeader:
      return "bad_header";
    case Error::kBadContentLength:
      return "bad_content_length";
    case Error::kHeaderTooLong:
      return "header_too_long";
    case Error::kBadChunk:
      return "bad_chunk";
    case Error::kTooManyLeadingCrlf:
      return "too_many_empty_lines";
    case Error::kCount:
      break;
  }
  return "unknown";
}

Start classify_start(std::span<const uint8_t> data) {
  std::string_view s = as_text(data);
  constexpr std::string_view kHttp = "HTTP/1.";
  if (s.size() < kHttp.size() && kHttp.substr(0, s.size()) == s && !s.empty()) return Start::kMaybe;
  if (s.substr(0, kHttp.size()) == kHttp) return Start::kResponse;
  bool maybe = false;
  for (std::string_view m : kStartMethods) {
    if (s.size() > m.size()) {
      if (s.substr(0, m.size()) == m && s[m.size()] == ' ') return Start::kRequest;
    } else if (!s.empty() && m.substr(0, s.size()) == s) {
      maybe = true;  // "GE", or "GET" without its space yet
    }
  }
  return maybe ? Start::kMaybe : Start::kNo;
}

size_t header_block_length(std::span<const uint8_t> data) {
  // The end is an empty line: "\n\n" or "\n\r\n". A block that is only an empty line does not
  // occur here (leading_empty_lines skipped those).
  const uint8_t* p = data.data();
  size_t n = data.size();
  for (size_t i = 0; i < n; ++i) {
    const void* hit = std::memchr(p + i, '\n', n - i);
    if (!hit) return 0;
    i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - p);
    if (i + 1 < n && p[i + 1] == '\n') return i + 2;
    if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') return i + 3;
  }
  return 0;
}

size_t leading_empty_lines(std::span<const uint8_t> data) {
  size_t i = 0;
  while (i < data.size() && (data[i] == '\r' || data[i] == '\n')) ++i;
  return i;
}

Error parse_request(std::span<const uint8_t> block, Request& out) {
  out = Request{};
  auto [line, fields] = split_first_line(as_text(block));
  // method SP request-target SP HTTP-version (RFC 9112 3).
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp1 > 32) return Error::kBadRequestLine;
  std::string_view method = line.substr(0, sp1);
  for (char c : method) {
    if (!tchar(c)) return Error::kBadRequestLine;
  }
  size_t sp2 = line.rfind(' ');
  if (sp2 <= sp1 + 1) return Error::kBadRequestLine;
  std::string_view version = http_version(line.substr(sp2 + 1));
  if (version.empty()) return Error::kBadRequestLine;
  out.method_text = method;
  out.method = method_of(method);
  out.uri = trim(line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (out.uri.empty()) return Error::kBadRequestLine;
  out.version = version;
  return parse_fields(fields, out.framing, &out);
}

Error parse_response(std::span<const uint8_t> block, Response& out) {
  out = Response{};
  auto [line, fields] = split_first_line(as_text(block));
  // HTTP-version SP 3DIGIT SP [reason] (RFC 9112 4); the SP before an empty reason is often
  // missing in practice.
  if (line.size() < 12 || line[8] != ' ') return Error::kBadStatusLine;
  std::string_view version = http_version(line.substr(0, 8));
  if (version.empty()) return Error::kBadStatusLine;
  uint16_t status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return Error::kBadStatusLine;
    status = static_cast<uint16_t>(status * 10 + (line[i] - '0'));
  }
  if (status < 100 || status > 599) return Error::kBadStatusLine;
  if (line.size() > 12 && line[12] != ' ') return Error::kBadStatusLine;
  out.version = version;
  out.status = status;
  out.reason = line.size() > 13 ? trim(line.substr(13)) : std::string_view();
  return parse_fields(fields, out.framing, nullptr);
}

ChunkLine parse_chunk_line(std::span<const uint8_t> data, size_t& line_bytes, uint64_t& size) {
  size_t i = leading_empty_lines(data);
  if (i > 4) return ChunkLine::kBad;  // the CRLF after chunk data, not a run of empty lines
  size_t start = i;
  uint64_t n = 0;
  size_t digits = 0;
  for (; i < data.size(); ++i) {
    uint8_t c = data[i];
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0) break;
    if (++digits > 15) return ChunkLine::kBad;  // beyond 2^60: not a real chunk
    n = n << 4 | static_cast<uint64_t>(v);
  }
  if (i == data.size()) return i - start > kMaxChunkLine ? ChunkLine::kBad : ChunkLine::kIncomplete;
  if (digits == 0) return ChunkLine::kBad;
  // Extensions (";name=value") and whitespace up to the line end.
  uint8_t c = data[i];
  if (c != ';' && c != ' ' && c != '\t' && c != '\r' && c != '\n') return ChunkLine::kBad;
  const void* nl = std::memchr(data.data() + i, '\n', data.size() - i);
  if (!nl) return data.size() - start > kMaxChunkLine ? ChunkLine::kBad : ChunkLine::kIncomplete;
  size_t end = static_cast<size_t>(static_cast<const uint8_t*>(nl) - data.data()) + 1;
  if (end - start > kMaxChunkLine) return ChunkLine::kBad;
  line_bytes = end;
  size = n;
  return ChunkLine::kOk;
}

size_t trailer_length(std::span<const uint8_t> data) {
  if (data.empty()) return 0;
  if (data[0] == '\n') return 1;
  if (data[0] == '\r') return data.size() >= 2 ? (data[1] == '\n' ? 2 : 0) : 0;
  return header_block_length(data);
}

size_t copy_text(char* dst, size_t cap, std::string_view src) noexcept {
  if (cap == 0) return 0;
  static constexpr char kHex[] = "0123456789abcdef";
  size_t out = 0;
  const auto* s = reinterpret_cast<const uint8_t*>(src.data());
  for (size_t i = 0; i < src.size();) {
    uint8_t b = s[i];
    size_t len = b >= 0x20 && b < 0x7f    ? 1
                 : b >= 0xc2 && b <= 0xdf ? 2
                 : b >= 0xe0 && b <= 0xef ? 3
                 : b >= 0xf0 && b <= 0xf4 ? 4
                                          : 0;
    if (len > 1) {
      if (i + len > src.size()) {
        len = 0;
      } else {
        for (size_t k = 1; k < len; ++k) {
          if ((s[i + k] & 0xc0) != 0x80) len = 0;
        }
        // Overlong 3- and 4-byte forms, surrogates and code points past U+10FFFF are not UTF-8.
        if (len == 3 && ((b == 0xe0 && s[i + 1] < 0xa0) || (b == 0xed && s[i + 1] >= 0xa0))) {
          len = 0;
        }
        if (len == 4 && ((b == 0xf0 && s[i + 1] < 0x90) || (b == 0xf4 && s[i + 1] >= 0x90))) {
          len = 0;
        }
      }
    }
    if (len == 0) {
      if (out + 4 > cap - 1) break;
      dst[out++] = '\\';
      dst[out++] = 'x';
      dst[out++] = kHex[b >> 4];
      dst[out++] = kHex[b & 15];
      ++i;
      continue;
    }
    if (out + len > cap - 1) break;
    std::memcpy(dst + out, s + i, len);
    out += len;
    i += len;
  }
  dst[out] = '\0';
  return out;
}

}  // namespace wiremeter::http
