#include "cli/policy_commands.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "base/duration.h"
#include "base/text.h"
#include "cli/common_flags.h"
#include "cli/flags.h"
#include "policy/baseline.h"
#include "policy/policy_loader.h"
#include "policy/policy_yaml.h"

namespace connwatch {
namespace {

std::string PluralCount(size_t count, const char* singular, const char* plural) {
  return std::to_string(count) + " " + (count == 1 ? singular : plural);
}

}  // namespace

// The detections need connection events (serve's --collect.events), not a section.
void DetectionsSummary(const Policy& policy, std::ostream& out) {
  const BeaconLimits& beacon = policy.limits.beacon;
  size_t allowed = 0;
  if (policy.paths) {
    for (const PathRule& rule : *policy.paths) allowed += rule.beacon_allowed ? 1 : 0;
  }
  out << "  beacons: " << beacon.min_connections << " or more connections in "
      << FormatDuration(beacon.window) << " scoring " << beacon.min_score << " or more";
  if (allowed > 0) out << " (" << allowed << (allowed == 1 ? " path allows" : " paths allow");
  if (allowed > 0) out << " them)";
  out << "\n  scans: " << policy.limits.scan.targets << " failed targets of a process or "
      << policy.limits.scan.ports << " closed ports probed by a peer in 5m\n";
}

std::string SummarizePolicy(const Policy& policy) {
  std::ostringstream out;
  out << "policy: " << policy.source << "\n";
  out << "zones: ";
  if (policy.zones.empty()) {
    out << "built-in only\n";
  } else {
    out << PluralCount(policy.zones.size(), "policy zone", "policy zones")
        << ", matched first in this order, then the built-ins\n";
    for (const Zone& zone : policy.zones) {
      out << "  " << zone.name << ":";
      for (const Cidr& cidr : zone.cidrs) out << " " << FormatCidr(cidr);
      out << "\n";
    }
  }
  out << "  built-in: loopback, link_local, multicast, internal, external (everything else)\n";

  auto section = [&](const char* title, const auto& rules, const char* singular,
                     const char* plural) {
    out << "  " << title << ": ";
    if (rules) {
      // Rules that say where the binary lives: the rest trust a name any process can take.
      size_t pinned = std::count_if(rules->begin(), rules->end(),
                                    [](const auto& rule) { return !rule.exe.empty(); });
      out << "active (" << PluralCount(rules->size(), singular, plural);
      if (pinned > 0) out << ", " << pinned << " pinned to an exe";
      out << ")\n";
    } else {
      out << "inactive (section absent)\n";
    }
  };
  out << "checks:\n";
  section("unexpected listeners", policy.listeners, "allowed listener", "allowed listeners");
  section("expected services", policy.expected_services, "service", "services");
  if (policy.expected_services) {
    for (const ExpectedService& service : *policy.expected_services) {
      out << "    " << service.name << ": " << ProtocolMatchName(service.protocol) << "/"
          << service.port;
      if (!service.process.empty()) out << " owned by " << QuoteBytes(service.process);
      if (!service.exe.empty()) out << " running " << QuoteBytes(service.exe, 256);
      out << "\n";
    }
  }
  section("network processes", policy.network_processes, "allowed process pattern",
          "allowed process patterns");
  section("paths", policy.paths, "allowed path", "allowed paths");
  out << "  long connections: longer than " << FormatDuration(policy.limits.long_connection)
      << "\n";
  out << "  deleted executables: always active (processes holding sockets)\n";
  DetectionsSummary(policy, out);
  out << "baseline learning: ";
  if (policy.baseline.learn_for.count() == 0) {
    out << "off (learn_for 0)\n";
  } else {
    out << "learns for " << FormatDuration(policy.baseline.learn_for)
        << ", then adds the learned rules to the sections above (activating absent ones)\n";
  }
  return out.str();
}

int RunValidate(const std::vector<std::string>& args) {
  const Command command{
      "connwatch validate",
      "connwatch validate FILE",
      "Checks a policy file. Exit code 0 with a summary of the policy, 2 with every error as\n"
      "FILE:LINE:COLUMN: message.",
      {},
      {"FILE"},
  };
  std::vector<std::string> arguments;
  if (auto exit_code = ParseCommandLine(command, args, &arguments)) return *exit_code;
  const std::string& file = arguments[0];
  PolicyLoadResult result = LoadPolicyFile(file);
  if (!result.policy) {
    for (const PolicyError& error : result.errors) {
      fprintf(stderr, "%s\n", error.ToString().c_str());
    }
    fprintf(stderr, "%s: %zu error%s\n", file.c_str(), result.errors.size(),
            result.errors.size() == 1 ? "" : "s");
    return 2;
  }
  printf("%s", SummarizePolicy(*result.policy).c_str());
  return 0;
}

int RunPolicy(const std::vector<std::string>& args) {
  bool show_default = false;
  const Command command{
      "connwatch policy",
      "connwatch policy --default",
      "Prints the embedded default policy, the one serve and check use without --config.file.",
      {BoolFlag("default", "Print the embedded default policy.", &show_default)},
      {},
  };
  if (auto exit_code = ParseCommandLine(command, args)) return *exit_code;
  if (!show_default) return UsageError(command, "--default is required");
  printf("%s", kDefaultPolicyYaml);
  return 0;
}

int RunBaseline(const std::vector<std::string>& args) {
  std::string storage_path = kDefaultStoragePath;
  const Command command{
      "connwatch baseline",
      "connwatch baseline [flags]",
      "Prints the baseline serve learned on this host as a policy, to review and use as\n"
      "--config.file. Exit code 1 when nothing has been learned yet.",
      {StoragePathFlag(&storage_path, "Directory of connwatch's state.")},
      {},
  };
  if (auto exit_code = ParseCommandLine(command, args)) return *exit_code;
  std::string path = BaselinePathIn(storage_path);
  std::string error;
  auto learned = LoadBaseline(path, error);
  if (!learned) {
    fprintf(stderr, "connwatch baseline: %s\n",
            error.empty() ? ("no baseline learned yet (" + path + " does not exist)").c_str()
                          : error.c_str());
    return 1;
  }
  printf(
      "# The baseline connwatch learned on this host (%s).\n"
      "# Review it, edit it, and use it as --config.file to make it explicit.\n%s",
      path.c_str(), PolicyToYaml(*learned).c_str());
  return 0;
}

}  // namespace connwatch
