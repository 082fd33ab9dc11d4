#include "cli/serve.h"

#include <gtest/gtest.h>

#include "support/captured_output.h"
#include "version.h"

namespace connwatch {
namespace {

using testing::CapturedRun;
using testing::RunCaptured;

// Only what ends before serve blocks signals or starts threads: --help, --version, flag
// and web config errors. A missing web config comes first on every command line, so that
// flags the parser wrongly accepted make serve fail at the web config, not serve forever.
CapturedRun Serve(std::vector<std::string> args) {
  args.insert(args.begin(), "--web.config.file=/nonexistent/web.yml");
  CapturedRun run;
  RunCaptured([&] { return RunServe(args); }, run);
  return run;
}

TEST(ServeTest, HelpListsEveryFlagWithItsDefault) {
  CapturedRun run = Serve({"--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.err, "");
  EXPECT_TRUE(run.out.starts_with("usage: connwatch [serve] [flags]\n")) << run.out;
  for (const char* flag : {"  --web.listen-address=:10107\n", "  --web.telemetry-path=/metrics\n",
                           "  --web.config.file=\"\"\n", "  --collect.interval=10s\n",
                           "  --collect.full-scan-every=30\n", "  --metrics.max-series=2000\n",
                           "  --collector.source=auto\n", "  --path.procfs=/proc\n",
                           "  --log.level=info\n", "  --config.file=\"\"\n",
                           "  --storage.path=/var/lib/connwatch\n", "  --baseline.reset=false\n",
                           "  --findings.max-series=200\n", "  --version\n", "  --help\n"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << "no " << flag << " in\n" << run.out;
  }
  // The other subcommands are named, since `connwatch --help` is where people look first.
  for (const char* subcommand : {"connections", "check", "validate", "policy", "baseline"}) {
    EXPECT_NE(run.out.find(std::string("connwatch ") + subcommand), std::string::npos)
        << subcommand;
  }
}

TEST(ServeTest, VersionWinsOverHelpAndBadValues) {
  std::string want =
      std::string("connwatch version ") + kVersion + " (revision " + kRevision + ")\n";
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--version"}, {"--help", "--version"}, {"--collect.interval=1ms", "--version"}}) {
    CapturedRun run = Serve(args);
    EXPECT_EQ(run.exit_code, 0);
    EXPECT_EQ(run.out, want);
    EXPECT_EQ(run.err, "");
  }
}

TEST(ServeTest, BadFlagsExit2NamingTheFlag) {
  const std::string hint = "\n(see connwatch serve --help)\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--collect.interval=50ms",
       "--collect.interval: must be a duration of at least 100ms (e.g. 10s); got \"50ms\""},
      {"--collect.interval=10",
       "--collect.interval: must be a duration of at least 100ms (e.g. 10s); got \"10\""},
      {"--collect.full-scan-every=0",
       "--collect.full-scan-every: must be a positive integer (at most 999999999); got \"0\""},
      {"--metrics.max-series=0",
       "--metrics.max-series: must be a positive integer (at most 999999999); got \"0\""},
      {"--metrics.max-series=1000000000",
       "--metrics.max-series: must be a positive integer (at most 999999999); got "
       "\"1000000000\""},
      {"--findings.max-series=-1",
       "--findings.max-series: must be a non-negative integer (at most 999999999); got \"-1\""},
      {"--collector.source=bogus",
       "--collector.source: must be one of auto, netlink, procfs; got \"bogus\""},
      {"--log.level=loud", "--log.level: must be one of debug, info, warn, error; got \"loud\""},
      {"--web.telemetry-path=/", "--web.telemetry-path: must start with / and not be /; got \"/\""},
      {"--baseline.reset=yes", "--baseline.reset: must be true or false; got \"yes\""},
      {"--foo", "unknown flag --foo"},
      {"--web.listen-address", "--web.listen-address: needs a value"},
      {"extra", "unexpected argument \"extra\""},
  };
  for (const auto& [arg, message] : cases) {
    CapturedRun run = Serve({arg});
    EXPECT_EQ(run.exit_code, 2) << arg;
    EXPECT_EQ(run.out, "") << arg;
    EXPECT_EQ(run.err, "connwatch serve: " + message + hint);
  }
}

TEST(ServeTest, WebConfigIsReadAfterTheFlags) {
  // Good values at their bounds get past the flags; the web config then stops serve.
  CapturedRun run =
      Serve({"--findings.max-series=0", "--collect.full-scan-every=1", "--collect.interval=100ms"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(run.err.starts_with("connwatch: invalid --web.config.file: ")) << run.err;
  EXPECT_NE(run.err.find("/nonexistent/web.yml"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace connwatch
