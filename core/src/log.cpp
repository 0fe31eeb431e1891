#include "wiremeter/core/log.hpp"

#include <atomic>
#include <ctime>
#include <mutex>

namespace wiremeter::core {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mutex;

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

ssize_t cookie_write(void*, const char* buf, size_t size) {
  std::string s(buf, size);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (!s.empty()) log_line(LogLevel::kInfo, "dpdk: " + s);
  return static_cast<ssize_t>(size);
}

}  // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool parse_log_level(const std::string& s, LogLevel& out) {
  if (s == "error")
    out = LogLevel::kError;
  else if (s == "warn")
    out = LogLevel::kWarn;
  else if (s == "info")
    out = LogLevel::kInfo;
  else if (s == "debug")
    out = LogLevel::kDebug;
  else
    return false;
  return true;
}

void log_line(LogLevel level, const std::string& msg) {
  if (static_cast<int>(level) > g_level.load(std::memory_order_relaxed)) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &t);
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000, level_name(level),
               msg.c_str());
}

FILE* log_stream() {
  static FILE* f = [] {
    cookie_io_functions_t io{nullptr, &cookie_write, nullptr, nullptr};
    FILE* s = fopencookie(nullptr, "w", io);
    if (s) setvbuf(s, nullptr, _IOLBF, 0);
    return s;
  }();
  return f;
}

}  // namespace wiremeter::core
