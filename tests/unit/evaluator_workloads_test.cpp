// Rules that select pods and namespaces, judged against snapshots of pods: the evaluator
// keeps a rule to the workloads it names, and the baseline learns each pod's workload, so a
// rollout that replaces every pod raises nothing.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "policy/baseline.h"
#include "policy/evaluator.h"
#include "support/policy_rules.h"
#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::Allow;
using testing::kEstablished;
using testing::Keys;
using testing::kListen;
using testing::kOutbound;
using testing::Listen;
using testing::Path;
using testing::Port;
using testing::Service;
using testing::SnapshotBuilder;
using testing::Tcp;

Workload Pod(std::string pod, std::string container = "nginx") {
  return Workload{
      "containerd",   std::string(64, 'a'), "shop",
      std::move(pod), std::move(container), "uid-" + std::to_string(std::hash<std::string>()(pod))};
}

// A listener on 8080 and an outbound connection to an internal 5432, both of `pod`'s nginx
// (pid 50), in a namespace of their own ("cni-1" when `netns` is set).
Snapshot& PodSnapshot(SnapshotBuilder& builder, const Workload& pod, bool netns = false) {
  builder.Add(Tcp(kListen, "0.0.0.0", 8080, "0.0.0.0", 0, 1))
      .Add(Tcp(kEstablished, "10.244.0.5", 40000, "10.96.0.7", 5432, 2))
      .Own(1, 50, "nginx")
      .Own(2, 50, "nginx");
  Snapshot& snapshot = builder.Build();
  snapshot.workloads = {Workload{}, pod};
  snapshot.workload_of = {1, 1};
  if (netns) {
    snapshot.namespaces = {{1, "", NetnsMode::kOwn, 0}, {2, "cni-1", NetnsMode::kSockDiag, 50}};
    for (Socket& socket : snapshot.sockets) socket.netns = 1;
  }
  return snapshot;
}

Policy AllSections() {
  Policy policy;
  policy.listeners.emplace();
  policy.expected_services.emplace();
  policy.network_processes.emplace();
  policy.paths.emplace();
  return policy;
}

TEST(EvaluatorWorkloadsTest, ARuleKeepsToTheWorkloadsItSelects) {
  SnapshotBuilder builder;
  const Snapshot& snapshot = PodSnapshot(builder, Pod("web-7d9f8b6c5d-x2k4q"));
  Policy policy = AllSections();
  ListenerRule listener = Listen("nginx", Port(8080));
  listener.selects.k8s_namespace = "shop";
  listener.selects.workload = "web";
  NetworkProcessRule process = Allow("nginx");
  process.selects.container = "nginx";
  PathRule path = Path("nginx", kOutbound, "internal", Port(5432));
  path.selects.pod = "web-*";
  policy.listeners->push_back(listener);
  policy.network_processes->push_back(process);
  policy.paths->push_back(path);
  EXPECT_EQ(Keys(Evaluate(policy, snapshot)), std::vector<std::string>{});

  // The same rules for another namespace, container or pod allow none of it.
  policy.listeners->at(0).selects.k8s_namespace = "billing";
  policy.network_processes->at(0).selects.container = "php";
  policy.paths->at(0).selects.pod = "api-*";
  EXPECT_EQ(Keys(Evaluate(policy, snapshot)),
            (std::vector<std::string>{"unexpected_listener 0 50", "unexpected_network_process 0 50",
                                      "path_violation 1 50"}));
}

TEST(EvaluatorWorkloadsTest, ANetnsSelectorNamesANamespaceOutsideKubernetes) {
  SnapshotBuilder builder;
  const Snapshot& snapshot = PodSnapshot(builder, Workload{}, /*netns=*/true);
  Policy policy = AllSections();
  ListenerRule listener = Listen("nginx", Port(8080));
  listener.selects.netns = "cni-*";
  policy.listeners->push_back(listener);
  Evaluation evaluation = Evaluate(policy, snapshot);
  EXPECT_EQ(evaluation.listener_expected[0], 1);
  policy.listeners->at(0).selects.netns = "blue";
  EXPECT_EQ(Evaluate(policy, snapshot).listener_expected[0], 0);
}

