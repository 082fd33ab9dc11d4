#include "policy/baseline.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "net/cidr.h"
#include "policy/evaluator.h"
#include "policy/policy_loader.h"
#include "policy/policy_yaml.h"
#include "support/policy_describe.h"
#include "support/policy_rules.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::DescribeAll;
using testing::Processes;
using testing::SnapshotBuilder;
using testing::Strings;
using testing::Tcp;
using testing::Udp;

TEST(BaselineLearnerTest, NothingObservedStillHasEverySection) {
  BaselineLearner learner;
  Policy learned = learner.Learned();
  EXPECT_EQ(learned.source, "baseline");
  ASSERT_TRUE(learned.listeners);
  ASSERT_TRUE(learned.expected_services);
  ASSERT_TRUE(learned.network_processes);
  ASSERT_TRUE(learned.paths);
  EXPECT_TRUE(learned.listeners->empty());
  EXPECT_TRUE(learned.expected_services->empty());
  EXPECT_TRUE(learned.network_processes->empty());
  EXPECT_TRUE(learned.paths->empty());
  EXPECT_TRUE(learned.zones.empty());
  EXPECT_EQ(learned.baseline.learn_for.count(), 0) << "a baseline does not learn again";
  EXPECT_EQ(learner.observations(), 0u);
}

TEST(BaselineLearnerTest, ListenersKeepTheirBindScope) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kListen, "::", 22, "::", 0, 2))  // same rule as 0.0.0.0
      .Add(Tcp(SocketState::kListen, "127.0.0.1", 5432, "0.0.0.0", 0, 3))
      .Add(Tcp(SocketState::kListen, "127.0.0.53", 53, "0.0.0.0", 0, 4))
      .Add(Tcp(SocketState::kListen, "::1", 6379, "::", 0, 5))
      .Add(Tcp(SocketState::kListen, "::ffff:127.0.0.1", 9000, "::", 0, 6))
      .Add(Tcp(SocketState::kListen, "192.0.2.10", 8080, "0.0.0.0", 0, 7))
      .Add(Tcp(SocketState::kListen, "::ffff:192.0.2.11", 8081, "::", 0, 8))
      .Add(Tcp(SocketState::kListen, "2001:db8::5", 8443, "::", 0, 9))
      .Own(1, 100, "sshd")
      .Own(2, 100, "sshd")
      .Own(3, 101, "postgres")
      .Own(4, 102, "systemd-resolved")
      .Own(5, 103, "redis-server")
      .Own(6, 104, "php-fpm")
      .Own(7, 105, "app")
      .Own(8, 106, "app")
      .Own(9, 107, "app");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  Policy learned = learner.Learned();

  EXPECT_EQ(DescribeAll(learned.listeners), (Strings{
                                                "tcp/22 any sshd",
                                                "tcp/53 loopback systemd-resolved",
                                                "tcp/5432 loopback postgres",
                                                "tcp/6379 loopback redis-server",
                                                "tcp/8080 192.0.2.10 app",
                                                "tcp/8081 192.0.2.11 app",
                                                "tcp/8443 2001:db8::5 app",
                                                "tcp/9000 loopback php-fpm",
                                            }));
  const ListenerRule& mapped = learned.listeners->at(5);
  EXPECT_EQ(mapped.bind.address.family, Family::kIpv4) << "v4-mapped binds are learned unmapped";
  EXPECT_EQ(mapped.where.file, "baseline");

  // Loopback-only listeners are allowed but nobody else expects them.
  EXPECT_EQ(DescribeAll(learned.expected_services), (Strings{
                                                        "tcp-22-sshd tcp/22 sshd",
                                                        "tcp-8080-app tcp/8080 app",
                                                        "tcp-8081-app tcp/8081 app",
                                                        "tcp-8443-app tcp/8443 app",
                                                    }));
  EXPECT_EQ(Processes(learned),
            (Strings{"app", "php-fpm", "postgres", "redis-server", "sshd", "systemd-resolved"}));
  EXPECT_EQ(DescribeAll(learned.paths), Strings{});
}

