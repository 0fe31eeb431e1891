// connections: the plugin through its C descriptor, as the host drives it — flow records at flow
// end, the JSON report, metrics, active-flow snapshots from worker_tick, and the REST views
// (paging, sorting, filtering, 400s).
#include "connections.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <stdexcept>
#include <thread>
#include <wiremeter/testing/fake_host.hpp>

#include "flow_fixture.hpp"

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::connections::testing {
namespace {

using wiremeter::testing::FakeHost;
using wiremeter::testing::FakeSample;
using wiremeter::testing::PluginHarness;

// PluginHarness has no way to call worker_tick or query (nor to reach the worker contexts), so
// this drives the descriptor directly, the same way. Metrics go through PluginHarness.
class Harness {
 public:
  explicit Harness(uint32_t n_workers = 1) : desc_(wiremeter_plugin_register()) {
    char err[256] = {};
    ctx_ = desc_->create(host.api(), err, sizeof err);
    if (!ctx_) throw std::runtime_error(err);
    for (uint32_t w = 0; w < n_workers; ++w) {
      wm_worker_info info{sizeof(wm_worker_info), w, n_workers, 0, 0};
      workers_.push_back(desc_->analyzer->worker_init(ctx_, &info));
    }
  }
  ~Harness() {
    for (void* w : workers_) desc_->analyzer->worker_fini(w);
    desc_->destroy(ctx_);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  uint32_t flow_state_size() const { return desc_->analyzer->flow_state_size; }

  void batch(uint32_t worker, const std::vector<wm_packet>& views) {
    desc_->analyzer->on_batch(workers_.at(worker), views.data(),
                              static_cast<uint32_t>(views.size()));
  }
  void end(uint32_t worker, FakeFlow& f, uint8_t reason = WM_FLOW_IDLE_TIMEOUT) {
    f.info.end_reason = reason;
    f.info.worker = static_cast<uint8_t>(worker);
    desc_->analyzer->on_flow_end(workers_.at(worker), &f.info, f.state);
  }

  // The query hook, with the workers ticking on a thread of their own as they would on their
  // lcores (or not: then snapshots go stale).
  std::pair<int, std::string> query(const std::string& path, const std::string& qs = "",
                                    bool ticking = true) {
    std::atomic<bool> stop{false};
    std::thread ticker;
    if (ticking) {
      ticker = std::thread([&] {
        while (!stop.load()) {
          for (void* w : workers_) desc_->analyzer->worker_tick(w, 0);
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      });
    }
    std::string out;
    wm_json_sink sink{
        &out, [](void* p, const char* d, size_t n) { static_cast<std::string*>(p)->append(d, n); }};
    int status =
        desc_->analyzer->query(ctx_, workers_.data(), static_cast<uint32_t>(workers_.size()),
                               path.c_str(), qs.c_str(), &sink);
    stop.store(true);
    if (ticker.joinable()) ticker.join();
    return {status, out};
  }

  void tick(uint64_t now_ns) {
    desc_->analyzer->on_tick(ctx_, workers_.data(), static_cast<uint32_t>(workers_.size()), now_ns);
  }

  std::string json() {
    std::string out;
    wm_json_sink sink{
        &out, [](void* p, const char* d, size_t n) { static_cast<std::string*>(p)->append(d, n); }};
    desc_->analyzer->write_json(ctx_, workers_.data(), static_cast<uint32_t>(workers_.size()),
                                &sink);
    return out;
  }

  FakeHost host;

 private:
  const wm_plugin_descriptor* desc_;
  void* ctx_ = nullptr;
  std::vector<void*> workers_;
};

const FakeSample* find(const std::vector<FakeSample>& samples, const std::string& metric,
                       const std::string& proto = "") {
  for (const auto& s : samples) {
    if (s.metric != metric) continue;
    if (!proto.empty() && (!s.labels.count("proto") || s.labels.at("proto") != proto)) continue;
    return &s;
  }
  return nullptr;
}

bool has(const std::string& json, const std::string& part) {
  return json.find(part) != std::string::npos;
}

// The "flow" ids of a list response, in order.
std::vector<std::string> flow_ids(const std::string& json) {
  std::vector<std::string> ids;
  std::regex re("\\{\"flow\":\"([0-9]+:[0-9]+)\"");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), re); it != std::sregex_iterator();
       ++it) {
    ids.push_back((*it)[1]);
  }
  return ids;
}

std::vector<wm_packet> views(const std::vector<BuiltPacket>& packets) {
  std::vector<wm_packet> out;
  for (const BuiltPacket& p : packets) out.push_back(p.view);
  return out;
}

// A TCP connection with handshake (3 ms + `ack_ms`), data both ways, one server retransmission
// and FINs. Client ISN 1000, server ISN 5000. The packets must outlive their views.
std::vector<BuiltPacket> connection(FakeFlow& f, uint64_t t0, uint64_t ack_ms = 1,
                                    size_t response = 1000) {
  std::vector<BuiltPacket> p;
  p.push_back(f.tcp(kFwd, kTcpSyn, 1000, 0, 0, t0));
  p.push_back(f.tcp(kRev, kTcpSyn | kTcpAck, 5000, 1001, 0, t0 + 3 * kMs));
  p.push_back(f.tcp(kFwd, kTcpAck, 1001, 5001, 0, t0 + (3 + ack_ms) * kMs));
  p.push_back(f.tcp(kFwd, kTcpAck | kTcpPsh, 1001, 5001, 100, t0 + 10 * kMs));
  p.push_back(f.tcp(kRev, kTcpAck | kTcpPsh, 5001, 1101, response, t0 + 20 * kMs));
  p.push_back(f.tcp(kRev, kTcpAck | kTcpPsh, 5001, 1101, response, t0 + 320 * kMs));
  p.push_back(f.tcp(kFwd, kTcpAck | kTcpFin, 1101, 5001 + response, 0, t0 + 330 * kMs));
  p.push_back(f.tcp(kRev, kTcpAck | kTcpFin, 5001 + response, 1102, 0, t0 + 340 * kMs));
  return p;
}

void run_connection(Harness& h, uint32_t worker, FakeFlow& f, uint64_t t0, uint64_t ack_ms = 1) {
  auto packets = connection(f, t0, ack_ms);
  h.batch(worker, views(packets));
}

TEST(Connections, FlowStateIsSmall) {
  Harness h;
  EXPECT_EQ(h.flow_state_size(), sizeof(FlowState));
  EXPECT_LE(h.flow_state_size(), 120u);
}

TEST(Connections, EndedFlowIsRecordedWithItsTcpAnalysis) {
  Harness h;
  FakeFlow f("198.18.0.1", 40000, "198.18.0.2", 443, /*id=*/7);
  run_connection(h, 0, f, kT0);
  EXPECT_TRUE(has(h.json(), "\"flows\":[]")) << h.json();  // still active
  EXPECT_TRUE(has(h.json(), "\"active\":1"));
  // The dpi module names flows through the host's shared labels.
  f.info.app_label = h.host.api()->label_id(h.host.api()->host, "TLS");
  h.end(0, f);

  std::string json = h.json();
  EXPECT_TRUE(has(json,
                  "{\"flow\":\"0:7\",\"proto\":6,\"ip_version\":4,"
                  "\"client\":\"198.18.0.1\",\"client_port\":40000,"
                  "\"server\":\"198.18.0.2\",\"server_port\":443,\"vlan\":0,"
                  "\"app\":\"TLS\",\"start\":"))
      << json;
  EXPECT_TRUE(has(json, "\"duration\":0.34,")) << json;
  // Frames: 60-byte minimum for the empty segments, 54 + payload for the others.
  EXPECT_TRUE(has(json, "\"packets\":[4,4],\"bytes\":[334,2228]")) << json;
  EXPECT_TRUE(has(json,
                  "\"tcp\":{\"state\":\"closed\",\"history\":\"ShADdtFf\","
                  "\"rtt_syn_synack_ms\":3,\"rtt_synack_ack_ms\":1,\"handshake_ms\":4,"
                  "\"retransmitted_packets\":1,\"retransmitted_bytes\":1000,"
                  "\"out_of_order\":0,\"zero_window\":0,\"resets\":0},"
                  "\"end\":\"idle_timeout\"}"))
      << json;
  EXPECT_TRUE(has(json,
                  "\"servers\":[{\"server\":\"198.18.0.2\",\"port\":443,\"proto\":6,"
                  "\"flows\":1,\"packets\":8,\"bytes\":2562,"))
      << json;
  EXPECT_TRUE(has(json,
                  "\"handshake_ms\":{\"count\":1,\"min\":4,\"avg\":4,\"max\":4},"
                  "\"retransmitted_packets\":1,\"retransmission_ratio\":0.125,"))
      << json;
  EXPECT_TRUE(has(json, "\"active\":0,\"ended\":1,\"dropped\":0")) << json;
}

TEST(Connections, Metrics) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  FakeFlow f("198.18.0.1", 40000, "198.18.0.2", 443);
  auto packets = connection(f, kT0);
  h.batch(0, views(packets));
  FakeFlow u("198.18.0.1", 5353, "198.18.0.3", 53, 2, 17);
  auto q = u.udp(kFwd, 30, kT0);
  auto rst = f.tcp(kRev, kTcpRst, 6002, 0, 0, kT0 + 400 * kMs);
  h.batch(0, {q.view, rst.view});

  auto s = h.collect();
  ASSERT_NE(find(s, "wiremeter_connections_active"), nullptr);
  EXPECT_EQ(find(s, "wiremeter_connections_active")->value, 2);
  EXPECT_EQ(find(s, "wiremeter_connections_total", "tcp")->value, 1);
  EXPECT_EQ(find(s, "wiremeter_connections_total", "udp")->value, 1);
  EXPECT_EQ(find(s, "wiremeter_connections_total", "icmp")->value, 0);
  EXPECT_EQ(find(s, "wiremeter_connections_tcp_retransmitted_packets_total")->value, 1);
  EXPECT_EQ(find(s, "wiremeter_connections_tcp_resets_total")->value, 1);
  const FakeSample* rtt = find(s, "wiremeter_connections_tcp_handshake_seconds");
  ASSERT_NE(rtt, nullptr);
  ASSERT_EQ(rtt->counts.size(), kRttBounds.size() + 1);
  EXPECT_EQ(rtt->counts[2], 0u);  // not <= 2.5 ms
  EXPECT_EQ(rtt->counts[3], 1u);  // <= 5 ms
  EXPECT_EQ(rtt->counts.back(), 1u);
  EXPECT_DOUBLE_EQ(rtt->sum, 0.004);

  h.flow_end(0, f.info, f.state);
  h.flow_end(0, u.info, u.state);
  s = h.collect();
  EXPECT_EQ(find(s, "wiremeter_connections_active")->value, 0);
  EXPECT_EQ(find(s, "wiremeter_connections_records_dropped_total")->value, 0);
  ASSERT_NE(find(s, "wiremeter_connections_server_meter_evictions_total"), nullptr);
  EXPECT_EQ(find(s, "wiremeter_connections_server_meter_evictions_total")->value, 0);
  ASSERT_NE(find(s, "wiremeter_connections_server_meter_overflow_total"), nullptr);
  EXPECT_EQ(find(s, "wiremeter_connections_server_meter_overflow_total")->value, 0);
  for (const auto& m : host.metrics) {
    EXPECT_EQ(m.name.rfind("wiremeter_connections_", 0), 0u) << m.name;
  }
}

