#include "quic_plugin.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

#include "quic_test_util.hpp"

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::quic {
namespace {

using test::Bytes;
using test::from_hex;
using wiremeter::testing::FakeHost;
using wiremeter::testing::FakeSample;
using wiremeter::testing::PacketBuilder;
using wiremeter::testing::PluginHarness;

constexpr uint32_t kV1 = 1, kV2 = 0x6b3343cf, kDraft29 = 0xff00001d;

// One UDP flow as the core would keep it: its info, its state, its counters.
struct Flow {
  wm_flow_info info{};
  alignas(16) uint8_t state[64] = {};
  std::string client = "198.18.0.1", server = "198.18.1.1";
  uint16_t client_port = 50000, server_port = 443;
  uint64_t ts = 1'700'000'000'000'000'000ull;

  explicit Flow(uint64_t id, uint16_t sport = 443) : server_port(sport) {
    info.id = id;
    info.ip_version = 4;
    info.l4_proto = 17;
    inet_pton(AF_INET, client.c_str(), info.addr[0]);
    inet_pton(AF_INET, server.c_str(), info.addr[1]);
    info.port[0] = client_port;
    info.port[1] = server_port;
  }

  // Sends one datagram through the plugin, updating the flow's counters first as the core does.
  void send(PluginHarness& h, bool from_client, const Bytes& payload) {
    ts += 1'000'000;
    int d = from_client ? 0 : 1;
    size_t frame = 14 + 20 + 8 + payload.size();
    if (!info.first_ns) info.first_ns = ts;
    info.last_ns = ts;
    info.packets[d] += 1;
    info.bytes[d] += frame;
    PacketBuilder b;
    if (from_client) {
      b.ipv4(client.c_str(), server.c_str()).udp(client_port, server_port);
    } else {
      b.ipv4(server.c_str(), client.c_str()).udp(server_port, client_port);
    }
    auto pkt = b.payload(std::string(payload.begin(), payload.end()))
                   .timestamp_ns(ts)
                   .flow(&info, state, from_client ? WM_DIR_FORWARD : WM_DIR_REVERSE)
                   .build();
    h.batch(0, {pkt.view});
  }
  void end(PluginHarness& h) {
    info.end_reason = WM_FLOW_IDLE_TIMEOUT;
    h.flow_end(0, info, state);
  }
};

double metric(const std::vector<FakeSample>& samples, const std::string& name,
              const std::map<std::string, std::string>& labels = {}) {
  for (auto& s : samples) {
    if (s.metric == name && s.labels == labels) return s.value;
  }
  return -1;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const Bytes kDcid = from_hex("0011223344556677"), kScid = from_hex("c1c2"),
            kServerScid = from_hex("5e5e5e5e");

Bytes hello_frames(const test::HelloSpec& spec) {
  Bytes ch = test::client_hello(spec);
  return test::crypto_frame(0, ch.data(), ch.size());
}

// A server Initial: its protection does not matter to the plugin, which reads the header.
Bytes server_initial(uint32_t version = kV1) {
  Bytes frames = {0x02, 0x00, 0x00, 0x00, 0x00};
  return test::initial_packet(version, kScid, kServerScid, kDcid, 0, frames, 200, true);
}

Bytes short_packet() {
  Bytes p = {0x41};
  test::put(p, kScid);
  p.insert(p.end(), 40, 0x77);
  return p;
}

TEST(QuicPlugin, FlowStateIsSmall) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  EXPECT_LE(h.flow_state_size(), 12u);
}

TEST(QuicPlugin, DecryptsTheClientInitialAndReportsTheConnection) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow f(1);
  test::HelloSpec spec;
  spec.alpn = {"h3", "h3-29"};
  f.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames(spec)));
  f.send(h, false, server_initial());
  f.send(h, true, short_packet());
  f.send(h, false, short_packet());
  // A client Initial after the ClientHello was read is not decrypted again.
  f.send(h, true, test::initial_packet(kV1, kServerScid, kScid, kDcid, 1, {0x01}));

  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"connections\":1,")) << j;
  EXPECT_TRUE(has(j, "\"version\":\"v1\",\"version_number\":\"0x00000001\"")) << j;
  EXPECT_TRUE(has(j, "\"server_name\":\"example.com\"")) << j;
  EXPECT_TRUE(has(j, "\"client_protocol\":\"h3\",\"alpn\":[\"h3\",\"h3-29\"]")) << j;
  EXPECT_TRUE(has(j, "\"tls_version\":\"TLSv1.3\",\"transport_parameters\":true")) << j;
  EXPECT_TRUE(has(j, "\"client_initial_dcid\":\"0011223344556677\",\"client_scid\":\"c1c2\"")) << j;
  EXPECT_TRUE(has(j, "\"server_scid\":\"5e5e5e5e\"")) << j;
  EXPECT_TRUE(has(j, "\"decryption\":\"ok\",\"client_hello\":\"complete\"")) << j;
  EXPECT_TRUE(has(j, "\"packets\":{\"client\":3,\"server\":2}")) << j;
  EXPECT_TRUE(has(j, "\"packet_types\":{\"initial\":3,\"short\":2}")) << j;
  EXPECT_TRUE(has(j, "\"initial_decryptions\":{\"ok\":1,\"failed\":0")) << j;
  EXPECT_TRUE(has(j, "\"active\":true")) << j;

  auto m = h.collect();
  EXPECT_EQ(metric(m, "wiremeter_quic_connections_total", {{"version", "v1"}}), 1);
  EXPECT_EQ(metric(m, "wiremeter_quic_packets_total", {{"type", "initial"}}), 3);
  EXPECT_EQ(metric(m, "wiremeter_quic_packets_total", {{"type", "short"}}), 2);
  EXPECT_EQ(metric(m, "wiremeter_quic_initial_decryptions_total", {{"result", "ok"}}), 1);
  EXPECT_EQ(metric(m, "wiremeter_quic_client_hellos_total", {{"result", "complete"}}), 1);
  EXPECT_EQ(
      metric(m, "wiremeter_quic_server_name_connections_total", {{"server_name", "example.com"}}),
      1);
  EXPECT_EQ(metric(m, "wiremeter_quic_server_name_bytes_total", {{"server_name", "example.com"}}),
            static_cast<double>(f.info.bytes[0] + f.info.bytes[1]));

  f.end(h);
  EXPECT_TRUE(has(h.json(), "\"active\":false"));
}

