#include "oui.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>

namespace wiremeter::mac {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Six hex digits -> prefix; false for anything else (headers, other registries' lengths).
bool parse_prefix(std::string_view s, uint32_t& out) {
  if (s.size() != 6) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                        : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<uint32_t>(d);
  }
  out = v;
  return true;
}

// The first `n` fields of an RFC 4180 line (quoted fields may hold commas and "" escapes).
std::vector<std::string> csv_fields(std::string_view line, size_t n) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size() && out.size() <= n; ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

}  // namespace

bool OuiRegistry::load_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    auto f = csv_fields(line, 3);
    uint32_t prefix = 0;
    if (f.size() >= 3 && parse_prefix(trim(f[1]), prefix)) add(prefix, trim(f[2]));
  }
  finish();
  return true;
}

bool OuiRegistry::load_txt(const std::string& path) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  constexpr std::string_view kMarker = "(base 16)";
  while (std::getline(in, line)) {
    size_t m = line.find(kMarker);
    uint32_t prefix = 0;
    if (m == std::string::npos ||
        !parse_prefix(trim(std::string_view(line).substr(0, m)), prefix)) {
      continue;
    }
    add(prefix, trim(std::string_view(line).substr(m + kMarker.size())));
  }
  finish();
  return true;
}

void OuiRegistry::add(uint32_t prefix, std::string name) {
  if (!name.empty()) entries_.emplace_back(prefix, std::move(name));
}

void OuiRegistry::finish() {
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  entries_.erase(std::unique(entries_.begin(), entries_.end(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                 entries_.end());
}

std::string_view OuiRegistry::vendor(uint64_t mac) const {
  uint8_t first = static_cast<uint8_t>(mac >> 40);
  if (first & 0x03) return {};  // group bit (0x01) or locally administered (0x02)
  uint32_t prefix = static_cast<uint32_t>(mac >> 24) & 0xffffff;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), prefix,
                             [](const auto& e, uint32_t p) { return e.first < p; });
  if (it == entries_.end() || it->first != prefix) return {};
  return it->second;
}

}  // namespace wiremeter::mac
