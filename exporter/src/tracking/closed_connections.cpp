#include "tracking/closed_connections.h"

#include <map>
#include <string>

#include "classify.h"

namespace connwatch {
namespace {

// The namespace index of an event's socket, adding the namespaces the live snapshot lacks.
uint32_t NamespaceIndex(Snapshot& closed, std::map<uint64_t, uint32_t>& by_inode, uint64_t inode) {
  if (inode == 0) return 0;
  auto [it, inserted] =
      by_inode.try_emplace(inode, static_cast<uint32_t>(closed.namespaces.size()));
  if (inserted) {
    if (closed.namespaces.empty()) closed.namespaces.push_back({});  // [0]: connwatch's own
    it->second = static_cast<uint32_t>(closed.namespaces.size());
    closed.namespaces.push_back({inode, "inode:" + std::to_string(inode), NetnsMode::kFailed, 0});
  }
  return it->second;
}

// The live TCP listeners by namespace and port.
using ListenerIndex = std::multimap<std::pair<uint32_t, uint16_t>, size_t>;
ListenerIndex IndexListeners(const Snapshot& live) {
  ListenerIndex listeners;
  for (size_t i = 0; i < live.sockets.size(); ++i) {
    const Socket& socket = live.sockets[i];
    if (socket.transport == Transport::kTcp && socket.state == SocketState::kListen) {
      listeners.emplace(std::make_pair(socket.netns, socket.local_port), i);
    }
  }
  return listeners;
}

// The live listener an inbound connection came through: same namespace, same port, the
// same local address or a wildcard.
std::optional<size_t> ListenerOf(const Snapshot& live, const ListenerIndex& listeners,
                                 const Socket& socket) {
  auto [begin, end] = listeners.equal_range({socket.netns, socket.local_port});
  for (auto it = begin; it != end; ++it) {
    const Socket& listener = live.sockets[it->second];
    if (IsUnspecified(listener.local) || UnmapV4(listener.local) == UnmapV4(socket.local)) {
      return it->second;
    }
  }
  return std::nullopt;
}

// The process behind an event's pid: the live snapshot's, else read now, else what the
// event itself says (its comm). A pid reused since the connect belongs to a process that
// started after it, and is not taken.
Process OwnerProcess(const Snapshot& live, const ConnectionEvent& event,
                     const ProcessLookup& lookup) {
  auto it = live.processes.find(event.pid);
  if (it != live.processes.end()) return it->second;
  if (lookup) {
    std::optional<Process> read = lookup(event.pid);
    if (read && (event.start_boot_seconds == 0 ||
                 read->start_since_boot_seconds <= event.start_boot_seconds + 1)) {
      return *read;
    }
  }
  Process process;
  process.pid = event.pid;
  process.comm = event.comm;
  process.name = event.comm;
  return process;
}

// Which workload (an index into live.workloads) each live owner's sockets are in.
std::map<pid_t, uint32_t> WorkloadsByOwner(const Snapshot& live) {
  std::map<pid_t, uint32_t> by_owner;
  if (live.workload_of.size() != live.sockets.size()) return by_owner;
  for (size_t i = 0; i < live.sockets.size(); ++i) {
    for (pid_t pid : live.OwnersOf(live.sockets[i])) by_owner.try_emplace(pid, live.workload_of[i]);
  }
  return by_owner;
}

Socket SocketOf(const ConnectionEvent& event) {
  Socket socket;
  socket.transport = Transport::kTcp;
  socket.state = event.outcome == EventOutcome::kEstablished ? SocketState::kEstablished
                                                             : SocketState::kSynSent;
  CopySharedConnectionFields(event, socket);
  return socket;
}

}  // namespace

Snapshot ClosedConnectionsSnapshot(const Snapshot& live, std::span<const ConnectionEvent> events,
                                   const ZoneClassifier& zones, const ProcessLookup& lookup) {
  Snapshot closed;
  closed.timestamp_seconds = live.timestamp_seconds;
  closed.boot_clock_seconds = live.boot_clock_seconds;
  closed.source = live.source;
  closed.self_pid = live.self_pid;
  closed.namespaces = live.namespaces;
  closed.workloads = live.workloads;
  if (closed.workloads.empty()) closed.workloads.emplace_back();  // [0]: the host
  std::map<uint64_t, uint32_t> by_inode;
  for (uint32_t i = 1; i < live.namespaces.size(); ++i) by_inode[live.namespaces[i].inode] = i;
  std::map<pid_t, uint32_t> workload_by_owner = WorkloadsByOwner(live);
  ListenerIndex listeners = IndexListeners(live);
  for (const ConnectionEvent& event : events) {
    size_t index = closed.sockets.size();
    Socket socket = SocketOf(event);
    socket.netns = NamespaceIndex(closed, by_inode, event.netns_inode);
    socket.inode = kClosedInodeBase + index;
    std::optional<size_t> listener;
    if (event.direction != EventDirection::kOutbound)
      listener = ListenerOf(live, listeners, socket);
    bool inbound = event.direction == EventDirection::kInbound ||
                   (event.direction == EventDirection::kUnknown && listener.has_value());
    uint32_t workload = 0;
    if (inbound && listener) {
      for (pid_t pid : live.OwnersOf(live.sockets[*listener])) {
        closed.owners.Add(socket.inode, pid);
        // An owner that exited before its process was read has no entry (unread_owners):
        // at() threw here, and the whole sample was lost.
        auto owner = live.processes.find(pid);
        if (owner != live.processes.end()) closed.processes.try_emplace(pid, owner->second);
      }
      if (*listener < live.workload_of.size()) workload = live.workload_of[*listener];
    } else if (!inbound && event.pid > 0) {
      closed.owners.Add(socket.inode, event.pid);
      closed.processes.try_emplace(event.pid, OwnerProcess(live, event, lookup));
      auto it = workload_by_owner.find(event.pid);
      if (it != workload_by_owner.end()) workload = it->second;
    }
    if (workload == 0 && event.cgroup_id != 0) {
      // A process gone by now (or one that held no socket at the sample): its cgroup.
      auto it = live.workload_by_cgroup.find(event.cgroup_id);
      if (it != live.workload_by_cgroup.end()) workload = it->second;
    }
    // An accepted socket exists only once its handshake completed, so one that came through
    // a listener is established whatever a sock_diag record's counters say: a close with
    // SO_LINGER {1,0} goes through tcp_disconnect, which zeroes them (and the peer port),
    // and such a record reads like a refused connect. eBPF records say it themselves.
    if (event.direction == EventDirection::kUnknown && inbound) {
      socket.state = SocketState::kEstablished;
    }
    SocketClass socket_class;
    socket_class.role =
        socket.state == SocketState::kEstablished ? SocketRole::kConnection : SocketRole::kOther;
    socket_class.direction = inbound ? Direction::kInbound : Direction::kOutbound;
    socket_class.remote_zone = &zones.Classify(UnmapV4(socket.remote));
    closed.sockets.push_back(socket);
    closed.classes.push_back(socket_class);
    closed.workload_of.push_back(workload);
  }
  closed.IndexOwners();
  closed.attribution.resize(closed.sockets.size());
  for (size_t i = 0; i < closed.sockets.size(); ++i) {
    closed.attribution[i] =
        closed.OwnersOf(closed.sockets[i]).empty() ? Attribution::kUnknown : Attribution::kOwned;
  }
  return closed;
}

}  // namespace connwatch
