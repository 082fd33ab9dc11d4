#include "metrics/families.h"

#include <gtest/gtest.h>

#include "base/text.h"
#include "metrics/exposition.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;
using testing::Udp;

const prometheus::MetricFamily& Family(const std::vector<prometheus::MetricFamily>& families,
                                       const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return family;
  }
  static prometheus::MetricFamily missing;
  ADD_FAILURE() << "no family " << name;
  return missing;
}

std::string Label(const prometheus::ClientMetric& metric, const std::string& name) {
  for (const auto& label : metric.label) {
    if (label.name == name) return label.value;
  }
  return "<absent>";
}

double Value(const prometheus::MetricFamily& family,
             const std::map<std::string, std::string>& labels) {
  for (const auto& metric : family.metric) {
    bool match = true;
    for (const auto& [name, value] : labels) match = match && Label(metric, name) == value;
    if (match) {
      return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                            : metric.gauge.value;
    }
  }
  return -1;
}

TEST(CollectorTest, InventoryFamilies) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 100))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 22, "10.0.0.9", 50000, 101))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 22, "198.51.100.1", 50001, 102))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 103))
      .Add(Tcp(SocketState::kTimeWait, "10.0.0.5", 40001, "198.51.100.1", 443, 0))
      .Add(Udp("::", 53, "::", 0, 104))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40002, "198.51.100.1", 80, 105))
      .Own(100, 1, "sshd")
      .Own(100, 2, "sshd")  // fork after listen: two owners, one name
      .Own(101, 2, "sshd")
      .Own(102, 2, "sshd")
      .Own(103, 3, "curl")
      .Own(104, 4, "dnsmasq");
  // Inode 105 has no owner: unowned. The TIME_WAIT socket has no inode: not unowned.
  CumulativeCounters counters;
  auto families = BuildFamilies(builder.Build(), 0.5, {}, counters);

  const auto& sockets = Family(families, "connwatch_sockets");
  EXPECT_EQ(Value(sockets, {{"protocol", "tcp"}, {"family", "ipv4"}, {"state", "established"}}), 4);
  EXPECT_EQ(Value(sockets, {{"protocol", "tcp"}, {"state", "time_wait"}}), 1);
  EXPECT_EQ(Value(sockets, {{"protocol", "udp"}, {"family", "ipv6"}, {"state", "unconnected"}}), 1);

  const auto& listeners = Family(families, "connwatch_listener_info");
  ASSERT_EQ(listeners.metric.size(), 2u);
  EXPECT_EQ(
      Value(listeners,
            {{"protocol", "tcp"}, {"address", "0.0.0.0"}, {"port", "22"}, {"process", "sshd"}}),
      1);
  EXPECT_EQ(Value(listeners,
                  {{"protocol", "udp"}, {"address", "::"}, {"port", "53"}, {"process", "dnsmasq"}}),
            1);

  const auto& connections = Family(families, "connwatch_process_connections");
  EXPECT_EQ(Value(connections,
                  {{"process", "sshd"}, {"direction", "inbound"}, {"remote_zone", "internal"}}),
            1);
  EXPECT_EQ(Value(connections,
                  {{"process", "sshd"}, {"direction", "inbound"}, {"remote_zone", "external"}}),
            1);
  EXPECT_EQ(Value(connections,
                  {{"process", "curl"}, {"direction", "outbound"}, {"remote_zone", "external"}}),
            1);
  EXPECT_EQ(
      Value(connections, {{"process", ""}, {"direction", "outbound"}, {"remote_zone", "external"}}),
      1);
  EXPECT_EQ(connections.metric.size(), 4u);

  const auto& unowned = Family(families, "connwatch_unowned_sockets");
  EXPECT_EQ(Value(unowned, {{"protocol", "tcp"}}), 1);
  EXPECT_EQ(Value(unowned, {{"protocol", "udp"}}), 0);

  EXPECT_EQ(Value(Family(families, "connwatch_collector_success"), {{"collector", "sock_diag"}}),
            1);
  EXPECT_EQ(Value(Family(families, "connwatch_last_sample_timestamp_seconds"), {}), 1700000000);
  EXPECT_EQ(Value(Family(families, "connwatch_series_dropped_total"),
                  {{"metric", "connwatch_listener_info"}}),
            0);
  EXPECT_EQ(Family(families, "connwatch_build_info").metric.size(), 1u);
  EXPECT_EQ(Value(Family(families, "connwatch_socket_source_info"),
                  {{"source", "netlink"}, {"fallback", "0"}}),
            1);
}

