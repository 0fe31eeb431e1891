#include "tls_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tls_names.hpp"
#include "tls_test_util.hpp"
#include "x509.hpp"

namespace {

using namespace wiremeter::tls;
using namespace tls_test;

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(TlsNames, NamesAsZeekWritesThem) {
  char buf[32];
  EXPECT_EQ(version_name(0x0301, buf, sizeof buf), "TLSv10");
  EXPECT_EQ(version_name(0x0304, buf, sizeof buf), "TLSv13");
  EXPECT_EQ(version_name(0x7f17, buf, sizeof buf), "TLSv13-draft23");
  EXPECT_EQ(version_name(0x1234, buf, sizeof buf), "unknown-4660");
  EXPECT_EQ(cipher_name(0xc011, buf, sizeof buf), "TLS_ECDHE_RSA_WITH_RC4_128_SHA");
  EXPECT_EQ(cipher_name(0x1301, buf, sizeof buf), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(group_name(0x17, buf, sizeof buf), "secp256r1");
  EXPECT_EQ(group_name(0x1d, buf, sizeof buf), "x25519");
  EXPECT_EQ(alert_name(40, buf, sizeof buf), "handshake_failure");
  EXPECT_TRUE(cipher_uses_ecdhe(0xc02f));
  EXPECT_FALSE(cipher_uses_ecdhe(0x009c));  // TLS_RSA_WITH_AES_128_GCM_SHA256
  EXPECT_TRUE(is_grease(0x0a0a));
  EXPECT_TRUE(is_grease(0xfafa));
  EXPECT_FALSE(is_grease(0x0a1a));
}

TEST(TlsParser, ClientHelloFields) {
  ClientHelloSpec spec;
  spec.sni = "WWW.Example.ORG";
  spec.alpn = {"h2", "http/1.1"};
  spec.versions = {0x2a2a, 0x0304, 0x0303};
  spec.groups = {0x3a3a, 0x1d, 0x17};
  spec.session_id = std::string(32, 'i');
  ClientHello ch;
  std::string body = client_hello_body(spec);
  ASSERT_EQ(parse_client_hello(bytes(body), ch), Malformed::kNone);
  EXPECT_EQ(ch.legacy_version, 0x0303);
  EXPECT_EQ(ch.max_supported_version, 0x0304);
  EXPECT_EQ(std::string(ch.sni, ch.sni_len), "www.example.org");
  EXPECT_EQ(std::string(ch.alpn, ch.alpn_len), "h2,http/1.1");
  EXPECT_EQ(ch.cipher_count, 3);  // GREASE not counted
  ASSERT_EQ(ch.group_count, 2);
  EXPECT_EQ(ch.groups[0], 0x1d);
  EXPECT_EQ(ch.session_id_len, 32);
  // Every cut of the message is malformed, never a read past its end; except the one right
  // before the extensions, which is a valid hello without extensions (SSL 3.0 style).
  size_t no_extensions = 2 + 32 + 1 + 32 + 2 + 2 * spec.suites.size() + 2;
  for (size_t n = 0; n < body.size(); ++n) {
    if (n == no_extensions) continue;
    ClientHello cut;
    EXPECT_NE(parse_client_hello(bytes(body.substr(0, n)), cut), Malformed::kNone) << n;
  }
}

TEST(TlsParser, ServerHelloVersionsAndHelloRetryRequest) {
  ServerHello sh;
  ServerHelloSpec tls13{
      .cipher = 0x1301, .selected_version = 0x0304, .key_share = 0x1d, .alpn = "h2"};
  ASSERT_EQ(parse_server_hello(bytes(server_hello_body(tls13)), sh), Malformed::kNone);
  EXPECT_EQ(sh.version(), 0x0304);
  EXPECT_EQ(sh.legacy_version, 0x0303);
  EXPECT_EQ(sh.cipher, 0x1301);
  EXPECT_EQ(sh.key_share_group, 0x1d);
  EXPECT_EQ(std::string(sh.alpn, sh.alpn_len), "h2");
  EXPECT_FALSE(sh.hello_retry_request);

  ServerHelloSpec hrr = tls13;
  hrr.hello_retry = true;
  hrr.key_share = 0x17;
  ASSERT_EQ(parse_server_hello(bytes(server_hello_body(hrr)), sh), Malformed::kNone);
  EXPECT_TRUE(sh.hello_retry_request);
  EXPECT_EQ(sh.key_share_group, 0x17);

  ServerHelloSpec tls10{.legacy_version = 0x0301, .cipher = 0xc011};
  ASSERT_EQ(parse_server_hello(bytes(server_hello_body(tls10)), sh), Malformed::kNone);
  EXPECT_EQ(sh.version(), 0x0301);
}

TEST(TlsParser, CertificateListsInBothForms) {
  std::string a(100, 'a'), b(50, 'b');
  CertificateList list;
  std::string tls12 = certificate_body({a, b});  // the list points into it: keep it alive
  ASSERT_EQ(parse_certificate(bytes(tls12), false, list), Malformed::kNone);
  ASSERT_EQ(list.count, 2);
  EXPECT_EQ(list.der[0].size(), 100u);
  EXPECT_EQ(list.der[1][0], 'b');
  // TLS 1.3: a request context and per-entry extensions.
  std::string tls13 = vec8("") + vec24(vec24(a) + vec16("") + vec24(b) + vec16(""));
  ASSERT_EQ(parse_certificate(bytes(tls13), true, list), Malformed::kNone);
  EXPECT_EQ(list.count, 2);
  // A list that claims more than is there.
  std::string bad = u24(500) + vec24(a);
  EXPECT_EQ(parse_certificate(bytes(bad), false, list), Malformed::kCertificate);
}

// Collects what the walker reports.
struct Recorder : RecordEvents {
  std::vector<std::pair<uint8_t, std::string>> messages;
  int ccs = 0, encrypted = 0;
  std::vector<Malformed> malformed;
  void on_handshake(uint8_t type, std::span<const uint8_t> body) noexcept override {
    messages.emplace_back(type, std::string(body.begin(), body.end()));
  }
  void on_change_cipher_spec() noexcept override { ++ccs; }
  void on_alert(uint8_t, uint8_t) noexcept override {}
  void on_encrypted_record(uint8_t) noexcept override { ++encrypted; }
  void on_malformed(Malformed m) noexcept override { malformed.push_back(m); }
};

TEST(TlsRecordWalker, MessagesSpanningRecordsAndRecordsSpanningSegments) {
  std::string cert_msg = handshake(kCertificateType, std::string(3000, 'c'));
  std::string hello = handshake(kServerHelloType, "hello");
  std::string done = handshake(kServerHelloDone, "");
  // ServerHello and the first part of the Certificate in one record, the rest in two more, then
  // ServerHelloDone, a ChangeCipherSpec and an encrypted Finished.
  std::string stream = record(kHandshake, hello + cert_msg.substr(0, 1000)) +
                       record(kHandshake, cert_msg.substr(1000, 1001)) +
                       record(kHandshake, cert_msg.substr(2001) + done) +
                       record(kChangeCipherSpec, u8(1)) + record(kHandshake, "encrypted!");
  std::vector<uint8_t> scratch(8192);
  RecordWalker walker(scratch.data(), 8192);
  // Fed one byte more at a time: the result is the same as all at once.
  DirectionState st{};
  Recorder rec;
  for (size_t n = 1; n <= stream.size(); ++n)
    walker.walk(bytes(stream.substr(0, n)), false, st, rec);
  ASSERT_EQ(rec.messages.size(), 3u);
  EXPECT_EQ(rec.messages[0], std::make_pair(kServerHelloType, std::string("hello")));
  EXPECT_EQ(rec.messages[1].first, kCertificateType);
  EXPECT_EQ(rec.messages[1].second, std::string(3000, 'c'));
  EXPECT_EQ(rec.messages[2].first, kServerHelloDone);
  EXPECT_EQ(rec.ccs, 1);
  EXPECT_EQ(rec.encrypted, 1);
  EXPECT_TRUE(rec.malformed.empty());
  EXPECT_EQ(st.records, 5u);
}

TEST(TlsRecordWalker, StopsAtGarbageAndAtRecordsLongerThanTheBuffer) {
  std::vector<uint8_t> scratch(1024);
  RecordWalker walker(scratch.data(), 1024);
  DirectionState st{};
  Recorder rec;
  walker.walk(bytes("GET / HTTP/1.1\r\n"), false, st, rec);
  ASSERT_EQ(rec.malformed.size(), 1u);
  EXPECT_EQ(rec.malformed[0], Malformed::kRecordType);
  EXPECT_TRUE(st.stopped);

  DirectionState big{};
  std::string huge = record(kHandshake, handshake(kCertificateType, std::string(2000, 'x')));
  walker.walk(bytes(huge.substr(0, 1024)), true, big, rec);
  EXPECT_TRUE(big.stopped);
  EXPECT_TRUE(big.truncated);
}

TEST(TlsRecordWalker, RecognizesAClientHello) {
  std::string ch = record(kHandshake, handshake(kClientHelloType, client_hello_body({})), 0x0301);
  EXPECT_TRUE(looks_like_client_hello(bytes(ch)));
  EXPECT_TRUE(looks_like_client_hello(bytes(ch.substr(0, 3))));
  EXPECT_FALSE(looks_like_client_hello(bytes("SSH-2.0-OpenSSH")));
  EXPECT_FALSE(
      looks_like_client_hello(bytes(record(kHandshake, handshake(kServerHelloType, "x")))));
}

TEST(X509, ReadsSubjectIssuerValidityNamesAndFingerprint) {
  std::string der = make_certificate("www.example.org", {"example.org", "*.cdn.example.org"},
                                     1'600'000'000, 1'700'000'000, "Example CA");
  CertInfo c;
  parse_certificate_der(bytes(der), c);
  ASSERT_TRUE(c.parsed);
  EXPECT_EQ(c.subject_view(), "CN=www.example.org,O=Test Org");
  EXPECT_EQ(c.issuer_view(), "CN=Example CA");
  EXPECT_EQ(c.not_before, 1'600'000'000);
  EXPECT_EQ(c.not_after, 1'700'000'000);
  EXPECT_FALSE(c.self_signed);
  std::vector<std::string> names;
  c.for_each_name([&](std::string_view n) { names.emplace_back(n); });
  EXPECT_EQ(names,
            (std::vector<std::string>{"www.example.org", "example.org", "*.cdn.example.org"}));
  std::string fp;
  for (uint8_t b : c.sha256) {
    char h[3];
    std::snprintf(h, sizeof h, "%02x", b);
    fp += h;
  }
  EXPECT_EQ(fp, fingerprint_hex(der));

  EXPECT_TRUE(certificate_matches_host(c, "www.example.org"));
  EXPECT_TRUE(certificate_matches_host(c, "img.cdn.example.org"));
  EXPECT_FALSE(certificate_matches_host(c, "a.b.cdn.example.org"));  // one label only
  EXPECT_FALSE(certificate_matches_host(c, "cdn.example.org"));
  EXPECT_FALSE(certificate_matches_host(c, "www.example.com"));

  CertInfo self;
  parse_certificate_der(bytes(make_certificate("router.local", {}, 0, 2'000'000'000)), self);
  EXPECT_TRUE(self.self_signed);

  CertInfo junk;
  parse_certificate_der(bytes(std::string(40, 'j')), junk);
  EXPECT_FALSE(junk.parsed);
}

}  // namespace
