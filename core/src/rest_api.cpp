// The web server: CivetWeb set-up, the REST API under /api/v1 and its JSON views. /metrics is
// in metrics.cpp, the process itself in app.cpp.
#include <civetweb.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <rte_version.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <wiremeter/json.hpp>
#include <wiremeter/query.hpp>

#include "app_internal.hpp"
#include "wiremeter/core/app.hpp"
#include "wiremeter/core/log.hpp"
#include "wiremeter/core/version.hpp"

namespace wiremeter::core {

namespace {

void send_response(mg_connection* conn, int status, const std::string& body,
                   const std::string& content_type = "application/json",
                   const std::string& extra_headers = "") {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
            status, mg_get_response_code_text(conn, status), content_type.c_str(), body.size(),
            extra_headers.c_str());
  mg_write(conn, body.data(), body.size());
}

void send_error(mg_connection* conn, int status, const std::string& message,
                const std::string& extra_headers = "") {
  JsonWriter w;
  w.begin_object().field("error", message).end_object();
  send_response(conn, status, w.str(), "application/json", extra_headers);
  // Status is returned to CivetWeb by the caller.
}

std::string cookie_value(mg_connection* conn, const char* name) {
  const char* header = mg_get_header(conn, "Cookie");
  if (!header) return {};
  char buf[256];
  int n = mg_get_cookie(header, name, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

constexpr size_t kMaxBody = 64 * 1024;

// Reads a JSON request body. Returns false (after answering) when it is missing or invalid.
bool read_json_body(mg_connection* conn, rapidjson::Document& doc) {
  const mg_request_info* ri = mg_get_request_info(conn);
  if (ri->content_length > static_cast<long long>(kMaxBody)) {
    send_error(conn, 413, "request body larger than 64 KiB");
    return false;
  }
  std::string body;
  char buf[4096];
  int n;
  while ((n = mg_read(conn, buf, sizeof buf)) > 0) {
    body.append(buf, static_cast<size_t>(n));
    if (body.size() > kMaxBody) {
      send_error(conn, 413, "request body larger than 64 KiB");
      return false;
    }
  }
  doc.Parse(body.c_str(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    send_error(conn, 400, "request body must be a JSON object");
    return false;
  }
  return true;
}

std::string string_field(const rapidjson::Document& d, const char* key) {
  auto it = d.FindMember(key);
  return it != d.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Web server

namespace {

int api_handler(mg_connection* conn, void* app) { return static_cast<App*>(app)->handle_api(conn); }
int metrics_handler(mg_connection* conn, void* app) {
  return static_cast<App*>(app)->handle_metrics(conn);
}
int civetweb_log(const mg_connection*, const char* message) {
  log_debug(std::string("http: ") + message);
  return 1;
}

}  // namespace

Result<void> App::start_web(const std::string& listen) {
  std::string root = options_.webui_dir;
  std::vector<const char*> opts = {
      "listening_ports",
      listen.c_str(),
      "num_threads",
      "8",
      "enable_directory_listing",
      "no",
      "request_timeout_ms",
      "30000",
      // The UI must not run a stale app.js after an upgrade: revalidate every time.
      "static_file_cache_control",
      "no-cache",
      // The manual (docs/*.md) is served beside the UI and reads fine as plain text.
      "extra_mime_types",
      ".md=text/plain; charset=utf-8",
      "additional_header",
      "X-Frame-Options: DENY\r\nContent-Security-Policy: default-src 'self'\r\n"
      "X-Content-Type-Options: nosniff",
  };
  if (!root.empty()) {
    opts.push_back("document_root");
    opts.push_back(root.c_str());
  }
  opts.push_back(nullptr);
  mg_callbacks callbacks{};
  callbacks.log_message = &civetweb_log;
  mg_init_data init{&callbacks, this, opts.data()};
  char err_text[256] = {};
  unsigned err_code = 0;
  mg_error_data err{&err_code, err_text, sizeof err_text};
  mg_init_library(0);
  web_ = mg_start2(&init, &err);
  if (!web_) {
    std::string why = err_text;
    if (why.find("ailed to setup server ports") != std::string::npos ||
        why.find("bind") != std::string::npos) {
      why = "address already in use or not available";
    }
    return make_error("http: cannot listen on " + listen + ": " + why);
  }
  mg_set_request_handler(web_, "/api/", api_handler, this);
  mg_set_request_handler(web_, "/metrics$", metrics_handler, this);
  log_info("web interface on http://" +
           (listen.find(':') == std::string::npos ? "0.0.0.0:" + listen : listen) + "/");
  return {};
}

int App::handle_metrics(mg_connection* conn) {
  if (config_->settings().metrics_require_auth) {
    const char* authz = mg_get_header(conn, "Authorization");
    std::string token = authz && std::strncmp(authz, "Bearer ", 7) == 0 ? authz + 7 : "";
    if (token.empty() || !auth_->from_token(token)) {
      send_error(conn, 401, "a valid API token is required (Authorization: Bearer <token>)");
      return 401;
    }
  }
  std::string body = metrics_text();
  send_response(conn, 200, body, "text/plain; version=0.0.4; charset=utf-8");
  return 200;
}

int App::handle_api(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  std::string method = ri->request_method;
  std::string uri = ri->local_uri ? ri->local_uri : "";
  const std::string client = ri->remote_addr;
  if (uri.rfind("/api/v1/", 0) != 0) {
    send_error(conn, 404, "unknown API version; use /api/v1/");
    return 404;
  }
  std::string path = uri.substr(8);
  while (!path.empty() && path.back() == '/') path.pop_back();
  bool mutating = method == "POST" || method == "PUT" || method == "DELETE";

  // Login needs no session.
  if (path == "auth/login") {
    if (method != "POST") return send_error(conn, 405, "use POST"), 405;
    rapidjson::Document body;
    if (!read_json_body(conn, body)) return 400;
    std::string user = string_field(body, "username");
    std::string password = string_field(body, "password");
    auto r = auth_->login(client, user, password);
    if (r.outcome == Auth::LoginOutcome::kRateLimited) {
      log_warn("login refused for " + client + ": rate limited");
      send_error(conn, 429,
                 "too many failed logins; try again in " + std::to_string(r.retry_after_s) + " s",
                 "Retry-After: " + std::to_string(r.retry_after_s) + "\r\n");
      return 429;
    }
    if (r.outcome != Auth::LoginOutcome::kOk) {
      log_warn("login failed for \"" + user.substr(0, 64) + "\" from " + client);
      send_error(conn, 401, "invalid username or password");
      return 401;
    }
    log_info("login: " + user + " from " + client);
    JsonWriter w;
    w.begin_object()
        .field("username", r.principal.user)
        .field("must_change_password", r.principal.must_change_password)
        .end_object();
    send_response(
        conn, 200, w.str(), "application/json",
        "Set-Cookie: wm_session=" + r.session + "; Path=/; HttpOnly; SameSite=Strict\r\n");
    return 200;
  }

  // Everything else needs a session cookie or an API token.
  std::optional<Principal> who;
  std::string session = cookie_value(conn, "wm_session");
  if (const char* authz = mg_get_header(conn, "Authorization");
      authz && std::strncmp(authz, "Bearer ", 7) == 0) {
    who = auth_->from_token(authz + 7);
  } else if (!session.empty()) {
    who = auth_->from_session(session);
  }
  if (!who) {
    send_error(conn, 401, "authentication required: log in or send Authorization: Bearer <token>");
    return 401;
  }
  if (mutating && !who->via_token) {
    // Cross-site forms cannot send JSON; insisting on it closes the CSRF door for cookies.
    const char* ct = mg_get_header(conn, "Content-Type");
    if (!ct || std::strncmp(ct, "application/json", 16) != 0) {
      send_error(conn, 415, "send the request body as application/json");
      return 415;
    }
  }

  if (path == "auth/logout") {
    if (method != "POST") return send_error(conn, 405, "use POST"), 405;
    auth_->logout(session);
    send_response(conn, 204, "", "application/json",
                  "Set-Cookie: wm_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\r\n");
    return 204;
  }
  if (path == "auth/session") {
    JsonWriter w;
    w.begin_object()
        .field("username", who->user)
        .field("must_change_password", who->must_change_password)
        .end_object();
    send_response(conn, 200, w.str());
    return 200;
  }
  if (path == "auth/password") {
    if (method != "POST") return send_error(conn, 405, "use POST"), 405;
    if (who->via_token) return send_error(conn, 403, "API tokens cannot change passwords"), 403;
    rapidjson::Document body;
    if (!read_json_body(conn, body)) return 400;
    auto r = auth_->change_password(who->user, string_field(body, "old_password"),
                                    string_field(body, "new_password"));
    if (!r) return send_error(conn, 400, r.error()), 400;
    send_response(conn, 200, R"({"ok":true})");
    return 200;
  }
  if (who->must_change_password) {
    send_error(conn, 403, "password change required");
    return 403;
  }
  if (path == "auth/tokens") {
    if (method == "GET") {
      JsonWriter w;
      w.begin_object().key("tokens").begin_array();
      for (auto& n : auth_->token_names()) w.begin_object().field("name", n).end_object();
      w.end_array().end_object();
      send_response(conn, 200, w.str());
      return 200;
    }
    if (method != "POST") return send_error(conn, 405, "use GET or POST"), 405;
    rapidjson::Document body;
    if (!read_json_body(conn, body)) return 400;
    auto r = auth_->create_token(string_field(body, "name"));
    if (!r) return send_error(conn, 400, r.error()), 400;
    JsonWriter w;
    w.begin_object()
        .field("name", string_field(body, "name"))
        .field("token", r.value())
        .end_object();
    send_response(conn, 201, w.str());
    return 201;
  }
  if (path == "system" && method == "GET") return send_response(conn, 200, system_json()), 200;
  if (path == "ports" && method == "GET") return send_response(conn, 200, ports_json()), 200;
  if (path == "plugins" && method == "GET") return send_response(conn, 200, plugins_json()), 200;
  if (path == "stats" && method == "GET") return send_response(conn, 200, stats_json()), 200;
  if (path == "history" && method == "GET") {
    std::string body;
    int status = history_json(ri->query_string ? ri->query_string : "", body);
    send_response(conn, status, body);
    return status;
  }
  if (path.rfind("stats/", 0) == 0 && method == "GET") {
    std::string name = path.substr(6);
    if (!plugins_->find(name)) return send_error(conn, 404, "no plugin named " + name), 404;
    send_response(conn, 200, checked_plugin_json(name, plugins_->plugin_json(name)));
    return 200;
  }
  if (path == "link-modes") {
    if (method == "GET") return send_response(conn, 200, link_modes_json()), 200;
    if (method != "PUT") return send_error(conn, 405, "use GET or PUT"), 405;
    rapidjson::Document body;
    if (!read_json_body(conn, body)) return 400;
    for (auto& m : body.GetObject()) {
      std::string k = m.name.GetString();
      if (k != "mode" && k != "pairs") return send_error(conn, 400, k + ": unknown field"), 400;
    }
    if (body.HasMember("pairs") && !body["pairs"].IsObject()) {
      return send_error(conn, 400, "pairs: expected an object of pair name to mode"), 400;
    }
    Result<void> r;
    {
      std::lock_guard lock(config_mutex_);
      // Names that match no pair are a client error; check before changing anything.
      if (body.HasMember("pairs")) {
        for (auto& m : body["pairs"].GetObject()) {
          bool known = false;
          for (auto& p : config_->settings().pairs) known |= p.name == m.name.GetString();
          if (!known) {
            return send_error(conn, 400,
                              std::string("pairs.") + m.name.GetString() + ": no such pair"),
                   400;
          }
        }
      }
      r = config_->update([&](rapidjson::Document& d) {
        auto& a = d.GetAllocator();
        if (!d.HasMember("link")) d.AddMember("link", rapidjson::Value(rapidjson::kObjectType), a);
        rapidjson::Value& link = d["link"];
        if (body.HasMember("mode")) {
          if (link.HasMember("mode")) link.RemoveMember("mode");
          link.AddMember("mode", rapidjson::Value(body["mode"], a), a);
        }
        if (body.HasMember("pairs") && body["pairs"].IsObject() && link.HasMember("pairs") &&
            link["pairs"].IsArray()) {
          for (auto& p : link["pairs"].GetArray()) {
            if (!p.IsObject() || !p.HasMember("name") || !p["name"].IsString()) continue;
            auto m = body["pairs"].FindMember(p["name"].GetString());
            if (m == body["pairs"].MemberEnd()) continue;
            if (p.HasMember("mode")) p.RemoveMember("mode");
            p.AddMember("mode", rapidjson::Value(m->value, a), a);
          }
        }
      });
      if (r) dataplane_->apply_link_modes(config_->settings());
    }
    if (!r) return send_error(conn, 400, r.error()), 400;
    log_info("link mode changed by " + who->user);
    send_response(conn, 200, link_modes_json());
    return 200;
  }
  if (path == "config" && method == "GET") {
    std::lock_guard lock(config_mutex_);
    rapidjson::Document d;
    d.Parse(config_->to_json(false).c_str());
    // Secrets stay on the box, even hashed.
    if (d.HasMember("auth")) d.RemoveMember("auth");
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    d.Accept(w);
    send_response(conn, 200, buf.GetString());
    return 200;
  }
  // /api/v1/<plugin>/<view>: a plugin's own list and detail views.
  if (method == "GET") {
    size_t slash = path.find('/');
    std::string name = path.substr(0, slash);
    if (plugins_->find(name)) {
      std::string view = slash == std::string::npos ? "" : path.substr(slash + 1);
      std::string body;
      int status = plugins_->query(name, view, ri->query_string ? ri->query_string : "", body);
      if (body.empty()) {
        send_error(conn, 404, "plugin " + name + " has no view \"" + view + "\"");
        return 404;
      }
      send_response(conn, status, checked_plugin_json(name, body));
      return status;
    }
  }
  send_error(conn, 404, "no route " + method + " /api/v1/" + path);
  return 404;
}

// ---------------------------------------------------------------------------------------------
// JSON views

// GET /api/v1/history?series=totals.bps&from=-600&to=0&points=600. from/to are Unix seconds, or
// relative to now when zero or negative. Without `series`, lists the series names.
int App::history_json(const std::string& query_string, std::string& out) {
  using wiremeter::Query;
  using wiremeter::QueryError;
  JsonWriter w;
  try {
    Query q(query_string);
    q.allow_only({"series", "from", "to", "points"});
    auto series = q.get("series");
    if (!series) {
      w.begin_object().key("series").begin_array();
      for (auto& n : history_.names()) w.value(n);
      w.end_array();
      // A full history turns new series away (a detail view's graph then never starts): say so.
      w.field("capacity", static_cast<uint64_t>(kMaxHistorySeries))
          .field("refused", history_.refused());
      w.end_object();
      out = w.str();
      return 200;
    }
    int64_t now = static_cast<int64_t>(now_ns() / 1'000'000'000ull);
    auto when = [&](const char* key, int64_t fallback) {
      auto v = q.get(key);
      if (!v) return fallback;
      char* end = nullptr;
      long long n = std::strtoll(v->c_str(), &end, 10);
      if (v->empty() || *end) throw QueryError(std::string(key) + ": expected seconds");
      return n <= 0 ? now + static_cast<int64_t>(n) : static_cast<int64_t>(n);
    };
    int64_t from = when("from", now - 600);
    int64_t to = when("to", now);
    if (from > to) throw QueryError("from: must not be after to");
    size_t points = q.get_uint("points", 600, 1, 5000);
    auto r = history_.query(*series, static_cast<uint64_t>(std::max<int64_t>(from, 0)),
                            static_cast<uint64_t>(std::max<int64_t>(to, 0)), points);
    if (!r) {
      w.begin_object().field("error", "series: no series named " + *series).end_object();
      out = w.str();
      return 404;
    }
    w.begin_object().field("series", *series).field("step_s", r->step_s);
    w.key("points").begin_array();
    for (auto& p : r->points) w.begin_array().value(p.t).value(p.avg).value(p.max).end_array();
    w.end_array().end_object();
    out = w.str();
    return 200;
  } catch (const QueryError& e) {
    w = JsonWriter();
    w.begin_object().field("error", e.what()).end_object();
    out = w.str();
    return 400;
  }
}

std::string App::system_json() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  JsonWriter w;
  w.begin_object()
      .field("product", "wiremeter")
      .field("version", kVersion)
      .field("system_id", system_id_)
      .field("hostname", host)
      .field("uptime_s", uptime)
      .field("dpdk_version", rte_version())
      .field("workers", dataplane_ ? dataplane_->worker_count() : 0u)
      .field("mode", options_.pcap.empty() ? "live" : "offline")
      .end_object();
  return w.str();
}

std::string App::ports_json() {
  // Rates and size histograms come from the port plugin when it is loaded.
  rapidjson::Document plugin;
  if (plugins_->find("port")) plugin.Parse(plugins_->plugin_json("port").c_str());
  JsonWriter w;
  w.begin_object().key("ports").begin_array();
  for (uint16_t i = 0; i < dataplane_->port_count(); ++i) {
    PortStatus s = dataplane_->port_status(i, true);
    w.begin_object()
        .field("id", static_cast<uint32_t>(i))
        .field("name", s.name)
        .field("devargs", s.devargs)
        .field("driver", s.driver)
        .field("mac", s.mac)
        .field("queues", static_cast<uint32_t>(s.queues));
    w.key("link")
        .begin_object()
        .field("up", s.link_up)
        .field("speed_mbps", s.speed_mbps)
        .end_object();
    w.key("pair");
    if (s.pair.empty())
      w.null();
    else
      w.value(s.pair);
    w.key("stats").begin_object();
    write_port_counters(w, s);
    w.field("tx_errors", s.tx_errors)
        .field("rx_nombuf", s.rx_nombuf)
        .field("hw_rx_packets", s.hw_rx_packets)
        .field("hw_rx_bytes", s.hw_rx_bytes)
        .field("hw_tx_packets", s.hw_tx_packets)
        .field("hw_tx_bytes", s.hw_tx_bytes);
    const rapidjson::Value* pp = nullptr;
    if (plugin.IsObject() && plugin.HasMember("ports") && plugin["ports"].IsArray()) {
      for (auto& p : plugin["ports"].GetArray()) {
        if (p.IsObject() && p.HasMember("name") && p["name"].IsString() &&
            s.name == p["name"].GetString()) {
          pp = &p;
        }
      }
    }
    for (const char* k : {"rx_pps", "rx_bps", "tx_pps", "tx_bps"}) {
      double v = pp && pp->HasMember(k) && (*pp)[k].IsNumber() ? (*pp)[k].GetDouble() : 0.0;
      w.field(k, v);
    }
    double burst = 0;
    if (pp && pp->HasMember("microbursts") && (*pp)["microbursts"].IsObject() &&
        (*pp)["microbursts"].HasMember("peak_1ms_bps") &&
        (*pp)["microbursts"]["peak_1ms_bps"].IsNumber()) {
      burst = (*pp)["microbursts"]["peak_1ms_bps"].GetDouble();
    }
    w.field("rx_peak_1ms_bps", burst);
    w.end_object();
    w.key("size_histogram");
    if (pp && pp->HasMember("size_histogram")) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> jw(buf);
      (*pp)["size_histogram"].Accept(jw);
      w.raw(buf.GetString());
    } else {
      w.begin_array().end_array();
    }
    w.key("xstats").begin_object();
    for (auto& [k, v] : s.xstats) w.field(k, v);
    w.end_object();
    w.end_object();
  }
  w.end_array().end_object();
  return w.str();
}

std::string App::link_modes_json() {
  std::lock_guard lock(config_mutex_);
  const Settings& s = config_->settings();
  JsonWriter w;
  w.begin_object().field("mode", s.link_mode).key("pairs").begin_array();
  for (auto& p : s.pairs) {
    w.begin_object().field("name", p.name);
    w.key("ports").begin_array().value(p.ports[0]).value(p.ports[1]).end_array();
    w.field("mode", link_mode_name(p.mode))
        .field("effective_mode", link_mode_name(s.effective_mode(p)))
        .end_object();
  }
  w.end_array();
  w.key("unpaired_ports").begin_array();
  for (auto& port : s.ports) {
    bool paired = false;
    for (auto& p : s.pairs) paired |= p.ports[0] == port.name || p.ports[1] == port.name;
    if (!paired) w.value(port.name);
  }
  w.end_array().end_object();
  return w.str();
}

std::string App::plugins_json() {
  JsonWriter w;
  w.begin_object().key("loaded").begin_array();
  for (auto& p : plugins_->loaded()) {
    w.begin_object()
        .field("name", p->desc->name)
        .field("version", p->desc->version ? p->desc->version : "")
        .field("kind", p->is_analyzer() ? "analyzer" : "management")
        .field("path", p->path)
        .field("description", p->desc->description ? p->desc->description : "")
        .field("flow_state_bytes", p->is_analyzer() ? p->desc->analyzer->flow_state_size : 0u)
        .end_object();
  }
  w.end_array().key("refused").begin_array();
  for (auto& r : plugins_->refused()) {
    w.begin_object().field("path", r.path).field("reason", r.reason).end_object();
  }
  w.end_array().end_object();
  return w.str();
}

std::string App::stats_json() {
  DataplaneTotals t = dataplane_->totals();
  double pps, bps;
  {
    std::lock_guard lock(rates_mutex_);
    pps = pps_;
    bps = bps_;
  }
  double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  JsonWriter w;
  w.begin_object().field("uptime_s", uptime);
  w.key("totals")
      .begin_object()
      .field("packets", t.packets)
      .field("bytes", t.bytes)
      .field("pps", pps)
      .field("bps", bps)
      .field("packets_without_flow", t.without_flow)
      .end_object();
  w.key("decode_errors").begin_object();
  for (size_t e = 1; e < static_cast<size_t>(DecodeError::kCount); ++e) {
    w.field(decode_error_name(static_cast<DecodeError>(e)), t.decode_errors[e]);
  }
  w.end_object();
  w.key("flows")
      .begin_object()
      .field("active", t.flows_active)
      .field("created", t.flows_created)
      .field("expired", t.flows_expired)
      .field("evicted", t.flows_evicted)
      .field("capacity", t.flow_capacity)
      .field("memory_bytes", t.flow_memory_bytes)
      .field("record_bytes", t.flow_record_bytes)
      .end_object();
  w.key("workers").begin_array();
  for (auto& wk : dataplane_->workers()) {
    uint64_t pk = 0;
    for (auto& c : wk->port_counters()) pk += c.rx_packets.get();
    w.begin_object()
        .field("id", wk->id())
        .field("packets", pk)
        .field("flows_active", wk->flows().counters().active.load(std::memory_order_relaxed))
        .end_object();
  }
  w.end_array().end_object();
  return w.str();
}

}  // namespace wiremeter::core
