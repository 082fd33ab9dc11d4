#include "cli/check.h"

#include <syslog.h>

#include <cstdio>
#include <utility>

#include "base/log.h"
#include "cli/ages.h"
#include "cli/common_flags.h"
#include "cli/flags.h"
#include "cli/held_findings.h"
#include "cli/text_format.h"
#include "net/cidr.h"
#include "policy/baseline.h"
#include "policy/policy_loader.h"
#include "sampler/policy_runtime.h"
#include "sources/proc_process.h"
#include "tracking/connection_ages.h"

namespace connwatch {
namespace {

// The facts of one finding, as strings, shared by the three output forms.
struct FindingFacts {
  std::string check, process, pid, user, exe, protocol, local_address, local_port, remote_address,
      remote_port, direction, remote_zone, service, reason;
  // What a responder asks next: who started the owner, with what command line, and when;
  // how old the connection is and whether that age is exact (age_source "" when none).
  std::string ppid, parent, cmdline, age_source, age_text;
  // Where the socket lives: its namespace's netns label and the owner's workload.
  std::string netns;
  Workload workload;
  std::optional<double> process_start, age_seconds;
};

FindingFacts FactsOf(const Snapshot& snapshot, const Finding& finding, const ParentNames& parents) {
  FindingFacts facts;
  facts.check = CheckName(finding.check);
  facts.process = finding.process;
  facts.pid = finding.pid > 0 ? std::to_string(finding.pid) : "";
  if (auto it = snapshot.processes.find(finding.pid); it != snapshot.processes.end()) {
    const Process& process = it->second;
    facts.user = process.user;
    facts.exe = process.exe;
    facts.cmdline = process.cmdline;
    facts.process_start = process.start_time_seconds;
    if (process.ppid > 0) facts.ppid = std::to_string(process.ppid);
    if (auto parent = parents.find(finding.pid); parent != parents.end()) {
      facts.parent = parent->second;
    }
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
    facts.netns = snapshot.NetnsNameOf(socket);
    facts.workload = snapshot.WorkloadOf(*finding.socket);
    if (socket_class.remote_zone) facts.remote_zone = *socket_class.remote_zone;
    if (*finding.socket < snapshot.ages.size() && snapshot.ages[*finding.socket]) {
      const ConnectionAge& age = *snapshot.ages[*finding.socket];
      facts.age_seconds = age.age_seconds;
      facts.age_source = AgeSourceName(age.source);
      facts.age_text = FormatAgeOf(age);
    }
  }
  return facts;
}

std::string JsonNumber(const std::optional<double>& value) {
  if (!value) return "null";
  char buffer[32];
  snprintf(buffer, sizeof(buffer), "%.3f", *value);
  return buffer;
}

// A command line fits one table cell: cut (the JSON form has it whole, up to the reader's
// cap), then escaped, so that it can forge neither a row nor a column of escapes.
std::string CmdlineCell(const std::string& cmdline) {
  constexpr size_t kMaxCmdlineCellBytes = 80;
  if (cmdline.size() <= kMaxCmdlineCellBytes) return Printable(cmdline);
  return Printable(std::string_view(cmdline).substr(0, kMaxCmdlineCellBytes)) + "...";
}

std::string OrDash(const std::string& text) { return text.empty() ? "-" : Printable(text); }

// What check's flags set.
struct CheckFlags {
  CheckFlags() { snapshot.all_namespaces = true; }
  std::string config_file, storage_path = kDefaultStoragePath, format = "text";
  bool use_syslog = false;
  std::optional<std::string> netns;
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
                          "Directory of connwatch's state (the learned baseline, and serve's "
                          "first sightings of connections: their ages)."),
          ChoiceFlag("format", "Output format.", &f.format, {"text", "json"}),
          BoolFlag("syslog", "Also log each finding to syslog (daemon.warning).", &f.use_syslog),
          ProcfsFlag(&f.snapshot.procfs),
          RootfsFlag(&f.snapshot.rootfs),
          NetnsFlag(&f.snapshot.all_namespaces),
          OptionalStringFlag("netns",
                             "Only the findings of the namespace with this netns label (as the "
                             "NETNS column shows it; - for connwatch's own, with the services "
                             "that are down).",
                             &f.netns),
          SysfsFlag(&f.snapshot.sysfs),
          SourceModeFlag(&f.snapshot.source_mode, "Socket source."),
      },
      {},
  };
}

}  // namespace

