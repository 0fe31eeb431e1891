#include "dhcp_plugin.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

#include "dhcp_test_util.hpp"

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::dhcp {
namespace {

using test::Dhcp;
using wiremeter::testing::FakeHost;
using wiremeter::testing::PacketBuilder;
using wiremeter::testing::PluginHarness;

constexpr uint64_t kT0 = 1'370'200'442'323'173'000ull;
constexpr uint64_t kMs = 1'000'000ull, kSec = 1'000'000'000ull;

bool has(const std::string& json, const std::string& part) {
  return json.find(part) != std::string::npos;
}

double value(const std::vector<wiremeter::testing::FakeSample>& s, const std::string& metric,
             const std::string& label = "", const std::string& label_value = "") {
  for (auto& x : s) {
    if (x.metric != metric) continue;
    if (!label.empty() && (!x.labels.count(label) || x.labels.at(label) != label_value)) continue;
    return x.value;
  }
  return -1;
}

// A DHCP message from a client (68 -> 67) or a server (67 -> 68), kept alive with its view.
struct Packets {
  std::vector<wiremeter::testing::BuiltPacket> built;
  Packets& add(uint64_t ts, const char* src, const char* dst, const Dhcp& d, uint16_t sport = 0,
               uint16_t dport = 0) {
    bool client = d.bytes()[0] == 1;
    built.push_back(PacketBuilder()
                        .timestamp_ns(ts)
                        .ipv4(src, dst)
                        .udp(sport    ? sport
                             : client ? 68
                                      : 67,
                             dport    ? dport
                             : client ? 67
                                      : 68)
                        .payload(d.str())
                        .build());
    return *this;
  }
  std::vector<wm_packet> views(size_t from = 0, size_t to = SIZE_MAX) const {
    std::vector<wm_packet> v;
    for (size_t i = from; i < built.size() && i < to; ++i) v.push_back(built[i].view);
    return v;
  }
};

// Zeek's dhcp_dhcp.pcap exchange in short: DISCOVER, OFFER, REQUEST, NAK, REQUEST, ACK, DECLINE.
Packets zeek_exchange() {
  Packets p;
  p.add(kT0, "0.0.0.0", "255.255.255.255",
        Dhcp(1, 0x7c0).type(kDiscover).option(12, "btest.is.cool").ip(50, "192.168.211.194").end());
  p.add(kT0 + 5 * kMs, "128.2.6.152", "128.2.6.97",
        Dhcp(2, 0x7c0)
            .yiaddr("128.2.6.97")
            .type(kOffer)
            .ip(54, "128.2.6.152")
            .u32(51, 900)
            .ip(1, "255.255.255.0")
            .ip(3, "128.2.6.1")
            .option(15, "cmu.edu")
            .end());
  p.add(kT0 + 1022 * kMs, "0.0.0.0", "255.255.255.255",
        Dhcp(1, 0x7c0)
            .type(kRequest)
            .option(12, "btest.is.cool")
            .ip(54, "128.2.6.152")
            .ip(50, "192.168.211.194")
            .end());
  p.add(kT0 + 1025 * kMs, "128.2.6.152", "255.255.255.255",
        Dhcp(2, 0x7c0)
            .type(kNak)
            .ip(54, "128.2.6.152")
            .option(56, "requested address not available")
            .end());
  p.add(kT0 + 2040 * kMs, "0.0.0.0", "255.255.255.255",
        Dhcp(1, 0x7c0).type(kRequest).option(12, "btest.is.cool").ip(50, "128.2.6.189").end());
  p.add(kT0 + 2048 * kMs, "128.2.6.152", "128.2.6.189",
        Dhcp(2, 0x7c0)
            .yiaddr("128.2.6.189")
            .type(kAck)
            .ip(54, "128.2.6.152")
            .u32(51, 900)
            .option(15, "cmu.edu")
            .end());
  p.add(kT0 + 3059 * kMs, "0.0.0.0", "255.255.255.255",
        Dhcp(1, 0x7c0).type(kDecline).ip(50, "128.2.6.189").end());
  p.add(kT0 + 4080 * kMs, "0.0.0.0", "255.255.255.255",
        Dhcp(1, 0x79c).ciaddr("128.2.6.189").type(kRelease).end());
  p.add(kT0 + 5099 * kMs, "0.0.0.0", "255.255.255.255",
        Dhcp(1, 0x7c4).type(kInform).option(12, "btest.is.cool").ip(50, "128.2.6.189").end());
  return p;
}

TEST(DhcpPlugin, ZeekExchangeOnOneWorker) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  EXPECT_EQ(h.flow_state_size(), 0u);
  Packets p = zeek_exchange();
  h.batch(0, p.views());
  std::string json = h.json();
  EXPECT_TRUE(has(json, R"("messages_total":9,"messages":{"DISCOVER":1,"OFFER":1,"REQUEST":2,)"
                        R"("DECLINE":1,"ACK":1,"NAK":1,"RELEASE":1,"INFORM":1})"))
      << json;
  // Zeek's three records.
  EXPECT_TRUE(has(json, R"("xid":"0x000007c0","duration":3.059,"open":true,)"
                        R"("msg_types":["DISCOVER","OFFER","REQUEST","NAK","REQUEST","ACK",)"
                        R"("DECLINE"],"client_addr":"128.2.6.97","server_addr":"128.2.6.152",)"
                        R"("mac":"90:b1:1c:99:49:29","host_name":"btest.is.cool",)"
                        R"("client_fqdn":null,"domain":"cmu.edu","requested_addr":"128.2.6.189",)"
                        R"("assigned_addr":"128.2.6.189","lease_time":900,"client_message":null,)"
                        R"("server_message":"requested address not available",)"
                        R"("server_id":"128.2.6.152","subnet_mask":"255.255.255.0",)"
                        R"("routers":["128.2.6.1"])"))
      << json;
  EXPECT_TRUE(has(json, R"("xid":"0x0000079c","duration":0,"open":true,"msg_types":["RELEASE"],)"
                        R"("client_addr":null,"server_addr":null,"mac":"90:b1:1c:99:49:29",)"
                        R"("host_name":null,)"))
      << json;
  EXPECT_TRUE(has(json, R"("msg_types":["INFORM"],"client_addr":null,"server_addr":null,)"
                        R"("mac":"90:b1:1c:99:49:29","host_name":"btest.is.cool",)"))
      << json;
  // The client, its server and its lease (released by the RELEASE at ciaddr).
  EXPECT_TRUE(has(json, R"("mac":"90:b1:1c:99:49:29","host_name":"btest.is.cool",)")) << json;
  EXPECT_TRUE(has(json, R"("requested_ip":"128.2.6.189","client_ip":"128.2.6.189",)"
                        R"("offered_ip":"128.2.6.97","assigned_ip":"128.2.6.189",)"
                        R"("lease_time":900,"server":"128.2.6.152",)"))
      << json;
  EXPECT_TRUE(has(json, R"("last_message":"INFORM","messages":{"DISCOVER":1,"OFFER":1,)"
                        R"("REQUEST":2,"DECLINE":1,"ACK":1,"NAK":1,"RELEASE":1,"INFORM":1},)"
                        R"("messages_total":9,)"))
      << json;
  EXPECT_TRUE(has(json, R"("server":"128.2.6.152","source":"128.2.6.152","offers":1,"acks":1,)"
                        R"("naks":1,"other":0,"leases_granted":1,"clients":1,)"
                        R"("discover_offer_ms":{"count":1,"min":5,"avg":5,"max":5},)"
                        R"("request_ack_ms":{"count":2,"min":3,"avg":5.5,"max":8},)"))
      << json;
  EXPECT_TRUE(has(json, R"("ip":"128.2.6.189","mac":"90:b1:1c:99:49:29",)"
                        R"("host_name":"btest.is.cool","state":"released",)"))
      << json;
  EXPECT_TRUE(has(json,
                  R"("lease_time":900,"expiry":1370201344.371173,"server":"128.2.6.152",)"
                  R"("renewals":0,"released":1370200446.403173,"declined":1370200445.382173})"))
      << json;
  // The DECLINE marks a lease too, but the RELEASE came later.
  auto s = h.collect();
  EXPECT_EQ(value(s, "wiremeter_dhcp_messages_total", "type", "REQUEST"), 2);
  EXPECT_EQ(value(s, "wiremeter_dhcp_messages_total", "type", "NAK"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_server_acks_total", "server", "128.2.6.152"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_server_naks_total", "server", "128.2.6.152"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_clients"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_leases", "state", "released"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_leases", "state", "active"), 0);
  const wiremeter::testing::FakeSample* rtt = nullptr;
  for (auto& x : s) {
    if (x.metric == "wiremeter_dhcp_response_seconds" && x.labels["exchange"] == "request_ack") {
      rtt = &x;
    }
  }
  ASSERT_NE(rtt, nullptr);
  EXPECT_EQ(rtt->counts.back(), 2u);
  EXPECT_EQ(rtt->counts[1], 0u);  // not <= 2.5 ms
  EXPECT_EQ(rtt->counts[2], 1u);  // 3 ms <= 5 ms
  EXPECT_EQ(rtt->counts[3], 2u);  // 8 ms <= 10 ms
  EXPECT_DOUBLE_EQ(rtt->sum, 0.011);
}

// The same messages spread over two workers, as symmetric RSS does with the flows of one
// exchange: the merged views equal the single-worker ones.
TEST(DhcpPlugin, WorkersMergeToTheSameResult) {
  FakeHost one_host, two_host;
  PluginHarness one(wiremeter_plugin_register(), one_host, 1);
  PluginHarness two(wiremeter_plugin_register(), two_host, 2);
  Packets p = zeek_exchange();
  one.batch(0, p.views());
  for (size_t i = 0; i < p.built.size(); ++i) {
    // Client broadcasts on worker 0, server replies on worker 1.
    two.batch(p.built[i].view.src_port == 68 ? 0 : 1, p.views(i, i + 1));
  }
  std::string a = one.json(), b = two.json();
  EXPECT_EQ(a, b);
  for (const char* view : {"clients", "servers", "leases", "transactions",
                           "clients/90:b1:1c:99:49:29", "servers/128.2.6.152"}) {
    EXPECT_EQ(one.query(view), two.query(view)) << view;
  }
}

TEST(DhcpPlugin, TransactionsSplitLikeZeek) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  Packets p;
  // Same xid: 7 s later still joins (the record is younger than 10 s); 6 s after that (13 s
  // from the start, idle > 5 s) starts a new record.
  p.add(kT0, "0.0.0.0", "255.255.255.255", Dhcp(1, 42).type(kDiscover).end());
  p.add(kT0 + 7 * kSec, "0.0.0.0", "255.255.255.255", Dhcp(1, 42).type(kDiscover).end());
  p.add(kT0 + 13 * kSec, "0.0.0.0", "255.255.255.255", Dhcp(1, 42).type(kRequest).end());
  h.batch(0, p.views());
  auto [status, body] = h.query("transactions", "sort=ts&order=asc");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"("total":2,)")) << body;
  EXPECT_TRUE(has(body, R"("duration":7,"open":false,"msg_types":["DISCOVER","DISCOVER"])"))
      << body;
  EXPECT_TRUE(has(body, R"("duration":0,"open":true,"msg_types":["REQUEST"])")) << body;
  // The tick closes the second one once it is old and idle enough.
  h.worker_tick(0, kT0 + 30 * kSec);
  auto [s2, body2] = h.query("transactions");
  EXPECT_FALSE(has(body2, R"("open":true)")) << body2;
}

