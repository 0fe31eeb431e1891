// Tests of the dns plugin through its C descriptor, as the host drives it: matching and response
// time, rcodes, TCP framing, unanswered queries (flow end and timeout), malformed and incomplete
// messages, metrics, the report and the REST lists.
#include "dns_plugin.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

#include "tests/dns_test_util.hpp"

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::dns {
namespace {

using test::Bytes;
using testing::BuiltPacket;
using testing::FakeHost;
using testing::FakeSample;
using testing::PacketBuilder;
using testing::PluginHarness;

static_assert(sizeof(FlowState) == 20, "flow state is paid by every flow: keep it at 20 bytes");

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;
constexpr uint64_t kMs = 1'000'000ull;

// A flow with the state the core would allocate next to it.
struct Flow {
  explicit Flow(uint64_t id = 1) { info.id = id; }
  wm_flow_info info{};
  alignas(16) uint8_t state[64] = {};
  uint32_t next_seq[2] = {1000, 9000};  // TCP: the next segment of each direction follows on
};

// PluginHarness with the argument order these tests read best in.
class Driver : public PluginHarness {
 public:
  explicit Driver(FakeHost& host, uint32_t workers = 1)
      : PluginHarness(wiremeter_plugin_register(), host, workers) {}
  void batch(const std::vector<wm_packet>& p, uint32_t w = 0) { PluginHarness::batch(w, p); }
  void flow_end(Flow& f, uint32_t w = 0) { PluginHarness::flow_end(w, f.info, f.state); }
  void worker_tick(uint64_t now, uint32_t w = 0) { PluginHarness::worker_tick(w, now); }
  Worker& worker(uint32_t w = 0) { return worker_as<Worker>(w); }
};

// A UDP packet of `flow` from client to server (or back), with the DNS message as payload.
BuiltPacket udp(Flow& f, bool to_server, const std::string& msg, uint64_t ts,
                const char* client = "198.18.0.1", const char* server = "198.18.1.53",
                uint16_t client_port = 40000, uint16_t server_port = 53) {
  PacketBuilder b;
  if (to_server) {
    b.ipv4(client, server).udp(client_port, server_port);
  } else {
    b.ipv4(server, client).udp(server_port, client_port);
  }
  return b.payload(msg).timestamp_ns(ts).flow(&f.info, f.state, to_server ? 0 : 1).build();
}

// A TCP segment of `f`: in sequence after the previous one of its direction, or at `seq`.
BuiltPacket tcp(Flow& f, bool to_server, const std::string& payload, uint64_t ts,
                std::optional<uint32_t> seq = std::nullopt) {
  PacketBuilder b;
  uint32_t& next = f.next_seq[to_server ? 0 : 1];
  b.seq(seq.value_or(next));
  next = seq.value_or(next) + static_cast<uint32_t>(payload.size());
  if (to_server) {
    b.ipv4("198.18.0.1", "198.18.1.53").tcp(40000, 53, testing::kTcpAck | testing::kTcpPsh);
  } else {
    b.ipv4("198.18.1.53", "198.18.0.1").tcp(53, 40000, testing::kTcpAck | testing::kTcpPsh);
  }
  return b.payload(payload).timestamp_ns(ts).flow(&f.info, f.state, to_server ? 0 : 1).build();
}

const FakeSample* find(const std::vector<FakeSample>& s, const std::string& metric,
                       const std::string& label = "", const std::string& value = "") {
  for (auto& x : s) {
    if (x.metric != metric) continue;
    if (!label.empty() && (!x.labels.count(label) || x.labels.at(label) != value)) continue;
    return &x;
  }
  return nullptr;
}

double value(const std::vector<FakeSample>& s, const std::string& metric,
             const std::string& label = "", const std::string& v = "") {
  const FakeSample* x = find(s, metric, label, v);
  return x ? x->value : -1;
}

bool has(const std::string& json, const std::string& part) {
  return json.find(part) != std::string::npos;
}

TEST(DnsPlugin, MatchesResponsesAndMeasuresResponseTime) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  EXPECT_EQ(h.flow_state_size(), sizeof(FlowState));
  Flow f;
  auto q = udp(f, true, test::query_msg(0x1234, "www.example.com", test::kA), kT0);
  auto r = udp(f, false,
               test::response_msg(0x1234, "www.example.com", test::kA, 0,
                                  {{192, 0, 2, 1, 300}, {192, 0, 2, 2, 60}}),
               kT0 + 3 * kMs);
  h.batch(0, {q.view, r.view});

  auto s = h.collect();
  EXPECT_EQ(value(s, "wiremeter_dns_queries_total"), 1);
  EXPECT_EQ(value(s, "wiremeter_dns_responses_total", "rcode", "NOERROR"), 1);
  EXPECT_EQ(value(s, "wiremeter_dns_responses_total", "rcode", "NXDOMAIN"), 0);
  const FakeSample* rtt = find(s, "wiremeter_dns_response_seconds");
  ASSERT_NE(rtt, nullptr);
  ASSERT_EQ(rtt->counts.size(), kRttBuckets);
  EXPECT_EQ(rtt->counts[2], 0u);  // not <= 2.5 ms
  EXPECT_EQ(rtt->counts[3], 1u);  // <= 5 ms
  EXPECT_DOUBLE_EQ(rtt->sum, 0.003);
  EXPECT_EQ(value(s, "wiremeter_dns_server_requests_total", "server", "198.18.1.53"), 1);

  std::string json = h.json();
  EXPECT_TRUE(has(json, R"("query":"www.example.com","qtype":"A","rcode":"NOERROR",)"
                        R"("answers":["192.0.2.1","192.0.2.2"],"ttls":[300,60],"rtt_ms":3})"))
      << json;
  EXPECT_TRUE(has(json, R"("client":"198.18.0.1","client_port":40000,"server":"198.18.1.53")"))
      << json;
  EXPECT_TRUE(has(json, R"("rtt_ms":{"min":3,"avg":3,"max":3})")) << json;
  EXPECT_TRUE(has(
      json, R"("name":"www.example.com","type":"A","answers":["192.0.2.1","192.0.2.2"],"ttl":60)"))
      << json;
  EXPECT_TRUE(has(json, R"("top_names":[{"name":"www.example.com","queries":1,)"
                        R"("first_seen":1.7e+09,"last_seen":1.7e+09}])"))
      << json;
  EXPECT_TRUE(has(json, R"("rcodes":{"NOERROR":1},"first_seen":1.7e+09,)"
                        R"("last_seen":1700000000.003}])"))
      << json;
}

TEST(DnsPlugin, MatchesCaseInsensitivelyAndReportsLowercase) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow f;
  // DNS 0x20: the resolver randomizes case; the response echoes it.
  auto q = udp(f, true, test::query_msg(7, "WwW.ExAmple.COM", test::kAaaa), kT0);
  auto r = udp(f, false, test::response_msg(7, "wWw.exAMPLE.com", test::kAaaa, 0), kT0 + kMs);
  h.batch(0, {q.view, r.view});
  std::string json = h.json();
  EXPECT_TRUE(has(json, R"("query":"www.example.com","qtype":"AAAA","rcode":"NOERROR",)"
                        R"("answers":[],"ttls":[],"rtt_ms":1})"))
      << json;
  EXPECT_TRUE(has(json, R"("unanswered":0)")) << json;
}

