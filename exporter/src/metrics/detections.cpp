#include "metrics/detections.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "base/text.h"
#include "metrics/families.h"  // kFindingLabelNames
#include "metrics/metric_names.h"
#include "policy/evaluator.h"

namespace connwatch {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr const char* kLoopbackZone = "loopback";
static_assert(kBeaconRescoresPerSample == 500, "connwatch_beacon_scores_pending's help says 500");

ScanActor ActorOf(const FlowLabels& labels) {
  return {labels.process, labels.remote_zone, labels.k8s_namespace, labels.pod, labels.container};
}

// The finding_info labels (families.h's kFindingLabelNames order) of a detection: what it is
// about, with the fields that do not apply empty.
LabelValues DetectionLabels(const char* check, const std::string& process,
                            const std::string& remote_address, const std::string& remote_port,
                            const char* direction, const std::string& zone, const std::string& exe,
                            const std::string& netns, const std::string& k8s_namespace,
                            const std::string& pod, const std::string& container) {
  return {check,          process,       "",        "tcp",    "", "",
          remote_address, remote_port,   direction, zone,     "", exe,
          netns,          k8s_namespace, pod,       container};
}

void AppendSeries(const LabelValues& values, size_t max_series, MetricFamily& family,
                  uint64_t& dropped) {
  if (family.metric.size() >= max_series) {
    ++dropped;
    return;
  }
  prometheus::ClientMetric metric;
  for (size_t i = 0; i < std::size(kFindingLabelNames) && i < values.size(); ++i) {
    metric.label.push_back({kFindingLabelNames[i], SanitizeUtf8(values[i])});
  }
  metric.gauge.value = 1;
  family.metric.push_back(std::move(metric));
}

}  // namespace

std::string BeaconsPathIn(const std::string& storage_path) {
  return storage_path + "/beacons.state";
}

Detections::Detections() : scans_(kScanWindowSeconds), probes_(kScanWindowSeconds) {}

void Detections::ObserveCounted(const CountedConnection& counted, const Process* owner,
                                double boot_to_unix) {
  const FlowLabels& labels = counted.labels;
  if (labels.direction != "outbound") return;
  double when = counted.when_boot + boot_to_unix;
  if (!counted.established) {
    scans_.ObserveFailed(ActorOf(labels), counted.remote, counted.remote_port, when);
    return;
  }
  if (labels.remote_zone == kLoopbackZone) return;
  BeaconPair pair{labels.process,     labels.k8s_namespace,    labels.pod,         labels.container,
                  labels.remote_zone, UnmapV4(counted.remote), counted.remote_port};
  beacon_tracker_.Observe(pair, when);
  beacons_changed_ = true;
  if (owner != nullptr) pair_owners_[pair] = {owner->comm, owner->exe, owner->argv0};
}

void Detections::ObserveProbes(std::span<const InboundProbe> probes, const ZoneClassifier& zones,
                               const std::unordered_map<uint64_t, ProbedNamespace>& places,
                               double boot_to_unix) {
  for (const InboundProbe& probe : probes) {
    IpAddress peer = UnmapV4(probe.remote);
    probes_.Observe(peer, zones.Classify(peer), probe.local_port,
                    probe.boot_seconds + boot_to_unix);
    auto place = places.find(probe.netns_inode);
    probed_[peer] = place != places.end() ? place->second : ProbedNamespace{};
  }
}

void Detections::Judge(const Policy& policy, double now_unix) {
  const BeaconLimits& limits = policy.limits.beacon;
  double window = static_cast<double>(limits.window.count());
  beacon_tracker_.Expire(window, now_unix);
  static const std::vector<PathRule> kNoRules;
  const std::vector<PathRule>& rules = policy.paths ? *policy.paths : kNoRules;
  beacons_.clear();
  beacon_tracker_.Score(window, limits.min_connections, now_unix, kBeaconRescoresPerSample,
                        scored_);
  for (BeaconResult& result : scored_) {
    JudgedBeacon judged;
    // Only a pair at or above min_score can be a finding: the paths rules are asked for
    // those alone (most pairs are not periodic, and a sample judges thousands).
    if (result.score >= limits.min_score) {
      auto owner = pair_owners_.find(result.pair);
      Process process;
      process.name = result.pair.process;
      if (owner != pair_owners_.end()) {
        process.comm = owner->second.comm;
        process.exe = owner->second.exe;
        process.argv0 = owner->second.argv0;
      }
      Workload workload;
      workload.k8s_namespace = result.pair.k8s_namespace;
      workload.pod = result.pair.pod;
      workload.container = result.pair.container;
      judged.allowed = BeaconAllowed(rules, process, workload, "", result.pair.remote_zone,
                                     result.pair.remote_port);
      judged.finding = !judged.allowed;
      judged.exe = process.exe;
    }
    judged.result = std::move(result);
    beacons_.push_back(std::move(judged));
  }
  // The owners of pairs the tracker evicted or expired go once they are as many as the
  // tracked pairs: a bound of twice max_pairs, with one pass per that many evictions.
  if (pair_owners_.size() > 2 * beacon_tracker_.max_pairs()) {
    std::erase_if(pair_owners_,
                  [&](const auto& entry) { return !beacon_tracker_.Tracks(entry.first); });
  }

  scans_.Expire(now_unix);
  outbound_.clear();
  for (ActorTargets& targets : scans_.Targets(now_unix)) {
    bool finding = targets.targets >= policy.limits.scan.targets;
    outbound_.push_back({std::move(targets), finding});
  }
  probes_.Expire(now_unix);
  inbound_.clear();
  std::map<IpAddress, ProbedNamespace> probed;  // only the peers still in the window
  for (PeerProbes& peer : probes_.Peers(now_unix)) {
    bool finding = peer.ports >= policy.limits.scan.ports && peer.remote_zone != kLoopbackZone;
    auto place = probed_.find(peer.peer);
    ProbedNamespace where = place != probed_.end() ? place->second : ProbedNamespace{};
    probed.emplace(peer.peer, where);
    inbound_.push_back({std::move(peer), finding, std::move(where)});
  }
  probed_ = std::move(probed);
}

