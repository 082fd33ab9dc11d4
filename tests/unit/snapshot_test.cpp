// The whole pipeline on a fake /proc: the captured host1 socket table (tests/fixtures/host1)
// with owners made up here, through TakeSnapshot, the classifier and the metric families,
// compared with a checked-in exposition (the golden file). CONNWATCH_UPDATE_GOLDEN=1
// rewrites it; review the diff.
#include "sources/snapshot.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/read_file.h"
#include "metrics/detections.h"
#include "metrics/exposition.h"
#include "metrics/families.h"
#include "policy/evaluator.h"
#include "policy/policy_loader.h"
#include "sources/snapshot_cache.h"
#include "support/fake_proc.h"
#include "tracking/closed_connections.h"
#include "tracking/connection_ledger.h"

namespace connwatch {
namespace {

using testing::FakeProc;
using testing::FakeProcess;

const std::string kFixtures = CONNWATCH_FIXTURES_DIR;

std::string ReadFixture(const std::string& relative) {
  std::string text;
  EXPECT_EQ(ReadFileCapped(kFixtures + "/" + relative, kMaxProcNetFileBytes, text), 0) << relative;
  return text;
}

// host1's socket table, and processes owning it: every listener by "nginx" (a master and a
// forked worker share them), established sockets alternately by "curl" and by a process
// with a hostile name; UDP by "dnsmasq". One listener is left unowned.
class Host1 : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* dir : {"net", "sys", "sys/net", "sys/net/ipv4"}) proc_.MakeDir(dir);
    for (const char* file : {"tcp", "tcp6", "udp", "udp6"}) {
      proc_.WriteFile(std::string("net/") + file,
                      ReadFixture(std::string("host1/proc/net/") + file));
    }
    proc_.WriteFile("sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
    proc_.WriteFile("sys/net/ipv4/ip_local_reserved_ports", "\n");
    proc_.AddProcess(100, InPod(Named("nginx", "/usr/sbin/nginx")));
    proc_.AddProcess(101, InPod(Named("nginx", "/usr/sbin/nginx")));
    proc_.AddProcess(200, Named("curl", "/usr/bin/curl"));
    proc_.AddProcess(300, Named("x", "/tmp/\xff(x) y\n (deleted)"));
    proc_.AddProcess(400, Named("dnsmasq", "/usr/sbin/dnsmasq"));
    proc_.AddVanishedProcess(500);

    SnapshotOptions procfs_only;
    procfs_only.procfs = proc_.root();
    procfs_only.source_mode = SourceMode::kProcfs;
    Snapshot bare = TakeSnapshot(procfs_only, zones_);
    int fd = 3, established = 0;
    bool left_one_unowned = false;
    for (size_t i = 0; i < bare.sockets.size(); ++i) {
      const Socket& socket = bare.sockets[i];
      if (socket.inode == 0) continue;
      if (socket.transport == Transport::kUdp) {
        proc_.AddSocket(400, fd++, socket.inode);
      } else if (bare.classes[i].role == SocketRole::kListener) {
        if (!left_one_unowned) {
          left_one_unowned = true;
          continue;
        }
        proc_.AddSocket(100, fd++, socket.inode);
        proc_.AddSocket(101, fd++, socket.inode);
      } else {
        proc_.AddSocket(established++ % 2 == 0 ? 200 : 300, fd++, socket.inode);
      }
    }
    options_.procfs = proc_.root();
    options_.rootfs = kFixtures + "/rootfs";
  }

  // A redis in a pod of its own network namespace (pid 600), read the way connwatch reads
  // another namespace without CAP_SYS_ADMIN: its /proc/600/net files, after its sockstat.
  // connwatch's own namespace is thread-self/ns/net; the other processes have no ns/net
  // entry (unreadable), so they count in none.
  void AddPodNamespace() {
    for (const char* dir : {"thread-self", "thread-self/ns"}) proc_.MakeDir(dir);
    proc_.WriteFile("thread-self/ns/net", "");
    FakeProcess redis = Named("redis-server", "/usr/bin/redis-server");
    redis.cgroup =
        "0::/kubepods.slice/kubepods-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/"
        "cri-containerd-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d.scope\n";
    proc_.AddProcess(600, redis);
    for (const char* dir : {"600/ns", "600/net"}) proc_.MakeDir(dir);
    proc_.WriteFile("600/ns/net", "");
    proc_.WriteFile("600/net/sockstat", "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 0\n");
    const char* header =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n";
    proc_.WriteFile("600/net/tcp", std::string(header) +
                                       "   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 "
                                       "00:00000000 00000000   999        0 9000 1 "
                                       "0000000000000000 100 0 0 10 0\n");
    proc_.WriteFile("600/net/udp", header);
    proc_.AddSocket(600, 3, 9000);
    options_.all_namespaces = true;
    options_.netns_setns = false;
  }

