// Loads a policy from YAML, read strictly through base/yaml_tree.h: unknown keys, duplicate
// keys, wrong types, bad CIDRs, ports, ranges and zones, and pathological YAML are errors;
// every error names file, line, column and key, and all are reported at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/config_error.h"
#include "base/yaml_tree.h"
#include "policy/policy.h"

namespace connwatch {

// Files larger than this are refused before parsing (a policy is a few KiB).
inline constexpr size_t kMaxPolicyFileBytes = 1u << 20;

using PolicyError = ConfigError;

struct PolicyLoadResult {
  std::optional<Policy> policy;  // set when errors is empty
  std::vector<PolicyError> errors;
};

// What a policy file may hold as YAML: no aliases, no merge keys, one document, only the
// tags the loader reads (!!str, !!int, !!binary, !!null).
YamlRules PolicyYamlRules();

// Pure: parses `text`; `file_name` is only used in locations and Policy::source.
PolicyLoadResult ParsePolicy(std::string_view text, const std::string& file_name);
// Reads (size-capped) and parses a file.
PolicyLoadResult LoadPolicyFile(const std::string& path);

}  // namespace connwatch
