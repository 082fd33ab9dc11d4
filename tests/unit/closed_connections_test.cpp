// Closed connections as a snapshot of their own (tracking/closed_connections.h): who owns
// each, how it is classified, and the namespaces it lands in.
#include "tracking/closed_connections.h"

#include <gtest/gtest.h>

#include <vector>

#include "policy/evaluator.h"
#include "support/policy_rules.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::Ip;
using testing::MakeProcess;
using testing::SnapshotBuilder;
using testing::Tcp;

// A live host: nginx (pid 10) listens on *:80, curl (pid 20) holds a connection, redis
// (pid 30) listens on 127.0.0.1:6379 only.
Snapshot LiveHost() {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 80, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 2))
      .Add(Tcp(SocketState::kListen, "127.0.0.1", 6379, "0.0.0.0", 0, 3))
      .Own(1, 10, "nginx")
      .Own(2, 20, "curl")
      .Own(3, 30, "redis");
  Snapshot live = builder.Build();
  live.boot_clock_seconds = 1000;
  return live;
}

ConnectionEvent Event(const char* local, uint16_t local_port, const char* remote,
                      uint16_t remote_port, EventDirection direction) {
  ConnectionEvent event;
  event.local = Ip(local);
  event.family = event.local.family;
  event.local_port = local_port;
  event.remote = Ip(remote);
  event.remote_port = remote_port;
  event.direction = direction;
  event.cookie = 9001;
  event.start_boot_seconds = 900;
  event.end_boot_seconds = 900.2;
  return event;
}

ProcessLookup NoLookup() {
  return [](pid_t) { return std::optional<Process>(); };
}

// Each test closes connections against the live host (some change it first).
class ClosedConnectionsTest : public ::testing::Test {
 protected:
  Snapshot Close(std::span<const ConnectionEvent> events, const ProcessLookup& lookup) const {
    return ClosedConnectionsSnapshot(live_, events, zones_, lookup);
  }

  Snapshot live_ = LiveHost();
  ZoneClassifier zones_;
};

TEST_F(ClosedConnectionsTest, UnknownDirectionOnAListenerPortIsInboundToItsOwner) {
  std::vector<ConnectionEvent> events = {
      Event("10.0.0.5", 80, "10.0.0.9", 51000, EventDirection::kUnknown)};
  Snapshot closed = Close(events, NoLookup());
  ASSERT_EQ(closed.sockets.size(), 1u);
  ASSERT_EQ(closed.classes.size(), 1u);
  std::span<const pid_t> owners = closed.OwnersOf(closed.sockets[0]);
  ASSERT_EQ(std::vector<pid_t>(owners.begin(), owners.end()), std::vector<pid_t>{10});
  EXPECT_EQ(closed.OwnerNames(closed.sockets[0]), std::vector<std::string>{"nginx"});
  EXPECT_EQ(closed.classes[0].direction, Direction::kInbound);
  EXPECT_EQ(closed.classes[0].role, SocketRole::kConnection);
  ASSERT_NE(closed.classes[0].remote_zone, nullptr);
  EXPECT_EQ(*closed.classes[0].remote_zone, "internal");
  EXPECT_EQ(closed.sockets[0].state, SocketState::kEstablished);
  EXPECT_EQ(closed.sockets[0].transport, Transport::kTcp);
  EXPECT_EQ(closed.sockets[0].cookie, 9001u);
  EXPECT_EQ(closed.sockets[0].inode, kClosedInodeBase);
  EXPECT_EQ(closed.AttributionOf(0), Attribution::kOwned);
  EXPECT_EQ(closed.boot_clock_seconds, 1000);
}

TEST_F(ClosedConnectionsTest, ZoneComesFromTheRemoteAddress) {
  std::vector<ConnectionEvent> events = {
      Event("10.0.0.5", 80, "8.8.4.4", 51000, EventDirection::kUnknown),
      Event("::ffff:10.0.0.5", 80, "::ffff:8.8.4.4", 51001, EventDirection::kUnknown)};
  Snapshot closed = Close(events, NoLookup());
  ASSERT_EQ(closed.classes.size(), 2u);
  EXPECT_EQ(*closed.classes[0].remote_zone, "external");
  EXPECT_EQ(*closed.classes[1].remote_zone, "external") << "mapped addresses classified as IPv4";
  EXPECT_EQ(closed.classes[1].direction, Direction::kInbound) << "*:80 takes a mapped local too";
  EXPECT_EQ(closed.sockets[1].inode, kClosedInodeBase + 1);
}

