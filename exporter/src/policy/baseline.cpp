#include "policy/baseline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "base/atomic_file.h"
#include "base/hash_combine.h"
#include "base/read_file.h"
#include "net/cidr.h"
#include "policy/policy_loader.h"
#include "policy/policy_yaml.h"

namespace connwatch {
namespace {

// The first line of every persisted baseline. LoadBaseline refuses files without it, so a
// policy file put under --storage.path by mistake is not silently taken for the baseline.
constexpr std::string_view kHeaderPrefix = "# connwatch learned baseline, format ";
constexpr std::string_view kFormat = "1";
constexpr const char* kHeaderComment =
    "# Written by connwatch when learning ended; `connwatch baseline` prints it for review.\n"
    "# Not meant to be edited: remove it (or run with --baseline.reset) to learn again.\n";

constexpr const char* kLearnedSource = "baseline";
// Service names become the `service` label; process names are unbounded attacker bytes.
constexpr size_t kMaxServiceNameProcessBytes = 64;

// A learned name is a literal, but every process field of a policy is an fnmatch(3) glob:
// "a*b" would also allow "axb". ProcessMatches compares names without glob characters
// exactly (a backslash there is just a backslash), so only names with one are escaped, and
// then backslashes too, since fnmatch honours them as escapes.
std::string LiteralPattern(const std::string& name) {
  if (name.find_first_of("*?[") == std::string::npos) return name;
  std::string pattern;
  for (char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern;
}

// Whether `pattern` is one LiteralPattern writes: a literal, glob characters escaped.
bool IsLiteralPattern(const std::string& pattern) {
  std::string name;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) ++i;
    name += pattern[i];
  }
  return LiteralPattern(name) == pattern;
}

// "" or why `learned` holds what the learner never writes (a glob, a port range): such a
// file was written by someone else, and would allow what was never seen.
std::string Unlearnable(const Policy& learned) {
  auto rule = [](const std::string& process, const std::string& exe, const PortRange& ports,
                 const SourceLocation& where) -> std::string {
    std::string at = std::to_string(where.line) + ": ";
    if (!IsLiteralPattern(process)) return at + "process \"" + process + "\" is a glob";
    if (!IsLiteralPattern(exe)) return at + "exe \"" + exe + "\" is a glob";
    if (ports.low != ports.high) return at + "ports are a range, not one port";
    return "";
  };
  // The learner selects workloads by literal names, never pods or namespaces.
  auto place = [](const WorkloadSelector& s, const SourceLocation& where) -> std::string {
    std::string at = std::to_string(where.line) + ": ";
    if (!s.pod.empty() || !s.netns.empty()) return at + "selects a pod or a netns";
    for (const std::string* name : {&s.k8s_namespace, &s.workload, &s.container}) {
      if (!IsLiteralPattern(*name)) return at + "selector \"" + *name + "\" is a glob";
    }
    return "";
  };
  std::string why;
  auto check = [&](std::string problem) {
    if (why.empty()) why = std::move(problem);
  };
  for (const ListenerRule& r : *learned.listeners) {
    check(rule(r.process, r.exe, r.ports, r.where));
    check(place(r.selects, r.where));
  }
  for (const PathRule& r : *learned.paths) {
    check(rule(r.process, r.exe, r.ports, r.where));
    check(place(r.selects, r.where));
  }
  for (const ExpectedService& r : *learned.expected_services) {
    check(rule(r.process, r.exe, {r.port, r.port}, r.where));
    check(place(r.selects, r.where));
  }
  for (const NetworkProcessRule& r : *learned.network_processes) {
    check(rule(r.process, r.exe, {0, 0}, r.where));
    check(place(r.selects, r.where));
  }
  return why;
}

// The owners as learned, (name, exe path) each once, sorted: {("", "")} for an unowned
// socket. An empty name (a process can clear its comm) has no exact pattern, since ""
// matches every process: such owners are not learned and stay findings, and a socket owned
// only by them is not learned at all. The path is "" when the exe link was unreadable: the
// rule then allows the name from anywhere, as before paths were learned.
std::vector<LearnedOwner> LearnableOwners(const Snapshot& snapshot, const Socket& socket) {
  std::vector<LearnedOwner> owners;
  bool any = false;
  for (pid_t pid : snapshot.OwnersOf(socket)) {
    auto it = snapshot.processes.find(pid);
    if (it == snapshot.processes.end()) continue;  // exited before it was read: no owner
    any = true;
    if (!it->second.name.empty()) owners.emplace_back(it->second.name, it->second.exe);
  }
  if (!any) return {LearnedOwner()};
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  return owners;
}

LearnedPlace PlaceOf(const Snapshot& snapshot, size_t index) {
  const Workload& workload = snapshot.WorkloadOf(index);
  if (workload.pod.empty()) return {};
  return {workload.k8s_namespace, PodWorkloadName(workload.pod), workload.container};
}

// The selector a learned rule carries: the place's names as literal patterns.
WorkloadSelector SelectorOf(const LearnedPlace& place) {
  WorkloadSelector selects;
  selects.k8s_namespace = LiteralPattern(std::get<0>(place));
  selects.workload = LiteralPattern(std::get<1>(place));
  selects.container = LiteralPattern(std::get<2>(place));
  return selects;
}

ProtocolMatch ProtocolOf(int transport) {
  return static_cast<Transport>(transport) == Transport::kUdp ? ProtocolMatch::kUdp
                                                              : ProtocolMatch::kTcp;
}

// "tcp-443-nginx", "udp-53" when unowned. Bytes outside [A-Za-z0-9._-] become '_' so the
// name is a plain, valid label value and YAML scalar; collisions get "-2", "-3", ...
std::string ServiceName(int transport, uint16_t port, const std::string& process,
                        std::set<std::string>& used) {
  std::string base =
      std::string(TransportName(static_cast<Transport>(transport))) + "-" + std::to_string(port);
  if (!process.empty()) {
    base += '-';
    for (size_t i = 0; i < process.size() && i < kMaxServiceNameProcessBytes; ++i) {
      char c = process[i];
      bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
      base += plain ? c : '_';
    }
  }
  std::string name = base;
  for (int suffix = 2; used.contains(name); ++suffix) name = base + "-" + std::to_string(suffix);
  used.insert(name);
  return name;
}

// What one socket can teach the learner, with its owner as a pid instead of names: sockets
// alike in all of it teach the same rules, so a sample's 100k connections cost one hash
// lookup each, and only the first of each kind builds names and set entries (that was
// ~13 ms of a 50k-connection sample). Only for sockets with at most one owner.
struct Lesson {
  pid_t owner = 0;  // 0: unowned
  SocketRole role = SocketRole::kOther;
  Transport transport = Transport::kTcp;
  Direction direction = Direction::kNone;
  uint16_t port = 0;                  // the listening or the service port
  const std::string* zone = nullptr;  // paths
  IpAddress address;                  // listeners: the bound address

