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

// 0 and a summary on stdout for a valid policy; 2 with every error on stderr otherwise.
int RunValidate(const std::vector<std::string>& args);
// 0 and the embedded default policy on stdout with --default; 2 without it.
int RunPolicy(const std::vector<std::string>& args);
// 0 and the learned baseline as a policy on stdout; 1 when none can be read.
int RunBaseline(const std::vector<std::string>& args);

}  // namespace connwatch
