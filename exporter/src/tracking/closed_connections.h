// The connections that opened and closed between two samples, as a snapshot of their own,
// so that the policy judges them exactly as it judges live ones (policy/evaluator.h).
//
// Each event becomes one socket: ESTABLISHED when the connection was established (a
// sock_diag record that came through a listener always was), else SYN_SENT (an attempt,
// which `paths` judges as one). Its owner: the process that
// connect()ed when the source knows it (eBPF); for an inbound connection, the owners of the
// listener of its local port in the live snapshot; else nobody (process=""), with zone,
// direction and outcome still classified. Nothing is made up.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <span>

#include "model.h"
#include "net/zones.h"
#include "sources/connection_event.h"
#include "sources/snapshot.h"

namespace connwatch {

// A process that is not in the live snapshot, read now (nullopt: it exited).
using ProcessLookup = std::function<std::optional<Process>(pid_t)>;

// `events` carry netns_inode 0 for connwatch's own namespace (the sampler normalizes them);
// an event of a namespace the live snapshot does not know gets a namespace entry of its own
// ("inode:N"). Synthetic inodes (from kClosedInodeBase) tie sockets to their owners.
inline constexpr uint64_t kClosedInodeBase = uint64_t{1} << 62;
Snapshot ClosedConnectionsSnapshot(const Snapshot& live, std::span<const ConnectionEvent> events,
                                   const ZoneClassifier& zones, const ProcessLookup& lookup);

}  // namespace connwatch
