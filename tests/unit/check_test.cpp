#include "cli/check.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/captured_output.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;

TEST(CheckTest, FormatsFindingsForPeopleJsonAndSyslog) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kListen, "0.0.0.0", 4444, "0.0.0.0", 0, 2)).Own(2, 20, "n\nc");
  Snapshot& snapshot = builder.Build();
  snapshot.processes.at(20).exe = "/tmp/n\nc";
  Evaluation evaluation;
  evaluation.findings = {{Check::kUnexpectedListener, 0, 20, "n\nc", "", 0,
                          "no listeners rule allows tcp 0.0.0.0:4444"},
                         {Check::kExpectedServiceDown, std::nullopt, 0, "", "https", 0,
                          "nothing listens on tcp port 443"}};

  std::string text = FormatFindingsText(snapshot, evaluation);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;
  EXPECT_NE(text.find("unexpected_listener"), std::string::npos);
  EXPECT_NE(text.find("n\\x0ac"), std::string::npos) << "names cannot forge rows";
  EXPECT_NE(text.find("0.0.0.0:4444"), std::string::npos);
  EXPECT_NE(text.find("2 findings"), std::string::npos);
  EXPECT_EQ(FormatFindingsText(snapshot, Evaluation{}), "no findings\n");

  std::string json = FormatFindingsJson(snapshot, evaluation);
  EXPECT_NE(json.find("\"check\": \"unexpected_listener\", \"process\": \"n\\nc\", \"pid\": 20, "
                      "\"user\": \"root\", \"exe\": \"/tmp/n\\nc\", \"protocol\": \"tcp\", "
                      "\"local_address\": \"0.0.0.0\", \"local_port\": 4444"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"service\": \"https\""), std::string::npos);
  EXPECT_NE(json.find("\"pid\": null"), std::string::npos);
  EXPECT_EQ(FormatFindingsJson(snapshot, Evaluation{}), "{\"findings\": []}\n");

  std::string line = FindingLogLine(snapshot, evaluation.findings[0]);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("check=unexpected_listener process=\"n\\x0ac\" pid=20"), std::string::npos)
      << line;
}

TEST(CheckTest, FindingsCarryTheOwnersCommandLineParentStartAndAgeSource) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 40000, "198.51.100.9", 4444, 3))
      .Own(3, 20, "bash");
  Snapshot& snapshot = builder.Build();
  Process& bash = snapshot.processes.at(20);
  // A hostile command line: a newline to forge a row, an escape sequence, invalid UTF-8.
  bash.cmdline = "bash -i\n\x1b[2J\xff\"x";
  bash.ppid = 7;
  bash.start_time_seconds = 1764645531.25;
  snapshot.ages = {ConnectionAge{4456, AgeSource::kProcessStart}};
  Evaluation evaluation;
  evaluation.findings = {{Check::kPathViolation, 0, 20, "bash", "", 4444, "no paths rule"}};
  ParentNames parents = {{20, "sshd"}};

  std::string text = FormatFindingsText(snapshot, evaluation, parents);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << "one line per finding:\n" << text;
  for (const char* needle :
       {" PPID ", " PARENT ", " STARTED ", " AGE ", " CMDLINE ", " 7 ", " sshd ",
        " 2025-12-02T03:18:51Z ", " <=1h14m ", " bash -i\\x0a\\x1b[2J\\xff\"x "}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle << " in\n" << text;
  }
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << "no raw control characters";

  std::string json = FormatFindingsJson(snapshot, evaluation, parents);
  EXPECT_NE(json.find("\"age_seconds\": 4456.000, \"age_source\": \"process_start\", "
                      "\"ppid\": 7, \"parent\": \"sshd\", \"process_start\": 1764645531.250, "
                      "\"cmdline\": \"bash -i\\n\\u001b[2J\xef\xbf\xbd\\\"x\", "),
            std::string::npos)
      << json;
  EXPECT_EQ(json.find('\x1b'), std::string::npos);

  std::string line = FindingLogLine(snapshot, evaluation.findings[0], parents);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_NE(line.find(" ppid=7 parent=sshd "), std::string::npos) << line;
  EXPECT_NE(line.find(" started=2025-12-02T03:18:51Z "), std::string::npos) << line;
  EXPECT_NE(line.find(" age=\"<=1h14m\" age_source=process_start cmdline="), std::string::npos)
      << line;

  // A long command line is cut in the table (whole in JSON); no parent, no age: empty.
  bash.cmdline = std::string(200, 'a');
  bash.ppid = 0;
  snapshot.ages = {std::nullopt};
  text = FormatFindingsText(snapshot, evaluation);
  EXPECT_NE(text.find(" " + std::string(80, 'a') + "... "), std::string::npos) << text;
  EXPECT_EQ(text.find(std::string(81, 'a')), std::string::npos) << text;
  json = FormatFindingsJson(snapshot, evaluation);
  EXPECT_NE(json.find("\"age_seconds\": null, \"age_source\": \"\", \"ppid\": null, "
                      "\"parent\": \"\", "),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(std::string(200, 'a')), std::string::npos);
}