  bool operator==(const Lesson&) const = default;
};

struct LessonHash {
  size_t operator()(const Lesson& lesson) const {
    size_t seed = 0;
    HashCombine(seed, static_cast<uint64_t>(lesson.owner));
    HashCombine(seed, static_cast<uint64_t>(lesson.role) << 24 |
                          static_cast<uint64_t>(lesson.transport) << 16 | lesson.port);
    HashCombine(seed, static_cast<uint64_t>(lesson.direction));
    HashCombine(seed, reinterpret_cast<uintptr_t>(lesson.zone));
    HashCombineAddress(seed, lesson.address);
    return seed;
  }
};

Lesson LessonOf(const Socket& socket, const SocketClass& socket_class, pid_t owner) {
  Lesson lesson;
  lesson.owner = owner;
  lesson.role = socket_class.role;
  lesson.transport = socket.transport;
  if (socket_class.role == SocketRole::kListener) {
    lesson.port = socket.local_port;
    lesson.address = socket.local;
  } else if (socket_class.role == SocketRole::kConnection) {
    lesson.direction = socket_class.direction;
    lesson.zone = socket_class.remote_zone;
    lesson.port =
        socket_class.direction == Direction::kInbound ? socket.local_port : socket.remote_port;
  }
  // Port 0 learns nothing but the owners' names.
  if (socket.local_port == 0) lesson.role = SocketRole::kOther;
  return lesson;
}

template <typename T>
void Append(std::optional<std::vector<T>>& to, const std::optional<std::vector<T>>& from) {
  if (!from) return;
  if (!to) to.emplace();
  to->insert(to->end(), from->begin(), from->end());
}

}  // namespace

