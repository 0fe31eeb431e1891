// wiremeter-make-demo-capture: writes the Ethernet capture the appliance replays in demo mode and
// the benchmarks read as a fixed input. Every byte is synthesised from a seeded PRNG, so the file
// is reproducible bit for bit and contains no real traffic: IPv4 addresses come only from the
// benchmarking range 198.18.0.0/15 (besides DHCP's 0.0.0.0 and 255.255.255.255), IPv6 only from
// 2001:db8::/32, unicast MACs are all 02:..., phone numbers are the fictional 555-01xx.
//
// Usage: wiremeter-make-demo-capture OUT.pcap [--flows N] [--seed S]

#include <pcap/pcap.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wiremeter::demo {
namespace {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

constexpr std::string_view kUsage = "wiremeter-make-demo-capture OUT.pcap [--flows N] [--seed S]";
constexpr int kDefaultFlows = 200;
constexpr int kMaxFlows = 10000;  // everything is held in memory before sorting by time
constexpr uint64_t kDefaultSeed = 1;

constexpr int64_t kEpochSeconds = 1767225600;  // 2026-01-01T00:00:00Z
constexpr uint64_t kSecond = 1'000'000;
constexpr uint64_t kSpanUs = 14 * kSecond;  // flows start within this window
constexpr size_t kMinFrame = 60;            // 64-byte Ethernet minimum minus the 4-byte FCS

constexpr uint16_t kEtherIpv4 = 0x0800, kEtherArp = 0x0806, kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100, kEtherQinq = 0x88a8;
constexpr uint8_t kProtoHopByHop = 0, kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint16_t kDontFragment = 0x4000, kMoreFragments = 0x2000;

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
constexpr uint16_t kSynWindow = 64240, kSynAckWindow = 65160, kWindow = 502;  // wscale 7

constexpr uint16_t kDnsPort = 53;
constexpr uint16_t kDnsA = 1, kDnsCname = 5, kDnsSoa = 6, kDnsTxt = 16, kDnsAaaa = 28;
constexpr uint16_t kDnsOpt = 41, kDnsClassIn = 1;
constexpr uint16_t kDnsQuery = 0x0100, kDnsResponse = 0x8180, kDnsNxDomain = 3;

constexpr uint8_t kTlsChangeCipherSpec = 20, kTlsAlert = 21, kTlsHandshake = 22, kTlsAppData = 23;
constexpr uint16_t kTls12 = 0x0303;

// SplitMix64 rather than <random>: the standard distributions are allowed to differ between
// library implementations, and the capture has to be identical wherever it is generated. For the
// same reason no expression may draw twice from one Rng where C++ leaves the order unspecified
// (two function arguments, two operands of +): GCC and Clang would disagree on the sequence.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  bool chance(int percent) { return below(100) < static_cast<uint64_t>(percent); }
  Bytes bytes(size_t n) {
    Bytes out(n);
    for (size_t i = 0; i < n; i += 8) {
      uint64_t v = next();
      for (size_t k = i; k < std::min(n, i + 8); ++k, v >>= 8) out[k] = v & 0xff;
    }
    return out;
  }

 private:
  uint64_t state_;
};

// Big-endian byte builder shared by every protocol encoder. Length-prefixed blocks nest deeply
// in TLS and DNS, so block() reserves the prefix and patches it once the contents are known.
class Frame {
 public:
  Frame& u8(uint8_t v) {
    buf_.push_back(v);
    return *this;
  }
  Frame& u16(uint16_t v) { return u8(v >> 8).u8(v & 0xff); }
  Frame& u32(uint32_t v) { return u16(v >> 16).u16(v & 0xffff); }
  Frame& append(std::span<const uint8_t> b) {
    buf_.insert(buf_.end(), b.begin(), b.end());
    return *this;
  }
  Frame& text(std::string_view s) {
    buf_.insert(buf_.end(), s.begin(), s.end());
    return *this;
  }
  Frame& fill(size_t n, uint8_t v = 0) {
    buf_.insert(buf_.end(), n, v);
    return *this;
  }
  template <typename Fn>
  Frame& block(int width, Fn&& contents) {
    size_t mark = size();
    fill(width);
    contents();
    put(mark, width, size() - mark - width);
    return *this;
  }
  void put(size_t offset, int width, uint64_t v) {
    for (int i = width - 1; i >= 0; --i, v >>= 8) buf_[offset + i] = v & 0xff;
  }
  size_t size() const { return buf_.size(); }
  std::span<const uint8_t> view(size_t offset, size_t n) const { return {buf_.data() + offset, n}; }
  const Bytes& bytes() const { return buf_; }
  Bytes take() { return std::move(buf_); }

 private:
  Bytes buf_;
};

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> b{};
  std::span<const uint8_t> bytes() const { return {b.data(), v6 ? 16u : 4u}; }
};

IpAddr ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {false, {a, b, c, d}}; }

// 2001:db8:<net>:<subnet>::<iid>, keeping every IPv6 address inside the documentation prefix.
IpAddr ipv6(uint16_t net, uint16_t subnet, uint64_t iid) {
  IpAddr ip{.v6 = true, .b = {0x20, 0x01, 0x0d, 0xb8}};
  for (int i = 0; i < 2; ++i) {
    ip.b[5 - i] = (net >> (8 * i)) & 0xff;
    ip.b[7 - i] = (subnet >> (8 * i)) & 0xff;
  }
  for (int i = 0; i < 8; ++i) ip.b[15 - i] = (iid >> (8 * i)) & 0xff;
  return ip;
}

// A place on the demo network. VLAN 10 and 20 are access VLANs on the local trunk; the QinQ site
// is a branch office whose customer VLAN 20 reaches us inside provider S-VLAN 100.
struct Site {
  uint8_t subnet;  // 198.18.<subnet>.0/24 and 2001:db8:0:<subnet>::/64
  int tag_depth;   // 0 untagged, 1 802.1Q, 2 802.1ad + 802.1Q
  uint16_t outer_vid;
  uint16_t inner_vid;
};
constexpr std::array<Site, 4> kSites{
    {{1, 0, 0, 0}, {10, 1, 10, 0}, {20, 1, 20, 0}, {30, 2, 100, 20}}};

constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
Mac gateway_mac(const Site& s) { return {0x02, 0x00, 0x00, 0x00, 0x01, s.subnet}; }
Mac host_mac(const Site& s, uint8_t host) { return {0x02, 0x00, 0xc6, 0x12, s.subnet, host}; }

constexpr int kServerCount = 48;
IpAddr server_ip(uint32_t i, bool v6) {
  i %= kServerCount;
  return v6 ? ipv6(0x100, 0, 0x10 + i) : ipv4(198, 19, 1 + i / 16, 10 + i % 16);
}
IpAddr resolver_ip(bool v6) { return v6 ? ipv6(0x53, 0, 0x53) : ipv4(198, 19, 0, 53); }

enum Dir : int { kToServer = 0, kToClient = 1 };
Dir other(Dir d) { return d == kToServer ? kToClient : kToServer; }

// Both ends of a conversation as seen from the capture point, which sits on the client's LAN:
// remote servers are reached through the site gateway, so their frames carry its MAC.
struct Path {
  const Site* site = &kSites[0];
  Mac client_mac{};
  Mac peer_mac{};
  IpAddr client_ip;
  IpAddr server_ip;
  std::array<uint8_t, 2> ttl{64, 64};  // indexed by Dir
  std::array<uint16_t, 2> ip_id{};
  std::array<uint32_t, 2> flow_label{};
  uint8_t tos = 0;

  const IpAddr& src(Dir d) const { return d == kToServer ? client_ip : server_ip; }
  const IpAddr& dst(Dir d) const { return d == kToServer ? server_ip : client_ip; }
  const Mac& src_mac(Dir d) const { return d == kToServer ? client_mac : peer_mac; }
  const Mac& dst_mac(Dir d) const { return d == kToServer ? peer_mac : client_mac; }
};

struct Packet {
  uint64_t ts_us;
  Bytes data;
};

uint32_t sum16(std::span<const uint8_t> b, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < b.size(); i += 2) acc += (b[i] << 8) | b[i + 1];
  if (b.size() % 2) acc += b.back() << 8;
  return acc;
}

uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return ~acc & 0xffff;
}

// ICMPv4 is the only upper layer here whose checksum skips the pseudo-header.
void set_l4_checksum(Bytes& l4, uint8_t proto, const IpAddr& src, const IpAddr& dst) {
  size_t offset = proto == kProtoTcp ? 16 : proto == kProtoUdp ? 6 : 2;
  uint32_t acc = 0;
  if (proto != kProtoIcmp) acc = sum16(src.bytes(), sum16(dst.bytes(), proto + l4.size()));
  uint16_t sum = fold(sum16(l4, acc));
  if (proto == kProtoUdp && sum == 0) sum = 0xffff;  // zero would mean "no checksum"
  l4[offset] = sum >> 8;
  l4[offset + 1] = sum & 0xff;
}

