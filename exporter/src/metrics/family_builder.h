// Builds one metric family: series keyed by label values, capped, with what the cap drops
// counted. Label values from the host are attacker-controlled bytes; every one passes through
// SanitizeUtf8, so two raw names that sanitize alike merge into one series.
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "metrics/metric_names.h"

namespace connwatch {

using LabelValues = std::vector<std::string>;

class FamilyBuilder {
 public:
  FamilyBuilder(const metric::Info& info, prometheus::MetricType type,
                std::vector<std::string> label_names)
      : info_(info), type_(type), label_names_(std::move(label_names)) {}

  void Add(const LabelValues& values, double amount) { series_[Clean(values)] += amount; }
  void Max(const LabelValues& values, double value);
  void Set(const LabelValues& values, double value) { series_[Clean(values)] = value; }

  // Keeps the largest values (the busiest processes matter most to a responder), ties
  // broken by labels so the choice is stable from sample to sample; what the cap drops is
  // added to `dropped[family name]`.
  prometheus::MetricFamily Build(size_t max_series, std::map<std::string, uint64_t>& dropped) const;

 private:
  static LabelValues Clean(const LabelValues& values);

  const metric::Info& info_;
  prometheus::MetricType type_;
  std::vector<std::string> label_names_;
  std::map<LabelValues, double> series_;
};

// A family of one series without labels.
prometheus::MetricFamily SingleSeries(const metric::Info& info, prometheus::MetricType type,
                                      double value);

}  // namespace connwatch
