#include "metrics/families.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "base/text.h"
#include "metrics/detections.h"
#include "metrics/family_builder.h"
#include "metrics/metric_names.h"
#include "metrics/netns_families.h"
#include "tracking/connection_ages.h"
#include "version.h"

namespace connwatch {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

// Families bounded by enums, collector or section names: never capped, so that, among
// others, the counter of what the caps dropped is itself never dropped.
constexpr size_t kUncapped = SIZE_MAX;

// The exe label of connwatch_finding_info: a path may be PATH_MAX (4096) bytes of any
// content; a label that long helps nobody and costs every series that carries it. Cut on a
// character boundary after sanitizing, so the value stays valid UTF-8.
constexpr size_t kMaxExeLabelBytes = 256;

std::string ExeLabel(std::string_view exe) {
  std::string label = SanitizeUtf8(exe);
  if (label.size() <= kMaxExeLabelBytes) return label;
  size_t cut = kMaxExeLabelBytes;
  while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xc0) == 0x80) --cut;
  label.resize(cut);
  return label;
}

constexpr AgeSource kAgeSources[] = {AgeSource::kConntrack, AgeSource::kFirstSeen,
                                     AgeSource::kProcessStart};

// A socket's distinct owner names, sorted, as views into snapshot.processes (what
// Snapshot::OwnerNames gives, without a string per socket); `names` is reused.
void OwnerNameViews(const Snapshot& snapshot, const Socket& socket,
                    std::vector<std::string_view>& names) {
  names.clear();
  for (pid_t pid : snapshot.OwnersOf(socket)) {
    // A process that exited before it could be read is no name at all: skipped.
    auto it = snapshot.processes.find(pid);
    if (it != snapshot.processes.end()) names.push_back(it->second.name);
  }
  if (names.size() > 1) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
  }
}

// Per-connection families are summed per (process, direction, zone) first and handed to
// their FamilyBuilder once per group: the builder's label strings, sanitizing and map
// cost once per series instead of once per socket (100k sockets, a few hundred series).
struct ConnectionGroup {
  std::string_view process;  // "" when unowned
  Direction direction = Direction::kNone;
  const std::string* zone = nullptr;  // the ZoneClassifier's; null: no zone
  uint32_t workload = 0;              // index into snapshot.workloads; 0: the host
  bool operator==(const ConnectionGroup&) const = default;
};

struct ConnectionGroupHash {
  size_t operator()(const ConnectionGroup& group) const {
    size_t seed = std::hash<std::string_view>{}(group.process);
    seed ^= std::hash<const void*>{}(group.zone) + 0x9e3779b97f4a7c15ULL + (seed << 6);
    return seed ^ (static_cast<size_t>(group.direction) + (size_t{group.workload} << 3));
  }
};

// sockets[index]'s workload, as an index into snapshot.workloads (0: the host).
uint32_t WorkloadIndex(const Snapshot& snapshot, size_t index) {
  if (index >= snapshot.workload_of.size()) return 0;
  uint32_t workload = snapshot.workload_of[index];
  return workload < snapshot.workloads.size() ? workload : 0;
}

// namespace, pod, container: the Kubernetes names (cAdvisor's labels), "" on the host. Never
// the pod UID or the container id on a high-volume family: connwatch_container_info has it.
void AppendWorkloadLabels(const Workload& workload, LabelValues& labels) {
  labels.push_back(workload.k8s_namespace);
  labels.push_back(workload.pod);
  labels.push_back(workload.container);
}

const Workload& WorkloadAt(const Snapshot& snapshot, uint32_t index) {
  static const Workload kHost;
  return index < snapshot.workloads.size() ? snapshot.workloads[index] : kHost;
}

LabelValues GroupLabels(const Snapshot& snapshot, const ConnectionGroup& group) {
  LabelValues labels{std::string(group.process), DirectionName(group.direction),
                     group.zone ? *group.zone : std::string()};
  AppendWorkloadLabels(WorkloadAt(snapshot, group.workload), labels);
  return labels;
}

// The per-process families' labels: who, which way, to where, and in which pod.
const std::vector<std::string> kGroupLabelNames = {"process",   "direction", "remote_zone",
                                                   "namespace", "pod",       "container"};

