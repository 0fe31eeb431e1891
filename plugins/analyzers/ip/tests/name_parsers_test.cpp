// Tests of the passive name readers: DNS answers with CNAME chains and compression, mDNS
// announcements, DHCP host name / FQDN options and the TLS ClientHello server_name, and how each
// one treats broken and cut input.
#include "name_parsers.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace wiremeter::ip {
namespace {

using Bytes = std::vector<uint8_t>;

struct Collect final : NameSink {
  std::vector<std::pair<std::string, std::string>> got;  // (address text, name)
  void on_name(uint8_t version, const uint8_t* addr, std::string_view name) noexcept override {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(version == 4 ? AF_INET : AF_INET6, addr, buf, sizeof buf);
    got.emplace_back(buf, std::string(name));
  }
};

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put_name(Bytes& b, const std::string& dotted) {
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    b.push_back(static_cast<uint8_t>(dot - start));
    b.insert(b.end(), dotted.begin() + static_cast<long>(start),
             dotted.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
}
Bytes header(uint16_t flags, uint16_t qd, uint16_t an) {
  Bytes b;
  put16(b, 0x1234);
  put16(b, flags);
  put16(b, qd);
  put16(b, an);
  put16(b, 0);
  put16(b, 0);
  return b;
}
// A record whose owner is the compression pointer `owner_ptr` (or a name when ptr is 0).
void put_rr(Bytes& b, uint16_t owner_ptr, const std::string& owner, uint16_t type,
            const Bytes& rdata, uint16_t rclass = 1) {
  if (owner_ptr) {
    put16(b, static_cast<uint16_t>(0xc000 | owner_ptr));
  } else {
    put_name(b, owner);
  }
  put16(b, type);
  put16(b, rclass);
  put16(b, 0);
  put16(b, 300);
  put16(b, static_cast<uint16_t>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
}

// www.Example.com A -> CNAME cdn.example.net (answer order reversed), A 192.0.2.7, A 192.0.2.8;
// plus an unrelated A record under its own name.
Bytes cname_response() {
  Bytes b = header(0x8180, 1, 4);
  put_name(b, "www.Example.com");  // at offset 12
  put16(b, 1);
  put16(b, 1);
  Bytes target;
  put_name(target, "cdn.example.net");
  size_t cdn_owner = 0;
  // The A records of the CNAME target first: the chain must work in any order.
  Bytes a1 = {192, 0, 2, 7}, a2 = {192, 0, 2, 8}, a3 = {198, 51, 100, 1};
  cdn_owner = b.size();
  put_rr(b, 0, "cdn.example.net", 1, a1);
  put_rr(b, static_cast<uint16_t>(cdn_owner), "", 1, a2);
  put_rr(b, 12, "", 5, target);
  put_rr(b, 0, "other.example.org", 1, a3);
  return b;
}

TEST(DnsNames, CnameChainGivesTheQueriedName) {
  Bytes m = cname_response();
  Collect c;
  EXPECT_EQ(parse_dns_names(m.data(), m.size(), c), Parse::kOk);
  ASSERT_EQ(c.got.size(), 3u);
  EXPECT_EQ(c.got[0], (std::pair<std::string, std::string>{"192.0.2.7", "www.example.com"}));
  EXPECT_EQ(c.got[1], (std::pair<std::string, std::string>{"192.0.2.8", "www.example.com"}));
  EXPECT_EQ(c.got[2], (std::pair<std::string, std::string>{"198.51.100.1", "other.example.org"}));
}

TEST(DnsNames, AaaaAndMdnsAnnouncementWithoutQuestion) {
  Bytes b = header(0x8400, 0, 1);
  Bytes v6(16, 0);
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[2] = 0x0d;
  v6[3] = 0xb8;
  v6[15] = 1;
  put_rr(b, 0, "gemini.local", 28, v6, 0x8001);  // cache-flush bit
  Collect c;
  EXPECT_EQ(parse_dns_names(b.data(), b.size(), c), Parse::kOk);
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0].first, "2001:db8::1");
  EXPECT_EQ(c.got[0].second, "gemini.local");
}

TEST(DnsNames, QueriesAndErrorsTeachNothing) {
  Collect c;
  Bytes q = header(0x0100, 1, 0);
  put_name(q, "example.com");
  put16(q, 1);
  put16(q, 1);
  EXPECT_EQ(parse_dns_names(q.data(), q.size(), c), Parse::kIgnored);
  Bytes nx = cname_response();
  nx[3] = 0x83;  // NXDOMAIN
  EXPECT_EQ(parse_dns_names(nx.data(), nx.size(), c), Parse::kIgnored);
  EXPECT_TRUE(c.got.empty());
}

TEST(DnsNames, CutAndBrokenMessages) {
  Bytes m = cname_response();
  Collect c;
  EXPECT_EQ(parse_dns_names(m.data(), 11, c), Parse::kTruncated);
  // Cut inside the second answer: the first complete one still counts, the result says cut.
  Collect cut;
  EXPECT_EQ(parse_dns_names(m.data(), m.size() - 30, cut), Parse::kTruncated);
  EXPECT_FALSE(cut.got.empty());
  // A question name that points at itself.
  Bytes loop = header(0x8180, 1, 0);
  put16(loop, 0xc00c);
  put16(loop, 1);
  put16(loop, 1);
  EXPECT_EQ(parse_dns_names(loop.data(), loop.size(), c), Parse::kMalformed);
  // Every prefix of a valid message is read without going past its end (ASan checks).
  for (size_t n = 0; n < m.size(); ++n) {
    Bytes prefix(m.begin(), m.begin() + static_cast<long>(n));
    Collect any;
    parse_dns_names(prefix.data(), prefix.size(), any);
  }
}

Bytes dhcp(uint8_t op, uint8_t type, const Bytes& options, const uint8_t yiaddr[4] = nullptr) {
  Bytes b(240, 0);
  b[0] = op;
  b[1] = 1;
  b[2] = 6;
  if (yiaddr) std::copy(yiaddr, yiaddr + 4, b.begin() + 16);
  b[236] = 99;
  b[237] = 130;
  b[238] = 83;
  b[239] = 99;
  b.insert(b.end(), {53, 1, type});
  b.insert(b.end(), options.begin(), options.end());
  b.push_back(255);
  return b;
}

TEST(DhcpNames, RequestNamesItsRequestedAddress) {
  Bytes opts = {12, 6, 'M', 'y', 'H', 'o', 's', 't', 50, 4, 128, 2, 6, 189};
  Bytes m = dhcp(1, 3, opts);
  Collect c;
  EXPECT_EQ(parse_dhcp_name(m.data(), m.size(), c), Parse::kOk);
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0], (std::pair<std::string, std::string>{"128.2.6.189", "myhost"}));
}

