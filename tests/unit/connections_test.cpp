#include "cli/connections.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/captured_output.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;

ConnectionsView ListeningOnly() {
  ConnectionsView view;
  view.listening_only = true;
  return view;
}

ConnectionsView OnlyNetns(std::string netns) {
  ConnectionsView view;
  view.netns = std::move(netns);
  return view;
}

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

  std::string listening = FormatConnectionsTable(builder.snapshot, ListeningOnly());
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

// Sample's sockets with the 8080 listener in a pod's namespace.
Snapshot& InAPod(SnapshotBuilder& builder) {
  Snapshot& snapshot = Sample(builder);
  snapshot.namespaces = {{1, "", NetnsMode::kOwn, 0}, {2, "cni-1234", NetnsMode::kSockDiag, 7}};
  snapshot.workloads = {
      Workload{}, Workload{"containerd", std::string(64, 'c'), "shop", "web-0", "nginx", "uid"}};
  snapshot.workload_of.assign(snapshot.sockets.size(), 0);
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    if (snapshot.sockets[i].local_port == 8080) {
      snapshot.sockets[i].netns = 1;
      snapshot.workload_of[i] = 1;
    }
  }
  return snapshot;
}

TEST(ConnectionsTest, NetnsAndPodColumnsAndTheNetnsFilter) {
  SnapshotBuilder builder;
  Snapshot& snapshot = InAPod(builder);
  std::string table = FormatConnectionsTable(snapshot, {});
  EXPECT_NE(table.find("NETNS"), std::string::npos) << table;
  EXPECT_NE(table.find("cni-1234  shop/web-0/nginx"), std::string::npos) << table;
  std::string pod_only = FormatConnectionsTable(snapshot, OnlyNetns("cni-1234"));
  EXPECT_EQ(std::count(pod_only.begin(), pod_only.end(), '\n'), 2) << pod_only;
  EXPECT_NE(pod_only.find("[::1]:8080"), std::string::npos) << pod_only;
  std::string own_only = FormatConnectionsTable(snapshot, OnlyNetns("-"));
  EXPECT_EQ(std::count(own_only.begin(), own_only.end(), '\n'), 3) << own_only;
  EXPECT_EQ(own_only.find("8080"), std::string::npos) << own_only;
  std::string json = FormatConnectionsJson(snapshot, OnlyNetns("cni-1234"));
  EXPECT_NE(json.find("\"netns\": \"cni-1234\", \"namespace\": \"shop\", \"pod\": \"web-0\", "
                      "\"container\": \"nginx\""),
            std::string::npos)
      << json;
  EXPECT_EQ(FormatConnectionsJson(snapshot, OnlyNetns("nowhere")), "[]\n");
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
