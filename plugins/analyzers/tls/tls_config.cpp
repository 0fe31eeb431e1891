#include "tls_config.hpp"

#include <stdexcept>
#include <string>

namespace wiremeter::tls {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Config parse() {
    Config c;
    ws();
    expect('{', "tls: expected a JSON object");
    ws();
    if (peek() == '}') {
      ++i_;
    } else {
      for (;;) {
        ws();
        std::string key = name();
        ws();
        expect(':', "tls." + key + ": expected ':'");
        ws();
        field(c, key);
        ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}', "tls: expected ',' or '}' after tls." + key);
        break;
      }
    }
    ws();
    if (i_ != s_.size()) fail("tls: unexpected text after the object");
    return c;
  }

 private:
  void field(Config& c, const std::string& key) {
    std::string where = "tls." + key;
    if (key == "stream_slots") {
      c.stream_slots = number(where, 1, 1'000'000);
    } else if (key == "stream_bytes") {
      c.stream_bytes = number(where, 1024, 1u << 20);
    } else if (key == "connections") {
      c.connections = number(where, 1, 10'000'000);
    } else if (key == "server_names") {
      c.server_names = number(where, 1, 10'000'000);
    } else if (key == "certificates") {
      c.certificates = number(where, 1, 10'000'000);
    } else if (key == "expiring_days") {
      c.expiring_days = number(where, 0, 3650);
    } else {
      fail(where + ": unknown field");
    }
  }
  std::string name() {
    if (peek() != '"') fail("tls: expected a field name");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') fail("tls: escapes are not allowed in field names");
      out.push_back(s_[i_++]);
    }
    expect('"', "tls: unterminated field name");
    return out;
  }
  uint32_t number(const std::string& where, uint32_t lo, uint32_t hi) {
    std::string msg =
        where + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    uint64_t v = 0;
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + static_cast<uint64_t>(s_[i_++] - '0');
      if (v > hi) fail(msg);
    }
    if (i_ == start || v < lo) fail(msg);
    return static_cast<uint32_t>(v);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
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

}  // namespace wiremeter::tls
