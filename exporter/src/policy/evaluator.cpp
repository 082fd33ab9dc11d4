#include "policy/evaluator.h"

#include <algorithm>
#include <span>
#include <tuple>
#include <unordered_map>

#include "base/hash_combine.h"
#include "net/endpoint.h"
#include "tracking/connection_ages.h"

namespace connwatch {
namespace {

// The owners of a socket that could be read, by pid, each once. A pid whose process exited
// before it was read has no name to judge; when no owner is left the socket is unowned
// (Snapshot::OwnerNames skips such pids the same way).
std::vector<const Process*> OwnerProcesses(const Snapshot& snapshot, const Socket& socket) {
  std::vector<const Process*> owners;
  for (pid_t pid : snapshot.OwnersOf(socket)) {
    auto it = snapshot.processes.find(pid);
    if (it != snapshot.processes.end()) owners.push_back(&it->second);
  }
  std::sort(owners.begin(), owners.end(),
            [](const Process* a, const Process* b) { return a->pid < b->pid; });
  owners.erase(std::unique(owners.begin(), owners.end(),
                           [](const Process* a, const Process* b) { return a->pid == b->pid; }),
               owners.end());
  return owners;
}

bool ProtocolMatchesTransport(ProtocolMatch protocol, Transport transport) {
  switch (protocol) {
    case ProtocolMatch::kAny:
      return true;
    case ProtocolMatch::kTcp:
      return transport == Transport::kTcp;
    case ProtocolMatch::kUdp:
      return transport == Transport::kUdp;
  }
  return false;
}

// The local address is unmapped first: a dual-stack socket bound to ::ffff:127.0.0.1 is
// bound to IPv4 loopback.
bool BindMatches(const BindMatch& bind, const IpAddress& local) {
  IpAddress address = UnmapV4(local);
  switch (bind.scope) {
    case BindScope::kUnspecified:
      return true;
    case BindScope::kWildcard:
      return IsUnspecified(address);
    case BindScope::kLoopback:
      return IsLoopback(address);
    case BindScope::kAddress:
      return address == UnmapV4(bind.address);
  }
  return false;
}

// Whom a finding is for; without an owner, why there is none (sources/attribution.h).
std::string ForWhom(const Process* owner, Attribution attribution) {
  if (owner) return "for process " + owner->name;
  switch (attribution) {
    case Attribution::kUnknown:
      return "for a socket whose owner is unknown after a full walk";
    case Attribution::kOwnerExited:
      return "for a socket whose owner exited during the sample";
    case Attribution::kNoInode:  // kernel sockets; not an owner anyone could have found
    case Attribution::kOwned:
    case Attribution::kAcceptQueue:
      break;
  }
  return "for an unowned socket";
}

// A connection whose owners went away between the dump and the process reads is not judged
// as nobody's: it is judged in the next sample, with its owner if it is still there.
bool JudgedNow(const Snapshot& snapshot, size_t index) {
  return snapshot.AttributionOf(index) != Attribution::kOwnerExited;
}

// A rule with a process or exe pattern matches only owned sockets; `owner` null means
// unowned.
bool ProcessRuleMatches(const std::string& pattern, const std::string& exe, const Process* owner) {
  if (pattern.empty() && exe.empty()) return true;
  return owner != nullptr && IdentityMatches(pattern, exe, *owner);
}

// " (/usr/bin/x)": where an owner's binary lives, for reasons; "" when unknown.
std::string ExeNote(const Process& owner) {
  return owner.exe.empty() ? "" : " (" + owner.exe + ")";
}

// Calls `judge(owner)` for each owner, or once with nullptr for an unowned socket.
template <typename Judge>
void ForEachOwner(const std::vector<const Process*>& owners, Judge judge) {
  if (owners.empty()) {
    judge(nullptr);
    return;
  }
  for (const Process* owner : owners) judge(owner);
}

Finding MakeFinding(Check check, std::optional<size_t> socket, const Process* owner) {
  Finding finding;
  finding.check = check;
  finding.socket = socket;
  if (owner) {
    finding.pid = owner->pid;
    finding.process = owner->name;
  }
  return finding;
}

// Whether a rule's workload selector is about sockets[index]: its pod and its namespace.
bool Selects(const WorkloadSelector& selector, const Snapshot& snapshot, size_t index) {
  return selector.IsAny() || SelectorMatches(selector, snapshot.WorkloadOf(index),
                                             snapshot.NetnsNameOf(snapshot.sockets[index]));
}

bool ListenerRuleMatches(const ListenerRule& rule, const Socket& socket, const Process* owner) {
  return ProtocolMatchesTransport(rule.protocol, socket.transport) &&
         rule.ports.Contains(socket.local_port) && BindMatches(rule.bind, socket.local) &&
         ProcessRuleMatches(rule.process, rule.exe, owner);
}

// A listener is expected when a rule allows it for at least one owner: the nginx master
// and its workers share one listening socket, and the rule names only one of them.
void EvaluateListeners(const std::vector<ListenerRule>& rules, const Snapshot& snapshot,
                       Evaluation& evaluation) {
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    if (snapshot.classes[i].role != SocketRole::kListener || snapshot.OnlySelfOwns(i)) continue;
    const Socket& socket = snapshot.sockets[i];
    std::vector<const Process*> owners = OwnerProcesses(snapshot, socket);
    bool expected = false;
    ForEachOwner(owners, [&](const Process* owner) {
      for (const ListenerRule& rule : rules) {
        if (ListenerRuleMatches(rule, socket, owner) && Selects(rule.selects, snapshot, i)) {
          expected = true;
        }
      }
    });
    evaluation.listener_expected[i] = expected ? 1 : 0;
    if (expected) continue;
    ForEachOwner(owners, [&](const Process* owner) {
      Finding finding = MakeFinding(Check::kUnexpectedListener, i, owner);
      finding.reason = std::string("no listeners rule allows ") + TransportName(socket.transport) +
                       " " + FormatEndpoint(socket.local, socket.local_port) + " " +
                       ForWhom(owner, snapshot.AttributionOf(i));
      evaluation.findings.push_back(std::move(finding));
    });
  }
}

// Bind addresses are not compared: a service is up when anything listens on its port.
bool ServiceIsUp(const ExpectedService& service, const Snapshot& snapshot) {
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    const Socket& socket = snapshot.sockets[i];
    if (snapshot.classes[i].role != SocketRole::kListener ||
        !ProtocolMatchesTransport(service.protocol, socket.transport) ||
        socket.local_port != service.port || !Selects(service.selects, snapshot, i)) {
      continue;
    }
    if (service.process.empty() && service.exe.empty()) return true;
    for (const Process* owner : OwnerProcesses(snapshot, socket)) {
      if (IdentityMatches(service.process, service.exe, *owner)) return true;
    }
  }
  return false;
}