void BaselineLearner::Observe(const Snapshot& snapshot) {
  ++observations_;
  std::unordered_set<Lesson, LessonHash> learned;
  for (size_t i = 0; i < snapshot.sockets.size() && i < snapshot.classes.size(); ++i) {
    const Socket& socket = snapshot.sockets[i];
    const SocketClass& socket_class = snapshot.classes[i];
    // An owner that went away mid-sample would be learned as "any owner"; the socket is
    // learned with its owner in a later sample, if it is still there.
    if (snapshot.AttributionOf(i) == Attribution::kOwnerExited) continue;
    // connwatch's own sockets are never judged (Snapshot::OnlySelfOwns), so nothing is learned
    // of them: its front's loopback listener and connections use a new port every start.
    if (snapshot.OnlySelfOwns(i)) continue;
    std::span<const pid_t> pids = snapshot.OwnersOf(socket);
    if (pids.size() <= 1 &&
        !learned.insert(LessonOf(socket, socket_class, pids.empty() ? 0 : pids[0])).second) {
      continue;
    }
    std::vector<LearnedOwner> owners = LearnableOwners(snapshot, socket);
    LearnedPlace place = PlaceOf(snapshot, i);
    for (const LearnedOwner& owner : owners) {
      if (!owner.first.empty()) processes_.emplace(owner, place);
    }
    int transport = static_cast<int>(socket.transport);
    // Port 0 is no rule the loader accepts; no listener or connection should have it.
    if (socket.local_port == 0) continue;
    if (socket_class.role == SocketRole::kListener) {
      IpAddress local = UnmapV4(socket.local);
      BindScope scope = BindScope::kAddress;
      std::string address;
      if (IsUnspecified(local)) {
        scope = BindScope::kWildcard;
      } else if (IsLoopback(local)) {
        scope = BindScope::kLoopback;
      } else if (std::get<1>(place).empty()) {
        address = FormatIpAddress(local);
      } else {
        // A pod's address changes with every pod: its workload's rule allows the port on
        // any address.
        scope = BindScope::kUnspecified;
      }
      for (const auto& [name, exe] : owners) {
        listeners_.emplace(transport, socket.local_port, static_cast<int>(scope), address, name,
                           exe, place);
      }
    } else if (socket_class.role == SocketRole::kConnection &&
               socket_class.direction != Direction::kNone && socket_class.remote_zone != nullptr) {
      // The service port: the local one for inbound connections, the remote one for
      // outbound; the other side's is ephemeral and would make every connection a rule.
      uint16_t port =
          socket_class.direction == Direction::kInbound ? socket.local_port : socket.remote_port;
      for (const auto& [name, exe] : owners) {
        paths_.emplace(transport, name, static_cast<int>(socket_class.direction),
                       *socket_class.remote_zone, port, exe, place);
      }
    }
  }
}

// Unowned sockets (no owner found: kernel sockets, owners that exited mid-sample, or no
// permission to see them) are learned as rules without `process`. For the exact protocol,
// port, bind (listeners) or direction, zone, port (paths) such a rule allows any owner: the
// policy cannot say "unowned only", and without the rule the same unowned socket would be a
// finding on every sample after learning.
Policy BaselineLearner::Learned() const {
  Policy policy;
  policy.source = kLearnedSource;
  const SourceLocation where{kLearnedSource, 0, 0};

  policy.listeners.emplace();
  policy.expected_services.emplace();
  // Loopback-only listeners serve this host only: allowed, but not a service others expect.
  // Several non-loopback binds of one port and owner are one service.
  std::set<std::tuple<int, uint16_t, std::string, std::string, LearnedPlace>> services;
  for (const auto& [transport, port, scope, address, process, exe, place] : listeners_) {
    ListenerRule rule;
    rule.process = LiteralPattern(process);
    rule.exe = LiteralPattern(exe);
    rule.selects = SelectorOf(place);
    rule.ports = {port, port};
    rule.protocol = ProtocolOf(transport);
    rule.bind.scope = static_cast<BindScope>(scope);
    if (rule.bind.scope == BindScope::kAddress) rule.bind.address = *ParseIpAddress(address);
    rule.where = where;
    policy.listeners->push_back(std::move(rule));
    if (static_cast<BindScope>(scope) != BindScope::kLoopback) {
      services.emplace(transport, port, process, exe, place);
    }
  }
  std::set<std::string> names;
  for (const auto& [transport, port, process, exe, place] : services) {
    policy.expected_services->push_back({ServiceName(transport, port, process, names), port,
                                         ProtocolOf(transport), LiteralPattern(process), where,
                                         LiteralPattern(exe), SelectorOf(place)});
  }

  policy.network_processes.emplace();
  for (const auto& [owner, place] : processes_) {
    policy.network_processes->push_back(
        {LiteralPattern(owner.first), where, LiteralPattern(owner.second), SelectorOf(place)});
  }

  policy.paths.emplace();
  std::set<std::string> zones_named;
  for (const auto& [transport, process, direction, zone, port, exe, place] : paths_) {
    PathRule rule;
    rule.process = LiteralPattern(process);
    rule.exe = LiteralPattern(exe);
    rule.selects = SelectorOf(place);
    rule.direction = static_cast<Direction>(direction);
    rule.remote_zone = zone;
    rule.ports = {port, port};
    rule.protocol = ProtocolOf(transport);
    rule.where = where;
    policy.paths->push_back(std::move(rule));
    zones_named.insert(zone);
  }
  for (const Zone& zone : policy_zones_) {
    if (zones_named.contains(zone.name)) policy.zones.push_back(zone);
  }
  return policy;
}

