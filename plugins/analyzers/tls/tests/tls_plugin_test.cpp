#include "tls_plugin.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

#include "tls_test_util.hpp"

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace {

using namespace tls_test;
using wiremeter::testing::BuiltPacket;
using wiremeter::testing::FakeHost;
using wiremeter::testing::FakeSample;
using wiremeter::testing::kTcpAck;
using wiremeter::testing::kTcpPsh;
using wiremeter::testing::kTcpSyn;
using wiremeter::testing::PacketBuilder;
using wiremeter::testing::PluginHarness;

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;  // 2023-11-14
constexpr int64_t kT0s = 1'700'000'000;
constexpr uint32_t kClientIsn = 1000, kServerIsn = 70000;

// One TCP connection between 198.18.0.1:40000 and 198.18.0.2:443 with the flow state the core
// would keep; seq numbers are tracked per direction.
struct Conn {
  wm_flow_info flow{};
  alignas(16) uint8_t state[64] = {};
  uint32_t next[2] = {kClientIsn + 1, kServerIsn + 1};
  uint64_t ts = kT0;

  BuiltPacket packet(int dir, uint32_t seq, const std::string& payload,
                     uint8_t flags = kTcpAck | kTcpPsh) {
    ts += 1'000'000;
    PacketBuilder b;
    if (dir == 0) {
      b.ipv4("198.18.0.1", "198.18.0.2").tcp(40000, 443, flags).seq(seq, next[1]);
    } else {
      b.ipv4("198.18.0.2", "198.18.0.1").tcp(443, 40000, flags).seq(seq, next[0]);
    }
    return b.payload(payload)
        .timestamp_ns(ts)
        .flow(&flow, state, static_cast<uint8_t>(dir))
        .build();
  }
  // The next bytes of a direction, as one segment.
  BuiltPacket send(int dir, const std::string& payload) {
    BuiltPacket p = packet(dir, next[dir], payload);
    next[dir] += static_cast<uint32_t>(payload.size());
    return p;
  }
  std::vector<BuiltPacket> handshake() {
    std::vector<BuiltPacket> v;
    v.push_back(packet(0, kClientIsn, "", kTcpSyn));
    v.push_back(packet(1, kServerIsn, "", kTcpSyn | kTcpAck));
    v.push_back(packet(0, kClientIsn + 1, "", kTcpAck));
    return v;
  }
};

void run(PluginHarness& h, const std::vector<BuiltPacket>& packets, uint32_t worker = 0) {
  std::vector<wm_packet> views;
  for (auto& p : packets) views.push_back(p.view);
  h.batch(worker, views);
}

double metric(const std::vector<FakeSample>& samples, const std::string& name,
              const std::string& label = "", const std::string& value = "") {
  for (auto& s : samples) {
    if (s.metric != name) continue;
    if (label.empty()) return s.value;
    for (auto& [k, v] : s.labels) {
      if (k == label && v == value) return s.value;
    }
  }
  return -1;
}

std::string client_hello_record(const std::string& sni, const std::string& session_id = "",
                                std::vector<unsigned> versions = {}) {
  ClientHelloSpec spec;
  spec.sni = sni;
  spec.alpn = {"h2", "http/1.1"};
  spec.groups = {0x1d, 0x17};
  spec.session_id = session_id;
  spec.versions = std::move(versions);
  return record(22, handshake(1, client_hello_body(spec)), 0x0301);
}

TEST(TlsPlugin, Tls12HandshakeWithCertificateChainOutOfOrder) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  ASSERT_EQ(h.flow_state_size(), sizeof(wiremeter::tls::FlowState));
  EXPECT_LE(h.flow_state_size(), 12u);

  // The leaf expires 10 days after the handshake: "expiring" with the default 30 days.
  std::string leaf = make_certificate("www.example.org", {"www.example.org", "example.org"},
                                      kT0s - 80 * 86400, kT0s + 10 * 86400, "Example CA");
  std::string ca = make_certificate("Example CA", {}, kT0s - 1000 * 86400, kT0s + 3000 * 86400);
  std::string server_flight =
      record(22, handshake(2, server_hello_body({.cipher = 0xc02f, .alpn = "h2"})) +
                     handshake(11, certificate_body({leaf, ca})) + handshake(12, ske_body(0x17)) +
                     handshake(14, ""));

  Conn c;
  auto pkts = c.handshake();
  pkts.push_back(c.send(0, client_hello_record("www.example.org")));
  // The server's flight in three segments, delivered last, first, middle.
  size_t third = server_flight.size() / 3;
  BuiltPacket s1 = c.send(1, server_flight.substr(0, third));
  BuiltPacket s2 = c.send(1, server_flight.substr(third, third));
  BuiltPacket s3 = c.send(1, server_flight.substr(2 * third));
  pkts.push_back(std::move(s3));
  pkts.push_back(std::move(s1));
  pkts.push_back(std::move(s2));
  pkts.push_back(c.send(0, record(22, handshake(16, std::string(66, 'k'))) + record(20, u8(1)) +
                               record(22, std::string(40, 'f'))));
  run(h, pkts);
  // Not yet established: only the client has switched to encryption.
  EXPECT_NE(h.json().find("\"connections\":[]"), std::string::npos) << h.json();

  std::vector<BuiltPacket> finish;
  finish.push_back(c.send(1, record(20, u8(1)) + record(22, std::string(40, 'F'))));
  finish.push_back(c.send(0, record(23, std::string(100, 'a'))));  // after release: ignored
  run(h, finish);

  std::string json = h.json();
  std::string leaf_fp = fingerprint_hex(leaf), ca_fp = fingerprint_hex(ca);
  EXPECT_NE(json.find("\"server_name\":\"www.example.org\",\"version\":\"TLSv12\","
                      "\"client_version\":\"TLSv12\","
                      "\"cipher\":\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\","
                      "\"curve\":\"secp256r1\",\"alpn\":\"h2\",\"alpn_offered\":\"h2,http/1.1\","
                      "\"cipher_suites_offered\":3,\"resumed\":false,\"established\":true,"
                      "\"last_alert\":null,\"cert_chain_fps\":[\"" +
                      leaf_fp + "\",\"" + ca_fp + "\"],\"cert_chain_length\":2"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"certificate\":{\"subject\":\"CN=www.example.org,O=Test Org\","
                      "\"issuer\":\"CN=Example CA\",\"not_before\":\"2023-08-26T22:13:20Z\","
                      "\"not_after\":\"2023-11-24T22:13:20Z\",\"flags\":[\"expiring\"]},"
                      "\"sni_matches_cert\":true"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"handshakes\":1,\"established\":1,\"resumed\":0"), std::string::npos);

  auto samples = h.collect();
  EXPECT_EQ(metric(samples, "wiremeter_tls_handshakes_total", "version", "TLSv12"), 1);
  EXPECT_EQ(metric(samples, "wiremeter_tls_handshakes_total", "version", "TLSv13"), 0);
  EXPECT_EQ(metric(samples, "wiremeter_tls_cipher_handshakes_total", "cipher",
                   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            1);
  EXPECT_EQ(metric(samples, "wiremeter_tls_certificates"), 2);
  EXPECT_EQ(metric(samples, "wiremeter_tls_certificates_expiring"), 1);
  EXPECT_EQ(metric(samples, "wiremeter_tls_certificates_expired"), 0);
  EXPECT_EQ(metric(samples, "wiremeter_tls_certificate_handshakes_total", "flag", "expiring"), 1);
  EXPECT_EQ(
      metric(samples, "wiremeter_tls_certificate_expiry_seconds", "server_name", "www.example.org"),
      10 * 86400.0);

  // Views: the certificate list (soonest expiry first), its detail, the server names.
  auto [status, certs] = h.query("certificates", "size=1");
  EXPECT_EQ(status, 200);
  EXPECT_NE(certs.find("\"total\":2"), std::string::npos) << certs;
  EXPECT_NE(certs.find("\"sha256\":\"" + leaf_fp + "\""), std::string::npos) << certs;
  EXPECT_NE(certs.find("\"days_left\":10,\"flags\":[\"expiring\"],\"leaf_handshakes\":1,"
                       "\"chain_handshakes\":0,\"servers\":[\"www.example.org\"]"),
            std::string::npos)
      << certs;
  auto [st2, expiring] = h.query("certificates", "status=expiring");
  EXPECT_NE(expiring.find("\"total\":1"), std::string::npos) << expiring;
  auto [st3, detail] = h.query("certificates/" + ca_fp);
  EXPECT_EQ(st3, 200);
  EXPECT_NE(detail.find("\"series\":\"tls.cert." + ca_fp + ".handshakes_per_s\"}"),
            std::string::npos)
      << detail;
  EXPECT_EQ(certs.find("\"series\""), std::string::npos) << certs;  // the detail view's only
  EXPECT_NE(detail.find("\"subject\":\"CN=Example CA,O=Test Org\""), std::string::npos) << detail;
  EXPECT_NE(detail.find("\"chain_handshakes\":1"), std::string::npos) << detail;
  EXPECT_EQ(h.query("certificates/" + std::string(64, '0')).first, 404);
  EXPECT_EQ(h.query("certificates/xyz").first, 400);
  auto [st4, names] = h.query("server_names", "filter=example");
  EXPECT_NE(names.find("\"name\":\"www.example.org\",\"handshakes\":1,\"established\":1"),
            std::string::npos)
      << names;
  auto [st6, one] = h.query("server_names/WWW.example.org");
  EXPECT_EQ(st6, 200) << one;
  EXPECT_NE(one.find("{\"server_name\":{\"name\":\"www.example.org\""), std::string::npos) << one;
  EXPECT_NE(one.find("\"series\":\"tls.www.example.org.handshakes_per_s\"}"), std::string::npos)
      << one;
  EXPECT_EQ(h.query("server_names/nope.example").first, 404);
  h.tick(1'000'000'000);
  h.tick(2'000'000'000);
  EXPECT_EQ(host.series["www.example.org.handshakes_per_s"], std::vector<double>{0.0});
  // The viewed CA is graphed, the leaf (not viewed, no handshake in that second) is not.
  EXPECT_EQ(host.series["cert." + ca_fp + ".handshakes_per_s"], std::vector<double>{0.0});
  EXPECT_EQ(host.series.count("cert." + leaf_fp + ".handshakes_per_s"), 0u);
  auto [st5, conns] = h.query("connections", "flag=expiring&filter=www");
  EXPECT_NE(conns.find("\"total\":1"), std::string::npos) << conns;
  EXPECT_EQ(h.query("connections", "flag=bogus").first, 400);
  EXPECT_EQ(h.query("connections", "nope=1").first, 400);
}

// A TLS 1.2 handshake for `sni` whose server presents `chain`, up to ServerHelloDone.
void certificate_handshake(PluginHarness& h, const std::string& sni,
                           const std::vector<std::string>& chain, uint32_t worker = 0) {
  Conn c;
  auto pkts = c.handshake();
  pkts.push_back(c.send(0, client_hello_record(sni)));
  pkts.push_back(
      c.send(1, record(22, handshake(2, server_hello_body({.cipher = 0xc02f})) +
                               handshake(11, certificate_body(chain)) + handshake(14, ""))));
  run(h, pkts, worker);
  h.flow_end(worker, c.flow, c.state);
}

// Flows of one server name and certificate spread over the workers: the graphs count them all.
TEST(TlsPlugin, GraphsSumTheWorkers) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 2);
  std::string leaf =
      make_certificate("a.example.com", {"a.example.com"}, kT0s - 86400, kT0s + 300 * 86400);
  std::string cert = "cert." + fingerprint_hex(leaf) + ".handshakes_per_s";
  h.tick(1'000'000'000);
  certificate_handshake(h, "a.example.com", {leaf}, 0);
  certificate_handshake(h, "a.example.com", {leaf}, 1);
  certificate_handshake(h, "a.example.com", {leaf}, 1);
  h.tick(2'000'000'000);
  EXPECT_EQ(host.series["a.example.com.handshakes_per_s"], std::vector<double>{3.0});
  EXPECT_EQ(host.series[cert], std::vector<double>{3.0});
  certificate_handshake(h, "a.example.com", {leaf}, 1);
  h.tick(4'000'000'000);  // two seconds: one handshake is 0.5 a second
  EXPECT_EQ(host.series["a.example.com.handshakes_per_s"], (std::vector<double>{3.0, 0.5}));
  EXPECT_EQ(host.series[cert], (std::vector<double>{3.0, 0.5}));
  h.tick(5'000'000'000);  // quiet: the graphs go on at 0
  EXPECT_EQ(host.series[cert], (std::vector<double>{3.0, 0.5, 0.0}));
}

// Each second the ten busiest server names and certificates get a handshakes-per-second graph;
// a certificate whose detail view is opened gets one too, whatever its rank.
TEST(TlsPlugin, GraphsTheBusiestCertificatesAndServerNamesAndTheViewedOnes) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  std::string ca = make_certificate("Example CA", {}, kT0s - 1000 * 86400, kT0s + 3000 * 86400);
  std::vector<std::string> leaves, names;
  for (int i = 0; i < 12; ++i) {
    names.push_back("s" + std::to_string(i) + ".example.com");
    leaves.push_back(make_certificate(names.back(), {names.back()}, kT0s - 86400,
                                      kT0s + 300 * 86400, "Example CA"));
  }
  h.tick(1'000'000'000);
  // In the next two seconds, server i presents its certificate i + 1 times, always with the CA.
  for (int i = 0; i < 12; ++i) {
    for (int k = 0; k <= i; ++k)
      certificate_handshake(h, names[static_cast<size_t>(i)], {leaves[static_cast<size_t>(i)], ca});
  }
  h.tick(3'000'000'000);
  // The CA was in all 78 chains: the busiest certificate. Then leaves 11 .. 3.
  EXPECT_EQ(host.series["cert." + fingerprint_hex(ca) + ".handshakes_per_s"],
            std::vector<double>{39.0});
  size_t graphed_leaves = 0, graphed_names = 0;
  for (size_t i = 0; i < 12; ++i) {
    std::string cert = "cert." + fingerprint_hex(leaves[i]) + ".handshakes_per_s";
    std::string name = names[i] + ".handshakes_per_s";
    std::vector<double> rate{static_cast<double>(i + 1) / 2.0};
    if (i < 3) {
      EXPECT_EQ(host.series.count(cert), 0u) << names[i];
    } else {
      EXPECT_EQ(host.series[cert], rate) << names[i];
      ++graphed_leaves;
    }
    // The server names have no CA among them: names 11 .. 2 are the ten busiest.
    if (i < 2) {
      EXPECT_EQ(host.series.count(name), 0u) << names[i];
    } else {
      EXPECT_EQ(host.series[name], rate) << names[i];
      ++graphed_names;
    }
  }
  EXPECT_EQ(graphed_leaves, 9u);
  EXPECT_EQ(graphed_names, 10u);

  // Opening the quietest certificate's detail view graphs it from the next second on.
  std::string quiet = fingerprint_hex(leaves[0]);
  auto [status, detail] = h.query("certificates/" + quiet);
  EXPECT_EQ(status, 200) << detail;
  EXPECT_NE(detail.find("\"leaf_handshakes\":1,\"chain_handshakes\":0,"), std::string::npos)
      << detail;
  EXPECT_NE(detail.find("\"series\":\"tls.cert." + quiet + ".handshakes_per_s\"}"),
            std::string::npos)
      << detail;
  certificate_handshake(h, names[0], {leaves[0], ca});
  h.tick(4'000'000'000);
  EXPECT_EQ(host.series["cert." + quiet + ".handshakes_per_s"], std::vector<double>{1.0});
  EXPECT_EQ(host.series.count("cert." + fingerprint_hex(leaves[1]) + ".handshakes_per_s"), 0u);
  EXPECT_EQ(host.series["cert." + fingerprint_hex(ca) + ".handshakes_per_s"],
            (std::vector<double>{39.0, 1.0}));
}

TEST(TlsPlugin, Tls13HandshakeReleasesTheSlotAfterTheClientFinished) {
  FakeHost host;
  host.config = R"({"stream_slots": 1})";
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c;
  auto pkts = c.handshake();
  pkts.push_back(
      c.send(0, client_hello_record("api.example.net", std::string(32, 'x'), {0x0304, 0x0303})));
  pkts.push_back(
      c.send(1, record(22, handshake(2, server_hello_body({.cipher = 0x1301,
                                                           .session_id = std::string(32, 'x'),
                                                           .selected_version = 0x0304,
                                                           .key_share = 0x1d}))) +
                    record(20, u8(1)) + record(23, std::string(2000, 'e'))));
  pkts.push_back(c.send(0, record(20, u8(1)) + record(23, std::string(53, 'f'))));
  run(h, pkts);
  std::string json = h.json();
  // The echoed session id is middlebox compatibility, not resumption.
  EXPECT_NE(json.find("\"server_name\":\"api.example.net\",\"version\":\"TLSv13\","
                      "\"client_version\":\"TLSv13\",\"cipher\":\"TLS_AES_128_GCM_SHA256\","
                      "\"curve\":\"x25519\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"resumed\":false,\"established\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"certificate\":null,\"sni_matches_cert\":null"), std::string::npos);

  // The only slot is free again: a second handshake gets it.
  Conn d;
  auto more = d.handshake();
  more.push_back(d.send(0, client_hello_record("second.example.net")));
  run(h, more);
  h.flow_end(0, d.flow, d.state);
  json = h.json();
  EXPECT_NE(json.find("\"server_name\":\"second.example.net\",\"version\":null"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"slot_exhausted\":0"), std::string::npos) << json;
  EXPECT_NE(json.find("\"unfinished\":1"), std::string::npos) << json;
}

TEST(TlsPlugin, ResumptionFatalAlertsAndExhaustedSlots) {
  FakeHost host;
  host.config = R"({"stream_slots": 1, "expiring_days": 5})";
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn a, b;
  auto pkts = a.handshake();
  pkts.push_back(a.send(0, client_hello_record("old.example.com", std::string(32, 's'))));
  // b starts while a holds the only slot.
  for (auto& p : b.handshake()) pkts.push_back(std::move(p));
  pkts.push_back(b.send(0, client_hello_record("late.example.com")));
  // Abbreviated handshake: the server echoes the session id and goes straight to CCS.
  pkts.push_back(
      a.send(1, record(22, handshake(2, server_hello_body({.legacy_version = 0x0301,
                                                           .cipher = 0xc011,
                                                           .session_id = std::string(32, 's')}))) +
                    record(20, u8(1)) + record(22, std::string(40, 'F'))));
  pkts.push_back(a.send(0, record(20, u8(1)) + record(22, std::string(40, 'f'))));
  run(h, pkts);
  std::string json = h.json();
  EXPECT_NE(json.find("\"server_name\":\"old.example.com\",\"version\":\"TLSv10\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"cipher\":\"TLS_ECDHE_RSA_WITH_RC4_128_SHA\",\"curve\":null"),
            std::string::npos);
  EXPECT_NE(json.find("\"resumed\":true,\"established\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"slot_exhausted\":1"), std::string::npos) << json;

  // A server that refuses: fatal alert ends the reading.
  Conn c;
  auto refused = c.handshake();
  refused.push_back(c.send(0, client_hello_record("bad.example.com")));
  refused.push_back(c.send(1, record(21, u8(2) + u8(40))));
  run(h, refused);
  json = h.json();
  EXPECT_NE(json.find("\"server_name\":\"bad.example.com\",\"version\":null"), std::string::npos);
  EXPECT_NE(json.find("\"last_alert\":{\"from\":\"server\",\"level\":\"fatal\","
                      "\"description\":\"handshake_failure\"}"),
            std::string::npos)
      << json;
  EXPECT_EQ(metric(h.collect(), "wiremeter_tls_alerts_total", "description", "handshake_failure"),
            1);
}

TEST(TlsPlugin, ExpiredSelfSignedAndMismatchedCertificates) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  std::string cert = make_certificate("printer.local", {}, kT0s - 400 * 86400, kT0s - 86400);
  Conn c;
  auto pkts = c.handshake();
  pkts.push_back(c.send(0, client_hello_record("192-168-1-9.example.net")));
  pkts.push_back(
      c.send(1, record(22, handshake(2, server_hello_body({.cipher = 0x009c})) +
                               handshake(11, certificate_body({cert})) + handshake(14, ""))));
  run(h, pkts);
  h.flow_end(0, c.flow, c.state);
  std::string json = h.json();
  EXPECT_NE(json.find("\"flags\":[\"expired\",\"self_signed\",\"sni_mismatch\"]},"
                      "\"sni_matches_cert\":false"),
            std::string::npos)
      << json;
  auto [status, expired] = h.query("certificates", "status=expired");
  EXPECT_NE(expired.find("\"total\":1"), std::string::npos) << expired;
  EXPECT_NE(expired.find("\"days_left\":-1,"), std::string::npos) << expired;
  EXPECT_EQ(metric(h.collect(), "wiremeter_tls_certificates_expired"), 1);
}

TEST(TlsPlugin, OtherTcpTakesNoSlot) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  Conn c;
  auto pkts = c.handshake();
  pkts.push_back(c.send(0, "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"));
  pkts.push_back(c.send(1, "HTTP/1.1 200 OK\r\n\r\n"));
  run(h, pkts);
  h.flow_end(0, c.flow, c.state);
  std::string json = h.json();
  EXPECT_NE(json.find("\"not_tls\":1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"taken\":0"), std::string::npos) << json;
  EXPECT_NE(json.find("\"connections\":[]"), std::string::npos) << json;
}

TEST(TlsPlugin, RefusesBadSettings) {
  FakeHost host;
  host.config = R"({"stream_bytes": 10})";
  EXPECT_THROW(PluginHarness(wiremeter_plugin_register(), host), std::exception);
  host.config = R"({"strem_slots": 10})";
  EXPECT_THROW(PluginHarness(wiremeter_plugin_register(), host), std::exception);
  EXPECT_EQ(wiremeter::tls::parse_config(R"({ "expiring_days" : 14 })").expiring_days, 14u);
}

}  // namespace