TEST(QuicPlugin, ReassemblesAClientHelloAcrossFramesAndPackets) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow f(7);
  test::HelloSpec spec;
  spec.sni = "split.example";
  spec.padding_extension = 1400;  // too long for one packet
  Bytes ch = test::client_hello(spec);
  // Packet 1: bytes [500, 900) then [0, 500), out of order. Packet 2: the rest, addressed to
  // the server's CID but protected with the keys of the client's first DCID.
  Bytes p1 = test::crypto_frame(500, ch.data() + 500, 400);
  test::put(p1, Bytes{0x01});  // PING between them, as Chrome interleaves
  test::put(p1, test::crypto_frame(0, ch.data(), 500));
  Bytes p2 = test::crypto_frame(900, ch.data() + 900, ch.size() - 900);
  f.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, p1));
  EXPECT_TRUE(has(h.json(), "\"client_hello\":\"none\""));
  f.send(h, false, server_initial());
  f.send(h, true, test::initial_packet(kV1, kServerScid, kScid, kDcid, 1, p2));
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"server_name\":\"split.example\"")) << j;
  EXPECT_TRUE(has(j, "\"client_hello\":\"complete\"")) << j;
  EXPECT_TRUE(has(j, "\"initial_decryptions\":{\"ok\":2,\"failed\":0")) << j;
}

TEST(QuicPlugin, FollowsARetryToTheNewKeys) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow f(3);
  test::HelloSpec spec;
  spec.sni = "retry.example";
  spec.padding_extension = 1400;
  Bytes ch = test::client_hello(spec);
  // The first Initial holds only the start; the server answers with a Retry; the client
  // starts over with the Retry's SCID as DCID, from which the new keys derive.
  f.send(h, true,
         test::initial_packet(kV1, kDcid, kScid, kDcid, 0, test::crypto_frame(0, ch.data(), 600)));
  Bytes retry = {0xf0, 0, 0, 0, 1};
  test::put8(retry, kScid.size());
  test::put(retry, kScid);
  test::put8(retry, kServerScid.size());
  test::put(retry, kServerScid);
  retry.insert(retry.end(), 32, 0x42);  // token and integrity tag
  f.send(h, false, retry);
  Bytes rest = test::crypto_frame(0, ch.data(), 1000);
  f.send(h, true, test::initial_packet(kV1, kServerScid, kScid, kServerScid, 0, rest));
  rest = test::crypto_frame(1000, ch.data() + 1000, ch.size() - 1000);
  f.send(h, true, test::initial_packet(kV1, kServerScid, kScid, kServerScid, 1, rest));
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"server_name\":\"retry.example\"")) << j;
  EXPECT_TRUE(has(j, "\"retry\":1")) << j;
  EXPECT_TRUE(has(j, "\"initial_decryptions\":{\"ok\":3,\"failed\":0")) << j;
}

