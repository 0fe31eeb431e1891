// tls: the control plane: merged tables, the JSON report, REST views and metrics.
#include "tls_plugin.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace wiremeter::tls {
namespace {

// Unix seconds with microseconds, exact in a double.
double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

std::string version_text(uint16_t v) {
  char buf[32];
  return std::string(version_name(v, buf, sizeof buf));
}
std::string cipher_text(uint16_t s) {
  char buf[32];
  return std::string(cipher_name(s, buf, sizeof buf));
}
std::string group_text(uint16_t g) {
  char buf[32];
  return std::string(group_name(g, buf, sizeof buf));
}
std::string alert_text(uint8_t d) {
  char buf[32];
  return std::string(alert_name(d, buf, sizeof buf));
}

// "2020-03-16T01:17:28Z"
std::string iso_time(int64_t s) {
  time_t t = static_cast<time_t>(s);
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The certificate graphs' key: "tls.cert.<sha256>.handshakes_per_s" is the series. The prefix
// keeps them apart from the server names' series, which share the plugin's namespace.
std::string cert_series_key(const std::string& sha256) { return "cert." + sha256; }

// "cert.<64 hex digits>" -> the 32 raw bytes of the SHA-256; false when it is not one.
bool cert_sha256_of_key(const std::string& key, std::string& sha256) {
  constexpr std::string_view kPrefix = "cert.";
  if (key.size() != kPrefix.size() + 64 || !key.starts_with(kPrefix)) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  sha256.assign(32, '\0');
  for (size_t i = 0; i < 32; ++i) {
    int high = digit(key[kPrefix.size() + 2 * i]), low = digit(key[kPrefix.size() + 2 * i + 1]);
    if (high < 0 || low < 0) return false;
    sha256[i] = static_cast<char>(high << 4 | low);
  }
  return true;
}

// Hands `series` the per-second counts of the top() busiest entities of `last_second` (entity
// -> its count over the last `dt` seconds) and of every key it graphs (0 when quiet): the keys
// of the others are never formatted. key_of(entity) is its key, entity_of(key, entity) reads
// one back.
template <typename KeyOf, typename EntityOf>
void feed_rates(const Host& host, uint64_t now_ns, double dt, TopSeries& series,
                const std::unordered_map<std::string, uint64_t>& last_second, KeyOf&& key_of,
                EntityOf&& entity_of) {
  std::vector<std::pair<uint64_t, const std::string*>> busy;
  busy.reserve(last_second.size());
  for (const auto& [entity, n] : last_second) busy.emplace_back(n, &entity);
  size_t top = std::min(busy.size(), series.top());
  std::partial_sort(busy.begin(), busy.begin() + static_cast<std::ptrdiff_t>(top), busy.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : *a.second < *b.second;
                    });
  std::vector<std::pair<std::string, double>> per_second;
  std::unordered_set<std::string> listed;
  for (size_t i = 0; i < top; ++i) {
    per_second.emplace_back(key_of(*busy[i].second), static_cast<double>(busy[i].first) / dt);
    listed.insert(per_second.back().first);
  }
  std::string entity;
  for (std::string& key : series.graphed_keys()) {
    if (listed.count(key)) continue;
    double rate = 0;
    if (entity_of(key, entity)) {
      auto it = last_second.find(entity);
      if (it != last_second.end()) rate = static_cast<double>(it->second) / dt;
    }
    per_second.emplace_back(std::move(key), rate);
  }
  series.update_rates(host, now_ns, std::move(per_second));
}

void write_flags(JsonWriter& w, uint8_t flags) {
  w.key("flags").begin_array();
  for (size_t b = 0; b < kCertFlagCount; ++b) {
    if (flags & (1u << b)) w.value(cert_flag_name(b));
  }
  w.end_array();
}

// Optional string fields are null when unknown, as Zeek's "-".
void field_or_null(JsonWriter& w, std::string_view key, bool known, const std::string& value) {
  w.key(key);
  if (known) {
    w.value(value);
  } else {
    w.null();
  }
}

void write_connection(JsonWriter& w, const Connection& c) {
  w.begin_object()
      .field("ts", seconds(c.ts_ns))
      .field("client", format_addr(c.client))
      .field("client_port", c.client_port)
      .field("server", format_addr(c.server))
      .field("server_port", c.server_port);
  field_or_null(w, "server_name", c.sni_len > 0, std::string(c.sni, c.sni_len));
  field_or_null(w, "version", c.has_server_hello, version_text(c.version));
  field_or_null(w, "client_version", c.has_client_hello, version_text(c.client_version));
  field_or_null(w, "cipher", c.has_server_hello, cipher_text(c.cipher));
  field_or_null(w, "curve", c.curve != 0, group_text(c.curve));
  field_or_null(w, "alpn", c.alpn[0] != '\0', c.alpn);
  field_or_null(w, "alpn_offered", c.alpn_offered[0] != '\0', c.alpn_offered);
  w.field("cipher_suites_offered", c.cipher_count)
      .field("resumed", c.resumed)
      .field("established", c.established);
  w.key("last_alert");
  if (c.alert) {
    w.begin_object()
        .field("from", c.alert_from_server ? "server" : "client")
        .field("level", c.alert_level == 2 ? "fatal" : "warning")
        .field("description", alert_text(c.alert_description))
        .end_object();
  } else {
    w.null();
  }
  w.key("cert_chain_fps").begin_array();
  for (uint8_t i = 0; i < c.chain_kept; ++i) w.value(hex(c.chain[i].data(), 32));
  w.end_array();
  w.field("cert_chain_length", c.chain_length);
  w.key("certificate");
  if (c.has_certificate) {
    w.begin_object()
        .field("subject", c.subject)
        .field("issuer", c.issuer)
        .field("not_before", iso_time(c.not_before))
        .field("not_after", iso_time(c.not_after));
    write_flags(w, c.cert_flags);
    w.end_object();
  } else {
    w.null();
  }
  w.key("sni_matches_cert");
  if (c.sni_matches_cert < 0) {
    w.null();
  } else {
    w.value(c.sni_matches_cert == 1);
  }
  w.end_object();
}

void write_server_name(JsonWriter& w, const Plugin::ServerNameRow& r) {
  const ServerNameEntry& s = r.stats;
  w.begin_object()
      .field("name", r.name)
      .field("handshakes", s.handshakes)
      .field("established", s.established)
      .field("resumed", s.resumed)
      .field("alerts", s.alerts);
  w.key("versions").begin_object();
  for (size_t v = 0; v < kVersionSlots; ++v) {
    if (s.versions[v]) w.field(version_slot_name(static_cast<VersionSlot>(v)), s.versions[v]);
  }
  w.end_object();
  field_or_null(w, "last_version", s.last_version != 0, version_text(s.last_version));
  field_or_null(w, "last_cipher", s.last_version != 0, cipher_text(s.last_cipher));
  field_or_null(w, "certificate", s.has_certificate, hex(s.certificate_sha256, 32));
  write_flags(w, s.certificate_flags);
  w.field("first_seen", seconds(s.first_ns)).field("last_seen", seconds(s.last_ns)).end_object();
}

// `detail`: the certificate's detail view adds its names, raw validity and graph.
void write_certificate(JsonWriter& w, const Plugin::CertificateRow& r, bool detail) {
  const CertificateEntry& e = r.entry;
  const CertInfo& i = e.info;
  w.begin_object()
      .field("sha256", r.sha256)
      .field("subject", i.subject_view())
      .field("issuer", i.issuer_view());
  field_or_null(w, "not_before", i.parsed, iso_time(i.not_before));
  field_or_null(w, "not_after", i.parsed, iso_time(i.not_after));
  w.key("days_left");
  if (i.parsed) {
    w.value(r.days_left);
  } else {
    w.null();
  }
  write_flags(w, r.flags);
  w.field("leaf_handshakes", e.leaf_handshakes).field("chain_handshakes", e.chain_handshakes);
  w.key("servers").begin_array();
  for (const std::string& s : r.servers) w.value(s);
  w.end_array();
  w.field("first_seen", seconds(e.first_ns)).field("last_seen", seconds(e.last_ns));
  if (detail) {
    w.key("names").begin_array();
    i.for_each_name([&](std::string_view n) { w.value(n); });
    w.end_array();
    w.field("names_truncated", i.names_truncated).field("servers_truncated", e.servers_truncated);
    w.field("not_before_unix", i.not_before).field("not_after_unix", i.not_after);
    w.field("series", "tls." + cert_series_key(r.sha256) + ".handshakes_per_s");
  }
  w.end_object();
}

bool valid_hex_fingerprint(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

constexpr const char* kSniMatchNames[3] = {"unknown", "no", "yes"};

}  // namespace

std::string format_addr(const Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.version == 4) {
    inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf);
  } else if (a.version == 6) {
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

std::string hex(const uint8_t* data, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

Plugin::Plugin(Host& host)
    : host_(host),
      config_(parse_config(host.config_json())),
      handshakes_id_(host.register_metric(
          "wiremeter_tls_handshakes_total",
          "TLS handshakes with a ServerHello, by negotiated version.", WM_METRIC_COUNTER)),
      client_hellos_id_(host.register_metric("wiremeter_tls_client_hellos_total",
                                             "TLS ClientHellos read.", WM_METRIC_COUNTER)),
      established_id_(host.register_metric(
          "wiremeter_tls_established_total",
          "TLS connections that reached encrypted application data on both sides.",
          WM_METRIC_COUNTER)),
      resumed_id_(host.register_metric("wiremeter_tls_resumed_total",
                                       "TLS handshakes that resumed an earlier session.",
                                       WM_METRIC_COUNTER)),
      cipher_id_(host.register_metric(
          "wiremeter_tls_cipher_handshakes_total",
          "TLS handshakes per negotiated cipher suite (the 20 most used, the rest as \"other\").",
          WM_METRIC_COUNTER)),
      alerts_id_(host.register_metric("wiremeter_tls_alerts_total",
                                      "TLS alerts seen in plaintext, by description.",
                                      WM_METRIC_COUNTER)),
      malformed_id_(host.register_metric(
          "wiremeter_tls_malformed_total",
          "TLS streams whose reading stopped at malformed input, by reason.", WM_METRIC_COUNTER)),
      events_id_(host.register_metric(
          "wiremeter_tls_events_total",
          "TLS reading events: flows not TLS, no stream slot free, handshakes longer than the "
          "stream buffer, HelloRetryRequests, flows that ended mid-handshake.",
          WM_METRIC_COUNTER)),
      cert_flags_id_(host.register_metric(
          "wiremeter_tls_certificate_handshakes_total",
          "TLS handshakes whose server certificate had a condition (expired, expiring, "
          "not_yet_valid, self_signed, sni_mismatch, unparsed).",
          WM_METRIC_COUNTER)),
      certs_id_(host.register_metric("wiremeter_tls_certificates", "Distinct certificates seen.",
                                     WM_METRIC_GAUGE)),
      certs_expiring_id_(host.register_metric(
          "wiremeter_tls_certificates_expiring",
          "Server certificates that expire within the expiring_days setting of when they were "
          "last seen.",
          WM_METRIC_GAUGE)),
      certs_expired_id_(host.register_metric(
          "wiremeter_tls_certificates_expired",
          "Server certificates that had expired when they were last seen.", WM_METRIC_GAUGE)),
      expiry_id_(host.register_metric(
          "wiremeter_tls_certificate_expiry_seconds",
          "Time from when a server certificate was last seen to its notAfter (negative: "
          "expired), for the 10 that expire soonest.",
          WM_METRIC_GAUGE)),
      overflow_id_(host.register_metric(
          "wiremeter_tls_table_overflow_total",
          "Entries not kept because a table was full (server_names, certificates, connections).",
          WM_METRIC_COUNTER)) {}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info& info) {
  return std::make_unique<Worker>(info.flow_state_offset, config_);
}

Plugin::Totals Plugin::totals(std::span<Worker* const> workers) const {
  Totals t;
  for (Worker* w : workers) {
    if (!w) continue;
    t.client_hellos += w->client_hellos.value();
    t.handshakes += w->handshakes.value();
    t.established += w->established.value();
    t.resumed += w->resumed.value();
    t.alerts += w->alerts_total.value();
    t.certificates_seen += w->certificates_seen.value();
    for (size_t i = 0; i < kVersionSlots; ++i) t.versions[i] += w->versions[i].value();
    for (size_t i = 0; i < 256; ++i) t.alerts_by[i] += w->alerts[i].value();
    for (size_t i = 0; i < kMalformedCount; ++i) t.malformed[i] += w->malformed[i].value();
    for (size_t i = 0; i < kEventCount; ++i) t.events[i] += w->events[i].value();
    for (size_t i = 0; i < kCertFlagCount; ++i) t.cert_flags[i] += w->cert_flags[i].value();
    for (size_t i = 0; i < 3; ++i) t.sni_matches[i] += w->sni_matches[i].value();
    const TcpStreamCounters& sc = w->stream_counters();
    t.streams_taken += sc.taken.value();
    t.streams_truncated += sc.truncated.value();
    t.bytes_before_start += sc.before_start.value();
    t.connections_dropped += w->connections().dropped();
    auto lock = w->lock();
    t.server_names_overflow += w->server_names().overflow();
    t.certificates_overflow += w->certificates().overflow();
  }
  return t;
}

std::vector<Plugin::ServerNameRow> Plugin::server_names(std::span<Worker* const> workers) const {
  std::map<std::string, ServerNameEntry> merged;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    const ServerNameTable& table = w->server_names();
    for (size_t i = 0; i < table.size(); ++i) {
      const ServerNameEntry& e = table.row(i);
      auto [it, fresh] = merged.try_emplace(std::string(e.view()), e);
      if (fresh) continue;
      ServerNameEntry& m = it->second;
      m.handshakes += e.handshakes;
      m.established += e.established;
      m.resumed += e.resumed;
      m.alerts += e.alerts;
      for (size_t v = 0; v < kVersionSlots; ++v) m.versions[v] += e.versions[v];
      m.first_ns = std::min(m.first_ns, e.first_ns);
      if (e.last_ns > m.last_ns) {
        uint64_t handshakes = m.handshakes, established = m.established, resumed = m.resumed,
                 alerts = m.alerts, first = m.first_ns;
        auto versions = m.versions;
        m = e;  // the latest worker's view of version, cipher and certificate
        m.handshakes = handshakes;
        m.established = established;
        m.resumed = resumed;
        m.alerts = alerts;
        m.first_ns = first;
        m.versions = versions;
      }
    }
  }
  std::vector<ServerNameRow> rows;
  rows.reserve(merged.size());
  for (auto& [name, e] : merged) rows.push_back({name, e});
  return rows;
}