TEST(DnsPlugin, CountsRcodesAndErrorsPerServer) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  std::vector<BuiltPacket> pkts;
  struct Case {
    uint16_t id;
    uint8_t rcode;
    const char* server;
  };
  std::vector<Flow> flows(4);
  std::vector<Case> cases = {
      {1, 3, "198.18.1.53"}, {2, 2, "198.18.1.53"}, {3, 0, "198.18.1.53"}, {4, 5, "198.18.2.53"}};
  for (size_t i = 0; i < cases.size(); ++i) {
    flows[i].info.id = i + 1;
    pkts.push_back(udp(flows[i], true, test::query_msg(cases[i].id, "x.example", test::kA), kT0,
                       "198.18.0.1", cases[i].server));
    pkts.push_back(udp(flows[i], false,
                       test::response_msg(cases[i].id, "x.example", test::kA, cases[i].rcode),
                       kT0 + kMs, "198.18.0.1", cases[i].server));
  }
  std::vector<wm_packet> views;
  for (auto& p : pkts) views.push_back(p.view);
  h.batch(0, views);
  auto s = h.collect();
  EXPECT_EQ(value(s, "wiremeter_dns_responses_total", "rcode", "NXDOMAIN"), 1);
  EXPECT_EQ(value(s, "wiremeter_dns_responses_total", "rcode", "SERVFAIL"), 1);
  EXPECT_EQ(value(s, "wiremeter_dns_responses_total", "rcode", "REFUSED"), 1);
  EXPECT_EQ(value(s, "wiremeter_dns_responses_total", "rcode", "NOERROR"), 1);
  EXPECT_EQ(value(s, "wiremeter_dns_server_errors_total", "server", "198.18.1.53"), 2);
  EXPECT_EQ(value(s, "wiremeter_dns_server_errors_total", "server", "198.18.2.53"), 1);
  std::string json = h.json();
  EXPECT_TRUE(has(json, R"("server":"198.18.1.53","requests":3,"responses":3,"errors":2,)"
                        R"("unanswered":0,"retransmissions":0,"rtt_ms":{"min":1,"avg":1,"max":1},)"
                        R"("rcodes":{"NOERROR":1,"SERVFAIL":1,"NXDOMAIN":1},)"))
      << json;
  // Failed lookups resolve nothing.
  EXPECT_TRUE(has(json, R"("names":[],)")) << json;
}

