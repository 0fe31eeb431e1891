// dpi: unit tests through the SDK's fake host, with real nDPI classifying crafted packets.
#include "dpi_plugin.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::dpi {
namespace {

using testing::BuiltPacket;
using testing::FakeHost;
using testing::FakeSample;
using testing::kTcpAck;
using testing::kTcpPsh;
using testing::kTcpSyn;
using testing::PacketBuilder;
using testing::PluginHarness;

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;

// A flow as the core would hold it: the public record and the plugin's state area.
struct TestFlow {
  wm_flow_info info{};
  alignas(16) uint8_t state[sizeof(FlowState)] = {};
};

std::string dns_name(const std::string& name) {
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<char>(dot - start));
    out += name.substr(start, dot - start);
    start = dot + 1;
  }
  out.push_back('\0');
  return out;
}

std::string dns_query(const std::string& name) {
  std::string m("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  return m + dns_name(name) + std::string("\x00\x01\x00\x01", 4);
}

std::string dns_answer(const std::string& name) {
  std::string m("\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00", 12);
  m += dns_name(name) + std::string("\x00\x01\x00\x01", 4);
  // Pointer to the question's name, type A, class IN, TTL 60, 4 bytes: 198.18.0.53.
  m += std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc6\x12\x00\x35", 16);
  return m;
}

BuiltPacket udp_packet(TestFlow& f, uint8_t dir, uint16_t client_port, uint16_t server_port,
                       const std::string& payload, uint64_t ts) {
  PacketBuilder b;
  if (dir == WM_DIR_FORWARD) {
    b.ipv4("198.18.0.1", "198.18.1.1").udp(client_port, server_port);
  } else {
    b.ipv4("198.18.1.1", "198.18.0.1").udp(server_port, client_port);
  }
  return b.payload(payload).timestamp_ns(ts).flow(&f.info, f.state, dir).build();
}

// TCP with consistent sequence numbers, which nDPI's connection tracking relies on.
class TcpConversation {
 public:
  TcpConversation(TestFlow& f, uint16_t client_port, uint16_t server_port, uint64_t t0 = kT0)
      : f_(f), client_port_(client_port), server_port_(server_port), t0_(t0) {}

  BuiltPacket packet(uint8_t dir, uint8_t flags, const std::string& payload = "") {
    PacketBuilder b;
    if (dir == WM_DIR_FORWARD) {
      b.ipv4("198.18.0.1", "198.18.1.1").tcp(client_port_, server_port_, flags);
    } else {
      b.ipv4("198.18.1.1", "198.18.0.1").tcp(server_port_, client_port_, flags);
    }
    BuiltPacket p =
        b.payload(payload).timestamp_ns(t0_ + ++n_ * 1000).flow(&f_.info, f_.state, dir).build();
    uint32_t seq = next_[dir], ack = (flags & kTcpAck) ? next_[1 - dir] : 0;
    uint8_t* tcp = p.bytes->data() + p.view.l4_off;
    for (int i = 0; i < 4; ++i) {
      tcp[4 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
      tcp[8 + i] = static_cast<uint8_t>(ack >> (24 - 8 * i));
    }
    next_[dir] += static_cast<uint32_t>(payload.size()) + ((flags & kTcpSyn) ? 1 : 0);
    return p;
  }

  // SYN, SYN/ACK, ACK, then the client's request.
  std::vector<BuiltPacket> request(const std::string& payload) {
    std::vector<BuiltPacket> v;
    v.push_back(packet(WM_DIR_FORWARD, kTcpSyn));
    v.push_back(packet(WM_DIR_REVERSE, kTcpSyn | kTcpAck));
    v.push_back(packet(WM_DIR_FORWARD, kTcpAck));
    v.push_back(packet(WM_DIR_FORWARD, kTcpPsh | kTcpAck, payload));
    return v;
  }

 private:
  TestFlow& f_;
  uint16_t client_port_, server_port_;
  uint64_t t0_;
  uint32_t next_[2] = {1000, 5000};
  uint64_t n_ = 0;
};

std::vector<wm_packet> views(const std::vector<BuiltPacket>& pkts) {
  std::vector<wm_packet> v;
  for (auto& p : pkts) v.push_back(p.view);
  return v;
}

const FakeSample* find(const std::vector<FakeSample>& samples, const std::string& metric,
                       const std::string& protocol = "") {
  for (auto& s : samples) {
    if (s.metric != metric) continue;
    if (!protocol.empty() && (!s.labels.count("protocol") || s.labels.at("protocol") != protocol)) {
      continue;
    }
    return &s;
  }
  return nullptr;
}

double value_of(const std::vector<FakeSample>& samples, const std::string& metric,
                const std::string& protocol = "") {
  const FakeSample* s = find(samples, metric, protocol);
  return s ? s->value : -1;
}

const FlowState& state_of(const TestFlow& f) {
  return *reinterpret_cast<const FlowState*>(f.state);
}

// A file removed at scope end.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/wm_dpi_test_XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(DpiPlugin, FlowStateStaysSmall) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  // Allocated for every tracked flow: the nDPI struct itself must not be in it.
  EXPECT_LE(h.flow_state_size(), 80u);
  EXPECT_EQ(h.flow_state_size(), sizeof(FlowState));
}

TEST(DpiPlugin, ClassifiesDnsAndReleasesTheNdpiStruct) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  TestFlow f;
  auto query = udp_packet(f, WM_DIR_FORWARD, 40000, 53, dns_query("www.example.com"), kT0);
  h.batch(0, {query.view});
  // A query alone is not the end: nDPI wants the answer too (extra dissection).
  EXPECT_EQ(value_of(h.collect(), "wiremeter_dpi_inspecting_flows"), 1);
  EXPECT_EQ(state_of(f).status, Status::kInspecting);

  auto answer = udp_packet(f, WM_DIR_REVERSE, 40000, 53, dns_answer("www.example.com"), kT0 + 5);
  answer.view.wire_len += 100;  // as if cut by a snap length: bytes count what was on the wire
  h.batch(0, {answer.view});
  auto samples = h.collect();
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_inspecting_flows"), 0);  // back in the pool
  EXPECT_EQ(state_of(f).status, Status::kClassified);
  EXPECT_EQ(state_of(f).ndpi_slot, 0u);
  EXPECT_STREQ(state_of(f).host, "www.example.com");
  // The label reached the flow record, for the other modules.
  ASSERT_NE(f.info.app_label, 0);
  EXPECT_STREQ(host.api()->label_name(host.api()->host, f.info.app_label), "DNS");
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "DNS"), 1);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_packets_total", "DNS"), 2);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_bytes_total", "DNS"),
            query.view.wire_len + answer.view.wire_len);

  f.info.id = 7;
  f.info.ip_version = 4;
  f.info.l4_proto = 17;
  f.info.port[0] = 40000;
  f.info.port[1] = 53;
  f.info.addr[0][0] = 198, f.info.addr[0][1] = 18, f.info.addr[0][3] = 1;
  f.info.addr[1][0] = 198, f.info.addr[1][1] = 18, f.info.addr[1][2] = 1, f.info.addr[1][3] = 1;
  f.info.packets[0] = f.info.packets[1] = 1;
  f.info.bytes[0] = query.view.cap_len;
  f.info.bytes[1] = answer.view.cap_len;
  f.info.end_reason = WM_FLOW_SHUTDOWN;
  h.flow_end(0, f.info, f.state);
  std::string json = h.json();
  EXPECT_NE(json.find(R"({"flow":"0:7","proto":17,"client":"198.18.0.1","client_port":40000,)"
                      R"("server":"198.18.1.1","server_port":53,"vlan":0,"protocol":"DNS",)"
                      R"("category":"Network","host":"www.example.com","packets":[1,1],)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"protocol":"DNS","flows":1,"packets":2,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("flows_dropped":0,"flows_unclassified_no_memory":0)"), std::string::npos)
      << json;
}

