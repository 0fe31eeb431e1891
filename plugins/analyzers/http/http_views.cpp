// http: the control plane (Plugin): metrics, the report, and the REST lists and detail view.
#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>

#include "http_plugin.hpp"

namespace wiremeter::http {
namespace {

constexpr const char* kClassNames[kStatusClasses] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

double ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

// Unix seconds with microseconds, through integer microseconds so that they print exactly.
double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

constexpr std::array<double, kRtBoundsUs.size()> kRtBoundsSeconds = seconds_from_us(kRtBoundsUs);

uint64_t errors(const MessageStats& s) { return s.classes[3] + s.classes[4]; }

double rt_avg_us(const MessageStats& s) {
  return s.rt_count ? static_cast<double>(s.rt_sum_us) / static_cast<double>(s.rt_count) : -1.0;
}

void write_histogram(JsonWriter& w, const std::array<uint64_t, kRtBuckets>& buckets) {
  // Per bucket (not cumulative): {"le_ms": bound, "count": n}; the last bound is null (+Inf).
  w.key("response_ms_histogram").begin_array();
  for (size_t i = 0; i < kRtBuckets; ++i) {
    w.begin_object().key("le_ms");
    if (i < kRtBoundsUs.size()) {
      w.value(ms(kRtBoundsUs[i]));
    } else {
      w.null();
    }
    w.field("count", buckets[i]).end_object();
  }
  w.end_array();
}

void write_stats_fields(JsonWriter& w, const MessageStats& s, bool detail) {
  w.field("requests", s.requests).field("responses", s.responses).field("errors", errors(s));
  w.key("methods").begin_object();
  for (size_t i = 0; i < kMethodCount; ++i) {
    if (s.methods[i]) w.field(method_name(static_cast<Method>(i)), s.methods[i]);
  }
  w.end_object();
  w.key("status_classes").begin_object();
  for (size_t i = 0; i < kStatusClasses; ++i) w.field(kClassNames[i], s.classes[i]);
  w.end_object();
  w.key("status_codes").begin_object();
  std::vector<MessageStats::Code> codes;
  for (const auto& c : s.codes) {
    if (c.code) codes.push_back(c);
  }
  std::sort(codes.begin(), codes.end(), [](auto& a, auto& b) { return a.code < b.code; });
  for (const auto& c : codes) w.field(std::to_string(c.code), c.count);
  if (s.codes_other) w.field("other", s.codes_other);
  w.end_object();
  w.field("request_bytes", s.request_bytes).field("response_bytes", s.response_bytes);
  write_ms_stats(w, "response_ms", s.rt_count, s.rt_sum_us, s.rt_min_us, s.rt_max_us);
  if (detail) write_histogram(w, s.rt);
  w.key("first_seen");
  if (s.first_ns) {
    w.value(seconds(s.first_ns));
  } else {
    w.null();
  }
  w.key("last_seen");
  if (s.last_ns) {
    w.value(seconds(s.last_ns));
  } else {
    w.null();
  }
}

void write_server(JsonWriter& w, const Plugin::ServerView& r) {
  w.begin_object().field("server", r.server).field("host", r.host);
  write_stats_fields(w, r.stats, false);
  w.end_object();
}

void write_host(JsonWriter& w, const Plugin::HostView& r) {
  w.begin_object().field("host", r.host);
  write_stats_fields(w, r.stats, false);
  w.end_object();
}

template <size_t N>
void text_or_null(JsonWriter& w, std::string_view key, const Text<N>& t, bool present) {
  w.key(key);
  if (present) {
    w.value(t.view());
  } else {
    w.null();
  }
}

void write_transaction(JsonWriter& w, const Transaction& t) {
  w.begin_object()
      .field("ts", seconds(t.ts_ns))
      .field("flow_id", t.flow_id)
      .field("client", format_addr(t.client))
      .field("client_port", t.client_port)
      .field("server", format_addr(t.server))
      .field("server_port", t.server_port);
  w.key("trans_depth");
  if (t.has_request) {
    w.value(t.depth);
  } else {
    w.null();
  }
  text_or_null(w, "method", t.method_text, t.has_request);
  text_or_null(w, "host", t.host, t.has_request && t.host.length);
  text_or_null(w, "uri", t.uri, t.has_request);
  text_or_null(w, "version", t.version, t.has_request);
  text_or_null(w, "user_agent", t.user_agent, t.user_agent.length);
  text_or_null(w, "referrer", t.referer, t.referer.length);
  w.key("status_code");
  if (t.has_response) {
    w.value(static_cast<uint32_t>(t.status));
  } else {
    w.null();
  }
  text_or_null(w, "status_msg", t.status_msg, t.has_response);
  text_or_null(w, "response_version", t.response_version, t.has_response);
  w.key("info_code");
  if (t.info_code) {
    w.value(static_cast<uint32_t>(t.info_code));
  } else {
    w.null();
  }
  text_or_null(w, "info_msg", t.info_msg, t.info_code);
  text_or_null(w, "content_type", t.content_type, t.content_type.length);
  w.field("request_body_len", t.request_body).field("response_body_len", t.response_body);
  w.key("response_ms");
  if (t.rt_us >= 0) {
    w.value(static_cast<double>(t.rt_us) / 1000.0);
  } else {
    w.null();
  }
  w.end_object();
}

// status=404, status=4xx, or status=none (no response).
bool status_matches(const Transaction& t, const std::string& want) {
  if (want.empty()) return true;
  if (want == "none") return !t.has_response;
  if (!t.has_response) return false;
  if (want.size() == 3 && want[1] == 'x' && want[2] == 'x') {
    return want[0] >= '1' && want[0] <= '5' &&
           t.status / 100 == static_cast<uint16_t>(want[0] - '0');
  }
  return std::to_string(t.status) == want;
}

// Query parameter `status`: a code, a class ("4xx") or "none".
std::string status_param(const Query& q) {
  std::string s = lower(q.get_or("status", ""));
  if (s.empty() || s == "none") return s;
  bool code = s.size() == 3 && std::all_of(s.begin(), s.end(), ::isdigit);
  bool klass = s.size() == 3 && s[0] >= '1' && s[0] <= '5' && s[1] == 'x' && s[2] == 'x';
  if (!code && !klass) throw QueryError("status: expected a code (404), a class (4xx) or none");
  return s;
}

void time_window(const Query& q, uint64_t& from, uint64_t& to) {
  from = q.get_time_ns("from", 0);
  to = q.get_time_ns("to", UINT64_MAX);
  if (from > to) throw QueryError("from: must not be after to");
}

bool active_in(const MessageStats& s, uint64_t from, uint64_t to) {
  return s.last_ns >= from && s.first_ns <= to;
}

}  // namespace

Plugin::Plugin(Host& host)
    : host_(host),
      settings_(parse_settings(host.config_json())),
      requests_id_(host.register_metric("wiremeter_http_requests_total",
                                        "HTTP requests seen, by method (\"other\" for methods "
                                        "outside RFC 9110 and PATCH).",
                                        WM_METRIC_COUNTER)),
      responses_id_(host.register_metric("wiremeter_http_responses_total",
                                         "HTTP responses seen, by status class (1xx included).",
                                         WM_METRIC_COUNTER)),
      response_seconds_id_(host.register_metric(
          "wiremeter_http_response_seconds",
          "Time from the end of an HTTP request to the first byte of its response.",
          WM_METRIC_HISTOGRAM)),
      unanswered_id_(host.register_metric(
          "wiremeter_http_unanswered_total",
          "HTTP requests whose connection ended before their response.", WM_METRIC_COUNTER)),
      malformed_id_(host.register_metric("wiremeter_http_malformed_total",
                                         "HTTP messages that could not be read, by reason.",
                                         WM_METRIC_COUNTER)),
      host_requests_id_(host.register_metric(
          "wiremeter_http_host_requests_total",
          "HTTP requests per Host header (the busiest hosts, the rest as \"other\").",
          WM_METRIC_COUNTER)),
      host_errors_id_(host.register_metric(
          "wiremeter_http_host_responses_total",
          "HTTP responses per Host header and status class (the busiest hosts, the rest as "
          "\"other\").",
          WM_METRIC_COUNTER)) {}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info& info) {
  return std::make_unique<Worker>(info.flow_state_offset, settings_);
}