// Queued clients are nginx's connections and counted as accept_queue; a connection whose owner
// exited mid-sample and one nobody holds are counted by reason; listeners and peerless sockets
// are not connections.
TEST(CollectorTest, UnattributedConnectionsByReason) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 80, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 80, "10.0.0.9", 50000, 0))
      .Add(Tcp(SocketState::kCloseWait, "10.0.0.5", 80, "10.0.0.9", 50001, 0))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "10.0.0.7", 443, 2))  // exited
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40001, "10.0.0.7", 443, 3))  // unknown
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 81, "0.0.0.0", 0, 4))              // unknown
      .Own(1, 10, "nginx");
  Snapshot& snapshot = builder.Build();
  snapshot.owners.Add(2, 20);  // no process entry: exited before it was read
  snapshot.IndexOwners();
  CumulativeCounters counters;
  auto families = BuildFamilies(snapshot, 0.5, {}, counters);
  const auto& unattributed = Family(families, "connwatch_unattributed_connections");
  EXPECT_EQ(Value(unattributed, {{"reason", "accept_queue"}}), 2);
  EXPECT_EQ(Value(unattributed, {{"reason", "owner_exited"}}), 1);
  EXPECT_EQ(Value(unattributed, {{"reason", "unknown"}}), 1);
  EXPECT_EQ(Value(Family(families, "connwatch_process_connections"),
                  {{"process", "nginx"}, {"direction", "inbound"}, {"remote_zone", "internal"}}),
            1)
      << "the queued ESTABLISHED client is nginx's (CLOSE_WAIT is no connection)";
}

TEST(CollectorTest, CapsEveryFamilyAndCountsWhatItDrops) {
  SnapshotBuilder builder;
  for (int i = 0; i < 10; ++i) {
    uint64_t inode = 1000 + i;
    builder.Add(Tcp(SocketState::kListen, "127.0.0.1", 20000 + i, "0.0.0.0", 0, inode))
        .Own(inode, 100 + i, "proc-" + std::to_string(i));
  }
  // proc-0 also holds three connections, so it is the one series of that family kept.
  for (int i = 0; i < 3; ++i) {
    builder
        .Add(Tcp(SocketState::kEstablished, "127.0.0.1", 20000, "127.0.0.1", 40000 + i, 2000 + i))
        .Own(2000 + i, 100, "proc-0");
  }
  builder.Add(Tcp(SocketState::kEstablished, "127.0.0.1", 40100, "127.0.0.1", 20001, 3000))
      .Own(3000, 101, "proc-1");
  Snapshot& snapshot = builder.Build();
  CumulativeCounters counters;
  MetricsOptions options{4};
  auto families = BuildFamilies(snapshot, 0, options, counters);
  for (const char* capped :
       {"connwatch_sockets", "connwatch_listener_info", "connwatch_process_connections"}) {
    EXPECT_LE(Family(families, capped).metric.size(), 4u) << capped;
  }
  const auto& dropped = Family(families, "connwatch_series_dropped_total");
  EXPECT_EQ(Value(dropped, {{"metric", "connwatch_listener_info"}}), 6);
  EXPECT_EQ(Value(dropped, {{"metric", "connwatch_process_connections"}}), 0);

  options.max_series = 1;
  families = BuildFamilies(snapshot, 0, options, counters);
  const auto& connections = Family(families, "connwatch_process_connections");
  ASSERT_EQ(connections.metric.size(), 1u);
  EXPECT_EQ(Label(connections.metric[0], "process"), "proc-0") << "the largest series is kept";
  EXPECT_EQ(connections.metric[0].gauge.value, 3);
  const auto& dropped_again = Family(families, "connwatch_series_dropped_total");
  EXPECT_EQ(Value(dropped_again, {{"metric", "connwatch_listener_info"}}), 6 + 9)
      << "the counter accumulates over samples";
  EXPECT_EQ(Value(dropped_again, {{"metric", "connwatch_process_connections"}}), 1)
      << "proc-1's one outbound connection";
}