TEST(DpiPlugin, ClassifiesHttpWithItsHost) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  TestFlow f;
  TcpConversation c(f, 41000, 80);
  auto pkts = c.request(
      "GET / HTTP/1.1\r\nHost: www.facebook.com\r\n"
      "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n");
  pkts.push_back(c.packet(WM_DIR_REVERSE, kTcpAck));
  pkts.push_back(c.packet(WM_DIR_REVERSE, kTcpPsh | kTcpAck,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                          "Content-Length: 2\r\n\r\nok"));
  h.batch(0, views(pkts));
  auto samples = h.collect();
  EXPECT_EQ(state_of(f).status, Status::kClassified);
  EXPECT_STREQ(state_of(f).host, "www.facebook.com");
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "HTTP.Facebook"), 1);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_packets_total", "HTTP.Facebook"), 6);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_inspecting_flows"), 0);

  // Packets after classification count under the label directly.
  auto more = c.packet(WM_DIR_FORWARD, kTcpAck);
  h.batch(0, {more.view});
  EXPECT_EQ(value_of(h.collect(), "wiremeter_dpi_packets_total", "HTTP.Facebook"), 7);
}

TEST(DpiPlugin, GraphsTheBitRateOfEachBusyProtocolEverySecond) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  TestFlow f;
  TcpConversation c(f, 41000, 80);
  h.tick(1'000'000'000);
  auto pkts = c.request("GET / HTTP/1.1\r\nHost: www.facebook.com\r\n\r\n");
  pkts.push_back(c.packet(WM_DIR_REVERSE, kTcpPsh | kTcpAck,
                          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  h.batch(0, views(pkts));
  h.tick(2'000'000'000);
  ASSERT_EQ(host.series.count("HTTP.Facebook.bps"), 1u);
  uint64_t bytes = 0;
  for (auto& p : pkts) bytes += p.view.wire_len;
  EXPECT_DOUBLE_EQ(host.series["HTTP.Facebook.bps"].back(), static_cast<double>(bytes) * 8);
  // A quiet second still gets its point (0) while the protocol was graphed recently.
  h.tick(3'000'000'000);
  EXPECT_EQ(host.series["HTTP.Facebook.bps"].size(), 2u);
  EXPECT_DOUBLE_EQ(host.series["HTTP.Facebook.bps"].back(), 0.0);
}

TEST(DpiPlugin, NamesTheRealClientWhenTheCaptureStartsWithTheServer) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  TestFlow f;
  // The core's initiator (forward) is 198.18.0.1:443, whose first packet is a SYN/ACK: it is
  // the server; the client is the other side.
  TcpConversation c(f, 443, 41000);
  auto synack = c.packet(WM_DIR_FORWARD, kTcpSyn | kTcpAck);
  auto ack = c.packet(WM_DIR_REVERSE, kTcpAck);
  auto ack2 = c.packet(WM_DIR_REVERSE, kTcpAck);
  h.batch(0, {synack.view, ack.view, ack2.view});
  f.info.id = 3;
  f.info.ip_version = 4;
  f.info.l4_proto = 6;
  f.info.port[0] = 443;
  f.info.port[1] = 41000;
  f.info.addr[0][0] = 198, f.info.addr[0][1] = 18, f.info.addr[0][3] = 1;
  f.info.addr[1][0] = 198, f.info.addr[1][1] = 18, f.info.addr[1][2] = 1, f.info.addr[1][3] = 1;
  f.info.packets[0] = 1;
  f.info.packets[1] = 2;
  f.info.end_reason = WM_FLOW_SHUTDOWN;
  h.flow_end(0, f.info, f.state);
  std::string json = h.json();
  EXPECT_NE(json.find(R"({"flow":"0:3","proto":6,"client":"198.18.1.1","client_port":41000,)"
                      R"("server":"198.18.0.1","server_port":443,)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("packets":[2,1])"), std::string::npos) << json;  // client's first
}

TEST(DpiPlugin, UndecidedFlowsGiveUpAtFlowEnd) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  TestFlow f;
  TcpConversation c(f, 41001, 80);
  auto pkts = c.request("GET /x HTTP/1.1\r\nHost: example.org\r\n\r\n");
  h.batch(0, views(pkts));
  // The request is known to be HTTP; nDPI still waits for the response.
  EXPECT_EQ(value_of(h.collect(), "wiremeter_dpi_inspecting_flows"), 1);
  h.flow_end(0, f.info, f.state);
  auto samples = h.collect();
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_inspecting_flows"), 0);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "HTTP"), 1);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_packets_total", "HTTP"), 4);
}