TEST(DnsPlugin, ReadsTcpLengthPrefixedMessages) {
  FakeHost host;
  Driver d(host);
  Flow f;
  std::string q1 = test::query_msg(1, "a.example", test::kA);
  std::string q2 = test::query_msg(2, "b.example", test::kA);
  std::string r1 = test::response_msg(1, "a.example", test::kA, 0, {{192, 0, 2, 1, 5}});
  std::string r2 = test::response_msg(2, "b.example", test::kA, 0, {{192, 0, 2, 2, 5}});
  auto syn = tcp(f, true, "", kT0);
  // Two pipelined queries in one segment; the responses each in their own.
  auto queries = tcp(f, true, test::tcp_framed(q1) + test::tcp_framed(q2), kT0 + kMs);
  auto resp1 = tcp(f, false, test::tcp_framed(r1), kT0 + 2 * kMs);
  auto resp2 = tcp(f, false, test::tcp_framed(r2), kT0 + 3 * kMs);
  d.batch({syn.view, queries.view, resp1.view, resp2.view});
  EXPECT_EQ(d.worker().queries.value(), 2u);
  EXPECT_EQ(d.worker().responses.value(), 2u);
  EXPECT_EQ(d.worker().unmatched_responses.value(), 0u);
  std::string json = d.json();
  EXPECT_TRUE(has(json, R"("transport":"tcp","id":2,"query":"b.example","qtype":"A",)"
                        R"("rcode":"NOERROR","answers":["192.0.2.2"],"ttls":[5],"rtt_ms":2})"))
      << json;

  // A message that continues in the next segment is skipped whole, not taken for garbage; the
  // message after it is read again.
  std::string r3 = test::response_msg(3, "c.example", test::kA, 0, {{192, 0, 2, 3, 5}});
  std::string framed = test::tcp_framed(r3);
  auto part1 = tcp(f, false, framed.substr(0, 10), kT0 + 4 * kMs);
  auto part2 = tcp(f, false, framed.substr(10) + test::tcp_framed(r2), kT0 + 5 * kMs);
  d.batch({part1.view, part2.view});
  EXPECT_EQ(d.worker().incomplete[static_cast<size_t>(Incomplete::kTcpSegmented)].value(), 1u);
  EXPECT_EQ(d.worker().responses.value(), 3u);  // the r2 after the skipped bytes
  uint64_t malformed = 0;
  for (auto& c : d.worker().malformed) malformed += c.value();
  EXPECT_EQ(malformed, 0u);
}

TEST(DnsPlugin, TcpRetransmissionsAreNotNewMessages) {
  FakeHost host;
  Driver d(host);
  Flow f;
  std::string q1 = test::tcp_framed(test::query_msg(1, "a.example", test::kA));
  std::string q2 = test::tcp_framed(test::query_msg(2, "b.example", test::kA));
  auto first = tcp(f, true, q1, kT0, 1000);
  auto again = tcp(f, true, q1, kT0 + kMs, 1000);                       // retransmitted whole
  auto overlap = tcp(f, true, q1.substr(5) + q2, kT0 + 2 * kMs, 1005);  // partly old
  d.batch({first.view, again.view, overlap.view});
  EXPECT_EQ(d.worker().queries.value(), 2u);
  EXPECT_EQ(d.worker().retransmissions.value(), 0u);
  uint64_t malformed = 0;
  for (auto& c : d.worker().malformed) malformed += c.value();
  EXPECT_EQ(malformed, 0u);

  // Bytes lost in between: the message they belonged to is given up, framing restarts.
  std::string r1 = test::tcp_framed(test::response_msg(1, "a.example", test::kA, 0, {}));
  std::string r2 = test::tcp_framed(test::response_msg(2, "b.example", test::kA, 0, {}));
  auto head = tcp(f, false, r1.substr(0, 8), kT0 + 3 * kMs, 9000);
  auto after_gap = tcp(f, false, r2, kT0 + 4 * kMs, 9000 + static_cast<uint32_t>(r1.size()) + 50);
  d.batch({head.view, after_gap.view});
  EXPECT_EQ(d.worker().incomplete[static_cast<size_t>(Incomplete::kTcpGap)].value(), 1u);
  EXPECT_EQ(d.worker().responses.value(), 1u);  // r2
}

TEST(DnsPlugin, CountsUnansweredQueriesWhenTheFlowEnds) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow f;
  auto q = udp(f, true, test::query_msg(9, "lost.example", test::kA), kT0);
  h.batch(0, {q.view});
  EXPECT_EQ(value(h.collect(), "wiremeter_dns_unanswered_total"), 0);
  f.info.end_reason = WM_FLOW_IDLE_TIMEOUT;
  h.flow_end(0, f.info, f.state);
  auto s = h.collect();
  EXPECT_EQ(value(s, "wiremeter_dns_unanswered_total"), 1);
  EXPECT_EQ(value(s, "wiremeter_dns_server_unanswered_total", "server", "198.18.1.53"), 1);
  std::string json = h.json();
  EXPECT_TRUE(has(
      json,
      R"("query":"lost.example","qtype":"A","rcode":null,"answers":[],"ttls":[],"rtt_ms":null})"))
      << json;
  // The state is clean: ending the flow again reports nothing more.
  h.flow_end(0, f.info, f.state);
  EXPECT_EQ(value(h.collect(), "wiremeter_dns_unanswered_total"), 1);
}