  // In the containerd pod whose bundle tests/fixtures/rootfs holds (shop/web-…/nginx).
  static FakeProcess InPod(FakeProcess process) {
    process.cgroup =
        "0::/kubepods.slice/kubepods-burstable.slice/"
        "kubepods-burstable-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/cri-containerd-"
        "3f2a9c1e5b7d4f60a8e2c4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5.scope\n";
    return process;
  }

  static FakeProcess Named(const std::string& comm, const std::string& exe) {
    FakeProcess process;
    process.comm = comm;
    process.exe = exe;
    process.cmdline = comm + std::string("\0--flag\0", 8);
    return process;
  }

  FakeProc proc_;
  ZoneClassifier zones_;
  SnapshotOptions options_;
};

// Two connections of the first owned connection's process that opened and closed between
// samples: one to a loopback port nobody listens on now that sent and received bytes, and
// one refused.
std::vector<ConnectionEvent> ClosesBetweenSamples(const Snapshot& snapshot) {
  pid_t pid = 0;
  for (size_t i = 0; i < snapshot.sockets.size() && pid == 0; ++i) {
    std::span<const pid_t> owners = snapshot.OwnersOf(snapshot.sockets[i]);
    if (snapshot.sockets[i].state == SocketState::kEstablished && !owners.empty()) pid = owners[0];
  }
  ConnectionEvent sent;
  sent.local = *ParseIpAddress("127.0.0.1");
  sent.local_port = 40100;
  sent.remote = sent.local;
  sent.remote_port = 9999;
  sent.pid = pid;
  sent.direction = EventDirection::kOutbound;
  sent.start_boot_seconds = 95;
  sent.end_boot_seconds = 95.5;
  sent.has_bytes = true;
  sent.bytes_acked = 4097;
  sent.bytes_received = 129;
  ConnectionEvent refused = sent;
  refused.local_port = 40101;
  refused.outcome = EventOutcome::kFailed;
  refused.start_boot_seconds = 0;
  refused.bytes_acked = 0;
  refused.bytes_received = 0;
  return {sent, refused};
}

// A beacon (every 60 s for 30 minutes), a scan of 60 targets that refused, and a peer that
// probed 25 closed ports: one finding of each detection.
void FeedDetections(Detections& detections) {
  const double boot_to_unix = 1800000000 - 2000;
  FlowLabels beacon{"curl", "outbound", "external", "", "", ""};
  IpAddress c2 = *ParseIpAddress("203.0.113.50");
  for (int i = 0; i < 30; ++i) {
    detections.ObserveCounted({beacon, c2, 443, true, 100.0 + 60 * i, 0}, nullptr, boot_to_unix);
  }
  FlowLabels scanner{"nmap", "outbound", "internal", "", "", ""};
  for (int i = 0; i < 60; ++i) {
    IpAddress target = *ParseIpAddress("10.1.0." + std::to_string(i + 1));
    detections.ObserveCounted({scanner, target, 22, false, 1900.0 + i * 0.01, 0}, nullptr,
                              boot_to_unix);
  }
  std::vector<InboundProbe> probes(25);
  for (size_t i = 0; i < probes.size(); ++i) {
    probes[i].remote = *ParseIpAddress("198.51.100.7");
    probes[i].local_port = static_cast<uint16_t>(1000 + i);
    probes[i].boot_seconds = 1950;
  }
  static const ZoneClassifier kZones;
  detections.ObserveProbes(probes, kZones, {}, boot_to_unix);
}

