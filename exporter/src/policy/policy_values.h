// The scalar values a policy file holds besides names and ports: durations, counts and
// scores, each read strictly (a type error or a value out of range names the key) through
// base/yaml_tree.h. Shared by the section readers (policy_loader, limits_loader).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/yaml_tree.h"

namespace connwatch {

// An optional minus sign, then decimal digits.
bool LooksLikeInteger(std::string_view text);

// "0" (off) only where `zero_ok`; otherwise Prometheus duration syntax in whole seconds.
std::optional<std::chrono::seconds> ReadPolicyDuration(YamlReader& reader, const YamlNode& node,
                                                       const std::string& path, bool zero_ok);

// A whole number from `min` to `max`, decimal, no leading zeros (YAML 1.1 reads them as
// octal); `what` names it in the message ("a number of samples").
std::optional<uint32_t> ReadPolicyCount(YamlReader& reader, const YamlNode& node,
                                        const std::string& path, uint32_t min, uint32_t max,
                                        const char* what);

// A decimal number from 0 to 1 ("0.8", "1", "0").
std::optional<double> ReadPolicyScore(YamlReader& reader, const YamlNode& node,
                                      const std::string& path);

}  // namespace connwatch
