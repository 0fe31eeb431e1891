// connections: the REST views under /api/v1/connections/.
//
//   flows               active and recently ended flows, sorted, filtered and paged here
//   flows/<worker>:<id> one flow
//   servers             the servers table, sorted, filtered and paged the same way
//   servers/<addr>:<port>[/<proto>]  one server (and its graph)
//
// Active flows come from snapshots the workers publish on request (see Worker::worker_tick);
// a response that includes them says how fresh they are.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "connections.hpp"

namespace wiremeter::connections {
namespace {

using Clock = std::chrono::steady_clock;

// Snapshots younger than this are served without asking the workers again, so paging through a
// list does not make every worker walk its flows for every page.
constexpr std::chrono::milliseconds kSnapshotReuse{250};

enum class StateFilter { kActive, kEnded, kAll };

struct Window {
  uint64_t from_ns = 0;
  uint64_t to_ns = UINT64_MAX;
  bool contains(const FlowSummary& f) const { return f.first_ns <= to_ns && f.last_ns >= from_ns; }
};

Window parse_window(const Query& q) {
  Window w;
  w.from_ns = q.get_time_ns("from", 0);
  w.to_ns = q.get_time_ns("to", UINT64_MAX);
  if (w.from_ns > w.to_ns) throw QueryError("from: must not be after to");
  return w;
}

StateFilter parse_state(const Query& q) {
  std::string s = q.get_or("state", "all");
  if (s == "active") return StateFilter::kActive;
  if (s == "ended") return StateFilter::kEnded;
  if (s == "all") return StateFilter::kAll;
  throw QueryError("state: must be active, ended or all");
}

bool endpoint_matches(const std::string& needle, const uint8_t* addr, uint8_t ip_version,
                      uint16_t port) {
  return format_addr(addr, ip_version).find(needle) != std::string::npos ||
         std::to_string(port).find(needle) != std::string::npos;
}

// Substring of the client or server address or port.
bool flow_matches(const std::string& needle, const FlowSummary& f) {
  if (needle.empty()) return true;
  return endpoint_matches(needle, f.addr[0], f.ip_version, f.port[0]) ||
         endpoint_matches(needle, f.addr[1], f.ip_version, f.port[1]);
}

uint64_t flow_key(uint8_t worker, uint64_t id) { return id << 8 | worker; }

// Ties sort by flow id so that pages do not overlap or skip rows between requests.
bool id_less(const FlowSummary* a, const FlowSummary* b) {
  return std::tie(a->worker, a->id) < std::tie(b->worker, b->id);
}
template <typename Key>
bool by(const FlowSummary* a, const FlowSummary* b, Key key) {
  auto ka = key(*a), kb = key(*b);
  return ka != kb ? ka < kb : id_less(a, b);
}
int64_t rtt_or_none(const FlowSummary& f) {
  return f.tcp.has_handshake_rtt() ? static_cast<int64_t>(f.tcp.handshake_us()) : -1;
}

// ListPage writes the whole page object; the snapshot's freshness goes in as one more member.
void write_page(JsonWriter& out, std::string page, const JsonWriter* snapshot) {
  if (snapshot && !page.empty() && page.back() == '}') {
    page.pop_back();
    page += ",\"snapshot\":" + snapshot->str() + "}";
  }
  out.raw(page);
}

}  // namespace

Plugin::Snapshots Plugin::fresh_snapshots(std::span<Worker* const> workers) {
  Snapshots out;
  auto now = Clock::now();
  bool recent = !workers.empty();
  for (Worker* w : workers) {
    if (!w) continue;
    Snapshot s = w->snapshot();
    recent &= s.generation != 0 && now - s.taken < kSnapshotReuse;
  }
  if (!recent) {
    uint64_t gen = ++snapshot_request_;
    for (Worker* w : workers) {
      if (w) w->request_snapshot(gen);
    }
    auto deadline = now + kSnapshotWait;
    for (;;) {
      bool all = true;
      for (Worker* w : workers) all &= !w || w->published_generation() >= gen;
      if (all) break;
      if (Clock::now() >= deadline) {
        // A worker with many flows needs several ticks, or it is stopped: serve what it
        // published last.
        out.fresh = false;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  now = Clock::now();
  for (Worker* w : workers) {
    if (!w) continue;
    Snapshot s = w->snapshot();
    if (s.generation == 0) {
      out.fresh = false;
    } else {
      out.age_ms =
          std::max(out.age_ms, std::chrono::duration<double, std::milli>(now - s.taken).count());
    }
    out.per_worker.push_back(std::move(s));
  }
  return out;
}

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  if (path == "flows") return query_flows(workers, q, out);
  if (path.starts_with("flows/")) return query_flow(workers, path.substr(6), q, out);
  if (path == "servers") return query_servers(workers, q, out);
  if (path.starts_with("servers/")) return query_server(workers, path.substr(8), q, out);
  return 404;
}

int Plugin::query_flows(std::span<Worker* const> workers, const Query& q, JsonWriter& out) {
  q.allow_only({"sort", "order", "page", "size", "filter", "state", "from", "to"});
  using Row = const FlowSummary*;
  ListPage<Row> page(
      q,
      {{"bytes", [](Row a, Row b) { return by(a, b, [](auto& f) { return f.total_bytes(); }); }},
       {"packets",
        [](Row a, Row b) { return by(a, b, [](auto& f) { return f.total_packets(); }); }},
       {"start", [](Row a, Row b) { return by(a, b, [](auto& f) { return f.first_ns; }); }},
       {"duration", [](Row a, Row b) { return by(a, b, [](auto& f) { return f.duration_ns(); }); }},
       {"rtt", [](Row a, Row b) { return by(a, b, rtt_or_none); }},
       {"retransmissions",
        [](Row a, Row b) { return by(a, b, [](auto& f) { return f.tcp.retx_packets; }); }}},
      "bytes");
  StateFilter state = parse_state(q);
  Window window = parse_window(q);
  std::string needle = lower(q.get_or("filter", ""));

  std::vector<FlowSummary> ended;
  std::unordered_set<uint64_t> ended_ids;
  if (state != StateFilter::kActive) {
    for (Worker* w : workers) {
      if (!w) continue;
      w->records().for_each([&](const FlowSummary& f) {
        if (state == StateFilter::kAll) ended_ids.insert(flow_key(f.worker, f.id));
        if (window.contains(f) && flow_matches(needle, f)) ended.push_back(f);
      });
    }
  }
  std::vector<Row> rows;
  rows.reserve(ended.size());
  for (const FlowSummary& f : ended) rows.push_back(&f);
  Snapshots snaps;
  if (state != StateFilter::kEnded) {
    snaps = fresh_snapshots(workers);
    for (const Snapshot& s : snaps.per_worker) {
      if (!s.flows) continue;
      for (const FlowSummary& f : *s.flows) {
        // A flow that ended after its snapshot was taken is shown once, as ended.
        if (ended_ids.count(flow_key(f.worker, f.id))) continue;
        if (window.contains(f) && flow_matches(needle, f)) rows.push_back(&f);
      }
    }
  }
  JsonWriter body, snapshot;
  page.write(rows, body, [this](JsonWriter& w, Row f) { write_flow(w, *f, app_name(*f)); });
  if (state != StateFilter::kEnded) {
    snapshot.begin_object().field("fresh", snaps.fresh).field("age_ms", snaps.age_ms).end_object();
  }
  write_page(out, body.take(), state != StateFilter::kEnded ? &snapshot : nullptr);
  return 200;
}

int Plugin::query_flow(std::span<Worker* const> workers, std::string_view id, const Query& q,
                       JsonWriter& out) {
  q.allow_only({});
  uint32_t worker = 0;
  uint64_t flow_id = 0;
  size_t colon = id.find(':');
  auto parse = [](std::string_view s, auto& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  if (colon == std::string_view::npos || !parse(id.substr(0, colon), worker) ||
      !parse(id.substr(colon + 1), flow_id) || worker > 255) {
    throw QueryError("flow: expected <worker>:<id>, as in the flow lists");
  }
  auto matches = [&](const FlowSummary& f) { return f.worker == worker && f.id == flow_id; };
  std::optional<FlowSummary> found;
  for (Worker* w : workers) {
    if (!w) continue;
    w->records().for_each([&](const FlowSummary& f) {
      if (matches(f)) found = f;
    });
  }
  Snapshots snaps;
  if (!found) {
    snaps = fresh_snapshots(workers);
    for (const Snapshot& s : snaps.per_worker) {
      if (!s.flows) continue;
      for (const FlowSummary& f : *s.flows) {
        if (matches(f)) found = f;
      }
    }
  }
  if (!found) {
    out.begin_object().field("error", "no such flow: " + std::string(id)).end_object();
    return 404;
  }
  out.begin_object().key("flow");
  write_flow(out, *found, app_name(*found));
  // Viewing an active flow starts its graph (kept while it is viewed).
  std::string series = std::to_string(found->worker) + ":" + std::to_string(found->id) + ".bps";
  if (found->end_reason == WM_FLOW_ACTIVE && watch(workers, found->worker, found->id)) {
    out.field("series", "connections." + series);
  } else {
    out.key("series").null();
  }
  if (found->end_reason == WM_FLOW_ACTIVE) {
    out.key("snapshot")
        .begin_object()
        .field("fresh", snaps.fresh)
        .field("age_ms", snaps.age_ms)
        .end_object();
  }
  out.end_object();
  return 200;
}

bool Plugin::watch(std::span<Worker* const> workers, uint32_t worker, uint64_t id) {
  if (worker >= workers.size() || !workers[worker]) return false;
  std::lock_guard lock(watch_mutex_);
  auto now = Clock::now();
  for (Watch& w : watches_) {
    if (w.worker == worker && w.id == id) {
      w.last_view = now;
      return true;
    }
  }
  Worker& wk = *workers[worker];
  for (size_t slot = 0; slot < Worker::kWatchSlots; ++slot) {
    uint64_t expected = 0;
    if (!wk.watch_id[slot].compare_exchange_strong(expected, id + 1)) continue;
    watches_.push_back({worker, slot, id, now, wk.watch_bytes[slot].value()});
    wk.watching.store(true, std::memory_order_relaxed);
    return true;
  }
  return false;
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  update_server_series(workers, now_ns);
  std::lock_guard lock(watch_mutex_);
  double dt = last_tick_ns_ && now_ns > last_tick_ns_
                  ? static_cast<double>(now_ns - last_tick_ns_) / 1e9
                  : 0;
  last_tick_ns_ = now_ns;
  auto now = Clock::now();
  std::erase_if(watches_, [&](Watch& w) {
    if (w.worker >= workers.size() || !workers[w.worker]) return true;
    Worker& wk = *workers[w.worker];
    // Nobody has looked for a while: stop counting, free the slot.
    if (now - w.last_view > kWatchLinger) {
      wk.watch_id[w.slot].store(0, std::memory_order_relaxed);
      bool any = false;
      for (auto& id : wk.watch_id) any |= id.load(std::memory_order_relaxed) != 0;
      wk.watching.store(any, std::memory_order_relaxed);
      return true;
    }
    uint64_t bytes = wk.watch_bytes[w.slot].value();
    if (dt > 0) {
      host_.record_series(std::to_string(w.worker) + ":" + std::to_string(w.id) + ".bps",
                          static_cast<double>(bytes - w.last_bytes) * 8 / dt);
    }
    w.last_bytes = bytes;
    return false;
  });
}

int Plugin::query_servers(std::span<Worker* const> workers, const Query& q, JsonWriter& out) {
  q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
  using Row = std::pair<const ServerKey*, const ServerStats*>;
  auto tie_break = [](const Row& a, const Row& b) {
    return std::memcmp(a.first, b.first, sizeof(ServerKey)) < 0;
  };
  auto by_stat = [tie_break](auto key) {
    return [key, tie_break](const Row& a, const Row& b) {
      auto ka = key(*a.second), kb = key(*b.second);
      return ka != kb ? ka < kb : tie_break(a, b);
    };
  };
  ListPage<Row> page(
      q,
      {{"flows", by_stat([](const ServerStats& s) { return s.flows; })},
       {"bytes", by_stat([](const ServerStats& s) { return s.bytes; })},
       {"packets", by_stat([](const ServerStats& s) { return s.packets; })},
       {"rtt", by_stat([](const ServerStats& s) { return s.rtt_count ? s.rtt_avg_us() : -1.0; })},
       {"retransmissions", by_stat([](const ServerStats& s) { return s.retransmission_ratio(); })},
       {"port",
        [tie_break](const Row& a, const Row& b) {
          return a.first->port != b.first->port ? a.first->port < b.first->port : tie_break(a, b);
        }}},
      "bytes");
  bool windowed = q.get("from") || q.get("to");
  Window window = parse_window(q);
  std::string needle = lower(q.get_or("filter", ""));
  Snapshots snaps = fresh_snapshots(workers);
  ServerTable table = server_table(workers, snaps, windowed, window.from_ns, window.to_ns);
  std::vector<Row> rows;
  for (const auto& [k, v] : table.rows()) {
    if (needle.empty() || endpoint_matches(needle, k.addr, k.ip_version, k.port)) {
      rows.emplace_back(&k, &v);
    }
  }
  JsonWriter body, snapshot;
  page.write(rows, body, [](JsonWriter& w, const Row& r) { write_server(w, *r.first, *r.second); });
  snapshot.begin_object().field("fresh", snaps.fresh).field("age_ms", snaps.age_ms).end_object();
  write_page(out, body.take(), &snapshot);
  return 200;
}

ServerTable Plugin::server_table(std::span<Worker* const> workers, const Snapshots& snaps,
                                 bool windowed, uint64_t from_ns, uint64_t to_ns) const {
  // Snapshots were taken first: a flow active in a snapshot may have ended since, and then it
  // is in the ended flows already (its record says so) and must not count twice.
  Window window{from_ns, to_ns};
  ServerTable table;
  std::unordered_set<uint64_t> ended_ids;
  for (Worker* w : workers) {
    if (!w) continue;
    w->records().for_each([&](const FlowSummary& f) {
      ended_ids.insert(flow_key(f.worker, f.id));
      if (windowed && window.contains(f)) table.add(f);
    });
    if (!windowed) table.merge(w->servers());
  }
  for (const Snapshot& s : snaps.per_worker) {
    if (!s.flows) continue;
    for (const FlowSummary& f : *s.flows) {
      if (window.contains(f) && !ended_ids.count(flow_key(f.worker, f.id))) table.add(f);
    }
  }
  return table;
}

namespace {

std::optional<uint8_t> parse_proto(std::string_view text) {
  for (uint8_t p : {kProtoTcp, uint8_t{17}, uint8_t{1}, uint8_t{58}, uint8_t{132}}) {
    if (text == proto_label(p)) return p;
  }
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v > 255) {
    return std::nullopt;
  }
  return static_cast<uint8_t>(v);
}

// "<addr>:<port>[/<proto>]" (IPv6 in brackets or not) -> the key, without the protocol when the
// path has none.
std::pair<ServerKey, bool> parse_server_path(std::string_view text) {
  ServerKey k{};
  bool has_proto = false;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    auto proto = parse_proto(text.substr(slash + 1));
    if (!proto) throw QueryError("proto: expected a protocol number or tcp, udp, sctp, icmp");
    k.proto = *proto;
    has_proto = true;
    text = text.substr(0, slash);
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw QueryError("server: expected <address>:<port>[/<proto>], as in the servers table");
  }
  std::string_view port_text = text.substr(colon + 1);
  uint32_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    throw QueryError("port: expected 0..65535");
  }
  k.port = static_cast<uint16_t>(port);
  std::string addr(text.substr(0, colon));
  if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);
  }
  if (inet_pton(AF_INET, addr.c_str(), k.addr) == 1) {
    k.ip_version = 4;
  } else if (inet_pton(AF_INET6, addr.c_str(), k.addr) == 1) {
    k.ip_version = 6;
  } else {
    throw QueryError("server: not an IPv4 or IPv6 address");
  }
  return {k, has_proto};
}

}  // namespace

