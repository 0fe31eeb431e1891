// http plugin tests: whole conversations as TCP segments (with sequence numbers, as the core
// hands them over), then the report, the views and the metrics.
#include "http_plugin.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::http {
namespace {

using wiremeter::testing::BuiltPacket;
using wiremeter::testing::FakeHost;
using wiremeter::testing::FakeSample;
using wiremeter::testing::kTcpAck;
using wiremeter::testing::kTcpFin;
using wiremeter::testing::kTcpPsh;
using wiremeter::testing::kTcpSyn;
using wiremeter::testing::PacketBuilder;
using wiremeter::testing::PluginHarness;

constexpr uint64_t kMs = 1'000'000;

// One TCP connection between 198.18.0.1:40000 (client) and 198.18.1.1:80 (server), as the core
// would hand it to the plugin. send() advances each side's sequence number; at() builds a segment
// at any offset, for reordering.
class Conn {
 public:
  explicit Conn(PluginHarness& h, bool client_first = true) : h_(h), client_first_(client_first) {}

  void handshake() {
    feed(make(true, client_seq_ - 1, "", kTcpSyn));
    feed(make(false, server_seq_ - 1, "", kTcpSyn | kTcpAck));
  }
  // Sends `data` from one side, in one segment, `ms` milliseconds after the previous packet.
  void send(bool from_client, std::string_view data, uint64_t ms = 0, uint8_t flags = 0) {
    ts_ += ms * kMs;
    uint32_t& seq = from_client ? client_seq_ : server_seq_;
    feed(make(from_client, seq, data, kTcpAck | kTcpPsh | flags));
    seq += static_cast<uint32_t>(data.size());
  }
  // A segment at `offset` bytes past the side's current position, which does not move.
  BuiltPacket at(bool from_client, uint32_t offset, std::string_view data) {
    return make(from_client, (from_client ? client_seq_ : server_seq_) + offset, data,
                kTcpAck | kTcpPsh);
  }
  void skip(bool from_client, uint32_t n) { (from_client ? client_seq_ : server_seq_) += n; }
  void feed(const BuiltPacket& p) { h_.batch(0, {p.view}); }
  void wait(uint64_t ms) { ts_ += ms * kMs; }
  void end() {
    flow_.end_reason = WM_FLOW_IDLE_TIMEOUT;
    h_.flow_end(0, flow_, state_);
  }
  uint64_t ts() const { return ts_; }

 private:
  BuiltPacket make(bool from_client, uint32_t seq, std::string_view data, uint8_t flags) {
    // The flow's initiator (forward direction) is whoever the capture saw first.
    bool forward = from_client == client_first_;
    BuiltPacket p = PacketBuilder()
                        .ipv4(from_client ? "198.18.0.1" : "198.18.1.1",
                              from_client ? "198.18.1.1" : "198.18.0.1")
                        .tcp(from_client ? 40000 : 80, from_client ? 80 : 40000, flags)
                        .seq(seq)
                        .payload(data)
                        .timestamp_ns(ts_)
                        .flow(&flow_, state_, forward ? WM_DIR_FORWARD : WM_DIR_REVERSE)
                        .build();
    return p;
  }

  PluginHarness& h_;
  bool client_first_;
  wm_flow_info flow_{};
  alignas(16) uint8_t state_[128] = {};
  uint32_t client_seq_ = 1001, server_seq_ = 7001;
  uint64_t ts_ = 1'700'000'000'000'000'000ull;
};

bool has(const std::string& json, const std::string& needle) {
  return json.find(needle) != std::string::npos;
}

// The transactions array of the report, one JSON object per element.
std::vector<std::string> transactions(PluginHarness& h) {
  std::string j = h.json();
  size_t start = j.find("\"transactions\":[");
  EXPECT_NE(start, std::string::npos);
  std::vector<std::string> out;
  size_t pos = start + 16;
  while (pos < j.size() && j[pos] == '{') {
    int depth = 0;
    size_t end = pos;
    for (; end < j.size(); ++end) {
      if (j[end] == '{') ++depth;
      if (j[end] == '}' && --depth == 0) break;
    }
    out.push_back(j.substr(pos, end - pos + 1));
    pos = end + 1;
    if (pos < j.size() && j[pos] == ',') ++pos;
  }
  return out;
}

const FakeSample* find(const std::vector<FakeSample>& samples, const std::string& metric,
                       const std::string& label = "", const std::string& value = "") {
  for (auto& s : samples) {
    if (s.metric != metric) continue;
    if (label.empty()) return &s;
    auto it = s.labels.find(label);
    if (it != s.labels.end() && it->second == value) return &s;
  }
  return nullptr;
}

TEST(HttpPlugin, FlowStateIsSmall) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  EXPECT_EQ(h.flow_state_size(), sizeof(FlowState));
  EXPECT_LE(sizeof(FlowState), 48u);
}

