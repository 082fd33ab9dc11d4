// The evaluator's paths check (per owner, both ends of a loopback connection, policy zones)
// and the order of its findings. The other checks: evaluator_test.cpp.
#include <gtest/gtest.h>

#include "policy/evaluator.h"
#include "support/policy_rules.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::Active;
using testing::Allow;
using testing::Bind;
using testing::Ip;
using testing::kEstablished;
using testing::Keys;
using testing::kInbound;
using testing::kListen;
using testing::kOutbound;
using testing::Listen;
using testing::Listener;
using testing::ListenerAllowed;
using testing::Path;
using testing::Port;
using testing::Service;
using testing::SnapshotBuilder;
using testing::Tcp;
using testing::Udp;

// Inbound when the local port is listened on; these listeners are not judged by paths.
SnapshotBuilder& PathSockets(SnapshotBuilder& builder) {
  return builder
      .Add(Tcp(kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1))                      // 0
      .Add(Tcp(kEstablished, "10.0.0.5", 22, "10.0.0.9", 50000, 2))           // 1 in, internal
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 3))           // 2 out, external
      .Add(Udp("10.0.0.5", 40001, "8.8.4.4", 53, 4))                          // 3 out udp
      .Add(Tcp(kEstablished, "::ffff:10.0.0.5", 40002, "::ffff:203.0.113.9",  // 4 out, mapped
               8443, 5))
      .Add(Tcp(SocketState::kSynSent, "10.0.0.5", 40003, "8.8.8.8", 25, 6))  // 5 an attempt
      .Add(Tcp(kEstablished, "10.0.0.5", 40004, "0.0.0.0", 0, 7))  // 6 no peer, no direction
      .Own(1, 10, "sshd")
      .Own(2, 10, "sshd")
      .Own(3, 20, "curl")
      .Own(4, 30, "dig")
      .Own(5, 40, "agent")
      .Own(6, 50, "mailer")
      .Own(7, 60, "odd");
}

