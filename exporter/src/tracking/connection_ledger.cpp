#include "tracking/connection_ledger.h"

#include <algorithm>

#include "base/hash_combine.h"
#include "classify.h"

namespace connwatch {
namespace {

// Connections counted: established (and what follows it before close), and attempts.
bool Tracked(const Snapshot& snapshot, size_t index) {
  const Socket& socket = snapshot.sockets[index];
  if (socket.transport != Transport::kTcp ||
      snapshot.classes[index].direction == Direction::kNone) {
    return false;
  }
  switch (socket.state) {
    case SocketState::kEstablished:
    case SocketState::kSynSent:
    case SocketState::kFinWait1:
    case SocketState::kFinWait2:
    case SocketState::kCloseWait:
    case SocketState::kLastAck:
    case SocketState::kClosing:
      return true;
    default:
      return false;  // listeners, TIME_WAIT (closed already), request sockets
  }
}

FlowKey ByCookie(uint64_t cookie) {
  FlowKey key;
  key.cookie = cookie;
  return key;
}

uint64_t Delta(uint64_t now, uint64_t last) { return now >= last ? now - last : now; }

}  // namespace

FlowLabels FlowLabelsOf(const Snapshot& snapshot, size_t index) {
  const Socket& socket = snapshot.sockets[index];
  const SocketClass& socket_class = snapshot.classes[index];
  std::vector<std::string> names = snapshot.OwnerNames(socket);
  const Workload& workload = snapshot.WorkloadOf(index);
  return {names.empty() ? "" : names.front(),
          DirectionName(socket_class.direction),
          socket_class.remote_zone ? *socket_class.remote_zone : "",
          workload.k8s_namespace,
          workload.pod,
          workload.container};
}

size_t FlowKeyHash::operator()(const FlowKey& key) const {
  size_t seed = 0;
  HashCombine(seed, key.cookie);
  if (key.cookie != 0) return seed;
  HashCombine(seed, key.netns);
  HashCombineAddress(seed, key.local);
  HashCombineAddress(seed, key.remote);
  HashCombine(seed, (static_cast<uint64_t>(key.local_port) << 16) | key.remote_port);
  return seed;
}

FlowKey FlowKeyOf(const Snapshot& snapshot, size_t index) {
  const Socket& socket = snapshot.sockets[index];
  if (socket.cookie != 0) return ByCookie(socket.cookie);
  uint64_t netns = socket.netns > 0 && socket.netns < snapshot.namespaces.size()
                       ? snapshot.namespaces[socket.netns].inode
                       : 0;
  return {0, netns, socket.local, socket.remote, socket.local_port, socket.remote_port};
}

FlowKey CookieFlowKeyOf(const ConnectionEvent& event) { return ByCookie(event.cookie); }

FlowKey TupleFlowKeyOf(const ConnectionEvent& event) {
  return {0, event.netns_inode, event.local, event.remote, event.local_port, event.remote_port};
}

void DurationHistogram::Observe(double seconds) {
  ++count;
  sum += seconds;
  for (size_t i = 0; i < kDurationBucketCount; ++i) {
    if (seconds <= kDurationBuckets[i]) ++buckets[i];
  }
}

void ConnectionLedger::AddBytes(Live& entry, bool has_bytes, uint64_t acked, uint64_t received,
                                double now) {
  if (!has_bytes) return;
  uint64_t sent = Delta(acked, entry.bytes_acked);
  uint64_t got = Delta(received, entry.bytes_received);
  entry.bytes_acked = acked;
  entry.bytes_received = received;
  if (sent == 0 && got == 0) return;
  FlowCounts& counts = flows_[entry.labels];
  counts.bytes_sent += static_cast<double>(sent);
  counts.bytes_received += static_cast<double>(got);
  counts.changed_boot_seconds = now;
}

void ConnectionLedger::CountEnd(Live& entry, const ConnectionEvent& event, double now) {
  AddBytes(entry, event.has_bytes, event.bytes_acked, event.bytes_received, now);
  FlowCounts& counts = flows_[entry.labels];
  if (event.outcome == EventOutcome::kEstablished && !entry.established) {
    counts.opened += 1;  // an attempt a sample saw, established after it
    counts.changed_boot_seconds = now;
  } else if (event.outcome == EventOutcome::kFailed && !entry.established &&
             entry.labels.direction == "outbound") {
    counts.failed += 1;
    counts.changed_boot_seconds = now;
  }
  // Duration: exact from the event's start; else from the first sample that saw it (at
  // most one interval short), unless that was the first sample.
  double start = event.start_boot_seconds > 0 ? event.start_boot_seconds
                 : entry.baseline             ? 0
                                              : entry.first_seen_boot;
  if (start > 0 && event.end_boot_seconds >= start) {
    durations_[{entry.labels.direction, entry.labels.remote_zone}].Observe(event.end_boot_seconds -
                                                                           start);
  }
  if (sink_) ReportEnd(entry, event);
}

void ConnectionLedger::ReportEnd(const Live& entry, const ConnectionEvent& event) {
  bool established = entry.established || event.outcome == EventOutcome::kEstablished;
  if (!established && entry.labels.direction != "outbound") return;
  double when = event.start_boot_seconds > 0                   ? event.start_boot_seconds
                : entry.first_seen_boot > 0 && !entry.baseline ? entry.first_seen_boot
                                                               : event.end_boot_seconds;
  if (when <= 0) return;
  sink_({entry.labels, event.remote, event.remote_port, established, when, event.pid});
}

void ConnectionLedger::ReportGone(const Live& entry) {
  // What was there before connwatch has no known start; an attempt that vanished may have
  // established and closed between two samples, or failed: neither is known.
  if (entry.baseline || !entry.established || entry.first_seen_boot <= 0) return;
  sink_({entry.labels, entry.remote, entry.remote_port, true, entry.first_seen_boot, 0});
}

std::vector<ConnectionEvent> ConnectionLedger::CloseSeen(std::vector<ConnectionEvent> events,
                                                         double now_boot) {
  // The unseen ones are moved to the front of `events` itself: under a flood of closes a
  // second vector would double what the sample holds.
  size_t unseen = 0;
  for (ConnectionEvent& event : events) {
    auto it = event.cookie != 0 ? live_.find(CookieFlowKeyOf(event)) : live_.end();
    if (it == live_.end()) it = live_.find(TupleFlowKeyOf(event));
    if (it == live_.end()) {
      // Before the first sample nothing is known to have been born since: such a close is
      // of a connection older than connwatch, and not counted as opened.
      if (sampled_) {
        if (&events[unseen] != &event) events[unseen] = std::move(event);
        ++unseen;
      }
      continue;
    }
    CountEnd(it->second, event, now_boot);
    live_.erase(it);
  }
  events.resize(unseen);
  return events;
}

void ConnectionLedger::CountClosed(const Snapshot& closed, std::span<const ConnectionEvent> events,
                                   double now_boot) {
  for (size_t i = 0; i < closed.sockets.size() && i < events.size(); ++i) {
    Live entry;
    entry.labels = FlowLabelsOf(closed, i);
    const ConnectionEvent& event = events[i];
    FlowCounts& counts = flows_[entry.labels];
    // The closed snapshot's state, not the event's outcome: it knows that an accepted
    // socket was established (tracking/closed_connections.cpp).
    if (closed.sockets[i].state == SocketState::kEstablished) {
      counts.opened += 1;
      entry.established = true;
    }
    counts.changed_boot_seconds = now_boot;
    entry.first_seen_boot = 0;
    CountEnd(entry, event, now_boot);  // failed, bytes (whole: born since), duration
  }
}

void ConnectionLedger::Observe(const Snapshot& live, double now_boot) {
  ++samples_;  // no pass over every entry to age it: each keeps the sample that saw it
  for (size_t i = 0; i < live.sockets.size(); ++i) {
    if (!Tracked(live, i)) continue;
    const Socket& socket = live.sockets[i];
    auto [it, inserted] = live_.try_emplace(FlowKeyOf(live, i));
    Live& entry = it->second;
    entry.seen_in = samples_;
    if (inserted) {
      entry.labels = FlowLabelsOf(live, i);
      entry.remote = socket.remote;
      entry.remote_port = socket.remote_port;
      entry.first_seen_boot = now_boot;
      entry.baseline = !sampled_;
      if (entry.baseline && socket.has_bytes) {
        entry.bytes_acked = socket.bytes_acked;  // sent before connwatch: not counted
        entry.bytes_received = socket.bytes_received;
      }
    } else if (entry.labels.process.empty()) {
      entry.labels = FlowLabelsOf(live, i);  // an owner found since (accept() gave it a file)
    }
    bool established = socket.state != SocketState::kSynSent;
    if (established && !entry.established) {
      entry.established = true;
      if (!entry.baseline) {
        FlowCounts& counts = flows_[entry.labels];
        counts.opened += 1;
        counts.changed_boot_seconds = now_boot;
      }
    }
    AddBytes(entry, socket.has_bytes, socket.bytes_acked, socket.bytes_received, now_boot);
  }
  // Two samples without it and no close record: gone (its last bytes were counted).
  std::erase_if(live_, [&](const auto& item) {
    bool gone = samples_ - item.second.seen_in >= 2;
    if (gone && sink_) ReportGone(item.second);
    return gone;
  });
  sampled_ = true;
}

void ConnectionLedger::Expire(double ttl_seconds, double now_boot,
                              const std::set<std::string>& live_processes) {
  std::erase_if(flows_, [&](const auto& item) {
    return now_boot - item.second.changed_boot_seconds > ttl_seconds &&
           live_processes.count(item.first.process) == 0;
  });
}

}  // namespace connwatch