TEST(CollectorTest, HostileNamesBecomeValidLabelsAndMerge) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kEstablished, "127.0.0.1", 40000, "127.0.0.1", 1, 1))
      .Add(Tcp(SocketState::kEstablished, "127.0.0.1", 40001, "127.0.0.1", 1, 2))
      .Add(Tcp(SocketState::kListen, "127.0.0.1", 5000, "0.0.0.0", 0, 3))
      .Own(1, 10, "\xff")
      .Own(2, 11, "\xfe")
      .Own(3, 12, "new\nline \"q\" back\\slash");
  CumulativeCounters counters;
  auto families = BuildFamilies(builder.Build(), 0, {}, counters);
  const auto& connections = Family(families, "connwatch_process_connections");
  ASSERT_EQ(connections.metric.size(), 1u) << "both names sanitize to U+FFFD";
  EXPECT_EQ(Label(connections.metric[0], "process"), "\xEF\xBF\xBD");
  EXPECT_EQ(connections.metric[0].gauge.value, 2);

  std::string text = SerializeFamilies(families);
  EXPECT_NE(text.find("process=\"new\\nline \\\"q\\\" back\\\\slash\""), std::string::npos) << text;
  EXPECT_EQ(text.find("\xff"), std::string::npos);
  EXPECT_NE(text.find("# TYPE connwatch_series_dropped_total counter"), std::string::npos);
}

}  // namespace
}  // namespace connwatch

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;

