// The detections built on every connection (issue 16), judged against the policy once per
// sample:
//
// - beacons: per (process, remote address, remote port), how periodic the starts of its
//   established outbound connections are (tracking/beacon_score.h) over limits.beacon.window;
//   a pair at or above limits.beacon.min_score with limits.beacon.min_connections is a
//   finding unless a paths rule with `beacon: allowed` covers it. Loopback peers are not
//   scored: health checks and local scrapes are periodic on every host.
// - outbound scans: per process and peer zone, the distinct (address, port) targets of its
//   failed connects in the last 5 minutes; at or above limits.scan.targets, a finding.
// - inbound scans: per remote peer, the distinct local ports nobody listens on that it tried
//   in the last 5 minutes (the eBPF source's probes); at or above limits.scan.ports, a
//   finding. Probes from loopback are counted but never a finding: the process that scans
//   its own host is the outbound scan's.
//
// Start times come from the connection ledger (tracking/connection_ledger.h): exact with
// eBPF, a close's time with sock_diag, a sample's time without events (coarse: a beacon then
// needs a period well above the interval). Times are Unix seconds here, so that the beacon
// starts survive a restart (FormatBeaconState, in the storage directory).
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/family_builder.h"
#include "model.h"
#include "net/zones.h"
#include "policy/policy.h"
#include "sources/connection_event.h"
#include "tracking/beacon_tracker.h"
#include "tracking/connection_ledger.h"
#include "tracking/scan_tracker.h"

namespace connwatch {

// The beacon starts file of the storage directory (beacons.state), and its size cap: 4,096
// pairs of 128 starts at about 18 bytes each are 9.5 MB.
std::string BeaconsPathIn(const std::string& storage_path);
inline constexpr size_t kMaxBeaconStateBytes = size_t{16} << 20;

// At most this many beacon pairs are rescored a sample, those scored longest ago first: a
// score costs about 4 us, so a sample's beacon work stays near 3 ms however many of its
// pairs got a connection; the others keep their last score a few samples longer (see
// BeaconTracker::Score).
inline constexpr size_t kBeaconRescoresPerSample = 500;

// The window of both scan detections.
inline constexpr double kScanWindowSeconds = 300;

struct JudgedBeacon {
  BeaconResult result;
  // Judged only at or above min_score (below: false, false, ""):
  bool allowed = false;  // a paths rule says `beacon: allowed`
  bool finding = false;  // not allowed
  std::string exe;       // of the process that made the pair's connections, "" unknown
};

struct JudgedScan {
  ActorTargets targets;
  bool finding = false;  // at or above limits.scan.targets
};

// Where a probe arrived: the `netns` label of the namespace ("" connwatch's own) and the
// pod whose namespace it is, when one is.
struct ProbedNamespace {
  std::string netns, k8s_namespace, pod;
  bool operator==(const ProbedNamespace&) const = default;
};

struct JudgedProbes {
  PeerProbes probes;
  bool finding = false;    // at or above limits.scan.ports, not from loopback
  ProbedNamespace probed;  // of the peer's latest probe
};

class Detections {
 public:
  Detections();

  // A connection the ledger counted; `owner` is the process that made it when known
  // (nullptr: only its name is), `boot_to_unix` what turns its boot-clock time into Unix.
  void ObserveCounted(const CountedConnection& counted, const Process* owner, double boot_to_unix);
  // Connection attempts to ports nobody listens on; `places` says where each namespace is,
  // by inode (connwatch's own is 0; a namespace not in it is connwatch's own).
  void ObserveProbes(std::span<const InboundProbe> probes, const ZoneClassifier& zones,
                     const std::unordered_map<uint64_t, ProbedNamespace>& places,
                     double boot_to_unix);
  // Scores, judges and forgets what left the windows.
  void Judge(const Policy& policy, double now_unix);

  const std::vector<JudgedBeacon>& beacons() const { return beacons_; }
  const std::vector<JudgedScan>& outbound_scans() const { return outbound_; }
  const std::vector<JudgedProbes>& inbound_scans() const { return inbound_; }
  const InboundProbes& probes() const { return probes_; }
  const BeaconTracker& beacon_tracker() const { return beacon_tracker_; }
  const OutboundScans& outbound_tracker() const { return scans_; }

  // The persisted beacon starts (the sampler reads and writes the file).
  void RestoreBeacons(BeaconTracker tracker) { beacon_tracker_ = std::move(tracker); }
  // Whether beacon starts were observed since the last call.
  bool TakeBeaconsChanged();

 private:
  // Who made a pair's connections, as the last connection that knew it said.
  struct PairOwner {
    std::string comm, exe, argv0;
  };

  BeaconTracker beacon_tracker_;
  OutboundScans scans_;
  InboundProbes probes_;
  std::unordered_map<BeaconPair, PairOwner, BeaconPairHash> pair_owners_;
  std::map<IpAddress, ProbedNamespace> probed_;  // the latest probe's namespace, per peer
  std::vector<BeaconResult> scored_;  // the tracker's scores, storage kept between samples
  std::vector<JudgedBeacon> beacons_;
  std::vector<JudgedScan> outbound_;
  std::vector<JudgedProbes> inbound_;
  bool beacons_changed_ = false;
};

// connwatch_beacons, connwatch_beacon_score, connwatch_outbound_scan_targets,
// connwatch_inbound_probes_total, connwatch_detection_keys and _evicted_total. Series with
// host-made labels are capped at `max_series` (the scores at `max_finding_series`).
void AddDetectionFamilies(const Detections& detections, size_t max_series,
                          size_t max_finding_series, std::map<std::string, uint64_t>& dropped,
                          std::vector<prometheus::MetricFamily>& families);

// The detections' findings as connwatch_finding_info series (check beacon, outbound_scan,
// inbound_scan), appended to `family` while it holds fewer than `max_series`; what does not
// fit is added to `dropped`.
void AppendDetectionFindings(const Detections& detections, size_t max_series,
                             prometheus::MetricFamily& family, uint64_t& dropped);

}  // namespace connwatch
