#include "http_parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wiremeter::http {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(HttpParser, ReadsARequestAndTheFieldsTheTablesNeed) {
  std::string block =
      "POST /api/v1/items?id=7 HTTP/1.1\r\n"
      "Host: Example.org:8080\r\n"
      "user-agent:  curl/8.5.0 \r\n"
      "Referer: http://example.org/\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 42\r\n"
      "Connection: keep-alive, close\r\n"
      "\r\n";
  ASSERT_EQ(header_block_length(bytes(block + "{\"body\":1}")), block.size());
  Request r;
  ASSERT_EQ(parse_request(bytes(block), r), Error::kNone);
  EXPECT_EQ(r.method, Method::kPost);
  EXPECT_EQ(r.method_text, "POST");
  EXPECT_EQ(r.uri, "/api/v1/items?id=7");
  EXPECT_EQ(r.version, "1.1");
  EXPECT_EQ(r.host, "Example.org:8080");
  EXPECT_EQ(r.user_agent, "curl/8.5.0");
  EXPECT_EQ(r.referer, "http://example.org/");
  EXPECT_EQ(r.framing.content_type, "application/json");
  EXPECT_TRUE(r.framing.has_length);
  EXPECT_EQ(r.framing.content_length, 42u);
  EXPECT_FALSE(r.framing.chunked);
  EXPECT_TRUE(r.framing.close);
}

TEST(HttpParser, ReadsResponsesWithOrWithoutReason) {
  Response r;
  ASSERT_EQ(parse_response(bytes("HTTP/1.0 304 Not Modified\r\nX: y\r\n\r\n"), r), Error::kNone);
  EXPECT_EQ(r.version, "1.0");
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.reason, "Not Modified");
  ASSERT_EQ(parse_response(bytes("HTTP/1.1 200\r\n\r\n"), r), Error::kNone);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.reason, "");
  ASSERT_EQ(parse_response(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n"
                                 "Content-Length: 10\r\n\r\n"),
                           r),
            Error::kNone);
  EXPECT_TRUE(r.framing.chunked);  // the last coding is chunked: it wins over Content-Length
}