TEST(QuicPlugin, ReadsVersion2AndDraft29) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow a(1), b(2);
  test::HelloSpec spec;
  spec.sni = "v2.example";
  a.send(h, true, test::initial_packet(kV2, kDcid, kScid, kDcid, 0, hello_frames(spec)));
  spec.sni = "d29.example";
  spec.alpn = {"h3-29"};
  b.send(h, true, test::initial_packet(kDraft29, kDcid, kScid, kDcid, 0, hello_frames(spec)));
  auto [status, body] = h.query("versions", "sort=version&order=asc");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body,
                  "{\"version\":\"draft-29\",\"version_number\":\"0xff00001d\","
                  "\"connections\":1,\"decrypted\":1,\"server_names\":1,"
                  "\"first_seen\":1700000000.001,\"last_seen\":1700000000.001,"
                  "\"counts\":\"since_start\"}"))
      << body;
  EXPECT_TRUE(has(body,
                  "{\"version\":\"v2\",\"version_number\":\"0x6b3343cf\","
                  "\"connections\":1,\"decrypted\":1,\"server_names\":1,"))
      << body;
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"server_name\":\"v2.example\"")) << j;
  EXPECT_TRUE(has(j, "\"server_name\":\"d29.example\",\"client_protocol\":\"h3-29\"")) << j;
}

TEST(QuicPlugin, StopsAfterTheConfiguredNumberOfInitialPackets) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow f(1);
  // Protected with keys from another DCID: no attempt can succeed.
  Bytes other = from_hex("ffffffffffffffff");
  for (uint32_t pn = 0; pn < 7; ++pn) {
    f.send(h, true, test::initial_packet(kV1, kDcid, kScid, other, pn, hello_frames({})));
  }
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"initial_decryptions\":{\"ok\":0,\"failed\":4,")) << j;
  EXPECT_TRUE(has(j, "\"decryption\":\"failed\",\"client_hello\":\"none\"")) << j;
  EXPECT_TRUE(has(j, "\"decrypt_failed\":4")) << j;
  EXPECT_TRUE(has(j, "\"initial\":7")) << j;  // still counted by type
}

TEST(QuicPlugin, ReadsTheCleartextChloOfQ046AndOldGoogleQuic) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow q46(1), q35(2);
  Bytes p = {0xc3, 'Q', '0', '4', '6', 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1};
  p.insert(p.end(), 12, 0x99);  // message hash
  test::put(p, Bytes{0xa4, 0x01, 0x04, 0x00});
  test::put(p, test::chlo("play.google.com", "Chrome/74"));
  p.resize(1350, '-');
  q46.send(h, true, p);
  q46.send(h, false, Bytes{0x40, 1, 2, 3, 4, 5, 6, 7, 8});

  Bytes old = {0x0d, 9, 9, 9, 9, 9, 9, 9, 9, 'Q', '0', '3', '5', 0x01};
  old.insert(old.end(), 12, 0x99);
  test::put(old, test::chlo("yt3.ggpht.com", "beta Chrome/57"));
  q35.send(h, true, old);
  q35.send(h, false, Bytes{0x0c, 9, 9, 9, 9, 9, 9, 9, 9, 0x01, 0x55});

  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"version\":\"Q046\"")) << j;
  EXPECT_TRUE(has(j,
                  "\"server_name\":\"play.google.com\",\"client_protocol\":null,\"alpn\":[],"
                  "\"tls_version\":null,\"transport_parameters\":false,"
                  "\"user_agent\":\"Chrome/74\",\"client_initial_dcid\":\"0102030405060708\""))
      << j;
  EXPECT_TRUE(has(j, "\"version\":\"Q035\"")) << j;
  EXPECT_TRUE(has(j, "\"server_name\":\"yt3.ggpht.com\"")) << j;
  EXPECT_TRUE(has(j, "\"decryption\":\"cleartext\"")) << j;
  EXPECT_TRUE(has(j, "\"gquic\":2")) << j;
  EXPECT_TRUE(has(j, "\"short\":1")) << j;
}