TEST(Connections, ServerSpeakingFirstIsReportedAsTheServer) {
  Harness h;
  // The capture starts mid-connection with the server's data: the server is the initiator.
  FakeFlow f("198.18.0.2", 443, "198.18.0.1", 40000, 3);
  auto data = f.tcp(kFwd, kTcpAck | kTcpPsh, 9000, 100, 500, kT0);
  auto ack = f.tcp(kRev, kTcpAck, 100, 9500, 0, kT0 + kMs);
  auto ack2 = f.tcp(kRev, kTcpAck, 100, 9500, 0, kT0 + 2 * kMs);
  h.batch(0, {data.view, ack.view, ack2.view});
  h.end(0, f, WM_FLOW_SHUTDOWN);
  std::string json = h.json();
  EXPECT_TRUE(has(json,
                  "\"client\":\"198.18.0.1\",\"client_port\":40000,"
                  "\"server\":\"198.18.0.2\",\"server_port\":443,"))
      << json;
  EXPECT_TRUE(has(json, "\"packets\":[2,1]")) << json;
  EXPECT_TRUE(has(json, "\"state\":\"established\",\"history\":\"dA\",\"rtt_syn_synack_ms\":null"))
      << json;
  EXPECT_TRUE(has(json, "\"end\":\"shutdown\"")) << json;
}

