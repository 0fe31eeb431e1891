// quic: the control plane. Metrics, the JSON report and the REST views, all from the same
// merged copies of the workers' tables.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <tuple>

#include "quic_plugin.hpp"

namespace wiremeter::quic {
namespace {

// Unix seconds with microseconds, through integer microseconds so that they print exactly.
double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

std::string name_of(uint32_t version) {
  char buf[24];
  version_name(version, buf);
  return buf;
}

std::string version_number(uint32_t version) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", version);
  return buf;
}

// The ALPN list "h3,h3-29" and its first entry, which Zeek calls client_protocol.
std::string first_protocol(const Hello& h) {
  std::string_view all(h.alpn);
  return std::string(all.substr(0, all.find(',')));
}

void write_connection(JsonWriter& w, const Plugin::ConnectionRow& r) {
  const Connection& c = r.c;
  const Hello& h = c.hello;
  w.begin_object()
      .field("id", r.id)
      .field("client", format_addr(c.client))
      .field("client_port", c.client_port)
      .field("server", format_addr(c.server))
      .field("server_port", c.server_port)
      .field("version", name_of(c.version))
      .field("version_number", version_number(c.version));
  auto text_or_null = [&](std::string_view key, bool present, std::string_view v) {
    w.key(key);
    if (present) {
      w.value(v);
    } else {
      w.null();
    }
  };
  text_or_null("server_name", c.has_hello && h.has_server_name, h.server_name);
  text_or_null("client_protocol", c.has_hello && h.has_alpn, first_protocol(h));
  w.key("alpn").begin_array();
  if (c.has_hello && h.has_alpn) {
    std::string_view all(h.alpn);
    while (!all.empty()) {
      size_t comma = all.find(',');
      w.value(all.substr(0, comma));
      if (comma == std::string_view::npos) break;
      all.remove_prefix(comma + 1);
    }
  }
  w.end_array();
  text_or_null("tls_version", c.has_hello && h.tls_version_max && !h.chlo,
               tls_version_name(h.tls_version_max));
  w.field("transport_parameters", c.has_hello && h.transport_parameters);
  text_or_null("user_agent", c.has_hello && h.user_agent[0], h.user_agent);
  w.field("client_initial_dcid", hex(c.dcid, c.dcid_len))
      .field("client_scid", hex(c.scid, c.scid_len));
  text_or_null("server_scid", c.server_scid_seen, hex(c.server_scid, c.server_scid_len));
  w.field("decryption", decryption_name(c.decryption))
      .field("client_hello", !c.has_hello ? "none"
                             : h.complete ? "complete"
                                          : "partial")
      .field("first_seen", seconds(c.first_ns))
      .field("last_seen", seconds(live_load(c.last_ns)))
      .field("active", c.active);
  w.key("packets")
      .begin_object()
      .field("client", live_load(c.packets[0]))
      .field("server", live_load(c.packets[1]))
      .end_object();
  w.key("bytes")
      .begin_object()
      .field("client", live_load(c.bytes[0]))
      .field("server", live_load(c.bytes[1]))
      .end_object();
  w.key("packet_types").begin_object();
  for (size_t t = 0; t < kPacketTypeCount; ++t) {
    uint64_t n = live_load(c.types[t]);
    if (n) w.field(packet_type_name(static_cast<PacketType>(t)), n);
  }
  w.end_object().end_object();
}

void write_server_name(JsonWriter& w, const Plugin::ServerNameRow& r) {
  w.begin_object()
      .field("server_name", r.name)
      .field("connections", r.connections)
      .field("bytes", r.bytes)
      .field("first_seen", seconds(r.first_ns))
      .field("last_seen", seconds(r.last_ns))
      .end_object();
}

// `counts` (REST views only): "window" when the counts are those of the connections active in
// the query's window, "since_start" when they are totals.
void write_version(JsonWriter& w, const Plugin::VersionRow& r, const char* counts = nullptr) {
  w.begin_object().field("version", r.name);
  w.key("version_number");
  if (r.name == "other") {
    w.null();
  } else {
    w.value(version_number(r.version));
  }
  w.field("connections", r.connections)
      .field("decrypted", r.decrypted)
      .field("server_names", r.server_names)
      .field("first_seen", seconds(r.first_ns))
      .field("last_seen", seconds(r.last_ns));
  if (counts) w.field("counts", counts);
  w.end_object();
}

uint64_t total_bytes(const Connection& c) { return live_load(c.bytes[0]) + live_load(c.bytes[1]); }
uint64_t total_packets(const Connection& c) {
  return live_load(c.packets[0]) + live_load(c.packets[1]);
}

bool connection_matches(const Plugin::ConnectionRow& r, const std::string& needle) {
  const Connection& c = r.c;
  return contains(format_addr(c.client), needle) || contains(format_addr(c.server), needle) ||
         contains(name_of(c.version), needle) ||
         (c.has_hello && (contains(c.hello.server_name, needle) || contains(c.hello.alpn, needle)));
}

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
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    s.push_back(digits[data[i] >> 4]);
    s.push_back(digits[data[i] & 15]);
  }
  return s;
}

