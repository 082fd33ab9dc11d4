#include "metrics/collector.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "base/text.h"
#include "metrics/metric_names.h"
#include "net/cidr.h"
#include "tracking/connection_ages.h"
#include "version.h"

namespace connwatch {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using LabelValues = std::vector<std::string>;

// Collects the series of one family keyed by label values (sanitized, so two raw names
// that sanitize alike merge into one series), then emits at most `max_series` of them.
class FamilyBuilder {
 public:
  FamilyBuilder(const metric::Info& info, MetricType type, std::vector<std::string> label_names)
      : info_(info), type_(type), label_names_(std::move(label_names)) {}

  void Add(const LabelValues& values, double amount) {
    LabelValues clean;
    clean.reserve(values.size());
    for (const std::string& value : values) clean.push_back(SanitizeUtf8(value));
    series_[std::move(clean)] += amount;
  }
  void Max(const LabelValues& values, double value) {
    LabelValues clean;
    for (const std::string& label : values) clean.push_back(SanitizeUtf8(label));
    auto [it, inserted] = series_.emplace(std::move(clean), value);
    if (!inserted && value > it->second) it->second = value;
  }
  void Set(const LabelValues& values, double value) {
    LabelValues clean;
    for (const std::string& value : values) clean.push_back(SanitizeUtf8(value));
    series_[std::move(clean)] = value;
  }

