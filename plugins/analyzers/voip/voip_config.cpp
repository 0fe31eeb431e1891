// voip: parser for the plugin's flat JSON settings.
#include "voip_config.hpp"

#include <stdexcept>
#include <string>

namespace wiremeter::voip {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Config parse() {
    Config c;
    ws();
    expect('{', "voip: expected a JSON object");
    ws();
    if (peek() == '}') {
      ++i_;
    } else {
      for (;;) {
        ws();
        std::string key = name();
        ws();
        expect(':', "voip." + key + ": expected ':'");
        ws();
        field(c, key);
        ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}', "voip: expected ',' or '}' after voip." + key);
        break;
      }
    }
    ws();
    if (i_ != s_.size()) fail("voip: unexpected text after the object");
    return c;
  }

 private:
  void field(Config& c, const std::string& key) {
    std::string where = "voip." + key;
    if (key == "calls") {
      c.calls = uint_value(where, 16, 1'000'000);
    } else if (key == "streams") {
      c.streams = uint_value(where, 16, 1'000'000);
    } else if (key == "media_hints") {
      c.media_hints = uint_value(where, 16, 1'000'000);
    } else if (key == "heuristic_rtp") {
      c.heuristic_rtp = bool_value(where);
    } else {
      fail(where + ": unknown field");
    }
  }

  std::string name() {
    if (peek() != '"') fail("voip: expected a field name");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' || static_cast<unsigned char>(s_[i_]) < 0x20 || out.size() > 64) {
        fail("voip: bad field name");
      }
      out.push_back(s_[i_++]);
    }
    expect('"', "voip: unterminated field name");
    return out;
  }

  uint32_t uint_value(const std::string& where, uint32_t lo, uint32_t hi) {
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

  bool bool_value(const std::string& where) {
    if (s_.substr(i_, 4) == "true") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "false") {
      i_ += 5;
      return false;
    }
    fail(where + ": expected true or false");
  }

  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void expect(char c, const std::string& msg) {
    if (peek() != c) fail(msg);
    ++i_;
  }
  [[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Config parse_config(std::string_view json) { return Parser(json).parse(); }

}  // namespace wiremeter::voip