// Connection ages, when the sampler tracked them.
void AddAgeFamilies(const Snapshot& snapshot, double long_connection_seconds,
                    const MetricsOptions& options, CumulativeCounters& counters,
                    std::vector<MetricFamily>& families) {
  FamilyBuilder max_age(metric::kConnectionMaxAge, MetricType::Gauge, kGroupLabelNames);
  FamilyBuilder long_connections(metric::kLongConnections, MetricType::Gauge, kGroupLabelNames);
  FamilyBuilder sources(metric::kConnectionAgeSources, MetricType::Gauge, {"source"});
  for (AgeSource source : kAgeSources) sources.Set({AgeSourceName(source)}, 0);
  struct AgeGroup {
    double max_age = 0;
    double long_connections = 0;
  };
  std::unordered_map<ConnectionGroup, AgeGroup, ConnectionGroupHash> groups;
  double by_source[std::size(kAgeSources)] = {};
  std::vector<std::string_view> names;
  for (size_t i = 0; i < snapshot.sockets.size() && i < snapshot.ages.size(); ++i) {
    const std::optional<ConnectionAge>& age = snapshot.ages[i];
    if (!age) continue;
    const SocketClass& socket_class = snapshot.classes[i];
    by_source[static_cast<size_t>(age->source)] += 1;
    // As the long_connection check judges: an upper bound alone is not long.
    bool is_long = CertainAgeSeconds(*age) > long_connection_seconds;
    OwnerNameViews(snapshot, snapshot.sockets[i], names);
    if (names.empty()) names.emplace_back();  // unowned: process=""
    for (std::string_view name : names) {
      auto [it, inserted] =
          groups.try_emplace(ConnectionGroup{name, socket_class.direction, socket_class.remote_zone,
                                             WorkloadIndex(snapshot, i)},
                             AgeGroup{age->age_seconds, 0});
      if (!inserted) it->second.max_age = std::max(it->second.max_age, age->age_seconds);
      // Every group gets a series (0 when nothing is long), so rules see it drop to 0.
      if (is_long) it->second.long_connections += 1;
    }
  }
  for (AgeSource source : kAgeSources) {
    double count = by_source[static_cast<size_t>(source)];
    if (count > 0) sources.Add({AgeSourceName(source)}, count);
  }
  for (const auto& [group, value] : groups) {
    LabelValues labels = GroupLabels(snapshot, group);
    max_age.Max(labels, value.max_age);
    long_connections.Add(labels, value.long_connections);
  }
  families.push_back(max_age.Build(options.max_series, counters.series_dropped));
  families.push_back(long_connections.Build(options.max_series, counters.series_dropped));
  families.push_back(sources.Build(kUncapped, counters.series_dropped));
}

// The state of the policy machinery: learning, the learned rules, the last reload.
void AddPolicyStateFamilies(const PolicyView& policy, CumulativeCounters& counters,
                            std::vector<MetricFamily>& families) {
  FamilyBuilder learning(metric::kBaselineLearning, MetricType::Gauge, {});
  learning.Set({}, policy.learning ? 1 : 0);
  FamilyBuilder rules(metric::kBaselineRules, MetricType::Gauge, {"section"});
  for (const auto& [section, count] : policy.baseline_rules) {
    rules.Set({section}, static_cast<double>(count));
  }
  FamilyBuilder reload_ok(metric::kReloadSuccessful, MetricType::Gauge, {});
  reload_ok.Set({}, policy.last_reload_successful ? 1 : 0);
  FamilyBuilder reload_time(metric::kReloadSuccessTimestamp, MetricType::Gauge, {});
  reload_time.Set({}, policy.last_reload_success_timestamp_seconds);
  for (const FamilyBuilder* builder : {&learning, &rules, &reload_ok, &reload_time}) {
    families.push_back(builder->Build(kUncapped, counters.series_dropped));
  }
}

// How exact the age of the finding's connection is; "" for a socket with no age. A label
// that adds no series: a connection's age source is fixed when it is first tracked.
std::string AgeSourceLabel(const Snapshot& snapshot, size_t socket) {
  if (socket >= snapshot.ages.size() || !snapshot.ages[socket]) return "";
  return AgeSourceName(snapshot.ages[socket]->source);
}

