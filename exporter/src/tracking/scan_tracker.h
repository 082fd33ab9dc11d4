// Scans, both ways, as bounded estimates over a sliding window (tracking/distinct_in_window.h):
//
// - OutboundScans: per local actor (process and workload, per peer zone), how many distinct
//   remote (address, port) targets its failed connects went to. A process that walks an
//   address range or a port range fails against many targets; a client retrying one dead
//   server fails against one.
// - InboundProbes: per remote peer, how many distinct local ports nobody listens on it tried,
//   and a count per peer zone of all such attempts that never goes down.
//
// Both hold at most a fixed number of actors or peers (a scanner picks its own source
// addresses, a process its own name): when full, the least recently observed is forgotten
// and counted (evicted()). Each holds ~2.2 KiB, so 1024 cost ~2.3 MiB. An observation costs a
// map lookup and a constant amount of work, and allocates only when it makes an entry.
// Time is passed in (`now`, seconds). Not thread-safe.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "net/ip_address.h"
#include "tracking/distinct_in_window.h"
#include "tracking/recent_table.h"

namespace connwatch {

// Who failed to connect: the labels of connwatch_connections_failed_total.
struct ScanActor {
  std::string process;
  std::string remote_zone;
  std::string k8s_namespace;
  std::string pod;
  std::string container;

  bool operator==(const ScanActor&) const = default;
  auto operator<=>(const ScanActor&) const = default;
};

struct ActorTargets {
  ScanActor actor;
  uint64_t targets = 0;  // distinct (address, port) failed against in the window, estimated
  double last_seen = 0;  // `now` of its latest failure
};

class OutboundScans {
 public:
  static constexpr size_t kDefaultMaxActors = 1024;
  // `window_seconds` > 0; `max_actors` >= 1.
  explicit OutboundScans(double window_seconds, size_t max_actors = kDefaultMaxActors);

  // A connect of `actor` to remote:remote_port that never established. An IPv4-mapped
  // address is the IPv4 target it is.
  void ObserveFailed(const ScanActor& actor, const IpAddress& remote, uint16_t remote_port,
                     double now);
  // Every actor with a failure in the window at `now`, in actor order.
  std::vector<ActorTargets> Targets(double now) const;
  // Forgets the actors with nothing in the window (not counted as evicted).
  void Expire(double now);

  size_t size() const { return actors_.size(); }
  size_t capacity() const { return actors_.capacity(); }
  uint64_t evicted() const { return actors_.evicted(); }

 private:
  struct Failures {
    DistinctInWindow targets;
    double last_seen = 0;
  };
  double now_ = 0;  // the latest `now` observed: what staleness is judged by when full
  RecentTable<ScanActor, Failures> actors_;
};

struct PeerProbes {
  IpAddress peer;
  std::string remote_zone;  // the zone of its latest probe
  uint64_t ports = 0;       // distinct local ports probed in the window, estimated
  uint64_t probes = 0;      // probes in the window (exact to the window's slices)
  double last_seen = 0;
};

class InboundProbes {
 public:
  static constexpr size_t kDefaultMaxPeers = 1024;
  // `window_seconds` > 0; `max_peers` >= 1.
  explicit InboundProbes(double window_seconds, size_t max_peers = kDefaultMaxPeers);

  // A connection attempt from `peer` (in `remote_zone`, a policy zone name) to a local port
  // nobody listens on. An IPv4-mapped peer is the IPv4 peer it is.
  void Observe(const IpAddress& peer, const std::string& remote_zone, uint16_t local_port,
               double now);
  // Every peer with a probe in the window at `now`, in address order.
  std::vector<PeerProbes> Peers(double now) const;
  // Forgets the peers with nothing in the window (not counted as evicted; counts() stay).
  void Expire(double now);

  // Probes by remote zone since construction: never decreasing, never evicted (zones are
  // the policy's names, a bounded set).
  const std::map<std::string, uint64_t, std::less<>>& counts() const { return counts_; }
  size_t size() const { return peers_.size(); }
  size_t capacity() const { return peers_.capacity(); }
  uint64_t evicted() const { return peers_.evicted(); }

 private:
  struct Probes {
    std::string remote_zone;
    DistinctInWindow ports;
    double last_seen = 0;
  };
  double now_ = 0;
  std::map<std::string, uint64_t, std::less<>> counts_;
  RecentTable<IpAddress, Probes> peers_;
};

}  // namespace connwatch
