// Identity in every check: `process` by exe basename, comm or argv[0]'s basename, `exe` by
// path; and the deleted-executable check.
#include <gtest/gtest.h>

#include "policy/evaluator.h"
#include "support/policy_rules.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::Allow;
using testing::kEstablished;
using testing::Keys;
using testing::kOutbound;
using testing::Listen;
using testing::Listener;
using testing::Path;
using testing::Port;
using testing::Service;
using testing::SnapshotBuilder;
using testing::Tcp;

// Sets what ReadProcess would read of `pid`: exe, the name from its basename, comm, argv[0].
void Identity(Snapshot& snapshot, pid_t pid, const std::string& exe, const std::string& comm,
              const std::string& argv0, bool deleted = false) {
  Process& process = snapshot.processes.at(pid);
  process.exe = exe;
  process.name = exe.substr(exe.rfind('/') + 1);
  process.comm = comm;
  process.argv0 = argv0;
  process.exe_deleted = deleted;
}

// Debian's redis (pid 10, a listener on 6379) and a python3 client (pid 20, outbound to 443)
// whose binary is /usr/bin/python3.11, or a copy of it in /tmp when `copied`.
Snapshot& RedisAndPython(SnapshotBuilder& builder, bool copied) {
  builder.Add(Listener("0.0.0.0", 6379, 1))
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 2))
      .Own(1, 10, "x")
      .Own(2, 20, "x");
  Snapshot& snapshot = builder.Build();
  Identity(snapshot, 10, "/usr/bin/redis-check-rdb", "redis-server", "/usr/bin/redis-server");
  Identity(snapshot, 20, copied ? "/tmp/t/python3.11" : "/usr/bin/python3.11", "python3",
           copied ? "/tmp/t/python3.11" : "python3");
  return snapshot;
}

ListenerRule WithExe(ListenerRule rule, std::string exe) {
  rule.exe = std::move(exe);
  return rule;
}

TEST(EvaluatorIdentityTest, RedisServerByTheNameItWasStartedBy) {
  SnapshotBuilder builder;
  const Snapshot& snapshot = RedisAndPython(builder, false);
  Policy policy;
  policy.listeners = std::vector<ListenerRule>{Listen("redis-server", Port(6379))};
  policy.expected_services =
      std::vector<ExpectedService>{Service("redis", 6379, ProtocolMatch::kTcp, "redis-server")};
  policy.network_processes =
      std::vector<NetworkProcessRule>{Allow("redis-server"), Allow("python3")};
  policy.paths = std::vector<PathRule>{Path("python3", kOutbound, "external", Port(443))};
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(Keys(evaluation), std::vector<std::string>{});
  ASSERT_EQ(evaluation.services.size(), 1u);
  EXPECT_TRUE(evaluation.services[0].up);

  // The names alone: without argv[0] and comm, only the target's name is left.
  Snapshot bare = snapshot;
  Identity(bare, 10, "/usr/bin/redis-check-rdb", "redis-check-rd", "");
  Identity(bare, 20, "/usr/bin/python3.11", "python3.11", "");
  EXPECT_EQ(Keys(Evaluate(policy, bare)),
            (std::vector<std::string>{"unexpected_listener 0 10", "expected_service_down - 0",
                                      "unexpected_network_process 0 10",
                                      "unexpected_network_process 1 20", "path_violation 1 20"}));
}