// The verdicts of the policy checks.
void AddCheckFamilies(const Snapshot& snapshot, const Evaluation& evaluation,
                      const PolicyView& view, const MetricsOptions& options,
                      CumulativeCounters& counters, std::vector<MetricFamily>& families) {
  const FindingEvents* finding_events = view.finding_events;
  FamilyBuilder active(metric::kCheckActive, MetricType::Gauge, {"check"});
  for (int check = 0; check < kCheckCount; ++check) {
    active.Set({CheckName(static_cast<Check>(check))}, evaluation.active[check] ? 1 : 0);
  }
  FamilyBuilder unexpected_listeners(metric::kUnexpectedListeners, MetricType::Gauge, {});
  FamilyBuilder services(metric::kExpectedServiceUp, MetricType::Gauge,
                         {"service", "protocol", "port"});
  for (const ServiceState& state : evaluation.services) {
    services.Set({state.service->name, ProtocolMatchName(state.service->protocol),
                  std::to_string(state.service->port)},
                 state.up ? 1 : 0);
  }
  FamilyBuilder processes(metric::kUnexpectedNetworkProcesses, MetricType::Gauge, {});
  processes.Set({}, static_cast<double>(evaluation.unexpected_network_processes));
  FamilyBuilder process_sockets(metric::kUnexpectedNetworkProcessSockets, MetricType::Gauge,
                                {"process", "namespace", "pod", "container"});
  for (const auto& [key, count] : evaluation.unexpected_network_process_sockets) {
    LabelValues labels{key.first};
    AppendWorkloadLabels(WorkloadAt(snapshot, key.second), labels);
    process_sockets.Add(labels, static_cast<double>(count));
  }
  FamilyBuilder paths(
      metric::kPathViolations, MetricType::Gauge,
      {"process", "direction", "remote_zone", "port", "namespace", "pod", "container"});
  FamilyBuilder findings(metric::kFindingInfo, MetricType::Gauge,
                         {std::begin(kFindingLabelNames), std::end(kFindingLabelNames)});
  size_t unexpected_listener_sockets = 0;
  std::optional<size_t> last_listener_socket;
  for (const Finding& finding : evaluation.findings) {
    LabelValues labels = FindingLabels(snapshot, evaluation, finding);
    findings.Set(labels, 1);
    if (finding.check == Check::kUnexpectedListener && last_listener_socket != finding.socket) {
      ++unexpected_listener_sockets;  // findings are per owner; the gauge counts sockets
      last_listener_socket = finding.socket;
    }
    if (finding.check == Check::kPathViolation) {
      // process, direction and zone as the finding has them; the path's port; the pod.
      LabelValues path{labels[1], labels[8], labels[9], std::to_string(finding.path_port)};
      AppendWorkloadLabels(snapshot.WorkloadOf(*finding.socket), path);
      paths.Add(path, 1);
    }
  }
  unexpected_listeners.Set({}, static_cast<double>(unexpected_listener_sockets));
  for (const FamilyBuilder* builder : {&active, &unexpected_listeners, &services, &processes}) {
    families.push_back(builder->Build(kUncapped, counters.series_dropped));
  }
  FamilyBuilder deleted(metric::kDeletedExecutableProcesses, MetricType::Gauge, {"process"});
  for (const auto& [name, count] : evaluation.deleted_executable_processes) {
    deleted.Add({name}, static_cast<double>(count));
  }
  families.push_back(process_sockets.Build(options.max_series, counters.series_dropped));
  families.push_back(paths.Build(options.max_series, counters.series_dropped));
  families.push_back(deleted.Build(options.max_series, counters.series_dropped));
  MetricFamily finding_info = findings.Build(options.max_finding_series, counters.series_dropped);
  // Live findings first, then the detections', then those held after their connection
  // ended: what the cap drops is the oldest news.
  if (view.detections != nullptr) {
    uint64_t dropped = 0;
    AppendDetectionFindings(*view.detections, options.max_finding_series, finding_info, dropped);
    counters.series_dropped[metric::kFindingInfo.name] += dropped;
  }
  if (finding_events != nullptr) {
    uint64_t dropped = 0;
    AppendHeldFindings(finding_events->held(), options.max_finding_series, finding_info, dropped);
    counters.series_dropped[metric::kFindingInfo.name] += dropped;
  }
  families.push_back(std::move(finding_info));
}