Plugin::Totals Plugin::totals(std::span<Worker* const> workers) {
  Totals t;
  for (Worker* w : workers) {
    if (!w) continue;
    t.flows += w->flows.value();
    t.requests += w->requests.value();
    t.responses += w->responses.value();
    t.informational += w->informational.value();
    t.unanswered += w->unanswered.value();
    t.orphan_responses += w->orphan_responses.value();
    t.untracked += w->untracked.value();
    t.tunnels += w->tunnels.value();
    t.large_bodies += w->large_bodies.value();
    t.lost += w->lost.value();
    t.resyncs += w->resyncs.value();
    uint64_t n = 0;
    for (size_t i = 0; i < kRtBuckets; ++i) {
      t.rt[i] += w->rt[i].value();
      n += w->rt[i].value();
    }
    if (n) {
      if (t.rt_count == 0 || w->rt_min_us.value() < t.rt_min_us) t.rt_min_us = w->rt_min_us.value();
      t.rt_max_us = std::max(t.rt_max_us, w->rt_max_us.value());
    }
    t.rt_count += n;
    t.rt_sum_us += w->rt_sum_us.value();
    for (size_t i = 0; i < kMethodCount; ++i) t.methods[i] += w->methods[i].value();
    for (size_t i = 0; i < kStatusCodes; ++i) t.status[i] += w->status[i].value();
    for (size_t i = 0; i < kErrorCount; ++i) t.malformed[i] += w->malformed[i].value();
    t.window_taken += w->window_counters().taken.value();
    t.window_exhausted += w->window_counters().exhausted.value();
    t.window_truncated += w->window_counters().truncated.value();
    t.window_in_use += w->window_in_use();
  }
  return t;
}

