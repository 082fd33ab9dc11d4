// Findings counted once per connection, and held after their connection ended:
// connwatch_finding_events_total, and the `ended="true"` series of connwatch_finding_info.
//
// A violation seen in several samples is one connection, counted once (by its cookie or
// tuple, and owner); one only the connection events saw is counted too. When the connection
// ends (its close record, or two samples without it), the finding stays in
// connwatch_finding_info for limits.finding_hold with when it started, how long it lasted
// and its bytes, so that a responder still finds the peer of a 200 ms connection.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "metrics/family_builder.h"
#include "policy/evaluator.h"
#include "sources/connection_event.h"
#include "sources/snapshot.h"
#include "tracking/connection_ledger.h"

namespace connwatch {

struct HeldFinding {
  LabelValues labels;      // connwatch_finding_info's (FindingLabels)
  double start_unix = 0;   // 0: unknown
  double duration = -1;    // seconds; < 0 unknown
  bool has_bytes = false;  // sent = bytes_acked, received = bytes_received
  uint64_t bytes_sent = 0, bytes_received = 0;
  double ended_unix = 0;
  double ended_boot = 0;
  bool operator==(const HeldFinding&) const = default;
};

// The checks counted per connection.
bool CountedPerConnection(Check check);

class FindingEvents {
 public:
  // Close records of connections that had live findings: those findings end, held with
  // the record's details.
  void ObserveEnds(std::span<const ConnectionEvent> events, double now_boot, double now_unix);
  // Findings of connections that only events saw (tracking/closed_connections.h), parallel
  // to `events`: counted and held at once.
  void ObserveClosed(const Snapshot& closed, const Evaluation& evaluation,
                     std::span<const ConnectionEvent> events, double now_boot, double now_unix);
  // A sample's findings: new ones counted; those gone for two samples without a close
  // record end (held with what the samples saw).
  void ObserveLive(const Snapshot& live, const Evaluation& evaluation, double now_boot,
                   double now_unix);
  // Forgets held findings older than `hold_seconds`; keeps at most `max_held` (the oldest
  // go first, counted in dropped()).
  void Expire(double hold_seconds, size_t max_held, double now_boot);

  // connwatch_finding_events_total by check, process, direction, remote_zone, namespace,
  // pod, container.
  const std::map<LabelValues, double>& counts() const { return counts_; }
  const std::deque<HeldFinding>& held() const { return held_; }
  uint64_t dropped() const { return dropped_; }
  // Whether held() changed since the last call (the sampler then rewrites the file).
  bool TakeChanged();

 private:
  struct Open {
    LabelValues labels;
    double first_seen_unix = 0;
    double first_seen_boot = 0;
    bool has_bytes = false;
    uint64_t bytes_sent = 0, bytes_received = 0;
    uint32_t missed = 0;
  };
  using OpenKey = std::tuple<FlowKey, int, pid_t>;  // connection, check, owner
  struct OpenKeyHash {
    size_t operator()(const OpenKey& key) const;
  };
  void Count(const LabelValues& labels);
  void Hold(HeldFinding finding);

  std::unordered_map<OpenKey, Open, OpenKeyHash> open_;
  std::map<LabelValues, double> counts_;
  std::deque<HeldFinding> held_;
  uint64_t dropped_ = 0;
  bool changed_ = false;
};

// The held findings file of the storage directory (findings.held), which `connwatch check`
// reads: one line per finding, tab-separated, `\`, tab and newline escaped.
std::string HeldFindingsPathIn(const std::string& storage_path);
std::string FormatHeldFindings(const std::deque<HeldFinding>& held);
// nullopt when `text` is not such a file.
std::optional<std::vector<HeldFinding>> ParseHeldFindings(std::string_view text);

}  // namespace connwatch
