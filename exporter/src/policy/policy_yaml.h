// The policy written as YAML: to print the learned baseline for review and to persist it.
#pragma once

#include <string>

#include "policy/policy.h"

namespace connwatch {

// YAML that ParsePolicy reads back to an equal policy (locations aside). Names that are not
// UTF-8 are written as !!binary, with a readable rendering in a comment.
std::string PolicyToYaml(const Policy& policy);

}  // namespace connwatch