TEST(HttpParser, MalformedMessagesHaveTheirReason) {
  Request q;
  Response r;
  EXPECT_EQ(parse_request(bytes("GET\r\n\r\n"), q), Error::kBadRequestLine);
  EXPECT_EQ(parse_request(bytes("GET / HTTX/1.1\r\n\r\n"), q), Error::kBadRequestLine);
  EXPECT_EQ(parse_request(bytes("G(T / HTTP/1.1\r\n\r\n"), q), Error::kBadRequestLine);
  EXPECT_EQ(parse_request(bytes("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), q), Error::kBadHeader);
  EXPECT_EQ(parse_request(bytes("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), q), Error::kBadHeader);
  EXPECT_EQ(
      parse_request(bytes("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), q),
      Error::kBadContentLength);
  EXPECT_EQ(parse_request(bytes("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), q),
            Error::kBadContentLength);
  EXPECT_EQ(parse_response(bytes("HTTP/1.1 20 OK\r\n\r\n"), r), Error::kBadStatusLine);
  EXPECT_EQ(parse_response(bytes("HTTP/1.1 999 Nope\r\n\r\n"), r), Error::kBadStatusLine);
  EXPECT_EQ(parse_response(bytes("HTTP/1.1 2000 OK\r\n\r\n"), r), Error::kBadStatusLine);
  // Equal duplicates are allowed (RFC 9110 8.6).
  EXPECT_EQ(
      parse_request(bytes("GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"), q),
      Error::kNone);
  // A folded continuation line belongs to the field before it.
  EXPECT_EQ(parse_request(bytes("GET / HTTP/1.1\r\nX-Long: a\r\n  b\r\nHost: h\r\n\r\n"), q),
            Error::kNone);
  EXPECT_EQ(q.host, "h");
}

TEST(HttpParser, FindsTheEndOfAHeaderBlockWithCrlfOrBareLf) {
  EXPECT_EQ(header_block_length(bytes("GET / HTTP/1.1\r\nHost: a\r\n")), 0u);
  EXPECT_EQ(header_block_length(bytes("GET / HTTP/1.1\nHost: a\n\nBODY")), 24u);
  EXPECT_EQ(header_block_length(bytes("GET / HTTP/1.1\r\n\r\n")), 18u);
  EXPECT_EQ(leading_empty_lines(bytes("\r\n\r\nGET")), 4u);
}

TEST(HttpParser, TellsAMessageStartFromOtherProtocols) {
  EXPECT_EQ(classify_start(bytes("GET / HTTP/1.1")), Start::kRequest);
  EXPECT_EQ(classify_start(bytes("PROPFIND /x HTTP/1.1")), Start::kRequest);
  EXPECT_EQ(classify_start(bytes("HTTP/1.1 200 OK")), Start::kResponse);
  EXPECT_EQ(classify_start(bytes("GE")), Start::kMaybe);
  EXPECT_EQ(classify_start(bytes("HTTP/")), Start::kMaybe);
  EXPECT_EQ(classify_start(bytes("\x16\x03\x01\x02\x00")), Start::kNo);  // a TLS ClientHello
  EXPECT_EQ(classify_start(bytes("SSH-2.0-OpenSSH_9.6")), Start::kNo);
  EXPECT_EQ(classify_start(bytes("GETX / HTTP/1.1")), Start::kNo);
  EXPECT_EQ(classify_start(bytes("HTTP/2.0 200")), Start::kNo);
  EXPECT_EQ(classify_start(bytes("")), Start::kNo);
}

TEST(HttpParser, ReadsChunkSizeLines) {
  size_t line = 0;
  uint64_t size = 0;
  ASSERT_EQ(parse_chunk_line(bytes("1a;name=value\r\nDATA"), line, size), ChunkLine::kOk);
  EXPECT_EQ(line, 15u);
  EXPECT_EQ(size, 26u);
  // The CRLF that ends the previous chunk's data is skipped.
  ASSERT_EQ(parse_chunk_line(bytes("\r\n0\r\n\r\n"), line, size), ChunkLine::kOk);
  EXPECT_EQ(line, 5u);
  EXPECT_EQ(size, 0u);
  EXPECT_EQ(parse_chunk_line(bytes("ff"), line, size), ChunkLine::kIncomplete);
  EXPECT_EQ(parse_chunk_line(bytes("zz\r\n"), line, size), ChunkLine::kBad);
  EXPECT_EQ(parse_chunk_line(bytes("1234567890abcdef0\r\n"), line, size), ChunkLine::kBad);
  EXPECT_EQ(parse_chunk_line(bytes("5" + std::string(2000, ' ')), line, size), ChunkLine::kBad);
  EXPECT_EQ(trailer_length(bytes("\r\nGET")), 2u);
  EXPECT_EQ(trailer_length(bytes("Expires: 0\r\n\r\n")), 14u);
  EXPECT_EQ(trailer_length(bytes("Expires: 0\r\n")), 0u);
}

TEST(HttpParser, CopiesTextAsValidUtf8AndEscapesTheRest) {
  char buf[32];
  EXPECT_EQ(copy_text(buf, sizeof buf, "caf\xc3\xa9"), 5u);
  EXPECT_STREQ(buf, "caf\xc3\xa9");
  EXPECT_EQ(copy_text(buf, sizeof buf, std::string_view("a\xff\x01", 3)), 9u);
  EXPECT_STREQ(buf, "a\\xff\\x01");
  // Cut on a character boundary: "\xNN" is never split.
  EXPECT_EQ(copy_text(buf, 6, std::string_view("ab\xff", 3)), 2u);
  EXPECT_STREQ(buf, "ab");
  EXPECT_EQ(method_of("PATCH"), Method::kPatch);
  EXPECT_EQ(method_of("PROPFIND"), Method::kOther);
  EXPECT_STREQ(method_name(Method::kOther), "other");
}

}  // namespace
}  // namespace wiremeter::http
