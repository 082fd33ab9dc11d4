// The detections (metrics/detections.h): beacons judged against limits.beacon and the paths
// rules that allow them, outbound and inbound scans against limits.scan, and their series.
#include "metrics/detections.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "metrics/families.h"
#include "metrics/metric_names.h"

namespace connwatch {
namespace {

constexpr double kNow = 1800000000;
// Boot-clock times below are seconds before kNow.
constexpr double kBootToUnix = kNow - 10000;

IpAddress Ip(const char* text) { return *ParseIpAddress(text); }

FlowLabels Outbound(const char* process, const char* zone) {
  return {process, "outbound", zone, "", "", ""};
}

// `count` connections of `labels` to address:port, `every` seconds apart, ending just now.
void Beacon(Detections& detections, const FlowLabels& labels, const char* address, uint16_t port,
            int count, double every, const Process* owner = nullptr) {
  IpAddress remote = Ip(address);
  for (int i = 0; i < count; ++i) {
    double when = 10000 - every * (count - i);
    detections.ObserveCounted({labels, remote, port, true, when, 0}, owner, kBootToUnix);
  }
}

Policy WithLimits() {
  Policy policy;
  policy.limits.beacon = {std::chrono::seconds(3600), 24, 0.8};
  policy.limits.scan = {50, 20};
  return policy;
}

std::vector<std::string> Checks(const Detections& detections) {
  prometheus::MetricFamily family{metric::kFindingInfo.name, "", prometheus::MetricType::Gauge, {}};
  uint64_t dropped = 0;
  AppendDetectionFindings(detections, 100, family, dropped);
  std::vector<std::string> checks;
  for (const auto& metric : family.metric) checks.push_back(metric.label[0].value);
  return checks;
}

TEST(DetectionsTest, APeriodicPairIsABeaconAndARandomOneIsNot) {
  Detections detections;
  Beacon(detections, Outbound("curl", "external"), "203.0.113.5", 443, 30, 60);
  // Random (Poisson) timing of the same mean rate, seeded.
  FlowLabels other = Outbound("curl", "external");
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> gap(1.0 / 60);
  double when = 10000 - 2400;
  for (int i = 0; i < 30; ++i, when += gap(rng)) {
    detections.ObserveCounted({other, Ip("203.0.113.6"), 443, true, when, 0}, nullptr, kBootToUnix);
  }
  detections.Judge(WithLimits(), kNow);
  ASSERT_EQ(detections.beacons().size(), 2u);
  for (const JudgedBeacon& judged : detections.beacons()) {
    bool periodic = judged.result.pair.remote == Ip("203.0.113.5");
    EXPECT_EQ(judged.finding, periodic) << judged.result.score;
  }
  EXPECT_EQ(Checks(detections), std::vector<std::string>{"beacon"});
}

TEST(DetectionsTest, TheGateAndTheWindowComeFromThePolicy) {
  Detections detections;
  Beacon(detections, Outbound("curl", "external"), "203.0.113.5", 443, 20, 60);
  detections.Judge(WithLimits(), kNow);
  EXPECT_TRUE(detections.beacons().empty()) << "20 connections: below min_connections 24";
  Policy lower = WithLimits();
  lower.limits.beacon.min_connections = 12;
  detections.Judge(lower, kNow);
  ASSERT_EQ(detections.beacons().size(), 1u);
  EXPECT_TRUE(detections.beacons()[0].finding);
  lower.limits.beacon.window = std::chrono::seconds(300);
  detections.Judge(lower, kNow);
  EXPECT_TRUE(detections.beacons().empty()) << "5 in the last 5 minutes";
}

TEST(DetectionsTest, BeaconAllowedByAPathsRuleIsScoredButNoFinding) {
  Detections detections;
  Process apt;
  apt.name = "http";
  apt.comm = "http";
  apt.exe = "/usr/lib/apt/methods/http";
  Beacon(detections, Outbound("http", "external"), "203.0.113.5", 443, 30, 60, &apt);
  Policy policy = WithLimits();
  PathRule rule;
  rule.process = "http";
  rule.exe = "/usr/lib/apt/methods/*";
  rule.ports = {443, 443};
  rule.beacon_allowed = true;
  policy.paths = std::vector<PathRule>{rule};
  detections.Judge(policy, kNow);
  ASSERT_EQ(detections.beacons().size(), 1u);
  EXPECT_TRUE(detections.beacons()[0].allowed) << "the exe the connections' owner had";
  EXPECT_FALSE(detections.beacons()[0].finding);
  policy.paths->front().beacon_allowed = false;
  detections.Judge(policy, kNow);
  EXPECT_TRUE(detections.beacons()[0].finding) << "a path allowed is no beacon allowed";
  EXPECT_EQ(detections.beacons()[0].exe, "/usr/lib/apt/methods/http");
}

TEST(DetectionsTest, LoopbackAndInboundConnectionsAreNotScored) {
  Detections detections;
  Beacon(detections, Outbound("prometheus", "loopback"), "127.0.0.1", 9100, 30, 15);
  FlowLabels inbound{"nginx", "inbound", "external", "", "", ""};
  Beacon(detections, inbound, "203.0.113.5", 50000, 30, 60);
  detections.Judge(WithLimits(), kNow);
  EXPECT_TRUE(detections.beacons().empty());
  EXPECT_EQ(detections.beacon_tracker().pairs(), 0u);
}

TEST(DetectionsTest, FailedConnectsToManyTargetsAreAnOutboundScan) {
  Detections detections;
  FlowLabels scanner = Outbound("nmap", "internal");
  for (int i = 0; i < 49; ++i) {
    IpAddress target = Ip(("10.0.0." + std::to_string(i + 1)).c_str());
    detections.ObserveCounted({scanner, target, 22, false, 9990, 0}, nullptr, kBootToUnix);
  }
  // A client retrying one dead server fails against one target.
  FlowLabels retry = Outbound("app", "internal");
  for (int i = 0; i < 500; ++i) {
    detections.ObserveCounted({retry, Ip("10.0.9.9"), 5432, false, 9990, 0}, nullptr, kBootToUnix);
  }
  detections.Judge(WithLimits(), kNow);
  ASSERT_EQ(detections.outbound_scans().size(), 2u);
  EXPECT_TRUE(Checks(detections).empty()) << "49 targets: below 50";
  detections.ObserveCounted({scanner, Ip("10.0.0.200"), 22, false, 9991, 0}, nullptr, kBootToUnix);
  detections.Judge(WithLimits(), kNow);
  EXPECT_EQ(Checks(detections), std::vector<std::string>{"outbound_scan"});
  detections.Judge(WithLimits(), kNow + 300);
  EXPECT_TRUE(detections.outbound_scans().empty()) << "5 minutes later";
}

TEST(DetectionsTest, APeerProbingClosedPortsIsAnInboundScanUnlessLocal) {
  Detections detections;
  std::vector<InboundProbe> probes;
  for (const char* peer : {"198.51.100.7", "127.0.0.1"}) {
    for (uint16_t port = 1; port <= 20; ++port) {
      InboundProbe probe;
      probe.remote = Ip(peer);
      probe.local_port = port;
      probe.netns_inode = 77;
      probe.boot_seconds = 9999;
      probes.push_back(probe);
    }
  }
  ZoneClassifier zones;
  std::unordered_map<uint64_t, ProbedNamespace> places{{77, {"web", "shop", "web-0"}}};
  detections.ObserveProbes(probes, zones, places, kBootToUnix);
  detections.Judge(WithLimits(), kNow);
  EXPECT_EQ(Checks(detections), std::vector<std::string>{"inbound_scan"});
  ASSERT_EQ(detections.inbound_scans().size(), 2u);
  for (const JudgedProbes& judged : detections.inbound_scans()) {
    EXPECT_EQ(judged.finding, judged.probes.remote_zone == "external");
    EXPECT_EQ(judged.probed, (ProbedNamespace{"web", "shop", "web-0"}));
  }
  EXPECT_EQ(detections.probes().counts().at("external"), 20u);
  EXPECT_EQ(detections.probes().counts().at("loopback"), 20u);
}

TEST(DetectionsTest, FamiliesAreCappedAndFindingsGoToFindingInfo) {
  Detections detections;
  for (int pair = 0; pair < 5; ++pair) {
    Beacon(detections, Outbound("curl", "external"),
           ("203.0.113." + std::to_string(pair + 1)).c_str(), 443, 30, 60);
  }
  detections.Judge(WithLimits(), kNow);
  prometheus::MetricFamily info{metric::kFindingInfo.name, "", prometheus::MetricType::Gauge, {}};
  uint64_t findings_dropped = 0;
  AppendDetectionFindings(detections, 3, info, findings_dropped);
  EXPECT_EQ(info.metric.size(), 3u) << "findings capped";
  EXPECT_EQ(findings_dropped, 2u);
  std::vector<prometheus::MetricFamily> families;
  std::map<std::string, uint64_t> dropped;
  AddDetectionFamilies(detections, 100, 3, dropped, families);
  auto family = [&](const char* name) {
    for (const auto& f : families) {
      if (f.name == name) return f;
    }
    ADD_FAILURE() << name;
    return prometheus::MetricFamily{};
  };
  EXPECT_EQ(family(metric::kBeaconScore.name).metric.size(), 3u);
  EXPECT_EQ(dropped[metric::kBeaconScore.name], 2u);
  ASSERT_EQ(family(metric::kBeacons.name).metric.size(), 1u);
  EXPECT_EQ(family(metric::kBeacons.name).metric[0].gauge.value, 5) << "counted before the cap";
}

}  // namespace
}  // namespace connwatch