TEST(HttpPlugin, PairsPipelinedAndKeepAliveTransactionsInOrder) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h);
  c.handshake();
  // Two pipelined requests in one segment.
  c.send(true,
         "GET /a HTTP/1.1\r\nHost: Example.org\r\nUser-Agent: test/1\r\n\r\n"
         "GET /b HTTP/1.1\r\nHost: example.org\r\n\r\n",
         1);
  // Both responses begin in one segment 10 ms later; the second body runs over two more.
  c.send(false,
         "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
         "HTTP/1.1 404 Not Found\r\nContent-Length: 3000\r\n\r\n" +
             std::string(1000, 'x'),
         10);
  c.send(false, std::string(1500, 'y'), 1);
  c.send(false, std::string(500, 'z'), 1);
  // Keep-alive: HEAD (no body despite Content-Length), then a conditional GET.
  c.send(true, "HEAD /c HTTP/1.1\r\nHost: example.org\r\n\r\n", 5);
  c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 20);
  c.send(true, "GET /d HTTP/1.1\r\nHost: example.org\r\n\r\n", 5);
  c.send(false, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", 2);

  auto tx = transactions(h);
  ASSERT_EQ(tx.size(), 4u) << h.json();
  EXPECT_TRUE(has(tx[0],
                  "\"trans_depth\":1,\"method\":\"GET\",\"host\":\"Example.org\","
                  "\"uri\":\"/a\",\"version\":\"1.1\",\"user_agent\":\"test/1\""))
      << tx[0];
  EXPECT_TRUE(has(tx[0], "\"status_code\":200,\"status_msg\":\"OK\"")) << tx[0];
  EXPECT_TRUE(has(tx[0], "\"response_body_len\":5,\"response_ms\":10")) << tx[0];
  EXPECT_TRUE(has(tx[1], "\"trans_depth\":2")) << tx[1];
  EXPECT_TRUE(has(tx[1], "\"status_code\":404,\"status_msg\":\"Not Found\"")) << tx[1];
  EXPECT_TRUE(has(tx[1], "\"response_body_len\":3000,\"response_ms\":10")) << tx[1];
  EXPECT_TRUE(has(tx[2], "\"trans_depth\":3,\"method\":\"HEAD\"")) << tx[2];
  EXPECT_TRUE(has(tx[2], "\"response_body_len\":0,\"response_ms\":20")) << tx[2];
  EXPECT_TRUE(has(tx[3], "\"uri\":\"/d\"")) << tx[3];
  EXPECT_TRUE(has(tx[3], "\"status_code\":304")) << tx[3];

  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"flows\":1,\"requests\":4,\"responses\":4,")) << j;
  EXPECT_TRUE(has(j, "\"unanswered\":0,\"orphan_responses\":0")) << j;
  // Every header block arrived whole and in order: the window pool was never needed.
  EXPECT_TRUE(has(j, "\"in_use\":0,\"taken\":0")) << j;
  EXPECT_TRUE(has(j, "\"status_codes\":{\"200\":2,\"304\":1,\"404\":1}")) << j;
  // Host names are one row whatever their case.
  EXPECT_TRUE(has(j,
                  "\"hosts\":[{\"host\":\"example.org\",\"requests\":4,\"responses\":4,"
                  "\"errors\":1"))
      << j;
}