std::vector<Plugin::CertificateRow> Plugin::certificates(std::span<Worker* const> workers) const {
  std::map<std::string, CertificateRow> merged;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    const CertificateTable& table = w->certificates();
    for (size_t i = 0; i < table.size(); ++i) {
      const CertificateEntry& e = table.row(i);
      std::string key = hex(e.info.sha256, 32);
      auto [it, fresh] = merged.try_emplace(key);
      CertificateRow& r = it->second;
      if (fresh) {
        r.sha256 = key;
        r.entry = e;
      } else {
        r.entry.leaf_handshakes += e.leaf_handshakes;
        r.entry.chain_handshakes += e.chain_handshakes;
        r.entry.first_ns = std::min(r.entry.first_ns, e.first_ns);
        r.entry.last_ns = std::max(r.entry.last_ns, e.last_ns);
        r.entry.servers_truncated = r.entry.servers_truncated || e.servers_truncated;
      }
      e.for_each_server([&](std::string_view s) {
        if (std::find(r.servers.begin(), r.servers.end(), s) == r.servers.end()) {
          r.servers.emplace_back(s);
        }
      });
    }
  }
  std::vector<CertificateRow> rows;
  rows.reserve(merged.size());
  for (auto& [key, r] : merged) {
    int64_t seen_s = static_cast<int64_t>(r.entry.last_ns / 1'000'000'000ull);
    r.flags = validity_flags(r.entry.info, seen_s, config_.expiring_days);
    r.days_left = static_cast<double>(r.entry.info.not_after - seen_s) / 86400.0;
    std::sort(r.servers.begin(), r.servers.end());
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<Plugin::CipherRow> Plugin::ciphers(std::span<Worker* const> workers,
                                               uint64_t& other) const {
  std::map<uint16_t, uint64_t> merged;
  other = 0;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    w->ciphers().for_each([&](uint16_t suite, uint64_t n) { merged[suite] += n; });
    other += w->ciphers().other();
  }
  std::vector<CipherRow> rows;
  for (auto& [suite, n] : merged) rows.push_back({suite, cipher_text(suite), n});
  std::sort(rows.begin(), rows.end(), [](const CipherRow& a, const CipherRow& b) {
    return a.handshakes != b.handshakes ? a.handshakes > b.handshakes : a.suite < b.suite;
  });
  return rows;
}

void Plugin::handshakes_last_second(std::span<Worker* const> workers,
                                    std::unordered_map<std::string, uint64_t>& names,
                                    std::unordered_map<std::string, uint64_t>& certs) {
  // The worker takes the same lock per handshake: under it only plain copies into storage
  // sized beforehand; strings, maps and merging come after.
  std::erase_if(tick_state_, [&](const auto& entry) {
    return std::find(workers.begin(), workers.end(), entry.first) == workers.end();
  });
  for (Worker* w : workers) {
    if (!w) continue;
    TickState& st = tick_state_[w];
    size_t name_rows = 0, cert_rows = 0;
    {
      auto lock = w->lock();
      name_rows = w->server_names().size();
      cert_rows = w->certificates().size();
    }
    // Tables only grow: fewer rows than last time is another worker at the same address.
    if (name_rows < st.name_before.size()) st.name_before.clear();
    if (cert_rows < st.cert_before.size()) st.cert_before.clear();
    st.name_before.resize(name_rows, 0);
    st.cert_before.resize(cert_rows, 0);
    st.moved_names.clear();
    st.moved_names.reserve(name_rows);
    st.moved_certs.clear();
    st.moved_certs.reserve(cert_rows);
    {
      auto lock = w->lock();
      const ServerNameTable& table = w->server_names();
      for (size_t i = 0; i < name_rows; ++i) {
        uint64_t now = table.row(i).handshakes, &before = st.name_before[i];
        if (now == before) continue;
        st.moved_names.push_back({static_cast<uint32_t>(i), now > before ? now - before : now});
        before = now;
      }
      const CertificateTable& certificates = w->certificates();
      for (size_t i = 0; i < cert_rows; ++i) {
        const CertificateEntry& e = certificates.row(i);
        uint64_t now = e.leaf_handshakes + e.chain_handshakes, &before = st.cert_before[i];
        if (now == before) continue;
        st.moved_certs.push_back({now > before ? now - before : now, {}});
        std::memcpy(st.moved_certs.back().sha256, e.info.sha256, 32);
        before = now;
      }
    }
    // The names of the rows that moved: as many as handshakes in the second, not as rows.
    st.names.resize(st.moved_names.size());
    {
      auto lock = w->lock();
      const ServerNameTable& table = w->server_names();
      for (size_t i = 0; i < st.moved_names.size(); ++i) {
        const ServerNameEntry& e = table.row(st.moved_names[i].row);
        st.names[i].len = std::min<uint16_t>(e.name_len, kMaxServerName);
        std::memcpy(st.names[i].text, e.name, st.names[i].len);
      }
    }
    for (size_t i = 0; i < st.moved_names.size(); ++i) {
      names[std::string(st.names[i].text, st.names[i].len)] += st.moved_names[i].handshakes;
    }
    for (const TickState::MovedCert& m : st.moved_certs) {
      certs[std::string(reinterpret_cast<const char*>(m.sha256), sizeof m.sha256)] += m.handshakes;
    }
  }
}

std::vector<Connection> Plugin::connections(std::span<Worker* const> workers) const {
  std::vector<Connection> all;
  for (Worker* w : workers) {
    if (!w) continue;
    w->connections().for_each([&](const Connection& c) { all.push_back(c); });
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const Connection& a, const Connection& b) { return a.ts_ns < b.ts_ns; });
  return all;
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  Totals t = totals(workers);
  for (size_t v = 0; v < kVersionSlots; ++v) {
    sink.sample(handshakes_id_, {{"version", version_slot_name(static_cast<VersionSlot>(v))}},
                static_cast<double>(t.versions[v]));
  }
  sink.sample(client_hellos_id_, {}, static_cast<double>(t.client_hellos));
  sink.sample(established_id_, {}, static_cast<double>(t.established));
  sink.sample(resumed_id_, {}, static_cast<double>(t.resumed));

  constexpr size_t kTopCiphers = 20;
  uint64_t other = 0;
  std::vector<CipherRow> cs = ciphers(workers, other);
  for (size_t i = 0; i < cs.size(); ++i) {
    if (i < kTopCiphers) {
      sink.sample(cipher_id_, {{"cipher", cs[i].name.c_str()}},
                  static_cast<double>(cs[i].handshakes));
    } else {
      other += cs[i].handshakes;
    }
  }
  if (other) sink.sample(cipher_id_, {{"cipher", "other"}}, static_cast<double>(other));

  for (size_t d = 0; d < 256; ++d) {
    if (!t.alerts_by[d]) continue;
    std::string name = alert_text(static_cast<uint8_t>(d));
    sink.sample(alerts_id_, {{"description", name.c_str()}}, static_cast<double>(t.alerts_by[d]));
  }
  for (size_t m = 1; m < kMalformedCount; ++m) {
    sink.sample(malformed_id_, {{"reason", malformed_name(static_cast<Malformed>(m))}},
                static_cast<double>(t.malformed[m]));
  }
  for (size_t e = 0; e < kEventCount; ++e) {
    sink.sample(events_id_, {{"event", event_name(static_cast<Event>(e))}},
                static_cast<double>(t.events[e]));
  }
  for (size_t b = 0; b < kCertFlagCount; ++b) {
    sink.sample(cert_flags_id_, {{"flag", cert_flag_name(b)}},
                static_cast<double>(t.cert_flags[b]));
  }
  sink.sample(overflow_id_, {{"table", "server_names"}},
              static_cast<double>(t.server_names_overflow));
  sink.sample(overflow_id_, {{"table", "certificates"}},
              static_cast<double>(t.certificates_overflow));
  sink.sample(overflow_id_, {{"table", "connections"}}, static_cast<double>(t.connections_dropped));

  std::vector<CertificateRow> certs = certificates(workers);
  uint64_t expiring = 0, expired = 0;
  std::vector<const CertificateRow*> leaves;
  for (const CertificateRow& r : certs) {
    if (!r.entry.leaf_handshakes || !r.entry.info.parsed) continue;
    if (r.flags & kExpiring) ++expiring;
    if (r.flags & kExpired) ++expired;
    leaves.push_back(&r);
  }
  sink.sample(certs_id_, {}, static_cast<double>(certs.size()));
  sink.sample(certs_expiring_id_, {}, static_cast<double>(expiring));
  sink.sample(certs_expired_id_, {}, static_cast<double>(expired));
  constexpr size_t kTopExpiry = 10;
  size_t n = std::min(kTopExpiry, leaves.size());
  std::partial_sort(leaves.begin(), leaves.begin() + static_cast<std::ptrdiff_t>(n), leaves.end(),
                    [](const CertificateRow* a, const CertificateRow* b) {
                      return std::tie(a->days_left, a->sha256) < std::tie(b->days_left, b->sha256);
                    });
  for (size_t i = 0; i < n; ++i) {
    const CertificateRow& r = *leaves[i];
    std::string name = r.servers.empty() ? std::string(r.entry.info.subject_view()) : r.servers[0];
    std::string fp = r.sha256.substr(0, 16);
    sink.sample(expiry_id_, {{"server_name", name.c_str()}, {"sha256", fp.c_str()}},
                r.days_left * 86400.0);
  }
}

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  Totals t = totals(workers);
  out.begin_object()
      .field("client_hellos", t.client_hellos)
      .field("handshakes", t.handshakes)
      .field("established", t.established)
      .field("resumed", t.resumed)
      .field("alerts", t.alerts)
      .field("certificates_parsed", t.certificates_seen);
  out.key("versions").begin_object();
  for (size_t v = 0; v < kVersionSlots; ++v) {
    out.field(version_slot_name(static_cast<VersionSlot>(v)), t.versions[v]);
  }
  out.end_object();
  uint64_t other = 0;
  out.key("ciphers").begin_array();
  for (const CipherRow& c : ciphers(workers, other)) {
    out.begin_object().field("cipher", c.name).field("handshakes", c.handshakes).end_object();
  }
  out.end_array();
  out.field("ciphers_other", other);
  out.key("alerts_by_description").begin_object();
  for (size_t d = 0; d < 256; ++d) {
    if (t.alerts_by[d]) out.field(alert_text(static_cast<uint8_t>(d)), t.alerts_by[d]);
  }
  out.end_object();
  out.key("certificate_flags").begin_object();
  for (size_t b = 0; b < kCertFlagCount; ++b) out.field(cert_flag_name(b), t.cert_flags[b]);
  out.end_object();
  out.key("sni_matches_cert").begin_object();
  for (size_t i = 0; i < 3; ++i) out.field(kSniMatchNames[i], t.sni_matches[i]);
  out.end_object();
  out.key("malformed").begin_object();
  for (size_t m = 1; m < kMalformedCount; ++m) {
    out.field(malformed_name(static_cast<Malformed>(m)), t.malformed[m]);
  }
  out.end_object();
  out.key("events").begin_object();
  for (size_t e = 0; e < kEventCount; ++e)
    out.field(event_name(static_cast<Event>(e)), t.events[e]);
  out.end_object();
  out.key("streams")
      .begin_object()
      .field("taken", t.streams_taken)
      .field("truncated", t.streams_truncated)
      .field("bytes_before_start", t.bytes_before_start)
      .end_object();

  std::vector<ServerNameRow> names = server_names(workers);
  std::sort(names.begin(), names.end(), [](const ServerNameRow& a, const ServerNameRow& b) {
    return a.stats.handshakes != b.stats.handshakes ? a.stats.handshakes > b.stats.handshakes
                                                    : a.name < b.name;
  });
  out.key("server_names").begin_array();
  for (const ServerNameRow& r : names) write_server_name(out, r);
  out.end_array();
  out.field("server_names_overflow", t.server_names_overflow);

  std::vector<CertificateRow> certs = certificates(workers);
  std::sort(certs.begin(), certs.end(), [](const CertificateRow& a, const CertificateRow& b) {
    return std::tie(a.entry.info.not_after, a.sha256) < std::tie(b.entry.info.not_after, b.sha256);
  });
  out.key("certificates").begin_array();
  for (const CertificateRow& r : certs) write_certificate(out, r, false);
  out.end_array();
  out.field("certificates_overflow", t.certificates_overflow);

  out.key("connections").begin_array();
  for (const Connection& c : connections(workers)) write_connection(out, c);
  out.end_array();
  out.field("connections_dropped", t.connections_dropped);
  out.end_object();
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  std::unordered_map<std::string, uint64_t> names, certs;
  handshakes_last_second(workers, names, certs);
  bool timed = last_tick_ns_ && now_ns > last_tick_ns_;  // the first tick only learns the counts
  double dt = timed ? static_cast<double>(now_ns - last_tick_ns_) / 1e9 : 0;
  last_tick_ns_ = now_ns;
  if (!timed) return;
  feed_rates(
      host_, now_ns, dt, series_, names, [](const std::string& name) { return name; },
      [](const std::string& key, std::string& name) {
        name = key;
        return true;
      });
  feed_rates(
      host_, now_ns, dt, cert_series_, certs,
      [](const std::string& sha256) {
        return cert_series_key(hex(reinterpret_cast<const uint8_t*>(sha256.data()), 32));
      },
      cert_sha256_of_key);
}

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  if (path == "connections") {
    q.allow_only({"sort", "order", "page", "size", "filter", "flag", "from", "to"});
    using R = const Connection*;
    ListPage<R> page(q,
                     {{"ts", [](R a, R b) { return a->ts_ns < b->ts_ns; }},
                      {"server_name",
                       [](R a, R b) {
                         return std::string_view(a->sni, a->sni_len) <
                                std::string_view(b->sni, b->sni_len);
                       }},
                      {"version", [](R a, R b) { return a->version < b->version; }},
                      {"cipher", [](R a, R b) { return a->cipher < b->cipher; }},
                      {"not_after", [](R a, R b) { return a->not_after < b->not_after; }},
                      {"client", [](R a, R b) { return a->client.bytes < b->client.bytes; }},
                      {"server", [](R a, R b) { return a->server.bytes < b->server.bytes; }}},
                     "ts", [](R a, R b) { return a < b; });
    uint64_t from = q.get_time_ns("from", 0), to = q.get_time_ns("to", UINT64_MAX);
    if (from > to) throw QueryError("from: must not be after to");
    uint8_t flag = 0;
    if (auto f = q.get("flag")) {
      for (size_t b = 0; b < kCertFlagCount; ++b) {
        if (*f == cert_flag_name(b)) flag = static_cast<uint8_t>(1u << b);
      }
      if (!flag) {
        throw QueryError(
            "flag: must be one of expired, expiring, not_yet_valid, self_signed, sni_mismatch, "
            "unparsed");
      }
    }
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<Connection> all = connections(workers);
    std::vector<R> rows;
    rows.reserve(all.size());
    for (const Connection& c : all) {
      if (c.ts_ns < from || c.ts_ns > to) continue;
      if (flag && !(c.cert_flags & flag)) continue;
      if (!needle.empty() && !contains(std::string_view(c.sni, c.sni_len), needle) &&
          !contains(format_addr(c.client), needle) && !contains(format_addr(c.server), needle) &&
          !(c.has_server_hello && (contains(cipher_text(c.cipher), needle) ||
                                   contains(version_text(c.version), needle))) &&
          !contains(c.subject, needle) && !contains(c.issuer, needle)) {
        continue;
      }
      rows.push_back(&c);
    }
    page.write(rows, out, [](JsonWriter& w, R c) { write_connection(w, *c); });
    return 200;
  }
  if (path == "server_names") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = ServerNameRow;
    ListPage<R> page(
        q,
        {{"name", [](const R& a, const R& b) { return a.name < b.name; }},
         {"handshakes",
          [](const R& a, const R& b) { return a.stats.handshakes < b.stats.handshakes; }},
         {"established",
          [](const R& a, const R& b) { return a.stats.established < b.stats.established; }},
         {"alerts", [](const R& a, const R& b) { return a.stats.alerts < b.stats.alerts; }},
         {"first_seen", [](const R& a, const R& b) { return a.stats.first_ns < b.stats.first_ns; }},
         {"last_seen", [](const R& a, const R& b) { return a.stats.last_ns < b.stats.last_ns; }}},
        "handshakes", [](const R& a, const R& b) { return a.name < b.name; });
    uint64_t from = q.get_time_ns("from", 0), to = q.get_time_ns("to", UINT64_MAX);
    if (from > to) throw QueryError("from: must not be after to");
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = server_names(workers);
    std::erase_if(rows, [&](const R& r) {
      return r.stats.last_ns < from || r.stats.first_ns > to || !contains(r.name, needle);
    });
    page.write(rows, out, write_server_name);
    return 200;
  }
  if (path.starts_with("server_names/")) {
    q.allow_only({});
    std::string name = lower(std::string(path.substr(13)));
    for (const ServerNameRow& r : server_names(workers)) {
      if (r.name != name) continue;
      series_.watch(name);  // looking at a server name graphs its handshakes per second
      out.begin_object().key("server_name");
      write_server_name(out, r);
      out.field("series", "tls." + name + ".handshakes_per_s").end_object();
      return 200;
    }
    out.begin_object().field("error", "no such server name: " + name).end_object();
    return 404;
  }
  if (path == "certificates") {
    q.allow_only({"sort", "order", "page", "size", "filter", "status", "from", "to"});
    using R = CertificateRow;
    // "expiry" ranks by urgency: with the default order (desc) the certificate that expires
    // soonest comes first. "not_after" is the plain date.
    ListPage<R> page(
        q,
        {{"expiry",
          [](const R& a, const R& b) { return a.entry.info.not_after > b.entry.info.not_after; }},
         {"not_after",
          [](const R& a, const R& b) { return a.entry.info.not_after < b.entry.info.not_after; }},
         {"not_before",
          [](const R& a, const R& b) { return a.entry.info.not_before < b.entry.info.not_before; }},
         {"subject",
          [](const R& a, const R& b) {
            return a.entry.info.subject_view() < b.entry.info.subject_view();
          }},
         {"handshakes",
          [](const R& a, const R& b) {
            return a.entry.leaf_handshakes + a.entry.chain_handshakes <
                   b.entry.leaf_handshakes + b.entry.chain_handshakes;
          }},
         {"last_seen", [](const R& a, const R& b) { return a.entry.last_ns < b.entry.last_ns; }}},
        "expiry", [](const R& a, const R& b) { return a.sha256 < b.sha256; });
    uint64_t from = q.get_time_ns("from", 0), to = q.get_time_ns("to", UINT64_MAX);
    if (from > to) throw QueryError("from: must not be after to");
    std::string status = q.get_or("status", "");
    uint8_t want = 0;
    bool valid_only = status == "valid";
    for (size_t b = 0; b < kCertFlagCount; ++b) {
      if (status == cert_flag_name(b) && b != 4) want = static_cast<uint8_t>(1u << b);
    }
    if (!status.empty() && !want && !valid_only) {
      throw QueryError(
          "status: must be one of valid, expired, expiring, not_yet_valid, self_signed, "
          "unparsed");
    }
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = certificates(workers);
    std::erase_if(rows, [&](const R& r) {
      if (r.entry.last_ns < from || r.entry.first_ns > to) return true;
      if (want && !(r.flags & want)) return true;
      if (valid_only && (r.flags & (kExpired | kNotYetValid | kUnparsed))) return true;
      if (needle.empty() || contains(r.entry.info.subject_view(), needle) ||
          contains(r.entry.info.issuer_view(), needle) || contains(r.sha256, needle)) {
        return false;
      }
      return std::none_of(r.servers.begin(), r.servers.end(),
                          [&](const std::string& s) { return contains(s, needle); });
    });
    page.write(rows, out, [](JsonWriter& w, const R& r) { write_certificate(w, r, false); });
    return 200;
  }
  constexpr std::string_view kCertPrefix = "certificates/";
  if (path.substr(0, kCertPrefix.size()) == kCertPrefix) {
    q.allow_only({});
    std::string fp = lower(std::string(path.substr(kCertPrefix.size())));
    if (!valid_hex_fingerprint(fp)) {
      throw QueryError("certificates/{sha256}: expected 64 hex digits");
    }
    for (const CertificateRow& r : certificates(workers)) {
      if (r.sha256 == fp) {
        cert_series_.watch(cert_series_key(fp));  // looking at a certificate graphs it
        write_certificate(out, r, true);
        return 200;
      }
    }
    out.begin_object().field("error", "no such certificate: " + fp).end_object();
    return 404;
  }
  return 404;
}

}  // namespace wiremeter::tls

WIREMETER_ANALYZER_PLUGIN(wiremeter::tls::Plugin)
