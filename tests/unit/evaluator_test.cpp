#include "policy/evaluator.h"

#include <gtest/gtest.h>

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

TEST(EvaluatorTest, CheckNames) {
  EXPECT_STREQ(CheckName(Check::kUnexpectedListener), "unexpected_listener");
  EXPECT_STREQ(CheckName(Check::kExpectedServiceDown), "expected_service_down");
  EXPECT_STREQ(CheckName(Check::kUnexpectedNetworkProcess), "unexpected_network_process");
  EXPECT_STREQ(CheckName(Check::kPathViolation), "path_violation");
  EXPECT_STREQ(CheckName(Check::kLongConnection), "long_connection");
  EXPECT_STREQ(CheckName(Check::kDeletedExecutable), "deleted_executable");
}

// One of everything: a listener, an inbound and an outbound connection, a TIME_WAIT.
SnapshotBuilder& Everything(SnapshotBuilder& builder) {
  return builder.Add(Tcp(kListen, "0.0.0.0", 4444, "0.0.0.0", 0, 1))
      .Add(Tcp(kEstablished, "10.0.0.5", 4444, "10.0.0.9", 50000, 2))
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 3))
      .Add(Tcp(SocketState::kTimeWait, "10.0.0.5", 40001, "8.8.8.8", 443, 0))
      .Own(1, 50, "nc")
      .Own(2, 50, "nc")
      .Own(3, 60, "curl");
}

TEST(EvaluatorTest, AbsentSectionsDisableTheirChecks) {
  SnapshotBuilder builder;
  const Snapshot& snapshot = Everything(builder).Build();
  Evaluation evaluation = Evaluate(Policy{}, snapshot);
  for (int check = 0; check < kCheckCount; ++check) {
    if (static_cast<Check>(check) == Check::kDeletedExecutable) continue;  // needs no section
    EXPECT_FALSE(evaluation.active[check]) << CheckName(static_cast<Check>(check));
  }
  EXPECT_TRUE(Active(evaluation, Check::kDeletedExecutable));
  ASSERT_EQ(Keys(evaluation), std::vector<std::string>{});
  EXPECT_EQ(evaluation.listener_expected, (std::vector<uint8_t>{1, 0, 0, 0}))
      << "inactive check: every listener is expected, non-listeners never";
  EXPECT_TRUE(evaluation.services.empty());
  EXPECT_EQ(evaluation.unexpected_network_processes, 0u);
  EXPECT_TRUE(evaluation.unexpected_network_process_sockets.empty());
}

TEST(EvaluatorTest, LongConnectionsNeedAgesAndTheLimit) {
  SnapshotBuilder builder;
  builder.Add(Tcp(kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 1))
      .Add(Tcp(kEstablished, "10.0.0.5", 40001, "198.51.100.1", 443, 2))
      .Add(Tcp(kEstablished, "10.0.0.5", 40002, "198.51.100.1", 443, 3))
      .Add(Listener("0.0.0.0", 22, 4))
      .Own(1, 10, "curl")
      .Own(2, 11, "nc")
      .Own(2, 12, "sh")
      .Own(3, 13, "wget");
  Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.limits.long_connection = std::chrono::seconds(3600);
  EXPECT_TRUE(Evaluate(policy, snapshot).findings.empty()) << "no ages, no verdict";
  EXPECT_FALSE(Evaluate(policy, snapshot).active[static_cast<int>(Check::kLongConnection)]);

  snapshot.ages = {ConnectionAge{3600, AgeSource::kFirstSeen},
                   ConnectionAge{7200, AgeSource::kConntrack},
                   ConnectionAge{3601, AgeSource::kProcessStart}, std::nullopt};
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_TRUE(evaluation.active[static_cast<int>(Check::kLongConnection)]);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"long_connection 1 11", "long_connection 1 12"}))
      << "exactly the limit is not long; one finding per owner; an upper bound is no verdict";
  EXPECT_EQ(evaluation.findings[0].age_seconds, 7200);
  EXPECT_NE(evaluation.findings[0].reason.find("open for 7200 s (conntrack)"), std::string::npos)
      << evaluation.findings[0].reason;
}