TEST(EvaluatorTest, PathRuleKinds) {
  SnapshotBuilder builder;
  const Snapshot& snapshot = PathSockets(builder).Build();
  ASSERT_EQ(snapshot.classes[1].direction, kInbound);
  ASSERT_EQ(snapshot.classes[2].direction, kOutbound);
  Policy policy;
  policy.paths = std::vector<PathRule>{};
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(
      Keys(evaluation),
      (std::vector<std::string>{"path_violation 1 10", "path_violation 2 20", "path_violation 3 30",
                                "path_violation 4 40", "path_violation 5 50"}))
      << "a connect still in SYN_SENT is judged as an attempt of its path";
  std::vector<uint16_t> ports;
  for (const Finding& finding : evaluation.findings) ports.push_back(finding.path_port);
  EXPECT_EQ(ports, (std::vector<uint16_t>{22, 443, 53, 8443, 25}))
      << "local port inbound, remote port outbound";
  EXPECT_EQ(evaluation.findings[4].reason,
            "no paths rule allows an attempted outbound tcp to 8.8.8.8:25 (external) for process "
            "mailer");
  EXPECT_EQ(evaluation.findings[0].reason,
            "no paths rule allows inbound tcp from 10.0.0.9 (internal) to port 22 for process "
            "sshd");
  EXPECT_EQ(evaluation.findings[1].reason,
            "no paths rule allows outbound tcp to 8.8.8.8:443 (external) for process curl");

  auto allowed = [&](const PathRule& rule) {
    Policy one;
    one.paths = {rule};
    std::vector<size_t> sockets;
    for (size_t i = 1; i <= 4; ++i) sockets.push_back(i);
    for (const Finding& finding : Evaluate(one, snapshot).findings) {
      std::erase(sockets, *finding.socket);
    }
    return sockets;  // the connections the rule allows
  };
  using Allowed = std::vector<size_t>;
  EXPECT_EQ(allowed(Path("")), (Allowed{1, 2, 3, 4})) << "a rule without keys allows every path";
  EXPECT_EQ(allowed(Path("", kInbound)), (Allowed{1}));
  EXPECT_EQ(allowed(Path("", kOutbound)), (Allowed{2, 3, 4}));
  EXPECT_EQ(allowed(Path("", Direction::kNone, "internal")), (Allowed{1}));
  EXPECT_EQ(allowed(Path("", Direction::kNone, "external")), (Allowed{2, 3, 4}));
  EXPECT_EQ(allowed(Path("", Direction::kNone, "", Port(22))), (Allowed{1}));
  EXPECT_EQ(allowed(Path("", Direction::kNone, "", Port(50000))), (Allowed{}))
      << "not the client's ephemeral port";
  EXPECT_EQ(allowed(Path("", Direction::kNone, "", Port(40000))), (Allowed{}))
      << "not our ephemeral port";
  EXPECT_EQ(allowed(Path("", Direction::kNone, "", {443, 8443})), (Allowed{2, 4}));
  EXPECT_EQ(allowed(Path("", Direction::kNone, "", {}, ProtocolMatch::kUdp)), (Allowed{3}));
  EXPECT_EQ(allowed(Path("", Direction::kNone, "", {}, ProtocolMatch::kTcp)), (Allowed{1, 2, 4}));
  EXPECT_EQ(allowed(Path("sshd")), (Allowed{1}));
  EXPECT_EQ(allowed(Path("*")), (Allowed{1, 2, 3, 4}));
  EXPECT_EQ(allowed(Path("c*")), (Allowed{2}));
  EXPECT_EQ(allowed(Path("curl", kOutbound, "external", Port(443), ProtocolMatch::kTcp)),
            (Allowed{2}));
  EXPECT_EQ(allowed(Path("curl", kInbound)), (Allowed{}));
  EXPECT_EQ(allowed(Path("curl", Direction::kNone, "internal")), (Allowed{}));
}

TEST(EvaluatorTest, PathPolicyZonesAndMappedPeers) {
  SnapshotBuilder builder;
  builder.zones = ZoneClassifier(
      {{"dmz", {*ParseCidr("203.0.113.0/24")}}, {"corp", {*ParseCidr("10.0.0.0/8")}}});
  const Snapshot& snapshot = PathSockets(builder).Build();
  ASSERT_EQ(*snapshot.classes[4].remote_zone, "dmz");
  Policy policy;
  policy.paths =
      std::vector<PathRule>{Path("", Direction::kNone, "dmz"), Path("", Direction::kNone, "corp")};
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"path_violation 2 20", "path_violation 3 30",
                                      "path_violation 5 50"}))
      << "the v4-mapped dmz peer and the corp peer are allowed";
  policy.paths = std::vector<PathRule>{Path("", Direction::kNone, "internal"),
                                       Path("", Direction::kNone, "external")};
  evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"path_violation 1 10", "path_violation 4 40"}))
      << "policy zones take their addresses from the built-in zones";
  EXPECT_EQ(evaluation.findings[1].reason,
            "no paths rule allows outbound tcp to [::ffff:203.0.113.9]:8443 (dmz) for process "
            "agent");
}

TEST(EvaluatorTest, PathJudgedPerOwner) {
  SnapshotBuilder builder;
  builder.Add(Tcp(kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 1))
      .Add(Tcp(kEstablished, "10.0.0.5", 40001, "8.8.8.8", 443, 0))  // unowned
      .Own(1, 31, "python3")
      .Own(1, 30, "curl");
  const Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.paths = std::vector<PathRule>{Path("curl")};
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"path_violation 0 31", "path_violation 1 0"}))
      << "allowed for curl, not for python3; unowned matches no process rule";
  EXPECT_EQ(evaluation.findings[0].process, "python3");
  EXPECT_EQ(evaluation.findings[1].process, "");
  EXPECT_EQ(evaluation.findings[1].reason,
            "no paths rule allows outbound tcp to 8.8.8.8:443 (external) for an unowned socket");

  policy.paths->push_back(Path("", Direction::kNone, "", Port(443)));
  evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation), std::vector<std::string>{})
      << "a rule without process allows every owner and unowned sockets";
}

