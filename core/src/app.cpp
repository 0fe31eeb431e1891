#include "wiremeter/core/app.hpp"

#include <civetweb.h>
#include <pcap/pcap.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <rte_version.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <wiremeter/json.hpp>
#include <wiremeter/query.hpp>

#include "app_internal.hpp"
#include "wiremeter/core/log.hpp"
#include "wiremeter/core/version.hpp"

namespace wiremeter::core {

namespace {

std::atomic<bool> g_shutdown{false};

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Stable across restarts and reinstalls of the software: derived from the machine id.
std::string make_system_id() {
  std::string id = read_first_line("/etc/machine-id");
  if (id.empty()) id = read_first_line("/var/lib/dbus/machine-id");
  if (id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    id = host;
  }
  return sha256_hex("wiremeter-system-id:" + id).substr(0, 12);
}

// Offline analysis reads the capture with net_pcap; the link type comes from libpcap.
Result<LinkType> capture_link_type(const std::string& file) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(file.c_str(), err);
  if (!p) return make_error("cannot read capture " + file + ": " + err);
  int dlt = pcap_datalink(p);
  pcap_close(p);
  LinkType lt;
  if (!link_type_from_dlt(dlt, lt)) {
    return make_error("capture " + file + ": unsupported link type " + std::to_string(dlt) + " (" +
                      (pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?") +
                      ")");
  }
  return lt;
}

}  // namespace

void App::request_shutdown() { g_shutdown.store(true); }

App::App(AppOptions options) : options_(std::move(options)) {}

App::~App() {
  if (web_) mg_stop(web_);
  if (dataplane_ && plugins_) dataplane_->release_plugins(*plugins_);
  // Plugins go before the data path: their code may still be referenced by nothing now.
  plugins_.reset();
  dataplane_.reset();
}

int App::run() {
  started_ = std::chrono::steady_clock::now();
  system_id_ = make_system_id();
  bool offline = !options_.pcap.empty();
  if ((offline || options_.run_seconds > 0) && options_.report_file.empty()) {
    // The report owns stdout: whatever a library or plugin prints there (nDPI does, on a bad
    // rule file) goes to stderr instead of corrupting the JSON.
    std::fflush(stdout);
    report_fd_ = dup(STDOUT_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
  }

  // Configuration. Offline runs take the analysis settings from the config (if given) but use
  // the capture as their only port.
  auto cfg = Config::load(offline && options_.config_path.empty() ? "" : options_.config_path,
                          options_.data_dir);
  if (!cfg) {
    log_error(cfg.error());
    return 1;
  }
  config_.emplace(std::move(cfg.value()));
  Settings settings = config_->settings();
  if (options_.workers) settings.workers = *options_.workers;
  if (options_.log_level) settings.log_level = *options_.log_level;
  LogLevel level;
  if (parse_log_level(settings.log_level, level)) set_log_level(level);
  if (offline) {
    auto lt = capture_link_type(options_.pcap);
    if (!lt) {
      log_error(lt.error());
      return 1;
    }
    PortConfig port;
    port.name = "pcap0";
    port.devargs = "net_pcap_offline0,rx_pcap=" + options_.pcap;
    port.capture_timestamps = true;
    port.link = lt.value();
    settings.ports = {port};
    settings.pairs.clear();
    settings.link_mode = "sink";
    settings.workers = 1;  // a file is one queue
  }

  // Plugins.
  plugins_ = std::make_unique<PluginHost>(
      [this](const std::string& name) {
        std::lock_guard lock(config_mutex_);
        return config_->plugin_section(name);
      },
      [](int plugin_level, const std::string& line) {
        log_line(static_cast<LogLevel>(std::clamp(plugin_level, 0, 3)), line);
      });
  std::string plugin_dir = !options_.plugin_dir.empty()   ? options_.plugin_dir
                           : !settings.plugin_dir.empty() ? settings.plugin_dir
                                                          : options_.default_plugin_dir;
  if (!plugin_dir.empty()) plugins_->load_directory(plugin_dir);

  // Data path.
  EalOptions eal;
  eal.extra_args = options_.eal_args;
  eal.offline = offline;
  auto dp = Dataplane::create(settings, eal);
  if (!dp) {
    log_error(dp.error());
    return 1;
  }
  dataplane_ = std::move(dp.value());
  plugins_->set_series_service([this](const std::string& series, double value) {
    return history_.record(series, now_ns() / 1'000'000'000ull, value);
  });
  plugins_->set_port_services(
      [this] { return dataplane_->port_count(); },
      [this](uint16_t p, wm_port_info& out) { return dataplane_->port_info(p, out); });
  auth_ = std::make_unique<Auth>(*config_, config_mutex_);

  if (auto r = dataplane_->start(*plugins_); !r) {
    log_error(r.error());
    return 1;
  }
  run_start_ = std::chrono::steady_clock::now();
  // The web server comes last: everything it reads (workers, plugin contexts) exists by now.
  std::string listen = options_.listen ? *options_.listen : settings.http_listen;
  if (!offline || options_.listen) {
    if (auto r = start_web(listen); !r) {
      log_error(r.error());
      return 1;
    }
  }
  log_info(offline ? "analyzing " + options_.pcap
                   : "running: " + std::to_string(dataplane_->port_count()) + " port(s), " +
                         std::to_string(dataplane_->worker_count()) + " worker(s)");

  auto deadline = started_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(options_.run_seconds));
  auto next_tick = std::chrono::steady_clock::now();
  while (!g_shutdown.load()) {
    if (dataplane_->finished()) break;
    if (options_.run_seconds > 0 && std::chrono::steady_clock::now() >= deadline) break;
    auto now = std::chrono::steady_clock::now();
    // Offline, rates and history over analysis time would mean nothing: no ticks.
    if (!offline && now >= next_tick) {
      tick();
      next_tick = now + std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!offline) tick();
  std::string report;
  if (offline || options_.run_seconds > 0) {
    // Flows end (and plugins see on_flow_end) before the report, so it is complete.
    dataplane_->stop();
    run_end_ = std::chrono::steady_clock::now();
    report = options_.report == "json" ? report_json() : report_text();
  }
  if (web_ && offline && options_.listen) {
    // Offline with a server: keep serving the finished analysis (all flows ended, so the
    // modules' tables are complete) until interrupted.
    log_info("capture analyzed; serving the results until interrupted");
    while (!g_shutdown.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (web_) {
    mg_stop(web_);
    web_ = nullptr;
  }
  dataplane_->release_plugins(*plugins_);
  if (!report.empty()) {
    if (options_.report_file.empty()) {
      size_t done = 0;
      while (done < report.size()) {
        ssize_t n = ::write(report_fd_, report.data() + done, report.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
    } else if (auto r = write_file_atomic(options_.report_file, report); !r) {
      log_error(r.error());
      return 1;
    }
  }
  log_info("stopped");
  return 0;
}

void App::tick() {
  uint64_t now = now_ns();
  if (plugins_) plugins_->tick(now);
  if (!dataplane_) return;
  DataplaneTotals t = dataplane_->totals();
  std::lock_guard lock(rates_mutex_);
  if (last_tick_ns_ != 0 && now > last_tick_ns_) {
    double dt = static_cast<double>(now - last_tick_ns_) / 1e9;
    pps_ = static_cast<double>(t.packets - last_packets_) / dt;
    bps_ = static_cast<double>(t.bytes - last_bytes_) * 8.0 / dt;
  }
  last_tick_ns_ = now;
  last_packets_ = t.packets;
  last_bytes_ = t.bytes;
  uint64_t second = now / 1'000'000'000ull;
  history_.record("totals.pps", second, pps_);
  history_.record("totals.bps", second, bps_);
  history_.record("flows.active", second, static_cast<double>(t.flows_active));
}

std::string App::report_json() {
  DataplaneTotals t = dataplane_->totals();
  JsonWriter w;
  w.begin_object().field("product", "wiremeter").field("version", kVersion);
  if (!options_.pcap.empty()) w.field("capture", options_.pcap);
  w.field("seconds", std::chrono::duration<double>(run_end_ - run_start_).count());
  w.key("totals")
      .begin_object()
      .field("packets", t.packets)
      .field("bytes", t.bytes)
      .field("packets_without_flow", t.without_flow)
      .end_object();
  w.key("decode_errors").begin_object();
  for (size_t e = 1; e < static_cast<size_t>(DecodeError::kCount); ++e) {
    if (t.decode_errors[e])
      w.field(decode_error_name(static_cast<DecodeError>(e)), t.decode_errors[e]);
  }
  w.end_object();
  w.key("flows")
      .begin_object()
      .field("created", t.flows_created)
      .field("expired", t.flows_expired)
      .field("evicted", t.flows_evicted)
      .end_object();
  w.key("ports").begin_array();
  for (uint16_t i = 0; i < dataplane_->port_count(); ++i) {
    PortStatus s = dataplane_->port_status(i, false);
    w.begin_object().field("name", s.name).field("driver", s.driver);
    write_port_counters(w, s);
    w.end_object();
  }
  w.end_array();
  w.key("plugins").begin_object();
  for (auto& p : plugins_->loaded()) {
    w.key(p->desc->name)
        .raw(checked_plugin_json(p->desc->name, plugins_->plugin_json(p->desc->name)));
  }
  w.end_object();
  w.key("refused_plugins").begin_array();
  for (auto& r : plugins_->refused()) {
    w.begin_object().field("path", r.path).field("reason", r.reason).end_object();
  }
  w.end_array().end_object();
  return w.str() + "\n";
}

std::string App::report_text() {
  DataplaneTotals t = dataplane_->totals();
  std::ostringstream o;
  if (!options_.pcap.empty()) o << "capture:        " << options_.pcap << "\n";
  o << "packets:        " << t.packets << "\n";
  o << "bytes:          " << t.bytes << "\n";
  o << "flows:          " << t.flows_created << "\n";
  o << "without flow:   " << t.without_flow << " packets (non-IP, later fragments)\n";
  bool any = false;
  for (size_t e = 1; e < static_cast<size_t>(DecodeError::kCount); ++e) {
    if (!t.decode_errors[e]) continue;
    if (!any) o << "decode errors:\n";
    any = true;
    o << "  " << decode_error_name(static_cast<DecodeError>(e)) << ": " << t.decode_errors[e]
      << "\n";
  }
  if (!any) o << "decode errors:  none\n";
  for (uint16_t i = 0; i < dataplane_->port_count(); ++i) {
    PortStatus s = dataplane_->port_status(i, false);
    o << "port " << s.name << ": rx " << s.rx_packets << " packets / " << s.rx_bytes
      << " bytes, tx " << s.tx_packets << " packets / " << s.tx_bytes << " bytes\n";
  }
  o << "plugins:        ";
  for (auto& p : plugins_->loaded()) o << p->desc->name << " ";
  o << "\n";
  for (auto& r : plugins_->refused()) o << "refused plugin: " << r.path << ": " << r.reason << "\n";
  return o.str();
}

}  // namespace wiremeter::core
