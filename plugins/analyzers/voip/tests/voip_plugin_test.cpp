// Unit tests of the voip plugin through its C descriptor: calls, streams, views and metrics.
#include "voip_plugin.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::voip {
namespace {

using testing::FakeHost;
using testing::FakeSample;
using testing::PacketBuilder;
using testing::PluginHarness;

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;
constexpr uint64_t kMs = 1'000'000;
const char* kCaller = "198.18.0.10";
const char* kProxy = "198.18.1.1";
const char* kCallee = "198.18.2.20";

std::string sip(const std::string& start, const std::string& call_id, uint32_t cseq,
                const std::string& method, const std::string& to_tag = "",
                const std::string& sdp = "") {
  std::string m = start + "\r\n";
  m += "Via: SIP/2.0/UDP 198.18.0.10:5060;branch=z9hG4bK1\r\n";
  m += "From: \"Alice\" <sip:alice@example.org>;tag=a1\r\n";
  m += "To: <sip:bob@example.org>" + (to_tag.empty() ? "" : ";tag=" + to_tag) + "\r\n";
  m += "Call-ID: " + call_id + "\r\n";
  m += "CSeq: " + std::to_string(cseq) + " " + method + "\r\n";
  m += "Contact: <sip:alice@198.18.0.10>\r\n";
  m += "User-Agent: TestPhone/1.0\r\n";
  if (!sdp.empty()) m += "Content-Type: application/sdp\r\n";
  m += "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
  return m;
}

std::string sdp(const char* ip, uint16_t port, const std::string& pts = "0 101",
                const std::string& extra = "a=rtpmap:101 telephone-event/8000\r\n") {
  return "v=0\r\no=- 1 1 IN IP4 " + std::string(ip) + "\r\ns=-\r\nc=IN IP4 " + ip +
         "\r\nt=0 0\r\nm=audio " + std::to_string(port) + " RTP/AVP " + pts + "\r\n" + extra;
}

std::string rtp(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, size_t payload = 160) {
  std::string b = {
      static_cast<char>(0x80),       static_cast<char>(pt),        static_cast<char>(seq >> 8),
      static_cast<char>(seq),        static_cast<char>(ts >> 24),  static_cast<char>(ts >> 16),
      static_cast<char>(ts >> 8),    static_cast<char>(ts),        static_cast<char>(ssrc >> 24),
      static_cast<char>(ssrc >> 16), static_cast<char>(ssrc >> 8), static_cast<char>(ssrc)};
  b.append(payload, static_cast<char>(0xff));
  return b;
}

// One flow with its state, as the core would keep it.
struct Flow {
  explicit Flow(uint64_t id) { info.id = id; }
  wm_flow_info info{};
  alignas(16) uint8_t state[64] = {};
};

class VoipTest : public ::testing::Test {
 protected:
  VoipTest() : harness(wiremeter_plugin_register(), host) {
    EXPECT_LE(harness.flow_state_size(), sizeof(Flow::state));
  }

  // A UDP datagram of `flow`, `forward` from its initiator.
  void udp(Flow& flow, const char* src, uint16_t sport, const char* dst, uint16_t dport,
           const std::string& payload, uint64_t ts, bool forward = true) {
    auto p = PacketBuilder()
                 .ipv4(src, dst)
                 .udp(sport, dport)
                 .payload(payload)
                 .timestamp_ns(ts)
                 .flow(&flow.info, flow.state, forward ? WM_DIR_FORWARD : WM_DIR_REVERSE)
                 .build();
    harness.batch(0, {p.view});
  }
  void to_proxy(const std::string& m, uint64_t ts) { udp(sig, kCaller, 5060, kProxy, 5060, m, ts); }
  void from_proxy(const std::string& m, uint64_t ts) {
    udp(sig, kProxy, 5060, kCaller, 5060, m, ts, false);
  }

  double metric(const std::string& name, const std::string& label = "",
                const std::string& value = "") {
    for (const FakeSample& s : harness.collect()) {
      if (s.metric != name) continue;
      if (label.empty() || (s.labels.count(label) && s.labels.at(label) == value)) return s.value;
    }
    return -1;
  }