  // Keeps the largest values (the busiest processes matter most to a responder), ties
  // broken by labels so the choice is stable from sample to sample.
  MetricFamily Build(size_t max_series, CumulativeCounters& counters) const {
    std::vector<std::pair<const LabelValues*, double>> ordered;
    ordered.reserve(series_.size());
    for (const auto& [labels, value] : series_) ordered.emplace_back(&labels, value);
    if (ordered.size() > max_series) {
      std::stable_sort(ordered.begin(), ordered.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      counters.series_dropped[info_.name] += ordered.size() - max_series;
      ordered.resize(max_series);
      std::sort(ordered.begin(), ordered.end(),
                [](const auto& a, const auto& b) { return *a.first < *b.first; });
    }
    MetricFamily family{info_.name, info_.help, type_, {}};
    family.metric.reserve(ordered.size());
    for (const auto& [labels, value] : ordered) {
      ClientMetric metric;
      for (size_t i = 0; i < label_names_.size(); ++i) {
        metric.label.push_back({label_names_[i], (*labels)[i]});
      }
      if (type_ == MetricType::Counter) {
        metric.counter.value = value;
      } else {
        metric.gauge.value = value;
      }
      family.metric.push_back(std::move(metric));
    }
    return family;
  }

 private:
  const metric::Info& info_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::map<LabelValues, double> series_;
};

MetricFamily Single(const metric::Info& info, MetricType type, double value) {
  ClientMetric metric;
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return MetricFamily{info.name, info.help, type, {metric}};
}

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
  bool operator==(const ConnectionGroup&) const = default;
};

struct ConnectionGroupHash {
  size_t operator()(const ConnectionGroup& group) const {
    size_t seed = std::hash<std::string_view>{}(group.process);
    seed ^= std::hash<const void*>{}(group.zone) + 0x9e3779b97f4a7c15ULL + (seed << 6);
    return seed ^ static_cast<size_t>(group.direction);
  }
};

LabelValues GroupLabels(const ConnectionGroup& group) {
  return {std::string(group.process), DirectionName(group.direction),
          group.zone ? *group.zone : std::string()};
}

// Connection ages, when the sampler tracked them.
void AddAgeFamilies(const Snapshot& snapshot, double long_connection_seconds,
                    const MetricsOptions& options, CumulativeCounters& counters,
                    std::vector<MetricFamily>& families) {
  FamilyBuilder max_age(metric::kConnectionMaxAge, MetricType::Gauge,
                        {"process", "direction", "remote_zone"});
  FamilyBuilder long_connections(metric::kLongConnections, MetricType::Gauge,
                                 {"process", "direction", "remote_zone"});
  FamilyBuilder sources(metric::kConnectionAgeSources, MetricType::Gauge, {"source"});
  for (AgeSource source :
       {AgeSource::kConntrack, AgeSource::kFirstSeen, AgeSource::kProcessStart}) {
    sources.Set({AgeSourceName(source)}, 0);
  }
  struct AgeGroup {
    double max_age = 0;
    double long_connections = 0;
  };
  std::unordered_map<ConnectionGroup, AgeGroup, ConnectionGroupHash> groups;
  double by_source[3] = {0, 0, 0};
  std::vector<std::string_view> names;
  for (size_t i = 0; i < snapshot.sockets.size() && i < snapshot.ages.size(); ++i) {
    const std::optional<ConnectionAge>& age = snapshot.ages[i];
    if (!age) continue;
    const SocketClass& socket_class = snapshot.classes[i];
    by_source[static_cast<size_t>(age->source)] += 1;
    bool is_long = age->age_seconds > long_connection_seconds;
    OwnerNameViews(snapshot, snapshot.sockets[i], names);
    if (names.empty()) names.emplace_back();  // unowned: process=""
    for (std::string_view name : names) {
      auto [it, inserted] = groups.try_emplace(
          ConnectionGroup{name, socket_class.direction, socket_class.remote_zone},
          AgeGroup{age->age_seconds, 0});
      if (!inserted) it->second.max_age = std::max(it->second.max_age, age->age_seconds);
      // Every group gets a series (0 when nothing is long), so rules see it drop to 0.
      if (is_long) it->second.long_connections += 1;
    }
  }
  for (AgeSource source :
       {AgeSource::kConntrack, AgeSource::kFirstSeen, AgeSource::kProcessStart}) {
    double count = by_source[static_cast<size_t>(source)];
    if (count > 0) sources.Add({AgeSourceName(source)}, count);
  }
  for (const auto& [group, value] : groups) {
    LabelValues labels = GroupLabels(group);
    max_age.Max(labels, value.max_age);
    long_connections.Add(labels, value.long_connections);
  }
  families.push_back(max_age.Build(options.max_series, counters));
  families.push_back(long_connections.Build(options.max_series, counters));
  families.push_back(sources.Build(SIZE_MAX, counters));
}

// The verdicts of the policy checks and the state of the policy machinery.
void AddPolicyFamilies(const Snapshot& snapshot, const PolicyView& policy,
                       const MetricsOptions& options, CumulativeCounters& counters,
                       std::vector<MetricFamily>& families) {
  constexpr size_t kUncapped = SIZE_MAX;
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
    families.push_back(builder->Build(kUncapped, counters));
  }
  if (policy.evaluation == nullptr) return;
  const Evaluation& evaluation = *policy.evaluation;

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
                                {"process"});
  for (const auto& [name, count] : evaluation.unexpected_network_process_sockets) {
    process_sockets.Add({name}, static_cast<double>(count));
  }
  FamilyBuilder paths(metric::kPathViolations, MetricType::Gauge,
                      {"process", "direction", "remote_zone", "port"});
  FamilyBuilder findings(metric::kFindingInfo, MetricType::Gauge,
                         {"check", "process", "pid", "protocol", "local_address", "local_port",
                          "remote_address", "remote_port", "direction", "remote_zone"});
  size_t unexpected_listener_sockets = 0;
  std::optional<size_t> last_listener_socket;
  for (const Finding& finding : evaluation.findings) {
    std::string pid = finding.pid > 0 ? std::to_string(finding.pid) : "";
    if (!finding.socket) {
      // An expected service that is down has no socket: the service's own facts.
      const ExpectedService* service = nullptr;
      for (const ServiceState& state : evaluation.services) {
        if (state.service->name == finding.service) service = state.service;
      }
      findings.Set({CheckName(finding.check), finding.process, pid,
                    service ? ProtocolMatchName(service->protocol) : "", "",
                    service ? std::to_string(service->port) : "", "", "", "", ""},
                   1);
      continue;
    }
    const Socket& socket = snapshot.sockets[*finding.socket];
    const SocketClass& socket_class = snapshot.classes[*finding.socket];
    bool has_peer = socket.remote_port != 0;
    std::string zone = socket_class.remote_zone ? *socket_class.remote_zone : "";
    findings.Set({CheckName(finding.check), finding.process, pid, TransportName(socket.transport),
                  FormatIpAddress(socket.local), std::to_string(socket.local_port),
                  has_peer ? FormatIpAddress(socket.remote) : "",
                  has_peer ? std::to_string(socket.remote_port) : "",
                  DirectionName(socket_class.direction), zone},
                 1);
    if (finding.check == Check::kUnexpectedListener && last_listener_socket != finding.socket) {
      ++unexpected_listener_sockets;  // findings are per owner; the gauge counts sockets
      last_listener_socket = finding.socket;
    }
    if (finding.check == Check::kPathViolation) {
      paths.Add({finding.process, DirectionName(socket_class.direction), zone,
                 std::to_string(finding.path_port)},
                1);
    }
  }
  unexpected_listeners.Set({}, static_cast<double>(unexpected_listener_sockets));
  for (const FamilyBuilder* builder : {&active, &unexpected_listeners, &services, &processes}) {
    families.push_back(builder->Build(kUncapped, counters));
  }
  families.push_back(process_sockets.Build(options.max_series, counters));
  families.push_back(paths.Build(options.max_series, counters));
  families.push_back(findings.Build(options.max_finding_series, counters));
}

}  // namespace