// A client in nginx's accept queue is judged as nginx's; a connection whose owner exited
// during the sample is not judged; one nobody holds after a full walk is, and says so.
TEST(EvaluatorTest, QueuedExitedAndUnknownOwners) {
  SnapshotBuilder builder;
  builder
      .Add(Tcp(kListen, "0.0.0.0", 80, "0.0.0.0", 0, 1))             // 0
      .Add(Tcp(kEstablished, "10.0.0.5", 80, "10.0.0.9", 50000, 0))  // 1 queued
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 2))  // 2 exited
      .Add(Tcp(kEstablished, "10.0.0.5", 40001, "8.8.8.8", 443, 3))  // 3 gone now
      .Add(Tcp(kEstablished, "10.0.0.5", 40002, "8.8.8.8", 443, 4))  // 4 still there
      .Own(1, 10, "nginx")
      .Own(1, 11, "nginx");
  Snapshot& snapshot = builder.Build();
  snapshot.owners.Add(2, 20);  // read no more
  snapshot.IndexOwners();
  AttributeSockets(snapshot, [](const Socket& socket, uint64_t& inode) {
    inode = socket.inode;
    return socket.inode == 3 ? SocketLookup::kGone : SocketLookup::kOpen;
  });
  Policy policy;
  policy.paths = std::vector<PathRule>{Path("nginx", kInbound, "", Port(80))};
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation), std::vector<std::string>{"path_violation 4 0"});
  EXPECT_EQ(evaluation.findings[0].reason,
            "no paths rule allows outbound tcp to 8.8.8.8:443 (external) for a socket whose "
            "owner is unknown after a full walk");

  policy.paths = std::vector<PathRule>{};
  evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"path_violation 1 10", "path_violation 1 11",
                                      "path_violation 4 0"}))
      << "the queued client is judged for each of nginx's processes";

  snapshot.ages.assign(snapshot.sockets.size(), ConnectionAge{7200, AgeSource::kFirstSeen});
  snapshot.ages[0].reset();  // the listener
  policy.paths.reset();
  policy.limits.long_connection = std::chrono::seconds(60);
  evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(Keys(evaluation),
            (std::vector<std::string>{"long_connection 1 10", "long_connection 1 11",
                                      "long_connection 4 0"}))
      << "neither is a long connection judged for an owner that exited";
}

TEST(EvaluatorTest, LoopbackConnectionsAreJudgedAtBothEnds) {
  SnapshotBuilder builder;
  builder.Add(Tcp(kListen, "127.0.0.1", 6379, "0.0.0.0", 0, 1))
      .Add(Tcp(kEstablished, "127.0.0.1", 45000, "127.0.0.1", 6379, 2))  // client end
      .Add(Tcp(kEstablished, "127.0.0.1", 6379, "127.0.0.1", 45000, 3))  // server end
      .Own(1, 10, "redis")
      .Own(2, 20, "app")
      .Own(3, 10, "redis");
  const Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.paths = std::vector<PathRule>{Path("app", kOutbound)};
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation), std::vector<std::string>{"path_violation 2 10"})
      << "the app's end is allowed; redis's inbound end is judged on its own";
  EXPECT_EQ(evaluation.findings[0].path_port, 6379);

  policy.paths = std::vector<PathRule>{Path("", Direction::kNone, "loopback", Port(6379))};
  evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation), std::vector<std::string>{});
  policy.paths = std::vector<PathRule>{Path("", Direction::kNone, "internal")};
  evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"path_violation 1 20", "path_violation 2 10"}))
      << "loopback has no exemption";
}