int Plugin::query_server(std::span<Worker* const> workers, std::string_view key, const Query& q,
                         JsonWriter& out) {
  q.allow_only({});
  auto [want, has_proto] = parse_server_path(key);
  Snapshots snaps = fresh_snapshots(workers);
  ServerTable table = server_table(workers, snaps, false, 0, UINT64_MAX);
  // Without a protocol: the TCP row (what the table is about), else the one with most bytes.
  const ServerKey* found_key = nullptr;
  const ServerStats* found = nullptr;
  auto better = [&](const ServerKey& k, const ServerStats& v) {
    if (!found) return true;
    bool tcp = k.proto == kProtoTcp, found_tcp = found_key->proto == kProtoTcp;
    if (tcp != found_tcp) return tcp;
    return v.bytes != found->bytes ? v.bytes > found->bytes : k.proto < found_key->proto;
  };
  for (const auto& [k, v] : table.rows()) {
    if (k.port != want.port || k.ip_version != want.ip_version ||
        std::memcmp(k.addr, want.addr, sizeof k.addr) != 0) {
      continue;
    }
    if (has_proto ? k.proto == want.proto : better(k, v)) {
      found_key = &k;
      found = &v;
    }
  }
  if (!found) {
    out.begin_object().field("error", "no such server: " + std::string(key)).end_object();
    return 404;
  }
  // Only a server the meter holds can be graphed: one it evicted (or never had room for) gets
  // a graph again once one of its flows sends a packet, and the view says so until then.
  bool metered = std::any_of(workers.begin(), workers.end(), [&](const Worker* w) {
    return w && w->server_meter().holds(*found_key);
  });
  std::string series = "server." + server_key_text(*found_key);
  if (metered) {
    std::lock_guard lock(series_mutex_);
    server_series_.watch(series);  // looking at a server graphs it, busy or not
  }
  out.begin_object().key("server");
  write_server(out, *found_key, *found);
  if (metered) {
    out.field("series", "connections." + series + ".bps");
  } else {
    out.key("series").null();
  }
  out.key("snapshot")
      .begin_object()
      .field("fresh", snaps.fresh)
      .field("age_ms", snaps.age_ms)
      .end_object()
      .end_object();
  return 200;
}

