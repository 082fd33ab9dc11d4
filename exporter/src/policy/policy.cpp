#include "policy/policy.h"

#include <fnmatch.h>

#include <string_view>

namespace connwatch {

const char* ProtocolMatchName(ProtocolMatch protocol) {
  constexpr const char* kNames[] = {"any", "tcp", "udp"};
  return kNames[static_cast<size_t>(protocol)];
}

Policy DefaultPolicy() {
  Policy policy;
  policy.source = "<embedded default>";
  policy.baseline.learn_for = std::chrono::minutes(5);
  return policy;
}

// Kept equal to DefaultPolicy(): policy_test parses it and compares.
const char* const kDefaultPolicyYaml =
    R"(# connwatch's embedded default policy, used when no --config.file is given.
#
# It has no explicit rules: every check starts without a section. For the first
# baseline.learn_for, connwatch records what this host does (listeners, processes that hold
# network sockets, connection paths), then freezes that as the learned baseline, persists it
# under --storage.path and from then on reports anything outside it.
# `connwatch baseline` prints the learned rules as a policy file to review and commit.
#
# Zones: none of its own; peers are classified by the built-in zones only (loopback,
# link_local, multicast, internal for RFC 1918/CGNAT/ULA, external for the rest).

limits:
  # Connections open longer than this count as long connections.
  long_connection: 1h
  # Samples an unconnected UDP socket inside the ephemeral range must stay bound in before
  # it counts as a listener (a UDP server on a port like 40000 or 51820).
  udp_server_after: 3

baseline:
  # How long to learn before freezing the baseline; 0 disables learning.
  learn_for: 5m
)";

bool ProcessMatches(const std::string& pattern, const std::string& name) {
  if (pattern.empty()) return true;
  // Names without glob characters compare exactly, so a backslash in a plain name is just a
  // backslash. With one, fnmatch's escapes apply: "x\*" matches the literal name "x*".
  if (pattern.find_first_of("*?[") == std::string::npos) return pattern == name;
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

bool ExeMatches(const std::string& pattern, const std::string& exe) {
  if (pattern.empty()) return true;
  if (exe.empty()) return false;
  if (pattern.find_first_of("*?[") == std::string::npos) return pattern == exe;
  return fnmatch(pattern.c_str(), exe.c_str(), FNM_PATHNAME) == 0;
}

bool IdentityMatches(const std::string& process_pattern, const std::string& exe_pattern,
                     const Process& process) {
  if (!ExeMatches(exe_pattern, process.exe)) return false;
  if (process_pattern.empty() || ProcessMatches(process_pattern, process.name)) return true;
  if (!process.comm.empty() && ProcessMatches(process_pattern, process.comm)) return true;
  std::string_view argv0 = process.argv0;
  size_t slash = argv0.rfind('/');
  if (slash != std::string_view::npos) argv0.remove_prefix(slash + 1);
  return !argv0.empty() && ProcessMatches(process_pattern, std::string(argv0));
}

}  // namespace connwatch