TEST(BaselineLearnerTest, EveryOwnerNameOfASharedListenerIsLearned) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 80, "0.0.0.0", 0, 1))
      .Own(1, 100, "apache2")
      .Own(1, 101, "apache2")  // forked workers: one name
      .Own(1, 102, "php-cgi");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  Policy learned = learner.Learned();
  EXPECT_EQ(DescribeAll(learned.listeners), (Strings{"tcp/80 any apache2", "tcp/80 any php-cgi"}));
  EXPECT_EQ(DescribeAll(learned.expected_services),
            (Strings{"tcp-80-apache2 tcp/80 apache2", "tcp-80-php-cgi tcp/80 php-cgi"}));
  EXPECT_EQ(Processes(learned), (Strings{"apache2", "php-cgi"}));
}

// connwatch's own sockets are never judged, so none is learned: its listener, the scrapes it
// answers and its HTTP front's loopback connections to civetweb (a new port at every start).
// A socket it shares with another process is learned for that process.
TEST(BaselineLearnerTest, ConnwatchsOwnSocketsAreNotLearned) {
  SnapshotBuilder builder;
  Snapshot snapshot = testing::ConnwatchAndASharedListener(builder).Build();
  snapshot.self_pid = 77;
  BaselineLearner learner;
  learner.Observe(snapshot);
  Policy learned = learner.Learned();
  EXPECT_EQ(DescribeAll(learned.listeners), (Strings{"tcp/4444 any connwatch", "tcp/4444 any nc"}));
  EXPECT_EQ(DescribeAll(learned.paths), Strings{});
}

TEST(BaselineLearnerTest, UnownedListenerIsLearnedWithoutProcessForItsExactPortAndBind) {
  SnapshotBuilder builder;
  builder
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 2049, "0.0.0.0", 0, 1))  // kernel nfsd
      .Add(Tcp(SocketState::kListen, "127.0.0.1", 7000, "0.0.0.0", 0, 2))
      .Own(2, 100, "");  // cleared comm: no exact pattern exists, so not learned
  BaselineLearner learner;
  learner.Observe(builder.Build());
  Policy learned = learner.Learned();
  EXPECT_EQ(DescribeAll(learned.listeners), Strings{"tcp/2049 any"});
  EXPECT_EQ(DescribeAll(learned.expected_services), Strings{"tcp-2049 tcp/2049"});
  EXPECT_EQ(Processes(learned), Strings{}) << "an empty name would allow every process";
}

// A connection whose owner exited during the sample would be learned as "any process may";
// it is left for a later sample. A client queued on nginx's listener is nginx's path.
TEST(BaselineLearnerTest, OwnersThatExitedAreNotLearnedAndQueuedClientsAreTheListeners) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 80, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 80, "203.0.113.7", 51000, 0))  // queued
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 2))
      .Own(1, 100, "nginx");
  Snapshot& snapshot = builder.Build();
  snapshot.owners.Add(2, 200);  // exited before it was read
  snapshot.IndexOwners();
  BaselineLearner learner;
  learner.Observe(snapshot);
  EXPECT_EQ(DescribeAll(learner.Learned().paths), Strings{"tcp inbound external 80 nginx"});
}

TEST(BaselineLearnerTest, UdpListenersAreUdpRules) {
  SnapshotBuilder builder;
  builder.Add(Udp("0.0.0.0", 53, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 53, "0.0.0.0", 0, 2))
      .Add(Udp("127.0.0.1", 323, "0.0.0.0", 0, 3))
      .Add(Udp("0.0.0.0", 45000, "0.0.0.0", 0, 4))  // ephemeral: a client, not a listener
      .Own(1, 100, "dnsmasq")
      .Own(2, 100, "dnsmasq")
      .Own(3, 101, "chronyd")
      .Own(4, 102, "dig");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  Policy learned = learner.Learned();
  EXPECT_EQ(DescribeAll(learned.listeners),
            (Strings{"tcp/53 any dnsmasq", "udp/53 any dnsmasq", "udp/323 loopback chronyd"}));
  EXPECT_EQ(DescribeAll(learned.expected_services),
            (Strings{"tcp-53-dnsmasq tcp/53 dnsmasq", "udp-53-dnsmasq udp/53 dnsmasq"}));
  EXPECT_EQ(Processes(learned), (Strings{"chronyd", "dig", "dnsmasq"}))
      << "every socket owner holds network sockets, listener or not";
}

