// Why a socket has the owners it has, decided from what one sample saw. Pure: the fd walk,
// the process reads and the kernel's answer to "does it still exist" are inputs
// (sources/snapshot.cpp gathers them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "model.h"

namespace connwatch {

enum class Attribution : uint8_t {
  kOwned,        // a process holding its fd was found and read
  kNoInode,      // no file refers to it (TIME_WAIT, request sockets, orphans): nobody's
  kAcceptQueue,  // no inode, waiting in a listener's accept queue: the listener's owners
  kOwnerExited,  // its holders went away during the sample: judged next sample, if still there
  kUnknown,      // it has an inode, still exists, and no walk of every process found a holder
};

// "owned", "none", "accept_queue", "owner_exited", "unknown": the `reason` label of
// connwatch_unattributed_connections (the last three) and the `attribution` JSON field.
const char* AttributionName(Attribution attribution);

// An accepted-but-not-yet-accepted() TCP socket has no file, hence inode 0, until accept(2)
// gives it one; it is ESTABLISHED, or CLOSE_WAIT once its client has sent FIN. Such a socket
// belongs to the listener on its local port and address, or on a wildcard of that port (the
// v6 wildcard also takes IPv4: dual stack; v4-mapped addresses are compared unmapped), as
// ClassifySockets reads "inbound". The most specific listener wins, as in the kernel's
// lookup (__inet_lookup_listener): the exact address, then the wildcard of the socket's own
// family, then the v6 wildcard; among equals (SO_REUSEPORT groups) the first in the dump.
// Returns (socket index, listener index) pairs, ascending by socket index.
using QueuedSockets = std::vector<std::pair<uint32_t, uint32_t>>;
QueuedSockets FindAcceptQueues(const std::vector<Socket>& sockets);

// Whether a socket that no walked process held still exists now (after the walk), as
// sock_diag's exact lookup answers: kCannotTell without it (procfs source) or on an error.
enum class StillOpen : uint8_t { kYes, kNo, kCannotTell };

// The attribution of a socket with an inode: `holders` pids hold its fd (the fd walk),
// `read` of them could be read afterwards. A socket with holders none of which could be read
// lost them between the walk and the read; one with none that is gone now (or whose inode
// changed: its last fd was closed) lost its owner between the dump and the walk. Only a
// socket that is still there, or of which nobody can tell, is unknown: every sample that
// leaves a socket unclaimed has walked every readable process for it (a cold sample walks
// all; the owner cache searches every process not walked, or skips the socket because the
// last full walk did not find it either).
Attribution AttributeHeld(size_t holders, size_t read, StillOpen still_open);

}  // namespace connwatch
