// wiremeter: command line entry point.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "wiremeter/core/app.hpp"
#include "wiremeter/core/log.hpp"
#include "wiremeter/core/version.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// Paths relative to the executable, so that the build tree and an installed tree both work:
// <prefix>/bin/wiremeter, <prefix>/lib/wiremeter/plugins, <prefix>/share/wiremeter.
fs::path prefix_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return fs::current_path();
  return exe.parent_path().parent_path();
}

void on_signal(int) { wiremeter::core::App::request_shutdown(); }

}  // namespace

int main(int argc, char** argv) {
  using wiremeter::core::AppOptions;
  fs::path prefix = prefix_dir();
  AppOptions opt;
  std::string listen, log_level;
  uint32_t workers = 0;

  po::options_description desc(
      "Usage: wiremeter [options]\n"
      "       wiremeter --pcap FILE [--report json] [options]\n\n"
      "wiremeter analyzes the traffic on its ports (bridge or sink) and serves the results in a\n"
      "web interface, a REST API (/api/v1) and Prometheus metrics (/metrics).\n\nOptions");
  desc.add_options()("help,h", "Show this help and exit.")("version", "Show the version and exit.")(
      "config,c", po::value(&opt.config_path)->default_value("/etc/wiremeter/config.json"),
      "Configuration file (JSON). Missing: built-in defaults, saved there on the first change.")(
      "plugin-dir", po::value(&opt.plugin_dir),
      "Directory of plugin shared objects (*.so) to load (default: the config's plugin_dir, "
      "else PREFIX/lib/wiremeter/plugins).")(
      "data-dir", po::value(&opt.data_dir)->default_value((prefix / "share/wiremeter").string()),
      "Directory with the demo capture and the web interface (replaces @DATADIR@ in the config).")(
      "webui-dir", po::value(&opt.webui_dir),
      "Directory of the web interface files (default: DATA_DIR/webui).")(
      "pcap", po::value(&opt.pcap),
      "Analyze this capture file offline through DPDK net_pcap, print the report and exit.")(
      "report", po::value(&opt.report)->default_value("text"),
      "Report format for --pcap and --run-seconds: text or json.")(
      "report-file", po::value(&opt.report_file),
      "Write the report to this file instead of stdout.")(
      "run-seconds", po::value(&opt.run_seconds),
      "Live mode: stop after this many seconds and print the report.")(
      "listen", po::value(&listen),
      "Web server address, e.g. 8080, 127.0.0.1:8080 (overrides http.listen).")(
      "workers", po::value(&workers), "Number of worker lcores (overrides the config).")(
      "eal", po::value(&opt.eal_args)->composing(),
      "Extra DPDK EAL argument; repeat for several (e.g. --eal=--log-level=pmd:debug).")(
      "log-level", po::value(&log_level), "error, warn, info or debug (overrides the config).");

  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "wiremeter: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "wiremeter " << wiremeter::core::kVersion << "\n";
    return 0;
  }
  if (opt.report != "text" && opt.report != "json") {
    std::cerr << "wiremeter: --report must be text or json\n";
    return 2;
  }
  if (vm.count("listen")) opt.listen = listen;
  if (vm.count("workers")) {
    if (workers < 1 || workers > 64) {
      std::cerr << "wiremeter: --workers must be between 1 and 64\n";
      return 2;
    }
    opt.workers = workers;
  }
  if (vm.count("log-level")) {
    wiremeter::core::LogLevel l;
    if (!wiremeter::core::parse_log_level(log_level, l)) {
      std::cerr << "wiremeter: --log-level must be error, warn, info or debug\n";
      return 2;
    }
    opt.log_level = log_level;
  }
  if (!opt.pcap.empty() && access(opt.pcap.c_str(), R_OK) != 0) {
    std::cerr << "wiremeter: cannot read capture " << opt.pcap << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }
  if (!opt.pcap.empty() && !vm["config"].defaulted()) {
    // An explicit config still applies to offline runs (flow settings, plugin sections).
  } else if (!opt.pcap.empty()) {
    opt.config_path.clear();
  }
  opt.default_plugin_dir = (prefix / "lib/wiremeter/plugins").string();
  if (opt.webui_dir.empty()) opt.webui_dir = (fs::path(opt.data_dir) / "webui").string();

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    wiremeter::core::App app(std::move(opt));
    return app.run();
  } catch (const std::exception& e) {
    wiremeter::core::log_error(std::string("fatal: ") + e.what());
    return 1;
  }
}
