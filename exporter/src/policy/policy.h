// The policy: what is normal for this host. Plain data, loaded once (policy_loader) or
// learned (baseline), judged against snapshots by the pure evaluator.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/config_error.h"
#include "classify.h"
#include "model.h"
#include "net/ports.h"
#include "net/zones.h"
#include "policy/workload_selector.h"
#include "sources/udp_server_tracker.h"

namespace connwatch {

enum class ProtocolMatch : uint8_t { kAny, kTcp, kUdp };
// "tcp", "udp", "any": the policy's words, label values and messages alike.
const char* ProtocolMatchName(ProtocolMatch protocol);

enum class BindScope : uint8_t {
  kUnspecified,  // key absent: any bind matches
  kWildcard,     // "any": 0.0.0.0 or ::
  kLoopback,     // "loopback": 127/8 or ::1 (v4-mapped included)
  kAddress,      // one address
};

struct BindMatch {
  BindScope scope = BindScope::kUnspecified;
  IpAddress address;  // for kAddress
};

// Rules say where they came from, for messages ("policy.yaml:12:5"); learned rules say
// "baseline".

// A listening socket that is allowed.
struct ListenerRule {
  std::string process;  // exact name or fnmatch(3) glob; empty matches any (and unowned)
  PortRange ports;
  ProtocolMatch protocol = ProtocolMatch::kAny;
  BindMatch bind;
  SourceLocation where;
  // Where the binary must live: "" any; else an absolute path or an fnmatch(3) glob with
  // FNM_PATHNAME ('*' stops at '/'), matched against the resolved /proc/<pid>/exe. Last, so
  // positional initializers of the fields above keep compiling.
  std::string exe;
  WorkloadSelector selects;  // which pods and namespaces; any when empty
};

// A service that must be listening (the missing-connection check).
struct ExpectedService {
  std::string name;  // unique within the policy
  uint16_t port = 0;
  ProtocolMatch protocol = ProtocolMatch::kTcp;
  std::string process;  // optional glob: the listener must also be owned by it
  SourceLocation where;
  std::string exe;  // as in ListenerRule
  // Where the service must listen: inside these pods or namespaces (any when empty).
  WorkloadSelector selects;
};

// An allowed connection path. `ports` is the local port for inbound paths and the remote
// port for outbound ones.
struct PathRule {
  std::string process;                     // glob; empty matches any
  Direction direction = Direction::kNone;  // kNone: either direction
  std::string remote_zone;                 // empty: any zone
  PortRange ports;
  ProtocolMatch protocol = ProtocolMatch::kAny;
  SourceLocation where;
  std::string exe;  // as in ListenerRule
  WorkloadSelector selects;
  // `beacon: allowed`: the rule's connections may also be periodic (NTP, update checks,
  // monitoring): no beacon finding for the pairs it covers (tracking/beacon_score.h).
  bool beacon_allowed = false;
};

// `process`, `exe` or both (the loader refuses neither).
struct NetworkProcessRule {
  std::string process;  // glob; "" with an exe: any name
  SourceLocation where;
  std::string exe;  // as in ListenerRule
  WorkloadSelector selects;
};

// limits.beacon: when a (process, remote address, remote port) pair's connections are
// periodic enough to be a finding (tracking/beacon_score.h).
struct BeaconLimits {
  std::chrono::seconds window{3600};  // the sliding window of connection start times
  // Fewer in the window: no score. 24, not fewer: at 12 connections 8% of Poisson-timed
  // series score 0.8 or more, at 24 0.5% (tests/unit/beacon_score_test.cpp prints the table).
  uint32_t min_connections = 24;
  double min_score = 0.8;  // at or above: a finding
  bool operator==(const BeaconLimits&) const = default;
};

// limits.scan, over the last 5 minutes (tracking/scan_tracker.h).
struct ScanLimits {
  // Outbound: distinct (address, port) targets of one process's failed connects.
  uint32_t targets = 50;
  // Inbound: distinct local ports nobody listens on that one peer tried to connect to.
  uint32_t ports = 20;
  bool operator==(const ScanLimits&) const = default;
};

struct Limits {
  std::chrono::seconds long_connection{3600};
  // Samples an unconnected UDP socket inside the ephemeral range must be held in before it
  // is a listener (sources/udp_server_tracker.h): a listener from the next one on.
  uint32_t udp_server_after = kDefaultUdpServerAfter;
  // How long a finding stays in connwatch_finding_info after its connection ended (with
  // its start, duration and bytes), so the peer of a 200 ms connection is still there.
  std::chrono::seconds finding_hold{600};
  BeaconLimits beacon;
  ScanLimits scan;
};

struct BaselineSettings {
  std::chrono::seconds learn_for{0};  // 0 disables learning
};

// A section that is absent (nullopt) disables its check; an empty list is present and
// allows nothing.
struct Policy {
  std::string source;  // the file it was loaded from, or "<embedded default>"
  std::vector<Zone> zones;
  std::optional<std::vector<ListenerRule>> listeners;
  std::optional<std::vector<ExpectedService>> expected_services;
  std::optional<std::vector<NetworkProcessRule>> network_processes;
  std::optional<std::vector<PathRule>> paths;
  Limits limits;
  BaselineSettings baseline;
};

// The policy connwatch runs on without --config.file: built-in zones, learning for 5m,
// no explicit rules.
Policy DefaultPolicy();
// Its YAML text, as `connwatch policy --default` prints it.
extern const char* const kDefaultPolicyYaml;

// fnmatch(3) glob match of a process name (no FNM_PATHNAME: names hold no '/').
bool ProcessMatches(const std::string& pattern, const std::string& name);
// fnmatch(3) with FNM_PATHNAME of an executable path; "" matches any, and an unknown exe
// ("") matches nothing else: a rule that says where the binary lives cannot vouch for a
// process whose binary nobody could see.
bool ExeMatches(const std::string& pattern, const std::string& exe);
// A rule's process and exe patterns against one process. `process` matches the exe
// basename (`name`), the comm or the basename of argv[0], any of them: the name a
// process was started by is often a symlink's (python3 -> python3.11). All three are the
// process's to choose; only `exe` says which binary runs.
bool IdentityMatches(const std::string& process_pattern, const std::string& exe_pattern,
                     const Process& process);

}  // namespace connwatch