TEST(DpiPlugin, GivesUpAfterThePacketLimit) {
  FakeHost host;
  host.config = R"({"max_udp_packets": 3})";
  PluginHarness h(wiremeter_plugin_register(), host);
  TestFlow f;
  std::vector<BuiltPacket> pkts;
  for (int i = 0; i < 4; ++i) {
    pkts.push_back(udp_packet(f, WM_DIR_FORWARD, 40000, 40001, std::string(40, 'z'), kT0 + i));
  }
  h.batch(0, {pkts[0].view, pkts[1].view, pkts[2].view});
  EXPECT_EQ(state_of(f).status, Status::kInspecting);
  h.batch(0, {pkts[3].view});  // the 4th packet is past the limit of 3, as in ndpiReader
  EXPECT_EQ(state_of(f).status, Status::kClassified);
  auto samples = h.collect();
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "Unknown"), 1);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_packets_total", "Unknown"), 4);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_inspecting_flows"), 0);
}

TEST(DpiPlugin, CountsFlowsWithoutAnNdpiStructWhenThePoolIsEmpty) {
  FakeHost host;
  host.config = R"({"inspect_flows": 2})";
  PluginHarness h(wiremeter_plugin_register(), host);
  TestFlow flows[3];
  std::vector<BuiltPacket> pkts;
  for (int i = 0; i < 3; ++i) {
    pkts.push_back(udp_packet(flows[i], WM_DIR_FORWARD, static_cast<uint16_t>(40000 + i), 40100,
                              std::string(30, 'q'), kT0 + i));
  }
  h.batch(0, views(pkts));
  auto samples = h.collect();
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_inspecting_flows"), 2);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_unclassified_no_memory_total"), 1);
  EXPECT_EQ(state_of(flows[2]).status, Status::kNoMemory);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "Unknown"), 1);

  // Ending a flow frees its struct for the next one.
  h.flow_end(0, flows[0].info, flows[0].state);
  TestFlow next;
  auto q = udp_packet(next, WM_DIR_FORWARD, 40009, 53, dns_query("example.net"), kT0 + 9);
  h.batch(0, {q.view});
  EXPECT_EQ(state_of(next).status, Status::kInspecting);
  samples = h.collect();
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_unclassified_no_memory_total"), 1);
  EXPECT_NE(h.json().find(R"("flows_unclassified_no_memory":1,"flows_inspecting":2)"),
            std::string::npos)
      << h.json();
  for (auto* f : {&flows[1], &flows[2], &next}) h.flow_end(0, f->info, f->state);
  EXPECT_EQ(value_of(h.collect(), "wiremeter_dpi_inspecting_flows"), 0);
}

