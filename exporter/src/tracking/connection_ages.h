// How long each established connection has existed. Neither sockfs nor sock_diag records a
// creation time, so connwatch knows ages from, best first: conntrack's start timestamp,
// its own first sighting (persisted across restarts within one boot), or the owning
// process's start time (an upper bound for connections already open at a cold start).
// All times are on the boot clock (CLOCK_BOOTTIME): wall-clock steps cannot move them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model.h"
#include "sources/snapshot.h"

namespace connwatch {

// "conntrack", "first_seen", "process_start": the `source` label.
const char* AgeSourceName(AgeSource source);

// What identifies one connection across samples: sock_diag's cookie (unique per boot)
// when there is one, else (inode, transport, addresses, ports) for the procfs source.
struct ConnectionKey {
  uint64_t cookie = 0;
  uint64_t inode = 0;
  Transport transport = Transport::kTcp;
  IpAddress local, remote;
  uint16_t local_port = 0, remote_port = 0;

  bool operator==(const ConnectionKey&) const = default;
};
ConnectionKey KeyOf(const Socket& socket);
struct ConnectionKeyHash {
  size_t operator()(const ConnectionKey& key) const;
};

// A conntrack flow start, converted to the boot clock by the caller:
// start_boot = now_boot - (now_unix - ct_start_unix). Keyed by the original-direction
// tuple as the socket sees it (either end).
struct ConntrackStart {
  Transport transport = Transport::kTcp;
  IpAddress source, destination;
  uint16_t source_port = 0, destination_port = 0;
  double start_boot_seconds = 0;
};

// One tracked connection: when it started on the boot clock, and how we know.
struct TrackedConnection {
  double start_boot_seconds = 0;
  AgeSource source = AgeSource::kFirstSeen;
  uint32_t seen = 0;  // the tracker's last Update that saw it (not persisted)
};

class AgeTracker {
 public:
  // `boot_id` is /proc/sys/kernel/random/boot_id: state from another boot means nothing.
  explicit AgeTracker(std::string boot_id);

  // Adopts persisted state if it is from this boot (returns false and keeps nothing
  // otherwise). Call before the first Update.
  bool Restore(const std::string& boot_id,
               std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash> entries);

  // Ages for every socket of the snapshot (parallel to snapshot.sockets; nullopt for
  // sockets that are not established connections). Connections seen for the first time
  // take their start from conntrack when a flow matches; else, on the first Update after a
  // cold start (no restored state), from the owning process's start (the oldest owner's
  // start is an upper bound); else now. Entries for connections that are gone are dropped.
  std::vector<std::optional<ConnectionAge>> Update(const Snapshot& snapshot,
                                                   double now_boot_seconds,
                                                   const std::vector<ConntrackStart>& conntrack);

  const std::string& boot_id() const { return boot_id_; }
  // Lends the table out (to be saved without a copy) and takes it back.
  std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash> TakeEntries() {
    return std::move(entries_);
  }
  void PutEntries(std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash> entries) {
    entries_ = std::move(entries);
  }
  // What the last Update added to and removed from entries(): the state file's journal.
  const std::vector<ConnectionKey>& added() const { return added_; }
  const std::vector<ConnectionKey>& removed() const { return removed_; }
  const std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash>& entries() const {
    return entries_;
  }

 private:
  std::string boot_id_;
  std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash> entries_;
  std::vector<ConnectionKey> added_, removed_;
  uint32_t generation_ = 0;  // counts Updates
  bool first_update_ = true;
  bool restored_ = false;
};

// The boot clock now (CLOCK_BOOTTIME), in seconds.
double BootClockSeconds();

}  // namespace connwatch