TEST(EvaluatorTest, AnUpperBoundIsLongOnlyOnceWatchedThatLong) {
  SnapshotBuilder builder;
  builder.Add(Tcp(kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 1))
      .Add(Tcp(kEstablished, "10.0.0.5", 40001, "198.51.100.1", 443, 2))
      .Add(Tcp(kEstablished, "10.0.0.5", 40002, "198.51.100.1", 443, 3))
      .Own(1, 10, "nginx")
      .Own(2, 11, "bash")
      .Own(3, 12, "sshd");
  Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.limits.long_connection = std::chrono::seconds(300);
  // nginx's client: the process is 4456 s old, the connection may be 2 s old.
  snapshot.ages = {ConnectionAge{4456, AgeSource::kProcessStart, 2},
                   ConnectionAge{4456, AgeSource::kProcessStart, 301},
                   ConnectionAge{301, AgeSource::kFirstSeen}};
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"long_connection 1 11", "long_connection 2 12"}));
  EXPECT_NE(evaluation.findings[0].reason.find("open for at least 301 s (watched by connwatch; "
                                               "at most 4456 s"),
            std::string::npos)
      << evaluation.findings[0].reason;
  EXPECT_NE(evaluation.findings[1].reason.find("open for at least 301 s (first seen"),
            std::string::npos)
      << evaluation.findings[1].reason;
  // A watched time past the bound (clock or restore oddities) claims no more than the bound.
  snapshot.ages[0] = ConnectionAge{200, AgeSource::kProcessStart, 400};
  EXPECT_EQ(Evaluate(policy, snapshot).findings.size(), 2u);
}