std::vector<Plugin::ServerView> Plugin::servers(std::span<Worker* const> workers) {
  std::map<std::tuple<uint8_t, std::array<uint8_t, 16>, uint16_t, std::string>, ServerView> merged;
  MessageStats other;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    const ServerTable& table = w->servers();
    for (size_t i = 0; i < table.size(); ++i) {
      const ServerRow& r = table.row(i);
      std::string host(r.host.view());
      auto [it, fresh] = merged.try_emplace({r.addr.version, r.addr.bytes, r.port, host});
      if (fresh) {
        it->second.server = format_endpoint(r.addr, r.port);
        it->second.addr = format_addr(r.addr);
        it->second.port = r.port;
        it->second.host = host;
      }
      it->second.stats.merge(r.stats);
    }
    other.merge(table.other());
  }
  std::vector<ServerView> rows;
  rows.reserve(merged.size() + 1);
  for (auto& [key, v] : merged) rows.push_back(std::move(v));
  if (other.requests || other.responses) {
    ServerView v;
    v.server = "other";
    v.stats = other;
    rows.push_back(std::move(v));
  }
  return rows;
}

std::vector<Plugin::HostView> Plugin::hosts(std::span<Worker* const> workers) {
  std::map<std::string, MessageStats> merged;
  MessageStats other;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    const HostTable& table = w->hosts();
    for (size_t i = 0; i < table.size(); ++i) {
      merged[std::string(table.row(i).host.view())].merge(table.row(i).stats);
    }
    other.merge(table.other());
  }
  std::vector<HostView> rows;
  rows.reserve(merged.size() + 1);
  for (auto& [host, s] : merged) rows.push_back({host, s});
  if (other.requests || other.responses) rows.push_back({"other", other});
  return rows;
}

