#include "base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/text.h"

namespace connwatch {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_write_mutex;

const char* LevelName(LogLevel level) {
  constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  return kNames[static_cast<size_t>(level)];
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  char buffer[64];
  snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_utc.tm_year + 1900,
           tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec,
           static_cast<int>(ms % 1000));
  return buffer;
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel& level) {
  for (LogLevel candidate :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == LevelName(candidate)) {
      level = candidate;
      return true;
    }
  }
  return false;
}

void SetLogLevel(LogLevel level) { g_level = level; }

std::string LogfmtValue(std::string_view value) {
  std::string escaped = EscapeBytes(value, EscapeStyle::kBackslashEscapes);
  // Quoted when empty, when anything was escaped, or when a space or '=' would split it.
  bool needs_quotes = value.empty() || escaped.size() != value.size() ||
                      value.find_first_of(" =") != std::string_view::npos;
  return needs_quotes ? "\"" + escaped + "\"" : escaped;
}

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (level < g_level.load()) return;
  std::string line = "ts=" + Timestamp() + " level=" + LevelName(level) + " msg=\"" +
                     EscapeBytes(msg, EscapeStyle::kBackslashEscapes) + "\"";
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    line += LogfmtValue(value);
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(g_write_mutex);
  fputs(line.c_str(), stderr);
  fflush(stderr);
}

}  // namespace connwatch