TEST(EvaluatorIdentityTest, ExeConstrainsEveryRuleKind) {
  NetworkProcessRule python{"python3", {}, "/usr/bin/python3.11", {}};
  NetworkProcessRule redis_by_path{"", {}, "/usr/bin/redis-*", {}};
  PathRule path = Path("python3", kOutbound, "external", Port(443));
  path.exe = "/usr/bin/python3.11";
  ExpectedService service = Service("redis", 6379, ProtocolMatch::kTcp, "");
  service.exe = "/usr/bin/redis-check-rdb";
  Policy policy;
  policy.listeners = std::vector<ListenerRule>{WithExe(Listen("", Port(6379)), "/usr/bin/redis-*")};
  policy.expected_services = std::vector<ExpectedService>{service};
  policy.network_processes = std::vector<NetworkProcessRule>{python, redis_by_path};
  policy.paths = std::vector<PathRule>{path};

  SnapshotBuilder original;
  EXPECT_EQ(Keys(Evaluate(policy, RedisAndPython(original, false))), std::vector<std::string>{});

  // The same names from /tmp: the network process and its path are findings, and the
  // reason says which binary.
  SnapshotBuilder copy;
  Evaluation evaluation = Evaluate(policy, RedisAndPython(copy, true));
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"unexpected_network_process 1 20", "path_violation 1 20"}));
  EXPECT_EQ(evaluation.findings[0].process, "python3.11");
  EXPECT_EQ(evaluation.findings[0].reason,
            "network_processes does not allow process python3.11 (/tmp/t/python3.11) (holds 1 "
            "socket)");

  // redis run from elsewhere: the listener, the service and the process.
  SnapshotBuilder moved;
  Snapshot& snapshot = RedisAndPython(moved, false);
  Identity(snapshot, 10, "/opt/redis/redis-check-rdb", "redis-server", "redis-server");
  evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"unexpected_listener 0 10", "expected_service_down - 0",
                                      "unexpected_network_process 0 10"}));
  EXPECT_EQ(
      evaluation.findings[1].reason,
      "expected service redis: no tcp listener on port 6379 running /usr/bin/redis-check-rdb");

  // An unreadable exe matches no rule with exe.
  Identity(snapshot, 10, "", "redis-server", "redis-server");
  snapshot.processes.at(10).name = "redis-server";
  EXPECT_EQ(Keys(Evaluate(policy, snapshot)).size(), 3u);
}

TEST(EvaluatorIdentityTest, DeletedExecutableIsAFindingOfItsOwn) {
  SnapshotBuilder builder;
  builder.Add(Listener("0.0.0.0", 4444, 1))
      .Add(Tcp(kEstablished, "10.0.0.5", 40000, "198.51.100.1", 443, 2))
      .Add(Tcp(kEstablished, "10.0.0.5", 40001, "198.51.100.1", 443, 3))
      .Own(1, 30, "x")
      .Own(2, 30, "x")
      .Own(2, 31, "x")
      .Own(3, 40, "x");
  Snapshot& snapshot = builder.Build();
  Identity(snapshot, 30, "/tmp/.x/implant", "implant", "implant", true);
  Identity(snapshot, 31, "/tmp/.x/implant", "implant", "implant", true);
  Identity(snapshot, 40, "/usr/bin/curl", "curl", "curl");
  // A process without sockets is not judged, deleted or not (it is not an owner here).
  snapshot.processes.emplace(50, testing::MakeProcess(50, "gone"));
  snapshot.processes.at(50).exe_deleted = true;

  Evaluation evaluation = Evaluate(Policy{}, snapshot);
  EXPECT_TRUE(evaluation.active[static_cast<int>(Check::kDeletedExecutable)]);
  ASSERT_EQ(Keys(evaluation),
            (std::vector<std::string>{"deleted_executable 0 30", "deleted_executable 1 31"}))
      << "one per process, on its first socket";
  EXPECT_EQ(evaluation.findings[0].process, "implant");
  EXPECT_EQ(evaluation.findings[0].reason,
            "process implant runs /tmp/.x/implant, deleted from disk since it started, and holds "
            "sockets");
  EXPECT_EQ(evaluation.deleted_executable_processes,
            (std::map<std::string, uint64_t>{{"implant", 2}}));

  // Allowed by every section, it is still a finding: no policy makes a deleted binary normal.
  Policy allow_all;
  allow_all.network_processes = std::vector<NetworkProcessRule>{Allow("*")};
  allow_all.listeners = std::vector<ListenerRule>{Listen("")};
  allow_all.paths = std::vector<PathRule>{Path("")};
  EXPECT_EQ(Keys(Evaluate(allow_all, snapshot)).size(), 2u);

  Identity(snapshot, 30, "/tmp/.x/implant", "implant", "implant", false);
  Identity(snapshot, 31, "/tmp/.x/implant", "implant", "implant", false);
  evaluation = Evaluate(Policy{}, snapshot);
  EXPECT_EQ(Keys(evaluation), std::vector<std::string>{});
  EXPECT_TRUE(evaluation.deleted_executable_processes.empty());
}

}  // namespace
}  // namespace connwatch
