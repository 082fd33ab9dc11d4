// What a subcommand writes: its stdout and stderr captured at the file descriptors (so
// printf, fwrite and the logger are all caught) while it runs in the test process.
#pragma once

#include <functional>
#include <string>

namespace connwatch::testing {

struct CapturedRun {
  int exit_code = -1;
  std::string out, err;
};

// Points fds 1 and 2 at temporary files while `body` runs, then puts them back. gtest
// failures if a file cannot be made; call inside ASSERT_NO_FATAL_FAILURE.
void RunCaptured(const std::function<int()>& body, CapturedRun& run);

}  // namespace connwatch::testing