TEST(BaselineLearnerTest, PathsUseTheServicePortAndZone) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 443, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kListen, "::", 443, "::", 0, 8))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 443, "203.0.113.7", 51000, 2))
      .Add(Tcp(SocketState::kEstablished, "::ffff:10.0.0.5", 443, "::ffff:10.0.0.9", 51001, 3))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "10.1.2.3", 5432, 4))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40001, "198.51.100.1", 443, 5))
      .Add(Udp("10.0.0.5", 40002, "10.0.0.2", 53, 6))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40003, "198.51.100.2", 443, 0))  // unowned
      .Add(Tcp(SocketState::kSynSent, "10.0.0.5", 40004, "198.51.100.3", 8443, 7))
      .Own(1, 100, "nginx")
      .Own(2, 100, "nginx")
      .Own(3, 101, "nginx")
      .Own(4, 101, "nginx")
      .Own(5, 102, "curl")
      .Own(6, 103, "systemd-resolved")
      .Own(7, 104, "wget")
      .Own(8, 100, "nginx");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  Policy learned = learner.Learned();
  EXPECT_EQ(DescribeAll(learned.paths), (Strings{
                                            "tcp outbound external 443",
                                            "tcp outbound external 443 curl",
                                            "tcp inbound external 443 nginx",
                                            "tcp inbound internal 443 nginx",
                                            "tcp outbound internal 5432 nginx",
                                            "udp outbound internal 53 systemd-resolved",
                                        }));
  EXPECT_EQ(Processes(learned), (Strings{"curl", "nginx", "systemd-resolved", "wget"}))
      << "a connecting socket is no path yet, but its owner holds a socket";
}

// Observe looks at the first socket of each kind only (same owner, role, transport, port,
// bind address or direction and zone): sockets of one owner that differ in any of them are
// each learned.
TEST(BaselineLearnerTest, OneOwnerLearnsEverySocketThatDiffersInAnyField) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 80, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 81, "0.0.0.0", 0, 2))     // port
      .Add(Tcp(SocketState::kListen, "192.0.2.10", 82, "0.0.0.0", 0, 3))  // address
      .Add(Tcp(SocketState::kListen, "192.0.2.11", 82, "0.0.0.0", 0, 4))  // address only
      .Add(Udp("0.0.0.0", 80, "0.0.0.0", 0, 5))                           // transport
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 80, "203.0.113.7", 51000, 6))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 80, "203.0.113.8", 51001, 7))  // again
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 80, "10.0.0.9", 51002, 8))     // zone
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "10.0.0.9", 80, 9))     // direction
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40001, "10.0.0.9", 8080, 10))  // port
      .Add(Udp("10.0.0.5", 40002, "10.0.0.9", 8080, 11));                            // transport
  for (uint64_t inode = 1; inode <= 11; ++inode) builder.Own(inode, 100, "app");
  // Another process of another name owning a socket like one above.
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40003, "10.0.0.9", 8080, 12))
      .Own(12, 101, "other");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  Policy learned = learner.Learned();
  EXPECT_EQ(DescribeAll(learned.listeners), (Strings{
                                                "tcp/80 any app",
                                                "tcp/81 any app",
                                                "tcp/82 192.0.2.10 app",
                                                "tcp/82 192.0.2.11 app",
                                                "udp/80 any app",
                                            }));
  EXPECT_EQ(DescribeAll(learned.paths), (Strings{
                                            "tcp inbound external 80 app",
                                            "tcp inbound internal 80 app",
                                            "tcp outbound internal 80 app",
                                            "tcp outbound internal 8080 app",
                                            "tcp outbound internal 8080 other",
                                            "udp outbound internal 8080 app",
                                        }));
  EXPECT_EQ(Processes(learned), (Strings{"app", "other"}));
}

