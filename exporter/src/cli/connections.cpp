#include "cli/connections.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <numeric>
#include <unordered_map>

#include "base/log.h"
#include "cli/ages.h"
#include "cli/common_flags.h"
#include "cli/flags.h"
#include "cli/text_format.h"
#include "net/endpoint.h"
#include "tracking/connection_ages.h"

namespace connwatch {
namespace {

std::string OrDash(std::string_view text) { return text.empty() ? "-" : std::string(text); }

// The order a responder reads in: listeners, then connections, then the rest; within each,
// by protocol and local port.
std::vector<size_t> DisplayOrder(const Snapshot& snapshot, const ConnectionsView& view) {
  std::vector<size_t> order;
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    if (view.listening_only && snapshot.classes[i].role != SocketRole::kListener) continue;
    if (view.netns && OrDash(snapshot.NetnsNameOf(snapshot.sockets[i])) != *view.netns) continue;
    order.push_back(i);
  }
  auto key = [&](size_t i) {
    const Socket& s = snapshot.sockets[i];
    return std::tuple(static_cast<int>(snapshot.classes[i].role), static_cast<int>(s.transport),
                      s.local_port, UnmapV4(s.local), s.remote_port, UnmapV4(s.remote));
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  return order;
}

std::string FormatNumber(double value) {
  char buffer[32];
  snprintf(buffer, sizeof(buffer), "%.3f", value);
  return buffer;
}

// "3h12m", with "<=" when the age is only an upper bound (the owner's start time).
std::string AgeText(const Snapshot& snapshot, size_t i) {
  if (i >= snapshot.ages.size() || !snapshot.ages[i]) return "-";
  return FormatAgeOf(*snapshot.ages[i]);
}

// What the flags of `connections` set.
struct ConnectionsFlags {
  ConnectionsFlags() { snapshot.all_namespaces = true; }
  ConnectionsView view;
  std::string format = "table", storage_path = kDefaultStoragePath;
  LogLevel log_level = LogLevel::kWarn;
  SnapshotOptions snapshot;
};

Command ConnectionsCommand(ConnectionsFlags& f) {
  return {
      "connwatch connections",
      "connwatch connections [flags]",
      "One snapshot of the host's sockets, like netstat -tanup, plus each owner's user, the\n"
      "peer's zone, the direction and the connection's age.",
      {
          BoolFlag("listening", "Only listening sockets.", &f.view.listening_only),
          ChoiceFlag("format", "Output format.", &f.format, {"table", "json"}),
          ProcfsFlag(&f.snapshot.procfs),
          RootfsFlag(&f.snapshot.rootfs),
          NetnsFlag(&f.snapshot.all_namespaces),
          OptionalStringFlag("netns",
                             "Only the sockets of the namespace with this netns label (as "
                             "the NETNS column shows it; - for connwatch's own).",
                             &f.view.netns),
          SysfsFlag(&f.snapshot.sysfs),
          SourceModeFlag(&f.snapshot.source_mode, "Socket source."),
          StoragePathFlag(&f.storage_path,
                          "Directory of the running exporter's state (first-seen times)."),
          LogLevelFlag(&f.log_level),
      },
      {},
  };
}

}  // namespace

std::string FormatConnectionsTable(const Snapshot& snapshot, const ConnectionsView& view) {
  std::vector<std::vector<std::string>> rows = {{"PROTO", "STATE", "LOCAL", "REMOTE", "DIR", "ZONE",
                                                 "AGE", "NETNS", "POD", "PID/PROCESS", "USER"}};
  for (size_t i : DisplayOrder(snapshot, view)) {
    const Socket& socket = snapshot.sockets[i];
    const SocketClass& socket_class = snapshot.classes[i];
    std::string owners, users;
    for (pid_t pid : snapshot.OwnersOf(socket)) {
      auto it = snapshot.processes.find(pid);
      if (it == snapshot.processes.end()) continue;
      if (!owners.empty()) owners += ",";
      owners += std::to_string(pid) + "/" + Printable(it->second.name);
      if (users.find(it->second.user) == std::string::npos) {
        if (!users.empty()) users += ",";
        users += Printable(it->second.user);
      }
    }
    std::string protocol =
        std::string(TransportName(socket.transport)) + (socket.family == Family::kIpv6 ? "6" : "");
    rows.push_back(
        {protocol, StateName(socket.transport, socket.state),
         FormatEndpoint(socket.local, socket.local_port),
         socket.remote_port == 0 && socket_class.role != SocketRole::kConnection
             ? std::string("*")
             : FormatEndpoint(socket.remote, socket.remote_port),
         socket_class.role == SocketRole::kListener
             ? std::string("listen")
             : (socket_class.direction == Direction::kNone ? std::string("-")
                                                           : DirectionName(socket_class.direction)),
         socket_class.remote_zone ? *socket_class.remote_zone : std::string("-"),
         AgeText(snapshot, i), Printable(OrDash(snapshot.NetnsNameOf(socket))),
         Printable(OrDash(WorkloadText(snapshot.WorkloadOf(i)))),
         owners.empty() ? std::string("-") : owners,
         users.empty() ? std::to_string(socket.uid) : users});
  }
  return FormatTable(rows);
}

namespace {

// One owner's JSON object: a pre-fork server's process owns thousands of sockets, so each
// is written once per call, not once per socket.
std::string OwnerJson(pid_t pid, const Process& process) {
  std::string out = "{\"pid\": " + std::to_string(pid) + ", \"name\": ";
  AppendJsonString(out, process.name);
  out += ", \"comm\": ";
  AppendJsonString(out, process.comm);
  out += ", \"exe\": ";
  AppendJsonString(out, process.exe);
  out += process.exe_deleted ? ", \"exe_deleted\": true" : ", \"exe_deleted\": false";
  out += ", \"uid\": " + std::to_string(process.uid) + ", \"user\": ";
  AppendJsonString(out, process.user);
  out += ", \"start_time_seconds\": " + FormatNumber(process.start_time_seconds);
  out += ", \"ppid\": " + std::to_string(process.ppid) + ", \"cmdline\": ";
  AppendJsonString(out, process.cmdline);
  out += "}";
  return out;
}

// `, "name": value` with the value as a JSON string, or as a number.
void AppendField(std::string& out, std::string_view name, std::string_view text) {
  out += ", \"";
  out += name;
  out += "\": ";
  AppendJsonString(out, text);
}
void AppendField(std::string& out, std::string_view name, uint64_t number) {
  char digits[24];
  auto [end, error] = std::to_chars(digits, digits + sizeof(digits), number);
  out += ", \"";
  out += name;
  out += "\": ";
  out.append(digits, end);
}

}  // namespace

std::string FormatConnectionsJson(const Snapshot& snapshot, const ConnectionsView& view) {
  std::string out = "[";
  out.reserve(snapshot.sockets.size() * 512);
  std::unordered_map<pid_t, std::string> owners_json;
  bool first = true;
  for (size_t i : DisplayOrder(snapshot, view)) {
    const Socket& socket = snapshot.sockets[i];
    const SocketClass& socket_class = snapshot.classes[i];
    out += first ? "\n  {\"protocol\": " : ",\n  {\"protocol\": ";
    first = false;
    AppendJsonString(out, TransportName(socket.transport));
    AppendField(out, "family", FamilyName(socket.family));
    AppendField(out, "state", StateName(socket.transport, socket.state));
    AppendField(out, "local_address", FormatIpAddress(socket.local));
    AppendField(out, "local_port", socket.local_port);
    AppendField(out, "remote_address", FormatIpAddress(socket.remote));
    AppendField(out, "remote_port", socket.remote_port);
    AppendField(out, "role", RoleName(socket_class.role));
    AppendField(out, "direction", DirectionName(socket_class.direction));
    AppendField(out, "remote_zone",
                socket_class.remote_zone ? std::string_view(*socket_class.remote_zone) : "");
    AppendField(out, "inode", socket.inode);
    AppendField(out, "uid", socket.uid);
    AppendField(out, "cookie", socket.cookie);
    AppendField(out, "attribution", AttributionName(snapshot.AttributionOf(i)));
    const Workload& workload = snapshot.WorkloadOf(i);
    AppendField(out, "netns", snapshot.NetnsNameOf(socket));
    AppendField(out, "namespace", workload.k8s_namespace);
    AppendField(out, "pod", workload.pod);
    AppendField(out, "container", workload.container);
    AppendField(out, "container_id", workload.container_id);
    if (i < snapshot.ages.size() && snapshot.ages[i]) {
      char age[32];
      snprintf(age, sizeof(age), "%.3f", snapshot.ages[i]->age_seconds);
      out += ", \"age_seconds\": ";
      out += age;
      AppendField(out, "age_source", AgeSourceName(snapshot.ages[i]->source));
    } else {
      out += ", \"age_seconds\": null, \"age_source\": null";
    }
    out += ", \"owners\": [";
    bool first_owner = true;
    for (pid_t pid : snapshot.OwnersOf(socket)) {
      auto it = snapshot.processes.find(pid);
      if (it == snapshot.processes.end()) continue;
      auto [cached, inserted] = owners_json.try_emplace(pid);
      if (inserted) cached->second = OwnerJson(pid, it->second);
      if (!first_owner) out += ", ";
      first_owner = false;
      out += cached->second;
    }
    out += "]}";
  }
  out += first ? "]\n" : "\n]\n";
  return out;
}

int RunConnections(const std::vector<std::string>& args) {
  ConnectionsFlags flags;
  if (auto exit_code = ParseCommandLine(ConnectionsCommand(flags), args)) return *exit_code;
  SetLogLevel(flags.log_level);
  flags.snapshot.conntrack = true;  // exact ages where conntrack has them
  ZoneClassifier zones;
  Snapshot snapshot = TakeSnapshot(flags.snapshot, zones);
  std::string state_problem =
      AttachOneShotAges(snapshot, flags.snapshot.procfs, flags.storage_path);
  if (!state_problem.empty()) {
    fprintf(stderr, "connwatch connections: %s\n", state_problem.c_str());
  }
  std::string text = flags.format == "json" ? FormatConnectionsJson(snapshot, flags.view)
                                            : FormatConnectionsTable(snapshot, flags.view);
  fwrite(text.data(), 1, text.size(), stdout);
  for (const CollectorResult& result : snapshot.collectors) {
    if (!result.success) {
      fprintf(stderr, "connwatch connections: collector %s failed: %s\n", result.name.c_str(),
              result.error.c_str());
    }
  }
  return 0;
}

}  // namespace connwatch
