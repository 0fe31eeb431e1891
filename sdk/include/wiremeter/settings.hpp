// SettingsSection: reads a plugin's settings, the section "plugins": {"<plugin>": {...}} of the
// configuration file that Host::config_json() hands over.
//
// The section is a flat JSON object of numbers, booleans and strings. Every setting a plugin
// knows is asked for by name with its type and range; done() then refuses any field nobody
// asked for, so that a typo is an error rather than a silently ignored setting:
//
//   SettingsSection s("voip", host.config_json());   // throws on malformed JSON
//   s.get("calls", config.calls, 16, 1'000'000);      // absent: keeps the default in `calls`
//   s.get("heuristic_rtp", config.heuristic_rtp);
//   s.get("protos_file", config.protos_file);
//   s.done();
//
// Errors are std::invalid_argument with one line that names the field, in the form the host
// prints when it refuses the plugin: "voip.calls: expected an integer from 16 to 1000000",
// "voip.bogus: unknown setting (known: calls, heuristic_rtp, protos_file)".
//
// Control plane only (create); it allocates.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace wiremeter {

class SettingsSection {
 public:
  SettingsSection(std::string_view plugin, std::string_view json) : plugin_(plugin) {
    Parser p{json, plugin_};
    p.object(fields_);
  }

  // An unsigned integer in [min, max].
  template <typename T>
  requires std::is_integral_v<T> &&
      (!std::is_same_v<T, bool>)SettingsSection& get(std::string_view key, T& out, uint64_t min,
                                                     uint64_t max) {
    const Value* v = take(key);
    if (!v) return *this;
    uint64_t n = 0;
    bool ok =
        v->kind == Kind::kNumber && !v->text.empty() && v->text.size() <= 19 &&
        std::all_of(v->text.begin(), v->text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (ok) n = std::strtoull(v->text.c_str(), nullptr, 10);
    uint64_t type_max = static_cast<uint64_t>(std::numeric_limits<T>::max());
    if (!ok || n < min || n > max || n > type_max) {
      fail(key, "expected an integer from " + std::to_string(min) + " to " +
                    std::to_string(std::min(max, type_max)));
    }
    out = static_cast<T>(n);
    return *this;
  }

  // A number (integer or fraction) in [min, max].
  SettingsSection& get(std::string_view key, double& out, double min, double max) {
    const Value* v = take(key);
    if (!v) return *this;
    char* end = nullptr;
    double d = v->kind == Kind::kNumber ? std::strtod(v->text.c_str(), &end) : 0;
    if (v->kind != Kind::kNumber || !end || *end || !(d >= min && d <= max)) {
      fail(key, "expected a number from " + trim(std::to_string(min)) + " to " +
                    trim(std::to_string(max)));
    }
    out = d;
    return *this;
  }

  SettingsSection& get(std::string_view key, bool& out) {
    const Value* v = take(key);
    if (!v) return *this;
    if (v->kind != Kind::kBool) fail(key, "expected true or false");
    out = v->text == "true";
    return *this;
  }

  SettingsSection& get(std::string_view key, std::string& out) {
    const Value* v = take(key);
    if (!v) return *this;
    if (v->kind != Kind::kString) fail(key, "expected a string");
    out = v->text;
    return *this;
  }

  // Whether the section has the field (asked for or not).
  bool has(std::string_view key) const { return fields_.count(std::string(key)) != 0; }

  // Refuses the fields no get() asked for.
  void done() const {
    for (const auto& [key, value] : fields_) {
      if (std::find(asked_.begin(), asked_.end(), key) != asked_.end()) continue;
      std::string known;
      std::vector<std::string> names = asked_;
      std::sort(names.begin(), names.end());
      for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
      fail(key, known.empty() ? "unknown setting (this module has none)"
                              : "unknown setting (known: " + known + ")");
    }
  }

 private:
  enum class Kind { kNumber, kBool, kString, kOther };
  struct Value {
    Kind kind;
    std::string text;  // the number's text, "true"/"false", or the decoded string
  };

  // A strict reader of one flat object; nested objects and arrays are kept as kOther.
  struct Parser {
    std::string_view s;
    const std::string& plugin;
    size_t i = 0;

    [[noreturn]] void error(const std::string& what) const {
      throw std::invalid_argument(plugin + ": " + what + " (at offset " + std::to_string(i) + ")");
    }
    void ws() {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    }
    bool eat(char c) {
      ws();
      if (i < s.size() && s[i] == c) {
        ++i;
        return true;
      }
      return false;
    }
    void object(std::map<std::string, Value>& out) {
      if (!eat('{')) error("expected a JSON object");
      if (!eat('}')) {
        do {
          ws();
          if (i >= s.size() || s[i] != '"') error("expected a field name");
          std::string key = string();
          if (!eat(':')) error(key + ": expected ':'");
          Value v = value();
          if (!out.emplace(key, std::move(v)).second) {
            throw std::invalid_argument(plugin + "." + key + ": given twice");
          }
        } while (eat(','));
        if (!eat('}')) error("expected ',' or '}'");
      }
      ws();
      if (i != s.size()) error("unexpected text after the object");
    }
    Value value() {
      ws();
      if (i >= s.size()) error("expected a value");
      char c = s[i];
      if (c == '"') return {Kind::kString, string()};
      if (s.substr(i, 4) == "true") return i += 4, Value{Kind::kBool, "true"};
      if (s.substr(i, 5) == "false") return i += 5, Value{Kind::kBool, "false"};
      if (s.substr(i, 4) == "null") return i += 4, Value{Kind::kOther, "null"};
      if (c == '-' || (c >= '0' && c <= '9')) {
        size_t start = i;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '-' ||
                                s[i] == '+' || s[i] == '.' || s[i] == 'e' || s[i] == 'E')) {
          ++i;
        }
        return {Kind::kNumber, std::string(s.substr(start, i - start))};
      }
      if (c == '{' || c == '[') {  // skipped whole: a setting of that shape is no setting here
        int depth = 0;
        do {
          if (s[i] == '"') {
            string();
            continue;
          }
          if (s[i] == '{' || s[i] == '[') ++depth;
          if (s[i] == '}' || s[i] == ']') --depth;
          ++i;
        } while (depth > 0 && i < s.size());
        if (depth) error("unterminated value");
        return {Kind::kOther, ""};
      }
      error("expected a value");
    }
    unsigned hex4() {
      if (i + 4 > s.size()) error("bad \\u escape");
      unsigned v = 0;
      for (int k = 0; k < 4; ++k) {
        char c = s[i++];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) error("bad \\u escape");
        v = v << 4 | static_cast<unsigned>(d);
      }
      return v;
    }
    static void utf8(unsigned cp, std::string& out) {
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xc0 | cp >> 6));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xe0 | cp >> 12));
        out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
      } else {
        out.push_back(static_cast<char>(0xf0 | cp >> 18));
        out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
      }
    }
    std::string string() {
      ++i;  // the opening quote
      std::string out;
      while (i < s.size() && s[i] != '"') {
        char c = s[i++];
        if (static_cast<unsigned char>(c) < 0x20) error("control character in a string");
        if (c != '\\') {
          out.push_back(c);
          continue;
        }
        if (i >= s.size()) break;
        char e = s[i++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out.push_back(e);
            break;
          case 'n':
            out.push_back('\n');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'u': {
            unsigned cp = hex4();
            if (cp >= 0xd800 && cp <= 0xdbff) {  // a surrogate pair: one code point
              if (s.substr(i, 2) != "\\u") error("lone surrogate in a string");
              i += 2;
              unsigned low = hex4();
              if (low < 0xdc00 || low > 0xdfff) error("lone surrogate in a string");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
              error("lone surrogate in a string");
            }
            // A NUL would cut a path or name short where the plugin hands it to C.
            if (cp == 0) error("NUL in a string");
            utf8(cp, out);
            break;
          }
          default:
            error("bad escape in a string");
        }
      }
      if (i >= s.size()) error("unterminated string");
      ++i;  // the closing quote
      return out;
    }
  };

  const Value* take(std::string_view key) {
    asked_.emplace_back(key);
    auto it = fields_.find(std::string(key));
    return it == fields_.end() ? nullptr : &it->second;
  }
  [[noreturn]] void fail(std::string_view key, const std::string& what) const {
    throw std::invalid_argument(plugin_ + "." + std::string(key) + ": " + what);
  }
  static std::string trim(std::string n) {  // "0.500000" -> "0.5"
    if (n.find('.') == std::string::npos) return n;
    while (n.back() == '0') n.pop_back();
    if (n.back() == '.') n.pop_back();
    return n;
  }

  std::string plugin_;
  std::map<std::string, Value> fields_;
  std::vector<std::string> asked_;
};

}  // namespace wiremeter