TEST(DpiPlugin, BoundsMetricLabelsToTopTwentyPlusOther) {
  // 25 custom protocols on their own ports: 25 distinct labels, flow i carries i * 10 bytes of
  // payload so the order by bytes is known.
  std::string protos;
  for (int i = 1; i <= 25; ++i) {
    protos += "udp:" + std::to_string(20000 + i) + "@Custom" + std::to_string(i) + "\n";
  }
  TempFile file(protos);
  FakeHost host;
  host.config = R"({"protos_file": ")" + file.path() + R"("})";
  PluginHarness h(wiremeter_plugin_register(), host);
  std::vector<TestFlow> flows(25);
  std::vector<BuiltPacket> pkts;
  for (int i = 1; i <= 25; ++i) {
    pkts.push_back(udp_packet(flows[i - 1], WM_DIR_FORWARD, 40000, static_cast<uint16_t>(20000 + i),
                              std::string(i * 10, 'x'), kT0 + i));
  }
  h.batch(0, views(pkts));
  auto samples = h.collect();
  int series = 0;
  for (auto& s : samples) series += s.metric == "wiremeter_dpi_bytes_total";
  EXPECT_EQ(series, 21);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "Custom25"), 1);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "Custom6"), 1);
  EXPECT_EQ(find(samples, "wiremeter_dpi_flows_total", "Custom5"), nullptr);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "other"), 5);
  double other_bytes = 0;
  for (int i = 1; i <= 5; ++i) other_bytes += pkts[i - 1].view.wire_len;
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_bytes_total", "other"), other_bytes);
  // The JSON view lists every label.
  EXPECT_NE(h.json().find(R"("protocol":"Custom1",)"), std::string::npos);
}

TEST(DpiPlugin, TopNFoldsTheRestIntoOther) {
  std::vector<DpiPlugin::Totals> sorted = {
      {"A", 1, 1, 50}, {"other", 2, 2, 40}, {"B", 1, 1, 30}, {"C", 1, 1, 20}};
  auto top = DpiPlugin::top_n(sorted, 2);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].name, "A");
  EXPECT_EQ(top[1].name, "B");
  EXPECT_EQ(top[2].name, "other");
  EXPECT_EQ(top[2].bytes, 60u);  // the table's own "other" plus C
  EXPECT_EQ(top[2].flows, 3u);
  EXPECT_EQ(DpiPlugin::top_n({}, 20).size(), 0u);
}

TEST(DpiPlugin, MergesLabelsAcrossWorkers) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 2);
  TestFlow a, b;
  auto qa = udp_packet(a, WM_DIR_FORWARD, 40000, 53, dns_query("a.example"), kT0);
  auto ra = udp_packet(a, WM_DIR_REVERSE, 40000, 53, dns_answer("a.example"), kT0 + 1);
  auto qb = udp_packet(b, WM_DIR_FORWARD, 40001, 53, dns_query("b.example"), kT0);
  auto rb = udp_packet(b, WM_DIR_REVERSE, 40001, 53, dns_answer("b.example"), kT0 + 1);
  h.batch(0, {qa.view, ra.view});
  h.batch(1, {qb.view, rb.view});
  h.flow_end(1, b.info, b.state);
  auto samples = h.collect();
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_flows_total", "DNS"), 2);
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_packets_total", "DNS"), 4);
  EXPECT_NE(h.json().find(R"("flow":"1:0")"), std::string::npos) << h.json();
}

TEST(DpiPlugin, KeepsTheLatestEndedFlowsAndCountsTheRest) {
  FakeHost host;
  host.config = R"({"ended_flows": 2})";
  PluginHarness h(wiremeter_plugin_register(), host);
  for (uint64_t id = 1; id <= 5; ++id) {
    TestFlow f;
    f.info.id = id;
    auto q = udp_packet(f, WM_DIR_FORWARD, 40000, 53, dns_query("x.example"), kT0);
    h.batch(0, {q.view});
    h.flow_end(0, f.info, f.state);
  }
  std::string json = h.json();
  EXPECT_EQ(json.find(R"("flow":"0:3")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("flow":"0:4")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("flow":"0:5")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("flows_dropped":3)"), std::string::npos) << json;
  EXPECT_EQ(value_of(h.collect(), "wiremeter_dpi_ended_flows_dropped_total"), 3);
}