TEST(HttpPlugin, ReassemblesHeaderBlocksSplitAndOutOfOrder) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h);
  c.handshake();
  std::string req = "GET /split/path HTTP/1.1\r\nHost: split.example\r\nAccept: */*\r\n\r\n";
  // Three pieces: the last first, then the middle, then the first.
  c.feed(c.at(true, 30, req.substr(30)));
  c.feed(c.at(true, 10, req.substr(10, 20)));
  EXPECT_TRUE(transactions(h).empty());
  c.feed(c.at(true, 0, req.substr(0, 12)));  // overlaps the middle piece
  c.skip(true, static_cast<uint32_t>(req.size()));
  // The response's status line and headers in two segments, the body in the second.
  c.send(false, "HTTP/1.1 200 OK\r\nContent-Le", 7);
  c.send(false, "ngth: 4\r\n\r\nbody", 1);
  c.send(true, "GET /next HTTP/1.1\r\nHost: split.example\r\n\r\n", 1);
  c.send(false, "HTTP/1.1 204 No Content\r\n\r\n", 1);

  auto tx = transactions(h);
  ASSERT_EQ(tx.size(), 2u) << h.json();
  EXPECT_TRUE(has(tx[0], "\"uri\":\"/split/path\"")) << tx[0];
  EXPECT_TRUE(has(tx[0], "\"status_code\":200")) << tx[0];
  EXPECT_TRUE(has(tx[0], "\"response_body_len\":4,\"response_ms\":7")) << tx[0];
  EXPECT_TRUE(has(tx[1], "\"uri\":\"/next\"")) << tx[1];
  EXPECT_TRUE(has(tx[1], "\"status_code\":204")) << tx[1];
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"in_use\":0,\"taken\":2")) << j;  // slots given back once complete
}

TEST(HttpPlugin, TheWindowMovesToTheNextMessageAndKeepsWhatArrivedEarly) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h);
  c.handshake();
  // Two pipelined requests in three segments: the second request's start shares a segment with
  // the first's end, and its rest arrives before that segment. After the first request the
  // window moves on to the second, which is then complete.
  std::string a = "GET /one HTTP/1.1\r\nHost: keep.example\r\n\r\n";
  std::string b = "GET /two HTTP/1.1\r\nHost: keep.example\r\n\r\n";
  std::string stream = a + b;
  uint32_t cut1 = 20, cut2 = static_cast<uint32_t>(a.size()) + 10;
  c.feed(c.at(true, 0, stream.substr(0, cut1)));
  c.feed(c.at(true, cut2, stream.substr(cut2)));  // early: held past the hole
  EXPECT_TRUE(transactions(h).empty());
  c.feed(c.at(true, cut1, stream.substr(cut1, cut2 - cut1)));
  c.skip(true, static_cast<uint32_t>(stream.size()));
  // The responses: the first's body and the second's header block share a segment.
  c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", 2);
  c.send(false, "abcHTTP/1.1 404 Not Found\r\nContent-", 1);
  c.send(false, "Length: 0\r\n\r\n", 1);

  auto tx = transactions(h);
  ASSERT_EQ(tx.size(), 2u) << h.json();
  EXPECT_TRUE(has(tx[0], "\"uri\":\"/one\"")) << tx[0];
  EXPECT_TRUE(has(tx[0], "\"status_code\":200")) << tx[0];
  EXPECT_TRUE(has(tx[0], "\"response_body_len\":3")) << tx[0];
  EXPECT_TRUE(has(tx[1], "\"trans_depth\":2")) << tx[1];
  EXPECT_TRUE(has(tx[1], "\"uri\":\"/two\"")) << tx[1];
  EXPECT_TRUE(has(tx[1], "\"status_code\":404")) << tx[1];
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"in_use\":0,\"taken\":2,\"exhausted\":0,\"truncated\":0")) << j;
}

