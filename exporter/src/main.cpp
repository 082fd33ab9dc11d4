// connwatch: the subcommand named first runs with the rest of the arguments; without one
// (or with only flags), serve runs.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/text.h"
#include "cli/check.h"
#include "cli/connections.h"
#include "cli/policy_commands.h"
#include "cli/serve.h"

namespace connwatch {
namespace {

struct Subcommand {
  std::string_view name;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Subcommand kSubcommands[] = {
    {"serve", RunServe},       {"connections", RunConnections}, {"check", RunCheck},
    {"validate", RunValidate}, {"policy", RunPolicy},           {"baseline", RunBaseline},
};

int Dispatch(const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-")) return RunServe(args);
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const Subcommand& subcommand : kSubcommands) {
    if (args[0] == subcommand.name) return subcommand.run(rest);
  }
  // serve takes no positional arguments, so a first word that is no subcommand is a typo.
  fprintf(stderr, "connwatch: unknown subcommand %s\n(see connwatch --help)\n",
          QuoteBytes(args[0]).c_str());
  return 2;
}

// What an exception that nothing caught was about, for the one line connwatch leaves.
std::string DescribeCurrentException() {
  try {
    std::exception_ptr current = std::current_exception();
    if (current) std::rethrow_exception(current);
  } catch (const std::exception& error) {
    return error.what();
  } catch (...) {
    return "unknown exception";
  }
  return "std::terminate without an exception";
}

// Any failure connwatch did not foresee ends it with exit 1 and one log line, not an abort
// with a core and two lines of the C++ runtime (issue 17: a tight address-space limit made
// std::thread throw std::system_error). Threads other than main end up here too.
[[noreturn]] void DieOnUncaughtException() {
  Log(LogLevel::kError, "fatal", {{"err", DescribeCurrentException()}});
  std::_Exit(1);
}

}  // namespace
}  // namespace connwatch

int main(int argc, char** argv) {
  std::set_terminate(connwatch::DieOnUncaughtException);
  try {
    return connwatch::Dispatch({argv + 1, argv + argc});
  } catch (...) {
    connwatch::DieOnUncaughtException();
  }
}
