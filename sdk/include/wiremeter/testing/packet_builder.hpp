// Builds frames and their decoded views for plugin unit tests, without the core.
//
//   auto pkt = wiremeter::testing::PacketBuilder()
//                  .ipv4("198.18.0.1", "198.18.0.2").tcp(40000, 80, kTcpSyn).build();
//   worker.on_batch({&pkt.view, 1});
//
// Not thread-safe. A BuiltPacket owns its bytes; its view points into them, so keep the
// BuiltPacket alive (and do not copy it: moving is fine) while the view is in use.
#pragma once

#include <arpa/inet.h>
#include <wiremeter/abi.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wiremeter::testing {

inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                         kTcpAck = 0x10;

struct BuiltPacket {
  std::unique_ptr<std::vector<uint8_t>> bytes;  // stable address across moves
  wm_packet view{};
};

class PacketBuilder {
 public:
  PacketBuilder& port(uint16_t p) {
    port_ = p;
    return *this;
  }
  PacketBuilder& timestamp_ns(uint64_t ts) {
    ts_ = ts;
    return *this;
  }
  PacketBuilder& macs(const uint8_t src[6], const uint8_t dst[6]) {
    std::memcpy(src_mac_, src, 6);
    std::memcpy(dst_mac_, dst, 6);
    return *this;
  }
  PacketBuilder& vlan(uint16_t id) {
    vlans_.push_back(id);
    return *this;
  }
  PacketBuilder& ipv4(const char* src, const char* dst) {
    version_ = 4;
    if (inet_pton(AF_INET, src, src_ip_) != 1 || inet_pton(AF_INET, dst, dst_ip_) != 1) {
      throw std::invalid_argument("bad IPv4 address");
    }
    return *this;
  }
  PacketBuilder& ipv6(const char* src, const char* dst) {
    version_ = 6;
    if (inet_pton(AF_INET6, src, src_ip_) != 1 || inet_pton(AF_INET6, dst, dst_ip_) != 1) {
      throw std::invalid_argument("bad IPv6 address");
    }
    return *this;
  }
  PacketBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = kTcpAck) {
    proto_ = 6;
    sport_ = sport;
    dport_ = dport;
    tcp_flags_ = flags;
    return *this;
  }
  // TCP sequence and acknowledgement numbers (0 unless set).
  PacketBuilder& seq(uint32_t seq, uint32_t ack = 0) {
    seq_ = seq;
    ack_ = ack;
    return *this;
  }
  PacketBuilder& udp(uint16_t sport, uint16_t dport) {
    proto_ = 17;
    sport_ = sport;
    dport_ = dport;
    return *this;
  }
  PacketBuilder& payload(std::string_view p) {
    payload_.assign(p.begin(), p.end());
    return *this;
  }
  PacketBuilder& payload_size(size_t n) {
    payload_.assign(n, 0x5a);
    return *this;
  }
  // Per-flow state for the view (the core would allocate it next to the flow).
  PacketBuilder& flow(const wm_flow_info* f, uint8_t* state, uint8_t direction) {
    flow_ = f;
    state_ = state;
    direction_ = direction;
    return *this;
  }

  BuiltPacket build() const {
    BuiltPacket out;
    out.bytes = std::make_unique<std::vector<uint8_t>>();
    std::vector<uint8_t>& b = *out.bytes;
    wm_packet& v = out.view;
    put(b, dst_mac_, 6);
    put(b, src_mac_, 6);
    for (uint16_t id : vlans_) {
      put16(b, 0x8100);
      put16(b, id & 0x0fff);
    }
    uint16_t ether_type = version_ == 4 ? 0x0800 : version_ == 6 ? 0x86dd : 0x88b5;
    put16(b, ether_type);
    v.l3_off = static_cast<uint16_t>(b.size());
    size_t l4_len = (proto_ == 6 ? 20 : proto_ == 17 ? 8 : 0) + payload_.size();
    if (version_ == 4) {
      uint8_t h[20] = {0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto_, 0, 0};
      uint16_t total = static_cast<uint16_t>(20 + l4_len);
      h[2] = total >> 8;
      h[3] = total & 0xff;
      std::memcpy(h + 12, src_ip_, 4);
      std::memcpy(h + 16, dst_ip_, 4);
      put(b, h, 20);
    } else if (version_ == 6) {
      uint8_t h[40] = {0x60, 0, 0, 0, 0, 0, proto_, 64};
      h[4] = static_cast<uint8_t>(l4_len >> 8);
      h[5] = l4_len & 0xff;
      std::memcpy(h + 8, src_ip_, 16);
      std::memcpy(h + 24, dst_ip_, 16);
      put(b, h, 40);
    }
    v.l4_off = static_cast<uint16_t>(b.size());
    if (version_ && proto_ == 6) {
      uint8_t h[20] = {};
      h[0] = sport_ >> 8;
      h[1] = sport_ & 0xff;
      h[2] = dport_ >> 8;
      h[3] = dport_ & 0xff;
      for (int i = 0; i < 4; ++i) {
        h[4 + i] = static_cast<uint8_t>(seq_ >> (24 - 8 * i));
        h[8 + i] = static_cast<uint8_t>(ack_ >> (24 - 8 * i));
      }
      h[12] = 5 << 4;
      h[13] = tcp_flags_;
      h[14] = 0xff;
      h[15] = 0xff;
      put(b, h, 20);
    } else if (version_ && proto_ == 17) {
      uint8_t h[8] = {};
      uint16_t len = static_cast<uint16_t>(8 + payload_.size());
      h[0] = sport_ >> 8;
      h[1] = sport_ & 0xff;
      h[2] = dport_ >> 8;
      h[3] = dport_ & 0xff;
      h[4] = len >> 8;
      h[5] = len & 0xff;
      put(b, h, 8);
    }
    v.payload_off = static_cast<uint16_t>(b.size());
    put(b, payload_.data(), payload_.size());
    while (b.size() < 60) b.push_back(0);  // Ethernet minimum, as on the wire

    v.data = b.data();
    v.cap_len = v.wire_len = static_cast<uint32_t>(b.size());
    v.ts_ns = ts_;
    v.port = port_;
    v.ether_type = ether_type;
    v.vlan_count = static_cast<uint8_t>(vlans_.size());
    for (size_t i = 0; i < vlans_.size() && i < 2; ++i) v.vlan[i] = vlans_[i];
    v.ip_version = version_;
    v.l4_proto = version_ ? proto_ : 0;
    v.payload_len = static_cast<uint16_t>(payload_.size());
    if (version_ == 4) v.flags |= WM_PKT_IPV4;
    if (version_ == 6) v.flags |= WM_PKT_IPV6;
    if (version_ && (proto_ == 6 || proto_ == 17)) {
      v.flags |= WM_PKT_L4;
      v.src_port = sport_;
      v.dst_port = dport_;
      v.tcp_flags = proto_ == 6 ? tcp_flags_ : 0;
    }
    if (version_ == 0) v.l3_off = 0;
    std::memcpy(v.src_addr, src_ip_, 16);
    std::memcpy(v.dst_addr, dst_ip_, 16);
    if (dst_mac_[0] & 1) {
      bool bcast = true;
      for (uint8_t m : dst_mac_) bcast &= m == 0xff;
      v.flags |= bcast ? WM_PKT_BROADCAST : WM_PKT_MULTICAST;
    }
    v.flow = flow_;
    v.flow_state = state_;
    v.direction = direction_;
    return out;
  }

 private:
  static void put(std::vector<uint8_t>& b, const uint8_t* p, size_t n) {
    b.insert(b.end(), p, p + n);
  }
  static void put16(std::vector<uint8_t>& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v & 0xff));
  }

  uint16_t port_ = 0;
  uint64_t ts_ = 0;
  uint8_t src_mac_[6] = {0x02, 0, 0, 0, 0, 1};
  uint8_t dst_mac_[6] = {0x02, 0, 0, 0, 0, 2};
  std::vector<uint16_t> vlans_;
  uint8_t version_ = 0;
  uint8_t src_ip_[16] = {};
  uint8_t dst_ip_[16] = {};
  uint8_t proto_ = 0;
  uint16_t sport_ = 0, dport_ = 0;
  uint8_t tcp_flags_ = 0;
  uint32_t seq_ = 0;
  uint32_t ack_ = 0;
  std::vector<uint8_t> payload_;
  const wm_flow_info* flow_ = nullptr;
  uint8_t* state_ = nullptr;
  uint8_t direction_ = 0;
};

}  // namespace wiremeter::testing