TEST(Connections, NonTcpFlowsHaveNoTcpPart) {
  Harness h;
  FakeFlow f("2001:db8::1", 5353, "2001:db8::53", 53, 4, 17);
  auto q = f.udp(kFwd, 40, kT0);
  auto r = f.udp(kRev, 120, kT0 + 2 * kMs);
  h.batch(0, {q.view, r.view});
  h.end(0, f, WM_FLOW_EVICTED);
  std::string json = h.json();
  EXPECT_TRUE(has(json,
                  "\"proto\":17,\"ip_version\":6,\"client\":\"2001:db8::1\",\"client_port\":"
                  "5353,\"server\":\"2001:db8::53\",\"server_port\":53,"))
      << json;
  EXPECT_TRUE(has(json, "\"tcp\":null,\"end\":\"evicted\"")) << json;
  EXPECT_TRUE(has(json, "\"vlan\":0,\"app\":null,")) << json;
  EXPECT_TRUE(has(json, "\"server\":\"2001:db8::53\",\"port\":53,\"proto\":17,\"flows\":1,"));

  // A DHCP server's unicast offer, its request not captured: the lower well-known port serves.
  FakeFlow offer("198.18.0.1", 67, "198.18.0.2", 68, 5, 17);
  auto o = offer.udp(kFwd, 300, kT0);
  h.batch(0, {o.view});
  h.end(0, offer);
  json = h.json();
  EXPECT_TRUE(has(json,
                  "\"client\":\"198.18.0.2\",\"client_port\":68,"
                  "\"server\":\"198.18.0.1\",\"server_port\":67,"))
      << json;
}

TEST(Connections, AFlowEvictedBeforeItsBatchIsStillRecorded) {
  // Under memory pressure the core may end a flow before on_batch saw any of its packets; its
  // state is then still all zero and on no list.
  Harness h;
  FakeFlow f("198.18.0.1", 1, "198.18.0.2", 2, 9, 17);
  f.info.packets[0] = 1;
  h.end(0, f, WM_FLOW_EVICTED);
  FakeFlow g("198.18.0.1", 3, "198.18.0.2", 4, 10, 17);
  auto p = g.udp(kFwd, 10, kT0);
  h.batch(0, {p.view});
  std::string json = h.json();
  EXPECT_TRUE(has(json, "\"flow\":\"0:9\"")) << json;
  EXPECT_TRUE(has(json, "\"active\":1,\"ended\":1")) << json;
}

TEST(Connections, ActiveFlowsComeFromWorkerSnapshots) {
  Harness h(2);
  FakeFlow a("198.18.0.1", 40000, "198.18.0.2", 443, 1);
  FakeFlow b("198.18.0.1", 40001, "198.18.0.2", 443, 1);  // same id, other worker
  FakeFlow c("198.18.0.1", 40002, "198.18.0.2", 443, 2);
  b.info.worker = 1;
  c.info.worker = 1;
  run_connection(h, 0, a, kT0);
  run_connection(h, 1, b, kT0 + kMs);
  run_connection(h, 1, c, kT0 + 2 * kMs);
  h.end(1, c);

  auto [status, json] = h.query("flows", "state=active&sort=start&order=asc");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, "\"total\":2,")) << json;
  EXPECT_EQ(flow_ids(json), (std::vector<std::string>{"0:1", "1:1"})) << json;
  EXPECT_TRUE(has(json, "\"end\":\"active\"")) << json;
  EXPECT_TRUE(has(json, "\"snapshot\":{\"fresh\":true,\"age_ms\":")) << json;

  std::tie(status, json) = h.query("flows", "state=all&sort=start&order=asc");
  EXPECT_EQ(flow_ids(json), (std::vector<std::string>{"0:1", "1:1", "1:2"})) << json;
  std::tie(status, json) = h.query("flows", "state=ended");
  EXPECT_EQ(flow_ids(json), (std::vector<std::string>{"1:2"})) << json;
  EXPECT_FALSE(has(json, "\"snapshot\"")) << json;  // ended flows need no snapshot
}

TEST(Connections, AStaleSnapshotIsServedAndSaidSo) {
  Harness h;
  FakeFlow a("198.18.0.1", 40000, "198.18.0.2", 443, 1);
  run_connection(h, 0, a, kT0);
  auto started = std::chrono::steady_clock::now();
  auto [status, json] = h.query("flows", "", /*ticking=*/false);
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(json, "\"total\":0,")) << json;  // no snapshot was ever published
  EXPECT_TRUE(has(json, "\"snapshot\":{\"fresh\":false")) << json;
  EXPECT_GE(waited, kSnapshotWait);
  EXPECT_LT(waited, kSnapshotWait * 5);
}

