#include "cli/text_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace connwatch {

std::string FormatUtcTime(double unix_seconds) {
  // 253402300800 is 10000-01-01: past it the format would need five digits.
  if (!std::isfinite(unix_seconds) || unix_seconds < 0 || unix_seconds >= 253402300800.0) {
    return "";
  }
  time_t seconds = static_cast<time_t>(unix_seconds);
  struct tm tm_utc;
  if (gmtime_r(&seconds, &tm_utc) == nullptr) return "";
  char buffer[96];  // the widest ints gcc can prove: no truncation warning
  snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm_utc.tm_year + 1900,
           tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec);
  return buffer;
}

std::string WorkloadText(const Workload& workload) {
  if (!workload.pod.empty()) {
    return workload.k8s_namespace + "/" + workload.pod + "/" + workload.container;
  }
  if (!workload.container_id.empty()) {
    return workload.runtime + ":" + workload.container_id.substr(0, 12);
  }
  return "";
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  size_t columns = 0;
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace connwatch
