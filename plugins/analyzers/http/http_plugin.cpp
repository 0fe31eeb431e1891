// http: the data path (Worker). The control plane (Plugin) is in http_views.cpp.
#include "http_plugin.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace wiremeter::http {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04;
constexpr size_t kMaxLeadingEmpty = 16;

uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

Addr addr_of(const uint8_t* a, uint8_t version) {
  Addr r;
  r.version = version;
  std::memcpy(r.bytes.data(), a, version == 4 ? 4 : 16);
  return r;
}

// The payload the view describes, clipped to the captured bytes.
std::pair<const uint8_t*, uint32_t> payload_of(const wm_packet& p) {
  if (!p.data || p.payload_len == 0 || p.payload_off >= p.cap_len) return {nullptr, 0};
  uint32_t n = std::min<uint32_t>(p.payload_len, p.cap_len - p.payload_off);
  return {p.data + p.payload_off, n};
}

}  // namespace

// ------------------------------------------------------------------------------------------
// PendingPool
// ------------------------------------------------------------------------------------------

PendingPool::PendingPool(uint32_t capacity) : slots_(capacity) {
  // A free list through `next`: every slot free, in order.
  for (uint32_t i = 0; i < capacity; ++i) slots_[i].next = i + 1 < capacity ? i + 2 : 0;
  free_ = capacity ? 1 : 0;
}

uint32_t PendingPool::allocate() {
  if (!free_) return 0;
  uint32_t ref = free_;
  Pending& e = slots_[ref - 1];
  free_ = e.next;
  e = Pending{};
  e.state = Pending::kWaiting;
  ++in_use_;
  return ref;
}

void PendingPool::release(uint32_t ref) {
  if (!valid(ref) || slots_[ref - 1].state == Pending::kFree) return;
  Pending& e = slots_[ref - 1];
  e.state = Pending::kFree;
  e.next = free_;
  free_ = ref;
  --in_use_;
}

// ------------------------------------------------------------------------------------------
// Worker
// ------------------------------------------------------------------------------------------

Worker::Worker(uint32_t state_offset, const Settings& settings)
    : slot_(state_offset),
      settings_(settings),
      servers_(settings.servers),
      hosts_(settings.hosts),
      pending_(settings.pending),
      window_(settings.window_slots, settings.window_bytes),
      transactions_(settings.transactions) {}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  for (const wm_packet& p : packets) {
    // Later IP fragments have no TCP header; a first fragment has only part of the segment.
    if (p.l4_proto != kProtoTcp || !(p.flags & WM_PKT_L4) || (p.flags & WM_PKT_FRAGMENT)) continue;
    if (!p.data || static_cast<uint32_t>(p.l4_off) + 20 > p.cap_len) continue;
    FlowState* s = slot_.get(p);
    if (!s || s->role == Role::kNotHttp) continue;
    handle(p, *s);
    release_window_if_idle(*s);
  }
  window_in_use_.store(window_.in_use(), std::memory_order_relaxed);
}

void Worker::handle(const wm_packet& p, FlowState& s) noexcept {
  int d = p.direction == WM_DIR_REVERSE ? 1 : 0;
  DirectionState& D = s.dir[d];
  uint32_t seq = be32(p.data + p.l4_off + 4);
  if (p.tcp_flags & kSyn) {
    // The stream starts after the SYN (data on a SYN, TCP Fast Open, is not read).
    if (!D.started) {
      D.started = 1;
      D.base = seq + 1;
    }
    return;
  }
  auto [payload, len] = payload_of(p);
  if (len) {
    if (!D.started) {  // joined mid-flow, or the SYN was not captured: this segment starts it
      D.started = 1;
      D.base = seq;
    }
    process(p, s, d, seq, payload, len);
  }
  if (p.tcp_flags & (kFin | kRst)) on_close(s, d);
}