Plugin::Plugin(Host& host)
    : host_(host),
      connections_id_(host.register_metric("wiremeter_quic_connections_total",
                                           "QUIC connections seen, by version.",
                                           WM_METRIC_COUNTER)),
      packets_id_(host.register_metric(
          "wiremeter_quic_packets_total",
          "QUIC packets by type (long-header types, short header, Google QUIC).",
          WM_METRIC_COUNTER)),
      decryptions_id_(host.register_metric(
          "wiremeter_quic_initial_decryptions_total",
          "Client Initial packets the plugin tried to decrypt, by result.", WM_METRIC_COUNTER)),
      hellos_id_(host.register_metric(
          "wiremeter_quic_client_hellos_total",
          "ClientHellos (or gQUIC CHLOs) read, whole or cut at the reassembly limit.",
          WM_METRIC_COUNTER)),
      malformed_id_(host.register_metric("wiremeter_quic_malformed_total",
                                         "QUIC packets or handshake messages that could not be "
                                         "read, by reason.",
                                         WM_METRIC_COUNTER)),
      overflow_id_(host.register_metric(
          "wiremeter_quic_table_overflow_total",
          "Connections, server names or reassemblies that found their table full.",
          WM_METRIC_COUNTER)),
      name_connections_id_(host.register_metric(
          "wiremeter_quic_server_name_connections_total",
          "QUIC connections per server name (SNI): the 20 most frequent, the rest as \"other\".",
          WM_METRIC_COUNTER)),
      name_bytes_id_(host.register_metric(
          "wiremeter_quic_server_name_bytes_total",
          "Frame bytes of QUIC connections per server name (SNI), counted from the connection's "
          "start: the 20 names with most connections, the rest as \"other\".",
          WM_METRIC_COUNTER)) {
  try {
    limits_ = parse_settings(host.config_json());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info& info) {
  return std::make_unique<Worker>(info.flow_state_offset, info.worker_id, limits_);
}

Plugin::Totals Plugin::totals(std::span<Worker* const> workers) {
  Totals t;
  for (Worker* w : workers) {
    if (!w) continue;
    t.datagrams += w->datagrams.value();
    t.bytes += w->bytes.value();
    t.connections += w->connections.value();
    t.decrypt_ok += w->decrypt_ok.value();
    t.decrypt_failed += w->decrypt_failed.value();
    t.decrypt_unsupported += w->decrypt_unsupported.value();
    t.hellos_complete += w->hellos_complete.value();
    t.hellos_partial += w->hellos_partial.value();
    for (size_t i = 0; i < kPacketTypeCount; ++i) t.packet_types[i] += w->packet_types[i].value();
    for (size_t i = 0; i < kErrorCount; ++i) t.malformed[i] += w->malformed[i].value();
    for (size_t i = 0; i < kOverflowCount; ++i) t.overflow[i] += w->overflow[i].value();
    auto lock = w->lock();
    t.connections_recycled += w->connection_table().recycled();
  }
  return t;
}

std::vector<Plugin::ConnectionRow> Plugin::connections(std::span<Worker* const> workers) {
  std::vector<ConnectionRow> rows;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    w->connection_table().for_each([&](const Connection& c) {
      rows.push_back({std::to_string(w->id()) + ":" + std::to_string(c.flow_id), c});
    });
  }
  return rows;
}

