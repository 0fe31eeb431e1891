// dns: the data path (Worker) and the control plane (Plugin: metrics, report, REST lists).
#include "dns_plugin.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace wiremeter::dns {
namespace {

constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;

// Port 53 is DNS; 5353 is mDNS (RFC 6762) and 5355 LLMNR (RFC 4795), both in the DNS message
// format. Only these: guessing "anything that parses as DNS" would count random UDP as DNS.
bool udp_dns_port(uint16_t port) { return port == 53 || port == 5353 || port == 5355; }
bool tcp_dns_port(uint16_t port) { return port == 53 || port == 5355; }

enum class Kind { kNone, kUdp, kTcp };

Kind classify(const wm_packet& p) {
  if (!(p.flags & WM_PKT_L4)) return Kind::kNone;
  if (p.l4_proto == kProtoUdp && (udp_dns_port(p.src_port) || udp_dns_port(p.dst_port))) {
    return Kind::kUdp;
  }
  if (p.l4_proto == kProtoTcp && (tcp_dns_port(p.src_port) || tcp_dns_port(p.dst_port))) {
    return Kind::kTcp;
  }
  return Kind::kNone;
}

Addr addr_of(const uint8_t* a, uint8_t version) {
  Addr r;
  r.version = version;
  std::memcpy(r.bytes.data(), a, version == 4 ? 4 : 16);
  return r;
}

// The payload the view describes, clipped to the captured bytes: whatever the view says, a
// plugin never reads past cap_len.
std::pair<const uint8_t*, size_t> payload_of(const wm_packet& p) {
  if (!p.data || p.payload_len == 0 || p.payload_off >= p.cap_len) return {nullptr, 0};
  size_t n = std::min<size_t>(p.payload_len, p.cap_len - p.payload_off);
  return {p.data + p.payload_off, n};
}

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

std::string type_text(uint16_t type) {
  char buf[16];
  size_t n = format_type(type, buf, sizeof buf);
  return std::string(buf, n);
}

constexpr std::array<double, kRttBoundsUs.size()> kRttBoundsSeconds = seconds_from_us(kRttBoundsUs);

// Unix seconds with microseconds. Through integer microseconds (exact in a double until 2255)
// so that 1591780794.740079 prints as that, not as ns / 1e9's 1591780794.7400792.
double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

void write_rcodes(JsonWriter& w, const std::array<uint64_t, kRcodes>& rcodes) {
  w.key("rcodes").begin_object();
  for (size_t i = 0; i < kRcodes; ++i) {
    if (rcodes[i]) w.field(rcode_name(static_cast<uint8_t>(i)), rcodes[i]);
  }
  w.end_object();
}

// `counts` (REST views only): "window" when the counters are those of the query's time window,
// "since_start" when they are totals (no window, or the transaction logs no longer cover it).
void write_server(JsonWriter& w, const Plugin::ServerRow& r, const char* counts = nullptr) {
  const ServerStats& s = r.stats;
  w.begin_object()
      .field("server", r.server)
      .field("requests", s.requests)
      .field("responses", s.responses)
      .field("errors", s.errors)
      .field("unanswered", s.unanswered)
      .field("retransmissions", s.retransmissions);
  write_ms_stats(w, "rtt_ms", s.rtt_count, s.rtt_sum_us, s.rtt_min_us, s.rtt_max_us);
  write_rcodes(w, s.rcodes);
  w.field("first_seen", seconds(s.first_ns)).field("last_seen", seconds(s.last_ns));
  if (counts) w.field("counts", counts);
  w.end_object();
}

void write_top_name(JsonWriter& w, const Plugin::TopRow& r, const char* counts = nullptr) {
  w.begin_object()
      .field("name", r.name)
      .field("queries", r.queries)
      .field("first_seen", seconds(r.first_ns))
      .field("last_seen", seconds(r.last_ns));
  if (counts) w.field("counts", counts);
  w.end_object();
}

const char* counts_name(bool window) { return window ? "window" : "since_start"; }

// The servers for a REST view: within a window, counted from the window's transactions where
// the logs hold them all, else the servers' totals, keeping those active in the window.
std::vector<Plugin::ServerRow> servers_in(std::span<Plugin::Worker* const> workers,
                                          const TimeWindow& window, bool& window_counts) {
  window_counts = false;
  if (!window.all()) {
    if (auto counted = Plugin::window_counts(workers, window)) {
      window_counts = true;
      return std::move(counted->servers);
    }
  }
  std::vector<Plugin::ServerRow> rows = Plugin::servers(workers);
  std::erase_if(rows, [&](const Plugin::ServerRow& r) {
    return !window.overlaps(r.stats.first_ns, r.stats.last_ns);
  });
  return rows;
}

void write_name(JsonWriter& w, const Plugin::NameRow& n) {
  w.begin_object().field("name", n.name).field("type", n.type);
  w.key("answers").begin_array();
  for (auto& a : n.answers) w.value(a);
  w.end_array();
  w.field("ttl", n.ttl)
      .field("count", n.count)
      .field("first_seen", seconds(n.first_ns))
      .field("last_seen", seconds(n.last_ns))
      .end_object();
}

void write_transaction(JsonWriter& w, const Transaction& t) {
  w.begin_object()
      .field("ts", seconds(t.ts_ns))
      .field("client", format_addr(t.client))
      .field("client_port", t.client_port)
      .field("server", format_addr(t.server))
      .field("server_port", t.server_port)
      .field("transport", t.transport == Transport::kTcp ? "tcp" : "udp")
      .field("id", t.id)
      .field("query", t.query.view());
  w.key("qtype");
  if (t.has_qtype) {
    w.value(type_text(t.qtype));
  } else {
    w.null();
  }
  w.key("rcode");
  if (t.rcode >= 0) {
    w.value(rcode_name(static_cast<uint8_t>(t.rcode)));
  } else {
    w.null();
  }
  w.key("answers").begin_array();
  t.answers.for_each([&](std::string_view a, uint32_t) { w.value(a); });
  w.end_array();
  w.key("ttls").begin_array();
  t.answers.for_each([&](std::string_view, uint32_t ttl) { w.value(ttl); });
  w.end_array();
  w.key("rtt_ms");
  if (t.rtt_us >= 0) {
    w.value(static_cast<double>(t.rtt_us) / 1000.0);
  } else {
    w.null();
  }
  if (t.partial) w.field("partial", true);
  if (t.answers.truncated) w.field("answers_truncated", true);
  w.end_object();
}

bool transaction_matches(const Transaction& t, const std::string& needle) {
  if (needle.empty()) return true;
  if (contains(t.query.view(), needle) || contains(format_addr(t.client), needle) ||
      contains(format_addr(t.server), needle)) {
    return true;
  }
  if (t.has_qtype && contains(type_text(t.qtype), needle)) return true;
  if (t.rcode >= 0 && contains(rcode_name(static_cast<uint8_t>(t.rcode)), needle)) return true;
  bool found = false;
  t.answers.for_each([&](std::string_view a, uint32_t) { found = found || contains(a, needle); });
  return found;
}

}  // namespace

