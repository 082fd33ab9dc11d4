// The policy's `limits` section, read strictly: long connections, UDP servers, how long
// findings are held, and the thresholds of the beacon and scan detections.
#pragma once

#include "base/yaml_tree.h"
#include "policy/policy.h"

namespace connwatch {

// Errors go to `reader`'s ConfigErrors; fields it could not read keep their defaults.
void ReadLimits(YamlReader& reader, const YamlNode& node, Limits& limits);

}  // namespace connwatch
