// l2 tests: frames built byte by byte, with the wm_packet view the core's decoder gives them
// (tags, ethertype, network header offset, flags), so that the plugin sees what it would see
// behind the real decoder, priority bits and non-IP payloads included.
#pragma once

#include <wiremeter/abi.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <vector>

namespace wiremeter::l2::test {

inline constexpr uint64_t kBroadcast = 0xffffffffffffull;

inline uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 |
         static_cast<uint32_t>(c) << 8 | d;
}

struct Frame {
  std::shared_ptr<std::vector<uint8_t>> bytes;  // stable address for the view, shared by copies
  wm_packet view{};
};

class FrameBuilder {
 public:
  FrameBuilder& dst(uint64_t mac) {
    dst_ = mac;
    return *this;
  }
  FrameBuilder& src(uint64_t mac) {
    src_ = mac;
    return *this;
  }
  FrameBuilder& port(uint16_t p) {
    port_ = p;
    return *this;
  }
  FrameBuilder& ts(uint64_t ns) {
    ts_ = ns;
    return *this;
  }
  FrameBuilder& tag(uint16_t vid, uint8_t pcp = 0, uint16_t tpid = 0x8100) {
    tags_.push_back({tpid, static_cast<uint16_t>(pcp << 13 | (vid & 0x0fff))});
    return *this;
  }
  // IPv4/UDP with this DSCP, `extra` payload bytes.
  FrameBuilder& ipv4(uint8_t dscp, size_t extra = 0) {
    kind_ = Kind::kIpv4;
    dscp_ = dscp;
    extra_ = extra;
    return *this;
  }
  // An MPLS stack (top first) carrying IPv4.
  FrameBuilder& mpls(std::initializer_list<uint32_t> labels, uint8_t dscp = 0) {
    kind_ = Kind::kMpls;
    labels_.assign(labels.begin(), labels.end());
    dscp_ = dscp;
    return *this;
  }
  FrameBuilder& arp(uint16_t op, uint64_t sha, uint32_t spa, uint64_t tha, uint32_t tpa) {
    kind_ = Kind::kArp;
    payload_.clear();
    put16(payload_, 1);
    put16(payload_, 0x0800);
    payload_.push_back(6);
    payload_.push_back(4);
    put16(payload_, op);
    put48(payload_, sha);
    put32(payload_, spa);
    put48(payload_, tha);
    put32(payload_, tpa);
    return *this;
  }
  // Any ethertype with this payload (LLDP, LACP, ...).
  FrameBuilder& ethertype(uint16_t type, std::vector<uint8_t> payload) {
    kind_ = Kind::kOther;
    type_ = type;
    payload_ = std::move(payload);
    return *this;
  }
  // An 802.3 frame: length field, then the LLC header and the rest as given.
  FrameBuilder& llc(std::vector<uint8_t> payload) {
    kind_ = Kind::kLlc;
    payload_ = std::move(payload);
    return *this;
  }
  FrameBuilder& size(uint32_t wire_len) {  // padded to this length (without FCS)
    pad_to_ = wire_len;
    return *this;
  }

  Frame build() const {
    Frame f;
    f.bytes = std::make_shared<std::vector<uint8_t>>();
    std::vector<uint8_t>& b = *f.bytes;
    wm_packet& v = f.view;
    put48(b, dst_);
    put48(b, src_);
    for (auto [tpid, tci] : tags_) {
      put16(b, tpid);
      put16(b, tci);
    }
    switch (kind_) {
      case Kind::kIpv4:
        put16(b, 0x0800);
        v.l3_off = static_cast<uint16_t>(b.size());
        put_ipv4(b);
        v.ether_type = 0x0800;
        break;
      case Kind::kMpls:
        put16(b, 0x8847);
        for (size_t i = 0; i < labels_.size(); ++i) {
          put32(b, labels_[i] << 12 | (i + 1 == labels_.size() ? 0x100u : 0u) | 64u);
        }
        v.l3_off = static_cast<uint16_t>(b.size());
        put_ipv4(b);
        v.ether_type = 0x0800;
        v.mpls_label = labels_.empty() ? 0 : labels_[0];
        v.mpls_count = static_cast<uint8_t>(labels_.size());
        break;
      case Kind::kArp:
        put16(b, 0x0806);
        v.l3_off = static_cast<uint16_t>(b.size());
        b.insert(b.end(), payload_.begin(), payload_.end());
        v.ether_type = 0x0806;
        v.flags |= WM_PKT_ARP;
        break;
      case Kind::kOther:
        put16(b, type_);
        b.insert(b.end(), payload_.begin(), payload_.end());
        v.ether_type = type_;
        break;
      case Kind::kLlc:
        put16(b, static_cast<uint16_t>(payload_.size()));
        b.insert(b.end(), payload_.begin(), payload_.end());
        v.ether_type = 0;
        break;
    }
    size_t min = pad_to_ ? pad_to_ : 60;
    while (b.size() < min) b.push_back(0);
    v.data = b.data();
    v.cap_len = v.wire_len = static_cast<uint32_t>(b.size());
    v.ts_ns = ts_;
    v.port = port_;
    v.vlan_count = static_cast<uint8_t>(tags_.size());
    for (size_t i = 0; i < tags_.size() && i < 2; ++i) v.vlan[i] = tags_[i].second & 0x0fff;
    if (kind_ == Kind::kIpv4 || kind_ == Kind::kMpls) {
      v.ip_version = 4;
      v.flags |= WM_PKT_IPV4 | WM_PKT_L4;
      v.dscp = dscp_;
      v.l4_proto = 17;
    }
    if (dst_ == kBroadcast) {
      v.flags |= WM_PKT_BROADCAST;
    } else if ((dst_ >> 40) & 1) {
      v.flags |= WM_PKT_MULTICAST;
    }
    return f;
  }

