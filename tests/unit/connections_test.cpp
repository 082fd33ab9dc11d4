#include "cli/connections.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/captured_output.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;

Snapshot& Sample(SnapshotBuilder& builder) {
  builder.Add(Tcp(SocketState::kEstablished, "10.0.0.5", 22, "198.51.100.7", 50000, 11))
      .Add(Tcp(SocketState::kListen, "0.0.0.0", 22, "0.0.0.0", 0, 10))
      .Add(Tcp(SocketState::kListen, "::1", 8080, "::", 0, 12))
      .Own(10, 100, "sshd")
      .Own(11, 101, "sshd")
      .Own(12, 102, "ev\nil\xff \"x\"");
  return builder.Build();
}

TEST(ConnectionsTest, TableListsListenersFirstAndEscapesNames) {
  SnapshotBuilder builder;
  std::string table = FormatConnectionsTable(Sample(builder), {});
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 4) << table;
  EXPECT_NE(table.find("102/ev\\x0ail\\xff \"x\""), std::string::npos) << table;
  size_t listener = table.find("0.0.0.0:22");
  size_t connection = table.find("198.51.100.7:50000");
  ASSERT_NE(listener, std::string::npos);
  ASSERT_NE(connection, std::string::npos);
  EXPECT_LT(listener, connection);
  EXPECT_NE(table.find("[::1]:8080"), std::string::npos);
  EXPECT_NE(table.find("inbound"), std::string::npos);
  EXPECT_NE(table.find("external"), std::string::npos);

  std::string listening = FormatConnectionsTable(builder.snapshot, {true});
  EXPECT_EQ(std::count(listening.begin(), listening.end(), '\n'), 3) << listening;
  EXPECT_EQ(listening.find("198.51.100.7"), std::string::npos);
}

TEST(ConnectionsTest, JsonIsValidUtf8AndEscaped) {
  SnapshotBuilder builder;
  std::string json = FormatConnectionsJson(Sample(builder), {});
  EXPECT_TRUE(json.starts_with("[\n  {"));
  EXPECT_TRUE(json.ends_with("}\n]\n"));
  EXPECT_NE(json.find("\"name\": \"ev\\nil\xEF\xBF\xBD \\\"x\\\"\""), std::string::npos) << json;
  EXPECT_EQ(json.find('\xff'), std::string::npos);
  EXPECT_NE(json.find("\"direction\": \"inbound\", \"remote_zone\": \"external\""),
            std::string::npos);
  EXPECT_NE(json.find("\"role\": \"listener\""), std::string::npos);
  EXPECT_EQ(FormatConnectionsJson(Snapshot{}, {}), "[]\n");
}

TEST(ConnectionsTest, HelpAndBadFlags) {
  testing::CapturedRun run;
  ASSERT_NO_FATAL_FAILURE(testing::RunCaptured([] { return RunConnections({"--help"}); }, run));
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.err, "");
  EXPECT_TRUE(run.out.starts_with("usage: connwatch connections [flags]\n")) << run.out;
  for (const char* flag : {"  --listening=false\n", "  --format=table\n", "  --path.procfs=/proc\n",
                           "  --collector.source=auto\n", "  --storage.path=/var/lib/connwatch\n",
                           "  --log.level=warn\n", "  --help\n"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << "no " << flag << " in\n" << run.out;
  }
  ASSERT_NO_FATAL_FAILURE(
      testing::RunCaptured([] { return RunConnections({"--format=text"}); }, run));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "connwatch connections: --format: must be one of table, json; got \"text\"\n"
            "(see connwatch connections --help)\n");
}

}  // namespace
}  // namespace connwatch