  FakeHost host;
  PluginHarness harness;
  Flow sig{1};
};

TEST_F(VoipTest, FollowsACallFromInviteToBye) {
  const std::string id = "call-1@198.18.0.10";
  to_proxy(sip("INVITE sip:bob@example.org SIP/2.0", id, 1, "INVITE", "", sdp(kCaller, 40000)),
           kT0);
  to_proxy(sip("INVITE sip:bob@example.org SIP/2.0", id, 1, "INVITE", "", sdp(kCaller, 40000)),
           kT0 + 500 * kMs);  // retransmission
  from_proxy(sip("SIP/2.0 100 Trying", id, 1, "INVITE"), kT0 + 600 * kMs);
  from_proxy(sip("SIP/2.0 180 Ringing", id, 1, "INVITE", "b2"), kT0 + 800 * kMs);
  from_proxy(sip("SIP/2.0 200 OK", id, 1, "INVITE", "b2", sdp(kCallee, 50000)), kT0 + 3000 * kMs);
  to_proxy(sip("ACK sip:bob@198.18.2.20 SIP/2.0", id, 1, "ACK", "b2"), kT0 + 3010 * kMs);

  // Media both ways, announced by the SDP: RTP from the first packet. Each side loses one
  // packet and its packets arrive 20 ms apart exactly (no jitter).
  Flow media(2);
  for (uint16_t i = 0; i < 10; ++i) {
    if (i == 3) continue;
    udp(media, kCaller, 40000, kCallee, 50000, rtp(0, i, 160u * i, 0xAAAA0001),
        kT0 + 3100 * kMs + i * 20 * kMs);
    udp(media, kCallee, 50000, kCaller, 40000, rtp(0, 500 + i, 8000u + 160u * i, 0xBBBB0002),
        kT0 + 3105 * kMs + i * 20 * kMs, false);
  }
  // A DTMF event on the caller's stream: counted, but not as audio. It takes the next sequence
  // number of the SSRC (RFC 4733), so the caller's stream expects 11.
  udp(media, kCaller, 40000, kCallee, 50000, rtp(101, 10, 1600, 0xAAAA0001, 4), kT0 + 3300 * kMs);
  from_proxy(sip("BYE sip:alice@198.18.0.10 SIP/2.0", id, 7, "BYE", "b2"), kT0 + 63000 * kMs);
  to_proxy(sip("SIP/2.0 200 OK", id, 7, "BYE", "b2"), kT0 + 63050 * kMs);
  harness.flow_end(0, media.info, media.state);

  auto [status, body] = harness.query("calls/call-1%40198.18.0.10");
  ASSERT_EQ(status, 200) << body;
  for (const char* want :
       {"\"caller\":\"sip:alice@example.org\"", "\"caller_name\":\"Alice\"",
        "\"callee\":\"sip:bob@example.org\"", "\"from_tag\":\"a1\"", "\"to_tag\":\"b2\"",
        "\"state\":\"completed\"", "\"final_code\":200", "\"ringing_ms\":800", "\"setup_ms\":3000",
        "\"ended_by\":\"callee\"", "\"duration_s\":60", "\"retransmissions\":1", "\"messages\":8",
        "\"caller_agent\":\"TestPhone/1.0\"",
        "{\"side\":\"caller\",\"kind\":\"audio\",\"ip\":\"198.18.0.10\",\"port\":40000}",
        "{\"side\":\"callee\",\"kind\":\"audio\",\"ip\":\"198.18.2.20\",\"port\":50000}",
        "\"ssrc\":\"0xAAAA0001\"", "\"ssrc\":\"0xBBBB0002\""}) {
    EXPECT_NE(body.find(want), std::string::npos) << want << " in " << body;
  }

  auto [s2, streams] = harness.query("streams", "sort=ssrc&order=asc");
  ASSERT_EQ(s2, 200) << streams;
  EXPECT_NE(streams.find("\"total\":2"), std::string::npos) << streams;
  size_t first = streams.find("\"ssrc\":\"0xAAAA0001\"");
  ASSERT_NE(first, std::string::npos);
  std::string a = streams.substr(first, streams.find("\"ssrc\":\"0xBBBB0002\"") - first);
  for (const char* want :
       {"\"origin\":\"sdp\"", "\"state\":\"ended\"", "\"call_id\":\"call-1@198.18.0.10\"",
        "\"payload_type\":0", "\"codec\":\"PCMU\"", "\"packets\":10", "\"expected\":11",
        "\"lost\":1", "\"loss_percent\":9.091", "\"other_payload_packets\":1", "\"jitter_ms\":0",
        "\"max_jitter_ms\":0", "\"packetization_ms\":20", "\"delay_ms\":20"}) {
    EXPECT_NE(a.find(want), std::string::npos) << want << " in " << a;
  }
  // R = 93.2 - 0.48 - 95 * Ppl / (Ppl + 25.1), Ppl = 1 of 11 expected.
  double ppl = 100.0 / 11.0;
  double r = 93.2 - 0.48 - 95.0 * ppl / (ppl + 25.1);
  char want[64];
  std::snprintf(want, sizeof want, "\"r_factor\":%.3f", r);
  EXPECT_NE(a.find(want), std::string::npos) << want << " in " << a;

  EXPECT_EQ(metric("wiremeter_voip_calls", "state", "completed"), 1);
  EXPECT_EQ(metric("wiremeter_voip_sip_requests_total", "method", "INVITE"), 2);
  EXPECT_EQ(metric("wiremeter_voip_sip_responses_total", "class", "2xx"), 2);
  EXPECT_EQ(metric("wiremeter_voip_sip_retransmissions_total"), 1);
  EXPECT_EQ(metric("wiremeter_voip_rtp_packets_total"), 19);
  EXPECT_EQ(metric("wiremeter_voip_rtp_expected_packets_total"), 21);
  EXPECT_EQ(metric("wiremeter_voip_rtp_streams_started_total"), 2);
  for (const FakeSample& s : harness.collect()) {
    if (s.metric == "wiremeter_voip_call_setup_seconds") {
      EXPECT_EQ(s.counts[2], 0u);  // not <= 2 s
      EXPECT_EQ(s.counts[3], 1u);  // <= 5 s
      EXPECT_DOUBLE_EQ(s.sum, 3.0);
    }
    if (s.metric == "wiremeter_voip_rtp_stream_mos") {
      EXPECT_EQ(s.counts.back(), 2u);  // both streams ended with a MOS
    }
  }
}

TEST_F(VoipTest, GraphsACallsMediaUnderAKeyFreeOfItsCallIdsText) {
  const std::string id = "a\"b/c&d e@198.18.0.10";  // a Call-ID may hold any text
  const std::string path = "calls/a%22b%2Fc%26d%20e%40198.18.0.10";
  const std::string key = "call.2781d19467a14477";  // FNV-1a of the Call-ID, mixed
  to_proxy(sip("INVITE sip:bob@example.org SIP/2.0", id, 1, "INVITE", "", sdp(kCaller, 40000)),
           kT0);
  from_proxy(sip("SIP/2.0 200 OK", id, 1, "INVITE", "b2", sdp(kCallee, 50000)), kT0 + 100 * kMs);
  to_proxy(sip("INVITE sip:carol@example.org SIP/2.0", "quiet", 1, "INVITE"), kT0 + 200 * kMs);
  constexpr uint64_t kS = 1'000'000'000;
  harness.tick(1 * kS);  // learns the totals

  // 3 packets of 160 payload bytes from the caller, 2 from the callee: 800 bytes in a second.
  Flow media(2);
  for (uint16_t i = 0; i < 3; ++i) {
    udp(media, kCaller, 40000, kCallee, 50000, rtp(0, i, 160u * i, 0xAAAA0001),
        kT0 + 300 * kMs + i * 20 * kMs);
    if (i < 2) {
      udp(media, kCallee, 50000, kCaller, 40000, rtp(0, 500 + i, 160u * i, 0xBBBB0002),
          kT0 + 305 * kMs + i * 20 * kMs, false);
    }
  }
  harness.tick(2 * kS);
  using Values = std::vector<double>;
  EXPECT_EQ(host.series[key + ".bps"], Values{6400});
  EXPECT_EQ(host.series["0:1.bps"], Values{3840});
  EXPECT_EQ(host.series["0:2.bps"], Values{2560});
  EXPECT_EQ(host.series.count(call_series_key("quiet") + ".bps"), 0u);  // no media: not graphed

  auto [status, body] = harness.query(path);
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body.rfind("{\"call\":{\"call_id\":\"a\\\"b/c&d e@198.18.0.10\",", 0), 0u) << body;
  EXPECT_NE(body.find("},\"series\":\"voip." + key +
                      ".bps\",\"series_streams\":[\"voip.0:1.bps\",\"voip.0:2.bps\"]}"),
            std::string::npos)
      << body;
  harness.tick(3 * kS);  // quiet: the call's graph goes on at 0
  EXPECT_EQ(host.series[key + ".bps"], (Values{6400, 0}));