TEST(DhcpPlugin, MalformedAndIncompleteAreCounted) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  Packets p;
  p.add(kT0, "0.0.0.0", "255.255.255.255", Dhcp(1, 1).option(53, {1, 2}).end());
  p.add(kT0, "0.0.0.0", "255.255.255.255", Dhcp(3, 1).end());
  // Not DHCP: only one side uses a DHCP port.
  p.add(kT0, "192.0.2.1", "192.0.2.2", Dhcp(1, 1).type(kDiscover).end(), 68, 5000);
  // Cut by the snap length: the UDP length says more than was captured.
  wiremeter::testing::BuiltPacket cut = PacketBuilder()
                                            .timestamp_ns(kT0)
                                            .ipv4("0.0.0.0", "255.255.255.255")
                                            .udp(68, 67)
                                            .payload(Dhcp(1, 1).raw({12, 30, 'a'}).str())
                                            .build();
  (*cut.bytes)[cut.view.l4_off + 4] = 0x02;  // the UDP length grows by 512
  auto views = p.views();
  views.push_back(cut.view);
  h.batch(0, views);
  auto s = h.collect();
  EXPECT_EQ(value(s, "wiremeter_dhcp_malformed_total", "reason", "bad_option_length"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_malformed_total", "reason", "bad_op"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_incomplete_total", "reason", "snaplen"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_messages_total", "type", "DISCOVER"), 0);
  EXPECT_TRUE(has(h.json(), R"("transactions":[],)"));
}

TEST(DhcpPlugin, V6Counters) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  std::string solicit("\x01\xaa\xbb\xcc\x00\x08\x00\x02\x00\x00", 10);
  auto a = PacketBuilder().ipv6("fe80::1", "ff02::1:2").udp(546, 547).payload(solicit).build();
  std::string bad("\x07\xaa\xbb\xcc\x00\x08\x00\x09", 8);
  auto b = PacketBuilder().ipv6("fe80::2", "fe80::1").udp(547, 546).payload(bad).build();
  h.batch(0, {a.view, b.view});
  auto s = h.collect();
  EXPECT_EQ(value(s, "wiremeter_dhcp_v6_messages_total", "type", "SOLICIT"), 1);
  EXPECT_EQ(value(s, "wiremeter_dhcp_malformed_total", "reason", "v6_truncated_option"), 1);
  EXPECT_TRUE(has(h.json(), R"("v6_messages":{"SOLICIT":1})"));
}