std::string Exposition(Snapshot snapshot, const Policy* policy = nullptr) {
  // What varies from run to run: the clock and the build.
  snapshot.timestamp_seconds = 1800000000;
  for (CollectorResult& result : snapshot.collectors) result.duration_seconds = 0.25;
  CumulativeCounters counters;
  counters.AddSnapshot(snapshot);
  std::optional<Evaluation> evaluation;
  PolicyView view;
  // The connection counts as the sampler keeps them: an empty first sample (so host1's
  // connections were born since and count as opened), then host1, then two close records
  // of connections no sample saw.
  ConnectionLedger ledger;
  ledger.Observe(Snapshot{}, 90);
  ledger.Observe(snapshot, 100);
  std::vector<ConnectionEvent> closes = ClosesBetweenSamples(snapshot);
  static const ZoneClassifier kDefaultZones;
  ledger.CountClosed(ClosedConnectionsSnapshot(snapshot, closes, kDefaultZones, {}), closes, 100);
  FindingEvents finding_events;
  Detections detections;
  if (policy != nullptr) {
    evaluation = Evaluate(*policy, snapshot);
    finding_events.ObserveLive(snapshot, *evaluation, 100, 1800000000);
    FeedDetections(detections);
    detections.Judge(*policy, 1800000000);
    view = {&*evaluation,       false,
            {{"listeners", 0}}, true,
            1800000000,         static_cast<double>(policy->limits.long_connection.count()),
            &finding_events,    &detections};
  }
  EventsView events{&ledger, policy != nullptr ? &finding_events : nullptr, EventSource::kOff, 0};
  std::string text = SerializeFamilies(
      BuildFamilies(snapshot, 0.5, {}, counters, policy != nullptr ? &view : nullptr, &events));
  size_t build_info = text.find("connwatch_build_info{");
  size_t end = text.find('\n', build_info);
  return text.substr(0, build_info) + "connwatch_build_info{<build>} 1" + text.substr(end);
}

TEST_F(Host1, ProcfsSnapshotMatchesTheGoldenExposition) {
  PolicyLoadResult loaded = LoadPolicyFile(kFixtures + "/golden/host1-policy.yaml");
  ASSERT_TRUE(loaded.policy) << loaded.errors.at(0).ToString();
  ZoneClassifier policy_zones(loaded.policy->zones);
  options_.source_mode = SourceMode::kProcfs;
  AddPodNamespace();
  Snapshot snapshot = TakeSnapshot(options_, policy_zones);
  ASSERT_EQ(snapshot.source, SocketSource::kProcfs);
  EXPECT_EQ(snapshot.sockets.size(), 28u) << "27 of host1's, the pod's redis listener";
  ASSERT_EQ(snapshot.namespaces.size(), 2u);
  EXPECT_EQ(snapshot.namespaces[1].name, "9e8d7c6b5a4f") << "the container id's first 12";
  EXPECT_EQ(snapshot.namespaces[1].mode, NetnsMode::kProcfs);
  EXPECT_EQ(snapshot.sockets.back().netns, 1u);
  EXPECT_EQ(snapshot.OwnerNames(snapshot.sockets.back()), std::vector<std::string>{"redis-server"});
  EXPECT_EQ(snapshot.owner_stats.vanished, 1u) << "pid 500 has no fd directory";
  EXPECT_EQ(snapshot.processes.size(), 6u);
  EXPECT_EQ(snapshot.processes.at(300).name, "\xff(x) y\n");
  EXPECT_TRUE(snapshot.processes.at(300).exe_deleted);

  // Ages as the sampler would attach them: fixed values, every source, some past the
  // policy's long_connection limit (1h). The process_start bounds have been watched as long
  // as they claim (connwatch started with their owners), so they are certain and long too.
  snapshot.ages.resize(snapshot.sockets.size());
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    if (snapshot.classes[i].role != SocketRole::kConnection) continue;
    double age = 600.0 * static_cast<double>(i + 1);
    snapshot.ages[i] = ConnectionAge{age, static_cast<AgeSource>(i % 3), age};
  }
  snapshot.conntrack_timestamps = false;
  std::string actual = Exposition(snapshot, &*loaded.policy);
  const std::string golden_path = kFixtures + "/golden/host1.prom";
  if (std::getenv("CONNWATCH_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden_path, std::ios::binary) << actual;
  }
  std::string golden;
  ASSERT_EQ(ReadFileCapped(golden_path, kMaxProcNetFileBytes, golden), 0)
      << "missing " << golden_path << "; run with CONNWATCH_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, golden) << "the exposition changed; if intended, rerun with "
                               "CONNWATCH_UPDATE_GOLDEN=1 and review the diff";
}

