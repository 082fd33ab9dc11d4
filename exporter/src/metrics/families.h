// Turns a snapshot (and the policy's verdicts on it) into metric families. Runs once per
// sample (not per scrape), so the counters it keeps advance once per sample and scrapes only
// copy prepared text (metrics/exposition.h).
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "metrics/event_families.h"
#include "metrics/family_builder.h"
#include "metrics/http_rejections.h"
#include "policy/evaluator.h"
#include "sources/snapshot.h"

namespace connwatch {

class Detections;

inline constexpr size_t kDefaultMaxSeries = 2000;

// Counters that accumulate over the life of the process.
struct CumulativeCounters {
  uint64_t samples = 0;
  std::map<std::string, uint64_t> series_dropped;  // by family name
  std::map<std::string, uint64_t> scan_errors;     // by kind
  std::map<std::string, uint64_t> parse_errors;    // by source
  std::map<std::string, uint64_t> state_errors;    // "op:file" (load/save, baseline/state/journal)

  // Adds what one snapshot counted (not the series caps, which BuildFamilies adds).
  void AddSnapshot(const Snapshot& snapshot);
};

inline constexpr size_t kDefaultMaxFindingSeries = 200;

struct MetricsOptions {
  size_t max_series = kDefaultMaxSeries;                 // per family
  size_t max_finding_series = kDefaultMaxFindingSeries;  // connwatch_finding_info
  // The HTTP front's refusals; null (no server: tests, one-shots) exports zeros.
  const HttpRejections* http_rejections = nullptr;
};

// The policy side of a sample: its verdicts and the state of the policy machinery.
struct PolicyView {
  const Evaluation* evaluation = nullptr;
  bool learning = false;
  std::map<std::string, size_t> baseline_rules;  // by section
  bool last_reload_successful = true;
  double last_reload_success_timestamp_seconds = 0;
  double long_connection_seconds = 3600;  // limits.long_connection
  // Findings held after their connection ended (metrics/finding_events.h); null: none.
  const FindingEvents* finding_events = nullptr;
  // Beacons and scans (metrics/detections.h); null: none.
  const Detections* detections = nullptr;
};

// Builds every family for `snapshot` (and, with `events`, those of the connection events), capping
// each at options.max_series and adding what the caps drop to counters.series_dropped. Never throws
// on hostile names: every label value is valid UTF-8. Without a policy view every listener counts
// as expected and no check families are emitted.
std::vector<prometheus::MetricFamily> BuildFamilies(const Snapshot& snapshot,
                                                    double sample_duration_seconds,
                                                    const MetricsOptions& options,
                                                    CumulativeCounters& counters,
                                                    const PolicyView* policy = nullptr,
                                                    const EventsView* events = nullptr);

// The connwatch_finding_info labels of one finding: check, process, pid, protocol,
// local_address, local_port, remote_address, remote_port, direction, remote_zone,
// age_source, exe, netns, namespace, pod, container.
LabelValues FindingLabels(const Snapshot& snapshot, const Evaluation& evaluation,
                          const Finding& finding);
// Where each of those stands in FindingLabels' values; `connwatch check` reads them back
// from the findings the exporter holds (findings.held).
namespace finding_label {
enum Index : size_t {
  kCheck,
  kProcess,
  kPid,
  kProtocol,
  kLocalAddress,
  kLocalPort,
  kRemoteAddress,
  kRemotePort,
  kDirection,
  kRemoteZone,
  kAgeSource,
  kExe,
  kNetns,
  kNamespace,
  kPod,
  kContainer,
  kCount,
};
}  // namespace finding_label
inline constexpr const char* kFindingLabelNames[finding_label::kCount] = {
    "check",          "process",     "pid",       "protocol",    "local_address", "local_port",
    "remote_address", "remote_port", "direction", "remote_zone", "age_source",    "exe",
    "netns",          "namespace",   "pod",       "container"};

}  // namespace connwatch