void Worker::process(const wm_packet& p, FlowState& s, int d, uint32_t seq, const uint8_t* payload,
                     uint32_t len) noexcept {
  DirectionState& D = s.dir[d];
  if (D.mode == Mode::kDead) return;
  auto off = static_cast<int32_t>(seq - D.base);
  if (D.mode == Mode::kUntilClose) {
    int64_t end = int64_t{off} + len;
    if (end > int64_t{D.body}) D.body = static_cast<uint32_t>(std::min<int64_t>(end, UINT32_MAX));
    return;
  }
  if (D.mode == Mode::kLost) {
    // Resynchronize on a segment that starts a message of the kind this side sends.
    Start st = classify_start({payload, len});
    bool client = is_client(s, d);
    if (!((client && st == Start::kRequest) || (!client && st == Start::kResponse))) return;
    resyncs.add();
    D.base = seq;
    D.mode = Mode::kHeaders;
    D.stalls = 0;
    window_.clear(s.window, d);
    off = 0;
  }
  if (int64_t{off} + len <= 0) {  // wholly before the unit: body bytes or a retransmission
    if (s.role != Role::kUndecided && is_client(s, d)) note_request_body(s, p.ts_ns);
    return;
  }
  if (off < 0) {
    auto skip = static_cast<uint32_t>(-int64_t{off});
    if (s.role != Role::kUndecided && is_client(s, d)) note_request_body(s, p.ts_ns);
    payload += skip;
    len -= skip;
    off = 0;
  }

  if (off == 0 && window_.empty(s.window, d)) {
    // The unit starts at this segment's first byte: parse straight from the packet, and keep
    // only an incomplete rest in the window.
    uint64_t used = run_units(p, s, d, {payload, len}, p.ts_ns);
    if (s.role == Role::kNotHttp) return;
    if (D.mode == Mode::kUntilClose) {
      if (used < len) D.body = static_cast<uint32_t>(len - used);
      return;
    }
    if (used >= len || D.mode == Mode::kLost || D.mode == Mode::kDead) return;
    if (!window_.acquire(s.window)) {
      lose(s, d);
      return;
    }
    window_.store(s.window, d, 0, payload + used, static_cast<uint32_t>(len - used), p.ts_ns);
    return;
  }

  // The unit waits for bytes before this segment, or has some already: the window puts the
  // pieces in order.
  if (static_cast<uint32_t>(off) >= window_.capacity(d)) {
    if (++D.stalls > kMaxStalls) lose(s, d);
    return;
  }
  if (!window_.acquire(s.window)) {
    lose(s, d);
    return;
  }
  std::span<const uint8_t> data =
      window_.store(s.window, d, static_cast<uint32_t>(off), payload, len, p.ts_ns);
  if (data.empty()) return;
  uint64_t used = run_units(p, s, d, data, window_.first_ns(s.window, d));
  if (s.role == Role::kNotHttp) return;
  if (D.mode == Mode::kUntilClose) {
    if (used < data.size()) D.body = static_cast<uint32_t>(data.size() - used);
    window_.clear(s.window, d);
  } else if (D.mode == Mode::kLost || D.mode == Mode::kDead) {
    window_.clear(s.window, d);
  } else if (used) {
    D.stalls = 0;
    window_.advance(s.window, d, used, p.ts_ns);
  }
}

uint64_t Worker::run_units(const wm_packet& p, FlowState& s, int d, std::span<const uint8_t> data,
                           uint64_t unit_ns) noexcept {
  DirectionState& D = s.dir[d];
  uint64_t pos = 0;
  uint32_t capacity = window_.capacity(d);
  while (pos < data.size()) {
    std::span<const uint8_t> rest = data.subspan(static_cast<size_t>(pos));
    uint64_t step = 0;
    switch (D.mode) {
      case Mode::kHeaders: {
        if (s.role == Role::kUndecided) {
          Start st = classify_start(rest.first(std::min<size_t>(rest.size(), 16)));
          if (st == Start::kMaybe) return pos;  // "GE": wait for the next bytes
          if (st == Start::kNo) {
            s.role = Role::kNotHttp;
            window_.release(s.window);
            return pos;
          }
          bool request = st == Start::kRequest;
          s.role = (request == (d == 0)) ? Role::kClientForward : Role::kClientReverse;
          flows.add();
        }
        size_t skip = leading_empty_lines(rest);
        if (skip > kMaxLeadingEmpty) {
          malformed[static_cast<size_t>(Error::kTooManyLeadingCrlf)].add();
          lose(s, d);
          return pos;
        }
        std::span<const uint8_t> block = rest.subspan(skip);
        size_t n = block.empty() ? 0 : header_block_length(block);
        if (n == 0) {
          if (block.size() >= capacity) {
            malformed[static_cast<size_t>(Error::kHeaderTooLong)].add();
            lose(s, d);
          }
          // The empty lines are consumed; the block waits for its end.
          D.base += static_cast<uint32_t>(skip);
          return pos + skip;
        }
        if (n > capacity) {  // a whole block in one jumbo segment, but longer than we accept
          malformed[static_cast<size_t>(Error::kHeaderTooLong)].add();
          lose(s, d);
          return pos;
        }
        uint64_t body = is_client(s, d) ? on_request(p, s, d, block.first(n), unit_ns)
                                        : on_response(p, s, d, block.first(n), unit_ns);
        if (D.mode == Mode::kLost || D.mode == Mode::kDead) return pos;
        step = skip + n + body;
        unit_ns = p.ts_ns;  // a next unit starts in this packet or a later one
        break;
      }
      case Mode::kChunkSize: {
        size_t line = 0;
        uint64_t size = 0;
        ChunkLine r = parse_chunk_line(rest, line, size);
        if (r == ChunkLine::kIncomplete) return pos;
        if (r == ChunkLine::kBad || size > kMaxSkip) {
          malformed[static_cast<size_t>(Error::kBadChunk)].add();
          lose(s, d);
          return pos;
        }
        if (size == 0) {
          D.mode = Mode::kTrailers;
        } else {
          D.body = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{D.body} + size, UINT32_MAX));
        }
        step = line + size;
        break;
      }
      case Mode::kTrailers: {
        size_t n = trailer_length(rest);
        if (n == 0) {
          if (rest.size() >= capacity) {
            malformed[static_cast<size_t>(Error::kHeaderTooLong)].add();
            lose(s, d);
          }
          return pos;
        }
        D.mode = Mode::kHeaders;
        on_body_end(s, d);
        step = n;
        unit_ns = p.ts_ns;
        break;
      }
      default:
        return pos;
    }
    pos += step;
    D.base += static_cast<uint32_t>(step);
    if (D.mode == Mode::kUntilClose) return pos;
  }
  return pos;
}