void EvaluateServices(const std::vector<ExpectedService>& services, const Snapshot& snapshot,
                      Evaluation& evaluation) {
  for (const ExpectedService& service : services) {
    bool up = ServiceIsUp(service, snapshot);
    evaluation.services.push_back({&service, up});
    if (up) continue;
    Finding finding = MakeFinding(Check::kExpectedServiceDown, std::nullopt, nullptr);
    finding.service = service.name;
    finding.process = service.process;  // who should be listening; no pid, nothing runs
    finding.reason = "expected service " + service.name + ": no " +
                     ProtocolMatchName(service.protocol) + " listener on port " +
                     std::to_string(service.port);
    if (!service.process.empty()) finding.reason += " owned by " + service.process;
    if (!service.exe.empty()) finding.reason += " running " + service.exe;
    evaluation.findings.push_back(std::move(finding));
  }
}

// One finding per process, on the first socket it holds, rather than one per socket: a
// process with thousands of sockets would otherwise flood the finding series. The socket
// count is in unexpected_network_process_sockets.
void EvaluateNetworkProcesses(const std::vector<NetworkProcessRule>& rules,
                              const Snapshot& snapshot, Evaluation& evaluation) {
  struct Unexpected {
    size_t first_socket;
    const Process* process;
    uint64_t sockets = 0;
  };
  // Judged once per pid and place: a rule may select the pod or namespace, and a process can
  // hold sockets in several namespaces.
  struct Place {
    pid_t pid;
    uint32_t workload, netns;
    bool operator==(const Place&) const = default;
  };
  struct PlaceHash {
    size_t operator()(const Place& place) const {
      size_t seed = 0;
      HashCombine(seed, static_cast<uint64_t>(place.pid));
      HashCombine(seed, static_cast<uint64_t>(place.workload) << 32 | place.netns);
      return seed;
    }
  };
  std::unordered_map<Place, bool, PlaceHash> allowed;
  std::vector<Unexpected> unexpected;  // in order of first socket
  std::unordered_map<pid_t, size_t> unexpected_index;
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    if (snapshot.OnlySelfOwns(i)) continue;
    const std::vector<const Process*> owners = OwnerProcesses(snapshot, snapshot.sockets[i]);
    // A socket shared by several processes of one name counts once for that name: the
    // gauge counts sockets, not file descriptors (forked workers inherit their parent's).
    std::vector<std::string> counted_names;
    uint32_t workload = i < snapshot.workload_of.size() ? snapshot.workload_of[i] : 0;
    for (const Process* owner : owners) {
      auto [it, inserted] =
          allowed.try_emplace(Place{owner->pid, workload, snapshot.sockets[i].netns}, false);
      if (inserted) {
        it->second = std::any_of(rules.begin(), rules.end(), [&](const NetworkProcessRule& rule) {
          return IdentityMatches(rule.process, rule.exe, *owner) &&
                 Selects(rule.selects, snapshot, i);
        });
      }
      if (it->second) continue;
      auto [index, first] = unexpected_index.try_emplace(owner->pid, unexpected.size());
      if (first) unexpected.push_back({i, owner});
      ++unexpected[index->second].sockets;
      if (std::find(counted_names.begin(), counted_names.end(), owner->name) ==
          counted_names.end()) {
        counted_names.push_back(owner->name);
        ++evaluation.unexpected_network_process_sockets[{owner->name, workload}];
      }
    }
  }
  evaluation.unexpected_network_processes = unexpected.size();
  for (const Unexpected& entry : unexpected) {
    Finding finding =
        MakeFinding(Check::kUnexpectedNetworkProcess, entry.first_socket, entry.process);
    // The path says which binary: a copy of an allowed one run from elsewhere differs only
    // there.
    finding.reason = "network_processes does not allow process " + entry.process->name +
                     ExeNote(*entry.process) + " (holds " + std::to_string(entry.sockets) +
                     (entry.sockets == 1 ? " socket)" : " sockets)");
    evaluation.findings.push_back(std::move(finding));
  }
}

