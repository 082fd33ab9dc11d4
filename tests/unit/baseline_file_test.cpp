// The learned baseline on disk: SaveBaseline and LoadBaseline with real files in a temporary
// directory. Learning and merging: baseline_test.cpp.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "policy/baseline.h"
#include "policy/evaluator.h"
#include "policy/policy_loader.h"
#include "policy/policy_yaml.h"
#include "support/policy_describe.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::DescribeAll;
using testing::Processes;
using testing::SnapshotBuilder;
using testing::Strings;
using testing::Tcp;
using testing::Udp;

class BaselineFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/connwatch-baseline-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static Policy SomeBaseline() {
    SnapshotBuilder builder;
    builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1))
        .Add(Tcp(SocketState::kListen, "::1", 631, "::", 0, 2))
        .Add(Tcp(SocketState::kListen, "192.0.2.10", 8080, "0.0.0.0", 0, 3))
        .Add(Udp("0.0.0.0", 123, "0.0.0.0", 0, 4))
        .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 22, "198.51.100.1", 50000, 5))
        .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "10.0.0.8", 5432, 6))
        .Own(1, 100, "sshd")
        .Own(2, 101, "cupsd")
        .Own(3, 102, "we*rd [app]")
        .Own(4, 103, "ntpd")
        .Own(5, 104, "sshd")
        .Own(6, 105, std::string("bad\xff\x01name", 9));  // not UTF-8: !!binary in YAML
    BaselineLearner learner;
    learner.Observe(builder.Build());
    return learner.Learned();
  }

  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string Read(const std::string& path) const {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

  std::string dir_;
};

TEST_F(BaselineFileTest, SaveThenLoadGivesTheSamePolicy) {
  Policy learned = SomeBaseline();
  std::string path = dir_ + "/state/nested/baseline.yaml";
  std::string error;
  ASSERT_TRUE(SaveBaseline(path, learned, error)) << error;
  EXPECT_EQ(error, "");

  std::string text = Read(path);
  EXPECT_EQ(text.rfind("# connwatch learned baseline, format 1\n", 0), 0u) << text;
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir_ + "/state").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir_ + "/state/nested").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);

  std::optional<Policy> loaded = LoadBaseline(path, error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(error, "");
  EXPECT_EQ(PolicyToYaml(*loaded), PolicyToYaml(learned));
  EXPECT_EQ(DescribeAll(loaded->listeners), DescribeAll(learned.listeners));
  EXPECT_EQ(DescribeAll(loaded->expected_services), DescribeAll(learned.expected_services));
  EXPECT_EQ(Processes(*loaded), Processes(learned));
  EXPECT_EQ(DescribeAll(loaded->paths), DescribeAll(learned.paths));
  EXPECT_TRUE(ProcessMatches(loaded->network_processes->at(4).process, "we*rd [app]"))
      << Processes(*loaded).at(4);
}

TEST_F(BaselineFileTest, ExePathsAreSavedAndLoaded) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1))
      .Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "10.0.0.8", 5432, 2))
      .Own(1, 100, "sshd")
      .Own(2, 101, "psql");
  Snapshot& snapshot = builder.Build();
  snapshot.processes.at(100).exe = "/usr/sbin/sshd";
  snapshot.processes.at(101).exe = std::string("/opt/b\xff/psql");  // not UTF-8: !!binary
  BaselineLearner learner;
  learner.Observe(snapshot);
  std::string path = dir_ + "/baseline.yaml";
  std::string error;
  ASSERT_TRUE(SaveBaseline(path, learner.Learned(), error)) << error;
  EXPECT_NE(Read(path).find("  - process: sshd\n    exe: \"/usr/sbin/sshd\"\n"), std::string::npos)
      << Read(path);
  std::optional<Policy> loaded = LoadBaseline(path, error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(Processes(*loaded), (Strings{"psql @/opt/b\xff/psql", "sshd @/usr/sbin/sshd"}));
  EXPECT_EQ(DescribeAll(loaded->paths),
            (Strings{"tcp outbound internal 5432 psql @/opt/b\xff/psql"}));
  EXPECT_EQ(DescribeAll(loaded->listeners), (Strings{"tcp/22 any sshd @/usr/sbin/sshd"}));
}

