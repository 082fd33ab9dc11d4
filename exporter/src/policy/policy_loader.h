// Loads a policy from YAML (the only file that includes yaml-cpp). Strict: unknown keys,
// duplicate keys, wrong types, bad CIDRs, ports, ranges and zones, and pathological YAML
// are errors; every error names file, line, column and key, and all are reported at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"

namespace connwatch {

// Files larger than this are refused before parsing (a policy is a few KiB).
inline constexpr size_t kMaxPolicyFileBytes = 1u << 20;

struct PolicyError {
  SourceLocation where;
  std::string key;  // dotted path of the offending key, e.g. "listeners[2].port"
  std::string message;

  // "policy.yaml:12:5: listeners[2].port: port must be 1-65535, got 70000"
  std::string ToString() const;
};

struct PolicyLoadResult {
  std::optional<Policy> policy;  // set when errors is empty
  std::vector<PolicyError> errors;
};

// Pure: parses `text`; `file_name` is only used in locations and Policy::source.
PolicyLoadResult ParsePolicy(std::string_view text, const std::string& file_name);
// Reads (size-capped) and parses a file.
PolicyLoadResult LoadPolicyFile(const std::string& path);

// YAML that ParsePolicy reads back to an equal policy (locations aside). Used to print the
// learned baseline for review and to persist it.
std::string PolicyToYaml(const Policy& policy);

// What `connwatch validate` prints for a valid policy: each check active or not and why,
// rule counts, zones.
std::string SummarizePolicy(const Policy& policy);

}  // namespace connwatch