bool PathRuleMatches(const PathRule& rule, const Socket& socket, const SocketClass& socket_class,
                     uint16_t port, const Process* owner) {
  if (!ProtocolMatchesTransport(rule.protocol, socket.transport)) return false;
  if (rule.direction != Direction::kNone && rule.direction != socket_class.direction) return false;
  if (!rule.remote_zone.empty() &&
      (socket_class.remote_zone == nullptr || *socket_class.remote_zone != rule.remote_zone)) {
    return false;
  }
  return rule.ports.Contains(port) && ProcessRuleMatches(rule.process, rule.exe, owner);
}

// Judged per owner: a connection two processes share is allowed for the one a rule names
// and a violation for the other. Loopback connections get no exemption (the policy allows
// them with remote_zone: loopback), and a connection between two local processes appears
// twice, once from each end; both ends are judged.
void EvaluatePaths(const std::vector<PathRule>& rules, const Snapshot& snapshot,
                   Evaluation& evaluation) {
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    const SocketClass& socket_class = snapshot.classes[i];
    const Socket& socket = snapshot.sockets[i];
    // A connect still in SYN_SENT (or one that failed, between samples) is an attempt of
    // the path: judged as one, so a blocked beacon or a scan is not skipped.
    bool attempt = socket.transport == Transport::kTcp && socket.state == SocketState::kSynSent;
    if ((socket_class.role != SocketRole::kConnection && !attempt) ||
        socket_class.direction == Direction::kNone || !JudgedNow(snapshot, i) ||
        snapshot.OnlySelfOwns(i)) {
      continue;
    }
    // The service port: bounded, unlike the ephemeral port on the client's side.
    uint16_t port =
        socket_class.direction == Direction::kInbound ? socket.local_port : socket.remote_port;
    ForEachOwner(OwnerProcesses(snapshot, socket), [&](const Process* owner) {
      for (const PathRule& rule : rules) {
        if (PathRuleMatches(rule, socket, socket_class, port, owner) &&
            Selects(rule.selects, snapshot, i)) {
          return;
        }
      }
      Finding finding = MakeFinding(Check::kPathViolation, i, owner);
      finding.path_port = port;
      std::string zone = socket_class.remote_zone ? *socket_class.remote_zone : "";
      std::string peer =
          socket_class.direction == Direction::kInbound
              ? "from " + FormatIpAddress(socket.remote) + " (" + zone + ") to port " +
                    std::to_string(port)
              : "to " + FormatEndpoint(socket.remote, socket.remote_port) + " (" + zone + ")";
      finding.reason = std::string("no paths rule allows ") + (attempt ? "an attempted " : "") +
                       DirectionName(socket_class.direction) + " " +
                       TransportName(socket.transport) + " " + peer + " " +
                       ForWhom(owner, snapshot.AttributionOf(i));
      evaluation.findings.push_back(std::move(finding));
    });
  }
}