TEST(DnsPlugin, BoundsOutstandingQueriesPerFlow) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow f;
  // A client that never hears back: its list stays bounded, the oldest count as unanswered.
  std::vector<testing::BuiltPacket> keep;
  for (uint16_t i = 0; i < 100; ++i) {
    keep.push_back(udp(f, true, test::query_msg(i, "flood.example", test::kA), kT0 + i));
    h.batch(0, {keep.back().view});
  }
  EXPECT_EQ(value(h.collect(), "wiremeter_dns_unanswered_total"), 100 - kMaxPendingPerFlow);
  f.info.end_reason = WM_FLOW_IDLE_TIMEOUT;
  h.flow_end(0, f.info, f.state);
  EXPECT_EQ(value(h.collect(), "wiremeter_dns_unanswered_total"), 100);
}

TEST(DnsPlugin, TimesOutQueriesOnTheWorkerTick) {
  FakeHost host;
  Driver d(host);
  Flow f;
  auto q = udp(f, true, test::query_msg(9, "slow.example", test::kA), kT0);
  d.batch({q.view});
  d.worker_tick(kT0 + 5000 * kMs);
  EXPECT_EQ(d.worker().unanswered.value(), 0u);
  d.worker_tick(kT0 + 11000 * kMs);
  EXPECT_EQ(d.worker().unanswered.value(), 1u);
  // The response after the timeout is late: not matched, and the query is not counted twice.
  auto r = udp(f, false, test::response_msg(9, "slow.example", test::kA, 0), kT0 + 12000 * kMs);
  d.batch({r.view});
  EXPECT_EQ(d.worker().unmatched_responses.value(), 1u);
  EXPECT_EQ(d.worker().late_responses.value(), 1u);
  d.flow_end(f);
  EXPECT_EQ(d.worker().unanswered.value(), 1u);
}

TEST(DnsPlugin, RetransmissionsAreMatchedOldestFirst) {
  FakeHost host;
  Driver d(host);
  Flow f;
  std::string query = test::query_msg(5, "again.example", test::kA);
  auto q1 = udp(f, true, query, kT0);
  auto q2 = udp(f, true, query, kT0 + 1000 * kMs);
  auto r = udp(f, false, test::response_msg(5, "again.example", test::kA, 0), kT0 + 1010 * kMs);
  d.batch({q1.view, q2.view, r.view});
  d.flow_end(f);
  EXPECT_EQ(d.worker().queries.value(), 2u);
  EXPECT_EQ(d.worker().retransmissions.value(), 1u);
  EXPECT_EQ(d.worker().unanswered.value(), 1u);
  std::string json = d.json();
  EXPECT_TRUE(has(json, R"("rtt_ms":1010})")) << json;
}

TEST(DnsPlugin, CountsMalformedMessagesByReason) {
  FakeHost host;
  Driver d(host);
  Flow f;
  Bytes loop;
  loop.header(1, 0, 1, 0).ptr(12).u16(1).u16(1);
  auto bad = udp(f, true, loop.str(), kT0);
  std::string cut = test::response_msg(2, "x.example", test::kA, 0, {{1, 2, 3, 4, 5}});
  cut.resize(cut.size() - 2);  // the sender's bug, not fragmentation: the UDP length agrees
  auto truncated = udp(f, false, cut, kT0);
  auto tiny = udp(f, true, "abc", kT0);
  // The same bytes on a port that is not DNS are not looked at.
  auto elsewhere = udp(f, true, loop.str(), kT0, "198.18.0.1", "198.18.1.53", 40000, 8053);
  d.batch({bad.view, truncated.view, tiny.view, elsewhere.view});
  Worker& w = d.worker();
  EXPECT_EQ(w.malformed[static_cast<size_t>(Error::kPointerLoop)].value(), 1u);
  EXPECT_EQ(w.malformed[static_cast<size_t>(Error::kTruncatedAnswer)].value(), 1u);
  EXPECT_EQ(w.malformed[static_cast<size_t>(Error::kTruncatedHeader)].value(), 1u);
  EXPECT_EQ(w.queries.value(), 0u);
  EXPECT_EQ(w.responses.value(), 0u);
  std::string json = d.json();
  EXPECT_TRUE(has(json, R"("truncated_header":1,)")) << json;
  EXPECT_TRUE(has(json, R"("pointer_loop":1,)")) << json;
}

