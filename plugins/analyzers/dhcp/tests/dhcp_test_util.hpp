// dhcp tests: DHCP messages built byte by byte, so that each test shows the wire format it
// feeds the parser, including broken ones no DHCP stack would send.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace wiremeter::dhcp::test {

inline constexpr uint64_t kMac = 0x90b11c994929ull;  // 90:b1:1c:99:49:29

inline uint32_t addr(const char* dotted) {
  in_addr a{};
  inet_pton(AF_INET, dotted, &a);
  return ntohl(a.s_addr);
}

class Dhcp {
 public:
  // A BOOTREQUEST (op 1) or BOOTREPLY (op 2) for an Ethernet chaddr, with the magic cookie.
  Dhcp(uint8_t op, uint32_t xid, uint64_t mac = kMac) : b_(240, 0) {
    b_[0] = op;
    b_[1] = 1;
    b_[2] = 6;
    put32(4, xid);
    for (int i = 0; i < 6; ++i) b_[28 + i] = static_cast<uint8_t>(mac >> (40 - 8 * i));
    put32(236, 0x63825363);
  }
  Dhcp& ciaddr(const char* a) { return put32(12, addr(a)); }
  Dhcp& yiaddr(const char* a) { return put32(16, addr(a)); }
  Dhcp& giaddr(const char* a) { return put32(24, addr(a)); }
  Dhcp& byte(size_t at, uint8_t v) {
    b_[at] = v;
    return *this;
  }
  Dhcp& option(uint8_t code, std::initializer_list<uint8_t> v) {
    b_.push_back(code);
    b_.push_back(static_cast<uint8_t>(v.size()));
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Dhcp& option(uint8_t code, std::string_view v) {
    b_.push_back(code);
    b_.push_back(static_cast<uint8_t>(v.size()));
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Dhcp& type(uint8_t t) { return option(53, {t}); }
  Dhcp& u32(uint8_t code, uint32_t v) {
    return option(code, {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                         static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
  }
  Dhcp& ip(uint8_t code, const char* a) { return u32(code, addr(a)); }
  Dhcp& raw(std::initializer_list<uint8_t> v) {
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Dhcp& end() {
    b_.push_back(255);
    return *this;
  }
  std::string str() const { return std::string(b_.begin(), b_.end()); }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  Dhcp& put32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b_[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
    return *this;
  }
  std::vector<uint8_t> b_;
};

}  // namespace wiremeter::dhcp::test