TEST(EvaluatorTest, FindingsOrderedByCheckThenSocketThenPid) {
  SnapshotBuilder builder;
  builder
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 1))  // 0
      .Add(Listener("0.0.0.0", 4444, 2))                             // 1
      .Add(Tcp(kEstablished, "10.0.0.5", 40001, "8.8.8.8", 443, 3))  // 2
      .Own(3, 9, "zed")
      .Own(3, 5, "curl")
      .Own(1, 7, "wget")
      .Own(2, 8, "nc")
      .Own(2, 6, "nc");
  const Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.paths.emplace();
  policy.network_processes.emplace();
  policy.expected_services = std::vector<ExpectedService>{Service("b", 2, ProtocolMatch::kTcp),
                                                          Service("a", 1, ProtocolMatch::kTcp)};
  policy.listeners.emplace();
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation), (std::vector<std::string>{
                                  "unexpected_listener 1 6",
                                  "unexpected_listener 1 8",
                                  "expected_service_down - 0",
                                  "expected_service_down - 0",
                                  "unexpected_network_process 0 7",
                                  "unexpected_network_process 1 6",
                                  "unexpected_network_process 1 8",
                                  "unexpected_network_process 2 5",
                                  "unexpected_network_process 2 9",
                                  "path_violation 0 7",
                                  "path_violation 2 5",
                                  "path_violation 2 9",
                              }));
  EXPECT_EQ(evaluation.findings[2].service, "b") << "services keep the policy's order";
  EXPECT_EQ(evaluation.findings[3].service, "a");
}

TEST(EvaluatorPathsTest, BeaconAllowedOnlyByRulesThatSaySo) {
  Process chronyd;
  chronyd.pid = 7;
  chronyd.name = "chronyd";
  chronyd.comm = "chronyd";
  chronyd.exe = "/usr/sbin/chronyd";
  Workload host;
  PathRule ntp = Path("chronyd", kOutbound, "external", Port(123), ProtocolMatch::kUdp);
  ntp.beacon_allowed = true;
  PathRule plain = Path("chronyd", kOutbound, "external", Port(123));
  EXPECT_FALSE(BeaconAllowed({plain}, chronyd, host, "", "external", 123))
      << "a path allowed is not a beacon allowed";
  EXPECT_FALSE(BeaconAllowed({ntp}, chronyd, host, "", "external", 123)) << "udp only";
  ntp.protocol = ProtocolMatch::kAny;
  EXPECT_TRUE(BeaconAllowed({plain, ntp}, chronyd, host, "", "external", 123));
  EXPECT_FALSE(BeaconAllowed({ntp}, chronyd, host, "", "external", 124)) << "another port";
  EXPECT_FALSE(BeaconAllowed({ntp}, chronyd, host, "", "internal", 123)) << "another zone";
  ntp.direction = kInbound;
  EXPECT_FALSE(BeaconAllowed({ntp}, chronyd, host, "", "external", 123)) << "inbound only";
  ntp.direction = Direction::kNone;
  ntp.exe = "/usr/sbin/*";
  EXPECT_TRUE(BeaconAllowed({ntp}, chronyd, host, "", "external", 123));
  chronyd.exe = "";
  EXPECT_FALSE(BeaconAllowed({ntp}, chronyd, host, "", "external", 123))
      << "an exe rule cannot vouch for an unknown binary";
  ntp.exe = "";
  ntp.selects.k8s_namespace = "infra";
  EXPECT_FALSE(BeaconAllowed({ntp}, chronyd, host, "", "external", 123)) << "not in the pod";
  Workload pod;
  pod.k8s_namespace = "infra";
  pod.pod = "ntp-0";
  EXPECT_TRUE(BeaconAllowed({ntp}, chronyd, pod, "", "external", 123));
}

}  // namespace
}  // namespace connwatch
