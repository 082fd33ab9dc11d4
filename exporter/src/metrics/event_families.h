// The families of the connection events and the per-connection counts (issue 15): opened,
// failed, bytes, durations, the event source, and the findings counted per connection.
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "metrics/finding_events.h"
#include "sources/connection_events.h"
#include "tracking/connection_ledger.h"

namespace connwatch {

struct EventsView {
  const ConnectionLedger* ledger = nullptr;
  // Null without a policy: no connwatch_finding_events_total.
  const FindingEvents* findings = nullptr;
  EventSource source = EventSource::kOff;
  uint64_t lost = 0;
};

void AddEventFamilies(const EventsView& events, size_t max_series,
                      std::map<std::string, uint64_t>& series_dropped,
                      std::vector<prometheus::MetricFamily>& families);

// Appends the held findings to connwatch_finding_info (`family`), after its live series,
// with their extra labels, while the family holds fewer than `max_series`; what does not
// fit is added to `dropped`.
void AppendHeldFindings(const std::deque<HeldFinding>& held, size_t max_series,
                        prometheus::MetricFamily& family, uint64_t& dropped);

}  // namespace connwatch