bool Detections::TakeBeaconsChanged() {
  bool changed = beacons_changed_;
  beacons_changed_ = false;
  return changed;
}

void AddDetectionFamilies(const Detections& detections, size_t max_series,
                          size_t max_finding_series, std::map<std::string, uint64_t>& dropped,
                          std::vector<MetricFamily>& families) {
  const std::vector<std::string> workload = {"namespace", "pod", "container"};
  auto with_workload = [&](std::vector<std::string> names) {
    names.insert(names.end(), workload.begin(), workload.end());
    return names;
  };
  FamilyBuilder beacons(metric::kBeacons, MetricType::Gauge,
                        with_workload({"process", "remote_zone"}));
  FamilyBuilder scores(metric::kBeaconScore, MetricType::Gauge,
                       with_workload({"process", "remote_address", "remote_port", "remote_zone"}));
  for (const JudgedBeacon& judged : detections.beacons()) {
    const BeaconPair& pair = judged.result.pair;
    beacons.Add({pair.process, pair.remote_zone, pair.k8s_namespace, pair.pod, pair.container},
                judged.finding ? 1 : 0);
    scores.Set({pair.process, FormatIpAddress(pair.remote), std::to_string(pair.remote_port),
                pair.remote_zone, pair.k8s_namespace, pair.pod, pair.container},
               judged.result.score);
  }
  FamilyBuilder pending(metric::kBeaconScoresPending, MetricType::Gauge, {});
  pending.Set({}, static_cast<double>(detections.beacon_tracker().backlog()));
  FamilyBuilder targets(metric::kOutboundScanTargets, MetricType::Gauge,
                        with_workload({"process", "remote_zone"}));
  for (const JudgedScan& scan : detections.outbound_scans()) {
    const ScanActor& actor = scan.targets.actor;
    targets.Set({actor.process, actor.remote_zone, actor.k8s_namespace, actor.pod, actor.container},
                static_cast<double>(scan.targets.targets));
  }
  FamilyBuilder probes(metric::kInboundProbes, MetricType::Counter, {"remote_zone"});
  for (const auto& [zone, count] : detections.probes().counts()) {
    probes.Set({zone}, static_cast<double>(count));
  }
  FamilyBuilder keys(metric::kDetectionKeys, MetricType::Gauge, {"detection"});
  FamilyBuilder evicted(metric::kDetectionKeysEvicted, MetricType::Counter, {"detection"});
  keys.Set({"beacon"}, static_cast<double>(detections.beacon_tracker().pairs()));
  keys.Set({"outbound_scan"}, static_cast<double>(detections.outbound_tracker().size()));
  keys.Set({"inbound_scan"}, static_cast<double>(detections.probes().size()));
  evicted.Set({"beacon"}, static_cast<double>(detections.beacon_tracker().evicted()));
  evicted.Set({"outbound_scan"}, static_cast<double>(detections.outbound_tracker().evicted()));
  evicted.Set({"inbound_scan"}, static_cast<double>(detections.probes().evicted()));
  families.push_back(beacons.Build(max_series, dropped));
  families.push_back(scores.Build(max_finding_series, dropped));
  families.push_back(pending.Build(SIZE_MAX, dropped));
  families.push_back(targets.Build(max_series, dropped));
  // Zones are the policy's names: bounded by the policy, not by the host.
  families.push_back(probes.Build(SIZE_MAX, dropped));
  families.push_back(keys.Build(SIZE_MAX, dropped));
  families.push_back(evicted.Build(SIZE_MAX, dropped));
}

void AppendDetectionFindings(const Detections& detections, size_t max_series, MetricFamily& family,
                             uint64_t& dropped) {
  for (const JudgedBeacon& judged : detections.beacons()) {
    if (!judged.finding) continue;
    const BeaconPair& pair = judged.result.pair;
    AppendSeries(DetectionLabels("beacon", pair.process, FormatIpAddress(pair.remote),
                                 std::to_string(pair.remote_port), "outbound", pair.remote_zone,
                                 judged.exe, "", pair.k8s_namespace, pair.pod, pair.container),
                 max_series, family, dropped);
  }
  for (const JudgedScan& scan : detections.outbound_scans()) {
    if (!scan.finding) continue;
    const ScanActor& actor = scan.targets.actor;
    AppendSeries(
        DetectionLabels("outbound_scan", actor.process, "", "", "outbound", actor.remote_zone, "",
                        "", actor.k8s_namespace, actor.pod, actor.container),
        max_series, family, dropped);
  }
  for (const JudgedProbes& probes : detections.inbound_scans()) {
    if (!probes.finding) continue;
    const ProbedNamespace& probed = probes.probed;
    AppendSeries(DetectionLabels("inbound_scan", "", FormatIpAddress(probes.probes.peer), "",
                                 "inbound", probes.probes.remote_zone, "", probed.netns,
                                 probed.k8s_namespace, probed.pod, ""),
                 max_series, family, dropped);
  }
}

}  // namespace connwatch