void Plugin::update_server_series(std::span<Worker* const> workers, uint64_t now_ns) {
  // Bytes of the last tick, by entry of each worker's meter; only entries that had any become
  // candidates (with their key).
  std::vector<std::pair<ServerKey, uint64_t>> candidates;
  meter_readings_.resize(workers.size());
  for (size_t w = 0; w < workers.size(); ++w) {
    if (!workers[w]) continue;
    const ServerMeter& meter = workers[w]->server_meter();
    MeterReading& r = meter_readings_[w];
    size_t half = meter.half_capacity();
    r.last_bytes.resize(half * 2);
    for (int h = 0; h < 2; ++h) {
      size_t base = static_cast<size_t>(h) * half;
      uint64_t epoch = meter.epoch(h);
      if (epoch != r.epoch[h]) {
        // The worker cleared this half: its entries are other servers now, counted from 0.
        std::fill_n(r.last_bytes.begin() + static_cast<std::ptrdiff_t>(base), r.read[h], 0);
        r.read[h] = 0;
        r.epoch[h] = epoch;
      }
      size_t n = std::min(meter.size(h), half), first_candidate = candidates.size();
      for (size_t i = base; i < base + n; ++i) {
        uint64_t bytes = meter.bytes(i), before = r.last_bytes[i];
        r.last_bytes[i] = bytes;
        if (bytes > before) candidates.emplace_back(meter.key(i), bytes - before);
      }
      r.read[h] = std::max(r.read[h], n);
      if (!meter.still_epoch(h, epoch)) {
        // Cleared while being read: what was read may mix two servers. Skip it this tick.
        candidates.resize(first_candidate);
        r.epoch[h] = UINT64_MAX;
      }
    }
  }
  uint64_t last_ns = std::exchange(last_server_tick_ns_, now_ns);
  if (last_ns == 0 || now_ns <= last_ns) return;  // a rate needs two ticks
  double dt = static_cast<double>(now_ns - last_ns) / 1e9;

  // A server's flows are spread over the workers.
  std::unordered_map<ServerKey, uint64_t, ServerKeyHash> bytes;
  bytes.reserve(candidates.size());
  for (const auto& [key, b] : candidates) bytes[key] += b;
  std::vector<std::pair<uint64_t, const ServerKey*>> busiest;
  busiest.reserve(bytes.size());
  for (const auto& [key, b] : bytes) busiest.emplace_back(b, &key);

  std::lock_guard lock(series_mutex_);
  size_t n = std::min(busiest.size(), server_series_.top());
  std::partial_sort(busiest.begin(), busiest.begin() + static_cast<std::ptrdiff_t>(n),
                    busiest.end(), [](const auto& a, const auto& b) {
                      if (a.first != b.first) return a.first > b.first;
                      return std::memcmp(a.second, b.second, sizeof(ServerKey)) < 0;
                    });
  std::vector<std::pair<std::string, double>> per_second;
  std::unordered_set<std::string> named;
  for (size_t i = 0; i < n; ++i) {
    std::string key = "server." + server_key_text(*busiest[i].second);
    named.insert(key);
    per_second.emplace_back(std::move(key), static_cast<double>(busiest[i].first) / dt);
  }
  // The servers graphed already (busy lately, or watched) go on, at 0 when they had no bytes.
  for (std::string& key : server_series_.graphed_keys()) {
    if (named.count(key)) continue;
    uint64_t b = 0;
    if (key.starts_with("server.")) {
      try {
        auto it = bytes.find(parse_server_path(std::string_view(key).substr(7)).first);
        if (it != bytes.end()) b = it->second;
      } catch (const QueryError&) {
        // Not a key this plugin made: it is recorded at 0 until it lingers out.
      }
    }
    per_second.emplace_back(std::move(key), static_cast<double>(b) / dt);
  }
  server_series_.update_rates(host_, now_ns, std::move(per_second));
}

}  // namespace wiremeter::connections