// How long the connection has been open, saying how much of it is known: only conntrack's
// age is exact; a first sighting is a lower bound, a process start an upper one.
std::string AgeClause(const ConnectionAge& age) {
  auto seconds = [](double value) { return std::to_string(static_cast<int64_t>(value)) + " s"; };
  switch (age.source) {
    case AgeSource::kConntrack:
      return "open for " + seconds(age.age_seconds) + " (conntrack)";
    case AgeSource::kFirstSeen:
      return "open for at least " + seconds(age.age_seconds) + " (first seen by connwatch)";
    case AgeSource::kProcessStart:
      break;
  }
  return "open for at least " + seconds(CertainAgeSeconds(age)) +
         " (watched by connwatch; at most " + seconds(age.age_seconds) + ", the process's age)";
}

// One finding per owner of each connection known to be older than the limit: the process
// holding it is what a responder looks at first. An age that is only an upper bound (the
// owner's start) raises nothing until connwatch has itself watched the connection that long.
void EvaluateLongConnections(const Limits& limits, const Snapshot& snapshot,
                             Evaluation& evaluation) {
  double limit = static_cast<double>(limits.long_connection.count());
  for (size_t i = 0; i < snapshot.sockets.size() && i < snapshot.ages.size(); ++i) {
    const std::optional<ConnectionAge>& age = snapshot.ages[i];
    if (!age || CertainAgeSeconds(*age) <= limit || !JudgedNow(snapshot, i) ||
        snapshot.OnlySelfOwns(i)) {
      continue;
    }
    const Socket& socket = snapshot.sockets[i];
    ForEachOwner(OwnerProcesses(snapshot, socket), [&](const Process* owner) {
      Finding finding = MakeFinding(Check::kLongConnection, i, owner);
      finding.age_seconds = age->age_seconds;
      finding.reason = std::string(TransportName(socket.transport)) + " connection to " +
                       FormatEndpoint(socket.remote, socket.remote_port) + " " + AgeClause(*age) +
                       ", longer than " + std::to_string(limits.long_connection.count()) + " s " +
                       ForWhom(owner, snapshot.AttributionOf(i));
      evaluation.findings.push_back(std::move(finding));
    });
  }
}

