// dpi: parser for the plugin's flat JSON config section.
#include "dpi_config.hpp"

#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace wiremeter::dpi {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Config parse() {
    Config c;
    skip_ws();
    expect('{', "dpi: expected a JSON object");
    skip_ws();
    if (peek() == '}') {
      ++i_;
    } else {
      for (;;) {
        skip_ws();
        if (peek() != '"') fail("dpi: expected a field name");
        std::string key = string_value("dpi");
        skip_ws();
        expect(':', "dpi." + key + ": expected ':'");
        skip_ws();
        field(c, key);
        skip_ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}', "dpi: expected ',' or '}' after dpi." + key);
        break;
      }
    }
    skip_ws();
    if (i_ != s_.size()) fail("dpi: unexpected text after the object");
    return c;
  }

 private:
  void field(Config& c, const std::string& key) {
    std::string where = "dpi." + key;
    if (key == "protos_file") {
      c.protos_file = string_field(where);
    } else if (key == "categories_file") {
      c.categories_file = string_field(where);
    } else if (key == "risky_domains_file") {
      c.risky_domains_file = string_field(where);
    } else if (key == "ja3_file") {
      c.ja3_file = string_field(where);
    } else if (key == "sha1_file") {
      c.sha1_file = string_field(where);
    } else if (key == "inspect_flows") {
      c.inspect_flows = uint_field(where, 1, 16'000'000);
    } else if (key == "ended_flows") {
      c.ended_flows = uint_field(where, 0, 16'000'000);
    } else if (key == "max_tcp_packets") {
      c.max_tcp_packets = uint_field(where, 1, 65000);
    } else if (key == "max_udp_packets") {
      c.max_udp_packets = uint_field(where, 1, 65000);
    } else if (key == "max_other_packets") {
      c.max_other_packets = uint_field(where, 1, 65000);
    } else {
      fail(where + ": unknown field");
    }
  }

  std::string string_field(const std::string& where) {
    if (peek() != '"') fail(where + ": expected a string");
    return string_value(where);
  }

  uint32_t uint_field(const std::string& where, uint32_t lo, uint32_t hi) {
    std::string msg =
        where + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    if (!std::isdigit(static_cast<unsigned char>(peek()))) fail(msg);
    uint64_t v = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      v = v * 10 + static_cast<uint64_t>(s_[i_++] - '0');
      if (v > hi) fail(msg);
    }
    // A fraction or exponent is not an integer, even when it happens to be whole.
    if (peek() == '.' || peek() == 'e' || peek() == 'E' || v < lo) fail(msg);
    return static_cast<uint32_t>(v);
  }

  // Reads a JSON string at i_ (which is at the opening quote).
  std::string string_value(const std::string& where) {
    ++i_;
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail(where + ": unterminated string");
      char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail(where + ": control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) fail(where + ": unterminated string");
      char e = s_[i_++];
      static constexpr std::string_view kEscaped = "\"\\/bfnrt", kMeant = "\"\\/\b\f\n\r\t";
      if (e == 'u') {
        append_utf8(out, hex4(where), where);
      } else if (size_t k = kEscaped.find(e); k != std::string_view::npos) {
        out.push_back(kMeant[k]);
      } else {
        fail(where + ": bad escape in string");
      }
    }
  }

  uint32_t hex4(const std::string& where) {
    if (s_.size() - i_ < 4) fail(where + ": bad \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = s_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        fail(where + ": bad \\u escape");
      }
    }
    return v;
  }

  // Paths are the only strings here; surrogate pairs (characters beyond the BMP) are refused
  // rather than decoded, which keeps this parser short.
  void append_utf8(std::string& out, uint32_t cp, const std::string& where) {
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) fail(where + ": unsupported \\u escape");
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  void expect(char c, const std::string& msg) {
    if (peek() != c) fail(msg);
    ++i_;
  }
  [[noreturn]] static void fail(const std::string& msg) { throw std::invalid_argument(msg); }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Config parse_config(std::string_view json) { return Parser(json).parse(); }

}  // namespace wiremeter::dpi