void put_ethernet(Frame& f, const Mac& src, const Mac& dst, const Site& site, uint16_t type) {
  f.append(dst).append(src);
  if (site.tag_depth == 2)
    f.u16(kEtherQinq).u16(site.outer_vid).u16(kEtherVlan).u16(site.inner_vid);
  if (site.tag_depth == 1) f.u16(kEtherVlan).u16(site.outer_vid);
  f.u16(type);
}

void put_ipv4(Frame& f, const Path& p, Dir d, uint8_t proto, size_t len, uint16_t id,
              uint16_t frag) {
  size_t start = f.size();
  f.u8(0x45).u8(p.tos).u16(20 + len).u16(id).u16(frag).u8(p.ttl[d]).u8(proto).u16(0);
  f.append(p.src(d).bytes()).append(p.dst(d).bytes());
  f.put(start + 10, 2, fold(sum16(f.view(start, 20))));
}

Bytes finish(Frame f) {
  if (f.size() < kMinFrame) f.fill(kMinFrame - f.size());
  return f.take();
}

// Checksums the L4 segment and wraps it in IP and Ethernet. The optional hop-by-hop header holds
// only PadN: enough to exercise extension-header walking without changing forwarding semantics.
Bytes ip_frame(Path& p, Dir d, uint8_t proto, Bytes l4, bool hop_by_hop = false) {
  const IpAddr& src = p.src(d);
  set_l4_checksum(l4, proto, src, p.dst(d));
  Frame f;
  put_ethernet(f, p.src_mac(d), p.dst_mac(d), *p.site, src.v6 ? kEtherIpv6 : kEtherIpv4);
  if (!src.v6) {
    put_ipv4(f, p, d, proto, l4.size(), p.ip_id[d]++, kDontFragment);
  } else {
    f.u32(0x60000000u | p.tos << 20 | p.flow_label[d]).u16(l4.size() + (hop_by_hop ? 8 : 0));
    f.u8(hop_by_hop ? kProtoHopByHop : proto)
        .u8(p.ttl[d])
        .append(src.bytes())
        .append(p.dst(d).bytes());
    if (hop_by_hop) f.u8(proto).u8(0).u8(1).u8(4).u32(0);
  }
  f.append(l4);
  return finish(std::move(f));
}

Bytes udp_datagram(Dir d, uint16_t client_port, uint16_t server_port,
                   std::span<const uint8_t> data) {
  Frame f;
  f.u16(d == kToServer ? client_port : server_port).u16(d == kToServer ? server_port : client_port);
  f.u16(8 + data.size()).u16(0).append(data);
  return f.take();
}

// A TCP connection whose timing follows from where the capture point is: next to the client.
// Client segments are seen the moment they are sent; the server's reaction shows up one RTT
// later. Data is cut into MSS-sized segments under a doubling window so bulk transfers get
// realistic bursts, and the receiver ACKs every second segment.
class TcpFlow {
 public:
  TcpFlow(std::vector<Packet>& out, Rng& rng, const Path& path, uint16_t client_port,
          uint16_t server_port, uint64_t start_us, uint64_t rtt_us)
      : out_(out),
        rng_(rng),
        path_(path),
        src_port_{client_port, server_port},
        next_seq_{static_cast<uint32_t>(rng.next()), static_cast<uint32_t>(rng.next())},
        now_(start_us),
        rtt_(rtt_us),
        // Trunk ports keep the 1514-byte untagged frame limit, so tags eat into the MSS.
        mss_((path.client_ip.v6 ? 1440 : 1460) - 4 * path.site->tag_depth) {}

  uint64_t now() const { return now_; }

  void connect() {
    emit(kToServer, kSyn, {}, now_);
    emit(kToClient, kSyn | kAck, {}, now_ + rtt_);
    now_ += rtt_ + rng_.range(15, 120);
    emit(kToServer, kAck, {}, now_);
  }

  void refuse() {
    emit(kToServer, kSyn, {}, now_);
    next_seq_[kToClient] = 0;  // a RST answering a bare SYN carries seq 0
    emit(kToClient, kRst | kAck, {}, now_ + rtt_);
  }

  // lose_first drops the first segment somewhere past the capture point, so the capture shows
  // the original and, one retransmission timeout later, its copy.
  void send(Dir d, std::span<const uint8_t> data, uint64_t delay_us, bool lose_first = false) {
    uint64_t t = now_ + delay_us + (d == kToClient ? rtt_ : 0);
    uint64_t last = t;
    size_t off = 0;
    for (size_t window = 10; off < data.size(); window *= 2) {
      for (size_t seg = 0; seg < window && off < data.size(); ++seg) {
        size_t n = std::min(mss_, data.size() - off);
        bool final = off + n == data.size();
        uint8_t flags = kAck | (final ? kPsh : 0);
        uint32_t seq = next_seq_[d];
        emit(d, flags, data.subspan(off, n), t);
        if (lose_first && off == 0) {
          t += 200'000 + rtt_ + rng_.range(0, 5000);  // Linux's 200 ms minimum RTO
          emit_at(d, flags, data.subspan(off, n), t, seq);
        }
        off += n;
        if (seg % 2 == 1 || final) {
          uint64_t ack_at = d == kToClient ? t + rng_.range(20, 150) : t + rtt_;
          emit(other(d), kAck, {}, ack_at);
          if (d == kToClient) last = std::max(last, ack_at);
        }
        last = std::max(last, t);
        t += rng_.range(12, 140);  // serialisation plus pacing at the bottleneck link
      }
      if (off < data.size()) t += rtt_;  // the next window waits for the ACK clock
    }
    now_ = last;
  }