// What the socket table holds: sockets by state, listeners by owner, connections by owner,
// direction and zone, and the unowned.
class SocketFamilies {
 public:
  explicit SocketFamilies(const Evaluation* evaluation) : evaluation_(evaluation) {
    unowned_.Set({"tcp"}, 0);
    unowned_.Set({"udp"}, 0);
    for (Attribution reason : kUnattributedReasons) unattributed_.Set({AttributionName(reason)}, 0);
  }

  void Count(const Snapshot& snapshot) {
    snapshot_ = &snapshot;
    std::vector<std::string_view> names;
    for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
      const Socket& socket = snapshot.sockets[i];
      CountState(socket);
      OwnerNameViews(snapshot, socket, names);
      // Sockets without an inode (TIME_WAIT, request sockets, orphans) belong to no process
      // by nature; only sockets that should have an owner count as unowned.
      if (names.empty() && socket.inode != 0) {
        unowned_by_transport_[static_cast<size_t>(socket.transport)] += 1;
      }
      if (names.empty()) names.emplace_back();  // unowned: process=""
      const SocketClass& socket_class = snapshot.classes[i];
      CountUnattributed(snapshot, i, socket_class);
      uint32_t workload = WorkloadIndex(snapshot, i);
      if (socket_class.role == SocketRole::kListener) {
        AddListener(socket, i, names, WorkloadAt(snapshot, workload));
      } else if (socket_class.role == SocketRole::kConnection) {
        for (std::string_view name : names) {
          connection_groups_[{name, socket_class.direction, socket_class.remote_zone, workload}] +=
              1;
        }
      }
    }
  }

  // sockets, listeners and connections, capped.
  void BuildCapped(const MetricsOptions& options, CumulativeCounters& counters,
                   std::vector<MetricFamily>& families) {
    for (Transport transport : {Transport::kTcp, Transport::kUdp}) {
      for (Family family : {Family::kIpv4, Family::kIpv6}) {
        for (int state = 0; state <= kMaxSocketState; ++state) {
          double count =
              by_state_[static_cast<size_t>(transport)][static_cast<size_t>(family)][state];
          if (count == 0) continue;
          sockets_.Add({TransportName(transport), FamilyName(family),
                        StateName(transport, static_cast<SocketState>(state))},
                       count);
        }
      }
      double count = unowned_by_transport_[static_cast<size_t>(transport)];
      if (count > 0) unowned_.Add({TransportName(transport)}, count);
    }
    for (Attribution reason : kUnattributedReasons) {
      double count = unattributed_by_reason_[static_cast<size_t>(reason)];
      if (count > 0) unattributed_.Add({AttributionName(reason)}, count);
    }
    for (const auto& [group, count] : connection_groups_) {
      connections_.Add(GroupLabels(*snapshot_, group), count);
    }
    // Only families whose label values come from the host (names, addresses, ports) can grow
    // without bound; those are capped. connwatch_sockets is bounded by its enums, but capping
    // it too costs nothing and keeps the rule "every family is capped" simple.
    for (const FamilyBuilder* builder : {&sockets_, &listeners_, &connections_}) {
      families.push_back(builder->Build(options.max_series, counters.series_dropped));
    }
  }

  const FamilyBuilder& unowned() const { return unowned_; }
  const FamilyBuilder& unattributed() const { return unattributed_; }

 private:
  static constexpr Attribution kUnattributedReasons[] = {
      Attribution::kAcceptQueue, Attribution::kOwnerExited, Attribution::kUnknown};

  // Sockets with a peer (connections in any state, not listeners) that no fd of their own
  // attributes: what a responder reads next to the findings the evaluator did not raise.
  void CountUnattributed(const Snapshot& snapshot, size_t index, const SocketClass& socket_class) {
    if (socket_class.role == SocketRole::kListener || snapshot.sockets[index].remote_port == 0) {
      return;
    }
    Attribution attribution = snapshot.AttributionOf(index);
    if (attribution == Attribution::kAcceptQueue || attribution == Attribution::kOwnerExited ||
        attribution == Attribution::kUnknown) {
      unattributed_by_reason_[static_cast<size_t>(attribution)] += 1;
    }
  }

  // Summed per enum combination, then handed to the builder.
  void CountState(const Socket& socket) {
    size_t state = static_cast<size_t>(socket.state);
    if (state <= static_cast<size_t>(kMaxSocketState)) {
      by_state_[static_cast<size_t>(socket.transport)][static_cast<size_t>(socket.family)][state] +=
          1;
    } else {
      sockets_.Add({TransportName(socket.transport), FamilyName(socket.family),
                    StateName(socket.transport, socket.state)},
                   1);
    }
  }

  void AddListener(const Socket& socket, size_t index, const std::vector<std::string_view>& names,
                   const Workload& workload) {
    std::string address = FormatIpAddress(socket.local);
    std::string port = std::to_string(socket.local_port);
    bool expected = evaluation_ == nullptr || index >= evaluation_->listener_expected.size() ||
                    evaluation_->listener_expected[index] != 0;
    for (std::string_view name : names) {
      LabelValues labels{TransportName(socket.transport),
                         address,
                         port,
                         std::string(name),
                         expected ? "true" : "false",
                         std::string(snapshot_->NetnsNameOf(socket))};
      AppendWorkloadLabels(workload, labels);
      listeners_.Set(labels, 1);
    }
  }

  const Evaluation* evaluation_;
  const Snapshot* snapshot_ = nullptr;  // the one Count saw
  FamilyBuilder sockets_{metric::kSockets, MetricType::Gauge, {"protocol", "family", "state"}};
  FamilyBuilder listeners_{metric::kListenerInfo,
                           MetricType::Gauge,
                           {"protocol", "address", "port", "process", "expected", "netns",
                            "namespace", "pod", "container"}};
  FamilyBuilder connections_{metric::kProcessConnections, MetricType::Gauge, kGroupLabelNames};
  FamilyBuilder unowned_{metric::kUnownedSockets, MetricType::Gauge, {"protocol"}};
  FamilyBuilder unattributed_{metric::kUnattributedConnections, MetricType::Gauge, {"reason"}};
  double unattributed_by_reason_[static_cast<size_t>(Attribution::kUnknown) + 1] = {};
  double by_state_[2][2][kMaxSocketState + 1] = {};
  double unowned_by_transport_[2] = {0, 0};
  std::unordered_map<ConnectionGroup, double, ConnectionGroupHash> connection_groups_;
};