TEST(HttpPlugin, FollowsChunkedBodiesToTheNextMessage) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h);
  c.handshake();
  c.send(true, "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 1);
  c.send(true, "cde\r\n3;ext=1\r\nxyz\r\n0\r\n\r\n", 1);
  c.send(false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1", 4);
  c.send(false, "0\r\n" + std::string(16, 'a') + "\r\n", 1);
  c.send(false, "4\r\nbbbb\r\n0\r\nX-Trailer: 1\r\n\r\n", 1);
  c.send(true, "GET /after HTTP/1.1\r\nHost: h\r\n\r\n", 1);
  c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1);

  auto tx = transactions(h);
  ASSERT_EQ(tx.size(), 2u) << h.json();
  EXPECT_TRUE(has(tx[0], "\"request_body_len\":8,\"response_body_len\":20")) << tx[0];
  EXPECT_TRUE(has(tx[1], "\"uri\":\"/after\"")) << tx[1];
  EXPECT_TRUE(has(tx[1], "\"request_body_len\":0,\"response_body_len\":2")) << tx[1];
  EXPECT_TRUE(has(h.json(), "\"bad_chunk\":0")) << h.json();
}

TEST(HttpPlugin, InformationalResponsesAndResponseTimeFromTheEndOfTheBody) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h);
  c.handshake();
  c.send(true, "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
         1);
  c.send(false, "HTTP/1.1 100 Continue\r\n\r\n", 3);
  c.send(true, "0123456789", 2);  // the request ends here
  c.send(false, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 30);

  auto tx = transactions(h);
  ASSERT_EQ(tx.size(), 1u) << h.json();
  EXPECT_TRUE(has(tx[0], "\"status_code\":201,\"status_msg\":\"Created\"")) << tx[0];
  EXPECT_TRUE(has(tx[0], "\"info_code\":100,\"info_msg\":\"Continue\"")) << tx[0];
  EXPECT_TRUE(has(tx[0], "\"request_body_len\":10,\"response_body_len\":0,\"response_ms\":30"))
      << tx[0];
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"requests\":1,\"responses\":2,\"informational\":1")) << j;
}

TEST(HttpPlugin, ACaptureThatBeginsWithAResponseHasTheRolesRight) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h, /*client_first=*/false);  // no handshake: the server's segment comes first
  c.send(false, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 3\r\n\r\n<a>");
  c.send(true, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 5);
  c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
  auto tx = transactions(h);
  ASSERT_EQ(tx.size(), 2u) << h.json();
  EXPECT_TRUE(has(tx[0],
                  "\"client\":\"198.18.0.1\",\"client_port\":40000,\"server\":"
                  "\"198.18.1.1\",\"server_port\":80,\"trans_depth\":null,\"method\":null"))
      << tx[0];
  EXPECT_TRUE(has(tx[0],
                  "\"content_type\":\"text/xml\",\"request_body_len\":0,"
                  "\"response_body_len\":3,\"response_ms\":null"))
      << tx[0];
  EXPECT_TRUE(has(tx[1], "\"trans_depth\":1,\"method\":\"GET\"")) << tx[1];
  EXPECT_TRUE(has(h.json(), "\"orphan_responses\":1")) << h.json();
}

TEST(HttpPlugin, OtherProtocolsAreNotHttpWhateverTheyCarryLater) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h);
  c.handshake();
  c.send(true, std::string("\x16\x03\x01\x00\x05hello", 10));
  c.send(true, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  c.send(false, "HTTP/1.1 200 OK\r\n\r\n");
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"flows\":0,\"requests\":0,\"responses\":0")) << j;
}

TEST(HttpPlugin, MalformedMessagesAreCountedAndTheDirectionResynchronizes) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h);
  c.handshake();
  c.send(true, "GET / HTTP/1.1\r\nthis line has no colon\r\n\r\n");
  c.send(true, "junk that is not a message\r\n\r\n");
  c.send(true, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
  c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1);
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"bad_header\":1")) << j;
  EXPECT_TRUE(has(j, "\"lost\":1,\"resyncs\":1")) << j;
  auto tx = transactions(h);
  ASSERT_EQ(tx.size(), 1u) << j;
  EXPECT_TRUE(has(tx[0], "\"uri\":\"/ok\"")) << tx[0];
}