// A baseline written before connwatch learned paths (format 1 all the same): it loads, and
// its rules, having no exe, allow their names from any path until it is relearned.
TEST_F(BaselineFileTest, BaselineWithoutExePathsStillLoads) {
  std::string path = dir_ + "/baseline.yaml";
  Write(path,
        "# connwatch learned baseline, format 1\n"
        "listeners:\n"
        "  - process: sshd\n"
        "    port: 22\n"
        "    protocol: tcp\n"
        "    bind: any\n"
        "expected_services:\n"
        "  - name: tcp-22-sshd\n"
        "    port: 22\n"
        "    protocol: tcp\n"
        "    process: sshd\n"
        "network_processes:\n"
        "  - sshd\n"
        "paths: []\n"
        "limits:\n"
        "  long_connection: 1h\n"
        "baseline:\n"
        "  learn_for: 0s\n");
  std::string error;
  std::optional<Policy> loaded = LoadBaseline(path, error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(Processes(*loaded), (Strings{"sshd"}));
  EXPECT_EQ(loaded->network_processes->at(0).exe, "");
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 1)).Own(1, 100, "sshd");
  Snapshot& snapshot = builder.Build();
  snapshot.processes.at(100).exe = "/somewhere/else/sshd";
  EXPECT_TRUE(Evaluate(*loaded, snapshot).findings.empty());
}

TEST_F(BaselineFileTest, EmptyBaselineRoundTripsWithEverySectionPresent) {
  std::string path = dir_ + "/baseline.yaml";
  std::string error;
  ASSERT_TRUE(SaveBaseline(path, BaselineLearner().Learned(), error)) << error;
  std::optional<Policy> loaded = LoadBaseline(path, error);
  ASSERT_TRUE(loaded) << error;
  ASSERT_TRUE(loaded->listeners && loaded->expected_services && loaded->network_processes &&
              loaded->paths);
  EXPECT_TRUE(loaded->listeners->empty());
  EXPECT_TRUE(loaded->paths->empty());
}

TEST_F(BaselineFileTest, OverwriteReplacesTheFileAndLeavesNoTemporaryFile) {
  std::string path = dir_ + "/baseline.yaml";
  std::string error;
  ASSERT_TRUE(SaveBaseline(path, BaselineLearner().Learned(), error)) << error;
  ASSERT_TRUE(SaveBaseline(path, SomeBaseline(), error)) << error;
  EXPECT_EQ(Files(), Strings{"baseline.yaml"});
  std::optional<Policy> loaded = LoadBaseline(path, error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(PolicyToYaml(*loaded), PolicyToYaml(SomeBaseline()));

  // A leftover temp file of an earlier crash is replaced, not appended to.
  Write(path + ".tmp." + std::to_string(getpid()), std::string(4096, 'x'));
  ASSERT_TRUE(SaveBaseline(path, BaselineLearner().Learned(), error)) << error;
  EXPECT_EQ(Files(), Strings{"baseline.yaml"});
  loaded = LoadBaseline(path, error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_TRUE(loaded->listeners->empty());
}

TEST_F(BaselineFileTest, SaveUnderARegularFileFailsAndNamesThePath) {
  Write(dir_ + "/file", "not a directory\n");
  std::string path = dir_ + "/file/baseline.yaml";
  std::string error;
  EXPECT_FALSE(SaveBaseline(path, SomeBaseline(), error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find(strerror(ENOTDIR)), std::string::npos) << error;
  EXPECT_EQ(Files(), Strings{"file"});

  std::string deeper = dir_ + "/file/sub/baseline.yaml";
  EXPECT_FALSE(SaveBaseline(deeper, SomeBaseline(), error));
  EXPECT_NE(error.find(deeper), std::string::npos) << error;
  EXPECT_NE(error.find(strerror(ENOTDIR)), std::string::npos) << error;
}

TEST_F(BaselineFileTest, FailedRenameRemovesTheTemporaryFile) {
  // The target is a non-empty directory: everything works up to rename(2).
  std::string path = dir_ + "/baseline.yaml";
  std::filesystem::create_directories(path + "/occupied");
  std::string error;
  EXPECT_FALSE(SaveBaseline(path, SomeBaseline(), error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("renaming"), std::string::npos) << error;
  EXPECT_EQ(Files(), Strings{"baseline.yaml"}) << "no temporary file left";
}

TEST_F(BaselineFileTest, SaveRefusesABaselineThatWouldNotLoad) {
  // A learner not told about the policy zones its snapshots were classified with.
  SnapshotBuilder builder;
  builder.zones = ZoneClassifier({Zone{"dmz", {*ParseCidr("203.0.113.0/24")}}});
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "203.0.113.9", 8443, 1))
      .Own(1, 100, "agent");
  BaselineLearner learner;
  learner.Observe(builder.Build());
  std::string path = dir_ + "/baseline.yaml";
  std::string error;
  EXPECT_FALSE(SaveBaseline(path, learner.Learned(), error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("unknown zone \"dmz\""), std::string::npos) << error;

  Policy huge = BaselineLearner().Learned();
  for (int i = 0; i < 20000; ++i) {
    huge.network_processes->push_back(
        {"process-" + std::string(60, 'x') + std::to_string(i), {}, "", {}});
  }
  EXPECT_FALSE(SaveBaseline(path, huge, error));
  EXPECT_NE(error.find("more than the limit"), std::string::npos) << error;
  EXPECT_EQ(Files(), Strings{}) << "nothing written";
}

TEST_F(BaselineFileTest, MissingFileIsNoBaselineAndNoError) {
  std::string error = "stale";
  EXPECT_FALSE(LoadBaseline(dir_ + "/baseline.yaml", error));
  EXPECT_EQ(error, "");
}

TEST_F(BaselineFileTest, UnreadableFileIsAnError) {
  std::string path = dir_ + "/baseline.yaml";
  std::filesystem::create_directory(path);
  std::string error;
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("it is not a regular file"), std::string::npos) << error;
}

// What the learner never writes: a glob for a name, a port range. Such a file allows what was
// never seen (here everything), so it is refused, not loaded as allow-all.
TEST_F(BaselineFileTest, AFileWithGlobsOrRangesIsRefused) {
  std::string path = dir_ + "/baseline.yaml";
  std::string error;
  ASSERT_TRUE(SaveBaseline(path, SomeBaseline(), error)) << error;
  ASSERT_TRUE(LoadBaseline(path, error)) << error << " (an escaped glob character is a literal)";
  std::string head = "# connwatch learned baseline, format 1\nexpected_services: []\n";
  Write(path, head + "network_processes: []\npaths: []\nlisteners:\n  - process: \"*\"\n");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_EQ(error, "refusing the baseline " + path +
                       ": line 6: process \"*\" is a glob, which the learner never writes");
  Write(path, head + "network_processes: []\nlisteners: []\npaths:\n  - ports: 1-65535\n");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find("line 6: ports are a range"), std::string::npos) << error;
  Write(path, head + "listeners: []\npaths: []\nnetwork_processes:\n  - exe: /usr/*\n");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find("exe \"/usr/*\" is a glob"), std::string::npos) << error;
}

