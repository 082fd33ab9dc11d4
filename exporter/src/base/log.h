// logfmt logging to stderr, as Prometheus and its exporters log:
//   ts=2026-11-29T07:00:00.000Z level=info msg="listening" address=127.0.0.1:10107
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace connwatch {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

bool ParseLogLevel(std::string_view text, LogLevel& level);
void SetLogLevel(LogLevel level);

using LogField = std::pair<std::string_view, std::string>;
void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

// Quotes a logfmt value when it needs it; bytes that are not printable ASCII are escaped so
// that hostile process names cannot forge log lines.
std::string LogfmtValue(std::string_view value);

}  // namespace connwatch