TEST_F(Host1, AutoModeFallsBackToProcNetAndSaysSo) {
  options_.source_mode = SourceMode::kAuto;
  options_.sock_diag_dump = [](std::vector<Socket>& out, SockDiagStats&, std::string& error) {
    out.emplace_back();  // a partial dump must not leak into the snapshot
    error = "Operation not permitted";
    return false;
  };
  Snapshot snapshot = TakeSnapshot(options_, zones_);
  EXPECT_EQ(snapshot.source, SocketSource::kProcfs);
  EXPECT_TRUE(snapshot.fell_back);
  EXPECT_EQ(snapshot.sockets.size(), 27u);
  ASSERT_GE(snapshot.collectors.size(), 2u);
  EXPECT_EQ(snapshot.collectors[0].name, "sock_diag");
  EXPECT_FALSE(snapshot.collectors[0].success);
  EXPECT_EQ(snapshot.collectors[1].name, "proc_net");
  EXPECT_TRUE(snapshot.collectors[1].success);
  std::string text = Exposition(snapshot);
  EXPECT_NE(text.find("connwatch_socket_source_info{source=\"procfs\",fallback=\"1\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("connwatch_collector_success{collector=\"sock_diag\"} 0"), std::string::npos);
}

// Issue 17: a pre-fork server's child that exits between the fd walk and the read of its
// stat owns every listener; it is one vanished process, read once, not one per socket.
TEST_F(Host1, AProcessThatExitsAfterItsFdWalkIsOneVanishedProcess) {
  proc_.Remove("101/stat");
  options_.source_mode = SourceMode::kProcfs;
  Snapshot cold = TakeSnapshot(options_, zones_);
  size_t owned_by_101 = 0;
  for (const Socket& socket : cold.sockets) {
    for (pid_t pid : cold.OwnersOf(socket)) owned_by_101 += pid == 101;
  }
  ASSERT_GT(owned_by_101, 3u) << "the child must own several sockets for this to mean much";
  EXPECT_EQ(cold.process_stats.vanished, 1u);
  EXPECT_EQ(cold.owner_stats.vanished, 1u) << "pid 500 only";
  EXPECT_EQ(cold.unread_owners, std::optional(std::vector<pid_t>{101}));
  EXPECT_NE(Exposition(cold).find("connwatch_scan_errors_total{kind=\"vanished\"} 2"),
            std::string::npos);

  SnapshotCache cache;
  for (int sample = 0; sample < 3; ++sample) {
    Snapshot warm = TakeSnapshot(options_, zones_, &cache);
    EXPECT_EQ(warm.process_stats.vanished, 1u) << "sample " << sample;
  }
}

TEST_F(Host1, NetlinkModeDoesNotFallBack) {
  options_.source_mode = SourceMode::kNetlink;
  options_.sock_diag_dump = [](std::vector<Socket>&, SockDiagStats&, std::string& error) {
    error = "Protocol not supported";
    return false;
  };
  Snapshot snapshot = TakeSnapshot(options_, zones_);
  EXPECT_EQ(snapshot.source, SocketSource::kNone);
  EXPECT_FALSE(snapshot.fell_back);
  EXPECT_TRUE(snapshot.sockets.empty());
  std::string text = Exposition(snapshot);
  EXPECT_NE(text.find("connwatch_socket_source_info{source=\"none\",fallback=\"0\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace connwatch

namespace connwatch {
namespace {

const CollectorResult* FindCollector(const Snapshot& snapshot, std::string_view name) {
  for (const CollectorResult& result : snapshot.collectors) {
    if (result.name == name) return &result;
  }
  return nullptr;
}

// An fd table refused for lack of CAP_DAC_READ_SEARCH/CAP_SYS_PTRACE fails proc_fd: reading
// only connwatch's own fds is no success. As root (both capabilities) the same tree is read.
TEST(OwnersCollectorTest, RefusedFdTablesWithoutCapabilitiesFailTheCollector) {
  FakeProc proc;
  proc.AddProcess(100).AddSocket(100, 3, 1);
  proc.AddProcess(200).AddSocket(200, 3, 2).BreakFdDir(200, testing::FdDirFault::kNoPermission);
  SnapshotOptions options;
  options.procfs = proc.root();
  options.source_mode = SourceMode::kProcfs;
  ZoneClassifier zones;
  std::string failure = testing::RunInUnprivilegedChild([&]() -> std::string {
    Snapshot snapshot = TakeSnapshot(options, zones);
    const CollectorResult* owners = FindCollector(snapshot, "proc_fd");
    if (owners == nullptr) return "no proc_fd collector";
    if (snapshot.owner_stats.permission_denied != 1) return "permission_denied != 1";
    if (owners->success) return "proc_fd succeeded without the capabilities";
    if (owners->error.find("CAP_SYS_PTRACE") == std::string::npos) return "error: " + owners->error;
    return "";
  });
  EXPECT_EQ(failure, "");
  if (geteuid() == 0) {
    Snapshot snapshot = TakeSnapshot(options, zones);
    const CollectorResult* owners = FindCollector(snapshot, "proc_fd");
    ASSERT_NE(owners, nullptr);
    EXPECT_EQ(snapshot.owner_stats.permission_denied, 0u);
    EXPECT_TRUE(owners->success) << owners->error;
  }
}

}  // namespace
}  // namespace connwatch

namespace connwatch {
namespace {

// A steady sample (with a cache) asks sock_diag about a socket that no walk accounts for
// before it searches every process for it: here a listener of this test, dumped and then
// closed before the fd walk, as a short-lived socket on a busy host is. On the real kernel
// and /proc; the lookup is the real one, recorded on the way through.
TEST(SnapshotLookupTest, SocketClosedAfterTheDumpIsLookedUpThroughTakeSnapshot) {
  SnapshotOptions options;
  options.full_scan_every = 1000;  // the samples below are steady ones, not full walks
  std::vector<std::pair<uint64_t, SocketLookup>> asked;
  options.sock_diag_lookup = [&asked](const Socket& socket, uint64_t& inode) {
    SocketLookup answer = LookUpSockDiag(socket, inode);
    asked.emplace_back(socket.inode, answer);
    return answer;
  };
  ZoneClassifier zones;
  SnapshotCache cache;
  cache.Reclaim(TakeSnapshot(options, zones, &cache));  // full walk: no lookups
  cache.Reclaim(TakeSnapshot(options, zones, &cache));

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  struct stat info {};
  ASSERT_EQ(fstat(listener, &info), 0);
  const uint64_t inode = info.st_ino;
  options.sock_diag_dump = [listener](std::vector<Socket>& out, SockDiagStats& stats,
                                      std::string& error) {
    bool ok = DumpSockDiag(out, stats, error);
    close(listener);  // gone before the walk; this process's fd count is as it was
    return ok;
  };
  asked.clear();
  Snapshot snapshot = TakeSnapshot(options, zones, &cache);
  EXPECT_EQ(snapshot.source, SocketSource::kNetlink);
  bool dumped = std::any_of(snapshot.sockets.begin(), snapshot.sockets.end(),
                            [inode](const Socket& socket) { return socket.inode == inode; });
  ASSERT_TRUE(dumped) << "the dump should hold the listener";
  auto ours = std::find_if(asked.begin(), asked.end(),
                           [inode](const auto& question) { return question.first == inode; });
  ASSERT_NE(ours, asked.end()) << "TakeSnapshot never asked sock_diag about the closed socket";
  EXPECT_EQ(ours->second, SocketLookup::kGone);
  EXPECT_GE(snapshot.owner_stats.sockets_looked_up, 1u);
  EXPECT_GE(snapshot.owner_stats.sockets_gone, 1u);
  EXPECT_TRUE(
      snapshot
          .OwnersOf(*std::find_if(snapshot.sockets.begin(), snapshot.sockets.end(),
                                  [inode](const Socket& socket) { return socket.inode == inode; }))
          .empty());
}

// Sockets read from a procfs tree are not asked about: the kernel answers for its own
// namespace's sockets, not for a tree's (a test's, or another namespace's /proc/<pid>/net).
TEST(SnapshotLookupTest, ProcfsSocketsAreNotLookedUp) {
  FakeProc proc;
  proc.MakeDir("net");
  proc.WriteFile(
      "net/tcp",
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     "
      "0        0 4242 1 0000000000000000 100 0 0 10 0\n");
  proc.WriteFile(
      "net/udp",
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode ref pointer drops\n");
  proc.AddProcess(100);
  SnapshotOptions options;
  options.procfs = proc.root();
  options.source_mode = SourceMode::kProcfs;
  options.full_scan_every = 1000;
  size_t asked = 0;
  options.sock_diag_lookup = [&asked](const Socket&, uint64_t&) {
    ++asked;
    return SocketLookup::kGone;
  };
  ZoneClassifier zones;
  SnapshotCache cache;
  cache.Reclaim(TakeSnapshot(options, zones, &cache));
  Snapshot snapshot = TakeSnapshot(options, zones, &cache);
  ASSERT_EQ(snapshot.sockets.size(), 1u);
  EXPECT_EQ(asked, 0u);
  EXPECT_EQ(snapshot.owner_stats.sockets_looked_up, 0u);
}

}  // namespace
}  // namespace connwatch
