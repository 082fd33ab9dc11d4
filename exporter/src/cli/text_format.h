// Output helpers shared by the one-shot commands: names escaped so that no process name
// can forge table rows (JSON strings: base/text.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/text.h"
#include "model.h"

namespace connwatch {

// Printable ASCII stays; every other byte (and '\') is shown as \xNN.
inline std::string Printable(std::string_view text) {
  return EscapeBytes(text, EscapeStyle::kHexOnly);
}

// RFC 3339 in UTC to the second, "2026-12-02T03:18:51Z", as the log's timestamps; "" for a
// time that is not one (NaN, before 1970, past year 9999).
std::string FormatUtcTime(double unix_seconds);

// A workload as one cell: "namespace/pod/container" for a Kubernetes pod, the runtime and
// the container id's first 12 characters for another container, "" on the host.
std::string WorkloadText(const Workload& workload);

// Left-aligned columns, two spaces apart; the first row is the header.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace connwatch
