// Builds Socket values and snapshots for tests from readable text.
#pragma once

#include <string>
#include <vector>

#include "classify.h"
#include "model.h"
#include "net/cidr.h"
#include "sources/snapshot.h"

namespace connwatch::testing {

inline Socket MakeSocket(Transport transport, SocketState state, const char* local,
                         uint16_t local_port, const char* remote, uint16_t remote_port,
                         uint64_t inode = 0) {
  Socket socket;
  socket.transport = transport;
  socket.local = *ParseIpAddress(local);
  socket.family = socket.local.family;
  socket.state = state;
  socket.local_port = local_port;
  socket.remote = *ParseIpAddress(remote);
  socket.remote_port = remote_port;
  socket.inode = inode;
  return socket;
}

inline Socket Tcp(SocketState state, const char* local, uint16_t local_port, const char* remote,
                  uint16_t remote_port, uint64_t inode = 0) {
  return MakeSocket(Transport::kTcp, state, local, local_port, remote, remote_port, inode);
}

inline Socket Udp(const char* local, uint16_t local_port, const char* remote, uint16_t remote_port,
                  uint64_t inode = 0) {
  return MakeSocket(Transport::kUdp,
                    remote_port == 0 ? SocketState::kClose : SocketState::kEstablished, local,
                    local_port, remote, remote_port, inode);
}

inline Process MakeProcess(pid_t pid, std::string name) {
  Process process;
  process.pid = pid;
  process.name = name;
  process.comm = name;
  process.user = "root";
  return process;
}

// A snapshot of `sockets` classified with the default port facts, owners added with Own().
// Its attribution is decided without lookups (Snapshot::AttributionOf) unless a test calls
// AttributeSockets.
struct SnapshotBuilder {
  Snapshot snapshot;
  ZoneClassifier zones;

  SnapshotBuilder& Add(Socket socket) {
    snapshot.sockets.push_back(socket);
    return *this;
  }
  SnapshotBuilder& Own(uint64_t inode, pid_t pid, const std::string& name) {
    snapshot.owners.Add(inode, pid);
    snapshot.processes.emplace(pid, MakeProcess(pid, name));
    return *this;
  }
  Snapshot& Build() {
    snapshot.source = SocketSource::kNetlink;
    snapshot.timestamp_seconds = 1700000000;
    snapshot.collectors.push_back({kCollectorSockDiag, true, 0.01, ""});
    snapshot.classes = ClassifySockets(snapshot.sockets, {}, zones);
    snapshot.IndexOwners();  // as TakeSnapshot: accept queues found, owners indexed
    return snapshot;
  }
};

// connwatch (pid 77) and what it holds: its listener on 10107 (socket 0), a scrape it answers
// (1), a connection of its own to 8.8.8.8:443 (2), and a listener on 4444 (3) that nc (pid 50)
// holds too. Set snapshot.self_pid to 77 for connwatch's own view of it.
inline SnapshotBuilder& ConnwatchAndASharedListener(SnapshotBuilder& builder) {
  return builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 10107, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 10107, "10.0.0.9", 50000, 2))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "8.8.8.8", 443, 3))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 4444, "0.0.0.0", 0, 4))
      .Own(1, 77, "connwatch")
      .Own(2, 77, "connwatch")
      .Own(3, 77, "connwatch")
      .Own(4, 77, "connwatch")
      .Own(4, 50, "nc");
}

}  // namespace connwatch::testing