TEST(DpiPlugin, MalformedPacketsNeverCrash) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  // Every truncation of a real request, and the same with a lying IPv4 total length and
  // header length: nDPI only ever gets the captured bytes.
  TestFlow probe;
  TcpConversation c(probe, 41002, 80);
  auto full = c.packet(WM_DIR_FORWARD, kTcpPsh | kTcpAck,
                       "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
  for (uint8_t ihl : {uint8_t{0x45}, uint8_t{0x4f}, uint8_t{0x41}}) {
    for (uint32_t len = 0; len <= full.view.cap_len; ++len) {
      TestFlow f;
      BuiltPacket p = c.packet(WM_DIR_FORWARD, kTcpPsh | kTcpAck,
                               "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
      p.bytes->at(p.view.l3_off) = ihl;
      p.bytes->at(p.view.l3_off + 2) = 0xff;  // total length beyond the frame
      p.bytes->resize(len);                   // so reads past it are caught by ASan
      p.bytes->shrink_to_fit();
      p.view.data = p.bytes->data();
      p.view.cap_len = len;
      if (p.view.l3_off >= len) p.view.l3_off = 0;
      p.view.flow = &f.info;
      p.view.flow_state = f.state;
      h.batch(0, {p.view});
      h.flow_end(0, f.info, f.state);
    }
  }
  auto samples = h.collect();
  EXPECT_EQ(value_of(samples, "wiremeter_dpi_inspecting_flows"), 0);
  EXPECT_GT(value_of(samples, "wiremeter_dpi_flows_total", "Unknown"), 0);
}

TEST(DpiPlugin, RandomPayloadsNeverCrash) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  std::mt19937 rng(42);
  // Well-known ports steer the bytes into the dissectors most likely to parse deeply.
  const uint16_t ports[] = {53, 80, 443, 5060, 1883, 27017, 22, 25, 123, 3478, 8080, 0};
  for (int round = 0; round < 40; ++round) {
    for (uint16_t port : ports) {
      TestFlow f;
      for (int i = 0; i < 6; ++i) {
        std::string payload(rng() % 1400, '\0');
        for (char& ch : payload) ch = static_cast<char>(rng());
        uint8_t dir = (rng() & 1) ? WM_DIR_FORWARD : WM_DIR_REVERSE;
        PacketBuilder b;
        if (dir == WM_DIR_FORWARD) {
          b.ipv6("2001:db8::1", "2001:db8::2");
        } else {
          b.ipv6("2001:db8::2", "2001:db8::1");
        }
        if (round % 2) {
          b.udp(dir == WM_DIR_FORWARD ? 40000 : port, dir == WM_DIR_FORWARD ? port : 40000);
        } else {
          b.tcp(dir == WM_DIR_FORWARD ? 40000 : port, dir == WM_DIR_FORWARD ? port : 40000,
                static_cast<uint8_t>(rng()));
        }
        auto p = b.payload(payload).timestamp_ns(kT0 + i).flow(&f.info, f.state, dir).build();
        h.batch(0, {p.view});
      }
      h.flow_end(0, f.info, f.state);
    }
  }
  EXPECT_EQ(value_of(h.collect(), "wiremeter_dpi_inspecting_flows"), 0);
}

TEST(DpiPlugin, RefusesAnUnreadableFileWithTheFieldName) {
  FakeHost host;
  host.config = R"({"ja3_file": "/nonexistent/ja3.csv"})";
  try {
    PluginHarness h(wiremeter_plugin_register(), host);
    FAIL() << "plugin created";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("dpi.ja3_file: cannot read /nonexistent/ja3.csv"),
              std::string::npos)
        << e.what();
  }
}

// The flow record as the core fills it when the flow ends: IPv4 client 10.0.0.<client> and
// server 10.0.1.<server>, packets and bytes per direction, first and last packet times.
void end_info(TestFlow& f, uint64_t id, uint8_t l4_proto, uint8_t client, uint16_t client_port,
              uint8_t server, uint16_t server_port, uint64_t first_ns, uint64_t last_ns,
              uint64_t packets, uint64_t bytes) {
  f.info.id = id;
  f.info.ip_version = 4;
  f.info.l4_proto = l4_proto;
  f.info.addr[0][0] = 10, f.info.addr[0][3] = client;
  f.info.addr[1][0] = 10, f.info.addr[1][2] = 1, f.info.addr[1][3] = server;
  f.info.port[0] = client_port;
  f.info.port[1] = server_port;
  f.info.first_ns = first_ns;
  f.info.last_ns = last_ns;
  f.info.packets[0] = f.info.packets[1] = packets;
  f.info.bytes[0] = f.info.bytes[1] = bytes;
  f.info.end_reason = WM_FLOW_SHUTDOWN;
}