TEST(DnsPlugin, ReadsWhatArrivedOfFragmentedOrCutResponses) {
  FakeHost host;
  Driver d(host);
  Flow f;
  auto q = udp(f, true, test::query_msg(3, "big.example", test::kA), kT0);
  std::string full =
      test::response_msg(3, "big.example", test::kA, 0, {{192, 0, 2, 1, 60}, {192, 0, 2, 2, 60}});
  // First fragment: the datagram goes on in a fragment that has no UDP header.
  auto r = udp(f, false, full.substr(0, full.size() - 6), kT0 + kMs);
  r.view.flags |= WM_PKT_FRAGMENT | WM_PKT_FIRST_FRAGMENT;
  d.batch({q.view, r.view});
  Worker& w = d.worker();
  EXPECT_EQ(w.incomplete[static_cast<size_t>(Incomplete::kIpFragment)].value(), 1u);
  EXPECT_EQ(w.responses.value(), 1u);
  EXPECT_EQ(w.unmatched_responses.value(), 0u);
  std::string json = d.json();
  EXPECT_TRUE(has(json, R"("answers":["192.0.2.1"],"ttls":[60],"rtt_ms":1,"partial":true})"))
      << json;

  // Cut by the snap length: the UDP header's length says more than was captured.
  Flow g(2);
  auto q2 = udp(g, true, test::query_msg(4, "big.example", test::kA), kT0);
  auto r2 = udp(g, false, full, kT0 + kMs);
  r2.view.payload_len = static_cast<uint16_t>(r2.view.payload_len - 6);
  r2.view.cap_len = r2.view.payload_off + r2.view.payload_len;
  d.batch({q2.view, r2.view});
  EXPECT_EQ(w.incomplete[static_cast<size_t>(Incomplete::kSnaplen)].value(), 1u);
  EXPECT_EQ(w.responses.value(), 2u);
}

TEST(DnsPlugin, NamesMdnsAnnouncementsAfterTheirFirstAnswer) {
  FakeHost host;
  Driver d(host);
  Flow f;
  // An mDNS response without question: SRV gemini._sftp-ssh._tcp.local -> gemini.local.
  Bytes m;
  m.header(0, 0x8400, 0, 1).name("gemini._sftp-ssh._tcp.local").rr(test::kSrv, 120, 0);
  size_t rdlen_at = m.size() - 2;
  m.u16(0).u16(0).u16(22).labels("gemini").ptr(static_cast<uint16_t>(12 + 7 + 10 + 5));
  std::string msg = m.str();
  size_t rdlen = msg.size() - rdlen_at - 2;
  msg[rdlen_at + 1] = static_cast<char>(rdlen);
  auto p = udp(f, true, msg, kT0, "141.142.220.50", "224.0.0.251", 5353, 5353);
  d.batch({p.view});
  std::string json = d.json();
  EXPECT_TRUE(has(json, R"("query":"gemini._sftp-ssh._tcp.local","qtype":null,)"
                        R"("rcode":"NOERROR","answers":["gemini.local"],"ttls":[120],)"
                        R"("rtt_ms":null})"))
      << json;
  EXPECT_TRUE(has(json, R"("server":"141.142.220.50")")) << json;
  EXPECT_TRUE(has(json, R"("name":"gemini._sftp-ssh._tcp.local","type":"SRV")")) << json;
}