TEST(CollectorPolicyTest, VerdictFamiliesFollowTheEvaluation) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 4444, "0.0.0.0", 0, 2))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.9", 443, 3))
      .Own(1, 10, "sshd")
      .Own(2, 20, "nc")
      .Own(2, 21, "nc")
      .Own(3, 20, "nc");
  Snapshot& snapshot = builder.Build();
  ExpectedService https{"https", 443, ProtocolMatch::kTcp, "nginx", {}, "", {}};
  Evaluation evaluation;
  for (bool& active : evaluation.active) active = true;
  evaluation.listener_expected = {1, 0, 0};
  evaluation.services = {{&https, false}};
  evaluation.unexpected_network_processes = 2;
  evaluation.unexpected_network_process_sockets = {{{"nc", 0}, 2}};
  evaluation.findings = {
      {Check::kUnexpectedListener, 1, 20, "nc", "", 0, "why"},
      {Check::kUnexpectedListener, 1, 21, "nc", "", 0, "why"},
      {Check::kExpectedServiceDown, std::nullopt, 0, "nginx", "https", 0, "why"},
      {Check::kPathViolation, 2, 20, "nc", "", 443, "why"},
  };
  PolicyView view{&evaluation, false, {{"listeners", 3}}, false, 1700000000};
  CumulativeCounters counters;
  MetricsOptions options;
  options.max_finding_series = 3;
  auto families = BuildFamilies(snapshot, 0, options, counters, &view);

  const auto& listeners = Family(families, "connwatch_listener_info");
  EXPECT_EQ(Value(listeners, {{"port", "22"}, {"expected", "true"}}), 1);
  EXPECT_EQ(Value(listeners, {{"port", "4444"}, {"expected", "false"}, {"process", "nc"}}), 1);
  EXPECT_EQ(Value(Family(families, "connwatch_unexpected_listeners"), {}), 1)
      << "one socket, two owners: one unexpected listener";
  EXPECT_EQ(Value(Family(families, "connwatch_expected_service_up"),
                  {{"service", "https"}, {"protocol", "tcp"}, {"port", "443"}}),
            0);
  EXPECT_EQ(Value(Family(families, "connwatch_unexpected_network_processes"), {}), 2);
  EXPECT_EQ(
      Value(Family(families, "connwatch_unexpected_network_process_sockets"), {{"process", "nc"}}),
      2);
  EXPECT_EQ(Value(Family(families, "connwatch_path_violations"), {{"process", "nc"},
                                                                  {"direction", "outbound"},
                                                                  {"remote_zone", "external"},
                                                                  {"port", "443"}}),
            1);
  const auto& findings = Family(families, "connwatch_finding_info");
  EXPECT_EQ(findings.metric.size(), 3u) << "capped by --findings.max-series";
  EXPECT_EQ(Value(Family(families, "connwatch_series_dropped_total"),
                  {{"metric", "connwatch_finding_info"}}),
            1);
  EXPECT_EQ(Value(Family(families, "connwatch_check_active"), {{"check", "path_violation"}}), 1);
  EXPECT_EQ(Value(Family(families, "connwatch_baseline_learning"), {}), 0);
  EXPECT_EQ(Value(Family(families, "connwatch_baseline_rules"), {{"section", "listeners"}}), 3);
  EXPECT_EQ(Value(Family(families, "connwatch_config_last_reload_successful"), {}), 0);
  EXPECT_EQ(Value(Family(families, "connwatch_config_last_reload_success_timestamp_seconds"), {}),
            1700000000);

  options.max_finding_series = 200;
  families = BuildFamilies(snapshot, 0, options, counters, &view);
  const auto& all = Family(families, "connwatch_finding_info");
  ASSERT_EQ(all.metric.size(), 4u);
  EXPECT_EQ(Value(all, {{"check", "path_violation"},
                        {"process", "nc"},
                        {"pid", "20"},
                        {"protocol", "tcp"},
                        {"local_address", "10.0.0.5"},
                        {"local_port", "40000"},
                        {"remote_address", "198.51.100.9"},
                        {"remote_port", "443"},
                        {"direction", "outbound"},
                        {"remote_zone", "external"}}),
            1);
  EXPECT_EQ(Value(all, {{"check", "expected_service_down"},
                        {"process", "nginx"},
                        {"pid", ""},
                        {"protocol", "tcp"},
                        {"local_port", "443"},
                        {"remote_address", ""}}),
            1);
}

TEST(CollectorTest, AnUpperBoundIsNotALongConnection) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 80, "10.0.0.9", 50000, 101))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 80, "10.0.0.9", 50001, 102))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 80, "10.0.0.9", 50002, 103))
      .Own(101, 1, "nginx")
      .Own(102, 1, "nginx")
      .Own(103, 1, "nginx");
  Snapshot& snapshot = builder.Build();
  // All three past the 300 s limit by their age; only the two whose age is certain count.
  snapshot.ages = {ConnectionAge{4456, AgeSource::kProcessStart, 2},
                   ConnectionAge{4456, AgeSource::kProcessStart, 400},
                   ConnectionAge{500, AgeSource::kFirstSeen}};
  Evaluation evaluation;
  evaluation.findings = {{Check::kLongConnection, 1, 1, "nginx", "", 0, "why"},
                         {Check::kLongConnection, 2, 1, "nginx", "", 0, "why"}};
  PolicyView view{&evaluation, false, {}, true, 0, 300};
  CumulativeCounters counters;
  auto families = BuildFamilies(snapshot, 0, {}, counters, &view);
  EXPECT_EQ(Value(Family(families, "connwatch_long_connections"), {{"process", "nginx"}}), 2);
  EXPECT_EQ(Value(Family(families, "connwatch_connection_max_age_seconds"), {{"process", "nginx"}}),
            4456);
  const auto& findings = Family(families, "connwatch_finding_info");
  ASSERT_EQ(findings.metric.size(), 2u);
  EXPECT_EQ(
      Value(findings,
            {{"local_port", "80"}, {"remote_port", "50001"}, {"age_source", "process_start"}}),
      1);
  EXPECT_EQ(Value(findings, {{"remote_port", "50002"}, {"age_source", "first_seen"}}), 1);
}