// Two workers: a DNS flow at kT0 (worker 0), an HTTP flow to Facebook 100 s later (worker 0)
// and a second DNS flow 200 s after kT0 (worker 1), all ended.
class DpiViews : public ::testing::Test {
 protected:
  static constexpr uint64_t kSecond = 1'000'000'000;
  static constexpr uint64_t kT1 = kT0 + 100 * kSecond, kT2 = kT0 + 200 * kSecond;

  void SetUp() override {
    auto q = udp_packet(dns_a, WM_DIR_FORWARD, 40000, 53, dns_query("a.example"), kT0);
    auto r = udp_packet(dns_a, WM_DIR_REVERSE, 40000, 53, dns_answer("a.example"), kT0 + 2000);
    // The core sets first_ns at the flow's first packet; the label is known only at the answer.
    dns_a.info.first_ns = kT0;
    h.batch(0, {q.view, r.view});
    dns_bytes = q.view.wire_len + r.view.wire_len;

    TcpConversation c(http, 41000, 80, kT1);
    auto pkts = c.request("GET / HTTP/1.1\r\nHost: www.facebook.com\r\n\r\n");
    pkts.push_back(c.packet(WM_DIR_REVERSE, kTcpPsh | kTcpAck,
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    pkts.push_back(c.packet(WM_DIR_FORWARD, kTcpAck));  // after classification
    http.info.first_ns = kT1 + 1000;
    h.batch(0, views(pkts));
    for (auto& p : pkts) http_bytes += p.view.wire_len;

    auto q2 = udp_packet(dns_b, WM_DIR_FORWARD, 40001, 53, dns_query("b.example"), kT2);
    auto r2 = udp_packet(dns_b, WM_DIR_REVERSE, 40001, 53, dns_answer("b.example"), kT2 + 3000);
    dns_b.info.first_ns = kT2;
    h.batch(1, {q2.view, r2.view});
    dns_bytes += q2.view.wire_len + r2.view.wire_len;

    end_info(dns_a, 1, 17, 1, 40000, 53, 53, kT0, kT0 + 2000, 1, 100);
    end_info(http, 2, 6, 2, 41000, 80, 80, kT1 + 1000, kT1 + 6000, 3, 1000);
    end_info(dns_b, 1, 17, 3, 40001, 54, 53, kT2, kT2 + 3000, 1, 200);
    h.flow_end(0, dns_a.info, dns_a.state);
    h.flow_end(0, http.info, http.state);
    h.flow_end(1, dns_b.info, dns_b.state);
  }

  // The labels of a list's items, in order.
  static std::vector<std::string> labels(const std::string& body, const std::string& key) {
    std::vector<std::string> out;
    std::string needle = "\"" + key + "\":\"";
    for (size_t at = body.find(needle); at != std::string::npos; at = body.find(needle, at)) {
      at += needle.size();
      out.push_back(body.substr(at, body.find('"', at) - at));
    }
    return out;
  }
  using Labels = std::vector<std::string>;

  FakeHost host;
  PluginHarness h{wiremeter_plugin_register(), host, 2};
  TestFlow dns_a, http, dns_b;
  uint64_t dns_bytes = 0, http_bytes = 0;
};

TEST_F(DpiViews, ProtocolsListOneRowPerLabelMergedOverWorkers) {
  auto [status, body] = h.query("protocols");
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(body, R"({"total":2,"page":1,"size":100,"sort":"bytes","order":"desc","items":[)"
                  R"({"protocol":"HTTP.Facebook","category":"SocialNetwork","flows":1,"packets":6,)"
                  R"("bytes":)" +
                      std::to_string(http_bytes) +
                      R"(,"first_seen":1700000100.000001,"last_seen":1700000100.000006},)"
                      R"({"protocol":"DNS","category":"Network","flows":2,"packets":4,"bytes":)" +
                      std::to_string(dns_bytes) +
                      // first_seen is the first flow's query, though the label came with the answer
                      // (JsonWriter writes the shortest form of a double: 1.7e+09).
                      R"(,"first_seen":1.7e+09,"last_seen":1700000200.000003}]})");
}

TEST_F(DpiViews, ProtocolsListSortsPagesAndFilters) {
  EXPECT_EQ(labels(h.query("protocols", "sort=flows").second, "protocol"),
            (Labels{"DNS", "HTTP.Facebook"}));
  EXPECT_EQ(labels(h.query("protocols", "sort=packets&order=asc").second, "protocol"),
            (Labels{"DNS", "HTTP.Facebook"}));
  EXPECT_EQ(labels(h.query("protocols", "sort=protocol&order=asc").second, "protocol"),
            (Labels{"DNS", "HTTP.Facebook"}));
  EXPECT_EQ(labels(h.query("protocols", "sort=category").second, "protocol"),
            (Labels{"HTTP.Facebook", "DNS"}));  // SocialNetwork, Network
  EXPECT_EQ(labels(h.query("protocols", "sort=first_seen").second, "protocol"),
            (Labels{"HTTP.Facebook", "DNS"}));
  EXPECT_EQ(labels(h.query("protocols", "sort=last_seen").second, "protocol"),
            (Labels{"DNS", "HTTP.Facebook"}));
  auto [s, second] = h.query("protocols", "size=1&page=2");
  EXPECT_EQ(s, 200);
  EXPECT_NE(second.find(R"("total":2,"page":2,"size":1,)"), std::string::npos) << second;
  EXPECT_EQ(labels(second, "protocol"), (Labels{"DNS"}));
  // By label or category, any case.
  EXPECT_EQ(labels(h.query("protocols", "filter=FACE").second, "protocol"),
            (Labels{"HTTP.Facebook"}));
  EXPECT_EQ(labels(h.query("protocols", "filter=network").second, "protocol"),
            (Labels{"HTTP.Facebook", "DNS"}));  // "SocialNetwork" and "Network"
  EXPECT_EQ(labels(h.query("protocols", "filter=netw&sort=protocol").second, "protocol"),
            (Labels{"HTTP.Facebook", "DNS"}));
  EXPECT_EQ(labels(h.query("protocols", "filter=nothing").second, "protocol"), Labels{});
}

TEST_F(DpiViews, ProtocolsListKeepsLabelsActiveInTheWindow) {
  // DNS: kT0 .. kT2 + 3 us; HTTP.Facebook: kT1 + 1 us .. kT1 + 6 us.
  EXPECT_EQ(labels(h.query("protocols", "to=1700000050").second, "protocol"), Labels{"DNS"});
  EXPECT_EQ(labels(h.query("protocols", "from=1700000150").second, "protocol"), Labels{"DNS"});
  EXPECT_EQ(labels(h.query("protocols", "from=1700000090&to=1700000110").second, "protocol"),
            (Labels{"HTTP.Facebook", "DNS"}));
  EXPECT_EQ(labels(h.query("protocols", "from=1700000100.00001").second, "protocol"),
            Labels{"DNS"});
  EXPECT_EQ(labels(h.query("protocols", "from=1700000300").second, "protocol"), Labels{});
}

TEST_F(DpiViews, ProtocolDetailNamesItsSeriesAndGraphsIt) {
  h.tick(1 * kSecond);
  h.tick(2 * kSecond);  // no traffic in this second: no protocol is in the top
  EXPECT_EQ(host.series.count("DNS.bps"), 0u);
  auto [status, body] = h.query("protocols/dns");  // labels match in any case
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(body, R"({"protocol":{"protocol":"DNS","category":"Network","flows":2,"packets":4,)"
                  R"("bytes":)" +
                      std::to_string(dns_bytes) +
                      R"(,"first_seen":1.7e+09,"last_seen":1700000200.000003},)"
                      R"("series":"dpi.DNS.bps"})");
  // Viewed: graphed from the next second on, idle or not.
  h.tick(3 * kSecond);
  ASSERT_EQ(host.series.count("DNS.bps"), 1u);
  EXPECT_EQ(host.series["DNS.bps"], std::vector<double>{0.0});
  EXPECT_EQ(host.series.count("HTTP.Facebook.bps"), 0u);

  auto [s2, facebook] = h.query("protocols/HTTP.Facebook");
  EXPECT_EQ(s2, 200);
  EXPECT_NE(facebook.find(R"("series":"dpi.HTTP.Facebook.bps")"), std::string::npos);
}

TEST_F(DpiViews, UnknownProtocolOrViewIs404) {
  auto [status, body] = h.query("protocols/Nope");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, R"({"error":"no such protocol: Nope"})");
  EXPECT_EQ(h.query("protocols/DNSX").first, 404);
  EXPECT_EQ(h.query("labels").first, 404);
  EXPECT_EQ(h.query("flows/0:1").first, 404);
}

TEST_F(DpiViews, BadParametersAre400) {
  auto [s, body] = h.query("protocols", "sort=host");
  EXPECT_EQ(s, 400);
  EXPECT_EQ(body,
            R"({"error":"sort: must be one of bytes, category, first_seen, flows, last_seen, )"
            R"(packets, protocol"})");
  EXPECT_EQ(h.query("protocols", "size=0").first, 400);
  EXPECT_EQ(h.query("protocols", "order=up").first, 400);
  EXPECT_EQ(h.query("protocols", "page=x").first, 400);
  EXPECT_EQ(h.query("protocols", "from=yesterday").first, 400);
  EXPECT_EQ(h.query("protocols", "from=1700000200&to=1700000100").first, 400);
  EXPECT_EQ(h.query("protocols", "bogus=1").second, R"({"error":"bogus: unknown parameter"})");
  EXPECT_EQ(h.query("protocols/DNS", "size=1").first, 400);
  EXPECT_EQ(h.query("protocols/").first, 400);
  auto [s2, flows] = h.query("flows", "sort=client");
  EXPECT_EQ(s2, 400);
  EXPECT_EQ(flows, R"({"error":"sort: must be one of bytes, end, packets, protocol, start"})");
  EXPECT_EQ(h.query("flows", "size=1001").first, 400);
  EXPECT_EQ(h.query("flows", "to=x").first, 400);
  EXPECT_EQ(h.query("flows", "host=a").first, 400);
}

