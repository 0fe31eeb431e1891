// Tests of the ip plugin through its C descriptor, as the host drives it: per-host counters,
// flows, peers, L4 and L7 bytes, names from DNS/DHCP/SNI packets, the overflow bucket, metrics,
// the report, the REST views and the settings.
#include "ip_plugin.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::ip {
namespace {

using testing::BuiltPacket;
using testing::FakeHost;
using testing::FakeSample;
using testing::PacketBuilder;
using testing::PluginHarness;

static_assert(sizeof(FlowState) == 16, "flow state is paid by every flow: keep it at 16 bytes");

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;
constexpr uint64_t kSec = 1'000'000'000ull;

struct Flow {
  explicit Flow(uint64_t id = 1) { info.id = id; }
  wm_flow_info info{};
  alignas(16) uint8_t state[64] = {};
};

class Driver : public PluginHarness {
 public:
  explicit Driver(FakeHost& host, uint32_t workers = 1)
      : PluginHarness(wiremeter_plugin_register(), host, workers) {}
  void send(std::vector<BuiltPacket>& pkts, uint32_t w = 0) {
    std::vector<wm_packet> views;
    for (auto& p : pkts) views.push_back(p.view);
    batch(w, views);
  }
  void publish(uint32_t w = 0) { worker_tick(w, kT0); }
};

BuiltPacket tcp(Flow* f, bool forward, size_t payload, uint64_t ts, const char* a = "10.0.0.1",
                const char* b = "10.0.0.2", uint16_t ap = 40000, uint16_t bp = 443) {
  PacketBuilder pb;
  if (forward) {
    pb.ipv4(a, b).tcp(ap, bp);
  } else {
    pb.ipv4(b, a).tcp(bp, ap);
  }
  pb.payload_size(payload).timestamp_ns(ts);
  if (f) pb.flow(&f->info, f->state, forward ? WM_DIR_FORWARD : WM_DIR_REVERSE);
  return pb.build();
}

// The value of a JSON number field after `key` (first match from `from`), for short checks.
double num(const std::string& json, const std::string& key, size_t from = 0) {
  size_t at = json.find("\"" + key + "\":", from);
  if (at == std::string::npos) return -1;
  return std::stod(json.substr(at + key.size() + 3));
}

TEST(IpPlugin, CountsHostsInOutFlowsPeersAndL4) {
  FakeHost host;
  Driver d(host);
  Flow f;
  std::vector<BuiltPacket> p;
  p.push_back(tcp(&f, true, 100, kT0));
  p.push_back(tcp(&f, false, 1000, kT0 + kSec));
  p.push_back(tcp(&f, true, 0, kT0 + 2 * kSec));
  // ICMP-less extra: a UDP packet to a third host, without a flow.
  p.push_back(PacketBuilder()
                  .ipv4("10.0.0.1", "10.0.0.3")
                  .udp(5000, 6000)
                  .payload_size(10)
                  .timestamp_ns(kT0 + 3 * kSec)
                  .build());
  d.send(p);
  d.publish();

  HostRow row;
  std::vector<PeerRow> peers;
  std::vector<Worker*> workers = {&d.worker_as<Worker>(0)};
  Address a;
  ASSERT_TRUE(parse_address("10.0.0.1", a));
  ASSERT_TRUE(Plugin::detail(workers, a, row, peers));
  size_t f1 = p[0].view.wire_len, r1 = p[1].view.wire_len, f2 = p[2].view.wire_len,
         u = p[3].view.wire_len;
  EXPECT_EQ(row.packets_out, 3u);
  EXPECT_EQ(row.packets_in, 1u);
  EXPECT_EQ(row.bytes_out, f1 + f2 + u);
  EXPECT_EQ(row.bytes_in, r1);
  EXPECT_EQ(row.flows, 1u);  // the UDP packet had no flow
  EXPECT_EQ(row.l4_bytes[kL4Tcp], f1 + r1 + f2);
  EXPECT_EQ(row.l4_bytes[kL4Udp], u);
  EXPECT_EQ(row.first_ns, kT0);
  EXPECT_EQ(row.last_ns, kT0 + 3 * kSec);
  EXPECT_EQ(HostEntry::estimate_peers(row.peer_bits), 2u);
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(format_address(peers[0].addr), "10.0.0.2");
  EXPECT_EQ(peers[0].bytes, f1 + r1 + f2);
  EXPECT_EQ(format_address(peers[1].addr), "10.0.0.3");

  auto [status, body] = d.query("hosts", "sort=bytes&order=desc&size=2");
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(num(body, "total"), 3);
  size_t first = body.find("\"address\":\"10.0.0.1\"");
  size_t second = body.find("\"address\":\"10.0.0.2\"");
  EXPECT_NE(first, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_EQ(body.find("10.0.0.3"), std::string::npos);  // page of 2

  auto [s2, asc] = d.query("hosts", "sort=packets&order=asc&size=1");
  EXPECT_EQ(s2, 200);
  EXPECT_NE(asc.find("\"address\":\"10.0.0.3\""), std::string::npos);
}

TEST(IpPlugin, FiltersPrefixesAndWindows) {
  FakeHost host;
  Driver d(host);
  std::vector<BuiltPacket> p;
  p.push_back(PacketBuilder().ipv4("10.1.0.1", "192.168.5.5").udp(1, 2).timestamp_ns(kT0).build());
  p.push_back(PacketBuilder()
                  .ipv6("2001:db8::1", "2001:db8::2")
                  .udp(1, 2)
                  .timestamp_ns(kT0 + 100 * kSec)
                  .build());
  d.send(p);
  d.publish();
  auto [s1, b1] = d.query("hosts", "prefix=10.0.0.0/8");
  EXPECT_EQ(s1, 200);
  EXPECT_EQ(num(b1, "total"), 1);
  EXPECT_NE(b1.find("10.1.0.1"), std::string::npos);
  auto [s2, b2] = d.query("hosts", "prefix=2001:db8::/32");
  EXPECT_EQ(num(b2, "total"), 2);
  auto [s3, b3] = d.query("hosts", "filter=192.168");
  EXPECT_EQ(num(b3, "total"), 1);
  // Window: only the IPv6 pair was active after kT0 + 50 s.
  auto [s4, b4] = d.query("hosts", "from=" + std::to_string(kT0 / kSec + 50));
  EXPECT_EQ(num(b4, "total"), 2);
  EXPECT_NE(b4.find("2001:db8::2"), std::string::npos);
  EXPECT_EQ(d.query("hosts", "prefix=banana").first, 400);
  EXPECT_EQ(d.query("hosts", "prefix=10.0.0.0/33").first, 400);
  EXPECT_EQ(d.query("hosts", "sort=colour").first, 400);
  EXPECT_EQ(d.query("hosts", "bogus=1").first, 400);
  EXPECT_EQ(d.query("hosts/not-an-address").first, 400);
  EXPECT_EQ(d.query("hosts/10.9.9.9").first, 404);
  EXPECT_EQ(d.query("nothing").first, 404);
}

// A DNS response: www.example.com A 192.0.2.10 (the question at offset 12 is the owner).
std::string dns_response() {
  std::string m = {0x12, 0x34, static_cast<char>(0x81), static_cast<char>(0x80), 0, 1, 0, 1, 0, 0,
                   0,    0};
  m += std::string(
      "\x03www\x07"
      "example\x03"
      "com\x00",
      17);
  m += std::string("\x00\x01\x00\x01", 4);
  m += std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x0a", 16);
  return m;
}

TEST(IpPlugin, LearnsNamesFromDnsAndSni) {
  FakeHost host;
  Driver d(host);
  std::vector<BuiltPacket> p;
  p.push_back(PacketBuilder()
                  .ipv4("10.0.0.53", "10.0.0.1")
                  .udp(53, 40000)
                  .payload(dns_response())
                  .timestamp_ns(kT0)
                  .build());
  // A ClientHello to another server: its SNI names it.
  std::string hello = {0x16, 0x03, 0x01, 0x00, 0x00};
  std::string body = std::string("\x03\x03", 2) + std::string(32, 'r') + std::string("\x00", 1) +
                     std::string("\x00\x02\x13\x01\x01\x00", 6);
  std::string sni = std::string("\x00\x00\x00\x0f\x00\x0d\x00\x00\x0a", 9) + "tls.test.x";
  body += std::string(1, '\0') + std::string(1, static_cast<char>(sni.size())) + sni;
  std::string hs = std::string("\x01\x00", 2) +
                   std::string(1, static_cast<char>(body.size() >> 8)) +
                   std::string(1, static_cast<char>(body.size())) + body;
  hello[3] = static_cast<char>(hs.size() >> 8);
  hello[4] = static_cast<char>(hs.size());
  hello += hs;
  Flow f;
  p.push_back(PacketBuilder()
                  .ipv4("10.0.0.1", "192.0.2.20")
                  .tcp(40001, 443)
                  .payload(hello)
                  .flow(&f.info, f.state, WM_DIR_FORWARD)
                  .timestamp_ns(kT0 + kSec)
                  .build());
  // Traffic to the DNS-named address.
  p.push_back(PacketBuilder()
                  .ipv4("10.0.0.1", "192.0.2.10")
                  .tcp(40002, 80)
                  .timestamp_ns(kT0 + kSec)
                  .build());
  d.send(p);
  d.publish();

  auto [s, names] = d.query("names", "sort=name&order=asc");
  ASSERT_EQ(s, 200) << names;
  EXPECT_EQ(num(names, "total"), 2);
  EXPECT_NE(names.find(R"({"address":"192.0.2.20","name":"tls.test.x","source":"sni")"),
            std::string::npos)
      << names;
  EXPECT_NE(names.find(R"({"address":"192.0.2.10","name":"www.example.com","source":"dns")"),
            std::string::npos)
      << names;
  auto [s2, hosts] = d.query("hosts", "filter=example");
  EXPECT_EQ(num(hosts, "total"), 1);
  EXPECT_NE(hosts.find(R"("name":"www.example.com")"), std::string::npos);
  auto [s3, detail] = d.query("hosts/192.0.2.20");
  ASSERT_EQ(s3, 200);
  EXPECT_NE(detail.find(R"("names":[{"name":"tls.test.x","source":"sni")"), std::string::npos)
      << detail;
  EXPECT_NE(detail.find(R"("top_peers":[{"address":"10.0.0.1")"), std::string::npos) << detail;
  EXPECT_EQ(d.worker_as<Worker>(0).names_learned[static_cast<size_t>(NameSource::kDns)].value(),
            1u);
  EXPECT_EQ(d.query("names", "source=ftp").first, 400);
  auto [s4, only_sni] = d.query("names", "source=sni");
  EXPECT_EQ(num(only_sni, "total"), 1);
}

TEST(IpPlugin, LabelsCoverWholeFlows) {
  FakeHost host;
  Driver d(host);
  uint16_t tls = host.api()->label_id(host.api()->host, "TLS");
  Flow f;
  std::vector<BuiltPacket> p;
  p.push_back(tcp(&f, true, 100, kT0));
  d.send(p);
  f.info.app_label = tls;  // decided after the first packet
  std::vector<BuiltPacket> q;
  q.push_back(tcp(&f, false, 200, kT0 + 1));
  d.send(q);
  // A second flow labelled only at its end.
  Flow g(2);
  std::vector<BuiltPacket> r;
  r.push_back(tcp(&g, true, 50, kT0 + 2, "10.0.0.1", "10.0.0.2", 40001, 443));
  d.send(r);
  g.info.app_label = tls;
  g.info.ip_version = 4;
  uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
  std::memcpy(g.info.addr[0], a, 4);
  std::memcpy(g.info.addr[1], b, 4);
  d.flow_end(0, g.info, g.state);
  d.publish();
  auto [s, body] = d.query("hosts/10.0.0.2");
  ASSERT_EQ(s, 200);
  uint64_t all = p[0].view.wire_len + q[0].view.wire_len + r[0].view.wire_len;
  EXPECT_EQ(num(body, "TLS"), static_cast<double>(all)) << body;
  EXPECT_EQ(num(body, "unknown"), 0);
}

TEST(IpPlugin, TheBusiestHostsAreGraphedAndTheirDetailSaysSo) {
  FakeHost host;
  Driver d(host);
  std::vector<BuiltPacket> p;
  p.push_back(PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).payload_size(100).build());
  d.send(p);
  d.tick(1'000'000'000);
  d.publish();
  d.tick(2'000'000'000);
  ASSERT_EQ(host.series.count("10.0.0.1.bps"), 1u);
  EXPECT_DOUBLE_EQ(host.series["10.0.0.1.bps"].back(), p[0].view.wire_len * 8.0);
  auto [s, body] = d.query("hosts/10.0.0.2");
  ASSERT_EQ(s, 200);
  EXPECT_NE(body.find(R"({"host":{"address":"10.0.0.2")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("series":"ip.10.0.0.2.bps"})"), std::string::npos) << body;
}

TEST(IpPlugin, FullTableFoldsIntoOther) {
  FakeHost host;
  host.config = R"({"max_hosts": 2, "metrics_top": 1})";
  Driver d(host);
  std::vector<BuiltPacket> p;
  p.push_back(PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).payload_size(100).build());
  p.push_back(PacketBuilder().ipv4("10.0.0.1", "10.0.0.3").udp(1, 2).build());
  d.send(p);
  d.publish();
  Worker& w = d.worker_as<Worker>(0);
  EXPECT_EQ(w.untracked_packets.value(), 1u);
  std::string json = d.json();
  EXPECT_EQ(num(json, "hosts_total"), 2);
  size_t other = json.find(R"("other":{"address":"other")");
  ASSERT_NE(other, std::string::npos) << json;
  EXPECT_EQ(num(json, "packets_in", other), 1);
  EXPECT_EQ(num(json, "bytes_per_flow"), 16);

  std::vector<FakeSample> samples = d.collect();
  double hosts = -1, top_out = -1, other_in = -1;
  for (auto& s : samples) {
    if (s.metric == "wiremeter_ip_hosts") hosts = s.value;
    if (s.metric == "wiremeter_ip_host_bytes_total" && s.labels["host"] == "10.0.0.1" &&
        s.labels["direction"] == "out")
      top_out = s.value;
    if (s.metric == "wiremeter_ip_host_packets_total" && s.labels["host"] == "other" &&
        s.labels["direction"] == "in")
      other_in = s.value;
  }
  EXPECT_EQ(hosts, 2);
  EXPECT_EQ(top_out, p[0].view.wire_len + p[1].view.wire_len);
  EXPECT_EQ(other_in, 2);  // 10.0.0.2 (not in the top 1) and the untracked 10.0.0.3
}

TEST(IpPlugin, MergesWorkers) {
  FakeHost host;
  Driver d(host, 2);
  std::vector<BuiltPacket> p0, p1;
  p0.push_back(PacketBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build());
  p1.push_back(PacketBuilder().ipv4("10.0.0.1", "10.0.0.4").udp(1, 2).build());
  d.send(p0, 0);
  d.send(p1, 1);
  d.publish(0);
  d.publish(1);
  auto [s, body] = d.query("hosts", "sort=address&order=asc&size=1");
  EXPECT_EQ(num(body, "total"), 3);
  EXPECT_EQ(num(body, "packets_out"), 2);
  EXPECT_EQ(num(body, "peers"), 2);
}

TEST(IpPlugin, SettingsAreChecked) {
  for (const char* bad : {R"({"max_hosts": 0})", R"({"max_host": 5})", R"({"max_hosts": "5"})",
                          "[]", R"({"max_names": 1.5})"}) {
    FakeHost host;
    host.config = bad;
    EXPECT_THROW(Driver d(host), std::runtime_error) << bad;
  }
  EXPECT_EQ(parse_settings(R"( { "max_hosts" : 10 , "max_names": 3 } )").max_hosts, 10u);
  EXPECT_EQ(parse_settings("{}").max_names, Settings{}.max_names);
}

}  // namespace
}  // namespace wiremeter::ip