TEST(DhcpPlugin, ViewsPageFilterAndDetail) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  Packets p;
  for (int i = 0; i < 5; ++i) {
    uint64_t mac = 0x020000000010ull + static_cast<uint64_t>(i);
    std::string ip = "10.0.0." + std::to_string(10 + i);
    std::string name = "host" + std::to_string(i);
    uint64_t ts = kT0 + static_cast<uint64_t>(i) * kSec;
    p.add(ts, "0.0.0.0", "255.255.255.255",
          Dhcp(1, 100 + static_cast<uint32_t>(i), mac)
              .type(kRequest)
              .option(12, name)
              .ip(50, ip.c_str())
              .end());
    p.add(ts + 2 * kMs, "10.0.0.1", ip.c_str(),
          Dhcp(2, 100 + static_cast<uint32_t>(i), mac)
              .yiaddr(ip.c_str())
              .type(kAck)
              .ip(54, "10.0.0.1")
              .u32(51, i == 0 ? 1 : 3600)
              .end());
  }
  h.batch(0, p.views());
  auto [st, clients] = h.query("clients", "sort=mac&order=asc&size=2&page=2");
  EXPECT_EQ(st, 200);
  EXPECT_TRUE(has(clients, R"("total":5,"page":2,"size":2,"sort":"mac","order":"asc")"));
  EXPECT_TRUE(has(clients, R"("items":[{"mac":"02:00:00:00:00:12","host_name":"host2")"))
      << clients;
  auto [st2, filtered] = h.query("clients", "filter=HOST3");
  EXPECT_TRUE(has(filtered, R"("total":1,)")) << filtered;
  EXPECT_TRUE(has(filtered, R"("assigned_ip":"10.0.0.13")")) << filtered;
  // Lease 10.0.0.10 had one second and expired before the capture's latest packet.
  auto [st3, expired] = h.query("leases", "state=expired");
  EXPECT_TRUE(has(expired, R"("total":1,)")) << expired;
  EXPECT_TRUE(has(expired, R"("ip":"10.0.0.10","mac":"02:00:00:00:00:10","host_name":"host0")"))
      << expired;
  auto [st4, window] = h.query("leases", "to=" + std::to_string(kT0 / kSec + 2));
  EXPECT_TRUE(has(window, R"("total":2,)")) << window;
  auto [st5, servers] = h.query("servers");
  EXPECT_TRUE(has(servers, R"("server":"10.0.0.1","source":"10.0.0.1","offers":0,"acks":5,)"
                           R"("naks":0,"other":0,"leases_granted":5,"clients":5,)"))
      << servers;
  auto [st7, later] = h.query("servers", "from=" + std::to_string(kT0 / kSec + 3600));
  EXPECT_TRUE(has(later, R"("total":0,)")) << later;  // no server active an hour later
  auto [st8, during] = h.query("servers", "from=" + std::to_string(kT0 / kSec));
  EXPECT_TRUE(has(during, R"("total":1,)")) << during;
  auto [st6, detail] = h.query("clients/02:00:00:00:00:13");
  EXPECT_EQ(st6, 200);
  EXPECT_TRUE(has(detail, R"({"client":{"mac":"02:00:00:00:00:13",)")) << detail;
  EXPECT_TRUE(has(detail, R"("leases":[{"ip":"10.0.0.13",)")) << detail;
  EXPECT_TRUE(has(detail, R"("transactions":[{"ts":1370200445.323173,"xid":"0x00000067",)"))
      << detail;
  EXPECT_EQ(h.query("clients/02:00:00:00:00:99").first, 404);
  EXPECT_EQ(h.query("clients/nonsense").first, 400);
  EXPECT_EQ(h.query("clients", "bogus=1").first, 400);
  EXPECT_EQ(h.query("leases", "state=gone").first, 400);
  EXPECT_EQ(h.query("transactions", "from=20&to=10").first, 400);
  EXPECT_EQ(h.query("nothing").first, 404);
  // Two hours later by the worker's clock (no DHCP meanwhile), every lease has run out.
  EXPECT_TRUE(has(h.query("leases", "state=active").second, R"("total":4,)"));
  h.worker_tick(0, kT0 + 7200 * kSec);
  EXPECT_TRUE(has(h.query("leases", "state=active").second, R"("total":0,)"));
  EXPECT_TRUE(has(h.query("leases", "state=expired").second, R"("total":5,)"));
}

