#include "l2_config.hpp"

#include <stdexcept>
#include <string>

namespace wiremeter::l2 {
namespace {

struct Field {
  const char* name;
  uint32_t Config::*member;
  uint32_t min, max;
};

constexpr Field kFields[] = {
    {"vlan_pairs", &Config::vlan_pairs, 1, 1'000'000},
    {"mpls_labels", &Config::mpls_labels, 1, 1'048'576},
    {"multicast_groups", &Config::multicast_groups, 1, 1'000'000},
    {"arp_bindings", &Config::arp_bindings, 1, 4'000'000},
    {"arp_pending", &Config::arp_pending, 1, 1'000'000},
    {"arp_conflicts", &Config::arp_conflicts, 1, 1'000'000},
    {"stp_bridges", &Config::stp_bridges, 1, 100'000},
    {"lldp_neighbours", &Config::lldp_neighbours, 1, 100'000},
    {"arp_reply_timeout_ms", &Config::arp_reply_timeout_ms, 1, 3'600'000},
    {"arp_conflict_window_ms", &Config::arp_conflict_window_ms, 0, 86'400'000},
};

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Config parse() {
    Config c;
    ws();
    expect('{', "l2: expected a JSON object");
    ws();
    if (peek() == '}') {
      ++i_;
    } else {
      for (;;) {
        ws();
        std::string key = name();
        ws();
        expect(':', "l2." + key + ": expected ':'");
        ws();
        const Field* f = nullptr;
        for (const Field& k : kFields) {
          if (key == k.name) f = &k;
        }
        if (!f) fail("l2." + key + ": unknown field");
        c.*(f->member) = integer("l2." + key, f->min, f->max);
        ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}', "l2: expected ',' or '}' after l2." + key);
        break;
      }
    }
    ws();
    if (i_ != s_.size()) fail("l2: unexpected text after the object");
    return c;
  }

 private:
  // Field names are plain identifiers: escapes would only serve to spell an unknown field.
  std::string name() {
    if (peek() != '"') fail("l2: expected a field name");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
        fail("l2: bad character in a field name");
      }
      out.push_back(c);
    }
    if (i_ >= s_.size()) fail("l2: unterminated field name");
    ++i_;
    return out;
  }

  uint32_t integer(const std::string& where, uint32_t lo, uint32_t hi) {
    std::string msg =
        where + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    if (peek() < '0' || peek() > '9') fail(msg);
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + static_cast<uint64_t>(s_[i_++] - '0');
      if (v > hi) fail(msg);
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E' || v < lo) fail(msg);
    return static_cast<uint32_t>(v);
  }

  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  void expect(char c, const std::string& msg) {
    if (peek() != c) fail(msg);
    ++i_;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Config parse_config(std::string_view json) { return Parser(json).parse(); }

}  // namespace wiremeter::l2
