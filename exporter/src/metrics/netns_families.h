// The families about the network namespaces a sample read: how many by the way they were
// read, one info series per namespace, and what failed. Present with --collector.netns=own
// too (no namespace, no error), so the same queries work on every host.
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sources/snapshot.h"

namespace connwatch {

// connwatch_netns{mode}, connwatch_netns_info{netns, mode} (at most max_series; what the cap
// drops is added to dropped["connwatch_netns_info"]), and connwatch_netns_errors_total{kind},
// every mode and kind present from the first sample.
void AddNetnsFamilies(const Snapshot& snapshot, size_t max_series,
                      std::map<std::string, uint64_t>& dropped,
                      std::vector<prometheus::MetricFamily>& families);

}  // namespace connwatch
