// The families of the connection events (metrics/event_families.h).
#include "metrics/event_families.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;

const prometheus::MetricFamily& Named(const std::vector<prometheus::MetricFamily>& families,
                                      const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return family;
  }
  ADD_FAILURE() << "no " << name;
  static prometheus::MetricFamily none;
  return none;
}

std::string Label(const prometheus::ClientMetric& metric, const std::string& name) {
  for (const auto& label : metric.label) {
    if (label.name == name) return label.value;
  }
  return "<absent>";
}

TEST(EventFamiliesTest, CountsBytesAndDurations) {
  ConnectionLedger ledger;
  SnapshotBuilder empty;
  ledger.Observe(empty.Build(), 100);
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 1))
      .Own(1, 10, "curl");
  Snapshot closed = builder.Build();
  ConnectionEvent event;
  event.has_bytes = true;
  event.bytes_acked = 1001;
  event.bytes_received = 11;
  event.start_boot_seconds = 100;
  event.end_boot_seconds = 100.5;
  ledger.CountClosed(closed, std::vector<ConnectionEvent>{event}, 101);
  std::vector<prometheus::MetricFamily> families;
  std::map<std::string, uint64_t> dropped;
  AddEventFamilies({&ledger, nullptr, EventSource::kSockDiag, 3}, 100, dropped, families);
  const auto& source = Named(families, "connwatch_events_source_info");
  ASSERT_EQ(source.metric.size(), 1u);
  EXPECT_EQ(Label(source.metric[0], "source"), "sock_diag");
  EXPECT_EQ(Named(families, "connwatch_events_lost_total").metric[0].counter.value, 3);
  const auto& opened = Named(families, "connwatch_connections_opened_total");
  ASSERT_EQ(opened.metric.size(), 1u);
  EXPECT_EQ(Label(opened.metric[0], "process"), "curl");
  EXPECT_EQ(Label(opened.metric[0], "direction"), "outbound");
  EXPECT_EQ(Label(opened.metric[0], "remote_zone"), "external");
  EXPECT_EQ(Label(opened.metric[0], "pod"), "");
  const auto& bytes = Named(families, "connwatch_tcp_bytes_total");
  ASSERT_EQ(bytes.metric.size(), 2u);
  EXPECT_EQ(Label(bytes.metric[0], "flow"), "received");
  EXPECT_EQ(bytes.metric[0].counter.value, 11);
  EXPECT_EQ(bytes.metric[1].counter.value, 1001);
  EXPECT_TRUE(Named(families, "connwatch_connections_failed_total").metric.empty());
  const auto& duration = Named(families, "connwatch_connection_duration_seconds");
  ASSERT_EQ(duration.metric.size(), 1u);
  const auto& histogram = duration.metric[0].histogram;
  EXPECT_EQ(histogram.sample_count, 1u);
  EXPECT_DOUBLE_EQ(histogram.sample_sum, 0.5);
  ASSERT_EQ(histogram.bucket.size(), kDurationBucketCount + 1);
  EXPECT_EQ(histogram.bucket[1].cumulative_count, 0u) << "0.5 s > 0.1 s";
  EXPECT_EQ(histogram.bucket[2].cumulative_count, 1u) << "<= 1 s";
  EXPECT_TRUE(std::isinf(histogram.bucket.back().upper_bound));
  EXPECT_EQ(histogram.bucket.back().cumulative_count, 1u);

  families.clear();
  AddEventFamilies({&ledger, nullptr, EventSource::kSockDiag, 0}, 1, dropped, families);
  EXPECT_EQ(Named(families, "connwatch_tcp_bytes_total").metric.size(), 1u);
  EXPECT_EQ(dropped["connwatch_tcp_bytes_total"], 1u) << "the cap counts what it drops";
}

TEST(EventFamiliesTest, HeldFindingsCarryTheirDetailsOnceWithinTheCap) {
  HeldFinding held;
  held.labels = LabelValues(16, "");
  held.labels[0] = "path_violation";
  held.labels[6] = "192.0.2.2";
  held.start_unix = 1700000000;
  held.duration = 0.25;
  held.has_bytes = true;
  held.bytes_sent = 1001;
  held.bytes_received = 11;
  HeldFinding other = held;
  other.labels[7] = "18100";
  std::deque<HeldFinding> all{held, held, other};
  prometheus::MetricFamily family;
  uint64_t dropped = 0;
  AppendHeldFindings(all, 10, family, dropped);
  ASSERT_EQ(family.metric.size(), 2u) << "the same labels are one series";
  EXPECT_EQ(Label(family.metric[0], "ended"), "true");
  EXPECT_EQ(Label(family.metric[0], "duration_seconds"), "0.250");
  EXPECT_EQ(Label(family.metric[0], "bytes_sent"), "1001");
  EXPECT_EQ(Label(family.metric[0], "start"), "1700000000.000");
  EXPECT_EQ(dropped, 0u);
  prometheus::MetricFamily capped;
  capped.metric.resize(1);  // a live finding already there
  AppendHeldFindings(all, 2, capped, dropped);
  EXPECT_EQ(capped.metric.size(), 2u);
  EXPECT_EQ(dropped, 1u);
}

}  // namespace
}  // namespace connwatch
