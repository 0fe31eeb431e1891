// The process log: one line per event on stderr, with a level. Thread-safe.
#pragma once

#include <cstdio>
#include <string>

namespace wiremeter::core {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_log_level(LogLevel level);
bool parse_log_level(const std::string& s, LogLevel& out);
void log_line(LogLevel level, const std::string& msg);
inline void log_error(const std::string& m) { log_line(LogLevel::kError, m); }
inline void log_warn(const std::string& m) { log_line(LogLevel::kWarn, m); }
inline void log_info(const std::string& m) { log_line(LogLevel::kInfo, m); }
inline void log_debug(const std::string& m) { log_line(LogLevel::kDebug, m); }

// A FILE* whose lines go to the log at info level (for DPDK's log after start-up).
FILE* log_stream();

}  // namespace wiremeter::core