TEST(QuicPlugin, LeavesOtherUdpAlone) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow dns(1, 53);
  dns.send(h, true, from_hex("8a2b01000001000000000000076578616d706c6503636f6d0000010001"));
  Flow unknown(2);  // a long header on 443, but of no QUIC version
  Bytes u = {0xc0, 0x12, 0x34, 0x56, 0x78, 0, 0};
  u.resize(1200, 0);
  unknown.send(h, true, u);
  Flow small(3, 4433);  // a v1 Initial, but neither padded nor on 443: not taken for QUIC
  small.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames({}), 300));
  Flow later(4);  // the first datagram decides; a long header later does not make it QUIC
  later.send(h, true, short_packet());
  later.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames({})));
  std::string j = h.json();
  EXPECT_TRUE(has(j, "{\"connections\":0,\"datagrams\":0,")) << j;
}

TEST(QuicPlugin, CountsMalformedPacketsInQuicFlows) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow f(1);
  f.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames({})));
  Bytes cut = test::initial_packet(kV1, kDcid, kScid, kDcid, 1, {0x01});
  cut.resize(20);
  f.send(h, true, cut);
  Bytes bad = {0xc3, 0, 0, 0, 1, 30};  // a DCID of 30 bytes
  bad.resize(60, 0);
  f.send(h, false, bad);
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"truncated_header\":0,\"bad_cid_length\":1,\"bad_length\":1")) << j;
}

TEST(QuicPlugin, TablesAreBoundedAndSayWhenFull) {
  FakeHost host;
  host.config = R"({"connections": 1, "handshake_slots": 1, "initial_packets": 2})";
  PluginHarness h(wiremeter_plugin_register(), host);
  test::HelloSpec spec;
  spec.padding_extension = 1400;
  Bytes ch = test::client_hello(spec);
  Bytes first = test::crypto_frame(0, ch.data(), 800);
  Flow a(1), b(2), c(3);
  a.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, first));
  // b: no connection row (a holds the only one) and no handshake slot (a holds it): the
  // ClientHello's first part is read where it lies.
  b.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, first));
  a.end(h);
  c.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames({})));
  std::string j = h.json();
  EXPECT_TRUE(has(j, "\"overflow\":{\"connections\":1,\"server_names\":0,\"handshake_slots\":1}"))
      << j;
  EXPECT_TRUE(has(j, "\"client_hellos\":{\"complete\":1,\"partial\":1}")) << j;
  EXPECT_TRUE(has(j, "\"connections_recycled\":1")) << j;
  EXPECT_TRUE(has(j, "{\"server_name\":\"example.com\",\"connections\":2,")) << j;
  EXPECT_TRUE(has(j, "\"connections\":3,")) << j;  // every flow counts, row or not
}

TEST(QuicPlugin, RefusesBadSettings) {
  for (const char* config :
       {R"({"connections": 0})", R"({"conections": 10})", R"({"initial_packets": "4"})", "[]"}) {
    FakeHost host;
    host.config = config;
    EXPECT_THROW(PluginHarness(wiremeter_plugin_register(), host), std::runtime_error) << config;
  }
  Limits l = parse_settings(R"({ "server_names": 10, "initial_packets": 8 })");
  EXPECT_EQ(l.server_names, 10u);
  EXPECT_EQ(l.initial_packets, 8u);
  EXPECT_EQ(l.connections, Limits{}.connections);
}