// connwatch_container_info: one series per container of this sample's sockets, carrying what
// the high-volume families leave out (the id, the runtime). netns is the namespace of the
// container's first socket ("" for connwatch's own).
MetricFamily ContainerInfoFamily(const Snapshot& snapshot, const MetricsOptions& options,
                                 CumulativeCounters& counters) {
  FamilyBuilder info(metric::kContainerInfo, MetricType::Gauge,
                     {"netns", "container_id", "runtime", "namespace", "pod", "container"});
  std::vector<std::string_view> netns(snapshot.workloads.size());
  std::vector<bool> seen(snapshot.workloads.size(), false);
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    uint32_t workload = WorkloadIndex(snapshot, i);
    if (workload == 0 || seen[workload]) continue;
    seen[workload] = true;
    netns[workload] = snapshot.NetnsNameOf(snapshot.sockets[i]);
  }
  for (size_t w = 1; w < snapshot.workloads.size(); ++w) {
    const Workload& workload = snapshot.workloads[w];
    if (workload.container_id.empty()) continue;  // a pod's cgroup, not a container's
    LabelValues labels{std::string(netns[w]), workload.container_id, workload.runtime};
    AppendWorkloadLabels(workload, labels);
    info.Set(labels, 1);
  }
  return info.Build(options.max_series, counters.series_dropped);
}

// A counter family from a map of cumulative counts, with `zeros` present from the start.
FamilyBuilder CounterFamily(const metric::Info& info, const char* label,
                            const std::map<std::string, uint64_t>& counts,
                            std::initializer_list<const char*> zeros = {}) {
  FamilyBuilder builder(info, MetricType::Counter, {label});
  for (const char* value : zeros) builder.Set({value}, 0);
  for (const auto& [value, count] : counts) builder.Set({value}, static_cast<double>(count));
  return builder;
}