// A process holding sockets whose binary is gone from disk: a dropper that deleted itself,
// a memfd (fileless) payload, or a daemon not restarted after its package was upgraded.
// No policy can make that normal, so the check needs no section and is always active.
// One finding per process, on its first socket, as for network processes.
void EvaluateDeletedExecutables(const Snapshot& snapshot, Evaluation& evaluation) {
  // Almost every sample has none: the socket table (100k entries on a busy host) is walked
  // only when some owner runs a deleted executable.
  bool any_deleted = std::any_of(snapshot.processes.begin(), snapshot.processes.end(),
                                 [](const auto& entry) { return entry.second.exe_deleted; });
  if (!any_deleted) return;
  std::unordered_map<pid_t, size_t> first_socket;
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    for (const Process* owner : OwnerProcesses(snapshot, snapshot.sockets[i])) {
      if (owner->exe_deleted && first_socket.try_emplace(owner->pid, i).second) {
        ++evaluation.deleted_executable_processes[owner->name];
        Finding finding = MakeFinding(Check::kDeletedExecutable, i, owner);
        finding.reason = "process " + owner->name + " runs " + owner->exe +
                         ", deleted from disk since it started, and holds sockets";
        evaluation.findings.push_back(std::move(finding));
      }
    }
  }
}

}  // namespace

const char* CheckName(Check check) {
  constexpr const char* kNames[] = {
      "unexpected_listener", "expected_service_down", "unexpected_network_process",
      "path_violation",      "long_connection",       "deleted_executable"};
  static_assert(std::size(kNames) == kCheckCount);
  return kNames[static_cast<size_t>(check)];
}

Evaluation Evaluate(const Policy& policy, const Snapshot& snapshot) {
  Evaluation evaluation;
  evaluation.active[static_cast<int>(Check::kUnexpectedListener)] = policy.listeners.has_value();
  evaluation.active[static_cast<int>(Check::kExpectedServiceDown)] =
      policy.expected_services.has_value();
  evaluation.active[static_cast<int>(Check::kUnexpectedNetworkProcess)] =
      policy.network_processes.has_value();
  evaluation.active[static_cast<int>(Check::kPathViolation)] = policy.paths.has_value();
  evaluation.active[static_cast<int>(Check::kLongConnection)] = !snapshot.ages.empty();
  evaluation.active[static_cast<int>(Check::kDeletedExecutable)] = true;

  // Every listener is expected until a listeners section says otherwise.
  evaluation.listener_expected.resize(snapshot.sockets.size(), 0);
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    if (snapshot.classes[i].role == SocketRole::kListener) evaluation.listener_expected[i] = 1;
  }

  if (policy.listeners) EvaluateListeners(*policy.listeners, snapshot, evaluation);
  if (policy.expected_services) {
    EvaluateServices(*policy.expected_services, snapshot, evaluation);
  }
  if (policy.network_processes) {
    EvaluateNetworkProcesses(*policy.network_processes, snapshot, evaluation);
  }
  if (policy.paths) EvaluatePaths(*policy.paths, snapshot, evaluation);
  EvaluateLongConnections(policy.limits, snapshot, evaluation);
  EvaluateDeletedExecutables(snapshot, evaluation);

  // Each check emits in socket order and pid order already; the sort states the contract
  // (expected-service findings have no socket and keep the policy's order).
  std::stable_sort(evaluation.findings.begin(), evaluation.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     return std::tuple(static_cast<int>(a.check), a.socket, a.pid) <
                            std::tuple(static_cast<int>(b.check), b.socket, b.pid);
                   });
  return evaluation;
}

bool BeaconAllowed(const std::vector<PathRule>& rules, const Process& owner,
                   const Workload& workload, std::string_view netns, const std::string& remote_zone,
                   uint16_t remote_port) {
  return std::any_of(rules.begin(), rules.end(), [&](const PathRule& rule) {
    return rule.beacon_allowed && ProtocolMatchesTransport(rule.protocol, Transport::kTcp) &&
           (rule.direction == Direction::kNone || rule.direction == Direction::kOutbound) &&
           (rule.remote_zone.empty() || rule.remote_zone == remote_zone) &&
           rule.ports.Contains(remote_port) && IdentityMatches(rule.process, rule.exe, owner) &&
           SelectorMatches(rule.selects, workload, netns);
  });
}

}  // namespace connwatch