TEST(HttpPlugin, HeaderBlocksLongerThanTheWindowAreMalformed) {
  FakeHost host;
  host.config = R"({"window_bytes": 1024})";
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c(h);
  c.handshake();
  c.send(true, "GET / HTTP/1.1\r\nCookie: " + std::string(700, 'c'));
  c.send(true, std::string(700, 'c'));
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"header_too_long\":1")) << j;
  EXPECT_TRUE(has(j, "\"in_use\":0")) << j;
  EXPECT_TRUE(has(j, "\"truncated\":1")) << j;  // the second segment went past the window
}

TEST(HttpPlugin, BodiesUntilCloseAndUnansweredRequestsEndWithTheFlow) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  {
    Conn c(h);
    c.handshake();
    c.send(true, "GET /old HTTP/1.0\r\n\r\n");
    c.send(false, "HTTP/1.0 200 OK\r\n\r\nfirst", 4);
    c.send(false, std::string(100, 'b'));
    c.send(false, "last", 0, kTcpFin);
    auto tx = transactions(h);
    ASSERT_EQ(tx.size(), 1u) << h.json();
    EXPECT_TRUE(has(tx[0], "\"response_body_len\":109")) << tx[0];
    c.end();
  }
  {
    Conn c(h);
    c.handshake();
    c.send(true, "GET /never HTTP/1.1\r\nHost: h\r\n\r\n");
    c.end();
  }
  auto tx = transactions(h);
  ASSERT_EQ(tx.size(), 2u) << h.json();
  EXPECT_TRUE(has(tx[1], "\"uri\":\"/never\"")) << tx[1];
  EXPECT_TRUE(has(tx[1], "\"status_code\":null")) << tx[1];
  EXPECT_TRUE(has(h.json(), "\"unanswered\":1")) << h.json();
}