TEST_F(ClosedConnectionsTest, ListenerOnAnotherAddressIsNotTheOne) {
  // redis listens on 127.0.0.1 only: a close on 10.0.0.5:6379 did not come through it.
  std::vector<ConnectionEvent> events = {
      Event("10.0.0.5", 6379, "10.0.0.9", 51000, EventDirection::kUnknown),
      Event("127.0.0.1", 6379, "127.0.0.1", 51001, EventDirection::kUnknown)};
  Snapshot closed = Close(events, NoLookup());
  ASSERT_EQ(closed.sockets.size(), 2u);
  EXPECT_EQ(closed.classes[0].direction, Direction::kOutbound);
  EXPECT_TRUE(closed.OwnersOf(closed.sockets[0]).empty());
  EXPECT_EQ(closed.classes[1].direction, Direction::kInbound);
  EXPECT_EQ(closed.OwnerNames(closed.sockets[1]), std::vector<std::string>{"redis"});
  EXPECT_EQ(*closed.classes[1].remote_zone, "loopback");
}

TEST_F(ClosedConnectionsTest, OutboundWithALivePidIsThatProcess) {
  ConnectionEvent event = Event("10.0.0.5", 40100, "8.8.8.8", 443, EventDirection::kOutbound);
  event.pid = 20;
  event.comm = "renamed";
  int lookups = 0;
  ProcessLookup lookup = [&](pid_t) {
    ++lookups;
    return std::optional<Process>();
  };
  Snapshot closed = Close(std::vector<ConnectionEvent>{event}, lookup);
  ASSERT_EQ(closed.processes.count(20), 1u);
  EXPECT_EQ(closed.processes.at(20).name, "curl") << "the live_ snapshot's process, not comm";
  EXPECT_EQ(closed.processes.at(20).user, "root");
  EXPECT_EQ(lookups, 0);
  EXPECT_EQ(closed.classes[0].direction, Direction::kOutbound);
  EXPECT_EQ(*closed.classes[0].remote_zone, "external");
  EXPECT_EQ(closed.AttributionOf(0), Attribution::kOwned);
}

TEST_F(ClosedConnectionsTest, AnExitedPidIsNamedAfterItsComm) {
  ConnectionEvent event = Event("10.0.0.5", 40100, "8.8.8.8", 443, EventDirection::kOutbound);
  event.pid = 4242;
  event.comm = "beacon";
  std::vector<pid_t> asked;
  ProcessLookup lookup = [&](pid_t pid) {
    asked.push_back(pid);
    return std::optional<Process>();
  };
  Snapshot closed = Close(std::vector<ConnectionEvent>{event}, lookup);
  EXPECT_EQ(asked, std::vector<pid_t>{4242});
  ASSERT_EQ(closed.processes.count(4242), 1u);
  EXPECT_EQ(closed.processes.at(4242).pid, 4242);
  EXPECT_EQ(closed.processes.at(4242).name, "beacon");
  EXPECT_EQ(closed.processes.at(4242).comm, "beacon");
  EXPECT_EQ(closed.OwnerNames(closed.sockets[0]), std::vector<std::string>{"beacon"});
}

TEST_F(ClosedConnectionsTest, ALookedUpProcessIsTakenUnlessItStartedAfterTheConnect) {
  ConnectionEvent event = Event("10.0.0.5", 40100, "8.8.8.8", 443, EventDirection::kOutbound);
  event.pid = 4242;
  event.comm = "beacon";
  event.start_boot_seconds = 900;
  auto started_at = [](double boot_seconds) {
    return [boot_seconds](pid_t pid) {
      Process process = MakeProcess(pid, "python3");
      process.start_since_boot_seconds = boot_seconds;
      return std::optional<Process>(process);
    };
  };
  std::vector<ConnectionEvent> events = {event};
  Snapshot before = Close(events, started_at(850));
  EXPECT_EQ(before.processes.at(4242).name, "python3");
  // The boot clock of a process start is in ticks: up to a second late is the same process.
  Snapshot tick = Close(events, started_at(900.9));
  EXPECT_EQ(tick.processes.at(4242).name, "python3");
  Snapshot reused = Close(events, started_at(905));
  EXPECT_EQ(reused.processes.at(4242).name, "beacon") << "pid reused since the connect";
  events[0].start_boot_seconds = 0;  // start unknown: nothing says it was reused
  Snapshot unknown = Close(events, started_at(905));
  EXPECT_EQ(unknown.processes.at(4242).name, "python3");
}