const char* incomplete_name(Incomplete i) {
  switch (i) {
    case Incomplete::kIpFragment:
      return "ip_fragment";
    case Incomplete::kSnaplen:
      return "snaplen";
    case Incomplete::kTcpSegmented:
      return "tcp_segmented";
    case Incomplete::kTcpGap:
      return "tcp_gap";
    case Incomplete::kCount:
      break;
  }
  return "unknown";
}

std::string format_addr(const Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.version == 4) {
    inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf);
  } else if (a.version == 6) {
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

// ------------------------------------------------------------------------------------------
// Worker (data path)
// ------------------------------------------------------------------------------------------

Worker::Worker(uint32_t state_offset, const Limits& limits)
    : slot_(state_offset),
      limits_(limits),
      servers_(limits.servers),
      names_(limits.names),
      top_names_(limits.top_names),
      pending_(limits.pending),
      transactions_(limits.transactions),
      logged_ts_(std::max<uint32_t>(limits.transactions, 1), 0) {}

void Worker::log(const Transaction& t) noexcept {
  size_t at = static_cast<size_t>(logged_ % logged_ts_.size());
  if (logged_ >= logged_ts_.size() && logged_ts_[at] >= log_complete_from_ns_) {
    log_complete_from_ns_ = logged_ts_[at] + 1;
  }
  logged_ts_[at] = t.ts_ns;
  ++logged_;
  transactions_.push(t);
}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  // Most traffic is not DNS: the port check decides before the lock is taken.
  size_t first = 0;
  while (first < packets.size() && classify(packets[first]) == Kind::kNone) ++first;
  if (first == packets.size()) return;
  std::lock_guard lock(mutex_);
  for (size_t i = first; i < packets.size(); ++i) {
    const wm_packet& p = packets[i];
    Kind kind = classify(p);
    if (kind == Kind::kUdp) {
      handle_udp(p, slot_.get(p));
    } else if (kind == Kind::kTcp) {
      handle_tcp(p, slot_.get(p));
    }
  }
}

void Worker::handle_udp(const wm_packet& p, FlowState* state) noexcept {
  auto [data, len] = payload_of(p);
  int reason = -1;
  if (p.flags & WM_PKT_FRAGMENT) {
    // Only the first fragment has the UDP header (and so the ports that brought us here).
    reason = static_cast<int>(Incomplete::kIpFragment);
  } else if (static_cast<size_t>(p.l4_off) + 8 <= p.cap_len) {
    uint16_t udp_len = be16(p.data + p.l4_off + 4);
    if (udp_len >= 8 && udp_len - 8u > len) reason = static_cast<int>(Incomplete::kSnaplen);
  }
  handle_message(p, state, data, len, Transport::kUdp, reason);
}

void Worker::handle_tcp(const wm_packet& p, FlowState* state) noexcept {
  auto [data, len] = payload_of(p);
  if (len == 0) return;  // handshake, ACKs, FIN
  size_t pos = 0;
  uint8_t dir = p.direction & 1;
  if (state && p.l4_off + 8u <= p.cap_len) {
    // Sequence numbers tell retransmitted bytes (seen already) from new ones, so that a
    // retransmitted query is not a second query and framing stays in step.
    const uint8_t* tcp = p.data + p.l4_off;
    uint32_t seq = uint32_t{tcp[4]} << 24 | uint32_t{tcp[5]} << 16 | uint32_t{tcp[6]} << 8 | tcp[7];
    uint8_t bit = static_cast<uint8_t>(1u << dir);
    if (state->tcp_synced & bit) {
      auto ahead = static_cast<int32_t>(seq - state->tcp_next[dir]);
      if (ahead < 0) {  // starts with bytes seen already
        uint32_t old = static_cast<uint32_t>(-static_cast<int64_t>(ahead));
        if (old >= len) return;
        pos = old;
      } else if (ahead > 0) {  // bytes went missing: give up the message they belonged to
        incomplete[static_cast<size_t>(Incomplete::kTcpGap)].add();
        state->tcp_skip[dir] = 0;
      }
    }
    state->tcp_synced |= bit;
    state->tcp_next[dir] = seq + static_cast<uint32_t>(len);
  }
  if (state && state->tcp_skip[dir]) {
    // The rest of a message that began in an earlier segment.
    size_t n = std::min<size_t>(state->tcp_skip[dir], len - pos);
    state->tcp_skip[dir] = static_cast<uint16_t>(state->tcp_skip[dir] - n);
    pos += n;
  }
  // RFC 1035 4.2.2 / RFC 7766: each message is preceded by its length; one segment may hold
  // several messages (pipelining).
  while (len - pos >= 2) {
    size_t msg_len = be16(data + pos);
    if (pos + 2 + msg_len <= len) {
      handle_message(p, state, data + pos + 2, msg_len, Transport::kTcp, -1);
      pos += 2 + msg_len;
      continue;
    }
    incomplete[static_cast<size_t>(Incomplete::kTcpSegmented)].add();
    if (state) state->tcp_skip[dir] = static_cast<uint16_t>(pos + 2 + msg_len - len);
    return;
  }
  if (len - pos == 1) incomplete[static_cast<size_t>(Incomplete::kTcpSegmented)].add();
}

