#include "cli/held_findings.h"

#include <cstdio>

#include "base/read_file.h"
#include "base/text.h"
#include "cli/text_format.h"
#include "metrics/families.h"

namespace connwatch {
namespace {

namespace label = finding_label;

// The exporter holds at most --findings.max-series of them, ~300 bytes a line.
constexpr size_t kMaxHeldFileBytes = 16u << 20;

std::string Endpoint(const HeldFinding& held, label::Index address, label::Index port) {
  const std::string& host = held.labels[address];
  if (host.empty()) return "-";
  return Printable(host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         Printable(held.labels[port]);
}

std::string Dash(const std::string& text) { return text.empty() ? "-" : Printable(text); }

std::string Seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3fs", seconds);
  return text;
}

}  // namespace

HeldFindingsRead ReadHeldFindings(const std::string& storage_path, double hold_seconds,
                                  double now_unix) {
  HeldFindingsRead result;
  result.path = HeldFindingsPathIn(storage_path);
  FileLoad load = LoadFileCapped(result.path, kMaxHeldFileBytes);
  // No file: no exporter runs with this storage path, the usual case for a one-shot on a
  // host without one; nothing to say (scripts read check's stderr as trouble).
  if (load.status == FileLoad::Status::kMissing) return result;
  if (!load.ok()) {
    result.note = "no findings held by a running exporter (" +
                  load.Problem("held findings", result.path, kMaxHeldFileBytes) +
                  "): only this snapshot is checked";
    return result;
  }
  std::optional<std::vector<HeldFinding>> parsed = ParseHeldFindings(load.text);
  if (!parsed) {
    result.note = result.path + " is not a held findings file: only this snapshot is checked";
    return result;
  }
  result.read = true;
  for (HeldFinding& held : *parsed) {
    if (held.labels.size() > label::kPod && now_unix - held.ended_unix <= hold_seconds) {
      result.findings.push_back(std::move(held));
    }
  }
  if (result.findings.empty()) return result;  // as without the file: nothing to add
  result.note = "this snapshot and " + std::to_string(result.findings.size()) +
                " finding(s) of ended connections held by the running exporter (" + result.path +
                ")";
  return result;
}

std::string FormatHeldText(const std::vector<HeldFinding>& held) {
  if (held.empty()) return "";
  std::vector<std::vector<std::string>> rows = {{"CHECK", "PROCESS", "PID", "LOCAL", "REMOTE",
                                                 "DIR", "ZONE", "NETNS", "POD", "STARTED",
                                                 "DURATION", "SENT", "RECEIVED", "ENDED"}};
  for (const HeldFinding& finding : held) {
    const LabelValues& l = finding.labels;
    std::string pod = l[label::kPod].empty() ? "" : l[label::kNamespace] + "/" + l[label::kPod];
    rows.push_back({Dash(l[label::kCheck]), Dash(l[label::kProcess]), Dash(l[label::kPid]),
                    Endpoint(finding, label::kLocalAddress, label::kLocalPort),
                    Endpoint(finding, label::kRemoteAddress, label::kRemotePort),
                    Dash(l[label::kDirection]), Dash(l[label::kRemoteZone]), Dash(l[label::kNetns]),
                    Dash(pod), finding.start_unix > 0 ? FormatUtcTime(finding.start_unix) : "-",
                    finding.duration >= 0 ? Seconds(finding.duration) : "-",
                    finding.has_bytes ? std::to_string(finding.bytes_sent) : "-",
                    finding.has_bytes ? std::to_string(finding.bytes_received) : "-",
                    FormatUtcTime(finding.ended_unix)});
  }
  return "ended connections (held by the running exporter):\n" + FormatTable(rows) +
         std::to_string(held.size()) + " held finding" + (held.size() == 1 ? "" : "s") + "\n";
}

std::string FormatHeldJson(const std::vector<HeldFinding>& held) {
  static const char* const kNames[] = {
      "check",          "process",     "pid",       "protocol",    "local_address", "local_port",
      "remote_address", "remote_port", "direction", "remote_zone", "age_source",    "exe",
      "netns",          "namespace",   "pod",       "container"};
  std::string out = "[";
  for (size_t i = 0; i < held.size(); ++i) {
    const HeldFinding& finding = held[i];
    out += i == 0 ? "\n  {" : ",\n  {";
    for (size_t k = 0; k < std::size(kNames) && k < finding.labels.size(); ++k) {
      out += std::string(k == 0 ? "" : ", ") + "\"" + kNames[k] +
             "\": " + JsonString(finding.labels[k]);
    }
    char numbers[256];
    std::snprintf(numbers, sizeof(numbers),
                  ", \"start\": %.3f, \"duration_seconds\": %.3f, \"ended\": %.3f",
                  finding.start_unix, finding.duration, finding.ended_unix);
    out += numbers;
    out += finding.has_bytes ? ", \"bytes_sent\": " + std::to_string(finding.bytes_sent) +
                                   ", \"bytes_received\": " + std::to_string(finding.bytes_received)
                             : std::string(", \"bytes_sent\": null, \"bytes_received\": null");
    out += "}";
  }
  out += held.empty() ? "]" : "\n]";
  return out;
}

}  // namespace connwatch
