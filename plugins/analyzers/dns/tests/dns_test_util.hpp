// dns tests: building DNS messages byte by byte, so that each test shows the wire format it
// feeds the parser, including the broken ones no DNS library would produce.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace wiremeter::dns::test {

inline constexpr uint16_t kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kMx = 15, kTxt = 16,
                          kAaaa = 28, kSrv = 33, kOpt = 41;
inline constexpr uint16_t kFlagQr = 0x8000, kFlagRd = 0x0100, kFlagRa = 0x0080;

class Bytes {
 public:
  Bytes& u8(uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Bytes& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  Bytes& u32(uint32_t v) {
    return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v));
  }
  Bytes& raw(std::initializer_list<uint8_t> v) {
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Bytes& raw(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  // "www.example.com" as labels, without the root label (so a pointer can follow).
  Bytes& labels(std::string_view dotted) {
    size_t pos = 0;
    while (pos < dotted.size()) {
      size_t dot = dotted.find('.', pos);
      if (dot == std::string_view::npos) dot = dotted.size();
      u8(static_cast<uint8_t>(dot - pos));
      raw(dotted.substr(pos, dot - pos));
      pos = dot + 1;
    }
    return *this;
  }
  Bytes& name(std::string_view dotted) { return labels(dotted).u8(0); }
  Bytes& ptr(uint16_t offset) { return u16(static_cast<uint16_t>(0xc000 | offset)); }
  Bytes& header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns = 0,
                uint16_t ar = 0) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  // A resource record's fixed part; the RDATA follows.
  Bytes& rr(uint16_t type, uint32_t ttl, uint16_t rdlength, uint16_t rclass = 1) {
    return u16(type).u16(rclass).u32(ttl).u16(rdlength);
  }
  size_t size() const { return b_.size(); }
  const uint8_t* data() const { return b_.data(); }
  std::string str() const { return std::string(b_.begin(), b_.end()); }
  Bytes& truncate(size_t n) {
    b_.resize(n);
    return *this;
  }

 private:
  std::vector<uint8_t> b_;
};

inline std::string query_msg(uint16_t id, std::string_view name, uint16_t type) {
  return Bytes().header(id, kFlagRd, 1, 0).name(name).u16(type).u16(1).str();
}

struct AnswerA {
  uint8_t a, b, c, d;
  uint32_t ttl;
};

// A response whose answers are A records owned by the question name (compressed to offset 12).
inline std::string response_msg(uint16_t id, std::string_view name, uint16_t type, uint8_t rcode,
                                std::initializer_list<AnswerA> answers = {}) {
  Bytes m;
  m.header(id, static_cast<uint16_t>(kFlagQr | kFlagRd | kFlagRa | rcode), 1,
           static_cast<uint16_t>(answers.size()))
      .name(name)
      .u16(type)
      .u16(1);
  for (const AnswerA& a : answers) m.ptr(12).rr(kA, a.ttl, 4).raw({a.a, a.b, a.c, a.d});
  return m.str();
}

// Prefixes a message with its 2-byte DNS/TCP length.
inline std::string tcp_framed(const std::string& msg) {
  std::string out;
  out.push_back(static_cast<char>(msg.size() >> 8));
  out.push_back(static_cast<char>(msg.size() & 0xff));
  return out + msg;
}

}  // namespace wiremeter::dns::test