TEST(DnsPlugin, LogsMulticastQueriesWithoutCountingThemUnanswered) {
  FakeHost host;
  Driver d(host);
  Flow f;
  // An LLMNR query and its retransmission: whoever owns the name answers from its own address.
  std::string query = test::query_msg(0x4620, "BRWC0CB383D1F42", test::kA);
  auto q1 = udp(f, true, query, kT0, "141.142.220.226", "224.0.0.252", 55131, 5355);
  auto q2 = udp(f, true, query, kT0 + 100 * kMs, "141.142.220.226", "224.0.0.252", 55131, 5355);
  d.batch({q1.view, q2.view});
  d.worker_tick(kT0 + 60'000 * kMs);
  d.flow_end(f);
  EXPECT_EQ(d.worker().queries.value(), 2u);
  EXPECT_EQ(d.worker().unanswered.value(), 0u);
  std::string json = d.json();
  EXPECT_TRUE(has(json, R"("server":"224.0.0.252","requests":2,"responses":0,"errors":0,)"
                        R"("unanswered":0,)"))
      << json;
  auto [status, list] = d.query("transactions", "filter=brwc0cb383d1f42");
  EXPECT_TRUE(has(list, R"("total":2,)")) << list;
  EXPECT_TRUE(has(list, R"("rcode":null)")) << list;
}

TEST(DnsPlugin, QueryHookPagesSortsFiltersAndRefusesBadParameters) {
  FakeHost host;
  Driver d(host);
  std::vector<Flow> flows(6);
  std::vector<BuiltPacket> pkts;
  // Servers .1 (3 queries), .2 (2), .3 (1).
  const char* servers[] = {"198.18.1.1", "198.18.1.1", "198.18.1.1",
                           "198.18.1.2", "198.18.1.2", "198.18.1.3"};
  for (size_t i = 0; i < 6; ++i) {
    flows[i].info.id = i + 1;
    std::string name = "n" + std::to_string(i) + ".example";
    pkts.push_back(udp(flows[i], true, test::query_msg(static_cast<uint16_t>(i), name, test::kA),
                       kT0 + i * kMs, "198.18.0.1", servers[i]));
    pkts.push_back(udp(flows[i], false,
                       test::response_msg(static_cast<uint16_t>(i), name, test::kA, 0,
                                          {{192, 0, 2, static_cast<uint8_t>(i), 30}}),
                       kT0 + i * kMs + (i + 1) * kMs, "198.18.0.1", servers[i]));
  }
  std::vector<wm_packet> views;
  for (auto& p : pkts) views.push_back(p.view);
  d.batch(views);

  auto [status, json] = d.query("servers", "sort=requests&order=asc&size=1&page=2");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"("total":3,"page":2,"size":1,"sort":"requests","order":"asc")")) << json;
  EXPECT_TRUE(has(json, R"("items":[{"server":"198.18.1.2","requests":2,)")) << json;

  std::tie(status, json) = d.query("servers", "filter=1.3");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"("total":1,)")) << json;

  // One server, and its graph of requests per second from the moment it is looked at.
  std::tie(status, json) = d.query("servers/198.18.1.2");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"({"server":{"server":"198.18.1.2","requests":2,)")) << json;
  EXPECT_TRUE(has(json, R"("series":"dns.198.18.1.2.requests_per_s"})")) << json;
  EXPECT_EQ(d.query("servers/198.18.9.9").first, 404);
  d.tick(1'000'000'000);
  d.tick(2'000'000'000);
  EXPECT_EQ(host.series["198.18.1.2.requests_per_s"], std::vector<double>{0.0});

  std::tie(status, json) = d.query("transactions", "sort=rtt&order=desc&size=2");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"("total":6,)")) << json;
  EXPECT_TRUE(has(json, R"("query":"n5.example")")) << json;
  EXPECT_TRUE(has(json, R"("query":"n4.example")")) << json;
  EXPECT_FALSE(has(json, R"("query":"n3.example")")) << json;

  std::tie(status, json) = d.query("transactions", "filter=N2.EXAMPLE");
  EXPECT_TRUE(has(json, R"("total":1,)")) << json;
  std::tie(status, json) = d.query("transactions", "filter=192.0.2.4");  // an answer
  EXPECT_TRUE(has(json, R"("total":1,)")) << json;
  std::tie(status, json) = d.query("names", "sort=name&order=asc&size=1");
  EXPECT_TRUE(has(json, R"("total":6,)")) << json;
  EXPECT_TRUE(has(json, R"("items":[{"name":"n0.example")")) << json;
  std::tie(status, json) = d.query("names", "from=1800000000");
  EXPECT_TRUE(has(json, R"("total":0,)")) << json;
  std::tie(status, json) = d.query("top_names", "size=2");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"("total":6,)")) << json;

  for (const char* qs : {"sort=bogus", "order=up", "page=0", "size=5000", "size=x", "colour=red",
                         "from=yesterday", "from=20&to=10"}) {
    std::tie(status, json) = d.query("transactions", qs);
    EXPECT_EQ(status, 400) << qs;
    EXPECT_TRUE(has(json, R"({"error":)")) << qs << " " << json;
  }
  for (const char* list : {"servers", "top_names", "names"}) {
    std::tie(status, json) = d.query(list, "from=20&to=10");
    EXPECT_EQ(status, 400) << list << " " << json;
  }
  EXPECT_EQ(d.query("servers/198.18.1.2", "size=1").first, 400);
  std::tie(status, json) = d.query("nothing");
  EXPECT_EQ(status, 404);
}

// The item of `list` (a JSON text) that starts with `head`, up to its end: enough for the flat
// rows these lists have apart from their nested rtt_ms and rcodes objects.
std::string item(const std::string& list, const std::string& head) {
  size_t at = list.find(head);
  if (at == std::string::npos) return "";
  size_t end = list.find('}', list.find(R"("counts":)", at));
  return list.substr(at, end == std::string::npos ? std::string::npos : end + 1 - at);
}

constexpr uint64_t kS = 1000 * kMs;

