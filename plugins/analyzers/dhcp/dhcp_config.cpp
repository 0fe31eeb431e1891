// dhcp: the settings parser. See dhcp_config.hpp.
#include "dhcp_config.hpp"

#include <stdexcept>
#include <string>

namespace wiremeter::dhcp {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument("dhcp: " + msg); }

struct Field {
  const char* name;
  uint32_t Limits::*member;
  uint32_t min, max;
};
// Upper bounds keep one worker's tables under a few GB even when every one is raised.
constexpr Field kFields[] = {
    {"clients", &Limits::clients, 1, 1'000'000},
    {"servers", &Limits::servers, 1, 65'536},
    {"leases", &Limits::leases, 1, 1'000'000},
    {"transactions", &Limits::transactions, 1, 1'000'000},
    {"open_transactions", &Limits::open_transactions, 1, 1'000'000},
    {"request_slots", &Limits::request_slots, 16, 16'777'216},
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}
  Limits parse() {
    Limits l;
    ws();
    expect('{', "expected a JSON object");
    ws();
    if (peek() == '}') {
      ++i_;
    } else {
      for (;;) {
        ws();
        std::string key = name();
        ws();
        expect(':', key + ": expected ':'");
        ws();
        const Field* f = nullptr;
        for (const Field& k : kFields) {
          if (key == k.name) f = &k;
        }
        if (!f) fail(key + ": unknown field");
        l.*(f->member) = number(*f);
        ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}', "expected ',' or '}' after " + key);
        break;
      }
    }
    ws();
    if (i_ != s_.size()) fail("unexpected text after the object");
    return l;
  }

 private:
  std::string name() {
    if (peek() != '"') fail("expected a field name");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' || static_cast<unsigned char>(s_[i_]) < 0x20) fail("bad field name");
      out.push_back(s_[i_++]);
    }
    expect('"', "unterminated field name");
    return out;
  }
  uint32_t number(const Field& f) {
    std::string msg = std::string(f.name) + ": expected a whole number from " +
                      std::to_string(f.min) + " to " + std::to_string(f.max);
    if (peek() < '0' || peek() > '9') fail(msg);
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + static_cast<uint64_t>(s_[i_++] - '0');
      if (v > f.max) fail(msg);
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E' || v < f.min) fail(msg);
    return static_cast<uint32_t>(v);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++i_;
  }
  void expect(char c, const std::string& msg) {
    if (peek() != c) fail(msg);
    ++i_;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Limits parse_limits(std::string_view json) { return Parser(json).parse(); }

}  // namespace wiremeter::dhcp