std::string FormatFindingsText(const Snapshot& snapshot, const Evaluation& evaluation,
                               const ParentNames& parents) {
  if (evaluation.findings.empty()) return "no findings\n";
  std::vector<std::vector<std::string>> rows = {{"CHECK", "PROCESS", "PID", "PPID", "PARENT",
                                                 "USER", "EXE", "STARTED", "NETNS", "POD", "LOCAL",
                                                 "REMOTE", "DIR", "ZONE", "AGE", "CMDLINE", "WHY"}};
  for (const Finding& finding : evaluation.findings) {
    FindingFacts f = FactsOf(snapshot, finding, parents);
    std::string local = f.local_address.empty() ? "" : f.local_address + ":" + f.local_port;
    std::string remote = f.remote_address.empty() ? "" : f.remote_address + ":" + f.remote_port;
    std::string started = f.process_start ? FormatUtcTime(*f.process_start) : "";
    rows.push_back({f.check, OrDash(f.process), OrDash(f.pid), OrDash(f.ppid), OrDash(f.parent),
                    OrDash(f.user), OrDash(f.exe), OrDash(started), OrDash(f.netns),
                    OrDash(WorkloadText(f.workload)), OrDash(local), OrDash(remote),
                    OrDash(f.direction), OrDash(f.remote_zone), OrDash(f.age_text),
                    f.cmdline.empty() ? "-" : CmdlineCell(f.cmdline), Printable(f.reason)});
  }
  return FormatTable(rows) + std::to_string(evaluation.findings.size()) + " finding" +
         (evaluation.findings.size() == 1 ? "" : "s") + "\n";
}

std::string FormatFindingsJson(const Snapshot& snapshot, const Evaluation& evaluation,
                               const ParentNames& parents) {
  std::string out = "{\"findings\": [";
  bool first = true;
  for (const Finding& finding : evaluation.findings) {
    FindingFacts f = FactsOf(snapshot, finding, parents);
    out += first ? "\n  {" : ",\n  {";
    first = false;
    auto number_or_null = [](const std::string& n) { return n.empty() ? std::string("null") : n; };
    out += "\"check\": " + JsonString(f.check);
    out += ", \"process\": " + JsonString(f.process);
    out += ", \"pid\": " + number_or_null(f.pid);
    out += ", \"user\": " + JsonString(f.user);
    out += ", \"exe\": " + JsonString(f.exe);
    out += ", \"protocol\": " + JsonString(f.protocol);
    out += ", \"local_address\": " + JsonString(f.local_address);
    out += ", \"local_port\": " + number_or_null(f.local_port);
    out += ", \"remote_address\": " + JsonString(f.remote_address);
    out += ", \"remote_port\": " + number_or_null(f.remote_port);
    out += ", \"direction\": " + JsonString(f.direction);
    out += ", \"remote_zone\": " + JsonString(f.remote_zone);
    out += ", \"netns\": " + JsonString(f.netns);
    out += ", \"namespace\": " + JsonString(f.workload.k8s_namespace);
    out += ", \"pod\": " + JsonString(f.workload.pod);
    out += ", \"container\": " + JsonString(f.workload.container);
    out += ", \"service\": " + JsonString(f.service);
    out += ", \"age_seconds\": " + JsonNumber(f.age_seconds);
    out += ", \"age_source\": " + JsonString(f.age_source);
    out += ", \"ppid\": " + number_or_null(f.ppid);
    out += ", \"parent\": " + JsonString(f.parent);
    out += ", \"process_start\": " + JsonNumber(f.process_start);
    out += ", \"cmdline\": " + JsonString(f.cmdline);
    out += ", \"reason\": " + JsonString(f.reason) + "}";
  }
  out += first ? "]}\n" : "\n]}\n";
  return out;
}

