#include "metrics/event_families.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "base/text.h"
#include "metrics/families.h"
#include "metrics/family_builder.h"
#include "metrics/metric_names.h"

namespace connwatch {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr size_t kUncapped = SIZE_MAX;

LabelValues WithWorkload(LabelValues labels, const FlowLabels& flow) {
  labels.push_back(flow.k8s_namespace);
  labels.push_back(flow.pod);
  labels.push_back(flow.container);
  return labels;
}

MetricFamily DurationFamily(const ConnectionLedger& ledger) {
  MetricFamily family{metric::kConnectionDuration.name,
                      metric::kConnectionDuration.help,
                      MetricType::Histogram,
                      {}};
  for (const auto& [key, histogram] : ledger.durations()) {
    prometheus::ClientMetric metric;
    metric.label = {{"direction", key.first}, {"remote_zone", SanitizeUtf8(key.second)}};
    metric.histogram.sample_count = histogram.count;
    metric.histogram.sample_sum = histogram.sum;
    for (size_t i = 0; i < kDurationBucketCount; ++i) {
      metric.histogram.bucket.push_back({histogram.buckets[i], kDurationBuckets[i]});
    }
    metric.histogram.bucket.push_back({histogram.count, std::numeric_limits<double>::infinity()});
    family.metric.push_back(std::move(metric));
  }
  return family;
}

std::string Fixed(double value, const char* format) {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

}  // namespace

void AddEventFamilies(const EventsView& events, size_t max_series,
                      std::map<std::string, uint64_t>& series_dropped,
                      std::vector<MetricFamily>& families) {
  FamilyBuilder source(metric::kEventsSourceInfo, MetricType::Gauge, {"source"});
  source.Set({EventSourceName(events.source)}, 1);
  FamilyBuilder lost(metric::kEventsLost, MetricType::Counter, {"source"});
  lost.Set({EventSourceName(events.source)}, static_cast<double>(events.lost));
  families.push_back(source.Build(kUncapped, series_dropped));
  families.push_back(lost.Build(kUncapped, series_dropped));
  if (events.ledger == nullptr) return;
  const std::vector<std::string> workload = {"namespace", "pod", "container"};
  auto names = [&](std::vector<std::string> first) {
    first.insert(first.end(), workload.begin(), workload.end());
    return first;
  };
  FamilyBuilder opened(metric::kConnectionsOpened, MetricType::Counter,
                       names({"process", "direction", "remote_zone"}));
  FamilyBuilder failed(metric::kConnectionsFailed, MetricType::Counter,
                       names({"process", "remote_zone"}));
  FamilyBuilder bytes(metric::kTcpBytes, MetricType::Counter,
                      names({"process", "direction", "remote_zone", "flow"}));
  for (const auto& [flow, counts] : events.ledger->flows()) {
    if (counts.opened > 0) {
      opened.Add(WithWorkload({flow.process, flow.direction, flow.remote_zone}, flow),
                 counts.opened);
    }
    if (counts.failed > 0) {
      failed.Add(WithWorkload({flow.process, flow.remote_zone}, flow), counts.failed);
    }
    if (counts.bytes_sent > 0 || counts.bytes_received > 0) {
      bytes.Add(WithWorkload({flow.process, flow.direction, flow.remote_zone, "sent"}, flow),
                counts.bytes_sent);
      bytes.Add(WithWorkload({flow.process, flow.direction, flow.remote_zone, "received"}, flow),
                counts.bytes_received);
    }
  }
  families.push_back(opened.Build(max_series, series_dropped));
  families.push_back(failed.Build(max_series, series_dropped));
  families.push_back(bytes.Build(max_series, series_dropped));
  families.push_back(DurationFamily(*events.ledger));
  if (events.findings == nullptr) return;
  FamilyBuilder finding_events(
      metric::kFindingEvents, MetricType::Counter,
      {"check", "process", "direction", "remote_zone", "namespace", "pod", "container"});
  for (const auto& [labels, count] : events.findings->counts()) finding_events.Add(labels, count);
  families.push_back(finding_events.Build(max_series, series_dropped));
}

void AppendHeldFindings(const std::deque<HeldFinding>& held, size_t max_series,
                        MetricFamily& family, uint64_t& dropped) {
  // The newest first: a cap keeps what a responder is most likely looking for. Two held
  // findings with the same labels (the same tuple reused within the hold) are one series.
  std::set<LabelValues> seen;
  for (auto it = held.rbegin(); it != held.rend(); ++it) {
    if (!seen.insert(it->labels).second) continue;
    if (family.metric.size() >= max_series) {
      ++dropped;
      continue;
    }
    prometheus::ClientMetric metric;
    metric.gauge.value = 1;
    for (size_t i = 0; i < std::size(kFindingLabelNames) && i < it->labels.size(); ++i) {
      metric.label.push_back({kFindingLabelNames[i], SanitizeUtf8(it->labels[i])});
    }
    metric.label.push_back({"ended", "true"});
    metric.label.push_back({"start", it->start_unix > 0 ? Fixed(it->start_unix, "%.3f") : ""});
    metric.label.push_back(
        {"duration_seconds", it->duration >= 0 ? Fixed(it->duration, "%.3f") : ""});
    metric.label.push_back({"bytes_sent", it->has_bytes ? std::to_string(it->bytes_sent) : ""});
    metric.label.push_back(
        {"bytes_received", it->has_bytes ? std::to_string(it->bytes_received) : ""});
    family.metric.push_back(std::move(metric));
  }
}

}  // namespace connwatch
