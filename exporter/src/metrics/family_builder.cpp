#include "metrics/family_builder.h"

#include <algorithm>
#include <utility>

#include "base/text.h"

namespace connwatch {
namespace {

prometheus::ClientMetric Series(prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

}  // namespace

LabelValues FamilyBuilder::Clean(const LabelValues& values) {
  LabelValues clean;
  clean.reserve(values.size());
  for (const std::string& value : values) clean.push_back(SanitizeUtf8(value));
  return clean;
}

void FamilyBuilder::Max(const LabelValues& values, double value) {
  auto [it, inserted] = series_.emplace(Clean(values), value);
  if (!inserted && value > it->second) it->second = value;
}

prometheus::MetricFamily FamilyBuilder::Build(size_t max_series,
                                              std::map<std::string, uint64_t>& dropped) const {
  std::vector<std::pair<const LabelValues*, double>> ordered;
  ordered.reserve(series_.size());
  for (const auto& [labels, value] : series_) ordered.emplace_back(&labels, value);
  if (ordered.size() > max_series) {
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    dropped[info_.name] += ordered.size() - max_series;
    ordered.resize(max_series);
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return *a.first < *b.first; });
  }
  prometheus::MetricFamily family{info_.name, info_.help, type_, {}};
  family.metric.reserve(ordered.size());
  for (const auto& [labels, value] : ordered) {
    prometheus::ClientMetric metric = Series(type_, value);
    for (size_t i = 0; i < label_names_.size(); ++i) {
      metric.label.push_back({label_names_[i], (*labels)[i]});
    }
    family.metric.push_back(std::move(metric));
  }
  return family;
}

prometheus::MetricFamily SingleSeries(const metric::Info& info, prometheus::MetricType type,
                                      double value) {
  return prometheus::MetricFamily{info.name, info.help, type, {Series(type, value)}};
}

}  // namespace connwatch