TEST(EvaluatorWorkloadsTest, AnExpectedServiceInsideANamespace) {
  SnapshotBuilder builder;
  const Snapshot& snapshot = PodSnapshot(builder, Pod("web-7d9f8b6c5d-x2k4q"));
  Policy policy = AllSections();
  ExpectedService service = Service("shop-web", 8080, ProtocolMatch::kTcp);
  service.selects.k8s_namespace = "shop";
  policy.expected_services->push_back(service);
  ExpectedService elsewhere = Service("billing-web", 8080, ProtocolMatch::kTcp);
  elsewhere.selects.k8s_namespace = "billing";
  policy.expected_services->push_back(elsewhere);
  Evaluation evaluation = Evaluate(policy, snapshot);
  ASSERT_EQ(evaluation.services.size(), 2u);
  EXPECT_TRUE(evaluation.services[0].up);
  EXPECT_FALSE(evaluation.services[1].up) << "port 8080 listens, but not in billing";
}

TEST(EvaluatorWorkloadsTest, TheBaselineLearnsTheWorkloadSoARolloutRaisesNothing) {
  BaselineLearner learner;
  SnapshotBuilder before;
  learner.Observe(PodSnapshot(before, Pod("web-7d9f8b6c5d-x2k4q")));
  Policy learned = learner.Learned();
  ASSERT_EQ(learned.listeners->size(), 1u);
  WorkloadSelector web;
  web.k8s_namespace = "shop";
  web.workload = "web";
  web.container = "nginx";
  EXPECT_EQ(learned.listeners->at(0).selects, web);
  EXPECT_EQ(learned.paths->at(0).selects, web);
  EXPECT_EQ(learned.network_processes->at(0).selects, web);
  EXPECT_EQ(learned.expected_services->at(0).selects, web);

  SnapshotBuilder rollout;  // the next ReplicaSet's pod: a new name, the same workload
  EXPECT_EQ(Keys(Evaluate(learned, PodSnapshot(rollout, Pod("web-5c8d7f9b6d-qq7wz")))),
            std::vector<std::string>{});
  SnapshotBuilder other;  // another workload's nginx doing the same, and web's service gone
  EXPECT_EQ(Keys(Evaluate(learned, PodSnapshot(other, Pod("admin-5c8d7f9b6d-qq7wz")))),
            (std::vector<std::string>{"unexpected_listener 0 50", "expected_service_down - 0",
                                      "unexpected_network_process 0 50", "path_violation 1 50"}));
}

TEST(EvaluatorWorkloadsTest, APodBoundToItsOwnAddressIsLearnedForAnyAddress) {
  auto bound_to = [](SnapshotBuilder& builder, const char* address, const Workload& pod) {
    builder.Add(Tcp(kListen, address, 8080, "0.0.0.0", 0, 1)).Own(1, 50, "nginx");
    Snapshot& snapshot = builder.Build();
    snapshot.workloads = {Workload{}, pod};
    snapshot.workload_of = {1};
    return snapshot;
  };
  BaselineLearner learner;
  SnapshotBuilder before;
  learner.Observe(bound_to(before, "10.244.1.7", Pod("web-7d9f8b6c5d-x2k4q")));
  Policy learned = learner.Learned();
  ASSERT_EQ(learned.listeners->size(), 1u);
  EXPECT_EQ(learned.listeners->at(0).bind.scope, BindScope::kUnspecified);
  SnapshotBuilder after;  // the next pod has the next address
  EXPECT_EQ(Evaluate(learned, bound_to(after, "10.244.2.9", Pod("web-5c8d7f9b6d-qq7wz")))
                .listener_expected[0],
            1);
  BaselineLearner host;  // a host's listener keeps its address
  SnapshotBuilder on_host;
  host.Observe(bound_to(on_host, "10.0.0.5", Workload{}));
  EXPECT_EQ(host.Learned().listeners->at(0).bind.scope, BindScope::kAddress);
}

TEST(EvaluatorWorkloadsTest, ALearnedSelectorRoundTripsThroughTheBaselineFile) {
  BaselineLearner learner;
  SnapshotBuilder builder;
  learner.Observe(PodSnapshot(builder, Pod("db-0", "postgres")));
  // A directory of our own: the loader refuses a world-writable one such as /tmp.
  std::string directory = ::testing::TempDir() + "/cw-workloads-XXXXXX";
  ASSERT_NE(mkdtemp(directory.data()), nullptr);
  std::string path = directory + "/baseline.yaml";
  std::string error;
  ASSERT_TRUE(SaveBaseline(path, learner.Learned(), error)) << error;
  std::optional<Policy> loaded = LoadBaseline(path, error);
  std::filesystem::remove_all(directory);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(loaded->listeners->at(0).selects.workload, "db");
  EXPECT_EQ(loaded->listeners->at(0).selects.container, "postgres");
}

}  // namespace
}  // namespace connwatch