std::vector<Plugin::ServerNameRow> Plugin::server_names(std::span<Worker* const> workers) {
  std::map<std::string, ServerNameRow> merged;
  auto add = [&](const ServerName& n) {
    if (!n.connections) return;
    ServerNameRow& r = merged[n.name];
    if (!r.connections || n.first_ns < r.first_ns) r.first_ns = n.first_ns;
    r.connections += n.connections;
    r.bytes += live_load(n.bytes);
    r.last_ns = std::max(r.last_ns, live_load(n.last_ns));
  };
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    const ServerNameTable& t = w->server_names();
    for (size_t i = 0; i < t.size(); ++i) add(t.row_at(i));
    add(t.other());
  }
  std::vector<ServerNameRow> rows;
  rows.reserve(merged.size());
  for (auto& [name, r] : merged) {
    r.name = name;
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<Plugin::VersionRow> Plugin::versions(std::span<Worker* const> workers) {
  std::map<uint64_t, VersionRow> merged;  // by version; "other" under a key past uint32
  for (Worker* w : workers) {
    if (!w) continue;
    for (size_t i = 0; i <= kVersionSlots; ++i) {
      const VersionCounters::Row& src = w->versions.rows[i];
      bool other = i == kVersionSlots;
      if (!other && !src.used.load(std::memory_order_acquire)) break;
      uint64_t connections = src.connections.load(std::memory_order_relaxed);
      if (other && !connections) continue;
      uint32_t v = src.version.load(std::memory_order_relaxed);
      VersionRow& r = merged[other ? (uint64_t{1} << 32) : v];
      r.name = other ? "other" : name_of(v);
      r.version = other ? 0 : v;
      uint64_t first = src.first_ns.load(std::memory_order_relaxed);
      if (first && (r.first_ns == 0 || first < r.first_ns)) r.first_ns = first;
      r.last_ns = std::max(r.last_ns, src.last_ns.load(std::memory_order_relaxed));
      r.connections += connections;
      r.decrypted += src.decrypted.load(std::memory_order_relaxed);
      r.server_names += src.server_names.load(std::memory_order_relaxed);
    }
  }
  std::vector<VersionRow> rows;
  for (auto& [k, r] : merged) rows.push_back(r);
  return rows;
}

std::optional<std::vector<Plugin::VersionRow>> Plugin::versions_in(std::span<Worker* const> workers,
                                                                   const TimeWindow& window) {
  std::map<uint32_t, VersionRow> merged;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    const ConnectionTable& t = w->connection_table();
    bool rowless = w->rowless_since_ns() != UINT64_MAX && w->rowless_since_ns() <= window.to_ns;
    if (t.complete_from_ns() > window.from_ns || rowless) {
      return std::nullopt;
    }
    t.for_each([&](const Connection& c) {
      uint64_t last = live_load(c.last_ns);
      if (!window.overlaps(c.first_ns, last)) return;
      VersionRow& r = merged[c.version];
      if (r.connections++ == 0 || c.first_ns < r.first_ns) r.first_ns = c.first_ns;
      r.last_ns = std::max(r.last_ns, last);
      // As the version counters count: a decrypted client Initial, a ClientHello with a name.
      if (c.decryption == Decryption::kOk) ++r.decrypted;
      if (c.server_name_ref) ++r.server_names;
    });
  }
  // First and last seen are the version's whole activity where it has its own counters, as in
  // every other list.
  std::map<uint32_t, VersionRow> lifetime;
  for (const VersionRow& r : versions(workers)) {
    if (r.name != "other") lifetime[r.version] = r;
  }
  std::vector<VersionRow> rows;
  for (auto& [version, r] : merged) {
    r.version = version;
    r.name = name_of(version);
    if (auto it = lifetime.find(version); it != lifetime.end()) {
      r.first_ns = std::min(r.first_ns, it->second.first_ns);
      r.last_ns = std::max(r.last_ns, it->second.last_ns);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  Totals t = totals(workers);
  // Versions by name: GREASE versions are many numbers with one name, and the label must stay
  // bounded (only recognized versions make connections, so the names are a closed set).
  std::map<std::string, uint64_t> by_name;
  for (const VersionRow& r : versions(workers)) by_name[r.name] += r.connections;
  for (auto& [name, n] : by_name) {
    sink.sample(connections_id_, {{"version", name.c_str()}}, static_cast<double>(n));
  }
  for (size_t i = 0; i < kPacketTypeCount; ++i) {
    sink.sample(packets_id_, {{"type", packet_type_name(static_cast<PacketType>(i))}},
                static_cast<double>(t.packet_types[i]));
  }
  sink.sample(decryptions_id_, {{"result", "ok"}}, static_cast<double>(t.decrypt_ok));
  sink.sample(decryptions_id_, {{"result", "failed"}}, static_cast<double>(t.decrypt_failed));
  sink.sample(decryptions_id_, {{"result", "unsupported_version"}},
              static_cast<double>(t.decrypt_unsupported));
  sink.sample(hellos_id_, {{"result", "complete"}}, static_cast<double>(t.hellos_complete));
  sink.sample(hellos_id_, {{"result", "partial"}}, static_cast<double>(t.hellos_partial));
  for (size_t e = 1; e < kErrorCount; ++e) {
    sink.sample(malformed_id_, {{"reason", error_name(static_cast<Error>(e))}},
                static_cast<double>(t.malformed[e]));
  }
  for (size_t i = 0; i < kOverflowCount; ++i) {
    sink.sample(overflow_id_, {{"table", overflow_name(static_cast<Overflow>(i))}},
                static_cast<double>(t.overflow[i]));
  }

  constexpr size_t kTopNames = 20;
  std::vector<ServerNameRow> names = server_names(workers);
  ServerNameRow other;
  auto it = std::find_if(names.begin(), names.end(),
                         [](const ServerNameRow& r) { return r.name == "other"; });
  if (it != names.end()) {
    other = *it;
    names.erase(it);
  }
  std::sort(names.begin(), names.end(), [](const ServerNameRow& a, const ServerNameRow& b) {
    return a.connections != b.connections ? a.connections > b.connections : a.name < b.name;
  });
  for (size_t i = kTopNames; i < names.size(); ++i) {
    other.connections += names[i].connections;
    other.bytes += names[i].bytes;
  }
  if (names.size() > kTopNames) names.resize(kTopNames);
  for (const ServerNameRow& r : names) {
    Labels l{{"server_name", r.name.c_str()}};
    sink.sample(name_connections_id_, l, static_cast<double>(r.connections));
    sink.sample(name_bytes_id_, l, static_cast<double>(r.bytes));
  }
  if (other.connections) {
    sink.sample(name_connections_id_, {{"server_name", "other"}},
                static_cast<double>(other.connections));
    sink.sample(name_bytes_id_, {{"server_name", "other"}}, static_cast<double>(other.bytes));
  }
}

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  Totals t = totals(workers);
  out.begin_object()
      .field("connections", t.connections)
      .field("datagrams", t.datagrams)
      .field("bytes", t.bytes);
  out.key("packets").begin_object();
  for (size_t i = 0; i < kPacketTypeCount; ++i) {
    out.field(packet_type_name(static_cast<PacketType>(i)), t.packet_types[i]);
  }
  out.end_object();
  out.key("initial_decryptions")
      .begin_object()
      .field("ok", t.decrypt_ok)
      .field("failed", t.decrypt_failed)
      .field("unsupported_version", t.decrypt_unsupported)
      .end_object();
  out.key("client_hellos")
      .begin_object()
      .field("complete", t.hellos_complete)
      .field("partial", t.hellos_partial)
      .end_object();

  std::vector<VersionRow> vers = versions(workers);
  std::sort(vers.begin(), vers.end(), [](const VersionRow& a, const VersionRow& b) {
    return a.connections != b.connections ? a.connections > b.connections : a.name < b.name;
  });
  out.key("versions").begin_array();
  for (const VersionRow& r : vers) write_version(out, r);
  out.end_array();

  std::vector<ServerNameRow> names = server_names(workers);
  std::sort(names.begin(), names.end(), [](const ServerNameRow& a, const ServerNameRow& b) {
    return a.connections != b.connections ? a.connections > b.connections : a.name < b.name;
  });
  out.key("server_names").begin_array();
  for (const ServerNameRow& r : names) write_server_name(out, r);
  out.end_array();

  std::vector<ConnectionRow> conns = connections(workers);
  std::sort(conns.begin(), conns.end(), [](const ConnectionRow& a, const ConnectionRow& b) {
    return std::tie(a.c.first_ns, a.id) < std::tie(b.c.first_ns, b.id);
  });
  out.key("connection_list").begin_array();
  for (const ConnectionRow& r : conns) write_connection(out, r);
  out.end_array();
  out.field("connections_recycled", t.connections_recycled);

  out.key("malformed").begin_object();
  for (size_t e = 1; e < kErrorCount; ++e) {
    out.field(error_name(static_cast<Error>(e)), t.malformed[e]);
  }
  out.end_object();
  out.key("overflow").begin_object();
  for (size_t i = 0; i < kOverflowCount; ++i) {
    out.field(overflow_name(static_cast<Overflow>(i)), t.overflow[i]);
  }
  out.end_object();
  out.end_object();
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  std::vector<std::pair<std::string, uint64_t>> bytes;
  for (const ServerNameRow& r : server_names(workers)) bytes.emplace_back(r.name, r.bytes);
  series_.update(host_, now_ns, bytes);

  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    w->connection_table().for_each([&](const Connection& c) {
      connection_bytes_.add(connection_number(w->id(), c.flow_id), total_bytes(c));
    });
  }
  auto key_of = [](uint64_t number) {
    return connection_series_key(std::to_string(number >> kFlowIdBits) + ":" +
                                 std::to_string(number & ((uint64_t{1} << kFlowIdBits) - 1)));
  };
  auto number_of = [](const std::string& key, uint64_t& number) {
    unsigned long long worker = 0, flow = 0;
    int end = 0;
    if (std::sscanf(key.c_str(), "conn.%llu:%llu%n", &worker, &flow, &end) != 2 ||
        static_cast<size_t>(end) != key.size() || worker > UINT16_MAX ||
        flow >= (uint64_t{1} << kFlowIdBits)) {
      return false;
    }
    number = connection_number(static_cast<uint32_t>(worker), flow);
    return true;
  };
  connection_bytes_.finish(host_, now_ns, connection_series_, key_of, number_of);
}