TEST(BaselineLearnerTest, GlobCharactersInNamesAreEscaped) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 80, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 81, "0.0.0.0", 0, 2))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 82, "0.0.0.0", 0, 3))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 4))
      .Own(1, 100, "a*b")
      .Own(1, 101, "a?b")
      .Own(2, 102, "x[1]\\*")
      .Own(3, 103, "back\\slash")
      .Own(4, 100, "a*b");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  Policy learned = learner.Learned();

  EXPECT_EQ(Processes(learned), (Strings{"a\\*b", "a\\?b", "back\\slash", "x\\[1]\\\\\\*"}));
  const std::string& star = learned.network_processes->at(0).process;
  EXPECT_TRUE(ProcessMatches(star, "a*b"));
  EXPECT_FALSE(ProcessMatches(star, "axb"));
  EXPECT_FALSE(ProcessMatches(star, "a?b"));
  const std::string& question = learned.network_processes->at(1).process;
  EXPECT_TRUE(ProcessMatches(question, "a?b"));
  EXPECT_FALSE(ProcessMatches(question, "axb"));
  // Without glob characters a name compares exactly, so its backslash stays as it is.
  EXPECT_TRUE(ProcessMatches(learned.network_processes->at(2).process, "back\\slash"));
  const std::string& bracket = learned.network_processes->at(3).process;
  EXPECT_TRUE(ProcessMatches(bracket, "x[1]\\*"));
  EXPECT_FALSE(ProcessMatches(bracket, "x1\\*"));
  EXPECT_FALSE(ProcessMatches(bracket, "x[1]\\z"));

  // Every process field is a glob: listeners, services and paths escape too.
  EXPECT_EQ(DescribeAll(learned.listeners),
            (Strings{"tcp/80 any a\\*b", "tcp/80 any a\\?b", "tcp/81 any x\\[1]\\\\\\*",
                     "tcp/82 any back\\slash"}));
  EXPECT_EQ(DescribeAll(learned.paths), Strings{"tcp outbound external 443 a\\*b"});
  // Service names are label values: plain characters only, unique.
  EXPECT_EQ(
      DescribeAll(learned.expected_services),
      (Strings{"tcp-80-a_b tcp/80 a\\*b", "tcp-80-a_b-2 tcp/80 a\\?b",
               "tcp-81-x_1___ tcp/81 x\\[1]\\\\\\*", "tcp-82-back_slash tcp/82 back\\slash"}));
}

TEST(BaselineLearnerTest, SnapshotsAccumulateAndRepeatsAreOneRule) {
  BaselineLearner learner;
  for (int i = 0; i < 3; ++i) {
    SnapshotBuilder builder;
    builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1))
        .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 22, "10.0.0.9", 50000 + i, 2))
        .Own(1, 100, "sshd")
        .Own(2, 200 + i, "sshd");
    if (i == 1) {
      builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 8080, "0.0.0.0", 0, 3)).Own(3, 300, "app");
    }
    learner.Observe(builder.Build());
  }
  EXPECT_EQ(learner.observations(), 3u);
  Policy learned = learner.Learned();
  EXPECT_EQ(DescribeAll(learned.listeners), (Strings{"tcp/22 any sshd", "tcp/8080 any app"}))
      << "a listener seen once during the window is learned";
  EXPECT_EQ(DescribeAll(learned.paths), Strings{"tcp inbound internal 22 sshd"})
      << "ephemeral peer ports do not make new paths";
  EXPECT_EQ(Processes(learned), (Strings{"app", "sshd"}));
}

TEST(BaselineLearnerTest, OutputOrderDoesNotDependOnObservationOrder) {
  std::vector<Socket> sockets = {
      Udp("0.0.0.0", 514, "0.0.0.0", 0, 1),
      Tcp(SocketState::kListen, "0.0.0.0", 8080, "0.0.0.0", 0, 2),
      Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 3),
      Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 4),
      Tcp(SocketState::kEstablished, "10.0.0.5", 40001, "10.0.0.7", 443, 5),
  };
  auto learn = [&](bool reversed) {
    SnapshotBuilder builder;
    std::vector<Socket> order = sockets;
    if (reversed) std::reverse(order.begin(), order.end());
    for (const Socket& socket : order) builder.Add(socket);
    builder.Own(1, 100, "rsyslogd").Own(2, 101, "zapp").Own(3, 102, "sshd").Own(4, 103, "curl");
    builder.Own(5, 101, "zapp");
    BaselineLearner learner;
    learner.Observe(builder.Build());
    return learner.Learned();
  };
  Policy forward = learn(false);
  Policy backward = learn(true);
  EXPECT_EQ(PolicyToYaml(forward), PolicyToYaml(backward));
  EXPECT_EQ(DescribeAll(forward.listeners),
            (Strings{"tcp/22 any sshd", "tcp/8080 any zapp", "udp/514 any rsyslogd"}));
  EXPECT_EQ(DescribeAll(forward.expected_services),
            (Strings{"tcp-22-sshd tcp/22 sshd", "tcp-8080-zapp tcp/8080 zapp",
                     "udp-514-rsyslogd udp/514 rsyslogd"}));
  EXPECT_EQ(DescribeAll(forward.paths),
            (Strings{"tcp outbound external 443 curl", "tcp outbound internal 443 zapp"}));
}