TEST(DhcpNames, AckWithWireFormatFqdn) {
  // Option 81, flags E|S, then "laptop.example.org" in DNS wire format.
  Bytes fqdn = {81, 0, 0x05, 0, 0};
  Bytes wire;
  put_name(wire, "laptop.example.org");
  fqdn.insert(fqdn.end(), wire.begin(), wire.end());
  fqdn[1] = static_cast<uint8_t>(fqdn.size() - 2);
  const uint8_t yi[4] = {10, 0, 0, 42};
  Bytes m = dhcp(2, 5, fqdn, yi);
  Collect c;
  EXPECT_EQ(parse_dhcp_name(m.data(), m.size(), c), Parse::kOk);
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0], (std::pair<std::string, std::string>{"10.0.0.42", "laptop.example.org"}));
}

TEST(DhcpNames, DeclineNakAndBrokenOptions) {
  Bytes opts = {12, 3, 'p', 'c', '1', 50, 4, 10, 0, 0, 1};
  Collect c;
  Bytes decline = dhcp(1, 4, opts);
  EXPECT_EQ(parse_dhcp_name(decline.data(), decline.size(), c), Parse::kIgnored);
  Bytes no_addr = dhcp(1, 1, {12, 3, 'p', 'c', '1'});
  EXPECT_EQ(parse_dhcp_name(no_addr.data(), no_addr.size(), c), Parse::kIgnored);
  EXPECT_TRUE(c.got.empty());
  Bytes m = dhcp(1, 3, opts);
  m.pop_back();  // no end option
  m.push_back(12);
  m.push_back(200);  // an option longer than the message
  EXPECT_EQ(parse_dhcp_name(m.data(), m.size(), c), Parse::kTruncated);
  EXPECT_EQ(c.got.size(), 1u);  // the name and address before the cut still count
  Bytes bad(240, 0);
  bad[0] = 9;
  EXPECT_EQ(parse_dhcp_name(bad.data(), bad.size(), c), Parse::kMalformed);
  EXPECT_EQ(parse_dhcp_name(bad.data(), 100, c), Parse::kTruncated);
}