TEST_F(ClosedConnectionsTest, AFailedConnectIsAnAttempt) {
  ConnectionEvent event = Event("10.0.0.5", 40100, "8.8.8.8", 25, EventDirection::kOutbound);
  event.pid = 20;
  event.outcome = EventOutcome::kFailed;
  Snapshot closed = Close(std::vector<ConnectionEvent>{event}, NoLookup());
  EXPECT_EQ(closed.sockets[0].state, SocketState::kSynSent);
  EXPECT_EQ(closed.classes[0].role, SocketRole::kOther);
  EXPECT_EQ(closed.classes[0].direction, Direction::kOutbound);
  // And paths judges it as an attempt, like a live_ SYN_SENT.
  Policy policy;
  policy.paths = std::vector<PathRule>{};
  Evaluation evaluation = Evaluate(policy, closed);
  ASSERT_EQ(evaluation.findings.size(), 1u);
  EXPECT_EQ(evaluation.findings[0].check, Check::kPathViolation);
  EXPECT_EQ(evaluation.findings[0].pid, 20);
  EXPECT_EQ(evaluation.findings[0].path_port, 25);
  EXPECT_EQ(evaluation.findings[0].reason,
            "no paths rule allows an attempted outbound tcp to 8.8.8.8:25 (external) for process "
            "curl");
}

// A sock_diag record of an accepted end closed with SO_LINGER {1,0}: tcp_disconnect zeroed
// its counters, so it reads "failed". Through a listener it was established all the same;
// with no listener it stays what it reads like.
TEST_F(ClosedConnectionsTest, AnAcceptedEndIsEstablishedWhateverItsCounters) {
  std::vector<ConnectionEvent> events = {
      Event("10.0.0.5", 80, "10.0.0.9", 0, EventDirection::kUnknown),
      Event("10.0.0.5", 40200, "10.0.0.9", 0, EventDirection::kUnknown),
      Event("10.0.0.5", 80, "10.0.0.9", 51000, EventDirection::kInbound)};
  for (ConnectionEvent& event : events) event.outcome = EventOutcome::kFailed;
  Snapshot closed = Close(events, NoLookup());
  ASSERT_EQ(closed.sockets.size(), 3u);
  EXPECT_EQ(closed.classes[0].direction, Direction::kInbound);
  EXPECT_EQ(closed.sockets[0].state, SocketState::kEstablished);
  EXPECT_EQ(closed.classes[0].role, SocketRole::kConnection);
  EXPECT_EQ(closed.OwnerNames(closed.sockets[0]), std::vector<std::string>{"nginx"});
  EXPECT_EQ(closed.classes[1].direction, Direction::kOutbound) << "no listener on 40200";
  EXPECT_EQ(closed.sockets[1].state, SocketState::kSynSent);
  EXPECT_EQ(closed.sockets[2].state, SocketState::kSynSent)
      << "an eBPF record saw the handshake fail (SYN_RECV -> CLOSE)";
}

TEST_F(ClosedConnectionsTest, AnUnknownNamespaceGetsAnEntryOfItsOwn) {
  ConnectionEvent first = Event("10.0.0.5", 40100, "8.8.8.8", 443, EventDirection::kOutbound);
  first.netns_inode = 4026532999;
  ConnectionEvent second = first;
  second.local_port = 40101;
  ConnectionEvent own = first;
  own.netns_inode = 0;
  Snapshot closed = Close(std::vector<ConnectionEvent>{first, second, own}, NoLookup());
  ASSERT_EQ(closed.namespaces.size(), 2u) << "[0] connwatch's own, [1] the new one, once";
  EXPECT_EQ(closed.namespaces[1].inode, 4026532999u);
  EXPECT_EQ(closed.namespaces[1].name, "inode:4026532999");
  EXPECT_EQ(closed.sockets[0].netns, 1u);
  EXPECT_EQ(closed.sockets[1].netns, 1u);
  EXPECT_EQ(closed.sockets[2].netns, 0u);
  EXPECT_EQ(closed.NetnsNameOf(closed.sockets[0]), "inode:4026532999");
}

