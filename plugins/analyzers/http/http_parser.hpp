// http: the HTTP/1.x wire parser. Pure functions over byte spans, no state, no allocation.
//
// A message is read in framing units: the header block (request or status line and header
// fields up to the empty line), then the body, whose length the header block decides (RFC 9112
// section 6): Content-Length, chunked transfer coding (chunk-size lines read here, chunk data
// skipped by the caller), or until the connection closes. The caller owns the stream and the
// skipping; these functions only read one unit from the bytes they are given.
//
// Every function reads only inside its span, whatever the bytes are; malformed input is an
// Error value, never an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace wiremeter::http {

enum class Method : uint8_t {
  kGet,
  kPost,
  kHead,
  kPut,
  kDelete,
  kOptions,
  kPatch,
  kConnect,
  kTrace,
  kOther,  // any other token (WebDAV, extensions): counted, not named in metrics
  kCount,
};
inline constexpr size_t kMethodCount = static_cast<size_t>(Method::kCount);
const char* method_name(Method m);
Method method_of(std::string_view token);

enum class Error : uint8_t {
  kNone,
  kBadRequestLine,      // not "method SP target SP HTTP/x.y"
  kBadStatusLine,       // not "HTTP/x.y SP 3DIGIT [SP reason]"
  kBadHeader,           // a header line without a colon or with a bad name
  kBadContentLength,    // not digits, or several different values
  kHeaderTooLong,       // no end of the header block within the window
  kBadChunk,            // a chunk-size line that is not hex, or too long
  kTooManyLeadingCrlf,  // more empty lines before a message than any client sends
  kCount,
};
inline constexpr size_t kErrorCount = static_cast<size_t>(Error::kCount);
const char* error_name(Error e);

// Does this look like the first bytes of an HTTP/1.x message? Used to decide that a TCP flow
// carries HTTP, on any port, and to find the next message after a gap. Only well-known method
// tokens count as requests here, so that other protocols are not taken for HTTP.
enum class Start : uint8_t { kNo, kRequest, kResponse, kMaybe /* too few bytes to tell */ };
Start classify_start(std::span<const uint8_t> data);

// Bytes before the end of the header block, the empty line included, or 0 when the block is not
// complete in `data`. Accepts CRLF and bare LF line ends, as servers and Zeek do.
size_t header_block_length(std::span<const uint8_t> data);

// Leading empty lines that RFC 9112 section 2.2 says a reader ignores before a request (clients
// send a stray CRLF after a POST body). Returns how many bytes to skip.
size_t leading_empty_lines(std::span<const uint8_t> data);

// The fields both message kinds share. Text views point into the parsed block.
struct Framing {
  bool has_length = false;
  uint64_t content_length = 0;
  bool chunked = false;  // Transfer-Encoding ends in chunked: overrides Content-Length
  bool close = false;    // Connection: close
  bool upgrade = false;  // an Upgrade header field (101 then switches protocols)
  std::string_view content_type;
};

struct Request {
  Method method = Method::kOther;
  std::string_view method_text, uri, version;  // version: "1.1"
  std::string_view host, user_agent, referer;
  Framing framing;
};

struct Response {
  std::string_view version;
  uint16_t status = 0;
  std::string_view reason;
  Framing framing;
};

// Parse one complete header block (as header_block_length measured it).
Error parse_request(std::span<const uint8_t> block, Request& out);
Error parse_response(std::span<const uint8_t> block, Response& out);

// A chunk-size line "1a3f[;ext]\r\n" at the start of `data` (leading CR/LF left over from the
// previous chunk's data are skipped). kOk sets the bytes of the line (skipped bytes included)
// and the chunk size.
enum class ChunkLine : uint8_t { kIncomplete, kOk, kBad };
inline constexpr size_t kMaxChunkLine = 1024;  // extensions included
ChunkLine parse_chunk_line(std::span<const uint8_t> data, size_t& line_bytes, uint64_t& size);

// The trailer section after the last chunk: either an empty line, or header lines up to one.
// Returns its length, or 0 when not complete.
size_t trailer_length(std::span<const uint8_t> data);

// Text for logs and JSON: printable ASCII and valid UTF-8 are copied, any other byte becomes
// "\xNN" (as Zeek writes it). Cut at `cap - 1` bytes on a character boundary; NUL-terminated.
// Returns the length written.
size_t copy_text(char* dst, size_t cap, std::string_view src) noexcept;

}  // namespace wiremeter::http
