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
