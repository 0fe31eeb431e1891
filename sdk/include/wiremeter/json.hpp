// A small streaming JSON writer for plugins.
//
// Plugins hand JSON text to the host through wm_json_sink. This writer keeps third-party plugins
// free of any JSON library dependency. It is not thread-safe; use one per call.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wiremeter {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  JsonWriter& key(std::string_view k) {
    comma();
    write_string(k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }

  JsonWriter& value(std::string_view s) {
    comma();
    write_string(s);
    return *this;
  }
  JsonWriter& value(const char* s) { return s ? value(std::string_view(s)) : null(); }
  JsonWriter& value(bool b) {
    comma();
    out_ += b ? "true" : "false";
    return *this;
  }
  JsonWriter& value(uint64_t v) { return number(v); }
  JsonWriter& value(int64_t v) { return number(v); }
  JsonWriter& value(uint32_t v) { return number(static_cast<uint64_t>(v)); }
  JsonWriter& value(int v) { return number(static_cast<int64_t>(v)); }
  JsonWriter& value(double v) {
    comma();
    if (!std::isfinite(v)) {
      out_ += "null";  // JSON has no NaN/Inf
      return *this;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, end);
    return *this;
  }
  JsonWriter& null() {
    comma();
    out_ += "null";
    return *this;
  }
  // Inserts an already serialized JSON value.
  JsonWriter& raw(std::string_view json) {
    comma();
    out_ += json;
    return *this;
  }

  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  template <typename T>
  JsonWriter& number(T v) {
    comma();
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, end);
    return *this;
  }
  JsonWriter& open(char c) {
    comma();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  JsonWriter& close(char c) {
    out_.push_back(c);
    if (!first_.empty()) first_.pop_back();
    if (!first_.empty()) first_.back() = false;
    return *this;
  }
  // Emits the separating comma before a value or key, except right after a key.
  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_.push_back(',');
      first_.back() = false;
    }
  }
  void write_string(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_.push_back('"');
    for (unsigned char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (c < 0x20) {
            out_ += "\\u00";
            out_.push_back(kHex[c >> 4]);
            out_.push_back(kHex[c & 15]);
          } else {
            out_.push_back(static_cast<char>(c));
          }
      }
    }
    out_.push_back('"');
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

// {"min", "avg", "max"} in milliseconds under `key`, from times kept in microseconds; null
// while there is none (count 0). Response times, round trips.
inline void write_ms_stats(JsonWriter& w, std::string_view key, uint64_t count, uint64_t sum_us,
                           uint64_t min_us, uint64_t max_us) {
  w.key(key);
  if (!count) {
    w.null();
    return;
  }
  w.begin_object()
      .field("min", static_cast<double>(min_us) / 1000.0)
      .field("avg", static_cast<double>(sum_us) / 1000.0 / static_cast<double>(count))
      .field("max", static_cast<double>(max_us) / 1000.0)
      .end_object();
}

}  // namespace wiremeter