std::vector<Transaction> Plugin::transactions(std::span<Worker* const> workers, uint64_t& dropped) {
  return merge_logs<Transaction>(
      workers, [](const Worker& w) -> const RecordLog<Transaction>& { return w.transactions(); },
      [](const Transaction& t) { return t.ts_ns; }, dropped);
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  Totals t = totals(workers);
  for (size_t m = 0; m < kMethodCount; ++m) {
    sink.sample(requests_id_, {{"method", method_name(static_cast<Method>(m))}},
                static_cast<double>(t.methods[m]));
  }
  std::array<uint64_t, kStatusClasses> classes{};
  for (size_t i = 0; i < kStatusCodes; ++i) classes[i / 100] += t.status[i];
  for (size_t c = 0; c < kStatusClasses; ++c) {
    sink.sample(responses_id_, {{"code_class", kClassNames[c]}}, static_cast<double>(classes[c]));
  }
  sink.histogram(response_seconds_id_, {}, kRtBoundsSeconds, cumulative(t.rt),
                 static_cast<double>(t.rt_sum_us) / 1e6);
  sink.sample(unanswered_id_, {}, static_cast<double>(t.unanswered));
  for (size_t e = 1; e < kErrorCount; ++e) {
    sink.sample(malformed_id_, {{"reason", error_name(static_cast<Error>(e))}},
                static_cast<double>(t.malformed[e]));
  }

  // Per host: the busiest by requests, everything else summed as "other".
  std::vector<HostView> rows = hosts(workers);
  MessageStats other;
  std::erase_if(rows, [&](const HostView& r) {
    if (r.host != "other") return false;
    other.merge(r.stats);
    return true;
  });
  std::sort(rows.begin(), rows.end(), [](const HostView& a, const HostView& b) {
    return a.stats.requests != b.stats.requests ? a.stats.requests > b.stats.requests
                                                : a.host < b.host;
  });
  size_t top = settings_.metrics_top;
  for (size_t i = top; i < rows.size(); ++i) other.merge(rows[i].stats);
  if (rows.size() > top) rows.resize(top);
  if (other.requests || other.responses) rows.push_back({"other", other});
  for (const HostView& r : rows) {
    sink.sample(host_requests_id_, {{"host", r.host.c_str()}},
                static_cast<double>(r.stats.requests));
    for (size_t c = 0; c < kStatusClasses; ++c) {
      sink.sample(host_errors_id_, {{"host", r.host.c_str()}, {"code_class", kClassNames[c]}},
                  static_cast<double>(r.stats.classes[c]));
    }
  }
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  Totals t = totals(workers);
  if (last_tick_ns_ && now_ns > last_tick_ns_ && t.requests >= last_requests_ &&
      t.rt_count >= last_rt_count_) {
    double dt = static_cast<double>(now_ns - last_tick_ns_) / 1e9;
    double rps = static_cast<double>(t.requests - last_requests_) / dt;
    uint64_t n = t.rt_count - last_rt_count_;
    double avg =
        n ? static_cast<double>(t.rt_sum_us - last_rt_sum_us_) / 1000.0 / static_cast<double>(n)
          : 0.0;
    requests_per_s_.store(rps, std::memory_order_relaxed);
    response_ms_avg_.store(avg, std::memory_order_relaxed);
    host_.record_series("requests_per_s", rps);
    host_.record_series("response_ms_avg", avg);
  }
  std::map<std::string, uint64_t> per_server;  // summed over the Host names of a server
  for (const ServerView& r : servers(workers)) {
    if (r.server != "other") per_server[r.server] += r.stats.requests;
  }
  server_series_.update(host_, now_ns, {per_server.begin(), per_server.end()});
  last_tick_ns_ = now_ns;
  last_requests_ = t.requests;
  last_rt_count_ = t.rt_count;
  last_rt_sum_us_ = t.rt_sum_us;
}

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  Totals t = totals(workers);
  out.begin_object()
      .field("flows", t.flows)
      .field("requests", t.requests)
      .field("responses", t.responses)
      .field("informational", t.informational)
      .field("unanswered", t.unanswered)
      .field("orphan_responses", t.orphan_responses)
      .field("untracked_requests", t.untracked)
      .field("tunnels", t.tunnels)
      .field("large_bodies", t.large_bodies)
      .field("lost", t.lost)
      .field("resyncs", t.resyncs)
      .field("requests_per_s", requests_per_s_.load(std::memory_order_relaxed))
      .field("response_ms_avg", response_ms_avg_.load(std::memory_order_relaxed));
  write_ms_stats(out, "response_ms", t.rt_count, t.rt_sum_us, t.rt_min_us, t.rt_max_us);
  write_histogram(out, t.rt);
  out.key("methods").begin_object();
  for (size_t m = 0; m < kMethodCount; ++m) {
    if (t.methods[m]) out.field(method_name(static_cast<Method>(m)), t.methods[m]);
  }
  out.end_object();
  out.key("status_codes").begin_object();
  for (size_t i = 0; i < kStatusCodes; ++i) {
    if (t.status[i]) out.field(std::to_string(i + 100), t.status[i]);
  }
  out.end_object();

  std::vector<ServerView> srv = servers(workers);
  std::sort(srv.begin(), srv.end(), [](const ServerView& a, const ServerView& b) {
    return a.stats.requests != b.stats.requests
               ? a.stats.requests > b.stats.requests
               : std::tie(a.server, a.host) < std::tie(b.server, b.host);
  });
  out.key("servers").begin_array();
  for (const ServerView& r : srv) write_server(out, r);
  out.end_array();

  std::vector<HostView> hs = hosts(workers);
  std::sort(hs.begin(), hs.end(), [](const HostView& a, const HostView& b) {
    return a.stats.requests != b.stats.requests ? a.stats.requests > b.stats.requests
                                                : a.host < b.host;
  });
  out.key("hosts").begin_array();
  for (const HostView& r : hs) write_host(out, r);
  out.end_array();

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
  out.key("reassembly")
      .begin_object()
      .field("window_bytes", static_cast<uint64_t>(settings_.window_bytes))
      .field("slots", static_cast<uint64_t>(settings_.window_slots))
      .field("in_use", t.window_in_use)
      .field("taken", t.window_taken)
      .field("exhausted", t.window_exhausted)
      .field("truncated", t.window_truncated)
      .end_object();
  out.end_object();
}

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  if (path == "servers") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = ServerView;
    ListPage<R> page(
        q,
        {{"server", [](const R& a, const R& b) { return a.server < b.server; }},
         {"host", [](const R& a, const R& b) { return a.host < b.host; }},
         {"requests", [](const R& a, const R& b) { return a.stats.requests < b.stats.requests; }},
         {"responses",
          [](const R& a, const R& b) { return a.stats.responses < b.stats.responses; }},
         {"errors", [](const R& a, const R& b) { return errors(a.stats) < errors(b.stats); }},
         {"rt_avg", [](const R& a, const R& b) { return rt_avg_us(a.stats) < rt_avg_us(b.stats); }},
         {"rt_max", [](const R& a, const R& b) { return a.stats.rt_max_us < b.stats.rt_max_us; }},
         {"bytes",
          [](const R& a, const R& b) {
            return a.stats.request_bytes + a.stats.response_bytes <
                   b.stats.request_bytes + b.stats.response_bytes;
          }},
         {"last_seen", [](const R& a, const R& b) { return a.stats.last_ns < b.stats.last_ns; }}},
        "requests", [](const R& a, const R& b) {
          return std::tie(a.server, a.host) < std::tie(b.server, b.host);
        });
    uint64_t from, to;
    time_window(q, from, to);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = servers(workers);
    std::erase_if(rows, [&](const R& r) {
      return !active_in(r.stats, from, to) ||
             !(contains(r.server, needle) || contains(r.host, needle));
    });
    page.write(rows, out, write_server);
    return 200;
  }
  if (path.starts_with("servers/")) {
    q.allow_only({});
    std::string_view ep = path.substr(8);
    size_t colon = ep.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw QueryError("servers/{address}:{port}: expected an address and a port");
    }
    std::string addr(ep.substr(0, colon));
    if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') {
      addr = addr.substr(1, addr.size() - 2);
    }
    std::string_view port_text = ep.substr(colon + 1);
    uint32_t port = 0;
    if (port_text.empty() || port_text.size() > 5) throw QueryError("port: expected 0..65535");
    for (char c : port_text) {
      if (c < '0' || c > '9') throw QueryError("port: expected 0..65535");
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port > 65535) throw QueryError("port: expected 0..65535");
    std::vector<ServerView> rows = servers(workers);
    std::erase_if(rows, [&](const ServerView& r) {
      return r.server == "other" || r.port != port || lower(r.addr) != lower(addr);
    });
    if (rows.empty()) {
      out.begin_object().field("error", "no such server").end_object();
      return 404;
    }
    MessageStats total;
    for (const ServerView& r : rows) total.merge(r.stats);
    std::sort(rows.begin(), rows.end(), [](const ServerView& a, const ServerView& b) {
      return a.stats.requests != b.stats.requests ? a.stats.requests > b.stats.requests
                                                  : a.host < b.host;
    });
    server_series_.watch(rows.front().server);  // looking at a server graphs it
    out.begin_object()
        .field("server", rows.front().server)
        .field("series", "http." + rows.front().server + ".requests_per_s");
    write_stats_fields(out, total, true);
    out.key("hosts").begin_array();
    for (const ServerView& r : rows) {
      out.begin_object().field("host", r.host);
      write_stats_fields(out, r.stats, true);
      out.end_object();
    }
    out.end_array().end_object();
    return 200;
  }
  if (path == "hosts") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = HostView;
    ListPage<R> page(
        q,
        {{"host", [](const R& a, const R& b) { return a.host < b.host; }},
         {"requests", [](const R& a, const R& b) { return a.stats.requests < b.stats.requests; }},
         {"responses",
          [](const R& a, const R& b) { return a.stats.responses < b.stats.responses; }},
         {"errors", [](const R& a, const R& b) { return errors(a.stats) < errors(b.stats); }},
         {"rt_avg", [](const R& a, const R& b) { return rt_avg_us(a.stats) < rt_avg_us(b.stats); }},
         {"last_seen", [](const R& a, const R& b) { return a.stats.last_ns < b.stats.last_ns; }}},
        "requests", [](const R& a, const R& b) { return a.host < b.host; });
    uint64_t from, to;
    time_window(q, from, to);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = hosts(workers);
    std::erase_if(rows, [&](const R& r) {
      return !active_in(r.stats, from, to) || !contains(r.host, needle);
    });
    page.write(rows, out, write_host);
    return 200;
  }
  if (path == "transactions") {
    q.allow_only(
        {"sort", "order", "page", "size", "filter", "host", "status", "method", "from", "to"});
    using R = const Transaction*;
    ListPage<R> page(
        q,
        {{"ts", [](R a, R b) { return a->ts_ns < b->ts_ns; }},
         {"rt", [](R a, R b) { return a->rt_us < b->rt_us; }},
         {"status", [](R a, R b) { return a->status < b->status; }},
         {"host", [](R a, R b) { return a->host.view() < b->host.view(); }},
         {"method", [](R a, R b) { return a->method_text.view() < b->method_text.view(); }},
         {"uri", [](R a, R b) { return a->uri.view() < b->uri.view(); }},
         {"response_body_len", [](R a, R b) { return a->response_body < b->response_body; }}},
        "ts", [](R a, R b) { return a < b; });  // log order: rows point into it
    uint64_t from, to;
    time_window(q, from, to);
    std::string needle = lower(q.get_or("filter", ""));
    std::string host = lower(q.get_or("host", ""));
    std::string method = q.get_or("method", "");
    std::string status = status_param(q);
    uint64_t dropped = 0;
    std::vector<Transaction> all = transactions(workers, dropped);
    std::vector<R> rows;
    rows.reserve(all.size());
    for (const Transaction& t : all) {
      if (t.ts_ns < from || t.ts_ns > to) continue;
      if (!host.empty() && !contains(t.host.view(), host)) continue;
      if (!method.empty() && lower(std::string(t.method_text.view())) != lower(method)) continue;
      if (!status_matches(t, status)) continue;
      if (!needle.empty() && !contains(t.uri.view(), needle) && !contains(t.host.view(), needle) &&
          !contains(t.user_agent.view(), needle) && !contains(format_addr(t.client), needle) &&
          !contains(format_addr(t.server), needle)) {
        continue;
      }
      rows.push_back(&t);
    }
    page.write(rows, out, [](JsonWriter& w, R t) { write_transaction(w, *t); });
    return 200;
  }
  return 404;
}

}  // namespace wiremeter::http

WIREMETER_ANALYZER_PLUGIN(wiremeter::http::Plugin)
