#include "sources/snapshot.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <unordered_set>

#include "base/clock.h"
#include "base/log.h"
#include "privilege/capabilities.h"
#include "sources/conntrack.h"
#include "sources/owner_cache.h"
#include "sources/proc_sys.h"

namespace connwatch {
namespace {

// Runs one collector, timed: `collect` returns whether it succeeded and says why not in
// `error`. Its result is recorded in the snapshot either way.
bool RunCollector(Snapshot& snapshot, const char* name,
                  const std::function<bool(std::string& error)>& collect) {
  auto start = std::chrono::steady_clock::now();
  CollectorResult result;
  result.name = name;
  result.success = collect(result.error);
  result.duration_seconds = SecondsSince(start);
  snapshot.collectors.push_back(std::move(result));
  return snapshot.collectors.back().success;
}

void CollectSockets(Snapshot& snapshot, const SnapshotOptions& options) {
  if (options.source_mode != SourceMode::kProcfs) {
    bool dumped = RunCollector(snapshot, kCollectorSockDiag, [&](std::string& error) {
      return options.sock_diag_dump(snapshot.sockets, snapshot.sock_diag_stats, error);
    });
    if (dumped) {
      snapshot.source = SocketSource::kNetlink;
      return;
    }
    snapshot.sockets.clear();
    Log(LogLevel::kWarn, "sock_diag dump failed",
        {{"err", snapshot.collectors.back().error},
         {"fallback", options.source_mode == SourceMode::kAuto ? "proc_net" : "none"}});
    if (options.source_mode == SourceMode::kNetlink) return;
    snapshot.fell_back = true;
  }
  bool read = RunCollector(snapshot, kCollectorProcNet, [&](std::string& error) {
    return ReadProcNetSockets(options.procfs, snapshot.sockets, snapshot.proc_net_stats, error);
  });
  if (read) {
    snapshot.source = SocketSource::kProcfs;
  } else {
    Log(LogLevel::kWarn, "reading /proc/net failed", {{"err", snapshot.collectors.back().error}});
  }
}

// A refused fd table hides which sockets its process holds; they are reported unowned.
// Without CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE that is every other user's process, so the
// collector fails rather than succeed on connwatch's own fd table. With both, a refusal comes
// from outside (an LSM, a sandbox's init no one may inspect): it is counted in
// permission_denied, and the collector still did all that privilege allows.
std::string OwnerScanProblem(const OwnerScanStats& stats) {
  if (stats.processes_scanned == 0) return "no process readable";
  if (stats.permission_denied > 0 && !HasEffectiveCapabilities(kSocketOwnerCapabilities)) {
    return std::to_string(stats.permission_denied) +
           " processes' fd tables refused: needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE";
  }
  return "";
}

void CollectOwners(Snapshot& snapshot, const SnapshotOptions& options, SnapshotCache* cache,
                   const SockDiagLookup& lookup) {
  RunCollector(snapshot, kCollectorOwners, [&](std::string& error) {
    snapshot.owners =
        cache ? cache->owners().Scan(options.procfs, snapshot.sockets, options.full_scan_every,
                                     snapshot.owner_stats, lookup)
              : ScanSocketOwners(options.procfs, snapshot.owner_stats);
    error = OwnerScanProblem(snapshot.owner_stats);
    return error.empty();
  });
}

void CollectProcesses(Snapshot& snapshot, const SnapshotOptions& options, SnapshotCache* cache) {
  RunCollector(snapshot, kCollectorProcesses, [&](std::string& error) {
    auto boot_time = ReadBootTime(options.procfs);
    UserNames users;  // a cold sample's; the cache keeps its own across samples
    std::unordered_set<pid_t> unread;
    for (const Socket& socket : snapshot.sockets) {
      for (pid_t pid : snapshot.OwnersOf(socket)) {
        if (snapshot.processes.count(pid) != 0 || unread.count(pid) != 0) continue;
        // A process that exits now keeps its pid in `owners` but gets no entry here; if it
        // was the only owner, the socket counts as unowned.
        double boot = boot_time.value_or(0);
        auto process =
            cache ? cache->owners().ReadProcess(options.procfs, pid, boot, snapshot.process_stats)
                  : ReadProcess(options.procfs, pid, boot, snapshot.process_stats, &users);
        if (process) {
          snapshot.processes.emplace(pid, std::move(*process));
        } else {
          unread.insert(pid);
        }
      }
    }
    snapshot.unread_owners.emplace(unread.begin(), unread.end());
    std::sort(snapshot.unread_owners->begin(), snapshot.unread_owners->end());
    if (!boot_time) error = "btime unreadable in stat";
    return boot_time.has_value();
  });
}

// Flow start times for exact connection ages, only while nf_conntrack_timestamp is on: the
// flows carry none otherwise, and a NAT gateway's conntrack table can be far larger than its
// socket table. Without CAP_NET_ADMIN or with nf_conntrack unloaded the dump fails: said
// here, and the ages fall back to first sighting.
void CollectConntrack(Snapshot& snapshot, const SnapshotOptions& options) {
  snapshot.conntrack_timestamps = ReadConntrackTimestampsEnabled(options.procfs);
  if (!*snapshot.conntrack_timestamps) return;
  bool dumped = RunCollector(snapshot, kCollectorConntrack, [&](std::string& error) {
    return DumpConntrack(snapshot.conntrack_flows, snapshot.conntrack_stats, error);
  });
  if (!dumped) {
    Log(LogLevel::kWarn, "conntrack dump failed; ages fall back to first sightings",
        {{"err", snapshot.collectors.back().error}});
  }
}

// The sockets of every other network namespace, after connwatch's own (which keep index 0).
void CollectNamespaces(Snapshot& snapshot, const SnapshotOptions& options,
                       NetnsRegistry& registry) {
  RunCollector(snapshot, kCollectorNetns, [&](std::string& error) {
    // A namespace's full TCP read every 4 full fd walks (20 min at the default 10 s).
    NetnsRegistry::Options netns{options.procfs,
                                 options.rootfs,
                                 options.netns_setns,
                                 options.full_scan_every <= 1
                                     ? 1
                                     : std::min<uint32_t>(options.full_scan_every, 1u << 24) * 4,
                                 options.tcp_bytes,
                                 {},
                                 {}};
    if (ConnectionEvents* events = options.events) {
      netns.opened_inside = [events](uint64_t inode) { events->SubscribeHere(inode); };
      netns.released = [events](uint64_t inode) { events->Unsubscribe(inode); };
    }
    bool sampled = registry.Sample(netns, snapshot.namespaces, snapshot.sockets,
                                   snapshot.sock_diag_stats, snapshot.proc_net_stats);
    snapshot.netns_errors = registry.errors();
    if (!sampled) error = "connwatch's own ns/net unreadable under " + options.procfs;
    return sampled;
  });
}

// The exact lookup asks the kernel about sockets of a sock_diag dump, each in its own
// namespace; sockets read from a procfs tree (a test's, or a namespace read through procfs)
// are not the kernel's to answer for.
SockDiagLookup LookupFor(const Snapshot& snapshot, const SnapshotOptions& options,
                         NetnsRegistry& registry) {
  if (snapshot.source != SocketSource::kNetlink || !options.sock_diag_lookup) return {};
  if (snapshot.namespaces.size() <= 1) return options.sock_diag_lookup;
  return [&options, &registry](const Socket& socket, uint64_t& inode) {
    return socket.netns == 0 ? options.sock_diag_lookup(socket, inode)
                             : registry.LookUp(socket, inode);
  };
}

// Container and pod of each socket, from its owners' cgroups (sources/containers.h).
void CollectWorkloads(Snapshot& snapshot, const SnapshotOptions& options, SnapshotCache* cache) {
  RunCollector(snapshot, kCollectorWorkloads, [&](std::string&) {
    WorkloadResolver cold;  // a sample without a cache reads every bundle
    AssignWorkloads(snapshot, options.rootfs, cache ? cache->workloads() : cold);
    return true;
  });
}

}  // namespace

bool ParseSourceMode(std::string_view text, SourceMode& mode) {
  if (text == "auto") {
    mode = SourceMode::kAuto;
  } else if (text == "netlink") {
    mode = SourceMode::kNetlink;
  } else if (text == "procfs") {
    mode = SourceMode::kProcfs;
  } else {
    return false;
  }
  return true;
}

const char* SocketSourceName(SocketSource source) {
  constexpr const char* kNames[] = {"none", "netlink", "procfs"};
  return kNames[static_cast<size_t>(source)];
}

std::optional<size_t> Snapshot::IndexOf(const Socket& socket) const {
  // Only a socket of this very vector has an index (std::less: a total order on pointers).
  std::less<const Socket*> before;
  const Socket* first = sockets.data();
  if (sockets.empty() || before(&socket, first) || !before(&socket, first + sockets.size())) {
    return std::nullopt;
  }
  return static_cast<size_t>(&socket - first);
}

const Socket& Snapshot::Holder(const Socket& socket) const {
  if (socket.inode != 0 || queued.empty()) return socket;
  std::optional<size_t> index = IndexOf(socket);
  if (!index) return socket;
  auto it = std::lower_bound(queued.begin(), queued.end(), *index,
                             [](const auto& entry, size_t value) { return entry.first < value; });
  return it != queued.end() && it->first == *index ? sockets[it->second] : socket;
}

std::span<const pid_t> Snapshot::OwnersOf(const Socket& socket) const {
  if (!owners_by_socket_.empty() && owners_by_socket_.size() == sockets.size() &&
      indexed_version_ == owners.version()) {
    if (std::optional<size_t> index = IndexOf(socket)) {
      const IndexedOwners& indexed = owners_by_socket_[*index];
      if (indexed.only != 0) return {&indexed.only, 1};
      return owners.AtSlot(indexed.slot);
    }
  }
  return owners.Of(Holder(socket).inode);
}

bool Snapshot::OnlySelfOwns(size_t index) const {
  if (self_pid == 0) return false;
  std::span<const pid_t> owners = OwnersOf(sockets[index]);
  return !owners.empty() &&
         std::all_of(owners.begin(), owners.end(), [&](pid_t pid) { return pid == self_pid; });
}

void Snapshot::IndexOwners() {
  queued = FindAcceptQueues(sockets);
  owners_by_socket_.clear();
  owners_by_socket_.reserve(sockets.size());
  auto next_queued = queued.begin();
  for (size_t i = 0; i < sockets.size(); ++i) {
    uint64_t inode = sockets[i].inode;
    if (next_queued != queued.end() && next_queued->first == i) {
      inode = sockets[next_queued->second].inode;  // waiting in this listener's queue
      ++next_queued;
    }
    IndexedOwners indexed;
    indexed.slot = owners.SlotOf(inode);
    std::span<const pid_t> pids = owners.AtSlot(indexed.slot);
    if (pids.size() == 1) indexed.only = pids[0];
    owners_by_socket_.push_back(indexed);
  }
  indexed_version_ = owners.version();
}

namespace {

// How many of `pids` were read: a pid whose process exited before the read has no entry.
size_t ReadOwners(const Snapshot& snapshot, std::span<const pid_t> pids) {
  size_t read = 0;
  for (pid_t pid : pids) read += snapshot.processes.count(pid);
  return read;
}

// The same from the few owners CollectProcesses could not read, for AttributeSockets, which
// asks of every socket: most samples have none, and a probe into `processes` per socket
// cost more than the rest of the attribution.
size_t ReadOwnersKnowingUnread(const std::vector<pid_t>& unread, std::span<const pid_t> pids) {
  if (unread.empty()) return pids.size();
  size_t read = 0;
  for (pid_t pid : pids) read += !std::binary_search(unread.begin(), unread.end(), pid);
  return read;
}

// sock_diag's answer for a socket no process held, as AttributeHeld reads it: gone, or open
// under another inode (0: its last fd was closed), means its owner let go of it.
StillOpen AskStillOpen(const Socket& socket, const SockDiagLookup& lookup) {
  uint64_t inode_now = 0;
  switch (lookup(socket, inode_now)) {
    case SocketLookup::kOpen:
      return inode_now == socket.inode ? StillOpen::kYes : StillOpen::kNo;
    case SocketLookup::kGone:
      return StillOpen::kNo;
    case SocketLookup::kUnknown:
      break;
  }
  return StillOpen::kCannotTell;
}

// A queued socket is the listener's: counted as queued when the listener has an owner, else
// it shares the listener's lack of one.
Attribution QueuedAttribution(Attribution listener) {
  return listener == Attribution::kOwned ? Attribution::kAcceptQueue : listener;
}

}  // namespace

Attribution Snapshot::DecideAttribution(size_t index) const {
  const Socket& socket = sockets[index];
  const Socket& holder = Holder(socket);
  if (holder.inode == 0) return Attribution::kNoInode;
  std::span<const pid_t> pids = owners.Of(holder.inode);
  Attribution held = AttributeHeld(pids.size(), ReadOwners(*this, pids), StillOpen::kCannotTell);
  return &holder == &socket ? held : QueuedAttribution(held);
}

void AttributeSockets(Snapshot& snapshot, const SockDiagLookup& lookup) {
  snapshot.attribution.assign(snapshot.sockets.size(), Attribution::kNoInode);
  size_t lookups = 0;
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    const Socket& socket = snapshot.sockets[i];
    if (socket.inode == 0) continue;
    std::span<const pid_t> pids = snapshot.OwnersOf(socket);
    size_t read = snapshot.unread_owners ? ReadOwnersKnowingUnread(*snapshot.unread_owners, pids)
                                         : ReadOwners(snapshot, pids);
    StillOpen still_open = StillOpen::kCannotTell;
    if (pids.empty() && lookup && lookups < kMaxAttributionLookups) {
      ++lookups;
      still_open = AskStillOpen(socket, lookup);
    }
    snapshot.attribution[i] = AttributeHeld(pids.size(), read, still_open);
  }
  for (const auto& [queued, listener] : snapshot.queued) {
    snapshot.attribution[queued] = QueuedAttribution(snapshot.attribution[listener]);
  }
}