// What the HTTP front refused, every reason from the start.
MetricFamily HttpRejectionsFamily(const HttpRejections* rejections, CumulativeCounters& counters) {
  FamilyBuilder rejected(metric::kHttpConnectionsRejected, MetricType::Counter, {"reason"});
  for (size_t i = 0; i < kRejectReasonNames.size(); ++i) {
    auto reason = static_cast<RejectReason>(i);
    rejected.Set({kRejectReasonNames[i]},
                 rejections ? static_cast<double>(rejections->Get(reason)) : 0.0);
  }
  return rejected.Build(kUncapped, counters.series_dropped);
}

// The families about connwatch itself: collectors, the socket source, the error counters,
// build info and the sample. Built after the capped families, so this sample's drops count.
void AddSelfFamilies(const Snapshot& snapshot, const FamilyBuilder& unowned,
                     const FamilyBuilder& unattributed, CumulativeCounters& counters,
                     std::vector<MetricFamily>& families) {
  FamilyBuilder collector_success(metric::kCollectorSuccess, MetricType::Gauge, {"collector"});
  FamilyBuilder collector_duration(metric::kCollectorDuration, MetricType::Gauge, {"collector"});
  for (const CollectorResult& result : snapshot.collectors) {
    collector_success.Set({result.name}, result.success ? 1 : 0);
    collector_duration.Set({result.name}, result.duration_seconds);
  }
  FamilyBuilder source(metric::kSocketSource, MetricType::Gauge, {"source", "fallback"});
  source.Set({SocketSourceName(snapshot.source), snapshot.fell_back ? "1" : "0"}, 1);
  FamilyBuilder dropped =
      CounterFamily(metric::kSeriesDropped, "metric", counters.series_dropped,
                    {metric::kListenerInfo.name, metric::kProcessConnections.name,
                     metric::kSockets.name, metric::kFindingInfo.name, metric::kPathViolations.name,
                     metric::kUnexpectedNetworkProcessSockets.name, metric::kConnectionMaxAge.name,
                     metric::kLongConnections.name, metric::kDeletedExecutableProcesses.name,
                     metric::kContainerInfo.name, metric::kNetnsInfo.name, metric::kBeacons.name,
                     metric::kBeaconScore.name, metric::kOutboundScanTargets.name});
  FamilyBuilder scan_errors = CounterFamily(metric::kScanErrors, "kind", counters.scan_errors);
  FamilyBuilder parse_errors = CounterFamily(metric::kParseErrors, "source", counters.parse_errors);
  // Keyed "op:file" (load or save; baseline or connections), every pair exported from the
  // start so that increase() sees the first failure.
  FamilyBuilder state_errors(metric::kStateErrors, MetricType::Counter, {"op", "file"});
  for (const char* op : {"load", "save"}) {
    for (const char* file : {"baseline", "connections", "beacons"}) {
      state_errors.Set({op, file}, 0);
    }
  }
  for (const auto& [key, count] : counters.state_errors) {
    size_t colon = key.find(':');
    state_errors.Set({key.substr(0, colon), key.substr(colon + 1)}, static_cast<double>(count));
  }
  FamilyBuilder conntrack(metric::kConntrackTimestamps, MetricType::Gauge, {});
  if (snapshot.conntrack_timestamps) conntrack.Set({}, *snapshot.conntrack_timestamps ? 1 : 0);
  FamilyBuilder build_info(metric::kBuildInfo, MetricType::Gauge, {"version", "revision"});
  build_info.Set({kVersion, kRevision}, 1);
  for (const FamilyBuilder* builder : std::initializer_list<const FamilyBuilder*>{
           &unowned, &unattributed, &collector_success, &collector_duration, &source, &dropped,
           &scan_errors, &parse_errors, &state_errors, &conntrack, &build_info}) {
    families.push_back(builder->Build(kUncapped, counters.series_dropped));
  }
}

}  // namespace

