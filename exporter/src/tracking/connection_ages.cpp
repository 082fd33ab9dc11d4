#include "tracking/connection_ages.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <utility>

#include "base/hash_combine.h"
#include "classify.h"
#include "net/cidr.h"

namespace connwatch {
namespace {

// One end-to-end tuple as both conntrack and the socket can state it. Addresses are
// unmapped: a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d, conntrack as a.b.c.d.
struct FlowTuple {
  Transport transport = Transport::kTcp;
  IpAddress first, second;
  uint16_t first_port = 0, second_port = 0;

  bool operator==(const FlowTuple&) const = default;
};

struct FlowTupleHash {
  size_t operator()(const FlowTuple& tuple) const {
    size_t seed = 0;
    HashCombine(seed, static_cast<uint64_t>(tuple.transport));
    HashCombineAddress(seed, tuple.first);
    HashCombineAddress(seed, tuple.second);
    HashCombine(seed, (static_cast<uint64_t>(tuple.first_port) << 16) | tuple.second_port);
    return seed;
  }
};

using ConntrackIndex = std::unordered_map<FlowTuple, double, FlowTupleHash>;

ConntrackIndex IndexConntrack(const std::vector<ConntrackStart>& conntrack) {
  ConntrackIndex index;
  index.reserve(conntrack.size());
  for (const ConntrackStart& flow : conntrack) {
    if (!std::isfinite(flow.start_boot_seconds)) continue;
    FlowTuple tuple{flow.transport, UnmapV4(flow.source), UnmapV4(flow.destination),
                    flow.source_port, flow.destination_port};
    // A tuple is unique in one conntrack table; should two dumps (IPv4 and IPv6) both hold
    // it, the later start is kept so that an age is never overstated.
    auto [it, inserted] = index.emplace(tuple, flow.start_boot_seconds);
    if (!inserted) it->second = std::max(it->second, flow.start_boot_seconds);
  }
  return index;
}

// The socket matches a flow whose original direction it initiated (local is the source)
// or received (remote is the source).
std::optional<double> ConntrackStartOf(const ConntrackIndex& index, const Socket& socket) {
  if (index.empty()) return std::nullopt;
  IpAddress local = UnmapV4(socket.local), remote = UnmapV4(socket.remote);
  auto it = index.find({socket.transport, local, remote, socket.local_port, socket.remote_port});
  if (it == index.end()) {
    it = index.find({socket.transport, remote, local, socket.remote_port, socket.local_port});
  }
  if (it == index.end()) return std::nullopt;
  return it->second;
}

// The oldest owner's start: the connection cannot be older than the process holding it
// (it may have been inherited from an older parent that exited; then this is still the
// best bound we have). nullopt when no owner could be read.
std::optional<double> OldestOwnerStart(const Snapshot& snapshot, const Socket& socket) {
  std::optional<double> oldest;
  for (pid_t pid : snapshot.OwnersOf(socket)) {
    auto it = snapshot.processes.find(pid);
    if (it == snapshot.processes.end()) continue;  // exited before it could be read
    double start = it->second.start_since_boot_seconds;
    if (!oldest || start < *oldest) oldest = start;
  }
  return oldest;
}

}  // namespace

const char* AgeSourceName(AgeSource source) {
  constexpr const char* kNames[] = {"conntrack", "first_seen", "process_start"};
  return kNames[static_cast<size_t>(source)];
}

double CertainAgeSeconds(const ConnectionAge& age) {
  if (age.source != AgeSource::kProcessStart) return age.age_seconds;
  return std::min(age.watched_seconds, age.age_seconds);
}

std::vector<ConntrackStart> ConntrackStartsOf(const Snapshot& snapshot) {
  std::vector<ConntrackStart> starts;
  for (const ConntrackFlow& flow : snapshot.conntrack_flows) {
    if (flow.start_unix_ns == 0) continue;
    double started_ago = snapshot.timestamp_seconds - static_cast<double>(flow.start_unix_ns) / 1e9;
    starts.push_back({flow.transport, flow.source, flow.destination, flow.source_port,
                      flow.destination_port, snapshot.boot_clock_seconds - started_ago});
  }
  return starts;
}

AgeTracker::AgeTracker(std::string boot_id) : boot_id_(std::move(boot_id)) {}

bool AgeTracker::Restore(const std::string& boot_id, ConnectionTable entries) {
  // Boot clock times from another boot (or from an unknown one) are meaningless here.
  if (boot_id.empty() || boot_id != boot_id_) return false;
  entries_ = std::move(entries);
  restored_ = true;
  return true;
}

std::vector<std::optional<ConnectionAge>> AgeTracker::Update(
    const Snapshot& snapshot, double now_boot_seconds,
    const std::vector<ConntrackStart>& conntrack) {
  const bool cold_start = first_update_ && !restored_;
  if (first_update_) first_update_boot_seconds_ = now_boot_seconds;
  first_update_ = false;
  ConntrackIndex index = IndexConntrack(conntrack);

  std::vector<std::optional<ConnectionAge>> ages(snapshot.sockets.size());
  // Updated in place: only what this snapshot holds survives (closed connections are
  // forgotten, and a reused inode with a new 4-tuple is a new key that starts afresh), and
  // what changed is kept for the journal. One table, not a second one per sample.
  ++generation_;
  added_.clear();
  removed_.clear();
  for (size_t i = 0; i < snapshot.sockets.size() && i < snapshot.classes.size(); ++i) {
    if (snapshot.classes[i].role != SocketRole::kConnection) continue;
    const Socket& socket = snapshot.sockets[i];
    ConnectionKey key = KeyOf(socket);
    auto [slot, inserted] = entries_.try_emplace(key);
    TrackedConnection& tracked = *slot;
    if (inserted) {
      if (auto start = ConntrackStartOf(index, socket)) {
        // Converted from CLOCK_REALTIME by the caller: a wall-clock step can put it in the
        // future or before boot; the age then stays within [0, uptime].
        tracked = {std::clamp(*start, 0.0, std::max(now_boot_seconds, 0.0)), AgeSource::kConntrack};
      } else if (auto owner_start =
                     cold_start ? OldestOwnerStart(snapshot, socket) : std::nullopt) {
        tracked = {std::min(*owner_start, now_boot_seconds), AgeSource::kProcessStart};
      } else {
        tracked = {now_boot_seconds, AgeSource::kFirstSeen};
      }
      added_.push_back(key);
    }
    tracked.seen = generation_;  // also covers the same connection twice in one snapshot
    ages[i] =
        ConnectionAge{std::max(0.0, now_boot_seconds - tracked.start_boot_seconds), tracked.source};
    if (tracked.source == AgeSource::kProcessStart) {
      ages[i]->watched_seconds = std::max(0.0, now_boot_seconds - first_update_boot_seconds_);
    }
  }
  entries_.Sweep([&](const ConnectionKey& key, const TrackedConnection& tracked) {
    if (tracked.seen == generation_) return true;
    removed_.push_back(key);
    return false;
  });
  return ages;
}

}  // namespace connwatch