  // Looking at the call without media graphs it from the next second on.
  std::tie(status, body) = harness.query("calls/quiet");
  ASSERT_EQ(status, 200) << body;
  EXPECT_NE(
      body.find("\"series\":\"voip." + call_series_key("quiet") + ".bps\",\"series_streams\":[]}"),
      std::string::npos)
      << body;
  harness.tick(4 * kS);
  EXPECT_EQ(host.series[call_series_key("quiet") + ".bps"], Values{0});
  EXPECT_EQ(host.series[key + ".bps"], (Values{6400, 0, 0}));
}

TEST_F(VoipTest, AuthChallengeThenCancel) {
  const std::string id = "call-2";
  to_proxy(sip("INVITE sip:bob@example.org SIP/2.0", id, 1, "INVITE"), kT0);
  from_proxy(sip("SIP/2.0 407 Proxy Authentication Required", id, 1, "INVITE", "x"),
             kT0 + 100 * kMs);
  to_proxy(sip("ACK sip:bob@example.org SIP/2.0", id, 1, "ACK", "x"), kT0 + 110 * kMs);
  auto [s1, failed] = harness.query("calls", "state=failed");
  EXPECT_NE(failed.find("\"final_code\":407"), std::string::npos) << failed;
  // The INVITE with credentials is the next attempt of the same call.
  to_proxy(sip("INVITE sip:bob@example.org SIP/2.0", id, 2, "INVITE"), kT0 + 2000 * kMs);
  from_proxy(sip("SIP/2.0 183 Session Progress", id, 2, "INVITE", "y"), kT0 + 2427 * kMs);
  to_proxy(sip("CANCEL sip:bob@example.org SIP/2.0", id, 2, "CANCEL"), kT0 + 5000 * kMs);
  from_proxy(sip("SIP/2.0 200 OK", id, 2, "CANCEL", "y"), kT0 + 5050 * kMs);
  from_proxy(sip("SIP/2.0 487 Request Terminated", id, 2, "INVITE", "y"), kT0 + 5060 * kMs);
  from_proxy(sip("SIP/2.0 487 Request Terminated", id, 2, "INVITE", "y"), kT0 + 5560 * kMs);

  auto [status, body] = harness.query("calls/call-2");
  ASSERT_EQ(status, 200);
  for (const char* want :
       {"\"state\":\"cancelled\"", "\"final_code\":487", "\"ringing_ms\":427", "\"setup_ms\":null",
        "\"duration_s\":null", "\"auth_challenges\":1", "\"retransmissions\":1"}) {
    EXPECT_NE(body.find(want), std::string::npos) << want << " in " << body;
  }
  std::string report = harness.json();
  EXPECT_NE(report.find("\"response_retransmissions\":1"), std::string::npos) << report;
  EXPECT_NE(report.find("\"calls_by_state\":{\"calling\":0,\"trying\":0,\"ringing\":0,"
                        "\"established\":0,\"completed\":0,\"failed\":0,\"cancelled\":1}"),
            std::string::npos)
      << report;
  EXPECT_EQ(harness.query("calls/nope").first, 404);
  EXPECT_EQ(harness.query("calls", "state=bogus").first, 400);
  EXPECT_EQ(harness.query("calls", "bogus=1").first, 400);
  EXPECT_EQ(harness.query("calls", "filter=nobody").second.find("\"total\":0") != std::string::npos,
            true);
}

