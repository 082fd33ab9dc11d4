#include "metrics/finding_events.h"

#include <algorithm>
#include <cstdio>

#include "base/hash_combine.h"
#include "base/tab_fields.h"
#include "metrics/families.h"

namespace connwatch {
namespace {

// connwatch_finding_info's label positions (FindingLabels).
constexpr size_t kCheckLabel = 0, kProcessLabel = 1, kDirectionLabel = 8, kZoneLabel = 9,
                 kNamespaceLabel = 13, kPodLabel = 14, kContainerLabel = 15;
constexpr size_t kFindingLabelCount = 16;

LabelValues CountLabels(const LabelValues& finding) {
  return {finding[kCheckLabel],    finding[kProcessLabel],   finding[kDirectionLabel],
          finding[kZoneLabel],     finding[kNamespaceLabel], finding[kPodLabel],
          finding[kContainerLabel]};
}

double StartUnixOf(const ConnectionEvent& event, double now_boot, double now_unix) {
  return event.start_boot_seconds > 0 ? now_unix - (now_boot - event.start_boot_seconds) : 0;
}

constexpr std::string_view kHeldHeader = "# connwatch held findings 1\n";

}  // namespace

bool CountedPerConnection(Check check) {
  return check == Check::kPathViolation || check == Check::kUnexpectedNetworkProcess;
}

size_t FindingEvents::OpenKeyHash::operator()(const OpenKey& key) const {
  size_t seed = FlowKeyHash()(std::get<0>(key));
  HashCombine(seed, static_cast<uint64_t>(std::get<1>(key)));
  HashCombine(seed, static_cast<uint64_t>(std::get<2>(key)));
  return seed;
}

void FindingEvents::Count(const LabelValues& labels) { counts_[CountLabels(labels)] += 1; }

void FindingEvents::Hold(HeldFinding finding) {
  held_.push_back(std::move(finding));
  changed_ = true;
}

void FindingEvents::ObserveEnds(std::span<const ConnectionEvent> events, double now_boot,
                                double now_unix) {
  if (open_.empty()) return;
  // The open findings by connection: a connection may have several (checks, owners).
  std::unordered_map<FlowKey, std::vector<OpenKey>, FlowKeyHash> by_connection;
  for (const auto& [key, open] : open_) by_connection[std::get<0>(key)].push_back(key);
  for (const ConnectionEvent& event : events) {
    auto it = event.cookie != 0 ? by_connection.find(CookieFlowKeyOf(event)) : by_connection.end();
    if (it == by_connection.end()) it = by_connection.find(TupleFlowKeyOf(event));
    if (it == by_connection.end()) continue;
    for (const OpenKey& key : it->second) {
      const Open& open = open_.at(key);
      double start = event.start_boot_seconds > 0 ? StartUnixOf(event, now_boot, now_unix)
                                                  : open.first_seen_unix;
      double ended =
          event.end_boot_seconds > 0 ? now_unix - (now_boot - event.end_boot_seconds) : now_unix;
      Hold({open.labels, start, start > 0 ? ended - start : -1, event.has_bytes || open.has_bytes,
            event.has_bytes ? event.bytes_acked : open.bytes_sent,
            event.has_bytes ? event.bytes_received : open.bytes_received, ended, now_boot});
      open_.erase(key);
    }
    by_connection.erase(it);
  }
}

void FindingEvents::ObserveClosed(const Snapshot& closed, const Evaluation& evaluation,
                                  std::span<const ConnectionEvent> events, double now_boot,
                                  double now_unix) {
  for (const Finding& finding : evaluation.findings) {
    if (!CountedPerConnection(finding.check) || !finding.socket ||
        *finding.socket >= events.size()) {
      continue;
    }
    const ConnectionEvent& event = events[*finding.socket];
    LabelValues labels = FindingLabels(closed, evaluation, finding);
    Count(labels);
    double start = StartUnixOf(event, now_boot, now_unix);
    double ended =
        event.end_boot_seconds > 0 ? now_unix - (now_boot - event.end_boot_seconds) : now_unix;
    Hold({std::move(labels), start, start > 0 ? ended - start : -1, event.has_bytes,
          event.bytes_acked, event.bytes_received, ended, now_boot});
  }
}

void FindingEvents::ObserveLive(const Snapshot& live, const Evaluation& evaluation, double now_boot,
                                double now_unix) {
  for (auto& [key, open] : open_) ++open.missed;
  for (const Finding& finding : evaluation.findings) {
    if (!CountedPerConnection(finding.check) || !finding.socket) continue;
    size_t index = *finding.socket;
    const Socket& socket = live.sockets[index];
    OpenKey key{FlowKeyOf(live, index), static_cast<int>(finding.check), finding.pid};
    auto [it, inserted] = open_.try_emplace(key);
    Open& open = it->second;
    open.missed = 0;
    if (inserted) {
      open.labels = FindingLabels(live, evaluation, finding);
      open.first_seen_unix = now_unix;
      open.first_seen_boot = now_boot;
      Count(open.labels);
    }
    if (socket.has_bytes) {
      open.has_bytes = true;
      open.bytes_sent = socket.bytes_acked;
      open.bytes_received = socket.bytes_received;
    }
  }
  // Gone for two samples and no close record came: ended about when it was last seen.
  std::erase_if(open_, [&](const auto& item) {
    const Open& open = item.second;
    if (open.missed < 2) return false;
    Hold({open.labels, 0, -1, open.has_bytes, open.bytes_sent, open.bytes_received, now_unix,
          now_boot});
    return true;
  });
}

void FindingEvents::Expire(double hold_seconds, size_t max_held, double now_boot) {
  size_t before = held_.size();
  std::erase_if(held_,
                [&](const HeldFinding& held) { return now_boot - held.ended_boot > hold_seconds; });
  while (held_.size() > max_held) {
    held_.pop_front();
    ++dropped_;
  }
  if (held_.size() != before) changed_ = true;
}

bool FindingEvents::TakeChanged() {
  bool changed = changed_;
  changed_ = false;
  return changed;
}

std::string HeldFindingsPathIn(const std::string& storage_path) {
  return storage_path + "/findings.held";
}

std::string FormatHeldFindings(const std::deque<HeldFinding>& held) {
  std::string text(kHeldHeader);
  char number[64];
  for (const HeldFinding& finding : held) {
    for (double value : {finding.ended_unix, finding.start_unix, finding.duration}) {
      std::snprintf(number, sizeof(number), "%.3f\t", value);
      text += number;
    }
    std::snprintf(number, sizeof(number), "%d\t%llu\t%llu", finding.has_bytes ? 1 : 0,
                  static_cast<unsigned long long>(finding.bytes_sent),
                  static_cast<unsigned long long>(finding.bytes_received));
    text += number;
    for (const std::string& label : finding.labels) {
      text += '\t';
      AppendTabField(label, text);
    }
    text += '\n';
  }
  return text;
}

std::optional<std::vector<HeldFinding>> ParseHeldFindings(std::string_view text) {
  if (!text.starts_with(kHeldHeader)) return std::nullopt;
  text.remove_prefix(kHeldHeader.size());
  std::vector<HeldFinding> held;
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == std::string_view::npos) return std::nullopt;  // torn: never written so
    std::optional<std::vector<std::string>> split = SplitTabFields(text.substr(0, end));
    text.remove_prefix(end + 1);
    if (!split || split->size() != 6 + kFindingLabelCount) return std::nullopt;
    std::vector<std::string>& fields = *split;
    HeldFinding finding;
    try {
      finding.ended_unix = std::stod(fields[0]);
      finding.start_unix = std::stod(fields[1]);
      finding.duration = std::stod(fields[2]);
      finding.has_bytes = fields[3] == "1";
      finding.bytes_sent = std::stoull(fields[4]);
      finding.bytes_received = std::stoull(fields[5]);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    finding.labels.assign(fields.begin() + 6, fields.end());
    held.push_back(std::move(finding));
  }
  return held;
}

}  // namespace connwatch