TEST(QuicPlugin, AnswersListQueries) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow a(1), b(2), c(3);
  test::HelloSpec spec;
  spec.sni = "a.example";
  a.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames(spec)));
  spec.sni = "b.example";
  b.ts += 10'000'000'000ull;  // 10 s later
  b.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames(spec)));
  b.send(h, false, short_packet());
  c.ts = b.ts;
  c.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames(spec)));

  auto [status, body] = h.query("connections", "sort=bytes&order=desc&size=1");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, "\"total\":3,\"page\":1,\"size\":1")) << body;
  EXPECT_TRUE(has(body, "\"id\":\"0:2\"")) << body;  // b has the most bytes

  std::tie(status, body) = h.query("connections", "filter=A.EXAMPLE");
  EXPECT_TRUE(has(body, "\"total\":1,")) << body;
  EXPECT_TRUE(has(body, "\"server_name\":\"a.example\"")) << body;

  std::string from = std::to_string((a.ts + 5'000'000'000ull) / 1'000'000'000ull);
  std::tie(status, body) = h.query("connections", "from=" + from);
  EXPECT_TRUE(has(body, "\"total\":2,")) << body;

  std::tie(status, body) = h.query("connections/0:3");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, "{\"connection\":{\"id\":\"0:3\",")) << body;
  EXPECT_TRUE(has(body, "},\"series\":\"quic.conn.0:3.bps\"}")) << body;
  std::tie(status, body) = h.query("connections/0:99");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, "{\"error\":\"no such connection: 0:99\"}");

  std::tie(status, body) = h.query("server_names", "sort=connections");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, "\"items\":[{\"server_name\":\"b.example\",\"connections\":2,")) << body;
  std::tie(status, body) = h.query("server_names/B.example");
  EXPECT_EQ(status, 200) << body;
  EXPECT_TRUE(has(body, "{\"server_name\":{\"server_name\":\"b.example\",\"connections\":2,"))
      << body;
  EXPECT_TRUE(has(body, "\"series\":\"quic.b.example.bps\"}")) << body;
  EXPECT_EQ(h.query("server_names/nope.example").first, 404);

  EXPECT_EQ(h.query("connections", "sort=nope").first, 400);
  EXPECT_EQ(h.query("connections", "colour=red").first, 400);
  EXPECT_EQ(h.query("nothing").first, 404);
}

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull, kS = 1'000'000'000ull;

TEST(QuicPlugin, GraphsTheBusiestConnectionsAndTheOneViewed) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow a(1), b(2);
  test::HelloSpec spec;
  a.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames(spec)));
  b.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames(spec)));
  h.tick(kT0);                       // learns the totals
  b.send(h, false, short_packet());  // one frame of 14 + 20 + 8 + 43 = 85 bytes: 680 bits
  h.tick(kT0 + kS);
  using Values = std::vector<double>;
  EXPECT_EQ(host.series["conn.0:2.bps"], Values{680});
  EXPECT_EQ(host.series.count("conn.0:1.bps"), 0u);  // idle: not among the busiest

  // Looking at the idle connection graphs it from the next second on.
  auto [status, body] = h.query("connections/0:1");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, "\"series\":\"quic.conn.0:1.bps\"}")) << body;
  h.tick(kT0 + 2 * kS);
  EXPECT_EQ(host.series["conn.0:1.bps"], Values{0});
  EXPECT_EQ(host.series["conn.0:2.bps"], (Values{680, 0}));  // lingers after its busy second
  a.send(h, false, short_packet());
  a.send(h, false, short_packet());
  h.tick(kT0 + 4 * kS);  // two seconds: 1360 bits in 2 s
  EXPECT_EQ(host.series["conn.0:1.bps"], (Values{0, 680}));

  // Ended, it keeps its graph while that lingers; a minute after its last busy second it has
  // none, and looking at it does not start one.
  a.end(h);
  std::tie(status, body) = h.query("connections/0:1");
  EXPECT_TRUE(has(body, "\"active\":false")) << body;
  EXPECT_TRUE(has(body, "\"series\":\"quic.conn.0:1.bps\"}")) << body;
  h.tick(kT0 + 64 * kS);
  EXPECT_EQ(host.series["conn.0:1.bps"], (Values{0, 680}));
  EXPECT_EQ(host.series["conn.0:2.bps"], (Values{680, 0, 0}));
  std::tie(status, body) = h.query("connections/0:1");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, "\"series\":null}")) << body;
  h.tick(kT0 + 65 * kS);
  EXPECT_EQ(host.series["conn.0:1.bps"], (Values{0, 680}));
}

