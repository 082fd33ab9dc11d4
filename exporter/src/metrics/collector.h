// Turns a snapshot into metric families. Runs once per sample (not per scrape), so the
// counters it keeps advance once per sample and scrapes only copy prepared text.
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sources/snapshot.h"

namespace connwatch {

inline constexpr size_t kDefaultMaxSeries = 2000;

// Counters that accumulate over the life of the process.
struct CumulativeCounters {
  uint64_t samples = 0;
  std::map<std::string, uint64_t> series_dropped;  // by family name
  std::map<std::string, uint64_t> scan_errors;     // by kind
  std::map<std::string, uint64_t> parse_errors;    // by source

  // Adds what one snapshot counted (not the series caps, which BuildFamilies adds).
  void AddSnapshot(const Snapshot& snapshot);
};

struct MetricsOptions {
  size_t max_series = kDefaultMaxSeries;  // per family
};

// Builds every family for `snapshot`, capping each at options.max_series and adding what
// the caps drop to counters.series_dropped. Never throws on hostile names: every label
// value is valid UTF-8.
std::vector<prometheus::MetricFamily> BuildFamilies(const Snapshot& snapshot,
                                                    double sample_duration_seconds,
                                                    const MetricsOptions& options,
                                                    CumulativeCounters& counters);

// The text exposition format, version 0.0.4.
std::string SerializeFamilies(const std::vector<prometheus::MetricFamily>& families);

}  // namespace connwatch
