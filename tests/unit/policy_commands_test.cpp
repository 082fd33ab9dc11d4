#include "cli/policy_commands.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "policy/baseline.h"
#include "policy/policy_loader.h"
#include "support/captured_output.h"
#include "support/policy_fixtures.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::CapturedRun;
using testing::ParseFixture;
using testing::RunCaptured;

const std::string kFixtures = CONNWATCH_FIXTURES_DIR;

CapturedRun Capture(int (*command)(const std::vector<std::string>&),
                    const std::vector<std::string>& args) {
  CapturedRun run;
  RunCaptured([&] { return command(args); }, run);
  return run;
}

class PolicyCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/connwatch-policy-commands-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) const {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::string dir_;
};

TEST_F(PolicyCommandsTest, ValidateSummarizesAValidPolicy) {
  std::string path = Write("policy.yaml", kDefaultPolicyYaml);
  CapturedRun run = Capture(RunValidate, {path});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, SummarizePolicy(*LoadPolicyFile(path).policy));
  EXPECT_NE(run.out.find("policy: " + path), std::string::npos) << run.out;
  EXPECT_EQ(run.err, "");
}

TEST_F(PolicyCommandsTest, ValidateListsEveryErrorAndCountsThem) {
  std::string path = kFixtures + "/policies/multiple_errors.yaml";
  size_t errors = LoadPolicyFile(path).errors.size();
  ASSERT_GT(errors, 1u);
  CapturedRun run = Capture(RunValidate, {path});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(static_cast<size_t>(std::count(run.err.begin(), run.err.end(), '\n')), errors + 1)
      << run.err;
  EXPECT_TRUE(run.err.starts_with(path + ":")) << run.err;
  EXPECT_TRUE(run.err.ends_with(path + ": " + std::to_string(errors) + " errors\n")) << run.err;
}

TEST_F(PolicyCommandsTest, ValidateOfAMissingFileNamesIt) {
  std::string path = dir_ + "/no-such.yaml";
  CapturedRun run = Capture(RunValidate, {path});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_NE(run.err.find(path), std::string::npos) << run.err;
  EXPECT_TRUE(run.err.ends_with(path + ": 1 error\n")) << run.err;
}

TEST_F(PolicyCommandsTest, ValidateTakesExactlyOneFile) {
  CapturedRun run = Capture(RunValidate, {});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "connwatch validate: missing argument FILE\n(see connwatch validate --help)\n");
  run = Capture(RunValidate, {"a.yaml", "b.yaml"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(
      run.err,
      "connwatch validate: unexpected argument \"b.yaml\"\n(see connwatch validate --help)\n");
  run = Capture(RunValidate, {"--strict", "a.yaml"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err,
            "connwatch validate: unknown flag --strict\n(see connwatch validate --help)\n");
}

TEST_F(PolicyCommandsTest, PolicyPrintsTheEmbeddedDefault) {
  CapturedRun run = Capture(RunPolicy, {"--default"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, kDefaultPolicyYaml);
  EXPECT_EQ(run.err, "");
}

TEST_F(PolicyCommandsTest, PolicyWithoutDefaultIsAUsageError) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{}, {"--default=false"}}) {
    CapturedRun run = Capture(RunPolicy, args);
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_EQ(run.out, "");
    EXPECT_EQ(run.err, "connwatch policy: --default is required\n(see connwatch policy --help)\n");
  }
  CapturedRun run = Capture(RunPolicy, {"--default", "extra"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "connwatch policy: unexpected argument \"extra\"\n(see connwatch policy --help)\n");
}

TEST_F(PolicyCommandsTest, BaselineBeforeLearningExits1) {
  CapturedRun run = Capture(RunBaseline, {"--storage.path=" + dir_});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "connwatch baseline: no baseline learned yet (" + dir_ +
                         "/baseline.yaml does not exist)\n");
}