void Worker::handle_message(const wm_packet& p, FlowState* state, const uint8_t* msg, size_t len,
                            Transport transport, int incomplete_reason) noexcept {
  Error e = parse(msg, len);
  if (e != Error::kNone) {
    if (incomplete_reason < 0 || !is_truncation(e)) {
      malformed[static_cast<size_t>(e)].add();
      return;
    }
    // Cut by fragmentation or the snap length, not broken: what arrived still counts.
    incomplete[static_cast<size_t>(incomplete_reason)].add();
    if (e == Error::kTruncatedHeader) return;
    parsed_.partial = true;
  }
  if (parsed_.header.response()) {
    on_response(p, state, transport);
  } else {
    on_query(p, state, transport);
  }
}

Error Worker::parse(const uint8_t* data, size_t len) noexcept {
  Parsed& m = parsed_;
  m.has_question = m.has_owner = m.partial = false;
  m.answers.clear();
  Message msg(data, len);
  if (Error e = msg.parse_header(m.header); e != Error::kNone) return e;
  bool response = m.header.response();
  Record r;
  for (;;) {
    if (Error e = msg.next(r); e != Error::kNone) return e;
    if (r.section == Section::kEnd) return Error::kNone;
    if (r.section == Section::kQuestion) {
      // Servers answer one question per message; a second one is checked by next() but does
      // not name the transaction.
      if (m.has_question) continue;
      if (Error e = msg.read_name(r.name_offset, m.qname); e != Error::kNone) return e;
      m.has_question = true;
      m.qtype = r.type;
    } else if (r.section == Section::kAnswer && response) {
      // Answers in queries are mDNS known-answer lists, not answers; authority and additional
      // records only need to fit (next() checks that).
      Name& owner = m.has_owner ? m.scratch : m.owner;
      if (Error e = msg.read_name(r.name_offset, owner); e != Error::kNone) return e;
      if (!m.has_owner) {
        m.has_owner = true;
        m.owner_type = r.type;
      }
      char text[kAnswerText];
      size_t n = 0;
      if (Error e = msg.format_rdata(r, text, sizeof text, n); e != Error::kNone) return e;
      m.answers.add({text, n}, r.ttl);
    }
  }
}

void Worker::on_query(const wm_packet& p, FlowState* state, Transport transport) noexcept {
  const Parsed& m = parsed_;
  queries.add();
  Addr client = addr_of(p.src_addr, p.ip_version), server = addr_of(p.dst_addr, p.ip_version);
  ServerStats& s = servers_.at(server);
  ++s.requests;
  s.seen(p.ts_ns);
  if (m.has_question) top_names_.add(m.qname.view(), p.ts_ns);
  if (server.multicast()) {
    // mDNS and LLMNR queries to a group are answered by whoever owns the name, from its own
    // address: never within this flow. Logged now as queries without response, they do not
    // count as unanswered, which would otherwise grow with every mDNS browse on the LAN.
    Transaction& t = transaction_;
    t.ts_ns = p.ts_ns;
    t.rtt_us = -1;
    t.client = client;
    t.server = server;
    t.client_port = p.src_port;
    t.server_port = p.dst_port;
    t.id = m.header.id;
    t.qtype = m.qtype;
    t.has_qtype = m.has_question;
    t.rcode = -1;
    t.transport = transport;
    t.partial = m.partial;
    t.retransmission = false;
    t.query.set(m.has_question ? m.qname.view() : std::string_view());
    t.answers.clear();
    log(t);
    return;
  }
  if (!state || !p.flow) return;  // nowhere to remember it
  prune(*state, p.flow->id);
  uint32_t hash = m.has_question ? static_cast<uint32_t>(name_hash(m.qname.view())) : 0;
  // One pass: spot a retransmission, and find the oldest outstanding query (the list's tail).
  bool retransmission = false;
  uint32_t outstanding = 0;
  uint32_t* oldest_link = nullptr;
  for (uint32_t* link = &state->pending; *link; link = &pending_.at(*link).next) {
    const PendingQuery& q = pending_.at(*link);
    if (!retransmission && q.id == m.header.id && q.name_hash == hash) retransmission = true;
    ++outstanding;
    oldest_link = link;
  }
  if (retransmission) {
    retransmissions.add();
    ++s.retransmissions;
  }
  // A client that never hears back would grow its list without end, and this walk with it
  // (a query flood on one 5-tuple): past kMaxPendingPerFlow the oldest query is unanswered.
  if (outstanding >= kMaxPendingPerFlow && oldest_link) {
    uint32_t ref = *oldest_link;
    report_unanswered(pending_.at(ref));
    *oldest_link = 0;
    pending_.release(ref);
    --pending_count_;
  }
  // A retransmission is tracked as a query of its own, as Zeek does: the response answers the
  // oldest, and a query left without response is unanswered.
  uint32_t ref = pending_.allocate();
  if (!ref) {
    pending_full.add();
    return;
  }
  PendingQuery& q = pending_.at(ref);
  q.flow_id = p.flow->id;
  q.ts_ns = p.ts_ns;
  q.name_hash = hash;
  q.id = m.header.id;
  q.qtype = m.qtype;
  q.has_question = m.has_question;
  q.client = client;
  q.server = server;
  q.client_port = p.src_port;
  q.server_port = p.dst_port;
  q.transport = static_cast<uint8_t>(transport);
  q.retransmission = retransmission;
  q.name.set(m.has_question ? m.qname.view() : std::string_view());
  q.next = state->pending;
  state->pending = ref;
  ++pending_count_;
}