TEST(Connections, FlowListsPageSortAndFilter) {
  Harness h;
  std::vector<std::unique_ptr<FakeFlow>> flows;
  for (uint64_t i = 1; i <= 5; ++i) {
    auto f = std::make_unique<FakeFlow>("198.18.0.1", static_cast<uint16_t>(50000 + i),
                                        "198.18.0.9", 53, i, 17);
    auto p = f->udp(kFwd, 100 * i, kT0 + i * 1000 * kMs);  // bigger and later with i
    auto r = f->udp(kRev, 10, kT0 + i * 1000 * kMs + i * kMs);
    h.batch(0, {p.view, r.view});
    h.end(0, *f);
    flows.push_back(std::move(f));
  }
  auto ids = [&](const std::string& qs) {
    auto [status, json] = h.query("flows", qs);
    EXPECT_EQ(status, 200) << qs << ": " << json;
    return flow_ids(json);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids("state=ended&sort=bytes&order=asc&size=2&page=2"), (V{"0:3", "0:4"}));
  EXPECT_EQ(ids("state=ended&sort=bytes&size=2&page=3"), (V{"0:1"}));
  EXPECT_EQ(ids("state=ended&sort=bytes&size=2&page=4"), V{});
  EXPECT_EQ(ids("state=ended&sort=start&order=desc"), (V{"0:5", "0:4", "0:3", "0:2", "0:1"}));
  EXPECT_EQ(ids("state=ended&sort=duration&order=asc&size=1"), (V{"0:1"}));
  EXPECT_EQ(ids("state=ended&sort=packets&order=asc"), (V{"0:1", "0:2", "0:3", "0:4", "0:5"}));
  EXPECT_EQ(ids("state=ended&filter=50003"), (V{"0:3"}));
  EXPECT_EQ(ids("state=ended&filter=198.18.0.9&sort=start&order=asc&size=1"), (V{"0:1"}));
  double t2 = static_cast<double>(kT0 / kMs + 2000) / 1e3;
  double t4 = static_cast<double>(kT0 / kMs + 4000) / 1e3;
  // Flow 2 lasts 2 ms from t2; flow 4 starts at t4.
  EXPECT_EQ(ids("state=ended&sort=start&order=asc&from=" + std::to_string(t2 + 0.005) +
                "&to=" + std::to_string(t4 + 0.0001)),
            (V{"0:3", "0:4"}));
  auto [status, json] = h.query("flows", "state=ended&size=2");
  EXPECT_TRUE(has(json, "{\"total\":5,\"page\":1,\"size\":2,\"sort\":\"bytes\",\"order\":\"desc\""))
      << json;
}

TEST(Connections, BadParametersAre400) {
  Harness h;
  struct Case {
    std::string path, qs, error;
  };
  for (const Case& c : std::vector<Case>{
           {"flows", "sort=nope", "sort: must be one of"},
           {"flows", "order=up", "order: must be asc or desc"},
           {"flows", "size=0", "size: must be between 1 and 1000"},
           {"flows", "page=x", "page: expected a whole number"},
           {"flows", "colour=red", "colour: unknown parameter"},
           {"flows", "state=gone", "state: must be active, ended or all"},
           {"flows", "from=yesterday", "from: expected unix seconds"},
           {"flows", "from=20&to=10", "from: must not be after to"},
           {"flows/abc", "", "flow: expected <worker>:<id>"},
           {"flows/0:1", "x=1", "x: unknown parameter"},
           {"servers", "state=active", "state: unknown parameter"},
           {"servers", "sort=duration", "sort: must be one of"},
       }) {
    auto [status, json] = h.query(c.path, c.qs, /*ticking=*/false);
    EXPECT_EQ(status, 400) << c.path << "?" << c.qs << ": " << json;
    EXPECT_EQ(json.rfind("{\"error\":\"" + c.error, 0), 0u)
        << c.path << "?" << c.qs << ": " << json;
  }
  auto [status, json] = h.query("nothing", "", false);
  EXPECT_EQ(status, 404) << json;
  std::tie(status, json) = h.query("flows/0:999");
  EXPECT_EQ(status, 404) << json;
  EXPECT_EQ(json, "{\"error\":\"no such flow: 0:999\"}");
}

TEST(Connections, FlowDetail) {
  Harness h;
  FakeFlow ended("198.18.0.1", 40000, "198.18.0.2", 443, 7);
  FakeFlow active("198.18.0.1", 40001, "198.18.0.2", 443, 8);
  run_connection(h, 0, ended, kT0);
  run_connection(h, 0, active, kT0);
  h.end(0, ended);
  auto [status, json] = h.query("flows/0:7");
  EXPECT_EQ(status, 200) << json;
  EXPECT_TRUE(has(json, "{\"flow\":{\"flow\":\"0:7\",")) << json;
  EXPECT_TRUE(has(json, "\"end\":\"idle_timeout\"},\"series\":null}")) << json;
  std::tie(status, json) = h.query("flows/0:8");
  EXPECT_EQ(status, 200) << json;
  EXPECT_TRUE(has(json,
                  "\"end\":\"active\"},\"series\":\"connections.0:8.bps\","
                  "\"snapshot\":{\"fresh\":true"))
      << json;
}

