// Command-line flags, Prometheus style: --name=value or --name value, booleans bare.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/duration.h"

namespace connwatch {

struct FlagSpec {
  std::string name;  // without the leading "--"
  std::string help;
  std::string* value = nullptr;  // string flags
  bool* enabled = nullptr;       // boolean flags
};

// Parses `args` against `specs`. Positional arguments are returned in `positional`.
// Returns false with `error` naming the offending argument.
bool ParseFlags(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
                std::vector<std::string>& positional, std::string& error);

std::string FlagUsage(const std::vector<FlagSpec>& specs);

}  // namespace connwatch