  static void put16(std::vector<uint8_t>& b, uint16_t x) {
    b.push_back(static_cast<uint8_t>(x >> 8));
    b.push_back(static_cast<uint8_t>(x));
  }
  static void put32(std::vector<uint8_t>& b, uint32_t x) {
    put16(b, static_cast<uint16_t>(x >> 16));
    put16(b, static_cast<uint16_t>(x));
  }
  static void put48(std::vector<uint8_t>& b, uint64_t x) {
    for (int i = 5; i >= 0; --i) b.push_back(static_cast<uint8_t>(x >> (8 * i)));
  }

 private:
  enum class Kind { kIpv4, kMpls, kArp, kOther, kLlc };

  void put_ipv4(std::vector<uint8_t>& b) const {
    uint16_t total = static_cast<uint16_t>(28 + extra_);
    uint8_t h[20] = {0x45,
                     static_cast<uint8_t>(dscp_ << 2),
                     static_cast<uint8_t>(total >> 8),
                     static_cast<uint8_t>(total),
                     0,
                     1,
                     0x40,
                     0,
                     64,
                     17,
                     0,
                     0,
                     198,
                     18,
                     0,
                     1,
                     198,
                     18,
                     0,
                     2};
    b.insert(b.end(), h, h + 20);
    uint8_t u[8] = {0x9c,
                    0x40,
                    0,
                    53,
                    static_cast<uint8_t>((8 + extra_) >> 8),
                    static_cast<uint8_t>(8 + extra_),
                    0,
                    0};
    b.insert(b.end(), u, u + 8);
    b.insert(b.end(), extra_, 0x5a);
  }

  uint64_t dst_ = 0x020000000002ull, src_ = 0x020000000001ull;
  uint16_t port_ = 0;
  uint64_t ts_ = 1'700'000'000'000'000'000ull;
  std::vector<std::pair<uint16_t, uint16_t>> tags_;
  Kind kind_ = Kind::kIpv4;
  uint8_t dscp_ = 0;
  size_t extra_ = 0;
  std::vector<uint32_t> labels_;
  uint16_t type_ = 0;
  std::vector<uint8_t> payload_;
  uint32_t pad_to_ = 0;
};

// A configuration BPDU of RSTP, as in zeek/wikipedia.pcap (root = bridge 32768/720/
// 00:13:7f:be:8c:c0, port 0x8193), with the LLC header in front.
inline std::vector<uint8_t> rstp_bpdu(uint8_t flags = 0x3c, uint8_t version = 2) {
  return {0x42, 0x42, 0x03,                                    // LLC
          0x00, 0x00, version, 0x02, flags,                    // protocol, version, type, flags
          0x82, 0xd0, 0x00,    0x13, 0x7f,  0xbe, 0x8c, 0xc0,  // root id
          0x00, 0x00, 0x00,    0x00,                           // root path cost
          0x82, 0xd0, 0x00,    0x13, 0x7f,  0xbe, 0x8c, 0xc0,  // bridge id
          0x81, 0x93,                                          // port id
          0x00, 0x00, 0x14,    0x00, 0x02,  0x00, 0x0f, 0x00, 0x00};  // timers, v1 length
}

// An LLDPDU: chassis id (MAC), port id (interface name), TTL, system name, management address
// 192.0.2.7, End.
inline std::vector<uint8_t> lldpdu(const char* port_name = "ge-0/0/1", uint16_t ttl = 120,
                                   const char* system = "core-sw1") {
  std::vector<uint8_t> d;
  auto tlv = [&](uint8_t type, const std::vector<uint8_t>& v) {
    d.push_back(static_cast<uint8_t>(type << 1 | (v.size() >> 8)));
    d.push_back(static_cast<uint8_t>(v.size()));
    d.insert(d.end(), v.begin(), v.end());
  };
  tlv(1, {4, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55});
  std::vector<uint8_t> port{5};
  for (const char* c = port_name; *c; ++c) port.push_back(static_cast<uint8_t>(*c));
  tlv(2, port);
  tlv(3, {static_cast<uint8_t>(ttl >> 8), static_cast<uint8_t>(ttl)});
  std::vector<uint8_t> sys;
  for (const char* c = system; *c; ++c) sys.push_back(static_cast<uint8_t>(*c));
  tlv(5, sys);
  tlv(7, {0x00, 0x14, 0x00, 0x04});
  tlv(8, {5, 1, 192, 0, 2, 7, 2, 0, 0, 0, 1, 0});
  tlv(0, {});
  return d;
}

}  // namespace wiremeter::l2::test