TEST(DhcpPlugin, ServerDetailWithMessagesLeasesAndSeries) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  h.batch(0, zeek_exchange().views());
  auto [st, d] = h.query("servers/128.2.6.152");
  EXPECT_EQ(st, 200) << d;
  EXPECT_TRUE(has(d, R"({"server":{"server":"128.2.6.152","source":"128.2.6.152","offers":1,)"
                     R"("acks":1,"naks":1,"other":0,"leases_granted":1,"clients":1,)"))
      << d;
  EXPECT_TRUE(has(d, R"("lease_time":900,"messages":{"OFFER":1,"ACK":1,"NAK":1},)"
                     R"("messages_total":3,"first_seen":1370200442.328173,)"
                     R"("last_seen":1370200444.371173},)"
                     R"("series":"dhcp.128.2.6.152.messages_per_s",)"
                     R"("leases":[{"ip":"128.2.6.189","mac":"90:b1:1c:99:49:29",)"))
      << d;
  // The list and the report keep their fields: the messages by type are the detail's.
  EXPECT_FALSE(has(h.query("servers").second, R"("messages")"));
  EXPECT_FALSE(has(h.json(), R"("messages":{"OFFER")"));
  auto [st2, none] = h.query("servers/10.9.9.9");
  EXPECT_EQ(st2, 404);
  EXPECT_EQ(none, R"({"error":"no such server: 10.9.9.9"})");
  for (const char* bad : {"servers/nonsense", "servers/128.2.6.256", "servers/128.2.6",
                          "servers/128.2.6.152.1", "servers/1282.6.1.52", "servers/"}) {
    auto [code, body] = h.query(bad);
    EXPECT_EQ(code, 400) << bad;
    EXPECT_EQ(body, R"({"error":"expected an IPv4 address as 192.0.2.1"})") << bad;
  }
  EXPECT_EQ(h.query("servers/128.2.6.152", "page=1").first, 400);
}