TEST(Connections, TheFlowBeingViewedIsGraphedEverySecond) {
  Harness h;
  FakeFlow viewed("198.18.0.1", 40001, "198.18.0.2", 443, 8);
  FakeFlow other("198.18.0.1", 40002, "198.18.0.2", 443, 9);
  run_connection(h, 0, viewed, kT0);
  run_connection(h, 0, other, kT0);
  h.tick(1'000'000'000);
  EXPECT_TRUE(h.host.series.empty());  // nobody is looking yet
  EXPECT_EQ(h.query("flows/0:8").first, 200);
  h.tick(2'000'000'000);
  auto a = viewed.udp(kFwd, 100, kT0 + kMs), b = other.udp(kFwd, 300, kT0 + kMs);
  h.batch(0, {a.view, b.view, a.view});
  h.tick(3'000'000'000);
  ASSERT_EQ(h.host.series.count("0:8.bps"), 1u);
  // Of the flows, only the viewed one (their server is graphed as one of the busiest).
  EXPECT_EQ(h.host.series.size(), 2u);
  EXPECT_EQ(h.host.series.count("server.198.18.0.2:443/6.bps"), 1u);
  EXPECT_EQ(h.host.series["0:8.bps"], (std::vector<double>{0.0, 2.0 * a.view.wire_len * 8}));
}

TEST(Connections, ServersTableAggregatesAndSorts) {
  Harness h;
  std::vector<std::unique_ptr<FakeFlow>> flows;
  for (uint16_t i = 0; i < 3; ++i) {
    flows.push_back(std::make_unique<FakeFlow>("198.18.0.1", 40000 + i, "198.18.0.2", 443, i + 1));
    run_connection(h, 0, *flows.back(), kT0 + i * kMs, /*ack_ms=*/2 * i + 1);  // RTT 4, 6, 8
    if (i < 2) h.end(0, *flows.back());  // the third stays active: it comes from the snapshot
  }
  flows.push_back(std::make_unique<FakeFlow>("198.18.0.1", 5353, "198.18.0.3", 53, 9, 17));
  auto q = flows.back()->udp(kFwd, 40, kT0);
  h.batch(0, {q.view});
  h.end(0, *flows.back());

  auto [status, json] = h.query("servers", "sort=flows");
  EXPECT_EQ(status, 200) << json;
  EXPECT_TRUE(has(json, "{\"total\":2,\"page\":1,\"size\":100,\"sort\":\"flows\"")) << json;
  EXPECT_TRUE(has(json,
                  "\"items\":[{\"server\":\"198.18.0.2\",\"port\":443,\"proto\":6,"
                  "\"flows\":3,\"packets\":24,"))
      << json;
  EXPECT_TRUE(has(json,
                  "\"handshake_ms\":{\"count\":3,\"min\":4,\"avg\":6,\"max\":8},"
                  "\"retransmitted_packets\":3,\"retransmission_ratio\":0.125,"))
      << json;
  EXPECT_TRUE(has(json, "\"snapshot\":{\"fresh\":true")) << json;
  std::tie(status, json) = h.query("servers", "sort=flows&order=asc&size=1");
  EXPECT_TRUE(has(json, "\"items\":[{\"server\":\"198.18.0.3\",\"port\":53,")) << json;
  std::tie(status, json) = h.query("servers", "filter=443");
  EXPECT_TRUE(has(json, "\"total\":1,")) << json;
  EXPECT_TRUE(has(json, "\"port\":443")) << json;
  std::tie(status, json) = h.query("servers", "sort=rtt&order=asc&size=1");
  EXPECT_TRUE(has(json, "\"port\":53")) << json;  // no RTT sorts below any RTT
}

TEST(Connections, ServerDetail) {
  Harness h;
  FakeFlow ended("198.18.0.1", 40000, "198.18.0.2", 443, 1);
  FakeFlow active("198.18.0.1", 40001, "198.18.0.2", 443, 2);
  FakeFlow dns_udp("198.18.0.1", 5353, "198.18.0.2", 53, 3, 17);
  FakeFlow dns_tcp("198.18.0.1", 40002, "198.18.0.2", 53, 4);
  FakeFlow v6("2001:db8::1", 40003, "2001:db8::2", 8443, 5);
  run_connection(h, 0, ended, kT0, /*ack_ms=*/1);   // handshake 4 ms
  run_connection(h, 0, active, kT0, /*ack_ms=*/3);  // handshake 6 ms, still active
  h.end(0, ended);
  auto q = dns_udp.udp(kFwd, 4000, kT0);  // more bytes than the TCP flow to port 53
  h.batch(0, {q.view});
  auto syn = dns_tcp.tcp(kFwd, kTcpSyn, 1, 0, 0, kT0);
  h.batch(0, {syn.view});
  run_connection(h, 0, v6, kT0);

  auto [status, json] = h.query("servers/198.18.0.2:443");
  EXPECT_EQ(status, 200) << json;
  EXPECT_TRUE(has(json,
                  "{\"server\":{\"server\":\"198.18.0.2\",\"port\":443,\"proto\":6,"
                  "\"flows\":2,\"packets\":16,"))
      << json;
  EXPECT_TRUE(has(json,
                  "\"tcp\":{\"handshake_ms\":{\"count\":2,\"min\":4,\"avg\":5,\"max\":6},"
                  "\"retransmitted_packets\":2,\"retransmission_ratio\":0.125,\"resets\":0,"
                  "\"unanswered_syns\":0}},"
                  "\"series\":\"connections.server.198.18.0.2:443/6.bps\","
                  "\"snapshot\":{\"fresh\":true"))
      << json;
  // The same row by protocol number or name.
  EXPECT_EQ(h.query("servers/198.18.0.2:443/6").second.substr(0, 80), json.substr(0, 80));
  EXPECT_EQ(h.query("servers/198.18.0.2:443/tcp").second.substr(0, 80), json.substr(0, 80));
  // Port 53 is served over UDP and TCP: without a protocol the TCP row, else the one asked for.
  std::tie(status, json) = h.query("servers/198.18.0.2:53");
  EXPECT_TRUE(has(json, "{\"server\":{\"server\":\"198.18.0.2\",\"port\":53,\"proto\":6,")) << json;
  EXPECT_TRUE(has(json, "\"unanswered_syns\":1}")) << json;
  std::tie(status, json) = h.query("servers/198.18.0.2:53/udp");
  EXPECT_TRUE(has(json, "{\"server\":{\"server\":\"198.18.0.2\",\"port\":53,\"proto\":17,"))
      << json;
  EXPECT_TRUE(has(json, "\"tcp\":null},\"series\":\"connections.server.198.18.0.2:53/17.bps\""))
      << json;
  // IPv6 in brackets (as the series name has it) or not; any spelling of the address.
  std::tie(status, json) = h.query("servers/[2001:db8::2]:8443/6");
  EXPECT_EQ(status, 200) << json;
  EXPECT_TRUE(has(json, "\"series\":\"connections.server.[2001:db8::2]:8443/6.bps\"")) << json;
  EXPECT_EQ(h.query("servers/2001:db8:0::2:8443").first, 200);

  std::tie(status, json) = h.query("servers/198.18.0.2:80");
  EXPECT_EQ(status, 404) << json;
  EXPECT_EQ(json, "{\"error\":\"no such server: 198.18.0.2:80\"}");
  EXPECT_EQ(h.query("servers/198.18.0.2:443/udp").first, 404);
  for (auto [path, qs, message] : std::vector<std::array<std::string, 3>>{
           {"servers/198.18.0.2", "", "server: expected <address>:<port>[/<proto>]"},
           {"servers/198.18.0.2:65536", "", "port: expected 0..65535"},
           {"servers/198.18.0.2:x", "", "port: expected 0..65535"},
           {"servers/example.com:443", "", "server: not an IPv4 or IPv6 address"},
           {"servers/198.18.0.2:443/quic", "", "proto: expected a protocol number"},
           {"servers/198.18.0.2:443/256", "", "proto: expected a protocol number"},
           {"servers/198.18.0.2:443", "sort=bytes", "sort: unknown parameter"}}) {
    auto [st, body] = h.query(path, qs);
    EXPECT_EQ(st, 400) << path << " " << body;
    EXPECT_TRUE(has(body, message)) << path << " " << body;
  }
}

TEST(Connections, AServerTheMeterDoesNotHoldHasNoGraph) {
  Harness h;
  // Ended before on_batch saw any of its packets: in the servers table, never metered.
  FakeFlow f("198.18.0.1", 40000, "198.18.0.2", 53, 9, 17);
  f.info.packets[0] = 1;
  f.info.bytes[0] = 80;
  h.end(0, f, WM_FLOW_EVICTED);
  auto [status, json] = h.query("servers/198.18.0.2:53/udp");
  EXPECT_EQ(status, 200) << json;
  EXPECT_TRUE(has(json, "{\"server\":{\"server\":\"198.18.0.2\",\"port\":53,\"proto\":17,"))
      << json;
  EXPECT_TRUE(has(json, "\"tcp\":null},\"series\":null,\"snapshot\":{")) << json;
  // Nor is it watched: no series appears for it.
  h.tick(1'000'000'000);
  h.tick(2'000'000'000);
  EXPECT_TRUE(h.host.series.empty());
  std::string report = h.json();
  EXPECT_TRUE(has(report, "\"server_meter_evictions\":0,\"server_meter_overflow\":0}")) << report;
}

TEST(Connections, TheBusiestServersAreGraphedWhileTheirFlowsAreActive) {
  Harness h(2);
  // Two flows to one server on different workers, one flow to another server; none ends: the
  // graph counts bytes as they pass, not when a flow ends.
  FakeFlow a0("198.18.0.1", 40000, "198.18.0.2", 443, 1);
  FakeFlow a1("198.18.0.9", 40001, "198.18.0.2", 443, 2);
  FakeFlow b("198.18.0.1", 40002, "198.18.0.3", 80, 3);
  FakeFlow v6("2001:db8::1", 40003, "2001:db8::2", 8443, 4, 17);
  auto a0_syn = a0.tcp(kFwd, kTcpSyn, 1000, 0, 0, kT0);
  auto a1_syn = a1.tcp(kFwd, kTcpSyn, 1000, 0, 0, kT0);
  // b's capture starts mid-flow with the server's packet: the ports name the server.
  auto b_data = b.tcp(kRev, kTcpAck, 5000, 1000, 500, kT0);
  auto v6_data = v6.udp(kFwd, 100, kT0);
  h.batch(0, {a0_syn.view, b_data.view, v6_data.view});
  h.batch(1, {a1_syn.view});
  h.tick(1'000'000'000);
  EXPECT_TRUE(h.host.series.empty());  // rates need two ticks

  auto a0_data = a0.tcp(kRev, kTcpAck, 5001, 1001, 1000, kT0 + kMs);
  auto a1_data = a1.tcp(kRev, kTcpAck, 5001, 1001, 300, kT0 + kMs);
  h.batch(0, {a0_data.view, a0_data.view, b_data.view});
  h.batch(1, {a1_data.view});
  h.tick(3'000'000'000);  // two seconds later
  const std::string a = "server.198.18.0.2:443/6.bps", bk = "server.198.18.0.3:80/6.bps",
                    c = "server.[2001:db8::2]:8443/17.bps";
  ASSERT_EQ(h.host.series.count(a), 1u);
  ASSERT_EQ(h.host.series.count(bk), 1u);
  EXPECT_EQ(h.host.series.count(c), 0u);  // quiet in that interval: not graphed
  EXPECT_EQ(h.host.series[a],
            (std::vector<double>{(2.0 * a0_data.view.wire_len + a1_data.view.wire_len) * 8 / 2}));
  EXPECT_EQ(h.host.series[bk], (std::vector<double>{b_data.view.wire_len * 8.0 / 2}));

  // Opening the quiet server's detail view graphs it from the next second on, at 0.
  auto [status, json] = h.query("servers/[2001:db8::2]:8443/udp");
  EXPECT_EQ(status, 200) << json;
  h.tick(4'000'000'000);
  ASSERT_EQ(h.host.series.count(c), 1u);
  EXPECT_EQ(h.host.series[c], (std::vector<double>{0.0}));
  // The busy ones linger at 0 rather than break off.
  EXPECT_EQ(h.host.series[a].back(), 0.0);
}

TEST(Connections, AtMostTenServersAreGraphed) {
  Harness h;
  std::vector<std::unique_ptr<FakeFlow>> flows;
  std::vector<BuiltPacket> packets;
  for (uint16_t i = 0; i < 12; ++i) {
    flows.push_back(std::make_unique<FakeFlow>("198.18.0.1", 40000 + i, "198.18.1.1",
                                               static_cast<uint16_t>(1000 + i), i + 1, 17));
  }
  auto send = [&](uint64_t t) {
    packets.clear();
    for (size_t i = 0; i < flows.size(); ++i) {
      packets.push_back(flows[i]->udp(kFwd, 100 + 10 * i, t));  // port 1011 is the busiest
    }
    h.batch(0, views(packets));
  };
  send(kT0);
  h.tick(1'000'000'000);
  send(kT0 + kMs);
  h.tick(2'000'000'000);
  EXPECT_EQ(h.host.series.size(), 10u);
  EXPECT_EQ(h.host.series.count("server.198.18.1.1:1011/17.bps"), 1u);
  EXPECT_EQ(h.host.series.count("server.198.18.1.1:1002/17.bps"), 1u);
  EXPECT_EQ(h.host.series.count("server.198.18.1.1:1001/17.bps"), 0u);
  EXPECT_EQ(h.host.series.count("server.198.18.1.1:1000/17.bps"), 0u);
}

ServerKey key_of_port(uint16_t port) {
  ServerKey k{};
  k.ip_version = 4;
  k.proto = 6;
  k.port = port;
  return k;
}

TEST(Connections, ServerMeterAgesOutTheLeastRecentServers) {
  ServerMeter meter(4);  // two halves of 2
  ASSERT_EQ(meter.half_capacity(), 2u);
  uint32_t e1 = 0, e2 = 0, e3 = 0, e4 = 0;
  uint32_t first = meter.find_or_add(key_of_port(1), e1);
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(meter.find_or_add(key_of_port(1), e1), first);
  EXPECT_EQ(meter.find_or_add(key_of_port(2), e2), 2u);
  EXPECT_EQ(meter.find_or_add(key_of_port(3), e3), 0u);  // the newer half is full: counted
  EXPECT_EQ(meter.overflow.value(), 1u);
  EXPECT_FALSE(meter.expired(e3));  // tried again after the next swap, not at every packet
  meter.add(first, 10);
  meter.add(first, 5);
  ASSERT_EQ(meter.size(0), 2u);
  EXPECT_EQ(meter.key(0).port, 1);
  EXPECT_EQ(meter.bytes(0), 15u);
  EXPECT_EQ(meter.bytes(1), 0u);

  // The swap makes the (empty) other half the newer one; nothing is evicted yet.
  meter.age();
  EXPECT_EQ(meter.evicted.value(), 0u);
  EXPECT_TRUE(meter.expired(e3));
  EXPECT_FALSE(meter.expired(e1));
  EXPECT_EQ(meter.find_or_add(key_of_port(3), e3), 3u);
  // Port 1 is in the older half: it counts there until that half is cleared.
  EXPECT_EQ(meter.find_or_add(key_of_port(1), e1), first);
  meter.age();  // not full yet: no swap
  EXPECT_FALSE(meter.expired(e1));
  EXPECT_EQ(meter.find_or_add(key_of_port(4), e4), 4u);
  EXPECT_EQ(meter.size(1), 2u);
  uint64_t epoch0 = meter.epoch(0);
  EXPECT_TRUE(meter.holds(key_of_port(2)));

  // Full again: the next tick clears the older half (ports 1 and 2) and adds into it.
  meter.age();
  EXPECT_EQ(meter.evicted.value(), 2u);
  EXPECT_NE(meter.epoch(0), epoch0);
  EXPECT_FALSE(meter.still_epoch(0, epoch0));
  EXPECT_EQ(meter.size(0), 0u);
  EXPECT_TRUE(meter.expired(e1));
  EXPECT_FALSE(meter.expired(e3));
  EXPECT_FALSE(meter.holds(key_of_port(2)));
  EXPECT_TRUE(meter.holds(key_of_port(3)));
  // Its flows' next packet brings port 1 back, counted from 0.
  EXPECT_EQ(meter.find_or_add(key_of_port(1), e1), first);
  EXPECT_EQ(meter.bytes(0), 0u);
  EXPECT_EQ(meter.key(0).port, 1);
  EXPECT_TRUE(meter.holds(key_of_port(1)));
}

TEST(Connections, FlowsOfAnEvictedServerAreMeteredAgain) {
  wm_worker_info info{sizeof(wm_worker_info), 0, 1, 0, 0};
  Worker w(info, 10, {}, /*metered_servers=*/2);  // one server per half
  FakeFlow a("198.18.0.1", 40000, "198.18.0.2", 53, 1, 17);
  FakeFlow b("198.18.0.1", 40001, "198.18.0.3", 53, 2, 17);
  auto pa = a.udp(kFwd, 100, kT0), pb = b.udp(kFwd, 200, kT0);
  w.on_batch(std::vector<wm_packet>{pa.view, pb.view});
  const ServerMeter& meter = w.server_meter();
  EXPECT_TRUE(meter.holds(server_key(a.info, {})));
  EXPECT_FALSE(meter.holds(server_key(b.info, {})));  // no room until the halves swap
  EXPECT_EQ(meter.overflow.value(), 1u);
  w.worker_tick(0);
  w.on_batch(std::vector<wm_packet>{pb.view});
  EXPECT_TRUE(meter.holds(server_key(b.info, {})));
  EXPECT_EQ(meter.bytes(1), pb.view.wire_len);
  w.worker_tick(0);  // evicts a's server
  EXPECT_EQ(meter.evicted.value(), 1u);
  EXPECT_FALSE(meter.holds(server_key(a.info, {})));
  w.on_batch(std::vector<wm_packet>{pa.view, pb.view});
  EXPECT_TRUE(meter.holds(server_key(a.info, {})));
  EXPECT_EQ(meter.bytes(0), pa.view.wire_len);       // counted afresh
  EXPECT_EQ(meter.bytes(1), 2u * pb.view.wire_len);  // still in the older half
  EXPECT_EQ(meter.overflow.value(), 1u);
}

TEST(Connections, ServerGraphsCarryOnAcrossEvictions) {
  FakeHost fake;
  Host host(fake.api());
  Plugin plugin(host);
  wm_worker_info info{sizeof(wm_worker_info), 0, 1, 0, 0};
  Worker w(info, 10, {}, /*metered_servers=*/2);
  Worker* workers[] = {&w};
  FakeFlow a("198.18.0.1", 40000, "198.18.0.2", 53, 1, 17);
  FakeFlow b("198.18.0.1", 40001, "198.18.0.3", 53, 2, 17);
  auto pa = a.udp(kFwd, 100, kT0), pb = b.udp(kFwd, 300, kT0);
  w.on_batch(std::vector<wm_packet>{pa.view});
  plugin.on_tick(workers, 1'000'000'000);
  w.on_batch(std::vector<wm_packet>{pb.view});  // refused: the newer half is full
  w.worker_tick(0);                             // swap
  w.on_batch(std::vector<wm_packet>{pb.view});
  w.worker_tick(0);  // swap again: a's server is evicted
  // a's next packet adds its server again, into the entry it had: its bytes count from 0, not
  // from what that entry held at the last tick.
  w.on_batch(std::vector<wm_packet>{pa.view, pa.view});
  plugin.on_tick(workers, 2'000'000'000);
  const std::string ka = "server.198.18.0.2:53/17.bps", kb = "server.198.18.0.3:53/17.bps";
  ASSERT_EQ(fake.series.count(ka), 1u);
  ASSERT_EQ(fake.series.count(kb), 1u);
  EXPECT_EQ(fake.series[ka], (std::vector<double>{2.0 * pa.view.wire_len * 8}));
  EXPECT_EQ(fake.series[kb], (std::vector<double>{1.0 * pb.view.wire_len * 8}));
  w.on_batch(std::vector<wm_packet>{pa.view});
  plugin.on_tick(workers, 3'000'000'000);
  EXPECT_EQ(fake.series[ka].back(), 1.0 * pa.view.wire_len * 8);
  EXPECT_EQ(fake.series[kb].back(), 0.0);  // lingers at 0
}

TEST(Connections, SnapshotWalkStepsPastFlowsThatEndUnderIt) {
  // More active flows than one tick copies: the walk spans ticks, and flows end in between.
  wm_worker_info info{sizeof(wm_worker_info), 0, 1, 0, 0};
  Worker w(info, 1000, SnapshotPacing{std::chrono::hours(1), /*max_flows=*/1000});
  constexpr size_t kFlows = 2500;
  std::vector<wm_flow_info> infos(kFlows);
  std::vector<FlowState> states(kFlows);
  std::vector<wm_packet> views(kFlows);
  for (size_t i = 0; i < kFlows; ++i) {
    infos[i].id = i;
    infos[i].l4_proto = 17;
    infos[i].ip_version = 4;
    views[i].flow = &infos[i];
    views[i].flow_state = reinterpret_cast<uint8_t*>(&states[i]);
    views[i].l4_proto = 17;
    views[i].ip_version = 4;
  }
  w.on_batch(views);
  EXPECT_EQ(w.active.value(), kFlows);

  w.request_snapshot(1);
  w.worker_tick(0);  // newest first: copies flows 2499 down to 1500
  EXPECT_EQ(w.published_generation(), 0u);
  for (size_t i = 1000; i <= 1500; ++i) {
    w.on_flow_end(infos[i], states[i]);  // includes 1499, where the walk stands
  }
  w.worker_tick(0);  // 999 down to 0
  ASSERT_EQ(w.published_generation(), 1u);
  Snapshot s = w.snapshot();
  ASSERT_TRUE(s.flows);
  // 1500 ended after it was copied; 1000..1499 ended before the walk reached them.
  EXPECT_EQ(s.flows->size(), 2000u);
  for (const FlowSummary& f : *s.flows) {
    EXPECT_TRUE(f.id < 1000 || f.id >= 1500) << f.id;
    EXPECT_EQ(f.end_reason, WM_FLOW_ACTIVE);
  }
  EXPECT_EQ(w.active.value(), kFlows - 501);
  EXPECT_EQ(w.records().total(), 501u);

  // Nothing asked: nothing built.
  w.worker_tick(0);
  EXPECT_EQ(w.published_generation(), 1u);
  for (size_t i = 0; i < kFlows; ++i) {
    if (i < 1000 || i > 1500) w.on_flow_end(infos[i], states[i]);
  }
  EXPECT_EQ(w.active.value(), 0u);
}

TEST(Connections, AFlowThatEndedAfterTheSnapshotCountsOnceInServers) {
  Harness h;
  FakeFlow f("198.18.0.1", 40000, "198.18.0.2", 443, 1);
  run_connection(h, 0, f, kT0);
  auto [status, json] = h.query("servers");  // the snapshot has the flow active
  EXPECT_TRUE(has(json, "\"flows\":1,")) << json;
  h.end(0, f);
  // Served from the same snapshot (it is recent), and from the ended flows.
  for (const char* qs : {"", "from=0"}) {
    std::tie(status, json) = h.query("servers", qs, /*ticking=*/false);
    EXPECT_EQ(status, 200) << json;
    EXPECT_TRUE(has(json, "\"flows\":1,")) << qs << ": " << json;
  }
}

TEST(Connections, ServersTableNeverMakesTheWorkerWait) {
  // While the control plane copies the table, ended flows wait in the worker's backlog; the
  // next flow end or tick that finds the table free adds them.
  wm_worker_info info{sizeof(wm_worker_info), 0, 1, 0, 0};
  Worker w(info, 10);
  constexpr size_t kFlows = 2000;
  std::vector<wm_flow_info> infos(kFlows);
  std::vector<FlowState> states(kFlows);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) w.servers();
  });
  for (size_t i = 0; i < kFlows; ++i) {
    infos[i].id = i;
    infos[i].l4_proto = 17;
    infos[i].ip_version = 4;
    infos[i].port[1] = 53;
    w.on_flow_end(infos[i], states[i]);
  }
  stop.store(true);
  reader.join();
  w.worker_tick(0);
  ServerTable t = w.servers();
  ASSERT_EQ(t.rows().size(), 1u);
  EXPECT_EQ(t.rows().begin()->second.flows, kFlows);
  EXPECT_EQ(w.lost_records.value(), 0u);
}

TEST(Connections, SnapshotCopyingStopsAtItsTimeBudget) {
  wm_worker_info info{sizeof(wm_worker_info), 0, 1, 0, 0};
  Worker w(info, 10, SnapshotPacing{std::chrono::nanoseconds(0)});
  constexpr size_t kFlows = 1000;
  std::vector<wm_flow_info> infos(kFlows);
  std::vector<FlowState> states(kFlows);
  std::vector<wm_packet> views(kFlows);
  for (size_t i = 0; i < kFlows; ++i) {
    views[i].flow = &infos[i];
    views[i].flow_state = reinterpret_cast<uint8_t*>(&states[i]);
  }
  w.on_batch(views);
  w.request_snapshot(1);
  int ticks = 0;
  while (w.published_generation() == 0 && ticks < 100) {
    w.worker_tick(0);
    ++ticks;
  }
  EXPECT_EQ(ticks, 4);  // each tick copies 255 flows before it first reads the clock
  EXPECT_EQ(w.snapshot().flows->size(), kFlows);
}

}  // namespace
}  // namespace wiremeter::connections::testing