TEST_F(PolicyCommandsTest, BaselinePrintsTheLearnedPolicyForValidate) {
  testing::SnapshotBuilder builder;
  builder.Add(testing::Tcp(SocketState::kListen, "0.0.0.0", 2222, "0.0.0.0", 0, 1))
      .Own(1, 10, "sshd");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  std::string error;
  ASSERT_TRUE(SaveBaseline(dir_ + "/baseline.yaml", learner.Learned(), error)) << error;

  CapturedRun run = Capture(RunBaseline, {"--storage.path", dir_});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_TRUE(run.out.starts_with("# The baseline connwatch learned on this host (" + dir_ +
                                  "/baseline.yaml).\n"))
      << run.out;
  EXPECT_NE(run.out.find("2222"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("sshd"), std::string::npos) << run.out;
  CapturedRun validate = Capture(RunValidate, {Write("printed.yaml", run.out)});
  EXPECT_EQ(validate.exit_code, 0) << validate.err;
}

TEST_F(PolicyCommandsTest, BaselineReportsAnUnreadableBaseline) {
  Write("baseline.yaml", "listeners: [\n");
  CapturedRun run = Capture(RunBaseline, {"--storage.path=" + dir_});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(run.err.starts_with("connwatch baseline: ")) << run.err;
  EXPECT_NE(run.err.find(dir_ + "/baseline.yaml"), std::string::npos) << run.err;
}

TEST_F(PolicyCommandsTest, BaselineFlagErrorsExit2) {
  CapturedRun run = Capture(RunBaseline, {"--storage.path"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "connwatch baseline: --storage.path: needs a value\n(see connwatch baseline --help)\n");
}

TEST_F(PolicyCommandsTest, EachCommandAnswersHelp) {
  const std::vector<
      std::tuple<int (*)(const std::vector<std::string>&), std::string, std::vector<std::string>>>
      commands = {
          {RunValidate, "usage: connwatch validate FILE\n", {"  --help\n"}},
          {RunPolicy, "usage: connwatch policy --default\n", {"  --default=false\n", "  --help\n"}},
          {RunBaseline,
           "usage: connwatch baseline [flags]\n",
           {"  --storage.path=/var/lib/connwatch\n", "  --help\n"}},
      };
  for (const auto& [command, usage, flags] : commands) {
    CapturedRun run = Capture(command, {"--help"});
    EXPECT_EQ(run.exit_code, 0) << usage;
    EXPECT_EQ(run.err, "") << usage;
    EXPECT_TRUE(run.out.starts_with(usage)) << run.out;
    for (const std::string& flag : flags) {
      EXPECT_NE(run.out.find(flag), std::string::npos) << usage << " lacks " << flag << run.out;
    }
  }
}

// What `connwatch validate` prints for a valid policy.
TEST(PolicySummaryTest, OfTheDefaultPolicy) {
  EXPECT_EQ(SummarizePolicy(DefaultPolicy()),
            "policy: <embedded default>\n"
            "zones: built-in only\n"
            "  built-in: loopback, link_local, multicast, internal, external (everything else)\n"
            "checks:\n"
            "  unexpected listeners: inactive (section absent)\n"
            "  expected services: inactive (section absent)\n"
            "  network processes: inactive (section absent)\n"
            "  paths: inactive (section absent)\n"
            "  long connections: longer than 1h\n"
            "  deleted executables: always active (processes holding sockets)\n"
            "  beacons: 24 or more connections in 1h scoring 0.8 or more\n"
            "  scans: 50 failed targets of a process or 20 closed ports probed by a peer in 5m\n"
            "baseline learning: learns for 5m, then adds the learned rules to the sections above "
            "(activating absent ones)\n");
}

TEST(PolicySummaryTest, SaysWhichRulesArePinnedToAnExe) {
  PolicyLoadResult result = ParseFixture("good/identity.yaml");
  ASSERT_TRUE(result.policy.has_value());
  std::string summary = SummarizePolicy(*result.policy);
  EXPECT_NE(summary.find("  unexpected listeners: active (2 allowed listeners, 2 pinned to an "
                         "exe)\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("    redis: tcp/6379 owned by \"redis-server\" running "
                         "\"/usr/bin/redis-check-rdb\"\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("  network processes: active (4 allowed process patterns, 3 pinned to "
                         "an exe)\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("  paths: active (2 allowed paths, 2 pinned to an exe)\n"),
            std::string::npos)
      << summary;
}

TEST(PolicySummaryTest, OfAFullPolicy) {
  PolicyLoadResult result = ParseFixture("good/full.yaml");
  ASSERT_TRUE(result.policy.has_value());
  EXPECT_EQ(SummarizePolicy(*result.policy),
            "policy: full.yaml\n"
            "zones: 2 policy zones, matched first in this order, then the built-ins\n"
            "  dmz: 203.0.113.0/24 2001:db8:1::/48\n"
            "  admin_vpn: 10.20.0.0/24\n"
            "  built-in: loopback, link_local, multicast, internal, external (everything else)\n"
            "checks:\n"
            "  unexpected listeners: active (4 allowed listeners)\n"
            "  expected services: active (3 services)\n"
            "    https: tcp/443 owned by \"nginx\"\n"
            "    dns: udp/53\n"
            "    ssh: tcp/22\n"
            "  network processes: active (2 allowed process patterns)\n"
            "  paths: active (3 allowed paths)\n"
            "  long connections: longer than 1h30m\n"
            "  deleted executables: always active (processes holding sockets)\n"
            "  beacons: 24 or more connections in 1h scoring 0.8 or more\n"
            "  scans: 50 failed targets of a process or 20 closed ports probed by a peer in 5m\n"
            "baseline learning: learns for 2d, then adds the learned rules to the sections above "
            "(activating absent ones)\n");
}

TEST(PolicySummaryTest, SaysHowManyPathsAllowBeacons) {
  PolicyLoadResult result = ParsePolicy(
      "paths:\n  - {port: 443, beacon: allowed}\n  - {port: 80}\nlimits:\n  beacon:\n"
      "    window: 2m\n    min_connections: 12\n    min_score: 0.9\n",
      "p.yaml");
  ASSERT_TRUE(result.policy.has_value());
  std::string summary = SummarizePolicy(*result.policy);
  EXPECT_NE(summary.find("  beacons: 12 or more connections in 2m scoring 0.9 or more (1 path "
                         "allows them)\n"),
            std::string::npos)
      << summary;
}

TEST(PolicySummaryTest, OfEmptySectionsSaysTheyAllowNothing) {
  PolicyLoadResult result = ParsePolicy("listeners: []\nbaseline:\n  learn_for: 0\n", "p.yaml");
  ASSERT_TRUE(result.policy.has_value());
  std::string summary = SummarizePolicy(*result.policy);
  EXPECT_NE(summary.find("  unexpected listeners: active (0 allowed listeners)\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("baseline learning: off (learn_for 0)\n"), std::string::npos) << summary;
}

}  // namespace
}  // namespace connwatch