// Each second the ten busiest clients and servers get a messages-per-second graph; a client or
// server whose detail view is opened gets one too, whatever its rank.
TEST(DhcpPlugin, GraphsTheBusiestClientsAndServersAndTheViewedOnes) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  h.tick(kT0);
  h.batch(0, zeek_exchange().views());
  h.tick(kT0 + kSec);
  // Nine messages from and to the client, three replies from the server, in that second.
  EXPECT_EQ(host.series["90:b1:1c:99:49:29.messages_per_s"], std::vector<double>{9.0});
  EXPECT_EQ(host.series["128.2.6.152.messages_per_s"], std::vector<double>{3.0});
  EXPECT_EQ(host.series["messages_per_s"], std::vector<double>{9.0});

  // Twelve more clients; client i sends i + 1 DISCOVERs in the next two seconds.
  Packets p;
  for (uint32_t i = 0; i < 12; ++i) {
    for (uint32_t k = 0; k <= i; ++k) {
      p.add(kT0 + kSec + k * kMs, "0.0.0.0", "255.255.255.255",
            Dhcp(1, 1000 + i, 0x020000000200ull + i).type(kDiscover).end());
    }
  }
  h.batch(0, p.views());
  h.tick(kT0 + 3 * kSec);
  size_t graphed = 0;
  for (uint32_t i = 0; i < 12; ++i) {
    std::string name = format_mac(0x020000000200ull + i) + ".messages_per_s";
    if (i < 2) {
      EXPECT_EQ(host.series.count(name), 0u) << name;  // not among the ten busiest
    } else {
      EXPECT_EQ(host.series[name], std::vector<double>{(i + 1) / 2.0}) << name;
      ++graphed;
    }
  }
  EXPECT_EQ(graphed, 10u);
  // Out of the top, the earlier ones keep their graph at 0 for a while.
  EXPECT_EQ(host.series["90:b1:1c:99:49:29.messages_per_s"], (std::vector<double>{9.0, 0.0}));
  EXPECT_EQ(host.series["128.2.6.152.messages_per_s"], (std::vector<double>{3.0, 0.0}));

  // Opening the quietest client's detail view graphs it from the next second on.
  auto [st, d] = h.query("clients/02:00:00:00:02:00");
  EXPECT_EQ(st, 200) << d;
  EXPECT_TRUE(has(d, R"("messages_total":1,"first_seen":1370200443.323173,)"
                     R"("last_seen":1370200443.323173},)"
                     R"("series":"dhcp.02:00:00:00:02:00.messages_per_s","leases":[])"))
      << d;
  h.batch(0, Packets()
                 .add(kT0 + 3 * kSec, "0.0.0.0", "255.255.255.255",
                      Dhcp(1, 1000, 0x020000000200ull).type(kDiscover).end())
                 .views());
  h.tick(kT0 + 4 * kSec);
  EXPECT_EQ(host.series["02:00:00:00:02:00.messages_per_s"], std::vector<double>{1.0});
  EXPECT_EQ(host.series.count("02:00:00:00:02:01.messages_per_s"), 0u);
}

