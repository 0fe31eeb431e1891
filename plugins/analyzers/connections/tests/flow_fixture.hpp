// connections tests: a flow the way the core would present it — its wm_flow_info, kept up to date
// per packet, its zero-filled state area, and TCP packets with chosen sequence numbers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <wiremeter/testing/packet_builder.hpp>

namespace wiremeter::connections::testing {

using wiremeter::testing::BuiltPacket;
using wiremeter::testing::kTcpAck;
using wiremeter::testing::kTcpFin;
using wiremeter::testing::kTcpPsh;
using wiremeter::testing::kTcpRst;
using wiremeter::testing::kTcpSyn;
using wiremeter::testing::PacketBuilder;

inline constexpr uint64_t kMs = 1'000'000;
inline constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;  // an arbitrary capture time
inline constexpr uint8_t kFwd = WM_DIR_FORWARD, kRev = WM_DIR_REVERSE;

inline void put_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Writes sequence, acknowledgment and window into a built TCP frame (PacketBuilder leaves them
// at 0, 0 and 65535).
inline void set_tcp_numbers(BuiltPacket& b, uint32_t seq, uint32_t ack, uint16_t window) {
  uint8_t* tcp = b.bytes->data() + b.view.l4_off;
  put_be32(tcp + 4, seq);
  put_be32(tcp + 8, ack);
  tcp[14] = static_cast<uint8_t>(window >> 8);
  tcp[15] = static_cast<uint8_t>(window);
}

class FakeFlow {
 public:
  // client: the initiator (forward direction).
  FakeFlow(const char* client, uint16_t client_port, const char* server, uint16_t server_port,
           uint64_t id = 1, uint8_t proto = 6)
      : client_(client), server_(server), cport_(client_port), sport_(server_port) {
    info.id = id;
    info.port[0] = client_port;
    info.port[1] = server_port;
    info.l4_proto = proto;
    ipv6_ = std::string(client).find(':') != std::string::npos;
    info.ip_version = ipv6_ ? 6 : 4;
    auto probe = builder(WM_DIR_FORWARD).build();
    std::memcpy(info.addr[0], probe.view.src_addr, 16);
    std::memcpy(info.addr[1], probe.view.dst_addr, 16);
  }

  // A TCP segment in direction `dir`, counted into `info` as the core would.
  BuiltPacket tcp(uint8_t dir, uint8_t flags, uint32_t seq, uint32_t ack, size_t payload,
                  uint64_t ts_ns, uint16_t window = 65535) {
    auto b = builder(dir)
                 .tcp(dir ? sport_ : cport_, dir ? cport_ : sport_, flags)
                 .payload_size(payload)
                 .timestamp_ns(ts_ns)
                 .build();
    set_tcp_numbers(b, seq, ack, window);
    count(b.view);
    return b;
  }

  BuiltPacket udp(uint8_t dir, size_t payload, uint64_t ts_ns) {
    auto b = builder(dir)
                 .udp(dir ? sport_ : cport_, dir ? cport_ : sport_)
                 .payload_size(payload)
                 .timestamp_ns(ts_ns)
                 .build();
    count(b.view);
    return b;
  }

  wm_flow_info info{};
  alignas(16) uint8_t state[256] = {};

 private:
  PacketBuilder builder(uint8_t dir) {
    PacketBuilder b;
    const char* src = dir ? server_ : client_;
    const char* dst = dir ? client_ : server_;
    if (ipv6_) {
      b.ipv6(src, dst);
    } else {
      b.ipv4(src, dst);
    }
    b.flow(&info, state, dir);
    return b;
  }
  void count(const wm_packet& v) {
    if (info.packets[0] + info.packets[1] == 0) info.first_ns = v.ts_ns;
    ++info.packets[v.direction];
    info.bytes[v.direction] += v.cap_len;
    if (v.ts_ns > info.last_ns) info.last_ns = v.ts_ns;
  }

  const char* client_;
  const char* server_;
  uint16_t cport_, sport_;
  bool ipv6_ = false;
};

}  // namespace wiremeter::connections::testing
