// One snapshot of the host: every socket, what it is, who owns it. The only code that
// calls the sources; the sampler and the `connections` command both use it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "classify.h"
#include "model.h"
#include "net/zones.h"
#include "sources/attribution.h"
#include "sources/connection_events.h"
#include "sources/conntrack.h"
#include "sources/containers.h"
#include "sources/netns_registry.h"
#include "sources/proc_fd.h"
#include "sources/proc_net.h"
#include "sources/proc_process.h"
#include "sources/snapshot_cache.h"
#include "sources/sock_diag.h"
#include "sources/udp_server_tracker.h"

namespace connwatch {

enum class SourceMode { kAuto, kNetlink, kProcfs };
enum class SocketSource { kNone, kNetlink, kProcfs };

bool ParseSourceMode(std::string_view text, SourceMode& mode);
const char* SocketSourceName(SocketSource source);

// Collector names, as in connwatch_collector_success{collector=...}.
inline constexpr const char* kCollectorSockDiag = "sock_diag";
inline constexpr const char* kCollectorProcNet = "proc_net";
inline constexpr const char* kCollectorOwners = "proc_fd";
inline constexpr const char* kCollectorProcesses = "proc_process";
inline constexpr const char* kCollectorConntrack = "conntrack";
inline constexpr const char* kCollectorWorkloads = "workloads";
inline constexpr const char* kCollectorNetns = "netns";

struct CollectorResult {
  std::string name;
  bool success = false;
  double duration_seconds = 0;
  std::string error;  // why it failed, for the log
};

using SockDiagDumper = std::function<bool(std::vector<Socket>&, SockDiagStats&, std::string&)>;

inline constexpr uint32_t kDefaultFullScanEvery = 30;

struct SnapshotOptions {
  std::string procfs = "/proc";
  // The host's root and sysfs as connwatch sees them (--path.rootfs, --path.sysfs; a
  // DaemonSet mounts the host at /host): pinned namespaces, cgroup2, OCI bundles and pod
  // logs are read under these.
  std::string rootfs = "/";
  std::string sysfs = "/sys";
  SourceMode source_mode = SourceMode::kAuto;
  PortSet udp_service_ports;
  // Remembers, across the samples of its owner, which unconnected UDP sockets inside the
  // ephemeral range stay bound; those held in more than udp_server_after samples are
  // listeners (limits.udp_server_after). Null: none is (bare snapshots).
  UdpServerTracker* udp_servers = nullptr;
  uint32_t udp_server_after = kDefaultUdpServerAfter;
  // With a SnapshotCache: every this many samples every process's fds are walked and every
  // owner re-read, as without a cache; in between only what changed (owner_cache.cpp says
  // what that can miss). 1 walks everything every sample.
  uint32_t full_scan_every = kDefaultFullScanEvery;
  // The netlink dump; replaceable so tests can make it fail and watch auto mode fall back.
  SockDiagDumper sock_diag_dump = DumpSockDiag;
  // Whether a dumped socket still exists; used by the cache for sockets it cannot place.
  SockDiagLookup sock_diag_lookup = LookUpSockDiag;
  // Every network namespace of the host (--collector.netns=all), not only connwatch's own;
  // `netns_setns` false reads them through procfs even with CAP_SYS_ADMIN.
  bool all_namespaces = false;
  bool netns_setns = true;
  // Every TCP socket's tcp_info (Socket::bytes_*) in the other namespaces' dumps; the own
  // namespace's dump is sock_diag_dump (DumpSockDiagWithBytes asks for them there).
  bool tcp_bytes = false;
  // The connection events (sources/connection_events.h), whose sock_diag source subscribes
  // inside every namespace the registry opens; null: none.
  ConnectionEvents* events = nullptr;
  // Dump conntrack's flow start times (when nf_conntrack_timestamp is on), for connection
  // ages: what the sampler and the one-shot commands track; bare snapshots do not.
  bool conntrack = false;
};

struct Snapshot {
  double timestamp_seconds = 0;   // Unix time the sample started
  double boot_clock_seconds = 0;  // CLOCK_BOOTTIME then
  SocketSource source = SocketSource::kNone;
  bool fell_back = false;  // auto mode used /proc/net because sock_diag failed

  std::vector<Socket> sockets;
  std::vector<SocketClass> classes;  // parallel to sockets
  SocketOwners owners;
  std::unordered_map<pid_t, Process> processes;  // the owners of any socket
  // The process that took the snapshot (connwatch itself): its own listener and scrape
  // connections are never findings. 0 in a snapshot built by hand.
  pid_t self_pid = 0;
  // Owner pids whose process could not be read (it exited between the walk and the read),
  // sorted; nullopt when no process read recorded them (a snapshot built by hand).
  std::optional<std::vector<pid_t>> unread_owners;
  // Inode-less sockets waiting in a listener's accept queue, and that listener (by index):
  // OwnersOf gives such a socket the listener's owners. Found by IndexOwners.
  QueuedSockets queued;
  // How each socket got its owners, parallel to sockets; filled by AttributeSockets.
  std::vector<Attribution> attribution;

  // Ages of established connections, parallel to sockets (nullopt for the rest); empty
  // when nobody tracked ages for this snapshot. Filled by the sampler or the CLI.
  std::vector<std::optional<ConnectionAge>> ages;
  // net.netfilter.nf_conntrack_timestamp, when SnapshotOptions::conntrack asked to look, and
  // the flows conntrack dumped while it was on.
  std::optional<bool> conntrack_timestamps;
  std::vector<ConntrackFlow> conntrack_flows;
  ConntrackStats conntrack_stats;