TEST(EvaluatorTest, EmptySectionsAllowNothing) {
  SnapshotBuilder builder;
  const Snapshot& snapshot = Everything(builder).Build();
  Policy policy;
  policy.listeners.emplace();
  policy.expected_services.emplace();
  policy.network_processes.emplace();
  policy.paths.emplace();
  Evaluation evaluation = Evaluate(policy, snapshot);
  for (int check = 0; check < kCheckCount; ++check) {
    // Long connections need ages, which this snapshot does not carry.
    bool needs_ages = static_cast<Check>(check) == Check::kLongConnection;
    EXPECT_EQ(evaluation.active[check], !needs_ages) << CheckName(static_cast<Check>(check));
  }
  ASSERT_EQ(Keys(evaluation), (std::vector<std::string>{
                                  "unexpected_listener 0 50",
                                  "unexpected_network_process 0 50",
                                  "unexpected_network_process 2 60",
                                  "path_violation 1 50",
                                  "path_violation 2 60",
                              }));
  EXPECT_EQ(evaluation.listener_expected, (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_TRUE(evaluation.services.empty());
  EXPECT_EQ(evaluation.unexpected_network_processes, 2u);
}

// Issue 17: connwatch's own listener and the scrapes it answers were findings of any policy
// that did not name connwatch. A socket it shares with another process is still judged.
TEST(EvaluatorTest, ConnwatchsOwnSocketsAreNeverFindings) {
  SnapshotBuilder builder;
  Snapshot snapshot = testing::ConnwatchAndASharedListener(builder).Build();
  Policy policy;
  policy.listeners.emplace();
  policy.network_processes.emplace();
  policy.paths.emplace();
  EXPECT_EQ(Keys(Evaluate(policy, snapshot)).size(), 7u) << "not connwatch: judged as anyone";
  snapshot.self_pid = 77;
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(Keys(evaluation), (std::vector<std::string>{
                                  "unexpected_listener 3 50",
                                  "unexpected_listener 3 77",
                                  "unexpected_network_process 3 50",
                                  "unexpected_network_process 3 77",
                              }));
  EXPECT_EQ(evaluation.listener_expected, (std::vector<uint8_t>{1, 0, 0, 0}));
}

TEST(EvaluatorTest, ListenerPortsAndRanges) {
  ListenerRule exact = Listen("", Port(22));
  EXPECT_TRUE(ListenerAllowed(exact, Listener("0.0.0.0", 22), "sshd"));
  EXPECT_FALSE(ListenerAllowed(exact, Listener("0.0.0.0", 23), "sshd"));
  ListenerRule range = Listen("", {8000, 8100});
  EXPECT_TRUE(ListenerAllowed(range, Listener("0.0.0.0", 8000), "app"));
  EXPECT_TRUE(ListenerAllowed(range, Listener("0.0.0.0", 8100), "app"));
  EXPECT_FALSE(ListenerAllowed(range, Listener("0.0.0.0", 7999), "app"));
  EXPECT_FALSE(ListenerAllowed(range, Listener("0.0.0.0", 8101), "app"));
  EXPECT_TRUE(ListenerAllowed(ListenerRule{}, Listener("::", 65535), "app"))
      << "a rule without keys allows every listener";
}

TEST(EvaluatorTest, ListenerProtocolFilter) {
  Socket tcp = Listener("0.0.0.0", 53);
  Socket udp = Udp("0.0.0.0", 53, "0.0.0.0", 0, 7);
  ListenerRule tcp_only = Listen("", Port(53), ProtocolMatch::kTcp);
  ListenerRule udp_only = Listen("", Port(53), ProtocolMatch::kUdp);
  ListenerRule both = Listen("", Port(53), ProtocolMatch::kAny);
  EXPECT_TRUE(ListenerAllowed(tcp_only, tcp, "named"));
  EXPECT_FALSE(ListenerAllowed(tcp_only, udp, "named"));
  EXPECT_FALSE(ListenerAllowed(udp_only, tcp, "named"));
  EXPECT_TRUE(ListenerAllowed(udp_only, udp, "named"));
  EXPECT_TRUE(ListenerAllowed(both, tcp, "named"));
  EXPECT_TRUE(ListenerAllowed(both, udp, "named"));
}

TEST(EvaluatorTest, ListenerBindScopes) {
  ListenerRule wildcard = Bind(BindScope::kWildcard);
  EXPECT_TRUE(ListenerAllowed(wildcard, Listener("0.0.0.0", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(wildcard, Listener("::", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(wildcard, Listener("::ffff:0.0.0.0", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(wildcard, Listener("127.0.0.1", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(wildcard, Listener("10.0.0.5", 80), "web"));

  ListenerRule loopback = Bind(BindScope::kLoopback);
  EXPECT_TRUE(ListenerAllowed(loopback, Listener("127.0.0.1", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(loopback, Listener("127.0.0.53", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(loopback, Listener("::1", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(loopback, Listener("::ffff:127.0.0.1", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(loopback, Listener("0.0.0.0", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(loopback, Listener("::", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(loopback, Listener("::2", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(loopback, Listener("128.0.0.1", 80), "web"));

  ListenerRule address = Bind(BindScope::kAddress, "10.0.0.5");
  EXPECT_TRUE(ListenerAllowed(address, Listener("10.0.0.5", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(address, Listener("::ffff:10.0.0.5", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(address, Listener("10.0.0.6", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(address, Listener("0.0.0.0", 80), "web"))
      << "a wildcard bind is not the one address";
  ListenerRule mapped_address = Bind(BindScope::kAddress, "::ffff:10.0.0.5");
  EXPECT_TRUE(ListenerAllowed(mapped_address, Listener("10.0.0.5", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(mapped_address, Listener("::ffff:10.0.0.5", 80), "web"));
  ListenerRule v6_address = Bind(BindScope::kAddress, "2001:db8::5");
  EXPECT_TRUE(ListenerAllowed(v6_address, Listener("2001:db8::5", 80), "web"));
  EXPECT_FALSE(ListenerAllowed(v6_address, Listener("2001:db8::6", 80), "web"));

  ListenerRule unspecified = Bind(BindScope::kUnspecified);
  EXPECT_TRUE(ListenerAllowed(unspecified, Listener("0.0.0.0", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(unspecified, Listener("127.0.0.1", 80), "web"));
  EXPECT_TRUE(ListenerAllowed(unspecified, Listener("2001:db8::5", 80), "web"));
}

TEST(EvaluatorTest, ListenerProcessGlobs) {
  ListenerRule exact = Listen("sshd");
  EXPECT_TRUE(ListenerAllowed(exact, Listener("0.0.0.0", 22), "sshd"));
  EXPECT_FALSE(ListenerAllowed(exact, Listener("0.0.0.0", 22), "sshd2"));
  ListenerRule prefix = Listen("systemd-*");
  EXPECT_TRUE(ListenerAllowed(prefix, Listener("127.0.0.53", 53), "systemd-resolved"));
  EXPECT_FALSE(ListenerAllowed(prefix, Listener("127.0.0.53", 53), "systemd"));
  EXPECT_FALSE(ListenerAllowed(prefix, Listener("127.0.0.53", 53), "x-systemd-resolved"));
  ListenerRule star = Listen("*");
  EXPECT_TRUE(ListenerAllowed(star, Listener("0.0.0.0", 22), "anything"));
  EXPECT_FALSE(ListenerAllowed(star, Listener("0.0.0.0", 22), ""))
      << "a process pattern, even *, needs an owner";
}

TEST(EvaluatorTest, UnownedListenerMatchesOnlyProcessLessRules) {
  EXPECT_TRUE(ListenerAllowed(Listen("", Port(22)), Listener("0.0.0.0", 22), ""));
  EXPECT_FALSE(ListenerAllowed(Listen("sshd"), Listener("0.0.0.0", 22), ""));

  SnapshotBuilder builder;
  builder.Add(Listener("0.0.0.0", 4444, 9)).Add(Listener("0.0.0.0", 5555, 0));
  Snapshot& snapshot = builder.Build();
  snapshot.owners.Add(9, 77);  // an owner that exited before it could be read
  Policy policy;
  policy.listeners = {Listen("*")};
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"unexpected_listener 0 0", "unexpected_listener 1 0"}));
  EXPECT_EQ(evaluation.findings[0].process, "");
  EXPECT_EQ(evaluation.findings[0].reason,
            "no listeners rule allows tcp 0.0.0.0:4444 for a socket whose owner exited during the "
            "sample");
}

TEST(EvaluatorTest, ListenerAllowedForOneOwnerIsExpected) {
  SnapshotBuilder builder;
  // nginx master and a worker share the socket with a helper that has the lowest pid.
  builder.Add(Listener("0.0.0.0", 443, 5))
      .Own(5, 12, "nginx")
      .Own(5, 10, "helper")
      .Own(5, 11, "nginx");
  const Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.listeners = {Listen("nginx", Port(443))};
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(evaluation.listener_expected, std::vector<uint8_t>{1});
  ASSERT_EQ(Keys(evaluation), std::vector<std::string>{});

  policy.listeners = {Listen("apache2")};
  evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(evaluation.listener_expected, std::vector<uint8_t>{0});
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"unexpected_listener 0 10", "unexpected_listener 0 11",
                                      "unexpected_listener 0 12"}))
      << "one finding per owner, by pid";
  EXPECT_EQ(evaluation.findings[0].process, "helper");
  EXPECT_EQ(evaluation.findings[2].process, "nginx");
}

TEST(EvaluatorTest, ListenerFindingFields) {
  SnapshotBuilder builder;
  builder.Add(Tcp(kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 3))
      .Add(Listener("::", 4444, 4))
      .Add(Udp("0.0.0.0", 45000, "0.0.0.0", 0, 5))  // an ephemeral client socket, not a listener
      .Add(Udp("0.0.0.0", 4444, "0.0.0.0", 0, 6))
      .Own(3, 20, "curl")
      .Own(4, 21, "nc")
      .Own(5, 22, "dig")
      .Own(6, 21, "nc");
  const Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.listeners = {Listen("sshd")};
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(evaluation.listener_expected, (std::vector<uint8_t>{0, 0, 0, 0}));
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"unexpected_listener 1 21", "unexpected_listener 3 21"}));
  const Finding& finding = evaluation.findings[0];
  EXPECT_EQ(finding.process, "nc");
  EXPECT_EQ(finding.path_port, 0);
  EXPECT_EQ(finding.service, "");
  EXPECT_EQ(finding.reason, "no listeners rule allows tcp [::]:4444 for process nc");
  EXPECT_EQ(evaluation.findings[1].reason,
            "no listeners rule allows udp 0.0.0.0:4444 for process nc");
}

TEST(EvaluatorTest, ExpectedServices) {
  SnapshotBuilder builder;
  builder.Add(Listener("0.0.0.0", 443, 1))
      .Add(Udp("0.0.0.0", 53, "0.0.0.0", 0, 2))
      .Add(Listener("127.0.0.1", 5432, 3))
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "10.0.0.9", 6379, 4))  // a client, not a server
      .Add(Listener("0.0.0.0", 9100, 0))                               // unowned
      .Add(Tcp(kEstablished, "10.0.0.5", 8080, "10.0.0.9", 50000, 5))  // its listener closed
      .Add(Listener("0.0.0.0", 9090, 6))
      .Add(Listener("::", 9090, 7))
      .Own(1, 10, "nginx")
      .Own(1, 11, "sidecar")
      .Own(2, 20, "systemd-resolved")
      .Own(3, 30, "postgres")
      .Own(4, 40, "app")
      .Own(5, 50, "admin")
      .Own(6, 60, "proxy")
      .Own(7, 70, "prometheus");
  const Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.expected_services = std::vector<ExpectedService>{
      Service("https", 443, ProtocolMatch::kTcp, "nginx"),
      Service("dns", 53, ProtocolMatch::kUdp, "systemd-*"),
      Service("dns-tcp", 53, ProtocolMatch::kTcp),
      Service("postgres", 5432, ProtocolMatch::kTcp, "mysqld"),
      Service("redis", 6379, ProtocolMatch::kTcp),
      Service("node", 9100, ProtocolMatch::kTcp),
      Service("node-owned", 9100, ProtocolMatch::kTcp, "*"),
      Service("quic", 443, ProtocolMatch::kAny),
      Service("admin", 8080, ProtocolMatch::kTcp),
      Service("metrics", 9090, ProtocolMatch::kTcp, "prom*"),
  };
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_TRUE(Active(evaluation, Check::kExpectedServiceDown));
  EXPECT_FALSE(Active(evaluation, Check::kUnexpectedListener));
  ASSERT_EQ(evaluation.services.size(), 10u);
  std::vector<std::pair<std::string, bool>> states;
  for (size_t i = 0; i < evaluation.services.size(); ++i) {
    EXPECT_EQ(evaluation.services[i].service, &(*policy.expected_services)[i])
        << "points into the policy, in its order";
    states.emplace_back(evaluation.services[i].service->name, evaluation.services[i].up);
  }
  EXPECT_EQ(states, (std::vector<std::pair<std::string, bool>>{{"https", true},
                                                               {"dns", true},
                                                               {"dns-tcp", false},
                                                               {"postgres", false},
                                                               {"redis", false},
                                                               {"node", true},
                                                               {"node-owned", false},
                                                               {"quic", true},
                                                               {"admin", false},
                                                               {"metrics", true}}));
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"expected_service_down - 0", "expected_service_down - 0",
                                      "expected_service_down - 0", "expected_service_down - 0",
                                      "expected_service_down - 0"}));
  std::vector<std::string> down;
  for (const Finding& finding : evaluation.findings) down.push_back(finding.service);
  EXPECT_EQ(down,
            (std::vector<std::string>{"dns-tcp", "postgres", "redis", "node-owned", "admin"}));
  EXPECT_EQ(evaluation.findings[1].reason,
            "expected service postgres: no tcp listener on port 5432 owned by mysqld");
  EXPECT_EQ(evaluation.findings[0].reason, "expected service dns-tcp: no tcp listener on port 53");
  EXPECT_EQ(evaluation.findings[0].process, "") << "no process required, none named";
  EXPECT_EQ(evaluation.findings[1].process, "mysqld") << "who should be listening";
  EXPECT_EQ(evaluation.findings[1].pid, 0);
}

TEST(EvaluatorTest, NetworkProcessesCountedPerPidAndSocketsPerName) {
  SnapshotBuilder builder;
  builder
      .Add(Listener("0.0.0.0", 22, 1))                                      // 0 sshd
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 2))         // 1 curl
      .Add(Listener("0.0.0.0", 4444, 3))                                    // 2 nc 51, nc 50
      .Add(Tcp(kEstablished, "10.0.0.5", 40001, "8.8.8.8", 4444, 4))        // 3 nc 50
      .Add(Udp("127.0.0.53", 53, "0.0.0.0", 0, 5))                          // 4 systemd-resolved
      .Add(Tcp(kEstablished, "10.0.0.5", 40002, "1.1.1.1", 443, 6))         // 5 unowned
      .Add(Tcp(SocketState::kTimeWait, "10.0.0.5", 40003, "1.1.1.1", 443))  // 6 no inode
      .Own(1, 1, "sshd")
      .Own(2, 60, "curl")
      .Own(3, 51, "nc")
      .Own(3, 50, "nc")
      .Own(4, 50, "nc")
      .Own(5, 70, "systemd-resolved");
  const Snapshot& snapshot = builder.Build();
  Policy policy;
  policy.network_processes = std::vector<NetworkProcessRule>{Allow("sshd"), Allow("systemd-*")};
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(evaluation.unexpected_network_processes, 3u) << "nc 50, nc 51, curl 60";
  EXPECT_EQ(
      evaluation.unexpected_network_process_sockets,
      (std::map<std::pair<std::string, uint32_t>, uint64_t>{{{"curl", 0}, 1}, {{"nc", 0}, 2}}))
      << "the socket nc 50 and 51 share counts once";
  ASSERT_EQ(Keys(evaluation), (std::vector<std::string>{"unexpected_network_process 1 60",
                                                        "unexpected_network_process 2 50",
                                                        "unexpected_network_process 2 51"}))
      << "one finding per pid, on the first socket it holds";
  EXPECT_EQ(evaluation.findings[1].process, "nc");
  EXPECT_EQ(evaluation.findings[1].reason,
            "network_processes does not allow process nc (holds 2 sockets)");
  EXPECT_EQ(evaluation.findings[2].reason,
            "network_processes does not allow process nc (holds 1 socket)");

  policy.network_processes->push_back(Allow("*"));
  evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(evaluation.unexpected_network_processes, 0u);
  EXPECT_TRUE(evaluation.unexpected_network_process_sockets.empty());
  ASSERT_EQ(Keys(evaluation), std::vector<std::string>{});
}

}  // namespace
}  // namespace connwatch
