#include "cli/check.h"

#include <syslog.h>

#include <cstdio>

#include "base/log.h"
#include "cli/ages.h"
#include "cli/common_flags.h"
#include "cli/flags.h"
#include "cli/text_format.h"
#include "net/cidr.h"
#include "policy/baseline.h"
#include "policy/policy_loader.h"
#include "sampler/policy_runtime.h"

namespace connwatch {
namespace {

// The facts of one finding, as strings, shared by the three output forms.
struct FindingFacts {
  std::string check, process, pid, user, exe, protocol, local_address, local_port, remote_address,
      remote_port, direction, remote_zone, service, reason;
};

FindingFacts FactsOf(const Snapshot& snapshot, const Finding& finding) {
  FindingFacts facts;
  facts.check = CheckName(finding.check);
  facts.process = finding.process;
  facts.pid = finding.pid > 0 ? std::to_string(finding.pid) : "";
  if (auto it = snapshot.processes.find(finding.pid); it != snapshot.processes.end()) {
    facts.user = it->second.user;
    facts.exe = it->second.exe;
  }
  facts.service = finding.service;
  facts.reason = finding.reason;
  if (finding.socket) {
    const Socket& socket = snapshot.sockets[*finding.socket];
    const SocketClass& socket_class = snapshot.classes[*finding.socket];
    facts.protocol = TransportName(socket.transport);
    facts.local_address = FormatIpAddress(socket.local);
    facts.local_port = std::to_string(socket.local_port);
    if (socket.remote_port != 0) {
      facts.remote_address = FormatIpAddress(socket.remote);
      facts.remote_port = std::to_string(socket.remote_port);
    }
    facts.direction = DirectionName(socket_class.direction);
    if (socket_class.remote_zone) facts.remote_zone = *socket_class.remote_zone;
  }
  return facts;
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : Printable(text); }

// What check's flags set.
struct CheckFlags {
  std::string config_file, storage_path = kDefaultStoragePath, format = "text";
  bool use_syslog = false;
  SnapshotOptions snapshot;
};

Command CheckCommand(CheckFlags& f) {
  return {
      "connwatch check",
      "connwatch check [flags]",
      "Takes one snapshot and judges it against the policy, for cron and syslog. Exit code 0:\n"
      "no findings, 1: findings, 2: an error (bad flags, an invalid policy or baseline).",
      {
          StringFlag("config.file",
                     "Policy file; without it, the embedded default plus the learned baseline.",
                     &f.config_file),
          StoragePathFlag(&f.storage_path,
                          "Directory of connwatch's state (the learned baseline)."),
          ChoiceFlag("format", "Output format.", &f.format, {"text", "json"}),
          BoolFlag("syslog", "Also log each finding to syslog (daemon.warning).", &f.use_syslog),
          ProcfsFlag(&f.snapshot.procfs),
          SourceModeFlag(&f.snapshot.source_mode, "Socket source."),
      },
      {},
  };
}

}  // namespace

std::string FormatFindingsText(const Snapshot& snapshot, const Evaluation& evaluation) {
  if (evaluation.findings.empty()) return "no findings\n";
  std::vector<std::vector<std::string>> rows = {
      {"CHECK", "PROCESS", "PID", "USER", "EXE", "LOCAL", "REMOTE", "DIR", "ZONE", "WHY"}};
  for (const Finding& finding : evaluation.findings) {
    FindingFacts f = FactsOf(snapshot, finding);
    std::string local = f.local_address.empty() ? "" : f.local_address + ":" + f.local_port;
    std::string remote = f.remote_address.empty() ? "" : f.remote_address + ":" + f.remote_port;
    rows.push_back({f.check, OrDash(f.process), OrDash(f.pid), OrDash(f.user), OrDash(f.exe),
                    OrDash(local), OrDash(remote), OrDash(f.direction), OrDash(f.remote_zone),
                    Printable(f.reason)});
  }
  return FormatTable(rows) + std::to_string(evaluation.findings.size()) + " finding" +
         (evaluation.findings.size() == 1 ? "" : "s") + "\n";
}

std::string FormatFindingsJson(const Snapshot& snapshot, const Evaluation& evaluation) {
  std::string out = "{\"findings\": [";
  bool first = true;
  for (const Finding& finding : evaluation.findings) {
    FindingFacts f = FactsOf(snapshot, finding);
    out += first ? "\n  {" : ",\n  {";
    first = false;
    out += "\"check\": " + JsonString(f.check);
    out += ", \"process\": " + JsonString(f.process);
    out += ", \"pid\": " + (f.pid.empty() ? std::string("null") : f.pid);
    out += ", \"user\": " + JsonString(f.user);
    out += ", \"exe\": " + JsonString(f.exe);
    out += ", \"protocol\": " + JsonString(f.protocol);
    out += ", \"local_address\": " + JsonString(f.local_address);
    out += ", \"local_port\": " + (f.local_port.empty() ? std::string("null") : f.local_port);
    out += ", \"remote_address\": " + JsonString(f.remote_address);
    out += ", \"remote_port\": " + (f.remote_port.empty() ? std::string("null") : f.remote_port);
    out += ", \"direction\": " + JsonString(f.direction);
    out += ", \"remote_zone\": " + JsonString(f.remote_zone);
    out += ", \"service\": " + JsonString(f.service);
    if (finding.socket && *finding.socket < snapshot.ages.size() &&
        snapshot.ages[*finding.socket]) {
      char age[32];
      snprintf(age, sizeof(age), "%.3f", snapshot.ages[*finding.socket]->age_seconds);
      out += std::string(", \"age_seconds\": ") + age;
    } else {
      out += ", \"age_seconds\": null";
    }
    out += ", \"reason\": " + JsonString(f.reason) + "}";
  }
  out += first ? "]}\n" : "\n]}\n";
  return out;
}

std::string FindingLogLine(const Snapshot& snapshot, const Finding& finding) {
  FindingFacts f = FactsOf(snapshot, finding);
  std::string line = "connwatch finding check=" + f.check;
  auto add = [&line](const char* key, const std::string& value) {
    if (!value.empty()) line += std::string(" ") + key + "=" + LogfmtValue(value);
  };
  add("process", f.process);
  add("pid", f.pid);
  add("user", f.user);
  add("exe", f.exe);
  add("protocol", f.protocol);
  add("local", f.local_address.empty() ? "" : f.local_address + ":" + f.local_port);
  add("remote", f.remote_address.empty() ? "" : f.remote_address + ":" + f.remote_port);
  add("direction", f.direction);
  add("zone", f.remote_zone);
  add("service", f.service);
  add("reason", f.reason);
  return line;
}

int RunCheck(const std::vector<std::string>& args) {
  CheckFlags flags;
  if (auto exit_code = ParseCommandLine(CheckCommand(flags), args)) return *exit_code;
  SetLogLevel(LogLevel::kWarn);
  PolicyLoadResult loaded = LoadExplicitPolicy(flags.config_file);
  if (!loaded.policy) {
    for (const PolicyError& problem : loaded.errors) {
      fprintf(stderr, "%s\n", problem.ToString().c_str());
    }
    return 2;
  }
  std::optional<Policy> learned;
  if (loaded.policy->baseline.learn_for.count() > 0) {
    std::string baseline_error;
    std::string path = BaselinePathIn(flags.storage_path);
    learned = LoadBaseline(path, baseline_error);
    if (!learned && !baseline_error.empty()) {
      fprintf(stderr, "connwatch check: %s\n", baseline_error.c_str());
      return 2;
    }
    if (!learned) {
      fprintf(stderr,
              "connwatch check: no learned baseline at %s; only the explicit policy "
              "is checked\n",
              path.c_str());
    }
  }
  std::shared_ptr<const EffectivePolicy> effective =
      MakeEffectivePolicy(*loaded.policy, learned ? &*learned : nullptr, false);
  flags.snapshot.conntrack = true;  // exact ages where conntrack has them
  flags.snapshot.udp_service_ports = effective->udp_service_ports;
  // One sample: a UDP socket inside the ephemeral range is held only with
  // limits.udp_server_after 0 (README, "How sockets are classified").
  UdpServerTracker udp_servers;
  flags.snapshot.udp_servers = &udp_servers;
  flags.snapshot.udp_server_after = effective->policy.limits.udp_server_after;
  Snapshot snapshot = TakeSnapshot(flags.snapshot, effective->zones);
  AttachOneShotAges(snapshot, flags.snapshot.procfs, flags.storage_path);
  Evaluation evaluation = Evaluate(effective->policy, snapshot);
  std::string text = flags.format == "json" ? FormatFindingsJson(snapshot, evaluation)
                                            : FormatFindingsText(snapshot, evaluation);
  fwrite(text.data(), 1, text.size(), stdout);
  if (flags.use_syslog) {
    openlog("connwatch", LOG_PID, LOG_DAEMON);
    for (const Finding& finding : evaluation.findings) {
      syslog(LOG_WARNING, "%s", FindingLogLine(snapshot, finding).c_str());
    }
    closelog();
  }
  return evaluation.findings.empty() ? 0 : 1;
}

}  // namespace connwatch