// A ClientHello record with the given extensions block.
Bytes client_hello(const Bytes& extensions) {
  Bytes body = {0x03, 0x03};
  body.insert(body.end(), 32, 0xab);                              // random
  body.push_back(0);                                              // session id
  body.insert(body.end(), {0x00, 0x02, 0x13, 0x01, 0x01, 0x00});  // one suite, null compression
  put16(body, static_cast<uint16_t>(extensions.size()));
  body.insert(body.end(), extensions.begin(), extensions.end());
  Bytes hs = {0x01, 0, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  hs.insert(hs.end(), body.begin(), body.end());
  Bytes rec = {0x16, 0x03, 0x01};
  put16(rec, static_cast<uint16_t>(hs.size()));
  rec.insert(rec.end(), hs.begin(), hs.end());
  return rec;
}

Bytes sni_extension(const std::string& name) {
  Bytes e;
  put16(e, 0x000a);  // supported_groups first: SNI need not be the first extension
  put16(e, 4);
  put16(e, 2);
  put16(e, 0x001d);
  put16(e, 0);
  put16(e, static_cast<uint16_t>(name.size() + 5));
  put16(e, static_cast<uint16_t>(name.size() + 3));
  e.push_back(0);
  put16(e, static_cast<uint16_t>(name.size()));
  e.insert(e.end(), name.begin(), name.end());
  return e;
}

TEST(TlsSni, ReadsServerName) {
  Bytes m = client_hello(sni_extension("Www.Example.COM"));
  char out[kMaxName + 1];
  size_t n = 0;
  EXPECT_EQ(parse_tls_sni(m.data(), m.size(), out, n), Parse::kOk);
  EXPECT_EQ(std::string(out, n), "www.example.com");
}

TEST(TlsSni, NoSniCutAndBroken) {
  char out[kMaxName + 1];
  size_t n = 0;
  Bytes none = client_hello({});
  EXPECT_EQ(parse_tls_sni(none.data(), none.size(), out, n), Parse::kIgnored);
  Bytes m = client_hello(sni_extension("example.com"));
  // Cut by TCP segmentation: inside the extension.
  EXPECT_EQ(parse_tls_sni(m.data(), m.size() - 4, out, n), Parse::kTruncated);
  // Not a handshake record, or a ServerHello.
  Bytes app = m;
  app[0] = 0x17;
  EXPECT_EQ(parse_tls_sni(app.data(), app.size(), out, n), Parse::kIgnored);
  Bytes server = m;
  server[5] = 0x02;
  EXPECT_EQ(parse_tls_sni(server.data(), server.size(), out, n), Parse::kIgnored);
  // A server_name list longer than its extension.
  Bytes broken = m;
  broken[broken.size() - 15] = 0xff;  // list length low byte
  EXPECT_EQ(parse_tls_sni(broken.data(), broken.size(), out, n), Parse::kMalformed);
  for (size_t k = 0; k < m.size(); ++k) {
    Bytes prefix(m.begin(), m.begin() + static_cast<long>(k));
    parse_tls_sni(prefix.data(), prefix.size(), out, n);
    EXPECT_EQ(n, 0u);
  }
}

TEST(CleanName, PrintableLowercaseBounded) {
  const uint8_t in[] = {'A', 'b', ' ', 0xc3, 0xa9, '\n', 'Z'};
  char out[kMaxName + 1];
  EXPECT_EQ(clean_name(in, sizeof in, true, out), sizeof in);
  EXPECT_STREQ(out, "ab???\?z");
  std::string big(400, 'x');
  EXPECT_EQ(clean_name(reinterpret_cast<const uint8_t*>(big.data()), big.size(), false, out),
            kMaxName);
}

}  // namespace
}  // namespace wiremeter::ip