void CumulativeCounters::AddSnapshot(const Snapshot& snapshot) {
  ++samples;
  const OwnerScanStats& owners = snapshot.owner_stats;
  const ProcessReadStats& processes = snapshot.process_stats;
  scan_errors["permission_denied"] += owners.permission_denied + processes.permission_denied;
  scan_errors["vanished"] += owners.vanished + processes.vanished;
  scan_errors["other"] += owners.other_errors;
  parse_errors["sock_diag"] += snapshot.sock_diag_stats.malformed_messages;
  parse_errors["proc_net"] += snapshot.proc_net_stats.malformed_lines;
}

std::vector<MetricFamily> BuildFamilies(const Snapshot& snapshot, double sample_duration_seconds,
                                        const MetricsOptions& options, CumulativeCounters& counters,
                                        const PolicyView* policy) {
  FamilyBuilder sockets(metric::kSockets, MetricType::Gauge, {"protocol", "family", "state"});
  FamilyBuilder listeners(metric::kListenerInfo, MetricType::Gauge,
                          {"protocol", "address", "port", "process", "expected"});
  const Evaluation* evaluation = policy ? policy->evaluation : nullptr;
  FamilyBuilder connections(metric::kProcessConnections, MetricType::Gauge,
                            {"process", "direction", "remote_zone"});
  FamilyBuilder unowned(metric::kUnownedSockets, MetricType::Gauge, {"protocol"});
  unowned.Set({"tcp"}, 0);
  unowned.Set({"udp"}, 0);

  // Summed per enum combination and per connection group, then handed to the builders.
  double by_state[2][2][kMaxSocketState + 1] = {};
  double unowned_by_transport[2] = {0, 0};
  std::unordered_map<ConnectionGroup, double, ConnectionGroupHash> connection_groups;
  std::vector<std::string_view> names;
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    const Socket& socket = snapshot.sockets[i];
    const SocketClass& socket_class = snapshot.classes[i];
    const char* protocol = TransportName(socket.transport);
    size_t state = static_cast<size_t>(socket.state);
    if (state <= static_cast<size_t>(kMaxSocketState)) {
      by_state[static_cast<size_t>(socket.transport)][static_cast<size_t>(socket.family)][state] +=
          1;
    } else {
      sockets.Add({protocol, FamilyName(socket.family), StateName(socket.transport, socket.state)},
                  1);
    }
    OwnerNameViews(snapshot, socket, names);
    // Sockets without an inode (TIME_WAIT, request sockets, orphans) belong to no process
    // by nature; only sockets that should have an owner count as unowned.
    if (names.empty() && socket.inode != 0) {
      unowned_by_transport[static_cast<size_t>(socket.transport)] += 1;
    }
    if (names.empty()) names.emplace_back();  // unowned: process=""
    if (socket_class.role == SocketRole::kListener) {
      std::string address = FormatIpAddress(socket.local);
      std::string port = std::to_string(socket.local_port);
      bool expected = evaluation == nullptr || i >= evaluation->listener_expected.size() ||
                      evaluation->listener_expected[i] != 0;
      for (std::string_view name : names) {
        listeners.Set({protocol, address, port, std::string(name), expected ? "true" : "false"}, 1);
      }
    } else if (socket_class.role == SocketRole::kConnection) {
      for (std::string_view name : names) {
        connection_groups[{name, socket_class.direction, socket_class.remote_zone}] += 1;
      }
    }
  }
  for (Transport transport : {Transport::kTcp, Transport::kUdp}) {
    for (Family family : {Family::kIpv4, Family::kIpv6}) {
      for (int state = 0; state <= kMaxSocketState; ++state) {
        double count = by_state[static_cast<size_t>(transport)][static_cast<size_t>(family)][state];
        if (count == 0) continue;
        sockets.Add({TransportName(transport), FamilyName(family),
                     StateName(transport, static_cast<SocketState>(state))},
                    count);
      }
    }
    double count = unowned_by_transport[static_cast<size_t>(transport)];
    if (count > 0) unowned.Add({TransportName(transport)}, count);
  }
  for (const auto& [group, count] : connection_groups) connections.Add(GroupLabels(group), count);

  FamilyBuilder collector_success(metric::kCollectorSuccess, MetricType::Gauge, {"collector"});
  FamilyBuilder collector_duration(metric::kCollectorDuration, MetricType::Gauge, {"collector"});
  for (const CollectorResult& result : snapshot.collectors) {
    collector_success.Set({result.name}, result.success ? 1 : 0);
    collector_duration.Set({result.name}, result.duration_seconds);
  }
  FamilyBuilder source(metric::kSocketSource, MetricType::Gauge, {"source", "fallback"});
  source.Set({SocketSourceName(snapshot.source), snapshot.fell_back ? "1" : "0"}, 1);

  std::vector<MetricFamily> families;
  if (!snapshot.ages.empty()) {
    AddAgeFamilies(snapshot, policy ? policy->long_connection_seconds : 3600, options, counters,
                   families);
  }
  if (policy != nullptr) {
    AddPolicyFamilies(snapshot, *policy, options, counters, families);
  }

  // Only families whose label values come from the host (names, addresses, ports) can
  // grow without bound; those are capped. connwatch_sockets is bounded by its enums, but
  // capping it too costs nothing and keeps the rule "every family is capped" simple.
  for (const FamilyBuilder* builder : {&sockets, &listeners, &connections}) {
    families.push_back(builder->Build(options.max_series, counters));
  }

  // Built after the capped families so this sample's drops are included.
  FamilyBuilder dropped(metric::kSeriesDropped, MetricType::Counter, {"metric"});
  for (const char* name :
       {metric::kListenerInfo.name, metric::kProcessConnections.name, metric::kSockets.name,
        metric::kFindingInfo.name, metric::kPathViolations.name,
        metric::kUnexpectedNetworkProcessSockets.name, metric::kConnectionMaxAge.name,
        metric::kLongConnections.name}) {
    dropped.Set({name}, 0);
  }
  for (const auto& [name, count] : counters.series_dropped) {
    dropped.Set({name}, static_cast<double>(count));
  }
  FamilyBuilder scan_errors(metric::kScanErrors, MetricType::Counter, {"kind"});
  for (const auto& [kind, count] : counters.scan_errors) {
    scan_errors.Set({kind}, static_cast<double>(count));
  }
  FamilyBuilder parse_errors(metric::kParseErrors, MetricType::Counter, {"source"});
  for (const auto& [name, count] : counters.parse_errors) {
    parse_errors.Set({name}, static_cast<double>(count));
  }
  FamilyBuilder state_errors(metric::kStateErrors, MetricType::Counter, {"op"});
  state_errors.Set({"load"}, 0);
  state_errors.Set({"save"}, 0);
  for (const auto& [op, count] : counters.state_errors) {
    state_errors.Set({op}, static_cast<double>(count));
  }
  FamilyBuilder conntrack(metric::kConntrackTimestamps, MetricType::Gauge, {});
  if (snapshot.conntrack_timestamps) conntrack.Set({}, *snapshot.conntrack_timestamps ? 1 : 0);
  FamilyBuilder build_info(metric::kBuildInfo, MetricType::Gauge, {"version", "revision"});
  build_info.Set({kVersion, kRevision}, 1);
  // These families are small and bounded by enums or collector names: never capped, so
  // the counter of what the caps dropped is itself never dropped.
  constexpr size_t kUncapped = SIZE_MAX;
  for (const FamilyBuilder* builder :
       {&unowned, &collector_success, &collector_duration, &source, &dropped, &scan_errors,
        &parse_errors, &state_errors, &conntrack, &build_info}) {
    families.push_back(builder->Build(kUncapped, counters));
  }
  families.push_back(
      Single(metric::kLastSampleTimestamp, MetricType::Gauge, snapshot.timestamp_seconds));
  families.push_back(Single(metric::kSampleDuration, MetricType::Gauge, sample_duration_seconds));
  families.push_back(
      Single(metric::kSamples, MetricType::Counter, static_cast<double>(counters.samples)));
  return families;
}

std::string SerializeFamilies(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace connwatch