// A client's broadcasts and the server's replies can reach different workers: its graph counts
// them all. An evicted client that comes back starts from its new row, not from 0.
TEST(DhcpPlugin, GraphsSumTheWorkersAndSurviveEviction) {
  FakeHost host;
  host.config = R"({"clients": 1})";
  PluginHarness h(wiremeter_plugin_register(), host, 2);
  auto discover = [](uint64_t t, uint32_t xid, uint64_t mac) {
    Packets p;
    p.add(t, "0.0.0.0", "255.255.255.255", Dhcp(1, xid, mac).type(kDiscover).end());
    return p;
  };
  constexpr uint64_t kMacA = 0x020000000300ull, kMacB = 0x020000000301ull;
  h.tick(kT0);
  h.batch(0, discover(kT0, 1, kMacA).views());
  h.batch(1, discover(kT0 + kMs, 2, kMacA).views());
  h.batch(1, discover(kT0 + 2 * kMs, 3, kMacA).views());
  h.tick(kT0 + kSec);
  const std::string a = format_mac(kMacA) + ".messages_per_s";
  const std::string b = format_mac(kMacB) + ".messages_per_s";
  EXPECT_EQ(host.series[a], std::vector<double>{3.0});
  // B takes A's only row on worker 1: A counts worker 0's one message now, down from 3.
  h.batch(1, discover(kT0 + kSec, 4, kMacB).views());
  h.tick(kT0 + 2 * kSec);
  EXPECT_EQ(host.series[b], std::vector<double>{1.0});
  EXPECT_EQ(host.series[a], (std::vector<double>{3.0, 0.0}));
  // A comes back on worker 1 with a fresh row (and evicts B) and sends on worker 0 too: 1 + 2
  // now, 2 more than the second before.
  h.batch(1, discover(kT0 + 2 * kSec, 5, kMacA).views());
  h.batch(0, discover(kT0 + 2 * kSec, 6, kMacA).views());
  h.tick(kT0 + 3 * kSec);
  EXPECT_EQ(host.series[a], (std::vector<double>{3.0, 0.0, 2.0}));
  EXPECT_EQ(host.series[b], (std::vector<double>{1.0, 0.0}));  // gone, lingering at 0
}