TEST_F(ClosedConnectionsTest, AKnownNamespaceKeepsItsIndexAndItsListeners) {
  SnapshotBuilder builder;
  Socket listener = Tcp(SocketState::kListen, "0.0.0.0", 8080, "0.0.0.0", 0, 1);
  listener.netns = 1;
  builder.Add(listener).Own(1, 10, "app");
  live_ = builder.Build();
  live_.namespaces = {{}, {4026532100, "web", NetnsMode::kSockDiag, 10}};
  ConnectionEvent inside = Event("10.1.0.2", 8080, "10.1.0.1", 50000, EventDirection::kUnknown);
  inside.netns_inode = 4026532100;
  ConnectionEvent host = inside;  // same port, connwatch's own namespace: not app's
  host.netns_inode = 0;
  ConnectionEvent other = inside;
  other.netns_inode = 4026532200;
  Snapshot closed = Close(std::vector<ConnectionEvent>{inside, host, other}, NoLookup());
  ASSERT_EQ(closed.namespaces.size(), 3u);
  EXPECT_EQ(closed.namespaces[1].name, "web");
  EXPECT_EQ(closed.namespaces[2].name, "inode:4026532200");
  EXPECT_EQ(closed.sockets[0].netns, 1u);
  EXPECT_EQ(closed.OwnerNames(closed.sockets[0]), std::vector<std::string>{"app"});
  EXPECT_EQ(closed.classes[0].direction, Direction::kInbound);
  EXPECT_TRUE(closed.OwnersOf(closed.sockets[1]).empty());
  EXPECT_EQ(closed.classes[1].direction, Direction::kOutbound);
  EXPECT_EQ(closed.sockets[2].netns, 2u);
  EXPECT_TRUE(closed.OwnersOf(closed.sockets[2]).empty());
}

TEST_F(ClosedConnectionsTest, OutboundWithoutPidIsUnowned) {
  ConnectionEvent event = Event("10.0.0.5", 40100, "8.8.8.8", 443, EventDirection::kOutbound);
  event.comm = "ignored";  // no pid: nothing to tie the comm to
  int lookups = 0;
  ProcessLookup lookup = [&](pid_t) {
    ++lookups;
    return std::optional<Process>();
  };
  Snapshot closed = Close(std::vector<ConnectionEvent>{event}, lookup);
  ASSERT_EQ(closed.sockets.size(), 1u);
  EXPECT_TRUE(closed.OwnersOf(closed.sockets[0]).empty());
  EXPECT_TRUE(closed.processes.empty());
  EXPECT_EQ(closed.AttributionOf(0), Attribution::kUnknown);
  EXPECT_EQ(lookups, 0);
  EXPECT_EQ(*closed.classes[0].remote_zone, "external");
}

TEST_F(ClosedConnectionsTest, AnInboundEventIsNotOwnedByItsPid) {
  // eBPF says inbound; no listener on 9999 is live_: nobody, not the softirq's task.
  ConnectionEvent event = Event("10.0.0.5", 9999, "10.0.0.9", 50000, EventDirection::kInbound);
  event.pid = 20;
  Snapshot closed = Close(std::vector<ConnectionEvent>{event}, NoLookup());
  EXPECT_EQ(closed.classes[0].direction, Direction::kInbound);
  EXPECT_TRUE(closed.OwnersOf(closed.sockets[0]).empty());
  EXPECT_EQ(closed.AttributionOf(0), Attribution::kUnknown);
}