uint64_t Worker::on_request(const wm_packet& p, FlowState& s, int d, std::span<const uint8_t> block,
                            uint64_t unit_ns) noexcept {
  DirectionState& D = s.dir[d];
  Request& r = request_;
  if (Error e = parse_request(block, r); e != Error::kNone) {
    malformed[static_cast<size_t>(e)].add();
    lose(s, d);
    return 0;
  }
  ++s.depth;
  requests.add();
  methods[static_cast<size_t>(r.method)].add();
  Addr server = addr_of(p.dst_addr, p.ip_version);
  uint64_t body = 0;
  bool has_body = false;
  if (r.framing.chunked) {
    D.mode = Mode::kChunkSize;
    D.body = 0;
    has_body = true;
  } else if (r.framing.has_length && r.framing.content_length) {
    has_body = true;
    if (r.framing.content_length > kMaxSkip) {
      large_bodies.add();
      D.mode = Mode::kDead;
    } else {
      body = r.framing.content_length;
    }
  }
  {
    std::lock_guard lock(mutex_);
    MessageStats& srv = servers_.at(server, p.dst_port, r.host);
    srv.add_request(r.method, p.ts_ns);
    srv.request_bytes += block.size() + (r.framing.chunked ? 0 : r.framing.content_length);
    if (!r.host.empty()) {
      MessageStats& h = hosts_.at(r.host);
      h.add_request(r.method, p.ts_ns);
      h.request_bytes += block.size() + (r.framing.chunked ? 0 : r.framing.content_length);
    }
  }

  // Track it for its response, unless requests of this flow already go untracked (their
  // responses must then not pair with a later request).
  uint32_t outstanding = 0;
  for (uint32_t ref = s.oldest; ref && outstanding <= kMaxPendingPerFlow;
       ref = pending_.at(ref).next) {
    ++outstanding;
  }
  uint32_t ref = 0;
  if (s.untracked == 0 && outstanding < kMaxPendingPerFlow) ref = pending_.allocate();
  if (!ref) {
    untracked.add();
    if (s.untracked < UINT8_MAX) ++s.untracked;
    return body;
  }
  Pending& e = pending_.at(ref);
  e.flow_id = p.flow ? p.flow->id : 0;
  e.end_ns = p.ts_ns;
  e.request_has_body = has_body;
  Transaction& t = e.t;
  t.ts_ns = unit_ns;
  t.flow_id = e.flow_id;
  t.client = addr_of(p.src_addr, p.ip_version);
  t.server = server;
  t.client_port = p.src_port;
  t.server_port = p.dst_port;
  t.depth = s.depth;
  t.has_request = true;
  t.method = r.method;
  t.method_text.set(r.method_text);
  t.version.set(r.version);
  t.host.set(r.host);
  t.uri.set(r.uri);
  t.user_agent.set(r.user_agent);
  t.referer.set(r.referer);
  t.request_body = r.framing.chunked ? 0 : r.framing.content_length;
  if (s.newest && pending_.valid(s.newest)) pending_.at(s.newest).next = ref;
  s.newest = ref;
  if (!s.oldest) s.oldest = ref;
  return body;
}