TEST(CheckTest, FindingsSayWhichNamespaceAndPod) {
  SnapshotBuilder builder;
  builder.Add(Tcp(SocketState::kEstablished, "10.244.1.5", 40000, "198.51.100.9", 4444, 3))
      .Own(3, 20, "sh");
  Snapshot& snapshot = builder.Build();
  snapshot.namespaces = {{1, "", NetnsMode::kOwn, 0}, {2, "3f2a9c1b7d4e", NetnsMode::kSockDiag, 9}};
  snapshot.sockets[0].netns = 1;
  snapshot.workloads = {
      Workload{}, Workload{"containerd", std::string(64, 'a'), "shop", "web-0", "php", "uid"}};
  snapshot.workload_of = {1};
  Evaluation evaluation;
  evaluation.findings = {{Check::kPathViolation, 0, 20, "sh", "", 4444, "no paths rule"}};
  std::string text = FormatFindingsText(snapshot, evaluation);
  EXPECT_NE(text.find(" NETNS "), std::string::npos) << text;
  EXPECT_NE(text.find(" 3f2a9c1b7d4e  shop/web-0/php "), std::string::npos) << text;
  std::string json = FormatFindingsJson(snapshot, evaluation);
  EXPECT_NE(json.find("\"netns\": \"3f2a9c1b7d4e\", \"namespace\": \"shop\", \"pod\": "
                      "\"web-0\", \"container\": \"php\""),
            std::string::npos)
      << json;
  std::string line = FindingLogLine(snapshot, evaluation.findings[0]);
  EXPECT_NE(line.find(" netns=3f2a9c1b7d4e pod=shop/web-0/php "), std::string::npos) << line;
  Evaluation filtered = evaluation;
  filtered.findings.push_back({Check::kExpectedServiceDown, std::nullopt, 0, "", "db", 0, "x"});
  KeepFindingsOfNetns(snapshot, "3f2a9c1b7d4e", filtered);
  ASSERT_EQ(filtered.findings.size(), 1u);
  EXPECT_EQ(filtered.findings[0].check, Check::kPathViolation);
  filtered.findings.push_back({Check::kExpectedServiceDown, std::nullopt, 0, "", "db", 0, "x"});
  KeepFindingsOfNetns(snapshot, "-", filtered);
  ASSERT_EQ(filtered.findings.size(), 1u) << "the pod's finding goes, the service stays";
  EXPECT_EQ(filtered.findings[0].check, Check::kExpectedServiceDown);
  snapshot.sockets[0].netns = 0;
  snapshot.workload_of = {0};
  EXPECT_NE(FormatFindingsJson(snapshot, evaluation)
                .find("\"netns\": \"\", \"namespace\": \"\", \"pod\": \"\""),
            std::string::npos)
      << "the host: empty";
}

TEST(CheckTest, HelpAndBadFlags) {
  testing::CapturedRun run;
  ASSERT_NO_FATAL_FAILURE(testing::RunCaptured([] { return RunCheck({"--help"}); }, run));
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.err, "");
  EXPECT_TRUE(run.out.starts_with("usage: connwatch check [flags]\n")) << run.out;
  for (const char* flag : {"  --config.file=\"\"\n", "  --storage.path=/var/lib/connwatch\n",
                           "  --format=text\n", "  --syslog=false\n", "  --path.procfs=/proc\n",
                           "  --collector.source=auto\n", "  --help\n"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << "no " << flag << " in\n" << run.out;
  }
  ASSERT_NO_FATAL_FAILURE(testing::RunCaptured([] { return RunCheck({"--format=xml"}); }, run));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "connwatch check: --format: must be one of text, json; got \"xml\"\n"
            "(see connwatch check --help)\n");
}

}  // namespace
}  // namespace connwatch
