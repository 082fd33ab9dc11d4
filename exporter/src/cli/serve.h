// `connwatch serve`, also what runs without a subcommand: flags -> web config -> least
// privilege -> policy -> sampler -> HTTP, then the SIGHUP reload loop until SIGINT/SIGTERM.
#pragma once

#include <string>
#include <vector>

namespace connwatch {

// Returns the process exit code: 0 after a clean stop (or --help, --version), 1 when the
// HTTP server cannot start, 2 on bad flags, web config or policy.
int RunServe(const std::vector<std::string>& args);

}  // namespace connwatch