TEST(BaselineLearnerTest, CarriesThePolicyZonesItsPathsName) {
  Zone dmz{"dmz", {*ParseCidr("203.0.113.0/24")}};
  Zone lab{"lab", {*ParseCidr("198.18.0.0/15")}};
  SnapshotBuilder builder;
  builder.zones = ZoneClassifier({dmz, lab});
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "203.0.113.9", 8443, 1))
      .Own(1, 100, "agent");
  BaselineLearner learner({dmz, lab});
  learner.Observe(builder.Build());
  Policy learned = learner.Learned();
  EXPECT_EQ(DescribeAll(learned.paths), Strings{"tcp outbound dmz 8443 agent"});
  ASSERT_EQ(learned.zones.size(), 1u) << "only the zones the paths name";
  EXPECT_EQ(learned.zones[0].name, "dmz");
  EXPECT_EQ(learned.zones[0].cidrs, dmz.cidrs);

  // Without the zone the loader would refuse the persisted baseline ("unknown zone").
  PolicyLoadResult reparsed = ParsePolicy(PolicyToYaml(learned), "baseline.yaml");
  ASSERT_TRUE(reparsed.policy) << reparsed.errors.at(0).ToString();
}

Policy ExplicitPolicy() {
  Policy policy;
  policy.source = "/etc/connwatch/policy.yaml";
  policy.zones = {Zone{"dmz", {*ParseCidr("203.0.113.0/24")}}};
  policy.listeners = {ListenerRule{"sshd", {22, 22}, ProtocolMatch::kTcp, {}, {}, "", {}}};
  policy.expected_services = {
      ExpectedService{"tcp-443-nginx", 8443, ProtocolMatch::kTcp, "nginx", {}, "", {}},
      ExpectedService{"ssh", 22, ProtocolMatch::kTcp, "sshd", {}, "", {}}};
  policy.limits.long_connection = std::chrono::hours(2);
  policy.baseline.learn_for = std::chrono::minutes(10);
  return policy;
}

// pid 10 python3 (/usr/bin/python3.11) connecting out to 443, pid 11 redis listening on
// 6379; `python_exe` moves the python binary.
Snapshot& PythonAndRedis(SnapshotBuilder& builder, const std::string& python_exe,
                         pid_t python_pid = 10) {
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 1))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 6379, "0.0.0.0", 0, 2))
      .Own(1, python_pid, "python3.11")
      .Own(2, 11, "redis-check-rdb");
  Snapshot& snapshot = builder.Build();
  snapshot.processes.at(python_pid).exe = python_exe;
  snapshot.processes.at(11).exe = "/usr/bin/redis-check-rdb";
  return snapshot;
}

TEST(BaselineLearnerTest, LearnsWhereEachOwnersBinaryLives) {
  SnapshotBuilder builder;
  BaselineLearner learner;
  learner.Observe(PythonAndRedis(builder, "/usr/bin/python3.11"));
  Policy learned = learner.Learned();
  EXPECT_EQ(Processes(learned), (Strings{"python3.11 @/usr/bin/python3.11",
                                         "redis-check-rdb @/usr/bin/redis-check-rdb"}));
  EXPECT_EQ(DescribeAll(learned.listeners),
            (Strings{"tcp/6379 any redis-check-rdb @/usr/bin/redis-check-rdb"}));
  EXPECT_EQ(
      DescribeAll(learned.expected_services),
      (Strings{"tcp-6379-redis-check-rdb tcp/6379 redis-check-rdb @/usr/bin/redis-check-rdb"}));
  EXPECT_EQ(DescribeAll(learned.paths),
            (Strings{"tcp outbound external 443 python3.11 @/usr/bin/python3.11"}));

  // An upgrade keeps the path (a new process, the same binary's place): nothing to report.
  SnapshotBuilder upgraded;
  EXPECT_TRUE(
      Evaluate(learned, PythonAndRedis(upgraded, "/usr/bin/python3.11", 20)).findings.empty());

  // A copy run from elsewhere has every name of the original, and is a finding naming its
  // path, as is its connection.
  SnapshotBuilder copied;
  Evaluation evaluation = Evaluate(learned, PythonAndRedis(copied, "/tmp/x/python3.11"));
  ASSERT_EQ(testing::Keys(evaluation),
            (Strings{"unexpected_network_process 0 10", "path_violation 0 10"}));
  EXPECT_EQ(evaluation.findings[0].reason,
            "network_processes does not allow process python3.11 (/tmp/x/python3.11) (holds 1 "
            "socket)");
}