void Worker::on_response(const wm_packet& p, FlowState* state, Transport transport) noexcept {
  const Parsed& m = parsed_;
  uint8_t rc = m.header.rcode();
  responses.add();
  rcodes[rc].add();
  Addr server = addr_of(p.src_addr, p.ip_version), client = addr_of(p.dst_addr, p.ip_version);
  ServerStats& s = servers_.at(server);
  ++s.responses;
  s.seen(p.ts_ns);
  ++s.rcodes[rc];
  if (rc != 0) ++s.errors;

  uint32_t match = 0;
  bool late = false;
  if (state && p.flow && state->pending) {
    late = prune(*state, p.flow->id, m.header.id);
    uint32_t hash = m.has_question ? static_cast<uint32_t>(name_hash(m.qname.view())) : 0;
    uint32_t* match_link = nullptr;
    for (uint32_t* link = &state->pending; *link; link = &pending_.at(*link).next) {
      const PendingQuery& q = pending_.at(*link);
      // The list runs newest to oldest: the last match is the oldest query. A response without
      // question (some FORMERR/NOTIMP) can only be matched by id.
      if (q.id == m.header.id && (!m.has_question || q.name_hash == hash)) match_link = link;
    }
    if (match_link) {
      match = *match_link;
      *match_link = pending_.at(match).next;
    }
  }

  Transaction& t = transaction_;
  if (match) {
    const PendingQuery& q = pending_.at(match);
    uint64_t us = p.ts_ns > q.ts_ns ? (p.ts_ns - q.ts_ns) / 1000 : 0;
    record_rtt(s, us);
    t.ts_ns = q.ts_ns;
    t.rtt_us = static_cast<int64_t>(us);
    t.client = q.client;
    t.server = q.server;
    t.client_port = q.client_port;
    t.server_port = q.server_port;
    t.transport = static_cast<Transport>(q.transport);
    t.query = q.name;
    t.qtype = q.qtype;
    t.has_qtype = q.has_question;
    t.retransmission = q.retransmission;
    pending_.release(match);
    --pending_count_;
  } else {
    unmatched_responses.add();
    if (late) late_responses.add();
    t.ts_ns = p.ts_ns;
    t.rtt_us = -1;
    t.client = client;
    t.server = server;
    t.client_port = p.dst_port;
    t.server_port = p.src_port;
    t.transport = transport;
    // mDNS announcements carry no question: like Zeek, name them after the first answer.
    t.query.set(m.has_question ? m.qname.view()
                : m.has_owner  ? m.owner.view()
                               : std::string_view());
    t.qtype = m.qtype;
    t.has_qtype = m.has_question;
    t.retransmission = false;
  }
  t.id = m.header.id;
  t.rcode = static_cast<int8_t>(rc);
  t.partial = m.partial;
  t.answers = m.answers;
  log(t);
  if (rc == 0 && m.answers.count && t.query.length) {
    names_.update(t.query.view(), t.has_qtype ? t.qtype : m.owner_type, m.answers, p.ts_ns);
  }
}

void Worker::record_rtt(ServerStats& server, uint64_t us) noexcept {
  server.add_rtt(us);
  if (rtt_count_++ == 0 || us < rtt_min_us.value()) rtt_min_us.set(us);
  if (us > rtt_max_us.value()) rtt_max_us.set(us);
  rtt[rtt_bucket(us)].add();
  rtt_sum_us.add(us);
}

bool Worker::prune(FlowState& state, uint64_t flow_id, int response_id) noexcept {
  bool late = false;
  uint32_t* link = &state.pending;
  uint32_t steps = 0;
  while (*link) {
    uint32_t ref = *link;
    // The list is ours alone, but a list that points at another flow's query or runs in a
    // circle would mean memory the core reused; end it there rather than walk foreign entries.
    if (!pending_.valid(ref) || ++steps > pending_.capacity()) {
      *link = 0;
      break;
    }
    PendingQuery& q = pending_.at(ref);
    if (q.state == PendingQuery::kFree || q.flow_id != flow_id) {
      *link = 0;
      break;
    }
    if (q.state == PendingQuery::kExpired) {
      // Already reported unanswered by worker_tick; a response now is late.
      if (q.id == response_id) late = true;
      *link = q.next;
      pending_.release(ref);
      continue;
    }
    link = &q.next;
  }
  return late;
}

void Worker::report_unanswered(const PendingQuery& q) noexcept {
  unanswered.add();
  ++servers_.at(q.server).unanswered;
  Transaction& t = transaction_;
  t.ts_ns = q.ts_ns;
  t.rtt_us = -1;
  t.client = q.client;
  t.server = q.server;
  t.client_port = q.client_port;
  t.server_port = q.server_port;
  t.id = q.id;
  t.qtype = q.qtype;
  t.has_qtype = q.has_question;
  t.rcode = -1;
  t.transport = static_cast<Transport>(q.transport);
  t.partial = false;
  t.retransmission = q.retransmission;
  t.query = q.name;
  t.answers.clear();
  log(t);
}

void Worker::on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept {
  if (!state.pending) return;
  std::lock_guard lock(mutex_);
  prune(state, flow.id);
  for (uint32_t ref = state.pending; ref;) {
    PendingQuery& q = pending_.at(ref);
    uint32_t next = q.next;
    report_unanswered(q);
    --pending_count_;
    pending_.release(ref);
    ref = next;
  }
  state.pending = 0;
}

void Worker::worker_tick(uint64_t now_ns) noexcept {
  if (pending_count_ == 0) return;
  std::lock_guard lock(mutex_);
  // A whole-pool scan ten times a second: a few thousand slots cost microseconds, and it needs
  // no per-query timer structure on the data path.
  for (uint32_t i = 0; i < pending_.high_water(); ++i) {
    PendingQuery& q = pending_.slot(i);
    if (q.state != PendingQuery::kPending || now_ns <= q.ts_ns ||
        now_ns - q.ts_ns < limits_.query_timeout_ns) {
      continue;
    }
    // Reported now; the slot stays linked from its flow until that flow is next seen.
    report_unanswered(q);
    q.state = PendingQuery::kExpired;
    --pending_count_;
  }
}

// ------------------------------------------------------------------------------------------
// Plugin (control plane)
// ------------------------------------------------------------------------------------------