TEST_F(ClosedConnectionsTest, AListenerOwnerThatWasNeverReadIsNoCrash) {
  // A live_ listener whose owner exited before its process was read: an owner without a
  // process, as TakeSnapshot leaves it (unread_owners).
  live_.owners.Add(1, 11);
  live_.IndexOwners();
  std::vector<ConnectionEvent> events = {
      Event("10.0.0.5", 80, "10.0.0.9", 51000, EventDirection::kUnknown)};
  Snapshot closed = Close(events, NoLookup());
  ASSERT_EQ(closed.sockets.size(), 1u);
  EXPECT_EQ(closed.OwnerNames(closed.sockets[0]), std::vector<std::string>{"nginx"});
  EXPECT_EQ(closed.processes.count(11), 0u);
  EXPECT_EQ(closed.classes[0].direction, Direction::kInbound);
}

TEST_F(ClosedConnectionsTest, EveryEventIsOneSocketInOrder) {
  std::vector<ConnectionEvent> events;
  for (uint16_t port = 41000; port < 41005; ++port) {
    events.push_back(Event("10.0.0.5", port, "8.8.8.8", 443, EventDirection::kOutbound));
  }
  Snapshot closed = Close(events, NoLookup());
  ASSERT_EQ(closed.sockets.size(), 5u);
  ASSERT_EQ(closed.attribution.size(), 5u);
  ASSERT_EQ(closed.workload_of.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(closed.sockets[i].local_port, 41000 + i);
    EXPECT_EQ(closed.sockets[i].inode, kClosedInodeBase + i);
  }
  Snapshot none = Close({}, NoLookup());
  EXPECT_TRUE(none.sockets.empty());
  EXPECT_TRUE(none.processes.empty());
}

TEST_F(ClosedConnectionsTest, ASocketTakesTheWorkloadOfItsOwner) {
  Workload pod;
  pod.runtime = "containerd";
  pod.container_id = "abc";
  pod.k8s_namespace = "shop";
  pod.pod = "web-1";
  pod.container = "nginx";
  live_.workloads = {Workload{}, pod};
  live_.workload_of = {1, 0, 0};  // nginx's listener is in the pod, curl on the host
  ConnectionEvent inbound = Event("10.0.0.5", 80, "10.0.0.9", 51000, EventDirection::kUnknown);
  ConnectionEvent outbound = Event("10.0.0.5", 40100, "8.8.8.8", 443, EventDirection::kOutbound);
  outbound.pid = 10;  // nginx connecting out: its workload too
  ConnectionEvent host = outbound;
  host.pid = 20;
  Snapshot closed = Close(std::vector<ConnectionEvent>{inbound, outbound, host}, NoLookup());
  EXPECT_EQ(closed.WorkloadOf(0).pod, "web-1");
  EXPECT_EQ(closed.WorkloadOf(1).pod, "web-1");
  EXPECT_EQ(closed.WorkloadOf(2).pod, "");
}

TEST_F(ClosedConnectionsTest, AProcessGoneFromThePodIsFoundByItsCgroup) {
  Workload pod;
  pod.container_id = "abc";
  pod.pod = "web-1";
  live_.workloads = {Workload{}, pod};
  live_.workload_of = {1, 0, 0};
  live_.workload_by_cgroup = {{4242, 1}};  // nginx's sockets were made in cgroup 4242
  ConnectionEvent gone = Event("10.0.0.5", 40100, "8.8.8.8", 443, EventDirection::kOutbound);
  gone.pid = 999;  // exited: no live owner, no lookup
  gone.comm = "curl";
  gone.cgroup_id = 4242;
  ConnectionEvent elsewhere = gone;
  elsewhere.cgroup_id = 1;  // a cgroup no container socket is in: the host's
  ConnectionEvent unknown = gone;
  unknown.cgroup_id = 0;  // sock_diag on a kernel without cgroup ids
  Snapshot closed = Close(std::vector<ConnectionEvent>{gone, elsewhere, unknown}, NoLookup());
  EXPECT_EQ(closed.WorkloadOf(0).pod, "web-1");
  EXPECT_EQ(closed.OwnerNames(closed.sockets[0]), std::vector<std::string>{"curl"});
  EXPECT_EQ(closed.WorkloadOf(1).pod, "");
  EXPECT_EQ(closed.WorkloadOf(2).pod, "");
}

}  // namespace
}  // namespace connwatch