TEST(DnsPlugin, ServersAndTopNamesCountWhatHappenedInTheTimeWindow) {
  FakeHost host;
  Driver d(host);
  Flow f1(1), f2(2), f3(3), f4(4), f5(5);
  const char* a = "198.18.1.1";
  const char* b = "198.18.1.2";
  const char* c = "198.18.1.3";
  auto q = [](Flow& f, uint16_t id, const char* name, uint64_t ts, const char* server) {
    return udp(f, true, test::query_msg(id, name, test::kA), ts, "198.18.0.1", server);
  };
  auto r = [](Flow& f, uint16_t id, const char* name, uint8_t rcode, uint64_t ts,
              const char* server) {
    return udp(f, false, test::response_msg(id, name, test::kA, rcode), ts, "198.18.0.1", server);
  };
  // Server a answers a.example twice at T+1 s and T+2 s, then b.example with NXDOMAIN at
  // T+100 s; server b never answers b.example (asked twice, T+101 s and T+102 s).
  auto p1 = q(f1, 1, "a.example", kT0 + kS, a);
  auto p2 = r(f1, 1, "a.example", 0, kT0 + kS + 10 * kMs, a);
  auto p3 = q(f1, 2, "a.example", kT0 + 2 * kS, a);
  auto p4 = r(f1, 2, "a.example", 0, kT0 + 2 * kS + 20 * kMs, a);
  auto p5 = q(f2, 3, "b.example", kT0 + 100 * kS, a);
  auto p6 = r(f2, 3, "b.example", 3, kT0 + 100 * kS + 30 * kMs, a);
  auto p7 = q(f3, 4, "b.example", kT0 + 101 * kS, b);
  auto p8 = q(f3, 4, "b.example", kT0 + 102 * kS, b);
  d.batch({p1.view, p2.view, p3.view, p4.view, p5.view, p6.view, p7.view, p8.view});
  d.worker_tick(kT0 + 150 * kS);  // b's two queries time out
  // At T+200 s server b answers c.example; at T+300 s server c is asked and has not answered.
  auto p9 = q(f4, 5, "c.example", kT0 + 200 * kS, b);
  auto p10 = r(f4, 5, "c.example", 0, kT0 + 200 * kS + 5 * kMs, b);
  auto p11 = q(f5, 6, "d.example", kT0 + 300 * kS, c);
  d.batch({p9.view, p10.view, p11.view});

  auto [status, json] = d.query("servers", "from=1700000050&to=1700000150&sort=server&order=asc");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"("total":2,)")) << json;
  EXPECT_EQ(item(json, R"({"server":"198.18.1.1")"),
            R"({"server":"198.18.1.1","requests":1,"responses":1,"errors":1,"unanswered":0,)"
            R"("retransmissions":0,"rtt_ms":{"min":30,"avg":30,"max":30},)"
            R"("rcodes":{"NXDOMAIN":1},"first_seen":1700000001,"last_seen":1700000100.03,)"
            R"("counts":"window"})")
      << json;
  EXPECT_EQ(item(json, R"({"server":"198.18.1.2")"),
            R"({"server":"198.18.1.2","requests":2,"responses":0,"errors":0,"unanswered":2,)"
            R"("retransmissions":1,"rtt_ms":null,"rcodes":{},"first_seen":1700000101,)"
            R"("last_seen":1700000200.005,"counts":"window"})")
      << json;
  EXPECT_FALSE(has(json, "198.18.1.3")) << json;

  // The query still waiting counts as a request of its window, not (yet) as unanswered.
  std::tie(status, json) = d.query("servers", "from=1700000250");
  EXPECT_TRUE(has(json, R"("total":1,)")) << json;
  EXPECT_TRUE(has(json, R"("server":"198.18.1.3","requests":1,"responses":0,"errors":0,)"
                        R"("unanswered":0,)"))
      << json;
  std::tie(status, json) = d.query("servers", "from=1700000000&to=1700000000.5");
  EXPECT_TRUE(has(json, R"("total":0,)")) << json;
  // Without a window: the totals since the start.
  std::tie(status, json) = d.query("servers", "sort=server&order=asc&size=1");
  EXPECT_TRUE(has(json, R"("server":"198.18.1.1","requests":3,"responses":3,"errors":1,)")) << json;
  EXPECT_TRUE(has(json, R"("counts":"since_start"})")) << json;

  // The detail view takes the same window.
  std::tie(status, json) = d.query("servers/198.18.1.1", "from=1700000000&to=1700000010");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"({"server":{"server":"198.18.1.1","requests":2,"responses":2,)")) << json;
  EXPECT_TRUE(has(json, R"("first_seen":1700000001,"last_seen":1700000100.03,)"
                        R"("counts":"window"},"series":"dns.198.18.1.1.requests_per_s"})"))
      << json;
  std::tie(status, json) = d.query("servers/198.18.1.3", "from=1700000000&to=1700000010");
  EXPECT_EQ(status, 404);
  EXPECT_TRUE(has(json, R"({"error":"no such server in the window: 198.18.1.3"})")) << json;

  std::tie(status, json) = d.query("top_names", "from=1700000050&to=1700000150");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"("total":1,)")) << json;
  EXPECT_TRUE(has(json, R"("items":[{"name":"b.example","queries":3,"first_seen":1700000100,)"
                        R"("last_seen":1700000102,"counts":"window"}])"))
      << json;
  std::tie(status, json) = d.query("top_names", "from=1700000150&sort=name&order=asc");
  EXPECT_TRUE(has(json, R"("total":2,)")) << json;
  EXPECT_TRUE(has(json, R"({"name":"c.example","queries":1,)")) << json;
  EXPECT_TRUE(has(json, R"({"name":"d.example","queries":1,)")) << json;
  std::tie(status, json) = d.query("top_names", "sort=name&order=asc&size=1");
  EXPECT_TRUE(has(json, R"("items":[{"name":"a.example","queries":2,"first_seen":1700000001,)"
                        R"("last_seen":1700000002,"counts":"since_start"}])"))
      << json;
}