TEST_F(DpiViews, FlowsListTheEndedFlowsWithTheirTimes) {
  auto [status, body] = h.query("flows");
  EXPECT_EQ(status, 200) << body;
  EXPECT_NE(body.find(R"({"total":3,"page":1,"size":100,"sort":"end","order":"desc","items":[)"
                      R"({"flow":"1:1","proto":17,"client":"10.0.0.3","client_port":40001,)"
                      R"("server":"10.0.1.54","server_port":53,"vlan":0,"protocol":"DNS",)"
                      R"("category":"Network","host":"b.example","packets":[1,1],)"
                      R"("bytes":[200,200],"start":1700000200,"end":1700000200.000003},)"),
            std::string::npos)
      << body;
  EXPECT_EQ(labels(body, "flow"), (Labels{"1:1", "0:2", "0:1"}));
  EXPECT_EQ(labels(h.query("flows", "sort=start&order=asc").second, "flow"),
            (Labels{"0:1", "0:2", "1:1"}));
  EXPECT_EQ(labels(h.query("flows", "sort=bytes").second, "flow"), (Labels{"0:2", "1:1", "0:1"}));
  EXPECT_EQ(labels(h.query("flows", "sort=packets").second, "flow"),
            (Labels{"0:2", "0:1", "1:1"}));  // equal packets: by worker, then id
  EXPECT_EQ(labels(h.query("flows", "sort=protocol&order=asc").second, "flow"),
            (Labels{"0:1", "1:1", "0:2"}));
  EXPECT_EQ(labels(h.query("flows", "size=2&page=2").second, "flow"), (Labels{"0:1"}));
  // The report lists the same records, with the same times.
  EXPECT_NE(h.json().find(R"("host":"www.facebook.com","packets":[3,3],"bytes":[1000,1000],)"
                          R"("start":1700000100.000001,"end":1700000100.000006})"),
            std::string::npos)
      << h.json();
}