TEST_F(BaselineFileTest, CorruptFileIsRefusedWithItsErrors) {
  std::string path = dir_ + "/baseline.yaml";
  std::string error;
  ASSERT_TRUE(SaveBaseline(path, SomeBaseline(), error)) << error;
  std::string text = Read(path);
  // Cut inside the first rule, whatever follows it.
  ASSERT_NE(text.find("\n  - "), std::string::npos) << text;
  Write(path, text.substr(0, text.find("\n  - ") + 5) + "\n  - port: [\nbogus: 1\n");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find(path + ":"), std::string::npos) << error;

  Write(path, "# connwatch learned baseline, format 1\nlisteners: []\nwhat: 1\n");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find(path + ":3:1: what: unknown key"), std::string::npos) << error;

  Write(path, "# connwatch learned baseline, format 1\nlisteners: []\n");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find("section expected_services is missing"), std::string::npos) << error;
}

TEST_F(BaselineFileTest, ForeignFilesAreRefused) {
  std::string path = dir_ + "/baseline.yaml";
  std::string error;
  // A valid policy, but not one connwatch wrote as its baseline.
  Write(path, "listeners: []\nexpected_services: []\nnetwork_processes: []\npaths: []\n");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find(path + " is not a connwatch baseline"), std::string::npos) << error;

  Write(path, "");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find("is not a connwatch baseline"), std::string::npos) << error;

  Write(path, "# connwatch learned baseline, format 2\nlisteners: []\n");
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find("has format \"2\""), std::string::npos) << error;
}

TEST_F(BaselineFileTest, OversizedFileIsRefusedUnparsed) {
  std::string path = dir_ + "/baseline.yaml";
  Write(path,
        "# connwatch learned baseline, format 1\n" + std::string(kMaxPolicyFileBytes, '#') + "\n");
  std::string error;
  EXPECT_FALSE(LoadBaseline(path, error));
  EXPECT_NE(error.find("larger than the limit"), std::string::npos) << error;
}

}  // namespace
}  // namespace connwatch
