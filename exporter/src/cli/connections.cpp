#include "cli/connections.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

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

std::string FormatConnectionsJson(const Snapshot& snapshot, const ConnectionsView& view) {
  std::string out = "[";
  bool first = true;
  for (size_t i : DisplayOrder(snapshot, view)) {
    const Socket& socket = snapshot.sockets[i];
    const SocketClass& socket_class = snapshot.classes[i];
    out += first ? "\n  {" : ",\n  {";
    first = false;
    out += "\"protocol\": " + JsonString(TransportName(socket.transport));
    out += ", \"family\": " + JsonString(FamilyName(socket.family));
    out += ", \"state\": " + JsonString(StateName(socket.transport, socket.state));
    out += ", \"local_address\": " + JsonString(FormatIpAddress(socket.local));
    out += ", \"local_port\": " + std::to_string(socket.local_port);
    out += ", \"remote_address\": " + JsonString(FormatIpAddress(socket.remote));
    out += ", \"remote_port\": " + std::to_string(socket.remote_port);
    out += ", \"role\": " + JsonString(RoleName(socket_class.role));
    out += ", \"direction\": " + JsonString(DirectionName(socket_class.direction));
    out += ", \"remote_zone\": " +
           JsonString(socket_class.remote_zone ? *socket_class.remote_zone : std::string());
    out += ", \"inode\": " + std::to_string(socket.inode);
    out += ", \"uid\": " + std::to_string(socket.uid);
    out += ", \"cookie\": " + std::to_string(socket.cookie);
    out += ", \"attribution\": " + JsonString(AttributionName(snapshot.AttributionOf(i)));
    const Workload& workload = snapshot.WorkloadOf(i);
    out += ", \"netns\": " + JsonString(snapshot.NetnsNameOf(socket));
    out += ", \"namespace\": " + JsonString(workload.k8s_namespace);
    out += ", \"pod\": " + JsonString(workload.pod);
    out += ", \"container\": " + JsonString(workload.container);
    out += ", \"container_id\": " + JsonString(workload.container_id);
    if (i < snapshot.ages.size() && snapshot.ages[i]) {
      char age[32];
      snprintf(age, sizeof(age), "%.3f", snapshot.ages[i]->age_seconds);
      out += std::string(", \"age_seconds\": ") + age;
      out += ", \"age_source\": " + JsonString(AgeSourceName(snapshot.ages[i]->source));
    } else {
      out += ", \"age_seconds\": null, \"age_source\": null";
    }
    out += ", \"owners\": [";
    bool first_owner = true;
    for (pid_t pid : snapshot.OwnersOf(socket)) {
      auto it = snapshot.processes.find(pid);
      if (it == snapshot.processes.end()) continue;
      const Process& process = it->second;
      out += first_owner ? "{" : ", {";
      first_owner = false;
      out += "\"pid\": " + std::to_string(pid);
      out += ", \"name\": " + JsonString(process.name);
      out += ", \"comm\": " + JsonString(process.comm);
      out += ", \"exe\": " + JsonString(process.exe);
      out += ", \"exe_deleted\": " + std::string(process.exe_deleted ? "true" : "false");
      out += ", \"uid\": " + std::to_string(process.uid);
      out += ", \"user\": " + JsonString(process.user);
      out += ", \"start_time_seconds\": " + FormatNumber(process.start_time_seconds);
      out += ", \"ppid\": " + std::to_string(process.ppid);
      out += ", \"cmdline\": " + JsonString(process.cmdline) + "}";
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
