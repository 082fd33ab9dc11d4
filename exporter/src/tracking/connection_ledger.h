// Counts every TCP connection and its bytes, from the samples and from the connection
// events between them, into counters that never go down when sockets or processes go:
// connwatch_connections_opened_total, _failed_total, connwatch_tcp_bytes_total and
// connwatch_connection_duration_seconds.
//
// Per live connection it keeps its last bytes and labels, keyed by its socket cookie (a
// cookie is never reused within a boot) or, for sockets read without one (/proc/net), by
// its namespace and 4-tuple. Nothing is kept of a connection once it is counted closed.
//
// Bytes (tcp_info's bytes_acked as sent, bytes_received as received; the SYN and FIN count
// one each): the first sample is a baseline (what was sent before connwatch started is not
// counted); a connection first seen later was born since, and counts whole; then each
// sample adds the difference (a counter that went down, as after connect(AF_UNSPEC) on the
// same socket, counts its new value whole); the close record adds the last difference. A
// connection that disappears without a close record (events off, or lost) keeps what the
// last sample saw.
#pragma once

#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "sources/connection_event.h"
#include "sources/snapshot.h"

namespace connwatch {

// The labels every event family shares (with the container labels of the namespace issue).
struct FlowLabels {
  std::string process;    // the first of the owners' names, sorted; "" unowned
  std::string direction;  // "inbound", "outbound"
  std::string remote_zone;
  std::string k8s_namespace, pod, container;
  auto operator<=>(const FlowLabels&) const = default;
};
FlowLabels FlowLabelsOf(const Snapshot& snapshot, size_t index);

// What identifies one connection across samples and events. The namespace is its inode
// (0 for connwatch's own).
struct FlowKey {
  uint64_t cookie = 0;  // 0: by tuple
  uint64_t netns = 0;
  IpAddress local, remote;
  uint16_t local_port = 0, remote_port = 0;
  bool operator==(const FlowKey&) const = default;
};
struct FlowKeyHash {
  size_t operator()(const FlowKey& key) const;
};
FlowKey FlowKeyOf(const Snapshot& snapshot, size_t index);
// An event's two keys: by cookie, and by tuple (for a live socket read without a cookie).
FlowKey CookieFlowKeyOf(const ConnectionEvent& event);
FlowKey TupleFlowKeyOf(const ConnectionEvent& event);

struct FlowCounts {
  double opened = 0;
  double failed = 0;
  double bytes_sent = 0;
  double bytes_received = 0;
  double changed_boot_seconds = 0;  // when a count last moved
};

// connwatch_connection_duration_seconds: buckets 0.01 s ... 1 day.
inline constexpr double kDurationBuckets[] = {0.01, 0.1, 1, 10, 60, 600, 3600, 21600, 86400};
inline constexpr size_t kDurationBucketCount = std::size(kDurationBuckets);
struct DurationHistogram {
  uint64_t buckets[kDurationBucketCount] = {};  // cumulative counts, as exposed
  uint64_t count = 0;
  double sum = 0;
  void Observe(double seconds);
};

// One connection as the ledger counts it, for the detections built on every connection
// (beacons, scans: metrics/detections.h): an established one when it ended (its close
// record, or two samples without it), a failed connect at its close record.
struct CountedConnection {
  const FlowLabels& labels;
  const IpAddress& remote;
  uint16_t remote_port = 0;
  bool established = false;  // false: a connect that never established
  // When it started (CLOCK_BOOTTIME seconds): the close record's start, else the first
  // sample that saw it; a source that knows neither (sock_diag) gives its end.
  double when_boot = 0;
  pid_t pid = 0;  // the process that connect()ed, when the source knows it
};
using CountedSink = std::function<void(const CountedConnection&)>;

class ConnectionLedger {
 public:
  // Where every counted connection goes (nothing by default). Called while counting; the
  // labels and address are only valid during the call.
  void SetCountedSink(CountedSink sink) { sink_ = std::move(sink); }
  // The events whose connection a sample saw are counted here against what that sample
  // saw (their last bytes; an attempt that established since) and forgotten; the others,
  // which no sample saw, are returned to be judged and counted by CountClosed.
  std::vector<ConnectionEvent> CloseSeen(std::vector<ConnectionEvent> events, double now_boot);
  // Connections that only events saw, as tracking/closed_connections.h made them: opened
  // when `closed` says ESTABLISHED.
  void CountClosed(const Snapshot& closed, std::span<const ConnectionEvent> events,
                   double now_boot);
  // A sample's live TCP connections (and connect attempts).
  void Observe(const Snapshot& live, double now_boot);
  // Drops the flows that have not moved for `ttl` and whose process holds no socket now.
  void Expire(double ttl_seconds, double now_boot, const std::set<std::string>& live_processes);

  const std::map<FlowLabels, FlowCounts>& flows() const { return flows_; }
  // By (direction, remote_zone).
  const std::map<std::pair<std::string, std::string>, DurationHistogram>& durations() const {
    return durations_;
  }
  size_t tracked() const { return live_.size(); }

 private:
  struct Live {
    FlowLabels labels;
    IpAddress remote;
    uint16_t remote_port = 0;
    uint64_t bytes_acked = 0, bytes_received = 0;
    double first_seen_boot = 0;
    bool baseline = false;     // seen in the first sample: its start is unknown
    bool established = false;  // counted as opened
    uint64_t seen_in = 0;      // the last sample (samples_) that listed it
  };
  void AddBytes(Live& entry, bool has_bytes, uint64_t acked, uint64_t received, double now);
  void CountEnd(Live& entry, const ConnectionEvent& event, double now);
  // Gives the sink a connection that ended, as CountedConnection says.
  void ReportEnd(const Live& entry, const ConnectionEvent& event);
  void ReportGone(const Live& entry);

  std::unordered_map<FlowKey, Live, FlowKeyHash> live_;
  std::map<FlowLabels, FlowCounts> flows_;
  std::map<std::pair<std::string, std::string>, DurationHistogram> durations_;
  bool sampled_ = false;
  uint64_t samples_ = 0;  // Observe calls
  CountedSink sink_;
};

}  // namespace connwatch