TEST_F(VoipTest, HeuristicFindsUnannouncedRtpAndIgnoresOtherUdp) {
  Flow media(10), odd(11), junk(12), low(13);
  for (uint16_t i = 0; i < 5; ++i) {
    udp(media, "198.18.5.1", 16384, "198.18.5.2", 16386, rtp(18, 100 + i, 160u * i, 7, 20),
        kT0 + i * 20 * kMs);
    udp(odd, "198.18.5.1", 16384, "198.18.5.2", 16387, rtp(18, 100 + i, 160u * i, 8, 20),
        kT0 + i * 20 * kMs);
    udp(low, "198.18.5.1", 16384, "198.18.5.2", 443, rtp(18, 100 + i, 160u * i, 9, 20),
        kT0 + i * 20 * kMs);
    // Version-2-looking bytes, but the "sequence" jumps about: not RTP.
    udp(junk, "198.18.5.1", 20000, "198.18.5.2", 20002,
        rtp(0, static_cast<uint16_t>(i * 7919), 0, 10 + i), kT0 + i * kMs);
  }
  auto [status, body] = harness.query("streams");
  ASSERT_EQ(status, 200);
  EXPECT_NE(body.find("\"total\":1"), std::string::npos) << body;
  EXPECT_NE(body.find("\"origin\":\"heuristic\""), std::string::npos);
  EXPECT_NE(body.find("\"codec\":\"G729\""), std::string::npos);
  EXPECT_NE(body.find("\"packets\":5"), std::string::npos);  // the 3 that confirmed it too
  EXPECT_NE(body.find("\"call_id\":null"), std::string::npos);
  EXPECT_EQ(metric("wiremeter_voip_rtp_packets_total"), 5);
  EXPECT_EQ(metric("wiremeter_voip_rtp_streams"), 1);
  auto* junk_state = reinterpret_cast<FlowState*>(junk.state);
  EXPECT_EQ(junk_state->verdict[0], Verdict::kNotMedia);
  std::string id = body.substr(body.find("\"id\":\"") + 6);
  id = id.substr(0, id.find('"'));
  auto [s2, one] = harness.query("streams/" + id);
  EXPECT_EQ(s2, 200) << one;
  EXPECT_NE(one.find("{\"stream\":{\"id\":\"" + id), std::string::npos) << one;
  EXPECT_NE(one.find("\"series\":\"voip." + id + ".bps\"}"), std::string::npos) << one;
  harness.tick(1'000'000'000);
  harness.tick(2'000'000'000);
  EXPECT_EQ(host.series[id + ".bps"], std::vector<double>{0.0});  // viewed, quiet since
  EXPECT_EQ(harness.query("streams/9:9").first, 404);
  // Worst-MOS gauges carry the stream's endpoints.
  bool found = false;
  for (const FakeSample& s : harness.collect()) {
    if (s.metric == "wiremeter_voip_rtp_worst_mos") {
      found = true;
      EXPECT_EQ(s.labels.at("src"), "198.18.5.1:16384");
      EXPECT_EQ(s.labels.at("codec"), "G729");
      EXPECT_GT(s.value, 4.0);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(VoipTest, SipOnOtherPortsMalformedAndKeepalives) {
  Flow other(20);
  udp(other, kCaller, 5080, kProxy, 5090,
      sip("INVITE sip:bob@example.org SIP/2.0", "c3", 1, "INVITE"), kT0);
  to_proxy("     ", kT0 + 1);
  to_proxy("INVITE sip:x SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n", kT0 + 2);
  to_proxy("NOT SIP AT ALL\r\n\r\n", kT0 + 3);
  std::string report = harness.json();
  EXPECT_NE(report.find("\"sip_messages\":1"), std::string::npos) << report;
  EXPECT_NE(report.find("\"keepalives\":1"), std::string::npos);
  EXPECT_NE(report.find("\"missing_call_id\":1"), std::string::npos);
  EXPECT_NE(report.find("\"bad_start_line\":1"), std::string::npos);
  EXPECT_NE(report.find("\"calls_started\":1"), std::string::npos);
}

TEST(VoipPlugin, SipOverTcpPerSegment) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  wm_flow_info flow{};
  alignas(16) uint8_t state[64] = {};
  std::string two = sip("INVITE sip:bob@example.org SIP/2.0", "t1", 1, "INVITE") +
                    sip("SIP/2.0 100 Trying", "t1", 1, "INVITE");
  auto seg = PacketBuilder()
                 .ipv4(kCaller, kProxy)
                 .tcp(40000, 5060)
                 .payload(two)
                 .timestamp_ns(kT0)
                 .flow(&flow, state, WM_DIR_FORWARD)
                 .build();
  auto rest = PacketBuilder()
                  .ipv4(kCaller, kProxy)
                  .tcp(40000, 5060)
                  .payload("v=0\r\nm=audio 1 RTP/AVP 0\r\n")
                  .timestamp_ns(kT0 + 1)
                  .flow(&flow, state, WM_DIR_FORWARD)
                  .build();
  h.batch(0, {seg.view, rest.view});
  std::string report = h.json();
  EXPECT_NE(report.find("\"sip_messages\":2"), std::string::npos) << report;
  EXPECT_NE(report.find("\"tcp_continued\":1"), std::string::npos) << report;
  EXPECT_NE(report.find("\"transport\":\"tcp\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"state\":\"trying\""), std::string::npos) << report;
}

TEST(VoipPlugin, FullCallTableGivesWayOldestFirst) {
  FakeHost host;
  host.config = R"({"calls": 16, "heuristic_rtp": false})";
  PluginHarness h(wiremeter_plugin_register(), host);
  wm_flow_info flow{};
  alignas(16) uint8_t state[64] = {};
  for (int i = 0; i < 20; ++i) {
    auto p = PacketBuilder()
                 .ipv4(kCaller, kProxy)
                 .udp(5060, 5060)
                 .payload(sip("INVITE sip:bob@example.org SIP/2.0", "n" + std::to_string(i), 1,
                              "INVITE"))
                 .timestamp_ns(kT0 + static_cast<uint64_t>(i) * kMs)
                 .flow(&flow, state, WM_DIR_FORWARD)
                 .build();
    h.batch(0, {p.view});
  }
  std::string report = h.json();
  EXPECT_NE(report.find("\"calls_started\":20"), std::string::npos) << report;
  EXPECT_NE(report.find("\"calls_evicted\":4"), std::string::npos);
  EXPECT_NE(report.find("\"calls_evicted_active\":4"), std::string::npos);
  EXPECT_EQ(h.query("calls/n0").first, 404);
  EXPECT_EQ(h.query("calls/n19").first, 200);
  auto [status, page] = h.query("calls", "sort=start&order=asc&size=2&page=1");
  EXPECT_NE(page.find("\"total\":16"), std::string::npos) << page;
  EXPECT_NE(page.find("\"call_id\":\"n4\""), std::string::npos) << page;
}

TEST(VoipPlugin, RefusesBadSettings) {
  FakeHost host;
  host.config = R"({"calls": 5})";
  EXPECT_THROW(PluginHarness(wiremeter_plugin_register(), host), std::runtime_error);
  host.config = R"({"cals": 100})";
  try {
    PluginHarness h(wiremeter_plugin_register(), host);
    ADD_FAILURE() << "accepted an unknown field";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "voip.cals: unknown setting (known: calls, heuristic_rtp, media_hints, streams)"),
              std::string::npos)
        << e.what();
  }
  Config c = parse_config(R"({ "streams": 100, "media_hints": 64, "heuristic_rtp": false })");
  EXPECT_EQ(c.streams, 100u);
  EXPECT_EQ(c.media_hints, 64u);
  EXPECT_FALSE(c.heuristic_rtp);
  EXPECT_EQ(parse_config("{}").calls, 4096u);
  try {
    parse_config(R"({"heuristic_rtp": 1})");
    ADD_FAILURE() << "accepted 1 for a boolean";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "voip.heuristic_rtp: expected true or false");
  }
}

}  // namespace
}  // namespace wiremeter::voip