// Sockets 0-2 in a pod, 3 on the host, 4 in a container with hostile names.
Snapshot& WorkloadSnapshot(SnapshotBuilder& builder) {
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 8080, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 8080, "10.0.0.9", 50000, 2))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 8080, "10.0.0.9", 50001, 3))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 8080, "10.0.0.9", 50002, 4))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 9090, "0.0.0.0", 0, 5))
      .Own(1, 10, "nginx")
      .Own(2, 10, "nginx")
      .Own(3, 10, "nginx")
      .Own(4, 11, "nginx")
      .Own(5, 12, "evil");
  Snapshot& snapshot = builder.Build();
  snapshot.workloads = {Workload{},
                        {"containerd", std::string(64, 'a'), "shop", "web-1", "nginx", "uid-1"},
                        {"cri-o", std::string(64, 'b'), "ev\nil", "p\"} x=\"1", "\xff", "uid-2"},
                        {"", "", "", "", "", "uid-3"}};
  snapshot.workload_of = {1, 1, 1, 0, 2};
  return snapshot;
}

TEST(CollectorTest, WorkloadLabelsAndContainerInfo) {
  SnapshotBuilder builder;
  CumulativeCounters counters;
  auto families = BuildFamilies(WorkloadSnapshot(builder), 0, {}, counters);
  const auto& listeners = Family(families, "connwatch_listener_info");
  EXPECT_EQ(
      Value(listeners,
            {{"port", "8080"}, {"namespace", "shop"}, {"pod", "web-1"}, {"container", "nginx"}}),
      1);
  const auto& connections = Family(families, "connwatch_process_connections");
  ASSERT_EQ(connections.metric.size(), 2u) << "the pod's nginx and the host's nginx apart";
  EXPECT_EQ(Value(connections, {{"process", "nginx"}, {"pod", "web-1"}}), 2);
  EXPECT_EQ(Value(connections, {{"process", "nginx"}, {"pod", ""}, {"namespace", ""}}), 1);
  const auto& info = Family(families, "connwatch_container_info");
  ASSERT_EQ(info.metric.size(), 2u) << "a pod-only cgroup and the host are no containers";
  EXPECT_EQ(Value(info, {{"container_id", std::string(64, 'a')},
                         {"runtime", "containerd"},
                         {"namespace", "shop"},
                         {"pod", "web-1"},
                         {"container", "nginx"},
                         {"netns", ""}}),
            1);
  std::string text = SerializeFamilies(families);
  EXPECT_EQ(text.find("uid-"), std::string::npos) << "the pod UID is on no series";
  EXPECT_NE(text.find("pod=\"p\\\"} x=\\\"1\""), std::string::npos) << text;
  EXPECT_NE(text.find("namespace=\"ev\\nil\""), std::string::npos);
  EXPECT_EQ(text.find("\xff"), std::string::npos);
  EXPECT_TRUE(IsValidUtf8(text));
}