TEST_F(DpiViews, FlowsFilterByAddressHostOrLabelAndWindow) {
  EXPECT_EQ(labels(h.query("flows", "filter=10.0.0.3").second, "flow"), (Labels{"1:1"}));
  EXPECT_EQ(labels(h.query("flows", "filter=10.0.1.80").second, "flow"), (Labels{"0:2"}));
  EXPECT_EQ(labels(h.query("flows", "filter=A.EXAMPLE").second, "flow"), (Labels{"0:1"}));
  EXPECT_EQ(labels(h.query("flows", "filter=facebook").second, "flow"), (Labels{"0:2"}));
  EXPECT_EQ(labels(h.query("flows", "filter=dns").second, "flow"), (Labels{"1:1", "0:1"}));
  EXPECT_EQ(labels(h.query("flows", "filter=10.0.0.9").second, "flow"), Labels{});
  EXPECT_EQ(labels(h.query("flows", "from=1700000050&to=1700000150").second, "flow"),
            (Labels{"0:2"}));
  EXPECT_EQ(labels(h.query("flows", "to=1700000100").second, "flow"), (Labels{"0:1"}));
  EXPECT_EQ(labels(h.query("flows", "from=1700000200.000002").second, "flow"), (Labels{"1:1"}));
  EXPECT_EQ(h.query("flows", "from=1700000300").second.rfind(R"({"total":0,)", 0), 0u);
}

TEST(DpiPlugin, KeepsNoEndedFlowsWhenToldAndCountsThemDropped) {
  FakeHost host;
  host.config = R"({"ended_flows": 0})";
  PluginHarness h(wiremeter_plugin_register(), host);
  for (uint64_t id = 1; id <= 3; ++id) {
    TestFlow f;
    f.info.id = id;
    auto q = udp_packet(f, WM_DIR_FORWARD, 40000, 53, dns_query("x.example"), kT0);
    h.batch(0, {q.view});
    h.flow_end(0, f.info, f.state);
  }
  EXPECT_NE(h.json().find(R"("flows":[],"flows_dropped":3,)"), std::string::npos) << h.json();
  EXPECT_EQ(h.query("flows").second.rfind(R"({"total":0,)", 0), 0u);
  EXPECT_EQ(value_of(h.collect(), "wiremeter_dpi_ended_flows_dropped_total"), 3);
}

TEST(DpiPlugin, RegistersValidMetricNames) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  ASSERT_FALSE(host.metrics.empty());
  for (auto& m : host.metrics) EXPECT_EQ(m.name.rfind("wiremeter_dpi_", 0), 0u) << m.name;
}

}  // namespace
}  // namespace wiremeter::dpi
