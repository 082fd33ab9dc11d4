// `connwatch check`'s view of the findings that the running exporter holds after their
// connection ended (metrics/finding_events.h): read from the storage directory's
// findings.held, which `serve` rewrites whenever they change. A one-shot sees only its own
// sample; connections that lived between the exporter's samples are known only there.
#pragma once

#include <string>
#include <vector>

#include "metrics/finding_events.h"

namespace connwatch {

struct HeldFindingsRead {
  bool read = false;  // the file was there and whole
  std::string path;
  // One line for stderr: where held findings came from, or why the file could not be read;
  // "" when there is no file or it holds none within the hold.
  std::string note;
  std::vector<HeldFinding> findings;  // those that ended within `hold_seconds` of now
};

HeldFindingsRead ReadHeldFindings(const std::string& storage_path, double hold_seconds,
                                  double now_unix);

// A table (CHECK PROCESS PID LOCAL REMOTE DIR ZONE NETNS POD STARTED DURATION SENT RECEIVED
// ENDED) and its count, or "" when there are none.
std::string FormatHeldText(const std::vector<HeldFinding>& held);
// A JSON array of objects with the same fields.
std::string FormatHeldJson(const std::vector<HeldFinding>& held);

}  // namespace connwatch
