// connwatch_netns, connwatch_netns_info and connwatch_netns_errors_total from a snapshot
// built by hand.
#include "metrics/netns_families.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace connwatch {
namespace {

const prometheus::MetricFamily& Named(const std::vector<prometheus::MetricFamily>& families,
                                      const std::string& name) {
  auto it = std::find_if(families.begin(), families.end(),
                         [&](const auto& family) { return family.name == name; });
  if (it == families.end()) throw std::runtime_error("no family " + name);
  return *it;
}

// The value of the series whose labels include every one of `labels`.
double Value(const prometheus::MetricFamily& family,
             const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const auto& metric : family.metric) {
    bool all = std::all_of(labels.begin(), labels.end(), [&](const auto& wanted) {
      return std::any_of(metric.label.begin(), metric.label.end(), [&](const auto& label) {
        return label.name == wanted.first && label.value == wanted.second;
      });
    });
    if (all)
      return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                            : metric.gauge.value;
  }
  return -1;
}

TEST(NetnsFamiliesTest, ZerosWithoutOtherNamespacesRead) {
  Snapshot snapshot;
  std::map<std::string, uint64_t> dropped;
  std::vector<prometheus::MetricFamily> families;
  AddNetnsFamilies(snapshot, 10, dropped, families);
  EXPECT_EQ(Value(Named(families, "connwatch_netns"), {{"mode", "sock_diag"}}), 0);
  EXPECT_TRUE(Named(families, "connwatch_netns_info").metric.empty());
  EXPECT_EQ(Named(families, "connwatch_netns_errors_total").metric.size(), kNetnsErrorKinds);
}

TEST(NetnsFamiliesTest, ByModeInfoAndErrors) {
  Snapshot snapshot;
  snapshot.namespaces = {{1, "", NetnsMode::kOwn, 0},
                         {2, "blue", NetnsMode::kSockDiag, 10},
                         {3, "inode:3", NetnsMode::kSockDiag, 11},
                         {4, "0123456789ab", NetnsMode::kProcfs, 12}};
  snapshot.netns_errors[static_cast<size_t>(NetnsError::kSetns)] = 5;
  std::map<std::string, uint64_t> dropped;
  std::vector<prometheus::MetricFamily> families;
  AddNetnsFamilies(snapshot, 2, dropped, families);
  const auto& by_mode = Named(families, "connwatch_netns");
  EXPECT_EQ(Value(by_mode, {{"mode", "sock_diag"}}), 2);
  EXPECT_EQ(Value(by_mode, {{"mode", "procfs"}}), 1);
  EXPECT_EQ(Value(by_mode, {{"mode", "failed"}}), 0) << "present at 0";
  EXPECT_EQ(Value(by_mode, {{"mode", "own"}}), -1) << "connwatch's own is not counted";
  const auto& info = Named(families, "connwatch_netns_info");
  EXPECT_EQ(info.metric.size(), 2u) << "capped at 2";
  EXPECT_EQ(dropped["connwatch_netns_info"], 1u);
  const auto& errors = Named(families, "connwatch_netns_errors_total");
  EXPECT_EQ(errors.metric.size(), kNetnsErrorKinds) << "every kind present";
  EXPECT_EQ(Value(errors, {{"kind", "setns"}}), 5);
  EXPECT_EQ(Value(errors, {{"kind", "not_a_namespace"}}), 0);
}

}  // namespace
}  // namespace connwatch