Plugin::Plugin(Host& host)
    : host_(host),
      queries_id_(host.register_metric("wiremeter_dns_queries_total", "DNS queries seen.",
                                       WM_METRIC_COUNTER)),
      responses_id_(host.register_metric("wiremeter_dns_responses_total",
                                         "DNS responses seen, by response code.",
                                         WM_METRIC_COUNTER)),
      unanswered_id_(host.register_metric(
          "wiremeter_dns_unanswered_total",
          "DNS queries without a response: timed out, or their flow ended first. Queries to "
          "multicast groups (mDNS, LLMNR) are not counted: other hosts answer them.",
          WM_METRIC_COUNTER)),
      response_seconds_id_(host.register_metric("wiremeter_dns_response_seconds",
                                                "Time from a DNS query to its response.",
                                                WM_METRIC_HISTOGRAM)),
      malformed_id_(host.register_metric("wiremeter_dns_malformed_total",
                                         "DNS messages that could not be read, by reason.",
                                         WM_METRIC_COUNTER)),
      incomplete_id_(host.register_metric(
          "wiremeter_dns_incomplete_total",
          "DNS messages cut by IP fragmentation, the snap length or TCP segmentation.",
          WM_METRIC_COUNTER)),
      server_requests_id_(host.register_metric(
          "wiremeter_dns_server_requests_total",
          "DNS queries per server (the 20 busiest servers, the rest as \"other\").",
          WM_METRIC_COUNTER)),
      server_responses_id_(host.register_metric("wiremeter_dns_server_responses_total",
                                                "DNS responses per server (top 20 + other).",
                                                WM_METRIC_COUNTER)),
      server_errors_id_(host.register_metric(
          "wiremeter_dns_server_errors_total",
          "DNS responses with a response code other than NOERROR, per server (top 20 + other).",
          WM_METRIC_COUNTER)),
      server_unanswered_id_(host.register_metric(
          "wiremeter_dns_server_unanswered_total",
          "DNS queries without a response, per server (top 20 + other).", WM_METRIC_COUNTER)),
      server_response_seconds_id_(host.register_metric(
          "wiremeter_dns_server_response_seconds",
          "Time from a DNS query to its response, per server (top 20 + other).",
          WM_METRIC_HISTOGRAM)),
      name_queries_id_(host.register_metric(
          "wiremeter_dns_name_queries_total",
          "Queries for the 20 most queried names (approximate counts), the rest as \"other\".",
          WM_METRIC_COUNTER)) {
  host.expect_no_settings();
}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info& info) {
  return std::make_unique<Worker>(info.flow_state_offset);
}

Plugin::Totals Plugin::totals(std::span<Worker* const> workers) {
  Totals t;
  for (Worker* w : workers) {
    if (!w) continue;
    t.queries += w->queries.value();
    t.responses += w->responses.value();
    t.unanswered += w->unanswered.value();
    t.unmatched_responses += w->unmatched_responses.value();
    t.late_responses += w->late_responses.value();
    t.retransmissions += w->retransmissions.value();
    t.pending_full += w->pending_full.value();
    uint64_t n = 0;
    for (size_t i = 0; i < kRttBuckets; ++i) {
      t.rtt[i] += w->rtt[i].value();
      n += w->rtt[i].value();
    }
    if (n) {
      if (t.rtt_count == 0 || w->rtt_min_us.value() < t.rtt_min_us)
        t.rtt_min_us = w->rtt_min_us.value();
      t.rtt_max_us = std::max(t.rtt_max_us, w->rtt_max_us.value());
    }
    t.rtt_count += n;
    t.rtt_sum_us += w->rtt_sum_us.value();
    for (size_t i = 0; i < kRcodes; ++i) t.rcodes[i] += w->rcodes[i].value();
    for (size_t i = 0; i < kErrorCount; ++i) t.malformed[i] += w->malformed[i].value();
    for (size_t i = 0; i < kIncompleteCount; ++i) t.incomplete[i] += w->incomplete[i].value();
  }
  return t;
}

std::vector<Plugin::ServerRow> Plugin::servers(std::span<Worker* const> workers) {
  std::map<std::pair<uint8_t, std::array<uint8_t, 16>>, ServerStats> merged;
  ServerStats other;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    const ServerTable& table = w->servers();
    for (size_t i = 0; i < table.size(); ++i) {
      const ServerStats& s = table.row(i);
      auto [it, fresh] = merged.try_emplace({s.addr.version, s.addr.bytes}, s);
      if (!fresh) it->second.merge(s);
    }
    other.merge(table.other());
  }
  std::vector<ServerRow> rows;
  rows.reserve(merged.size() + 1);
  for (auto& [key, s] : merged) rows.push_back({format_addr(s.addr), s});
  if (other.requests || other.responses || other.unanswered) rows.push_back({"other", other});
  return rows;
}

std::vector<Plugin::NameRow> Plugin::names(std::span<Worker* const> workers) {
  std::map<std::pair<std::string, uint16_t>, NameRow> merged;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    w->names().for_each([&](const NameTable::Entry& e) {
      NameRow& r = merged[{std::string(e.name.view()), e.type}];
      if (r.count == 0 || e.first_ns < r.first_ns) r.first_ns = e.first_ns;
      r.count += e.count;
      if (e.last_ns >= r.last_ns) {
        // The latest answer wins: that is what a client resolving the name now gets.
        r.last_ns = e.last_ns;
        r.ttl = e.answers.min_ttl();
        r.answers.clear();
        e.answers.for_each([&](std::string_view a, uint32_t) { r.answers.emplace_back(a); });
      }
    });
  }
  std::vector<NameRow> rows;
  rows.reserve(merged.size());
  for (auto& [key, r] : merged) {
    r.name = key.first;
    r.type = type_text(key.second);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<Plugin::TopRow> Plugin::top_names(std::span<Worker* const> workers, uint64_t& total) {
  std::unordered_map<std::string, TopRow> merged;
  total = 0;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    total += w->top_names().total();
    w->top_names().for_each([&](const TopNames::Entry& e) {
      TopRow& r = merged[std::string(e.name.view())];
      if (r.queries == 0 || e.first_ns < r.first_ns) r.first_ns = e.first_ns;
      r.last_ns = std::max(r.last_ns, e.last_ns);
      r.queries += e.count;
    });
  }
  std::vector<TopRow> rows;
  rows.reserve(merged.size());
  for (auto& [name, r] : merged) {
    r.name = name;
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(), [](const TopRow& a, const TopRow& b) {
    return a.queries != b.queries ? a.queries > b.queries : a.name < b.name;
  });
  return rows;
}