  void close(Dir initiator) {
    bool client = initiator == kToServer;
    uint64_t t = now_ + (client ? rng_.range(500, 300'000) : rng_.range(50, 2000));
    uint64_t answer = client ? t + rtt_ : t + rng_.range(40, 400);
    uint64_t final = client ? answer + rng_.range(15, 120) : answer + rtt_;
    emit(initiator, kFin | kAck, {}, t);
    emit(other(initiator), kFin | kAck, {}, answer);
    emit(initiator, kAck, {}, final);
    now_ = final;
  }

  void abort(Dir d) {
    now_ += rng_.range(1000, 200'000);
    emit(d, kRst | kAck, {}, now_);
  }

 private:
  void emit(Dir d, uint8_t flags, std::span<const uint8_t> payload, uint64_t ts) {
    emit_at(d, flags, payload, ts, next_seq_[d]);
    next_seq_[d] += payload.size() + ((flags & (kSyn | kFin)) ? 1 : 0);
  }

  void emit_at(Dir d, uint8_t flags, std::span<const uint8_t> payload, uint64_t ts, uint32_t seq) {
    // Delayed ACKs drawn independently could overtake each other; one host's packets cannot.
    ts = last_ts_[d] = std::max(ts, last_ts_[d]);
    bool syn = flags & kSyn;
    uint16_t window = syn              ? (d == kToServer ? kSynWindow : kSynAckWindow)
                      : (flags & kRst) ? 0
                                       : kWindow;
    Frame f;
    f.u16(src_port_[d]).u16(src_port_[other(d)]).u32(seq);
    f.u32((flags & kAck) ? next_seq_[other(d)] : 0).u8((syn ? 8 : 5) << 4).u8(flags).u16(window);
    f.u32(0);  // checksum and urgent pointer
    if (syn) f.u16(0x0204).u16(mss_).u32(0x01010402).u32(0x01030307);  // MSS, SACK_PERM, WS 7
    f.append(payload);
    out_.push_back({ts, ip_frame(path_, d, kProtoTcp, f.take())});
  }

  std::vector<Packet>& out_;
  Rng& rng_;
  Path path_;
  std::array<uint16_t, 2> src_port_;  // indexed by the direction a segment travels
  std::array<uint32_t, 2> next_seq_;
  std::array<uint64_t, 2> last_ts_{};
  uint64_t now_;
  uint64_t rtt_;
  size_t mss_;
};

// ---- DNS ----

struct DnsRecord {
  std::string owner{};
  uint16_t type = kDnsA;
  uint32_t ttl = 300;
  IpAddr addr{};
  std::string target{};  // CNAME target, or the zone of an SOA
  std::vector<std::string> texts{};
};

struct DnsMessage {
  uint16_t id = 0;
  uint16_t flags = kDnsQuery;
  std::string qname{};
  uint16_t qtype = kDnsA;
  std::vector<DnsRecord> answers{};
  std::vector<DnsRecord> authority{};
  uint16_t edns_size = 0;  // 0 leaves out the OPT record
};

using NameTable = std::vector<std::pair<std::string, size_t>>;

// RFC 1035 compression: a suffix that was already written becomes a pointer to it.
void put_dns_name(Frame& f, std::string_view name, NameTable& seen) {
  while (!name.empty()) {
    for (const auto& [suffix, offset] : seen) {
      if (suffix == name) {
        f.u16(0xc000 | offset);
        return;
      }
    }
    seen.emplace_back(name, f.size());
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    f.u8(label.size()).text(label);
    name = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  }
  f.u8(0);
}

void put_dns_record(Frame& f, const DnsRecord& r, NameTable& seen) {
  put_dns_name(f, r.owner, seen);
  f.u16(r.type).u16(kDnsClassIn).u32(r.ttl).block(2, [&] {
    if (r.type == kDnsA || r.type == kDnsAaaa) f.append(r.addr.bytes());
    if (r.type == kDnsCname) put_dns_name(f, r.target, seen);
    if (r.type == kDnsSoa) {
      put_dns_name(f, "ns1." + r.target, seen);
      put_dns_name(f, "hostmaster." + r.target, seen);
      f.u32(2025123101).u32(7200).u32(3600).u32(1209600).u32(300);
    }
    for (const std::string& s : r.texts) f.u8(s.size()).text(s);
  });
}

Bytes encode_dns(const DnsMessage& m) {
  Frame f;
  NameTable seen;
  f.u16(m.id).u16(m.flags).u16(1).u16(m.answers.size()).u16(m.authority.size());
  f.u16(m.edns_size ? 1 : 0);
  put_dns_name(f, m.qname, seen);
  f.u16(m.qtype).u16(kDnsClassIn);
  for (const DnsRecord& r : m.answers) put_dns_record(f, r, seen);
  for (const DnsRecord& r : m.authority) put_dns_record(f, r, seen);
  if (m.edns_size) f.u8(0).u16(kDnsOpt).u16(m.edns_size).u32(0).u16(0);
  return f.take();
}

// Some names sit behind a CDN alias; resolving and connecting agree on the final name so that
// the addresses in DNS answers are the ones later flows actually talk to.
std::string canonical_name(const std::string& name) {
  uint32_t h = fnv1a(name);
  return h % 3 == 0 ? "edge-" + std::to_string(h % 7) + ".cdn.example.net" : name;
}

IpAddr server_for(const std::string& name, bool v6) {
  return server_ip(fnv1a(canonical_name(name)), v6);
}

DnsMessage dns_answer(const DnsMessage& q) {
  DnsMessage r = q;
  r.flags = kDnsResponse;
  std::string owner = q.qname;
  uint32_t ttl = 30 + fnv1a(owner) % 3570;
  std::string canonical = canonical_name(owner);
  if (canonical != owner) {
    r.answers.push_back({.owner = owner, .type = kDnsCname, .ttl = ttl, .target = canonical});
    owner = canonical;
  }
  uint32_t h = fnv1a(owner);
  for (uint32_t k = 0; k <= h % 2; ++k) {
    IpAddr addr = server_ip(h + k, q.qtype == kDnsAaaa);
    r.answers.push_back({.owner = owner, .type = q.qtype, .ttl = 20 + h % 280, .addr = addr});
  }
  return r;
}

// ---- TLS ----

Bytes client_hello(Rng& rng, std::string_view sni, bool tls13, std::span<const uint8_t> sid) {
  static constexpr uint16_t kSuites[] = {0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                                         0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
  static constexpr uint16_t kSigAlgs[] = {0x0403, 0x0804, 0x0401, 0x0503,
                                          0x0805, 0x0501, 0x0806, 0x0601};
  Frame f;
  f.u8(kTlsHandshake).u16(0x0301).block(2, [&] {
    f.u8(1).block(3, [&] {
      f.u16(kTls12).append(rng.bytes(32)).u8(sid.size()).append(sid);
      f.block(2, [&] {
        if (tls13) f.u16(0x1301).u16(0x1302).u16(0x1303);
        for (uint16_t s : kSuites) f.u16(s);
      });
      f.u8(1).u8(0);  // only the null compression method
      f.block(2, [&] {
        f.u16(0x0000).block(2,
                            [&] { f.block(2, [&] { f.u8(0).block(2, [&] { f.text(sni); }); }); });
        f.u16(0x0017).u16(0);  // extended_master_secret
        f.u16(0xff01).block(2, [&] { f.u8(0); });
        f.u16(0x000a).block(2, [&] { f.block(2, [&] { f.u16(0x001d).u16(0x0017).u16(0x0018); }); });
        f.u16(0x000b).block(2, [&] { f.block(1, [&] { f.u8(0); }); });
        f.u16(0x0023).u16(0);  // session_ticket
        f.u16(0x0010).block(
            2, [&] { f.block(2, [&] { f.u8(2).text("h2").u8(8).text("http/1.1"); }); });
        f.u16(0x000d).block(2, [&] {
          f.block(2, [&] {
            for (uint16_t a : kSigAlgs) f.u16(a);
          });
        });
        if (tls13) {
          f.u16(0x002b).block(2, [&] { f.block(1, [&] { f.u16(0x0304).u16(kTls12); }); });
          f.u16(0x002d).block(2, [&] { f.block(1, [&] { f.u8(1); }); });
          f.u16(0x0033).block(2, [&] {
            f.block(2, [&] { f.u16(0x001d).block(2, [&] { f.append(rng.bytes(32)); }); });
          });
        }
      });
    });
  });
  return f.take();
}

// TLS 1.2 flows are session resumptions: the server echoes the offered session id, which keeps
// the handshake free of certificates we would otherwise have to fake.
void put_server_hello(Frame& f, Rng& rng, bool tls13, std::span<const uint8_t> sid) {
  f.u8(kTlsHandshake).u16(kTls12).block(2, [&] {
    f.u8(2).block(3, [&] {
      f.u16(kTls12).append(rng.bytes(32)).u8(sid.size()).append(sid);
      f.u16(tls13 ? 0x1301 : 0xc02f).u8(0);
      f.block(2, [&] {
        if (tls13) {
          f.u16(0x002b).u16(2).u16(0x0304);
          f.u16(0x0033).block(2, [&] { f.u16(0x001d).block(2, [&] { f.append(rng.bytes(32)); }); });
        } else {
          f.u16(0xff01).block(2, [&] { f.u8(0); });
          f.u16(0x0017).u16(0);
          f.u16(0x0010).block(2, [&] { f.block(2, [&] { f.u8(8).text("http/1.1"); }); });
        }
      });
    });
  });
}

void put_change_cipher_spec(Frame& f) { f.u8(kTlsChangeCipherSpec).u16(kTls12).u16(1).u8(1); }

// Ciphertext is random bytes of the size AES-GCM would produce. TLS 1.3 hides the real content
// type behind application_data; TLS 1.2 adds an explicit nonce to each record.
void put_encrypted(Frame& f, Rng& rng, uint8_t type, size_t plaintext, bool tls13) {
  do {
    size_t n = std::min<size_t>(plaintext, 16384);
    size_t len = n + (tls13 ? 17 : 24);
    f.u8(tls13 ? kTlsAppData : type).u16(kTls12).u16(len).append(rng.bytes(len));
    plaintext -= n;
  } while (plaintext > 0);
}

// ---- DHCP ----

constexpr uint16_t kDhcpServerPort = 67, kDhcpClientPort = 68;
constexpr uint8_t kDhcpDiscover = 1, kDhcpOffer = 2, kDhcpRequest = 3, kDhcpAck = 5;
constexpr uint8_t kDhcpNak = 6, kDhcpInform = 8;
constexpr uint32_t kDhcpMagicCookie = 0x63825363;
constexpr uint32_t kDhcpLease = 3600;
constexpr size_t kBootpMinimum = 300;  // RFC 951's message with its 64-byte vendor area

bool dhcp_from_client(uint8_t type) {
  return type == kDhcpDiscover || type == kDhcpRequest || type == kDhcpInform;
}

// Addresses left at 0.0.0.0 and empty strings stay out of the options.
struct DhcpMessage {
  uint8_t type = kDhcpDiscover;
  uint32_t xid = 0;
  bool broadcast = false;  // the client asks for replies to 255.255.255.255
  Mac chaddr{};
  IpAddr ciaddr{};
  IpAddr yiaddr{};
  IpAddr server_id{};      // option 54; also the router (3), since the gateway serves the leases
  IpAddr requested_ip{};   // 50
  std::string hostname{};  // 12
  uint32_t lease = 0;      // 51, with T1 (58) and T2 (59) at 1/2 and 7/8 of it
  bool config = false;     // 1, 3, 6 and 15: mask, router, DNS server, domain
  std::string message{};   // 56, why a NAK
};

bool unset(const IpAddr& a) {
  return std::all_of(a.b.begin(), a.b.end(), [](uint8_t v) { return v == 0; });
}

Bytes encode_dhcp(const DhcpMessage& m) {
  static constexpr uint8_t kParams[] = {1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42};
  bool client = dhcp_from_client(m.type);
  Frame f;
  f.u8(client ? 1 : 2).u8(1).u8(6).u8(0).u32(m.xid).u16(0).u16(m.broadcast ? 0x8000 : 0);
  f.append(m.ciaddr.bytes()).append(m.yiaddr.bytes()).u32(0).u32(0);  // siaddr, giaddr: no relay
  f.append(m.chaddr).fill(10).fill(64 + 128);                         // chaddr padding, sname, file
  f.u32(kDhcpMagicCookie);
  auto option = [&](uint8_t code, auto&& contents) { f.u8(code).block(1, contents); };
  option(53, [&] { f.u8(m.type); });
  if (client) option(61, [&] { f.u8(1).append(m.chaddr); });
  if (!unset(m.requested_ip)) option(50, [&] { f.append(m.requested_ip.bytes()); });
  if (!unset(m.server_id)) option(54, [&] { f.append(m.server_id.bytes()); });
  if (m.lease) {
    option(51, [&] { f.u32(m.lease); });
    option(58, [&] { f.u32(m.lease / 2); });
    option(59, [&] { f.u32(m.lease / 8 * 7); });
  }
  if (m.config) {
    option(1, [&] { f.u32(0xffffff00); });
    option(3, [&] { f.append(m.server_id.bytes()); });
    option(6, [&] { f.append(resolver_ip(false).bytes()); });
    option(15, [&] { f.text("example.com"); });
  }
  if (!m.hostname.empty()) option(12, [&] { f.text(m.hostname); });
  if (client) option(55, [&] { f.append(kParams); });
  if (!m.message.empty()) option(56, [&] { f.text(m.message); });
  f.u8(255);
  if (f.size() < kBootpMinimum) f.fill(kBootpMinimum - f.size());
  return f.take();
}

// ---- SIP ----

constexpr uint16_t kSipPort = 5060;

std::string ip_text(const IpAddr& a) {  // IPv4 only: phones and the gateway
  return std::to_string(a.b[0]) + "." + std::to_string(a.b[1]) + "." + std::to_string(a.b[2]) +
         "." + std::to_string(a.b[3]);
}

std::string hex(uint64_t v, int digits) {
  std::string s(digits, '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[i] = "0123456789abcdef"[v & 0xf];
  return s;
}

// `head` is the start line and the headers, each ending in CRLF; the body is SDP or nothing.
std::string sip_message(std::string head, std::string_view sdp = {}) {
  if (!sdp.empty()) head += "Content-Type: application/sdp\r\n";
  head += "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n";
  return head.append(sdp);
}

// The phone offers G.711 in both laws and DTMF events; the gateway answers with mu-law alone.
std::string sdp_body(std::string_view user, uint64_t session, const std::string& addr,
                     uint16_t port, bool offer) {
  std::string id = std::to_string(session);
  std::string s = "v=0\r\no=" + std::string(user) + " " + id + " " + id + " IN IP4 " + addr +
                  "\r\ns=-\r\nc=IN IP4 " + addr + "\r\nt=0 0\r\nm=audio " + std::to_string(port) +
                  (offer ? " RTP/AVP 0 8 101\r\n" : " RTP/AVP 0\r\n") + "a=rtpmap:0 PCMU/8000\r\n";
  if (offer)
    s += "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";
  return s + "a=ptime:20\r\na=sendrecv\r\n";
}

// ---- Other payloads ----

uint8_t mulaw(int pcm) {
  constexpr int kBias = 0x84, kClip = 32635;
  int sign = pcm < 0 ? 0x80 : 0;
  int s = std::min(sign ? -pcm : pcm, kClip) + kBias;
  int exponent = 7;
  for (int mask = 0x4000; (s & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
  return ~(sign | exponent << 4 | ((s >> (exponent + 3)) & 0x0f));
}

Bytes icmp_echo(uint8_t type, uint16_t id, uint16_t seq, std::span<const uint8_t> data) {
  Frame f;
  f.u8(type).u8(0).u16(0).u16(id).u16(seq).append(data);
  return f.take();
}

Bytes arp_frame(const Site& site, uint16_t op, const Mac& eth_dst, const Mac& sha,
                const IpAddr& spa, const Mac& tha, const IpAddr& tpa) {
  Frame f;
  put_ethernet(f, sha, eth_dst, site, kEtherArp);
  f.u16(1).u16(kEtherIpv4).u8(6).u8(4).u16(op);
  f.append(sha).append(spa.bytes()).append(tha).append(tpa.bytes());
  return finish(std::move(f));
}

// ---- Traffic mix ----

enum class Kind { kHttp, kTls13, kTls12, kRefused, kDns, kFragmentedDns, kPing, kArp, kRtp, kDhcp };

// What a DHCP client does: boot (DISCOVER, OFFER, REQUEST, ACK), renew its lease at T1, ask to
// keep an address from another site and get a NAK (then boot), or ask a static address's
// configuration with INFORM. kRandom leaves it to the mix.
enum class DhcpExchange { kRandom, kBoot, kRenew, kNak, kInform };

struct FlowPlan {
  Kind kind = Kind::kDns;
  int site = 0;  // index into kSites
  bool v6 = false;
  bool retransmit = false;
  bool abort = false;
  bool hop_by_hop = false;
  DhcpExchange dhcp = DhcpExchange::kRandom;
};

// The first flows are fixed so that every feature appears even in a small capture; the rest
// are drawn from kMix.
constexpr FlowPlan kScripted[] = {
    {.kind = Kind::kArp},
    {.kind = Kind::kRtp},
    {.kind = Kind::kHttp, .retransmit = true},
    {.kind = Kind::kTls13, .site = 1},
    {.kind = Kind::kTls12, .site = 2},
    {.kind = Kind::kHttp, .site = 3, .v6 = true},
    {.kind = Kind::kTls13, .v6 = true, .abort = true},
    {.kind = Kind::kDns},
    {.kind = Kind::kDns, .site = 1, .v6 = true, .hop_by_hop = true},
    {.kind = Kind::kDns, .site = 3},
    {.kind = Kind::kPing, .site = 2},
    {.kind = Kind::kPing, .v6 = true},
    {.kind = Kind::kArp, .site = 3},
    {.kind = Kind::kFragmentedDns},
    {.kind = Kind::kRefused},
    {.kind = Kind::kTls12, .retransmit = true},
    {.kind = Kind::kHttp, .site = 1, .abort = true},
    {.kind = Kind::kDhcp, .dhcp = DhcpExchange::kBoot},
    {.kind = Kind::kRtp, .site = 2, .abort = true},  // the callee is busy: 486, no media
    {.kind = Kind::kDhcp, .site = 3, .dhcp = DhcpExchange::kBoot},
    {.kind = Kind::kDhcp, .site = 2, .dhcp = DhcpExchange::kRenew},
    {.kind = Kind::kDhcp, .site = 1, .dhcp = DhcpExchange::kNak},
    {.kind = Kind::kDhcp, .dhcp = DhcpExchange::kInform},
};

constexpr std::pair<Kind, int> kMix[] = {  // per mille
    {Kind::kDns, 318}, {Kind::kHttp, 220}, {Kind::kTls13, 170},  {Kind::kTls12, 60},
    {Kind::kPing, 80}, {Kind::kArp, 55},   {Kind::kRefused, 50}, {Kind::kFragmentedDns, 25},
    {Kind::kRtp, 7},   {Kind::kDhcp, 15}};
static_assert([] {
  int total = 0;
  for (auto [kind, weight] : kMix) total += weight;
  return total == 1000;
}());

constexpr std::string_view kHostNames[] = {
    "www.example.com",    "api.example.net",  "cdn.example.org",     "static.example.net",
    "login.example.com",  "mail.example.com", "updates.example.net", "time.example.org",
    "search.example.org", "img.example.com"};

constexpr std::string_view kWords[] = {
    "packet", "flow",   "latency",    "jitter", "capture", "segment", "window", "metric",
    "probe",  "sample", "throughput", "demo",   "wire",    "meter",   "queue",  "burst"};

struct Resource {
  std::string_view path;
  std::string_view type;  // empty: the server answers 404
  size_t min_size;
  size_t max_size;
};

constexpr Resource kResources[] = {
    {"/", "text/html", 1500, 12000},
    {"/index.html", "text/html", 1500, 12000},
    {"/api/v1/status", "application/json", 80, 900},
    {"/api/v1/metrics", "application/json", 2000, 40000},
    {"/static/app.js", "application/javascript", 20000, 120000},
    {"/static/site.css", "text/css", 3000, 24000},
    {"/favicon.ico", "", 0, 0},  // never deployed, so browsers collect a 404 on every visit
};

class TrafficGenerator {
 public:
  explicit TrafficGenerator(uint64_t seed) : rng_(seed) {}

  std::vector<Packet> generate(int flows) {
    for (int i = 0; i < flows; ++i) {
      FlowPlan plan = i < static_cast<int>(std::size(kScripted)) ? kScripted[i] : random_plan();
      uint64_t start = i == 0 ? 0 : rng_.below(kSpanUs);  // flow 0 pins the capture start
      switch (plan.kind) {
        case Kind::kHttp:
          http_flow(plan, start);
          break;
        case Kind::kTls13:
        case Kind::kTls12:
          tls_flow(plan, start);
          break;
        case Kind::kRefused:
          refused_flow(plan, start);
          break;
        case Kind::kDns:
          dns_flow(plan, start);
          break;
        case Kind::kFragmentedDns:
          fragmented_dns_flow(plan, start);
          break;
        case Kind::kPing:
          ping_flow(plan, start);
          break;
        case Kind::kArp:
          arp_flow(plan, start);
          break;
        case Kind::kRtp:
          rtp_flow(plan, start);
          break;
        case Kind::kDhcp:
          dhcp_flow(plan, start);
          break;
      }
    }
    std::stable_sort(packets_.begin(), packets_.end(),
                     [](const Packet& a, const Packet& b) { return a.ts_us < b.ts_us; });
    return std::move(packets_);
  }

 private:
  FlowPlan random_plan() {
    FlowPlan plan;
    int roll = rng_.below(1000);
    for (auto [kind, weight] : kMix) {
      if (roll < weight) {
        plan.kind = kind;
        break;
      }
      roll -= weight;
    }
    int site = rng_.below(100);
    plan.site = site < 64 ? 0 : site < 79 ? 1 : site < 94 ? 2 : 3;
    bool tcp = plan.kind == Kind::kHttp || plan.kind == Kind::kTls13 || plan.kind == Kind::kTls12;
    bool tls = plan.kind == Kind::kTls13 || plan.kind == Kind::kTls12;
    bool dual_stack =
        tcp || plan.kind == Kind::kDns || plan.kind == Kind::kPing || plan.kind == Kind::kRefused;
    if (plan.kind == Kind::kFragmentedDns) plan.site = 0;  // fragments are sized for 1514 frames
    plan.v6 = dual_stack && rng_.chance(20);
    plan.retransmit = tcp && rng_.chance(3);
    plan.abort = rng_.chance(tls                        ? 8
                             : plan.kind == Kind::kHttp ? 3
                             : plan.kind == Kind::kRtp  ? 25  // a busy callee
                                                        : 0);
    plan.hop_by_hop = plan.v6 && plan.kind == Kind::kDns && rng_.chance(25);
    return plan;
  }

  Path client_path(const FlowPlan& plan, const IpAddr& server) {
    static constexpr uint8_t kServerTtls[] = {47, 52, 57, 116, 243};
    const Site& site = kSites[plan.site];
    uint8_t host = 10 + rng_.below(40);
    Path p;
    p.site = &site;
    p.client_mac = host_mac(site, host);
    p.peer_mac = gateway_mac(site);
    p.client_ip = plan.v6 ? ipv6(0, site.subnet, 0x100 + host) : ipv4(198, 18, site.subnet, host);
    p.server_ip = server;
    p.ttl = {64, kServerTtls[server.b[server.v6 ? 15 : 3] % std::size(kServerTtls)]};
    p.ip_id = {static_cast<uint16_t>(rng_.next()), static_cast<uint16_t>(rng_.next())};
    p.flow_label = {static_cast<uint32_t>(rng_.below(1 << 20)),
                    static_cast<uint32_t>(rng_.below(1 << 20))};
    return p;
  }

  uint16_t ephemeral_port() { return rng_.range(32768, 60999); }
  uint64_t path_rtt() {
    return rng_.chance(30) ? rng_.range(1500, 12000) : rng_.range(12000, 95000);
  }

  std::string pick_host() {
    if (rng_.chance(45)) return "demo-" + std::to_string(rng_.range(1, 40)) + ".example";
    return std::string(kHostNames[rng_.below(std::size(kHostNames))]);
  }

  std::string words(int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
      s += std::string(i ? " " : "") += kWords[rng_.below(std::size(kWords))];
    return s;
  }

  std::string make_body(std::string_view type, size_t size) {
    std::string s;
    if (type == "application/json") {
      s = "{\"status\":\"ok\",\"items\":[";
      for (int i = 0; s.size() + 80 < size; ++i) {
        std::string name = words(2);  // drawn before the value: see the note on Rng
        s += (i ? ",{\"id\":" : "{\"id\":") + std::to_string(i) + ",\"name\":\"" + name +
             "\",\"value\":" + std::to_string(rng_.below(100000)) + "}";
      }
      return s + "]}\n";
    }
    if (type == "text/html") {
      s = "<!DOCTYPE html>\n<html><head><title>wiremeter demo</title></head><body>\n";
      while (s.size() + 100 < size) s += "<p>" + words(rng_.range(4, 12)) + "</p>\n";
      return s + "</body></html>\n";
    }
    while (s.size() < size) s += "/* " + words(rng_.range(4, 14)) + " */\n";
    return s;
  }

  void send_udp(Path& p, Dir d, uint16_t client_port, uint16_t server_port,
                std::span<const uint8_t> payload, uint64_t ts, bool hop_by_hop = false) {
    Bytes l4 = udp_datagram(d, client_port, server_port, payload);
    packets_.push_back({ts, ip_frame(p, d, kProtoUdp, std::move(l4), hop_by_hop)});
  }

  void http_flow(const FlowPlan& plan, uint64_t start) {
    std::string host = pick_host();
    Path p = client_path(plan, server_for(host, plan.v6));
    uint16_t port = ephemeral_port();
    TcpFlow tcp(packets_, rng_, p, port, 80, start, path_rtt());
    tcp.connect();
    int requests = rng_.range(1, 3);
    bool server_closes = !plan.abort && rng_.chance(35);
    for (int i = 0; i < requests; ++i) {
      const Resource& res = kResources[rng_.below(std::size(kResources))];
      std::string request = "GET " + std::string(res.path) + " HTTP/1.1\r\nHost: " + host +
                            "\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) wiremeter-demo/1.0"
                            "\r\nAccept: */*\r\nAccept-Encoding: identity\r\n"
                            "Connection: keep-alive\r\n\r\n";
      uint64_t think = i == 0 ? rng_.range(100, 900) : rng_.range(2000, 900'000);
      tcp.send(kToServer, as_bytes(request), think, plan.retransmit && i == 0);

      bool found = !res.type.empty() && rng_.chance(95);
      std::string body = found ? make_body(res.type, rng_.range(res.min_size, res.max_size))
                               : "<html><body><h1>404 Not Found</h1></body></html>\n";
      char date[64];
      std::snprintf(date, sizeof(date), "Thu, 01 Jan 2026 00:00:%02u GMT",
                    static_cast<unsigned>(tcp.now() / kSecond % 60));
      std::string head = std::string(found ? "HTTP/1.1 200 OK" : "HTTP/1.1 404 Not Found") +
                         "\r\nServer: demo-httpd/1.4\r\nDate: " + date +
                         "\r\nContent-Type: " + std::string(found ? res.type : "text/html") +
                         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: " +
                         (server_closes && i + 1 == requests ? "close" : "keep-alive") + "\r\n\r\n";
      tcp.send(kToClient, as_bytes(head + body), rng_.range(150, 8000));
    }
    if (plan.abort) {
      tcp.abort(kToServer);
    } else {
      tcp.close(server_closes ? kToClient : kToServer);
    }
  }

  void tls_flow(const FlowPlan& plan, uint64_t start) {
    bool tls13 = plan.kind == Kind::kTls13;
    std::string host = pick_host();
    Path p = client_path(plan, server_for(host, plan.v6));
    uint16_t port = ephemeral_port();
    TcpFlow tcp(packets_, rng_, p, port, 443, start, path_rtt());
    tcp.connect();
    Bytes sid = rng_.bytes(32);
    Bytes hello = client_hello(rng_, host, tls13, sid);
    tcp.send(kToServer, hello, rng_.range(100, 900));

    Frame server;  // 1.3: EncryptedExtensions..Finished; 1.2 resumption: just Finished
    put_server_hello(server, rng_, tls13, sid);
    put_change_cipher_spec(server);
    put_encrypted(server, rng_, kTlsHandshake, tls13 ? rng_.range(1800, 4200) : 16, tls13);
    tcp.send(kToClient, server.bytes(), rng_.range(300, 3000));

    Frame client;
    put_change_cipher_spec(client);
    put_encrypted(client, rng_, kTlsHandshake, tls13 ? 36 : 16, tls13);
    put_encrypted(client, rng_, kTlsAppData, rng_.range(80, 700), tls13);
    tcp.send(kToServer, client.bytes(), rng_.range(200, 2000), plan.retransmit);

    int exchanges = rng_.range(1, 4);
    for (int i = 0; i < exchanges; ++i) {
      if (i > 0) {
        Frame request;
        put_encrypted(request, rng_, kTlsAppData, rng_.range(60, 900), tls13);
        tcp.send(kToServer, request.bytes(), rng_.range(5000, 800'000));
      }
      static constexpr size_t kSizes[][2] = {{200, 3000}, {3000, 20000}, {20000, 120000}};
      uint64_t tier = rng_.below(20);
      const size_t* range = kSizes[tier < 10 ? 0 : tier < 17 ? 1 : 2];
      Frame response;
      put_encrypted(response, rng_, kTlsAppData, rng_.range(range[0], range[1]), tls13);
      tcp.send(kToClient, response.bytes(), rng_.range(200, 20000));
    }
    if (plan.abort) {  // browsers often just reset connections they no longer need
      tcp.abort(kToServer);
      return;
    }
    Frame alert;
    put_encrypted(alert, rng_, kTlsAlert, 2, tls13);  // close_notify
    tcp.send(kToServer, alert.bytes(), rng_.range(1000, 400'000));
    tcp.close(kToServer);
  }

  void refused_flow(const FlowPlan& plan, uint64_t start) {
    static constexpr uint16_t kClosedPorts[] = {22, 25, 3389, 5432, 8080, 8443};
    Path p = client_path(plan, server_ip(rng_.below(kServerCount), plan.v6));
    uint16_t server_port = kClosedPorts[rng_.below(std::size(kClosedPorts))];
    uint16_t client_port = ephemeral_port();
    TcpFlow(packets_, rng_, p, client_port, server_port, start, path_rtt()).refuse();
  }

  void dns_flow(const FlowPlan& plan, uint64_t start) {
    static constexpr std::string_view kZones[] = {"example.com", "example.net", "example.org"};
    static constexpr std::string_view kMissing[] = {"wpad", "intranet", "printer", "wwww"};
    Path p = client_path(plan, resolver_ip(plan.v6));
    uint16_t port = ephemeral_port();
    // Cache hits come back in about a millisecond; misses pay for the recursion.
    uint64_t latency = rng_.chance(70) ? rng_.range(300, 3000) : rng_.range(8000, 60000);
    auto exchange = [&](const DnsMessage& q, const DnsMessage& r, uint64_t t) {
      send_udp(p, kToServer, port, kDnsPort, encode_dns(q), t, plan.hop_by_hop);
      send_udp(p, kToClient, port, kDnsPort, encode_dns(r), t + latency + rng_.range(0, 400));
    };
    if (rng_.chance(15)) {
      std::string zone(kZones[rng_.below(std::size(kZones))]);
      DnsMessage q{.id = static_cast<uint16_t>(rng_.next()),
                   .qname = std::string(kMissing[rng_.below(std::size(kMissing))]) + "." + zone};
      DnsMessage r = q;
      r.flags = kDnsResponse | kDnsNxDomain;
      r.authority.push_back({.owner = zone, .type = kDnsSoa, .ttl = 900, .target = zone});
      exchange(q, r, start);
      return;
    }
    // A and AAAA leave together from one socket, the way glibc's resolver sends them.
    std::string name = pick_host();
    DnsMessage a{.id = static_cast<uint16_t>(rng_.next()), .qname = name, .qtype = kDnsA};
    DnsMessage aaaa{.id = static_cast<uint16_t>(rng_.next()), .qname = name, .qtype = kDnsAaaa};
    exchange(a, dns_answer(a), start);
    exchange(aaaa, dns_answer(aaaa), start + rng_.range(30, 300));
  }

  // An EDNS0 TXT answer too big for one frame; the resolver's IP layer fragments it.
  void fragmented_dns_flow(const FlowPlan& plan, uint64_t start) {
    static constexpr char kBase64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    Path p = client_path(plan, resolver_ip(false));
    uint16_t port = ephemeral_port();
    DnsMessage q{.id = static_cast<uint16_t>(rng_.next()),
                 .qname = "_keys.demo-" + std::to_string(rng_.range(1, 40)) + ".example",
                 .qtype = kDnsTxt,
                 .edns_size = 4096};
    send_udp(p, kToServer, port, kDnsPort, encode_dns(q), start);
    DnsMessage r = q;
    r.flags = kDnsResponse;
    for (int i = 0; i < 3; ++i) {
      DnsRecord txt{.owner = q.qname, .type = kDnsTxt, .ttl = 3600};
      for (int j = 0; j < 3; ++j) {
        std::string s = "v=demo1; k=";
        while (s.size() < 240) s += kBase64[rng_.below(64)];
        txt.texts.push_back(s);
      }
      r.answers.push_back(txt);
    }
    Bytes l4 = udp_datagram(kToClient, port, kDnsPort, encode_dns(r));
    set_l4_checksum(l4, kProtoUdp, p.server_ip, p.client_ip);
    uint16_t id = p.ip_id[kToClient]++;
    constexpr size_t kFragmentPayload = 1480;  // largest multiple of 8 within a 1500-byte MTU
    uint64_t t = start + rng_.range(2000, 30000);
    for (size_t off = 0; off < l4.size(); off += kFragmentPayload, t += rng_.range(5, 40)) {
      size_t n = std::min(kFragmentPayload, l4.size() - off);
      Frame f;
      put_ethernet(f, p.peer_mac, p.client_mac, *p.site, kEtherIpv4);
      put_ipv4(f, p, kToClient, kProtoUdp, n, id,
               (off + n < l4.size() ? kMoreFragments : 0) | off / 8);
      f.append(std::span<const uint8_t>(l4).subspan(off, n));
      packets_.push_back({t, finish(std::move(f))});
    }
  }

  // Linux revalidates a stale neighbour entry with a unicast NS to the router, which keeps the
  // exchange inside 2001:db8::/32 (no solicited-node multicast needed).
  void neighbor_check(const Path& via, uint64_t t) {
    constexpr uint32_t kRouterSolicitedOverride = 0xe0000000;
    Path nd = via;
    nd.server_ip = ipv6(0, via.site->subnet, 1);
    nd.ttl = {255, 255};  // RFC 4861 drops ND messages that crossed a router
    Frame ns, na;
    ns.u8(135).u8(0).u16(0).u32(0).append(nd.server_ip.bytes()).u8(1).u8(1).append(nd.client_mac);
    na.u8(136).u8(0).u16(0).u32(kRouterSolicitedOverride).append(nd.server_ip.bytes());
    na.u8(2).u8(1).append(nd.peer_mac);
    packets_.push_back({t, ip_frame(nd, kToServer, kProtoIcmpv6, ns.take())});
    packets_.push_back({t + rng_.range(40, 600), ip_frame(nd, kToClient, kProtoIcmpv6, na.take())});
  }

  void ping_flow(const FlowPlan& plan, uint64_t start) {
    Path p = client_path(plan, server_for(pick_host(), plan.v6));
    uint64_t rtt = path_rtt();
    uint64_t count = rng_.range(3, 6);
    start = std::min(start, kSpanUs - count * kSecond);
    size_t max_data = 1500 - (plan.v6 ? 48 : 28) - 4 * p.site->tag_depth;
    size_t data_len = rng_.chance(25) ? rng_.range(400, max_data) : 56;
    uint8_t proto = plan.v6 ? kProtoIcmpv6 : kProtoIcmp;
    if (plan.v6) {
      neighbor_check(p, start);
      start += rng_.range(800, 3000);
    }
    uint16_t id = rng_.next();
    for (uint16_t seq = 1; seq <= count; ++seq) {
      uint64_t t = start + (seq - 1) * kSecond + rng_.range(0, 300);
      // iputils layout: a little-endian struct timeval, then the 0x10, 0x11, ... fill pattern.
      Bytes data(data_len);
      uint64_t tv[2] = {static_cast<uint64_t>(kEpochSeconds) + t / kSecond, t % kSecond};
      for (size_t i = 0; i < data_len; ++i)
        data[i] = i < 16 ? (tv[i / 8] >> (8 * (i % 8))) & 0xff : i;
      uint64_t back = t + rtt + rng_.range(0, rtt / 10 + 50);
      packets_.push_back(
          {t, ip_frame(p, kToServer, proto, icmp_echo(plan.v6 ? 128 : 8, id, seq, data))});
      packets_.push_back(
          {back, ip_frame(p, kToClient, proto, icmp_echo(plan.v6 ? 129 : 0, id, seq, data))});
    }
  }

  void arp_flow(const FlowPlan& plan, uint64_t start) {
    constexpr Mac kUnknown{};
    const Site& site = kSites[plan.site];
    uint8_t host = 10 + rng_.below(40);
    Mac asker_mac = host_mac(site, host), target_mac = gateway_mac(site);
    IpAddr asker_ip = ipv4(198, 18, site.subnet, host), target_ip = ipv4(198, 18, site.subnet, 1);
    if (rng_.chance(15)) {  // gratuitous: a host announcing itself after link-up
      packets_.push_back(
          {start, arp_frame(site, 1, kBroadcast, asker_mac, asker_ip, kUnknown, asker_ip)});
      return;
    }
    if (rng_.chance(35)) {  // the router refreshing its entry for the host
      std::swap(asker_mac, target_mac);
      std::swap(asker_ip, target_ip);
    }
    packets_.push_back(
        {start, arp_frame(site, 1, kBroadcast, asker_mac, asker_ip, kUnknown, target_ip)});
    packets_.push_back({start + rng_.range(40, 900),
                        arp_frame(site, 2, asker_mac, target_mac, target_ip, asker_mac, asker_ip)});
  }

  // A G.711 call from a desk phone to a media gateway. SIP over UDP sets it up: INVITE with the
  // SDP offer, 100 Trying, 180 Ringing, 200 OK with the answer, ACK. Then both directions send
  // every 20 ms, speakers taking turns, until the phone hangs up with BYE. A busy callee
  // (plan.abort) ends the call at 486, with no media. Answered calls start early on their own
  // schedule so that they span most of the capture.
  void rtp_flow(const FlowPlan& plan, uint64_t start) {
    constexpr uint8_t kPcmu = 0;
    Path p = client_path(plan, ipv4(198, 19, 200, 20));
    Path signalling = p;
    signalling.tos = 0x60;  // DSCP CS3 for SIP
    p.tos = 0xb8;           // DSCP EF, as phones mark voice
    bool busy = plan.abort;
    std::string phone = ip_text(p.client_ip), gateway = ip_text(p.server_ip);
    std::string ext = std::to_string(p.site->subnet * 100 + p.client_ip.b[3]);
    std::string callee = "+12025550" + std::to_string(rng_.range(100, 199));  // fictional 555-01xx
    uint16_t client_port = 16384 + 2 * rng_.below(1000);
    uint16_t server_port = 5004 + 2 * rng_.below(500);  // the gateway's port for this call
    uint64_t rtt = rng_.range(2000, 30000);
    std::string call_id = hex(rng_.next(), 16) + "@" + phone;
    std::string from_tag = hex(rng_.next(), 8), to_tag = hex(rng_.next(), 8);
    std::string invite_branch = "z9hG4bK" + hex(rng_.next(), 12);
    uint64_t session = rng_.range(1'000'000'000, 4'000'000'000);
    std::string uri = "sip:" + callee + "@" + gateway;
    std::string target = uri + ":5060";  // the gateway's Contact: where in-dialog requests go

    // Tags and the Call-ID stay the same through the dialog; a request's Via branch names its
    // transaction, which the ACK of a failure and every response share.
    auto dialog = [&](bool tagged, int cseq, std::string_view method) {
      return "From: \"Ext " + ext + "\" <sip:" + ext + "@" + gateway + ">;tag=" + from_tag +
             "\r\nTo: <" + uri + ">" + (tagged ? ";tag=" + to_tag : "") +
             "\r\nCall-ID: " + call_id + "\r\nCSeq: " + std::to_string(cseq) + " " +
             std::string(method) + "\r\n";
    };
    auto request = [&](std::string_view method, const std::string& request_uri,
                       const std::string& branch, int cseq, bool tagged, std::string_view sdp) {
      std::string head = std::string(method) + " " + request_uri + " SIP/2.0\r\nVia: SIP/2.0/UDP " +
                         phone + ":5060;branch=" + branch + ";rport\r\nMax-Forwards: 70\r\n" +
                         dialog(tagged, cseq, method);
      if (method == "INVITE")
        head += "Contact: <sip:" + ext + "@" + phone +
                ":5060>\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n";
      return sip_message(head + "User-Agent: wiremeter-demo-phone/2.1\r\n", sdp);
    };
    auto response = [&](std::string_view status, const std::string& branch, int cseq,
                        std::string_view method, std::string_view sdp = {}) {
      std::string head = "SIP/2.0 " + std::string(status) + "\r\nVia: SIP/2.0/UDP " + phone +
                         ":5060;branch=" + branch + ";rport=5060\r\n" +
                         dialog(!status.starts_with("100"), cseq, method);
      if (status.starts_with("180") || (status.starts_with("200") && method == "INVITE"))
        head += "Contact: <" + target + ">\r\n";
      return sip_message(head + "Server: demo-gateway/3.0\r\n", sdp);
    };
    auto send = [&](Dir d, const std::string& message, uint64_t t) {
      send_udp(signalling, d, kSipPort, kSipPort, as_bytes(message), t);
    };

    uint64_t t = busy ? start : rng_.range(100'000, 700'000);
    send(kToServer,
         request("INVITE", uri, invite_branch, 1, false,
                 sdp_body(ext, session, phone, client_port, true)),
         t);
    send(kToClient, response("100 Trying", invite_branch, 1, "INVITE"),
         t + rtt + rng_.range(200, 2000));
    if (busy) {
      t += rtt + rng_.range(5000, 60000);
      send(kToClient, response("486 Busy Here", invite_branch, 1, "INVITE"), t);
      send(kToServer, request("ACK", uri, invite_branch, 1, true, {}), t + rng_.range(100, 1500));
      return;
    }
    t += rtt + rng_.range(150'000, 600'000);
    send(kToClient, response("180 Ringing", invite_branch, 1, "INVITE"), t);
    t += rng_.range(800'000, 3'000'000);  // someone picks up
    std::string answer = sdp_body("gateway", session / 2 + 7, gateway, server_port, false);
    send(kToClient, response("200 OK", invite_branch, 1, "INVITE", answer), t);
    start = t + rng_.range(200, 1500);
    send(kToServer, request("ACK", target, "z9hG4bK" + hex(rng_.next(), 12), 1, true, {}), start);

    uint64_t far_phase = rng_.range(3000, 17000);  // the far end's packetisation clock offset
    uint64_t frames = rng_.range(400, 480);
    struct Stream {
      uint16_t seq;
      uint32_t ts, ssrc;
    };
    std::array<Stream, 2> streams;  // indexed by Dir; random starts, as RFC 3550 asks
    for (Stream& s : streams)
      s = {static_cast<uint16_t>(rng_.next()), static_cast<uint32_t>(rng_.next()),
           static_cast<uint32_t>(rng_.next())};
    for (uint64_t i = 0; i < frames; ++i) {
      for (Dir d : {kToServer, kToClient}) {
        uint64_t at = start + i * 20'000 +
                      (d == kToServer ? rng_.range(0, 60) : far_phase + rng_.range(0, 1500));
        bool talking = ((i / 90) % 2 == 0) == (d == kToServer);
        Stream& s = streams[d];
        Frame rtp;
        rtp.u8(0x80).u8((i == 0 ? 0x80 : 0) | kPcmu).u16(s.seq++).u32(s.ts).u32(s.ssrc);
        for (uint32_t n = s.ts; n != s.ts + 160; ++n) {
          // Line noise keeps silence from being a flat 0xff; a ~140 Hz triangle under a slow
          // envelope is a cheap stand-in for voiced speech.
          int pcm = static_cast<int>(rng_.below(97)) - 48;
          int phase = n % 57;
          if (talking)
            pcm += ((phase < 29 ? phase : 57 - phase) - 14) * (300 + (n / 400) % 6 * 180);
          rtp.u8(mulaw(pcm));
        }
        s.ts += 160;
        send_udp(p, d, client_port, server_port, rtp.bytes(), at);
      }
    }

    t = start + frames * 20'000 + rng_.range(5000, 300'000);
    std::string bye_branch = "z9hG4bK" + hex(rng_.next(), 12);
    send(kToServer, request("BYE", target, bye_branch, 2, true, {}), t);
    send(kToClient, response("200 OK", bye_branch, 2, "BYE"), t + rtt + rng_.range(200, 2000));
  }

  // DHCP takes addresses no other flow uses: 0.0.0.0 before the client has one, and the
  // limited broadcast while the server cannot reach it by unicast.
  void send_dhcp(const Site& site, const DhcpMessage& m, const IpAddr& src, const IpAddr& dst,
                 const Mac& dst_mac, uint64_t t) {
    bool client = dhcp_from_client(m.type);
    Dir d = client ? kToServer : kToClient;
    Path p;
    p.site = &site;
    p.client_mac = client ? m.chaddr : dst_mac;
    p.peer_mac = client ? dst_mac : gateway_mac(site);
    p.client_ip = client ? src : dst;
    p.server_ip = client ? dst : src;
    p.ip_id[d] = rng_.next();
    Bytes l4 = udp_datagram(d, kDhcpClientPort, kDhcpServerPort, encode_dhcp(m));
    packets_.push_back({t, ip_frame(p, d, kProtoUdp, std::move(l4))});
  }

  // A client on a site's LAN and the site's gateway, which serves the leases itself. The address
  // it hands out is the one the host's other flows use.
  void dhcp_flow(const FlowPlan& plan, uint64_t start) {
    static constexpr std::string_view kDevices[] = {"laptop", "desktop", "phone", "tablet"};
    const Site& site = kSites[plan.site];
    uint8_t host = 10 + rng_.below(40);
    DhcpExchange exchange = plan.dhcp;
    if (exchange == DhcpExchange::kRandom) {
      uint64_t roll = rng_.below(100);
      exchange = roll < 72   ? DhcpExchange::kBoot
                 : roll < 90 ? DhcpExchange::kRenew
                 : roll < 95 ? DhcpExchange::kNak
                             : DhcpExchange::kInform;
    }
    Mac mac = host_mac(site, host);
    IpAddr addr = ipv4(198, 18, site.subnet, host), server = ipv4(198, 18, site.subnet, 1);
    const IpAddr none{}, everyone = ipv4(255, 255, 255, 255);
    std::string name =
        exchange == DhcpExchange::kInform ? "printer" : std::string(kDevices[host % 4]);
    name += "-" + std::to_string(host);
    auto turnaround = [&] { return rng_.range(400, 12000); };

    if (exchange == DhcpExchange::kRenew || exchange == DhcpExchange::kInform) {
      // Renewing at T1 goes straight to the server that granted the lease. INFORM comes from a
      // host with a static address; its ACK carries no lease (RFC 2131 4.3.5).
      bool renew = exchange == DhcpExchange::kRenew;
      DhcpMessage ask{.type = renew ? kDhcpRequest : kDhcpInform,
                      .xid = static_cast<uint32_t>(rng_.next()),
                      .chaddr = mac,
                      .ciaddr = addr,
                      .hostname = name};
      send_dhcp(site, ask, addr, renew ? server : everyone, renew ? gateway_mac(site) : kBroadcast,
                start);
      DhcpMessage ack{.type = kDhcpAck,
                      .xid = ask.xid,
                      .chaddr = mac,
                      .ciaddr = addr,
                      .yiaddr = renew ? addr : none,
                      .server_id = server,
                      .lease = renew ? kDhcpLease : 0,
                      .config = true};
      send_dhcp(site, ack, server, addr, mac, start + turnaround());
      return;
    }
    if (exchange == DhcpExchange::kNak) {
      // A laptop that last booted at another site asks to keep that address (INIT-REBOOT); the
      // server broadcasts its NAK, since the client cannot take the address, and it starts over.
      const Site& before = kSites[(plan.site + 1 + rng_.below(kSites.size() - 1)) % kSites.size()];
      DhcpMessage ask{.type = kDhcpRequest,
                      .xid = static_cast<uint32_t>(rng_.next()),
                      .chaddr = mac,
                      .requested_ip = ipv4(198, 18, before.subnet, host),
                      .hostname = name};
      send_dhcp(site, ask, none, everyone, kBroadcast, start);
      DhcpMessage nak{.type = kDhcpNak,
                      .xid = ask.xid,
                      .chaddr = mac,
                      .server_id = server,
                      .message = "requested address not on this network"};
      start += turnaround();
      send_dhcp(site, nak, server, everyone, kBroadcast, start);
      start += rng_.range(10'000, 600'000);
    }

    // Replies go to the offered address and the client's MAC unless the client asked for
    // broadcasts (RFC 2131 4.1).
    bool broadcast = rng_.chance(25);
    const IpAddr& reply_ip = broadcast ? everyone : addr;
    const Mac& reply_mac = broadcast ? kBroadcast : mac;
    DhcpMessage discover{.type = kDhcpDiscover,
                         .xid = static_cast<uint32_t>(rng_.next()),
                         .broadcast = broadcast,
                         .chaddr = mac,
                         .hostname = name};
    send_dhcp(site, discover, none, everyone, kBroadcast, start);
    DhcpMessage offer{.type = kDhcpOffer,
                      .xid = discover.xid,
                      .broadcast = broadcast,
                      .chaddr = mac,
                      .yiaddr = addr,
                      .server_id = server,
                      .lease = kDhcpLease,
                      .config = true};
    // Some servers ping an address before offering it and wait half a second for an echo.
    uint64_t t = start + (rng_.chance(30) ? rng_.range(500'000, 1'000'000) : turnaround());
    send_dhcp(site, offer, server, reply_ip, reply_mac, t);
    DhcpMessage request = discover;
    request.type = kDhcpRequest;
    request.server_id = server;
    request.requested_ip = addr;
    t += rng_.range(200, 3000);
    send_dhcp(site, request, none, everyone, kBroadcast, t);
    DhcpMessage ack = offer;
    ack.type = kDhcpAck;
    t += turnaround();
    send_dhcp(site, ack, server, reply_ip, reply_mac, t);
    // Configured, the host announces its address to the LAN (RFC 5227).
    packets_.push_back(
        {t + rng_.range(2000, 80000), arp_frame(site, 1, kBroadcast, mac, addr, Mac{}, addr)});
  }

  Rng rng_;
  std::vector<Packet> packets_;
};

// ---- Command line and output ----

struct Options {
  std::string out;
  int flows = kDefaultFlows;
  uint64_t seed = kDefaultSeed;
};

template <typename T>
bool parse_number(std::string_view s, T* value) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_args(int argc, char** argv, Options* opts, std::string* error) {
  for (int i = 1; i < argc && error->empty(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "--flows" || arg == "--seed") {
      std::string_view value = i + 1 < argc ? argv[++i] : "";
      bool flows = arg == "--flows";
      bool ok =
          flows ? parse_number(value, &opts->flows) && opts->flows >= 1 && opts->flows <= kMaxFlows
                : parse_number(value, &opts->seed);
      if (!ok && flows) *error = "--flows needs an integer from 1 to " + std::to_string(kMaxFlows);
      if (!ok && !flows) *error = "--seed needs an unsigned 64-bit integer";
    } else if (arg.size() > 1 && arg[0] == '-') {
      *error = "unknown option '" + std::string(arg) + "'";
    } else if (!opts->out.empty()) {
      *error = "unexpected argument '" + std::string(arg) + "'";
    } else {
      opts->out = arg;
    }
  }
  if (error->empty() && opts->out.empty()) *error = "missing output file";
  return error->empty();
}

// Goes through OUT.tmp and a rename so a failed run never leaves a truncated capture behind for
// the appliance to replay.
bool write_pcap(const std::string& path, const std::vector<Packet>& packets, std::string* error) {
  std::string tmp = path + ".tmp";
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  if (dead == nullptr) {
    *error = "cannot initialise libpcap";
    return false;
  }
  pcap_dumper_t* dumper = pcap_dump_open(dead, tmp.c_str());
  if (dumper == nullptr) {
    *error = std::string("cannot create ") + pcap_geterr(dead);  // names the path itself
    pcap_close(dead);
    return false;
  }
  for (const Packet& pkt : packets) {
    pcap_pkthdr hdr{};
    hdr.ts.tv_sec = kEpochSeconds + static_cast<int64_t>(pkt.ts_us / kSecond);
    hdr.ts.tv_usec = pkt.ts_us % kSecond;
    hdr.caplen = hdr.len = pkt.data.size();
    pcap_dump(reinterpret_cast<u_char*>(dumper), &hdr, pkt.data.data());
  }
  bool ok = pcap_dump_flush(dumper) == 0 && !std::ferror(pcap_dump_file(dumper));
  int saved_errno = errno;
  pcap_dump_close(dumper);
  pcap_close(dead);
  if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) return true;
  if (ok) saved_errno = errno;
  *error = "cannot write " + (ok ? path : tmp) + ": " + std::strerror(saved_errno);
  std::remove(tmp.c_str());
  return false;
}

int run(int argc, char** argv) {
  Options opts;
  std::string error;
  if (!parse_args(argc, argv, &opts, &error)) {
    std::fprintf(stderr, "error: %s (usage: %s)\n", error.c_str(), kUsage.data());
    return 2;
  }
  std::vector<Packet> packets = TrafficGenerator(opts.seed).generate(opts.flows);
  if (!write_pcap(opts.out, packets, &error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  std::printf("wrote %zu packets to %s\n", packets.size(), opts.out.c_str());
  return 0;
}

}  // namespace
}  // namespace wiremeter::demo

int main(int argc, char** argv) { return wiremeter::demo::run(argc, argv); }