TEST(CollectorPolicyTest, FindingsCarryThePodOfTheirSocket) {
  SnapshotBuilder builder;
  Snapshot& snapshot = WorkloadSnapshot(builder);
  Policy policy;
  policy.listeners = std::vector<ListenerRule>{};
  policy.paths = std::vector<PathRule>{};
  Evaluation evaluation = Evaluate(policy, snapshot);
  PolicyView view{&evaluation, false, {}, true, 0};
  CumulativeCounters counters;
  auto families = BuildFamilies(snapshot, 0, MetricsOptions{}, counters, &view);
  // Each label in its place: a shifted list would put the netns under namespace.
  EXPECT_EQ(Value(Family(families, "connwatch_path_violations"), {{"process", "nginx"},
                                                                  {"direction", "inbound"},
                                                                  {"port", "8080"},
                                                                  {"namespace", "shop"},
                                                                  {"pod", "web-1"},
                                                                  {"container", "nginx"}}),
            2);
  const auto& findings = Family(families, "connwatch_finding_info");
  EXPECT_EQ(Value(findings, {{"check", "unexpected_listener"},
                             {"local_port", "8080"},
                             {"namespace", "shop"},
                             {"pod", "web-1"},
                             {"container", "nginx"}}),
            1);
  EXPECT_EQ(Value(findings, {{"check", "unexpected_listener"},
                             {"local_port", "9090"},
                             {"container", "\xEF\xBF\xBD"}}),
            1);
}

TEST(CollectorPolicyTest, FindingsCarryTheExePathAndDeletedExecutablesAreCounted) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.9", 443, 1))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40001, "198.51.100.9", 443, 2))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40002, "198.51.100.9", 443, 3))
      .Own(1, 10, "python3.11")
      .Own(2, 20, "x")
      .Own(3, 30, "kthread");
  Snapshot& snapshot = builder.Build();
  snapshot.processes.at(10).exe = "/tmp/t/python3.11";
  snapshot.processes.at(10).exe_deleted = true;
  // A path of 300 bytes of 'é' (2 bytes each) with an invalid byte up front.
  std::string long_path = "/\xff";
  for (int i = 0; i < 150; ++i) long_path += "\xc3\xa9";
  snapshot.processes.at(20).exe = long_path;
  ExpectedService redis{"redis", 6379, ProtocolMatch::kTcp, "redis-server", {}, "/usr/bin/redis-*",
                        {}};
  Policy policy;
  policy.expected_services = std::vector<ExpectedService>{redis};
  policy.network_processes = std::vector<NetworkProcessRule>{};
  Evaluation evaluation = Evaluate(policy, snapshot);
  PolicyView view{&evaluation, false, {}, true, 0};
  CumulativeCounters counters;
  auto families = BuildFamilies(snapshot, 0, MetricsOptions{}, counters, &view);
  const auto& findings = Family(families, "connwatch_finding_info");
  EXPECT_EQ(Value(findings, {{"check", "unexpected_network_process"},
                             {"pid", "10"},
                             {"process", "python3.11"},
                             {"exe", "/tmp/t/python3.11"}}),
            1);
  EXPECT_EQ(Value(findings,
                  {{"check", "deleted_executable"}, {"pid", "10"}, {"exe", "/tmp/t/python3.11"}}),
            1);
  EXPECT_EQ(Value(findings, {{"check", "unexpected_network_process"}, {"pid", "30"}, {"exe", ""}}),
            1)
      << "unknown exe: empty";
  EXPECT_EQ(Value(findings, {{"check", "expected_service_down"}, {"exe", "/usr/bin/redis-*"}}), 1)
      << "a service that is down names the binary that should listen";
  std::string capped;
  for (const auto& metric : findings.metric) {
    if (Label(metric, "pid") == "20") capped = Label(metric, "exe");
  }
  EXPECT_TRUE(IsValidUtf8(capped));
  EXPECT_LE(capped.size(), 256u);
  EXPECT_GE(capped.size(), 254u) << "cut on a character boundary, not emptied";
  EXPECT_EQ(capped.substr(0, 4), "/\xef\xbf\xbd");
  EXPECT_EQ(Value(Family(families, "connwatch_deleted_executable_processes"),
                  {{"process", "python3.11"}}),
            1);
  EXPECT_EQ(Family(families, "connwatch_deleted_executable_processes").metric.size(), 1u);
  EXPECT_EQ(Value(Family(families, "connwatch_check_active"), {{"check", "deleted_executable"}}),
            1);
}

}  // namespace
}  // namespace connwatch