TEST(BaselineLearnerTest, OneNameFromTwoPathsIsTwoRulesAndAnUnreadableExeIsNone) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 1))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40001, "198.51.100.1", 443, 2))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40002, "198.51.100.1", 443, 3))
      .Own(1, 10, "python3.11")
      .Own(2, 11, "python3.11")
      .Own(3, 12, "java");
  Snapshot& snapshot = builder.Build();
  snapshot.processes.at(10).exe = "/usr/bin/python3.11";
  snapshot.processes.at(11).exe = "/opt/venv[1]/bin/python3.11";  // escaped when learned
  BaselineLearner learner;
  learner.Observe(snapshot);
  Policy learned = learner.Learned();
  EXPECT_EQ(Processes(learned), (Strings{"java", "python3.11 @/opt/venv\\[1]/bin/python3.11",
                                         "python3.11 @/usr/bin/python3.11"}))
      << "java's exe was unreadable: its rule allows the name from anywhere";
  EXPECT_TRUE(Evaluate(learned, snapshot).findings.empty());
}

TEST(BaselineMergeTest, AppendsLearnedRulesAndKeepsExplicitSettings) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 443, "0.0.0.0", 0, 2))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 443, "198.51.100.1", 50000, 3))
      .Own(1, 100, "sshd")
      .Own(2, 101, "nginx")
      .Own(3, 101, "nginx");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  Policy merged = MergeBaseline(ExplicitPolicy(), learner.Learned());

  EXPECT_EQ(merged.source, "/etc/connwatch/policy.yaml + baseline");
  ASSERT_EQ(merged.zones.size(), 1u);
  EXPECT_EQ(merged.zones[0].name, "dmz");
  EXPECT_EQ(merged.limits.long_connection, std::chrono::hours(2));
  EXPECT_EQ(merged.baseline.learn_for, std::chrono::minutes(10));
  EXPECT_EQ(DescribeAll(merged.listeners),
            (Strings{"tcp/22 unspecified sshd", "tcp/22 any sshd", "tcp/443 any nginx"}));
  // tcp/22 sshd is already stated as "ssh"; the learned tcp-443-nginx keeps its rule under a
  // name of its own, since "tcp-443-nginx" is taken by an explicit service on another port.
  EXPECT_EQ(DescribeAll(merged.expected_services),
            (Strings{"tcp-443-nginx tcp/8443 nginx", "ssh tcp/22 sshd",
                     "tcp-443-nginx-2 tcp/443 nginx"}));
  ASSERT_TRUE(merged.network_processes) << "an absent section becomes present";
  EXPECT_EQ(Processes(merged), (Strings{"nginx", "sshd"}));
  EXPECT_EQ(DescribeAll(merged.paths), Strings{"tcp inbound external 443 nginx"});
}

TEST(BaselineMergeTest, AbsentLearnedSectionsLeaveExplicitOnesAlone) {
  Policy learned;
  Policy merged = MergeBaseline(ExplicitPolicy(), learned);
  EXPECT_EQ(DescribeAll(merged.listeners), Strings{"tcp/22 unspecified sshd"});
  EXPECT_EQ(merged.expected_services->size(), 2u);
  EXPECT_FALSE(merged.network_processes);
  EXPECT_FALSE(merged.paths);

  Policy defaults = DefaultPolicy();
  defaults.source.clear();
  EXPECT_EQ(MergeBaseline(defaults, BaselineLearner().Learned()).source, "baseline");
}

}  // namespace
}  // namespace connwatch