TEST(DhcpPlugin, FullTablesEvictAndCount) {
  FakeHost host;
  host.config = R"({"clients": 2, "leases": 2, "open_transactions": 2, "transactions": 2})";
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  Packets p;
  for (int i = 0; i < 4; ++i) {
    std::string ip = "10.0.1." + std::to_string(i + 1);
    uint64_t mac = 0x020000000100ull + static_cast<uint64_t>(i);
    p.add(kT0 + static_cast<uint64_t>(i) * kMs, "10.0.0.1", ip.c_str(),
          Dhcp(2, static_cast<uint32_t>(i), mac).yiaddr(ip.c_str()).type(kAck).end());
  }
  h.batch(0, p.views());
  std::string json = h.json();
  EXPECT_TRUE(has(json, R"("evicted":{"clients":2,"servers":0,"leases":2,"open_transactions":0})"))
      << json;
  // Open transactions past the table's size are closed early into the log (2 kept, 0 dropped),
  // and the log of two keeps the newest.
  EXPECT_TRUE(has(json, R"("transactions_dropped":0)")) << json;
  EXPECT_TRUE(has(json, R"("assigned_ip":"10.0.1.4")")) << json;
  EXPECT_FALSE(has(json, R"("assigned_ip":"10.0.1.1")")) << json;
}

TEST(DhcpPlugin, RefusesBadSettings) {
  FakeHost host;
  host.config = R"({"clients": "many"})";
  EXPECT_THROW(PluginHarness(wiremeter_plugin_register(), host, 1), std::runtime_error);
}

}  // namespace
}  // namespace wiremeter::dhcp