  // Every network namespace read this sample; [0] is connwatch's own. Empty in a snapshot
  // that knows no other namespace (built by hand): every socket is then in its own.
  std::vector<NetworkNamespace> namespaces;
  // Errors reading the other namespaces, since the registry began (the serving process's
  // whole life, with a cache), by NetnsError.
  std::array<uint64_t, kNetnsErrorKinds> netns_errors = {};
  // The distinct workloads of this sample's sockets; [0] is the host. workload_of is
  // parallel to sockets (an index into workloads); empty when nothing was resolved, and
  // every socket is then the host's.
  std::vector<Workload> workloads;
  std::vector<uint32_t> workload_of;
  // The workload (an index into workloads) of each cgroup id that sockets of one container,
  // and of no other workload, carry (Socket::cgroup_id, the creator's), so that a connection
  // whose process is gone by the next sample still finds its pod through the cgroup its
  // close record names.
  std::unordered_map<uint64_t, uint32_t> workload_by_cgroup;
  WorkloadStats workload_stats;
  // sockets[index]'s workload; the host's when unresolved.
  const Workload& WorkloadOf(size_t index) const {
    static const Workload kHost;
    if (index >= workload_of.size() || workload_of[index] >= workloads.size()) return kHost;
    return workloads[workload_of[index]];
  }
  // The `netns` label of a socket's namespace: "" for connwatch's own.
  std::string_view NetnsNameOf(const Socket& socket) const {
    if (socket.netns == 0 || socket.netns >= namespaces.size()) return {};
    return namespaces[socket.netns].name;
  }

  std::vector<CollectorResult> collectors;
  SockDiagStats sock_diag_stats;
  ProcNetStats proc_net_stats;
  OwnerScanStats owner_stats;
  ProcessReadStats process_stats;

  // The owners of a socket; empty when none was found (or it has no inode and waits in no
  // accept queue). A socket of `sockets` in `queued` has its listener's owners.
  std::span<const pid_t> OwnersOf(const Socket& socket) const;
  // sockets[index] is connwatch's own only (its listeners, the scrapes it answers, its HTTP
  // front's loopback connections to civetweb): neither judged nor learned, so no policy has
  // to name connwatch for it to watch a host. A socket shared with another process counts.
  bool OnlySelfOwns(size_t index) const;
  // Finds the accept queues (`queued`) and looks every socket's owners up once, so that
  // OwnersOf for a socket of `sockets` is an index instead of a hash probe (every sample
  // asks several times per socket; the table is too big for the cache). TakeSnapshot calls
  // it; an Add to `owners` voids the index (not `queued`).
  void IndexOwners();
  // sockets[index]'s attribution: from `attribution` when AttributeSockets filled it, else
  // decided the same way without asking the kernel whether unclaimed sockets still exist.
  // Inline: the checks and the metrics ask it of every socket of every sample.
  Attribution AttributionOf(size_t index) const {
    return attribution.size() == sockets.size() ? attribution[index] : DecideAttribution(index);
  }

 private:
  // Where each socket's owners are, parallel to sockets: its slot in `owners` and, when it
  // has one owner, that pid, so the common case reads this array in order instead of the
  // table at random. Indexes and pids survive a copy of the snapshot.
  struct IndexedOwners {
    uint32_t slot = SocketOwners::kNoSlot;
    pid_t only = 0;  // the single owner; 0 when there are none or several
  };
  std::vector<IndexedOwners> owners_by_socket_;
  uint64_t indexed_version_ = 0;
  // The index of a socket of `sockets`, or nullopt for a socket from elsewhere.
  std::optional<size_t> IndexOf(const Socket& socket) const;
  // The socket whose fd holders are `socket`'s owners: its listener when queued, else itself.
  const Socket& Holder(const Socket& socket) const;
  Attribution DecideAttribution(size_t index) const;

 public:
  // Distinct names of a socket's owners, sorted; empty when unowned.
  std::vector<std::string> OwnerNames(const Socket& socket) const;
};

// Fills snapshot.attribution (after IndexOwners and the process reads). A socket with an
// inode that no walked process held is looked up with `lookup` (when set; at most
// kMaxAttributionLookups per sample, the rest count as "cannot tell") to tell an owner that
// went away during the sample from one nobody can find (AttributeHeld).
inline constexpr size_t kMaxAttributionLookups = 512;
void AttributeSockets(Snapshot& snapshot, const SockDiagLookup& lookup);

// Takes one snapshot. The ZoneClassifier must outlive the snapshot (zones are referenced).
// Without a cache every sample is cold: every process's fds are walked and every owner is
// read. With one (the same cache passed to every sample of one host), what the previous
// samples learned is reused where it can be verified cheaply (sources/owner_cache.h).
Snapshot TakeSnapshot(const SnapshotOptions& options, const ZoneClassifier& zones,
                      SnapshotCache* cache = nullptr);

// How two snapshots of one host attribute their sockets: a sample taken with a cache
// against a cold one taken right after it (the unit tests and the benchmark check that the
// cache changes nothing). Sockets are matched by inode (and cookie, when both have one);
// for each socket in both, the owner pids and the owner names must be equal. Sockets in
// only one snapshot opened or closed in between and are only counted.
struct AttributionDiff {
  size_t compared = 0;                // sockets with an inode found in both snapshots
  size_t only_in_one = 0;             // sockets with an inode found in one snapshot only
  size_t differing = 0;               // compared sockets whose owners differ
  std::vector<std::string> examples;  // the first differences, for a log or a test failure
};
AttributionDiff CompareAttribution(const Snapshot& a, const Snapshot& b, size_t max_examples = 10);

}  // namespace connwatch