TEST(QuicPlugin, VersionsCountTheConnectionsActiveInTheWindow) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow a(1), b(2), c(3);
  test::HelloSpec spec;
  spec.sni = "a.example";
  // v1 from T+1 ms to T+3 ms, draft-29 at T+10 s (no name: not decrypted), v1 again at T+20 s.
  a.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames(spec)));
  a.send(h, false, server_initial());
  a.send(h, true, short_packet());
  a.end(h);
  b.ts = kT0 + 10 * kS;
  Bytes other = from_hex("ffffffffffffffff");
  b.send(h, true, test::initial_packet(kDraft29, kDcid, kScid, other, 0, hello_frames(spec)));
  c.ts = kT0 + 20 * kS;
  c.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames(spec)));

  auto [status, body] = h.query("versions", "from=1700000005&to=1700000015");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, "\"total\":1,")) << body;
  EXPECT_TRUE(has(body,
                  "{\"version\":\"draft-29\",\"version_number\":\"0xff00001d\","
                  "\"connections\":1,\"decrypted\":0,\"server_names\":0,"
                  "\"first_seen\":1700000010.001,\"last_seen\":1700000010.001,"
                  "\"counts\":\"window\"}"))
      << body;
  // v1 in its last window: one connection; first and last seen are the version's whole life.
  std::tie(status, body) = h.query("versions", "from=1700000015");
  EXPECT_TRUE(has(body, "\"total\":1,")) << body;
  EXPECT_TRUE(has(body,
                  "{\"version\":\"v1\",\"version_number\":\"0x00000001\","
                  "\"connections\":1,\"decrypted\":1,\"server_names\":1,"
                  "\"first_seen\":1700000000.001,\"last_seen\":1700000020.001,"
                  "\"counts\":\"window\"}"))
      << body;
  std::tie(status, body) = h.query("versions", "from=1700000001&to=1700000002");
  EXPECT_TRUE(has(body, "\"total\":0,")) << body;
  std::tie(status, body) = h.query("versions", "sort=version&order=desc");
  EXPECT_TRUE(has(body,
                  "{\"version\":\"v1\",\"version_number\":\"0x00000001\","
                  "\"connections\":2,"))
      << body;
  EXPECT_TRUE(has(body, "\"counts\":\"since_start\"}")) << body;
  EXPECT_EQ(h.query("versions", "from=20&to=10").first, 400);
  EXPECT_EQ(h.query("versions", "to=yesterday").first, 400);
}

TEST(QuicPlugin, VersionsFallBackToTotalsWhenTheTableMayMissConnections) {
  FakeHost host;
  host.config = R"({"connections": 1})";
  PluginHarness h(wiremeter_plugin_register(), host);
  Flow a(1), b(2), c(3);
  a.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames({})));
  b.ts = kT0 + 10 * kS;  // while a holds the only row: b gets none
  b.send(h, true, test::initial_packet(kDraft29, kDcid, kScid, kDcid, 0, hello_frames({})));

  // Before b, the table holds every connection.
  auto [status, body] = h.query("versions", "to=1700000005");
  EXPECT_TRUE(has(body, "\"total\":1,")) << body;
  EXPECT_TRUE(has(body, "{\"version\":\"v1\",")) << body;
  EXPECT_TRUE(has(body, "\"counts\":\"window\"}")) << body;
  // From b on it may not: totals of the versions active in the window.
  std::tie(status, body) = h.query("versions", "from=1700000005");
  EXPECT_TRUE(has(body, "\"total\":1,")) << body;
  EXPECT_TRUE(has(body,
                  "{\"version\":\"draft-29\",\"version_number\":\"0xff00001d\","
                  "\"connections\":1,"))
      << body;
  EXPECT_TRUE(has(body, "\"counts\":\"since_start\"}")) << body;

  // a ends and c takes its row: windows that reach a's time fall back too.
  a.end(h);
  c.ts = kT0 + 20 * kS;
  c.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, hello_frames({})));
  std::tie(status, body) = h.query("versions", "to=1700000005");
  EXPECT_TRUE(has(body,
                  "{\"version\":\"v1\",\"version_number\":\"0x00000001\","
                  "\"connections\":2,"))
      << body;
  EXPECT_TRUE(has(body, "\"counts\":\"since_start\"}")) << body;
}

TEST(QuicPlugin, FreesIdleHandshakeSlots) {
  FakeHost host;
  host.config = R"({"handshake_slots": 1})";
  PluginHarness h(wiremeter_plugin_register(), host);
  test::HelloSpec spec;
  spec.padding_extension = 1400;
  Bytes ch = test::client_hello(spec);
  Bytes first = test::crypto_frame(0, ch.data(), 800);
  Flow a(1), b(2);
  a.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, first));
  h.worker_tick(0, a.ts + 6'000'000'000ull);  // a never sends the rest
  b.ts = a.ts + 6'000'000'000ull;
  b.send(h, true, test::initial_packet(kV1, kDcid, kScid, kDcid, 0, first));
  EXPECT_TRUE(has(h.json(), "\"handshake_slots\":0}")) << h.json();
}

}  // namespace
}  // namespace wiremeter::quic