std::string FindingLogLine(const Snapshot& snapshot, const Finding& finding,
                           const ParentNames& parents) {
  FindingFacts f = FactsOf(snapshot, finding, parents);
  std::string line = "connwatch finding check=" + f.check;
  const std::pair<const char*, std::string> fields[] = {
      {"process", f.process},
      {"pid", f.pid},
      {"ppid", f.ppid},
      {"parent", f.parent},
      {"user", f.user},
      {"exe", f.exe},
      {"started", f.process_start ? FormatUtcTime(*f.process_start) : ""},
      {"protocol", f.protocol},
      {"local", f.local_address.empty() ? "" : f.local_address + ":" + f.local_port},
      {"remote", f.remote_address.empty() ? "" : f.remote_address + ":" + f.remote_port},
      {"direction", f.direction},
      {"zone", f.remote_zone},
      {"netns", f.netns},
      {"pod", WorkloadText(f.workload)},
      {"service", f.service},
      {"age", f.age_text},
      {"age_source", f.age_source},
      {"cmdline", f.cmdline},
      {"reason", f.reason},
  };
  // Empty values are left out: a service finding has no endpoints, a listener no age.
  for (const auto& [key, value] : fields) {
    if (!value.empty()) line += std::string(" ") + key + "=" + LogfmtValue(value);
  }
  return line;
}

void KeepFindingsOfNetns(const Snapshot& snapshot, std::string_view netns, Evaluation& evaluation) {
  std::erase_if(evaluation.findings, [&](const Finding& finding) {
    if (!finding.socket) return netns != "-";  // a service that is down is nowhere else
    std::string_view name = snapshot.NetnsNameOf(snapshot.sockets[*finding.socket]);
    return (name.empty() ? std::string_view("-") : name) != netns;
  });
}

ParentNames ReadParentNames(const Snapshot& snapshot, const Evaluation& evaluation,
                            const std::string& procfs) {
  ParentNames parents;
  for (const Finding& finding : evaluation.findings) {
    auto it = snapshot.processes.find(finding.pid);
    if (it == snapshot.processes.end() || parents.count(finding.pid) > 0) continue;
    parents.emplace(finding.pid, ReadParentName(procfs, it->second, 0));
  }
  return parents;
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
  std::string state_problem =
      AttachOneShotAges(snapshot, flags.snapshot.procfs, flags.storage_path);
  if (!state_problem.empty()) fprintf(stderr, "connwatch check: %s\n", state_problem.c_str());
  Evaluation evaluation = Evaluate(effective->policy, snapshot);
  if (flags.netns) KeepFindingsOfNetns(snapshot, *flags.netns, evaluation);
  ParentNames parents = ReadParentNames(snapshot, evaluation, flags.snapshot.procfs);
  // What lived between the exporter's samples is known only to it: its held findings.
  HeldFindingsRead held = ReadHeldFindings(
      flags.storage_path, static_cast<double>(effective->policy.limits.finding_hold.count()),
      snapshot.timestamp_seconds);
  if (!held.note.empty()) fprintf(stderr, "connwatch check: %s\n", held.note.c_str());
  std::string text;
  if (flags.format == "json") {
    text = FormatFindingsJson(snapshot, evaluation, parents);
    text.resize(text.size() - 2);  // the closing "}\n"
    text += ", \"held\": " + FormatHeldJson(held.findings) +
            ", \"held_from\": " + (held.read ? JsonString(held.path) : std::string("null")) + "}\n";
  } else {
    text = FormatFindingsText(snapshot, evaluation, parents) + FormatHeldText(held.findings);
  }
  fwrite(text.data(), 1, text.size(), stdout);
  if (flags.use_syslog) {
    openlog("connwatch", LOG_PID, LOG_DAEMON);
    for (const Finding& finding : evaluation.findings) {
      syslog(LOG_WARNING, "%s", FindingLogLine(snapshot, finding, parents).c_str());
    }
    closelog();
  }
  return evaluation.findings.empty() && held.findings.empty() ? 0 : 1;
}

}  // namespace connwatch