std::vector<std::string> Snapshot::OwnerNames(const Socket& socket) const {
  std::vector<std::string> names;
  for (pid_t pid : OwnersOf(socket)) {
    // A process that exited before it could be read is no name at all: skipped.
    auto it = processes.find(pid);
    if (it != processes.end()) names.push_back(it->second.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Snapshot TakeSnapshot(const SnapshotOptions& options, const ZoneClassifier& zones,
                      SnapshotCache* cache) {
  Snapshot snapshot;
  // Both clocks together: conntrack's start times are wall-clock, ages live on the boot clock.
  snapshot.timestamp_seconds = UnixSeconds();
  snapshot.boot_clock_seconds = BootClockSeconds();
  snapshot.self_pid = getpid();
  if (cache && cache->last_socket_count() > 0) {
    snapshot.sockets.reserve(cache->last_socket_count() + cache->last_socket_count() / 16 + 64);
  }
  CollectSockets(snapshot, options);
  NetnsRegistry cold_namespaces;  // a sample without a cache opens every namespace anew
  NetnsRegistry& namespaces = cache ? cache->namespaces() : cold_namespaces;
  if (options.all_namespaces) CollectNamespaces(snapshot, options, namespaces);
  const SockDiagLookup lookup = LookupFor(snapshot, options, namespaces);
  // Owners are walked after the socket dump: a socket opened in between has an owner but
  // no socket entry (ignored), one closed in between keeps its entry but may lose its
  // owner (owner_exited for one sample: AttributeSockets asks the kernel).
  CollectOwners(snapshot, options, cache, lookup);
  snapshot.IndexOwners();
  CollectProcesses(snapshot, options, cache);
  CollectWorkloads(snapshot, options, cache);
  // After the process reads: an owner that exits during them counts as gone, like one that
  // exited before the walk.
  AttributeSockets(snapshot, lookup);
  ClassifyOptions classify_options{
      ReadEphemeralPorts(options.procfs), options.udp_service_ports, {}};
  if (options.udp_servers) {
    classify_options.udp_held = options.udp_servers->Update(
        snapshot.sockets, classify_options.ephemeral, options.udp_server_after);
  }
  snapshot.classes = ClassifySockets(snapshot.sockets, classify_options, zones);
  if (options.conntrack) CollectConntrack(snapshot, options);
  if (cache) cache->CountSample(snapshot.sockets.size());
  return snapshot;
}

namespace {

std::string DescribeOwners(const Snapshot& snapshot, const Socket& socket) {
  std::string text = "[";
  for (pid_t pid : snapshot.OwnersOf(socket)) {
    if (text.size() > 1) text += " ";
    text += std::to_string(pid);
    auto it = snapshot.processes.find(pid);
    text += "(" + (it == snapshot.processes.end() ? std::string("?") : it->second.name) + ")";
  }
  return text + "]";
}

}  // namespace

AttributionDiff CompareAttribution(const Snapshot& a, const Snapshot& b, size_t max_examples) {
  AttributionDiff diff;
  std::unordered_map<uint64_t, const Socket*> in_b;
  in_b.reserve(b.sockets.size());
  for (const Socket& socket : b.sockets) {
    if (socket.inode != 0) in_b.emplace(socket.inode, &socket);
  }
  size_t matched = 0;
  for (const Socket& socket : a.sockets) {
    if (socket.inode == 0) continue;
    auto it = in_b.find(socket.inode);
    if (it == in_b.end() ||
        (socket.cookie != 0 && it->second->cookie != 0 && socket.cookie != it->second->cookie)) {
      ++diff.only_in_one;
      continue;
    }
    ++matched;
    ++diff.compared;
    auto owners_a = a.OwnersOf(socket);
    auto owners_b = b.OwnersOf(*it->second);
    bool same = std::equal(owners_a.begin(), owners_a.end(), owners_b.begin(), owners_b.end()) &&
                a.OwnerNames(socket) == b.OwnerNames(*it->second);
    if (same) continue;
    ++diff.differing;
    if (diff.examples.size() < max_examples) {
      diff.examples.push_back("inode " + std::to_string(socket.inode) + ": " +
                              DescribeOwners(a, socket) + " vs " + DescribeOwners(b, *it->second));
    }
  }
  // Every b socket with an inode was either matched once or is only in b (duplicates of one
  // inode, as a procfs table may list, count as matched).
  size_t with_inode_b = in_b.size();
  diff.only_in_one += with_inode_b > matched ? with_inode_b - matched : 0;
  return diff;
}

}  // namespace connwatch