std::vector<Transaction> Plugin::transactions(std::span<Worker* const> workers, uint64_t& dropped) {
  return merge_logs<Transaction>(
      workers, [](const Worker& w) -> const RecordLog<Transaction>& { return w.transactions(); },
      [](const Transaction& t) { return t.ts_ns; }, dropped);
}

std::optional<Plugin::WindowCounts> Plugin::window_counts(std::span<Worker* const> workers,
                                                          const TimeWindow& window) {
  using AddrKey = std::pair<uint8_t, std::array<uint8_t, 16>>;
  std::map<AddrKey, ServerStats> servers;
  std::map<std::string, TopRow> names;
  auto in_window = [&](uint64_t ts) { return ts >= window.from_ns && ts <= window.to_ns; };
  auto server_at = [&](const Addr& a) -> ServerStats& {
    ServerStats& s = servers[{a.version, a.bytes}];
    s.addr = a;
    return s;
  };
  auto count_name = [&](std::string_view name, uint64_t ts) {
    TopRow& r = names[std::string(name)];
    if (r.queries++ == 0 || ts < r.first_ns) r.first_ns = ts;
    r.last_ns = std::max(r.last_ns, ts);
  };
  for (Worker* w : workers) {
    if (!w) continue;
    // The log first, then (under the lock) how far back it is complete: a record overwritten
    // while it was read then counts as lost, never as present.
    w->transactions().for_each([&](const Transaction& t) {
      if (!in_window(t.ts_ns)) return;
      ServerStats& s = server_at(t.server);
      s.seen(t.ts_ns);
      // A query is a matched pair, an unanswered query or a multicast query (no rcode); a
      // response without its query counts only as a response.
      if (t.rtt_us >= 0 || t.rcode < 0) {
        ++s.requests;
        if (t.retransmission) ++s.retransmissions;
        if (t.has_qtype) count_name(t.query.view(), t.ts_ns);
      }
      if (t.rcode >= 0) {
        ++s.responses;
        ++s.rcodes[static_cast<size_t>(t.rcode)];
        if (t.rcode != 0) ++s.errors;
        if (t.rtt_us >= 0) s.add_rtt(static_cast<uint64_t>(t.rtt_us));
      } else if (!t.server.multicast()) {
        ++s.unanswered;
      }
    });
    auto lock = w->lock();
    if (w->log_complete_from_ns() > window.from_ns) return std::nullopt;
    // Queries still waiting for their response are requests already, not yet transactions.
    const PendingPool& pending = w->pending();
    for (uint32_t i = 0; i < pending.high_water(); ++i) {
      const PendingQuery& q = pending.slot(i);
      if (q.state != PendingQuery::kPending || !in_window(q.ts_ns)) continue;
      ServerStats& s = server_at(q.server);
      s.seen(q.ts_ns);
      ++s.requests;
      if (q.retransmission) ++s.retransmissions;
      if (q.has_question) count_name(q.name.view(), q.ts_ns);
    }
  }
  // First and last seen are the entity's whole activity where a table still has it, as in
  // every other list; a server or name that lost its row shows its activity in the window.
  WindowCounts out;
  std::map<std::string, const ServerRow*> known_servers;
  std::vector<ServerRow> all_servers = Plugin::servers(workers);
  for (const ServerRow& r : all_servers) known_servers[r.server] = &r;
  for (auto& [key, s] : servers) {
    std::string server = format_addr(s.addr);
    if (auto it = known_servers.find(server); it != known_servers.end()) {
      s.seen(it->second->stats.first_ns);
      s.seen(it->second->stats.last_ns);
    }
    out.servers.push_back({std::move(server), s});
  }
  uint64_t total = 0;
  std::map<std::string, const TopRow*> known_names;
  std::vector<TopRow> all_names = Plugin::top_names(workers, total);
  for (const TopRow& r : all_names) known_names[r.name] = &r;
  for (auto& [name, r] : names) {
    r.name = name;
    if (auto it = known_names.find(name); it != known_names.end()) {
      r.first_ns = std::min(r.first_ns, it->second->first_ns);
      r.last_ns = std::max(r.last_ns, it->second->last_ns);
    }
    out.names.push_back(std::move(r));
  }
  return out;
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  Totals t = totals(workers);
  sink.sample(queries_id_, {}, static_cast<double>(t.queries));
  for (size_t rc = 0; rc < kRcodes; ++rc) {
    // The common codes always, so that rate() has a series before the first error.
    if (rc <= 5 || t.rcodes[rc]) {
      sink.sample(responses_id_, {{"rcode", rcode_name(static_cast<uint8_t>(rc))}},
                  static_cast<double>(t.rcodes[rc]));
    }
  }
  sink.sample(unanswered_id_, {}, static_cast<double>(t.unanswered));
  auto cum = cumulative(t.rtt);
  sink.histogram(response_seconds_id_, {}, kRttBoundsSeconds, cum,
                 static_cast<double>(t.rtt_sum_us) / 1e6);
  for (size_t e = 1; e < kErrorCount; ++e) {
    sink.sample(malformed_id_, {{"reason", error_name(static_cast<Error>(e))}},
                static_cast<double>(t.malformed[e]));
  }
  for (size_t i = 0; i < kIncompleteCount; ++i) {
    sink.sample(incomplete_id_, {{"reason", incomplete_name(static_cast<Incomplete>(i))}},
                static_cast<double>(t.incomplete[i]));
  }

  // Per server: the 20 busiest by requests, everything else summed as "other".
  constexpr size_t kTopServers = 20;
  std::vector<ServerRow> rows = servers(workers);
  ServerStats other;
  auto other_it = std::find_if(rows.begin(), rows.end(),
                               [](const ServerRow& r) { return r.server == "other"; });
  if (other_it != rows.end()) {
    other.merge(other_it->stats);
    rows.erase(other_it);
  }
  std::sort(rows.begin(), rows.end(), [](const ServerRow& a, const ServerRow& b) {
    return a.stats.requests != b.stats.requests ? a.stats.requests > b.stats.requests
                                                : a.server < b.server;
  });
  for (size_t i = kTopServers; i < rows.size(); ++i) other.merge(rows[i].stats);
  if (rows.size() > kTopServers) rows.resize(kTopServers);
  if (other.requests || other.responses || other.unanswered) rows.push_back({"other", other});
  for (const ServerRow& r : rows) {
    Labels l{{"server", r.server.c_str()}};
    sink.sample(server_requests_id_, l, static_cast<double>(r.stats.requests));
    sink.sample(server_responses_id_, l, static_cast<double>(r.stats.responses));
    sink.sample(server_errors_id_, l, static_cast<double>(r.stats.errors));
    sink.sample(server_unanswered_id_, l, static_cast<double>(r.stats.unanswered));
    auto c = cumulative(r.stats.rtt);
    sink.histogram(server_response_seconds_id_, l, kRttBoundsSeconds, c,
                   static_cast<double>(r.stats.rtt_sum_us) / 1e6);
  }

  constexpr size_t kTopNames = 20;
  uint64_t total = 0;
  std::vector<TopRow> names = top_names(workers, total);
  uint64_t shown = 0;
  for (size_t i = 0; i < names.size() && i < kTopNames; ++i) {
    sink.sample(name_queries_id_, {{"name", names[i].name.c_str()}},
                static_cast<double>(names[i].queries));
    shown += names[i].queries;
  }
  if (names.size() > kTopNames) {
    // Space-Saving counts can overestimate; "other" never goes below zero.
    sink.sample(name_queries_id_, {{"name", "other"}},
                static_cast<double>(total > shown ? total - shown : 0));
  }
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  Totals t = totals(workers);
  if (last_tick_ns_ && now_ns > last_tick_ns_ && t.queries >= last_queries_ &&
      t.rtt_count >= last_rtt_count_) {
    double dt = static_cast<double>(now_ns - last_tick_ns_) / 1e9;
    double qps = static_cast<double>(t.queries - last_queries_) / dt;
    uint64_t n = t.rtt_count - last_rtt_count_;
    // 0 when no response arrived in the interval: the series has a value every second.
    double avg =
        n ? static_cast<double>(t.rtt_sum_us - last_rtt_sum_us_) / 1000.0 / static_cast<double>(n)
          : 0.0;
    queries_per_s_.store(qps, std::memory_order_relaxed);
    response_ms_avg_.store(avg, std::memory_order_relaxed);
    host_.record_series("queries_per_s", qps);
    host_.record_series("response_ms_avg", avg);
  }
  std::vector<std::pair<std::string, uint64_t>> per_server;
  for (const ServerRow& r : servers(workers)) {
    if (r.server != "other") per_server.emplace_back(r.server, r.stats.requests);
  }
  server_series_.update(host_, now_ns, per_server);
  last_tick_ns_ = now_ns;
  last_queries_ = t.queries;
  last_rtt_count_ = t.rtt_count;
  last_rtt_sum_us_ = t.rtt_sum_us;
}

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  Totals t = totals(workers);
  out.begin_object()
      .field("queries", t.queries)
      .field("responses", t.responses)
      .field("unanswered", t.unanswered)
      .field("unmatched_responses", t.unmatched_responses)
      .field("late_responses", t.late_responses)
      .field("retransmissions", t.retransmissions)
      .field("untracked_queries", t.pending_full)
      .field("queries_per_s", queries_per_s_.load(std::memory_order_relaxed))
      .field("response_ms_avg", response_ms_avg_.load(std::memory_order_relaxed));
  write_ms_stats(out, "response_ms", t.rtt_count, t.rtt_sum_us, t.rtt_min_us, t.rtt_max_us);
  write_rcodes(out, t.rcodes);

  std::vector<ServerRow> srv = servers(workers);
  std::sort(srv.begin(), srv.end(), [](const ServerRow& a, const ServerRow& b) {
    return a.stats.requests != b.stats.requests ? a.stats.requests > b.stats.requests
                                                : a.server < b.server;
  });
  out.key("servers").begin_array();
  for (const ServerRow& r : srv) write_server(out, r);
  out.end_array();

  std::vector<NameRow> nm = names(workers);
  std::sort(nm.begin(), nm.end(), [](const NameRow& a, const NameRow& b) {
    return a.last_ns != b.last_ns ? a.last_ns > b.last_ns : a.name < b.name;
  });
  out.key("names").begin_array();
  for (const NameRow& n : nm) write_name(out, n);
  out.end_array();

  uint64_t total = 0;
  std::vector<TopRow> top = top_names(workers, total);
  uint64_t shown = 0;
  out.key("top_names").begin_array();
  for (const TopRow& r : top) {
    write_top_name(out, r);
    shown += r.queries;
  }
  out.end_array();
  out.field("top_names_other", total > shown ? total - shown : 0);

  uint64_t dropped = 0;
  std::vector<Transaction> tx = transactions(workers, dropped);
  out.key("transactions").begin_array();
  for (const Transaction& x : tx) write_transaction(out, x);
  out.end_array();
  out.field("transactions_dropped", dropped);

  out.key("malformed").begin_object();
  for (size_t e = 1; e < kErrorCount; ++e) {
    out.field(error_name(static_cast<Error>(e)), t.malformed[e]);
  }
  out.end_object();
  out.key("incomplete").begin_object();
  for (size_t i = 0; i < kIncompleteCount; ++i) {
    out.field(incomplete_name(static_cast<Incomplete>(i)), t.incomplete[i]);
  }
  out.end_object();
  out.end_object();
}

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  if (path == "servers") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = ServerRow;
    auto avg = [](const R& r) {
      return r.stats.rtt_count
                 ? static_cast<double>(r.stats.rtt_sum_us) / static_cast<double>(r.stats.rtt_count)
                 : -1.0;
    };
    ListPage<R> page(
        q,
        {{"server", [](const R& a, const R& b) { return a.server < b.server; }},
         {"requests", [](const R& a, const R& b) { return a.stats.requests < b.stats.requests; }},
         {"responses",
          [](const R& a, const R& b) { return a.stats.responses < b.stats.responses; }},
         {"errors", [](const R& a, const R& b) { return a.stats.errors < b.stats.errors; }},
         {"unanswered",
          [](const R& a, const R& b) { return a.stats.unanswered < b.stats.unanswered; }},
         {"rtt_avg", [avg](const R& a, const R& b) { return avg(a) < avg(b); }},
         {"rtt_max",
          [](const R& a, const R& b) { return a.stats.rtt_max_us < b.stats.rtt_max_us; }},
         {"first_seen", [](const R& a, const R& b) { return a.stats.first_ns < b.stats.first_ns; }},
         {"last_seen", [](const R& a, const R& b) { return a.stats.last_ns < b.stats.last_ns; }}},
        "requests", [](const R& a, const R& b) { return a.server < b.server; });
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    bool window_counts = false;
    std::vector<R> rows = servers_in(workers, window, window_counts);
    std::erase_if(rows, [&](const R& r) { return !contains(r.server, needle); });
    const char* counts = counts_name(window_counts);
    page.write(rows, out, [counts](JsonWriter& w, const R& r) { write_server(w, r, counts); });
    return 200;
  }
  if (path.starts_with("servers/")) {
    q.allow_only({"from", "to"});
    std::string server(path.substr(8));
    TimeWindow window(q);
    bool window_counts = false;
    for (const ServerRow& r : servers_in(workers, window, window_counts)) {
      if (r.server != server) continue;
      server_series_.watch(server);  // looking at a server graphs its requests per second
      out.begin_object().key("server");
      write_server(out, r, counts_name(window_counts));
      out.field("series", "dns." + server + ".requests_per_s").end_object();
      return 200;
    }
    out.begin_object()
        .field("error",
               (window.all() ? "no such server: " : "no such server in the window: ") + server)
        .end_object();
    return 404;
  }
  if (path == "names") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = NameRow;
    ListPage<R> page(q,
                     {{"name", [](const R& a, const R& b) { return a.name < b.name; }},
                      {"type", [](const R& a, const R& b) { return a.type < b.type; }},
                      {"count", [](const R& a, const R& b) { return a.count < b.count; }},
                      {"ttl", [](const R& a, const R& b) { return a.ttl < b.ttl; }},
                      {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }}},
                     "last_seen", [](const R& a, const R& b) {
                       return std::tie(a.name, a.type) < std::tie(b.name, b.type);
                     });
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = names(workers);
    std::erase_if(rows, [&](const R& r) {
      if (!window.overlaps(r.first_ns, r.last_ns)) return true;
      if (contains(r.name, needle)) return false;
      return std::none_of(r.answers.begin(), r.answers.end(),
                          [&](const std::string& a) { return contains(a, needle); });
    });
    page.write(rows, out, write_name);
    return 200;
  }
  if (path == "top_names") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = TopRow;
    ListPage<R> page(
        q,
        {{"name", [](const R& a, const R& b) { return a.name < b.name; }},
         {"queries", [](const R& a, const R& b) { return a.queries < b.queries; }},
         {"first_seen", [](const R& a, const R& b) { return a.first_ns < b.first_ns; }},
         {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }}},
        "queries", [](const R& a, const R& b) { return a.name < b.name; });
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    // Within a window, exact counts from the window's queries where the logs hold them all;
    // else the Space-Saving totals of the names active in the window.
    std::optional<WindowCounts> counted;
    if (!window.all()) counted = window_counts(workers, window);
    std::vector<R> rows;
    if (counted) {
      rows = std::move(counted->names);
    } else {
      uint64_t total = 0;
      rows = top_names(workers, total);
      std::erase_if(rows, [&](const R& r) { return !window.overlaps(r.first_ns, r.last_ns); });
    }
    std::erase_if(rows, [&](const R& r) { return !contains(r.name, needle); });
    const char* counts = counts_name(counted.has_value());
    page.write(rows, out, [counts](JsonWriter& w, const R& r) { write_top_name(w, r, counts); });
    return 200;
  }
  if (path == "transactions") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = const Transaction*;
    auto rtt = [](R t) { return t->rtt_us; };
    ListPage<R> page(q,
                     {{"ts", [](R a, R b) { return a->ts_ns < b->ts_ns; }},
                      {"rtt", [rtt](R a, R b) { return rtt(a) < rtt(b); }},
                      {"query", [](R a, R b) { return a->query.view() < b->query.view(); }},
                      {"qtype", [](R a, R b) { return a->qtype < b->qtype; }},
                      {"rcode", [](R a, R b) { return a->rcode < b->rcode; }},
                      {"client", [](R a, R b) { return a->client.bytes < b->client.bytes; }},
                      {"server", [](R a, R b) { return a->server.bytes < b->server.bytes; }}},
                     "ts", [](R a, R b) { return a < b; });  // log order: rows point into it
    TimeWindow window(q);
    std::string needle = lower(q.get_or("filter", ""));
    uint64_t dropped = 0;
    std::vector<Transaction> all = transactions(workers, dropped);
    std::vector<R> rows;
    rows.reserve(all.size());
    for (const Transaction& t : all) {
      if (window.overlaps(t.ts_ns, t.ts_ns) && transaction_matches(t, needle)) rows.push_back(&t);
    }
    page.write(rows, out, [](JsonWriter& w, R t) { write_transaction(w, *t); });
    return 200;
  }
  return 404;
}

}  // namespace wiremeter::dns

WIREMETER_ANALYZER_PLUGIN(wiremeter::dns::Plugin)