// Three hosts on one server, for the views.
void three_hosts(PluginHarness& h) {
  Conn c(h);
  c.handshake();
  c.send(true, "GET /1 HTTP/1.1\r\nHost: a.example\r\n\r\n");
  c.send(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
  c.send(true, "POST /2 HTTP/1.1\r\nHost: b.example\r\nContent-Length: 0\r\n\r\n");
  c.send(false, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", 200);
  c.send(true, "GET /3 HTTP/1.1\r\nHost: b.example\r\n\r\n");
  c.send(false, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 30);
}

TEST(HttpPlugin, ListViewsFilterSortAndPage) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  three_hosts(h);

  auto [st, servers] = h.query("servers", "sort=requests&order=desc");
  EXPECT_EQ(st, 200);
  EXPECT_TRUE(has(servers, "\"total\":2")) << servers;
  EXPECT_TRUE(has(servers,
                  "\"items\":[{\"server\":\"198.18.1.1:80\",\"host\":\"b.example\","
                  "\"requests\":2,\"responses\":2,\"errors\":2,\"methods\":{\"GET\":1,"
                  "\"POST\":1}"))
      << servers;

  auto [st2, hosts] = h.query("hosts", "filter=A.EX");
  EXPECT_EQ(st2, 200);
  EXPECT_TRUE(has(hosts, "\"total\":1")) << hosts;
  EXPECT_TRUE(has(hosts, "\"host\":\"a.example\"")) << hosts;

  auto [st3, tx] = h.query("transactions", "status=5xx");
  EXPECT_EQ(st3, 200);
  EXPECT_TRUE(has(tx, "\"total\":1")) << tx;
  EXPECT_TRUE(has(tx, "\"uri\":\"/2\"")) << tx;
  EXPECT_TRUE(has(h.query("transactions", "method=get&host=b.example").second, "\"total\":1"));
  EXPECT_TRUE(has(h.query("transactions", "status=404").second, "\"uri\":\"/3\""));
  EXPECT_TRUE(
      has(h.query("transactions", "sort=rt&order=desc&size=1").second, "\"response_ms\":200"));
  EXPECT_TRUE(has(h.query("transactions", "from=1&to=2").second, "\"total\":0"));
  EXPECT_EQ(h.query("transactions", "status=abc").first, 400);
  EXPECT_EQ(h.query("transactions", "colour=red").first, 400);
  EXPECT_EQ(h.query("nothing").first, 404);
}

TEST(HttpPlugin, ServerDetailMergesItsHostsWithHistogram) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  three_hosts(h);
  auto [st, d] = h.query("servers/198.18.1.1:80");
  EXPECT_EQ(st, 200) << d;
  EXPECT_TRUE(has(d,
                  "{\"server\":\"198.18.1.1:80\",\"series\":\"http.198.18.1.1:80.requests_per_s\","
                  "\"requests\":3,\"responses\":3,\"errors\":2"))
      << d;
  // Looking at the server graphs its requests per second from then on.
  h.tick(1'000'000'000);
  h.tick(2'000'000'000);
  ASSERT_EQ(host.series.count("198.18.1.1:80.requests_per_s"), 1u);
  EXPECT_EQ(host.series["198.18.1.1:80.requests_per_s"], std::vector<double>{0.0});
  EXPECT_TRUE(has(d, "\"status_codes\":{\"200\":1,\"404\":1,\"500\":1}")) << d;
  EXPECT_TRUE(has(d, "\"response_ms\":{\"min\":2,\"avg\":77.33333333333333,\"max\":200}")) << d;
  EXPECT_TRUE(has(d, "{\"le_ms\":2.5,\"count\":1}")) << d;
  EXPECT_TRUE(has(d, "\"hosts\":[{\"host\":\"b.example\"")) << d;
  EXPECT_EQ(h.query("servers/198.18.9.9:80").first, 404);
  EXPECT_EQ(h.query("servers/198.18.1.1").first, 400);
}

TEST(HttpPlugin, MetricsHaveBoundedLabels) {
  FakeHost host;
  host.config = R"({"metrics_top": 1})";
  PluginHarness h(wiremeter_plugin_register(), host);
  three_hosts(h);
  auto samples = h.collect();
  ASSERT_NE(find(samples, "wiremeter_http_requests_total", "method", "GET"), nullptr);
  EXPECT_EQ(find(samples, "wiremeter_http_requests_total", "method", "GET")->value, 2);
  EXPECT_EQ(find(samples, "wiremeter_http_requests_total", "method", "POST")->value, 1);
  EXPECT_EQ(find(samples, "wiremeter_http_responses_total", "code_class", "5xx")->value, 1);
  EXPECT_EQ(find(samples, "wiremeter_http_responses_total", "code_class", "2xx")->value, 1);
  const FakeSample* rt = find(samples, "wiremeter_http_response_seconds");
  ASSERT_NE(rt, nullptr);
  EXPECT_EQ(rt->counts.back(), 3u);
  EXPECT_EQ(rt->counts[0], 0u);  // <= 1 ms
  EXPECT_EQ(rt->counts[1], 1u);  // <= 2.5 ms
  EXPECT_DOUBLE_EQ(rt->sum, 0.232);
  // One host by name (the busiest), the other as "other".
  EXPECT_EQ(find(samples, "wiremeter_http_host_requests_total", "host", "b.example")->value, 2);
  EXPECT_EQ(find(samples, "wiremeter_http_host_requests_total", "host", "other")->value, 1);
  EXPECT_EQ(find(samples, "wiremeter_http_host_requests_total", "host", "a.example"), nullptr);
}

TEST(HttpPlugin, RefusesBadSettings) {
  FakeHost host;
  host.config = R"({"servers": 0})";
  EXPECT_THROW(PluginHarness(wiremeter_plugin_register(), host), std::runtime_error);
  host.config = R"({"sevrers": 10})";
  EXPECT_THROW(PluginHarness(wiremeter_plugin_register(), host), std::runtime_error);
}

}  // namespace
}  // namespace wiremeter::http