uint64_t Worker::on_response(const wm_packet& p, FlowState& s, int d,
                             std::span<const uint8_t> block, uint64_t unit_ns) noexcept {
  DirectionState& D = s.dir[d];
  Response& r = response_;
  if (Error e = parse_response(block, r); e != Error::kNone) {
    malformed[static_cast<size_t>(e)].add();
    lose(s, d);
    return 0;
  }
  responses.add();
  status[r.status - 100].add();
  // A response whose body end was never seen (lost bytes) is complete once the next begins.
  while (s.oldest && pending_.at(s.oldest).state == Pending::kResponding) finish_oldest(s);
  Pending* e = s.oldest ? &pending_.at(s.oldest) : nullptr;
  Addr server = addr_of(p.src_addr, p.ip_version);
  std::string_view host = e ? e->t.host.view() : std::string_view();
  bool info = r.status < 200 && r.status != 101;

  if (!e && s.untracked && !info) {
    --s.untracked;  // the response of an untracked request: counted, not paired
  } else if (!e && !info) {
    orphan_responses.add();
    uint32_t ref = pending_.allocate();
    if (ref) {
      e = &pending_.at(ref);
      e->flow_id = p.flow ? p.flow->id : 0;
      Transaction& t = e->t;
      t.ts_ns = unit_ns;
      t.flow_id = e->flow_id;
      t.client = addr_of(p.dst_addr, p.ip_version);
      t.server = server;
      t.client_port = p.dst_port;
      t.server_port = p.src_port;
      s.oldest = s.newest = ref;
    }
  }

  int64_t rt_us = -1;
  if (e && !info && e->t.has_request) {
    rt_us = unit_ns > e->end_ns ? static_cast<int64_t>((unit_ns - e->end_ns) / 1000) : 0;
  }
  uint64_t header_bytes = block.size();
  uint64_t known_body = !r.framing.chunked && r.framing.has_length ? r.framing.content_length : 0;
  {
    std::lock_guard lock(mutex_);
    MessageStats& srv = servers_.at(server, p.src_port, host);
    srv.add_response(r.status, p.ts_ns);
    srv.response_bytes += header_bytes + known_body;
    MessageStats* h = nullptr;
    if (!host.empty()) {
      h = &hosts_.at(host);
      h->add_response(r.status, p.ts_ns);
      h->response_bytes += header_bytes + known_body;
    }
    if (rt_us >= 0) record_rt(srv, h, static_cast<uint64_t>(rt_us));
  }

  if (info) {
    informational.add();
    if (e) {
      e->t.info_code = r.status;
      e->t.info_msg.set(r.reason);
    }
    return 0;  // 1xx has no body; the final response follows
  }
  if (e) {
    Transaction& t = e->t;
    t.has_response = true;
    t.status = r.status;
    t.status_msg.set(r.reason);
    t.response_version.set(r.version);
    t.content_type.set(r.framing.content_type);
    t.rt_us = rt_us;
    e->state = Pending::kResponding;
  }
  bool head = e && e->t.method == Method::kHead;
  bool connect = e && e->t.method == Method::kConnect;
  if (r.status == 101 || (connect && r.status < 300)) {
    // The connection now carries another protocol (WebSocket, h2c, a tunnel).
    tunnels.add();
    s.dir[0].mode = s.dir[1].mode = Mode::kDead;
    window_.clear(s.window, 0);
    window_.clear(s.window, 1);
    if (e) finish_oldest(s);
    return 0;
  }
  if (head || r.status == 204 || r.status == 304) {
    if (e) finish_oldest(s);
    return 0;
  }
  if (r.framing.chunked) {
    D.mode = Mode::kChunkSize;
    D.body = 0;
    return 0;
  }
  if (r.framing.has_length) {
    if (e) {
      e->t.response_body = r.framing.content_length;
      finish_oldest(s);
    }
    if (r.framing.content_length > kMaxSkip) {
      large_bodies.add();
      D.mode = Mode::kDead;
      return 0;
    }
    return r.framing.content_length;
  }
  // No length: the body ends with the connection (RFC 9112 6.3 rule 8).
  D.mode = Mode::kUntilClose;
  D.body = 0;
  return 0;
}

