#include "ip_config.hpp"

#include <cctype>
#include <stdexcept>
#include <string>

namespace wiremeter::ip {
namespace {

struct Field {
  const char* name;
  uint32_t Settings::*member;
  uint64_t min, max;
};
constexpr Field kFields[] = {
    {"max_hosts", &Settings::max_hosts, 1, 1u << 24},
    {"max_names", &Settings::max_names, 1, 1u << 22},
    {"metrics_top", &Settings::metrics_top, 0, 1000},
};

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

}  // namespace

Settings parse_settings(std::string_view s) {
  Settings out;
  size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  auto expect = [&](char c, const std::string& what) {
    ws();
    if (i >= s.size() || s[i] != c) fail(what);
    ++i;
  };
  expect('{', "ip: expected a JSON object");
  ws();
  if (i < s.size() && s[i] == '}') {
    ++i;
  } else {
    for (;;) {
      expect('"', "ip: expected a field name");
      size_t start = i;
      while (i < s.size() && s[i] != '"' && s[i] != '\\') ++i;
      if (i >= s.size() || s[i] != '"') fail("ip: bad field name");
      std::string key(s.substr(start, i - start));
      ++i;
      const Field* f = nullptr;
      for (const Field& k : kFields) {
        if (key == k.name) f = &k;
      }
      if (!f) fail("ip." + key + ": unknown setting (known: max_hosts, max_names, metrics_top)");
      std::string where = "ip." + key;
      std::string range =
          ": expected an integer from " + std::to_string(f->min) + " to " + std::to_string(f->max);
      expect(':', where + ": expected ':'");
      ws();
      uint64_t v = 0;
      size_t digits = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && digits < 12) {
        v = v * 10 + static_cast<uint64_t>(s[i++] - '0');
        ++digits;
      }
      if (digits == 0 || (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ||
          v < f->min || v > f->max) {
        fail(where + range);
      }
      out.*(f->member) = static_cast<uint32_t>(v);
      ws();
      if (i < s.size() && s[i] == ',') {
        ++i;
        ws();
        continue;
      }
      expect('}', "ip: expected ',' or '}' after " + where);
      break;
    }
  }
  ws();
  if (i != s.size()) fail("ip: unexpected text after the object");
  return out;
}

}  // namespace wiremeter::ip