TEST(DnsPlugin, WindowsTheLogNoLongerCoversKeepTheServersActiveInThem) {
  FakeHost host;
  Driver d(host);
  Flow f;
  // 4200 transactions, one per ms: the worker's log keeps the newest 4096.
  constexpr uint16_t kCount = 4200;
  std::vector<BuiltPacket> pkts;
  pkts.reserve(2 * kCount);
  for (uint16_t i = 0; i < kCount; ++i) {
    std::string name = i % 2 ? "odd.example" : "even.example";
    pkts.push_back(udp(f, true, test::query_msg(i, name, test::kA), kT0 + i * kMs));
    pkts.push_back(
        udp(f, false, test::response_msg(i, name, test::kA, 0), kT0 + i * kMs + 100'000));
  }
  std::vector<wm_packet> views;
  for (auto& p : pkts) views.push_back(p.view);
  d.batch(views);
  {
    auto lock = d.worker().lock();
    EXPECT_EQ(d.worker().log_complete_from_ns(), kT0 + (kCount - 4096 - 1) * kMs + 1);
  }

  // From T+50 ms the log lost transactions: the server's totals, as it was active then.
  auto [status, json] = d.query("servers", "from=1700000000.05&to=1700000001");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, R"({"server":"198.18.1.53","requests":4200,"responses":4200,)")) << json;
  EXPECT_TRUE(has(json, R"("counts":"since_start"})")) << json;
  std::tie(status, json) = d.query("top_names", "from=1700000000.05&sort=name&order=asc");
  EXPECT_TRUE(has(json, R"({"name":"even.example","queries":2100,)")) << json;
  EXPECT_TRUE(has(json, R"("counts":"since_start"})")) << json;
  // From T+0.5 s it holds them all: 3700 transactions, 1850 of each name.
  std::tie(status, json) = d.query("servers", "from=1700000000.5");
  EXPECT_TRUE(has(json, R"({"server":"198.18.1.53","requests":3700,"responses":3700,)")) << json;
  EXPECT_TRUE(has(json, R"("rtt_ms":{"min":0.1,"avg":0.1,"max":0.1},)")) << json;
  EXPECT_TRUE(has(json, R"("first_seen":1.7e+09,"last_seen":1700000004.1991,"counts":"window"})"))
      << json;
  std::tie(status, json) = d.query("top_names", "from=1700000000.5&sort=name&order=asc");
  EXPECT_TRUE(has(json, R"({"name":"even.example","queries":1850,"first_seen":1.7e+09,)")) << json;
  EXPECT_TRUE(has(json, R"({"name":"odd.example","queries":1850,)")) << json;
  EXPECT_TRUE(has(json, R"("counts":"window"})")) << json;
}

TEST(DnsPlugin, RecordsSeriesOnTick) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  h.tick(1'000'000'000);
  std::vector<Flow> flows(10);
  std::vector<BuiltPacket> pkts;
  for (size_t i = 0; i < flows.size(); ++i) {
    flows[i].info.id = i + 1;
    pkts.push_back(udp(flows[i], true, test::query_msg(1, "t.example", test::kA), kT0));
    if (i < 2) {
      pkts.push_back(udp(flows[i], false, test::response_msg(1, "t.example", test::kA, 0),
                         kT0 + (i + 1) * 2 * kMs));
    }
  }
  std::vector<wm_packet> views;
  for (auto& p : pkts) views.push_back(p.view);
  h.batch(0, views);
  h.tick(3'000'000'000);  // 10 queries in 2 s; responses after 2 and 4 ms
  ASSERT_EQ(host.series["queries_per_s"].size(), 1u);
  EXPECT_DOUBLE_EQ(host.series["queries_per_s"].back(), 5);
  EXPECT_DOUBLE_EQ(host.series["response_ms_avg"].back(), 3);
  h.tick(4'000'000'000);
  EXPECT_DOUBLE_EQ(host.series["queries_per_s"].back(), 0);
  EXPECT_DOUBLE_EQ(host.series["response_ms_avg"].back(), 0);
  EXPECT_TRUE(has(h.json(), R"("queries_per_s":0,)"));
}

TEST(DnsPlugin, PerServerMetricsAreTheTop20AndOther) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  std::vector<Flow> flows(25);
  std::vector<BuiltPacket> pkts;
  for (size_t i = 0; i < flows.size(); ++i) {
    flows[i].info.id = i + 1;
    std::string server = "198.18.1." + std::to_string(i + 1);
    // Server i gets i + 1 queries, so the five quietest (1..5 queries) make "other".
    for (size_t k = 0; k <= i; ++k) {
      pkts.push_back(udp(flows[i], true,
                         test::query_msg(static_cast<uint16_t>(k), "m.example", test::kA), kT0,
                         "198.18.0.1", server.c_str()));
    }
  }
  std::vector<wm_packet> views;
  for (auto& p : pkts) views.push_back(p.view);
  h.batch(0, views);
  auto s = h.collect();
  size_t series = 0;
  for (auto& x : s) series += x.metric == "wiremeter_dns_server_requests_total";
  EXPECT_EQ(series, 21u);
  EXPECT_EQ(value(s, "wiremeter_dns_server_requests_total", "server", "other"), 15);
  EXPECT_EQ(value(s, "wiremeter_dns_server_requests_total", "server", "198.18.1.25"), 25);
  EXPECT_EQ(value(s, "wiremeter_dns_server_requests_total", "server", "198.18.1.5"), -1);
  for (auto& m : host.metrics) EXPECT_EQ(m.name.rfind("wiremeter_dns_", 0), 0u) << m.name;
}

}  // namespace
}  // namespace wiremeter::dns