Policy MergeBaseline(const Policy& explicit_policy, const Policy& learned) {
  Policy merged = explicit_policy;
  merged.source =
      explicit_policy.source.empty() ? kLearnedSource : explicit_policy.source + " + baseline";
  Append(merged.listeners, learned.listeners);
  Append(merged.network_processes, learned.network_processes);
  Append(merged.paths, learned.paths);
  if (learned.expected_services) {
    // Service names are label values and must stay unique. A learned service that an
    // explicit one already states (same port, protocol and owner) is left out; one that only
    // shares a name is renamed.
    if (!merged.expected_services) merged.expected_services.emplace();
    std::set<std::string> names;
    for (const ExpectedService& service : *merged.expected_services) names.insert(service.name);
    const std::vector<ExpectedService> explicit_services = *merged.expected_services;
    for (const ExpectedService& service : *learned.expected_services) {
      bool stated = std::any_of(
          explicit_services.begin(), explicit_services.end(), [&](const ExpectedService& other) {
            return other.port == service.port && other.protocol == service.protocol &&
                   other.process == service.process && other.exe == service.exe;
          });
      if (stated) continue;
      ExpectedService added = service;
      for (int suffix = 2; names.contains(added.name); ++suffix) {
        added.name = service.name + "-" + std::to_string(suffix);
      }
      names.insert(added.name);
      merged.expected_services->push_back(std::move(added));
    }
  }
  return merged;
}

std::string BaselinePathIn(const std::string& storage_path) {
  return storage_path + "/baseline.yaml";
}

bool SaveBaseline(const std::string& path, const Policy& learned, std::string& error) {
  std::string text = std::string(kHeaderPrefix) + std::string(kFormat) + "\n" + kHeaderComment +
                     PolicyToYaml(learned);
  // A file LoadBaseline would refuse (too big, or a path naming a zone the learner was not
  // told about) must not be written: it would be relearned on every restart unnoticed.
  PolicyLoadResult check = ParsePolicy(text, path);
  if (!check.policy) {
    error = "cannot save the baseline " + path + ": it would not load again:";
    for (const PolicyError& problem : check.errors) error += "\n" + problem.ToString();
    return false;
  }
  return WriteFileAtomically("the baseline", path, text, error);
}

std::optional<Policy> LoadBaseline(const std::string& path, std::string& error) {
  error.clear();
  FileLoad file = LoadStorageFile(path, kMaxPolicyFileBytes);
  if (file.status == FileLoad::Status::kMissing) return std::nullopt;
  if (!file.ok()) {
    error = file.Problem("the baseline", path, kMaxPolicyFileBytes);
    if (file.status == FileLoad::Status::kTooLarge) error += "; refusing to parse it";
    return std::nullopt;
  }
  const std::string& text = file.text;
  std::string_view first_line = std::string_view(text).substr(0, text.find('\n'));
  if (!first_line.starts_with(kHeaderPrefix)) {
    error = path + " is not a connwatch baseline (its first line is not \"" +
            std::string(kHeaderPrefix) + std::string(kFormat) + "\")";
    return std::nullopt;
  }
  if (first_line.substr(kHeaderPrefix.size()) != kFormat) {
    error = "baseline " + path + " has format \"" +
            std::string(first_line.substr(kHeaderPrefix.size())) +
            "\"; this connwatch reads format " + std::string(kFormat);
    return std::nullopt;
  }
  PolicyLoadResult result = ParsePolicy(text, path);
  if (!result.policy) {
    for (const PolicyError& problem : result.errors) {
      if (!error.empty()) error += "\n";
      error += problem.ToString();
    }
    return std::nullopt;
  }
  const Policy& policy = *result.policy;
  const char* missing = !policy.listeners           ? "listeners"
                        : !policy.expected_services ? "expected_services"
                        : !policy.network_processes ? "network_processes"
                        : !policy.paths             ? "paths"
                                                    : nullptr;
  if (missing != nullptr) {
    error = "baseline " + path + " is incomplete: section " + missing + " is missing";
    return std::nullopt;
  }
  if (std::string why = Unlearnable(policy); !why.empty()) {
    error = "refusing the baseline " + path + ": line " + why + ", which the learner never writes";
    return std::nullopt;
  }
  return std::move(result.policy);
}

}  // namespace connwatch