// The facts a connwatch_finding_info series carries about its socket or service.
LabelValues FindingLabels(const Snapshot& snapshot, const Evaluation& evaluation,
                          const Finding& finding) {
  std::string pid = finding.pid > 0 ? std::to_string(finding.pid) : "";
  if (!finding.socket) {
    // An expected service that is down has no socket: the service's own facts.
    const ExpectedService* service = nullptr;
    for (const ServiceState& state : evaluation.services) {
      if (state.service->name == finding.service) service = state.service;
    }
    // exe: where the missing listener's binary should live, as process is who.
    return {CheckName(finding.check),
            finding.process,
            pid,
            service ? ProtocolMatchName(service->protocol) : "",
            "",
            service ? std::to_string(service->port) : "",
            "",
            "",
            "",
            "",
            "",
            service ? ExeLabel(service->exe) : "",
            "",
            "",
            "",
            ""};
  }
  auto owner = snapshot.processes.find(finding.pid);
  std::string exe = owner != snapshot.processes.end() ? ExeLabel(owner->second.exe) : "";
  const Socket& socket = snapshot.sockets[*finding.socket];
  const SocketClass& socket_class = snapshot.classes[*finding.socket];
  bool has_peer = socket.remote_port != 0;
  const Workload& workload = snapshot.WorkloadOf(*finding.socket);
  return {CheckName(finding.check),
          finding.process,
          pid,
          TransportName(socket.transport),
          FormatIpAddress(socket.local),
          std::to_string(socket.local_port),
          has_peer ? FormatIpAddress(socket.remote) : "",
          has_peer ? std::to_string(socket.remote_port) : "",
          DirectionName(socket_class.direction),
          socket_class.remote_zone ? *socket_class.remote_zone : "",
          AgeSourceLabel(snapshot, *finding.socket),
          exe,
          std::string(snapshot.NetnsNameOf(socket)),
          workload.k8s_namespace,
          workload.pod,
          workload.container};
}

void CumulativeCounters::AddSnapshot(const Snapshot& snapshot) {
  ++samples;
  const OwnerScanStats& owners = snapshot.owner_stats;
  const ProcessReadStats& processes = snapshot.process_stats;
  scan_errors["permission_denied"] += owners.permission_denied + processes.permission_denied;
  scan_errors["vanished"] += owners.vanished + processes.vanished;
  scan_errors["other"] += owners.other_errors;
  parse_errors["sock_diag"] += snapshot.sock_diag_stats.malformed_messages;
  parse_errors["proc_net"] += snapshot.proc_net_stats.malformed_lines;
  // From the first sample on, so that increase() sees the first refused bundle.
  parse_errors["oci_config"] += snapshot.workload_stats.metadata_errors;
  // Only once conntrack was dumped: a host without timestamps has no such source.
  if (snapshot.conntrack_timestamps.value_or(false)) {
    parse_errors["conntrack"] += snapshot.conntrack_stats.malformed_messages;
  }
}

std::vector<MetricFamily> BuildFamilies(const Snapshot& snapshot, double sample_duration_seconds,
                                        const MetricsOptions& options, CumulativeCounters& counters,
                                        const PolicyView* policy, const EventsView* events) {
  const Evaluation* evaluation = policy ? policy->evaluation : nullptr;
  SocketFamilies socket_families(evaluation);
  socket_families.Count(snapshot);

  std::vector<MetricFamily> families;
  if (!snapshot.ages.empty()) {
    AddAgeFamilies(snapshot, policy ? policy->long_connection_seconds : 3600, options, counters,
                   families);
  }
  if (policy != nullptr) {
    AddPolicyStateFamilies(*policy, counters, families);
    if (evaluation != nullptr) {
      AddCheckFamilies(snapshot, *evaluation, *policy, options, counters, families);
    }
  }
  if (policy != nullptr && policy->detections != nullptr) {
    AddDetectionFamilies(*policy->detections, options.max_series, options.max_finding_series,
                         counters.series_dropped, families);
  }
  socket_families.BuildCapped(options, counters, families);
  families.push_back(ContainerInfoFamily(snapshot, options, counters));
  AddNetnsFamilies(snapshot, options.max_series, counters.series_dropped, families);
  if (events != nullptr) {
    AddEventFamilies(*events, options.max_series, counters.series_dropped, families);
  }
  AddSelfFamilies(snapshot, socket_families.unowned(), socket_families.unattributed(), counters,
                  families);
  families.push_back(HttpRejectionsFamily(options.http_rejections, counters));
  families.push_back(
      SingleSeries(metric::kLastSampleTimestamp, MetricType::Gauge, snapshot.timestamp_seconds));
  families.push_back(
      SingleSeries(metric::kSampleDuration, MetricType::Gauge, sample_duration_seconds));
  families.push_back(
      SingleSeries(metric::kSamples, MetricType::Counter, static_cast<double>(counters.samples)));
  return families;
}

}  // namespace connwatch