void Worker::record_rt(MessageStats& server, MessageStats* host, uint64_t us) noexcept {
  server.add_rt(us);
  if (host) host->add_rt(us);
  if (rt_count_++ == 0 || us < rt_min_us.value()) rt_min_us.set(us);
  if (us > rt_max_us.value()) rt_max_us.set(us);
  rt[rt_bucket(us)].add();
  rt_sum_us.add(us);
}

void Worker::note_request_body(FlowState& s, uint64_t ts_ns) noexcept {
  if (!s.newest || !pending_.valid(s.newest)) return;
  Pending& e = pending_.at(s.newest);
  // The request ends with its last body byte: response time counts from there.
  if (e.state == Pending::kWaiting && e.request_has_body && ts_ns > e.end_ns) e.end_ns = ts_ns;
}

void Worker::on_body_end(FlowState& s, int d) noexcept {
  DirectionState& D = s.dir[d];
  uint64_t body = D.body;
  D.body = 0;
  if (is_client(s, d)) {
    if (!s.newest || !pending_.valid(s.newest)) return;
    Pending& e = pending_.at(s.newest);
    if (e.state != Pending::kWaiting) return;
    e.t.request_body = body;
    std::lock_guard lock(mutex_);
    servers_.at(e.t.server, e.t.server_port, e.t.host.view()).request_bytes += body;
    if (e.t.host.length) hosts_.at(e.t.host.view()).request_bytes += body;
    return;
  }
  if (!s.oldest || pending_.at(s.oldest).state != Pending::kResponding) return;
  Pending& e = pending_.at(s.oldest);
  e.t.response_body = body;
  {
    std::lock_guard lock(mutex_);
    servers_.at(e.t.server, e.t.server_port, e.t.host.view()).response_bytes += body;
    if (e.t.host.length) hosts_.at(e.t.host.view()).response_bytes += body;
  }
  finish_oldest(s);
}

void Worker::on_close(FlowState& s, int d) noexcept {
  DirectionState& D = s.dir[d];
  if (s.role == Role::kUndecided || s.role == Role::kNotHttp) return;
  if (D.mode == Mode::kUntilClose) on_body_end(s, d);
  // Nothing more comes this way. (A client that half-closes still reads its responses: only
  // its own direction ends.)
  D.mode = Mode::kDead;
  window_.clear(s.window, d);
}

void Worker::finish_oldest(FlowState& s) noexcept {
  uint32_t ref = s.oldest;
  if (!ref || !pending_.valid(ref)) {
    s.oldest = s.newest = 0;
    return;
  }
  Pending& e = pending_.at(ref);
  transactions_.push(e.t);
  s.oldest = e.next;
  if (s.newest == ref) s.newest = 0;
  if (!s.oldest) s.newest = 0;
  pending_.release(ref);
}

void Worker::lose(FlowState& s, int d) noexcept {
  DirectionState& D = s.dir[d];
  if (s.role == Role::kUndecided) {
    // Not even the first message was readable: not worth watching the rest of the flow.
    s.role = Role::kNotHttp;
    window_.release(s.window);
    return;
  }
  if (D.mode == Mode::kLost) return;
  lost.add();
  D.mode = Mode::kLost;
  D.stalls = 0;
  window_.clear(s.window, d);
}

void Worker::release_window_if_idle(FlowState& s) noexcept {
  if (window_.holds(s.window) && window_.empty(s.window, 0) && window_.empty(s.window, 1)) {
    window_.release(s.window);
  }
}

void Worker::on_flow_end(const wm_flow_info&, FlowState& s) noexcept {
  if (s.role == Role::kClientForward || s.role == Role::kClientReverse) {
    int server_dir = s.role == Role::kClientForward ? 1 : 0;
    if (s.dir[server_dir].mode == Mode::kUntilClose) on_body_end(s, server_dir);
    // What is left: a response cut by the end of the capture, or requests never answered.
    uint32_t steps = 0;
    while (s.oldest && ++steps <= kMaxPendingPerFlow + 1) {
      Pending& e = pending_.at(s.oldest);
      if (e.state == Pending::kResponding) {
        e.t.response_body = s.dir[server_dir].body;
      } else {
        unanswered.add();
      }
      finish_oldest(s);
    }
  }
  window_.release(s.window);
  window_in_use_.store(window_.in_use(), std::memory_order_relaxed);
  s = FlowState{};
  s.role = Role::kNotHttp;
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

std::string format_endpoint(const Addr& a, uint16_t port) {
  std::string s = format_addr(a);
  if (a.version == 6) s = "[" + s + "]";
  return s + ":" + std::to_string(port);
}

}  // namespace wiremeter::http
