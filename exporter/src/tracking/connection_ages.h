// How long each established connection has existed. Neither sockfs nor sock_diag records a
// creation time, so connwatch knows ages from, best first: conntrack's start timestamp,
// its own first sighting (persisted across restarts within one boot), or the owning
// process's start time (an upper bound for connections already open at a cold start).
// All times are on the boot clock (CLOCK_BOOTTIME): wall-clock steps cannot move them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model.h"
#include "sources/snapshot.h"
#include "tracking/connection_table.h"

namespace connwatch {

// "conntrack", "first_seen", "process_start": the `source` label.
const char* AgeSourceName(AgeSource source);

// What the connection's age is known to be at least: the age itself for conntrack (exact)
// and first_seen (a lower bound: it was open when first seen), but for process_start only
// the time connwatch has watched it, since the process start is an upper bound. What
// long_connection judges: an upper bound is not a fact.
double CertainAgeSeconds(const ConnectionAge& age);

// A conntrack flow's start on the boot clock, keyed by the original-direction tuple as the
// socket sees it (either end).
struct ConntrackStart {
  Transport transport = Transport::kTcp;
  IpAddress source, destination;
  uint16_t source_port = 0, destination_port = 0;
  double start_boot_seconds = 0;
};

// The flows of `snapshot` that have a start time, moved to the boot clock with the two
// clocks the snapshot read together (start_boot = boot - (unix - start_unix)).
std::vector<ConntrackStart> ConntrackStartsOf(const Snapshot& snapshot);

class AgeTracker {
 public:
  // `boot_id` is /proc/sys/kernel/random/boot_id: state from another boot means nothing.
  explicit AgeTracker(std::string boot_id);

  // Adopts persisted state if it is from this boot (returns false and keeps nothing
  // otherwise). Call before the first Update.
  bool Restore(const std::string& boot_id, ConnectionTable entries);

  // Ages for every socket of the snapshot (parallel to snapshot.sockets; nullopt for
  // sockets that are not established connections). Connections seen for the first time
  // take their start from conntrack when a flow matches; else, on the first Update after a
  // cold start (no restored state), from the owning process's start (the oldest owner's
  // start is an upper bound, and watched_seconds what is certain); else now. Entries for
  // connections that are gone are dropped.
  std::vector<std::optional<ConnectionAge>> Update(const Snapshot& snapshot,
                                                   double now_boot_seconds,
                                                   const std::vector<ConntrackStart>& conntrack);

  const std::string& boot_id() const { return boot_id_; }
  // Lends the table out (to be saved without a copy) and takes it back.
  ConnectionTable TakeEntries() { return std::move(entries_); }
  void PutEntries(ConnectionTable entries) { entries_ = std::move(entries); }
  // What the last Update added to and removed from entries(): the state file's journal.
  const ConnectionKeyList& added() const { return added_; }
  const ConnectionKeyList& removed() const { return removed_; }
  const ConnectionTable& entries() const { return entries_; }

 private:
  std::string boot_id_;
  ConnectionTable entries_;
  ConnectionKeyList added_, removed_;
  uint32_t generation_ = 0;  // counts Updates
  // The first Update's time: every process_start entry was open then (made by it, or
  // restored and still present), so has been watched since at least then.
  double first_update_boot_seconds_ = 0;
  bool first_update_ = true;
  bool restored_ = false;
};

}  // namespace connwatch
