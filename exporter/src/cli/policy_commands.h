// `connwatch validate FILE`, `connwatch policy --default`, `connwatch baseline`: the
// policy for people to read, check and commit. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

#include "policy/policy.h"

namespace connwatch {

// What `connwatch validate` prints for a valid policy: each check active or not and why,
// rule counts, zones.
std::string SummarizePolicy(const Policy& policy);

int RunValidate(const std::vector<std::string>& args);
int RunPolicy(const std::vector<std::string>& args);
int RunBaseline(const std::vector<std::string>& args);

inline constexpr const char* kDefaultStoragePath = "/var/lib/connwatch";

}  // namespace connwatch