std::string connection_series_key(std::string_view id) { return "conn." + std::string(id); }

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  if (path == "connections") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to", "server_name", "version",
                  "active"});
    using R = ConnectionRow;
    ListPage<R> page(
        q,
        {{"first_seen", [](const R& a, const R& b) { return a.c.first_ns < b.c.first_ns; }},
         {"last_seen",
          [](const R& a, const R& b) { return live_load(a.c.last_ns) < live_load(b.c.last_ns); }},
         {"packets",
          [](const R& a, const R& b) { return total_packets(a.c) < total_packets(b.c); }},
         {"bytes", [](const R& a, const R& b) { return total_bytes(a.c) < total_bytes(b.c); }},
         {"server_name",
          [](const R& a, const R& b) {
            return std::string_view(a.c.hello.server_name) <
                   std::string_view(b.c.hello.server_name);
          }},
         {"version", [](const R& a, const R& b) { return a.c.version < b.c.version; }}},
        "first_seen", [](const R& a, const R& b) { return a.id < b.id; });
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    auto name = q.get("server_name");
    auto version = q.get("version");
    auto active = q.get("active");
    if (active && *active != "true" && *active != "false") {
      throw QueryError("active: must be true or false");
    }
    std::vector<R> rows = connections(workers);
    std::erase_if(rows, [&](const R& r) {
      if (!window.overlaps(r.c.first_ns, live_load(r.c.last_ns))) return true;
      if (name && lower(r.c.hello.server_name) != lower(*name)) return true;
      if (version && name_of(r.c.version) != *version) return true;
      if (active && r.c.active != (*active == "true")) return true;
      return !connection_matches(r, needle);
    });
    page.write(rows, out, write_connection);
    return 200;
  }
  if (path.starts_with("connections/")) {
    q.allow_only({});
    std::string_view id = path.substr(std::string_view("connections/").size());
    for (const ConnectionRow& r : connections(workers)) {
      if (r.id != id) continue;
      // Looking at a live connection graphs its bit rate; an ended one keeps the graph it has
      // (busy or looked at within the last minute), else it has none: it sends no more.
      std::string key = connection_series_key(r.id);
      if (r.c.active) connection_series_.watch(key);
      out.begin_object().key("connection");
      write_connection(out, r);
      out.key("series");
      if (r.c.active || connection_series_.graphed(key)) {
        out.value("quic." + key + ".bps");
      } else {
        out.null();
      }
      out.end_object();
      return 200;
    }
    out.begin_object().field("error", "no such connection: " + std::string(id)).end_object();
    return 404;
  }
  if (path == "server_names") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = ServerNameRow;
    ListPage<R> page(
        q,
        {{"server_name", [](const R& a, const R& b) { return a.name < b.name; }},
         {"connections", [](const R& a, const R& b) { return a.connections < b.connections; }},
         {"bytes", [](const R& a, const R& b) { return a.bytes < b.bytes; }},
         {"first_seen", [](const R& a, const R& b) { return a.first_ns < b.first_ns; }},
         {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }}},
        "connections", [](const R& a, const R& b) { return a.name < b.name; });
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = server_names(workers);
    std::erase_if(rows, [&](const R& r) {
      return !window.overlaps(r.first_ns, r.last_ns) || !contains(r.name, needle);
    });
    page.write(rows, out, write_server_name);
    return 200;
  }
  if (path.starts_with("server_names/")) {
    q.allow_only({});
    std::string name = lower(std::string(path.substr(13)));
    for (const ServerNameRow& r : server_names(workers)) {
      if (r.name != name) continue;
      series_.watch(name);  // looking at a server name graphs its bit rate
      out.begin_object().key("server_name");
      write_server_name(out, r);
      out.field("series", "quic." + name + ".bps").end_object();
      return 200;
    }
    out.begin_object().field("error", "no such server name: " + name).end_object();
    return 404;
  }
  if (path == "versions") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = VersionRow;
    ListPage<R> page(
        q,
        {{"version", [](const R& a, const R& b) { return a.name < b.name; }},
         {"connections", [](const R& a, const R& b) { return a.connections < b.connections; }},
         {"decrypted", [](const R& a, const R& b) { return a.decrypted < b.decrypted; }},
         {"server_names", [](const R& a, const R& b) { return a.server_names < b.server_names; }},
         {"first_seen", [](const R& a, const R& b) { return a.first_ns < b.first_ns; }},
         {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }}},
        "connections", [](const R& a, const R& b) { return a.name < b.name; });
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    // Within a window, the connections active in it where the tables still hold them all;
    // else the versions' totals, keeping those active in the window.
    std::optional<std::vector<R>> counted;
    if (!window.all()) counted = versions_in(workers, window);
    std::vector<R> rows;
    if (counted) {
      rows = std::move(*counted);
    } else {
      rows = versions(workers);
      std::erase_if(rows, [&](const R& r) { return !window.overlaps(r.first_ns, r.last_ns); });
    }
    std::erase_if(rows, [&](const R& r) { return !contains(r.name, needle); });
    const char* counts = counted ? "window" : "since_start";
    page.write(rows, out, [counts](JsonWriter& w, const R& r) { write_version(w, r, counts); });
    return 200;
  }
  return 404;
}

}  // namespace wiremeter::quic

WIREMETER_ANALYZER_PLUGIN(wiremeter::quic::Plugin)
