// `connwatch validate FILE`, `connwatch policy --default`, `connwatch baseline`: the
// policy for people to read, check and commit. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace connwatch {

int RunValidate(const std::vector<std::string>& args);
int RunPolicy(const std::vector<std::string>& args);
int RunBaseline(const std::vector<std::string>& args);

inline constexpr const char* kDefaultStoragePath = "/var/lib/connwatch";

}  // namespace connwatch
