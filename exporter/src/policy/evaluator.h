// Judges a snapshot against a policy. Pure: no I/O, no clock, no globals.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "sources/snapshot.h"

namespace connwatch {

enum class Check : uint8_t {
  kUnexpectedListener,        // a listener no listeners rule allows
  kExpectedServiceDown,       // an expected service with no matching listener
  kUnexpectedNetworkProcess,  // a process holding sockets, not in network_processes
  kPathViolation,             // an established connection no paths rule allows
  kLongConnection,            // an established connection older than limits.long_connection
  kDeletedExecutable,         // a process holding sockets whose executable was deleted
};
inline constexpr int kCheckCount = 6;

// "unexpected_listener", "expected_service_down", "unexpected_network_process",
// "path_violation", "long_connection", "deleted_executable": the `check` label of
// connwatch_finding_info.
const char* CheckName(Check check);

struct Finding {
  Check check;
  // Index into snapshot.sockets; nullopt for kExpectedServiceDown.
  std::optional<size_t> socket;
  pid_t pid = 0;           // the owner this finding is about; 0 when unowned or not applicable
  std::string process;     // its name; "" when unowned
  std::string service;     // kExpectedServiceDown: the service name
  uint16_t path_port = 0;  // kPathViolation: local port if inbound, remote port if outbound
  std::string reason;      // one line for people: what rule is missing
  double age_seconds = 0;  // kLongConnection: the connection's age
};

struct ServiceState {
  const ExpectedService* service = nullptr;  // points into the evaluated policy
  bool up = false;
};

struct Evaluation {
  bool active[kCheckCount] = {};  // whether each check's policy section is present
  // Per socket (parallel to snapshot.sockets): 1 when the socket is a listener that a rule
  // allows, or the listener check is inactive. 0 for unexpected listeners and non-listeners.
  std::vector<uint8_t> listener_expected;
  std::vector<ServiceState> services;
  // Distinct processes (by pid) holding sockets that network_processes does not allow.
  uint64_t unexpected_network_processes = 0;
  // Sockets held by such processes, by process name and workload (an index into
  // snapshot.workloads; 0, the host, when none was resolved).
  std::map<std::pair<std::string, uint32_t>, uint64_t> unexpected_network_process_sockets;
  // Ordered by check, then socket index, then pid: stable from sample to sample.
  std::vector<Finding> findings;
  // Processes (by pid) holding sockets while running a deleted executable, by name.
  std::map<std::string, uint64_t> deleted_executable_processes;
};

// A socket with several owners is judged per owner: a listener is expected when a rule
// matches it for at least one owner (nginx master and workers share one); path and
// network-process findings are raised for each owner that no rule allows. Unowned sockets
// match only rules without `process`.
// Long connections are judged only when the snapshot carries ages (snapshot.ages); the
// check is active whenever it does, since limits.long_connection always has a value.
Evaluation Evaluate(const Policy& policy, const Snapshot& snapshot);

// Whether a paths rule with `beacon: allowed` covers the outbound TCP connections of `owner`
// (in `workload`, in the network namespace named `netns`) to `remote_port` in `remote_zone`:
// such a pair may be periodic (metrics/detections.h). As for every rule, an `exe` pattern
// matches only a known executable.
bool BeaconAllowed(const std::vector<PathRule>& rules, const Process& owner,
                   const Workload& workload, std::string_view netns, const std::string& remote_zone,
                   uint16_t remote_port);

}  // namespace connwatch
