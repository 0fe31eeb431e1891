#include "http_config.hpp"

#include <cctype>
#include <stdexcept>
#include <string>

namespace wiremeter::http {
namespace {

struct Field {
  const char* name;
  uint32_t Settings::*member;
  uint64_t min, max;
};
constexpr Field kFields[] = {
    {"window_bytes", &Settings::window_bytes, 1024, 65536},
    {"window_slots", &Settings::window_slots, 1, 1u << 20},
    {"pending", &Settings::pending, 1, 1u << 22},
    {"servers", &Settings::servers, 1, 1u << 20},
    {"hosts", &Settings::hosts, 1, 1u << 20},
    {"transactions", &Settings::transactions, 1, 4096},
    {"metrics_top", &Settings::metrics_top, 0, 1000},
};

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

std::string known_fields() {
  std::string s;
  for (const Field& f : kFields) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

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
  expect('{', "http: expected a JSON object");
  ws();
  if (i < s.size() && s[i] == '}') {
    ++i;
  } else {
    for (;;) {
      expect('"', "http: expected a field name");
      size_t start = i;
      while (i < s.size() && s[i] != '"' && s[i] != '\\') ++i;
      if (i >= s.size() || s[i] != '"') fail("http: bad field name");
      std::string key(s.substr(start, i - start));
      ++i;
      const Field* f = nullptr;
      for (const Field& k : kFields) {
        if (key == k.name) f = &k;
      }
      if (!f) fail("http." + key + ": unknown setting (known: " + known_fields() + ")");
      std::string where = "http." + key;
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
      expect('}', "http: expected ',' or '}' after " + where);
      break;
    }
  }
  ws();
  if (i != s.size()) fail("http: unexpected text after the object");
  return out;
}

}  // namespace wiremeter::http
