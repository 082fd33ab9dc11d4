// The `exe` key and the mapping form of network_processes (good/identity.yaml), and the
// workload selectors (good/workloads.yaml); the bad values are in policy_loader_test's table
// of malformed fixtures.
#include <gtest/gtest.h>

#include "policy/policy_loader.h"
#include "support/policy_fixtures.h"

namespace connwatch {
namespace {

using testing::ErrorStrings;
using testing::ParseFixture;

TEST(PolicyLoaderIdentityTest, ExeInEverySectionAndNetworkProcessMappings) {
  PolicyLoadResult result = ParseFixture("good/identity.yaml");
  ASSERT_TRUE(result.errors.empty()) << ErrorStrings(result)[0];
  const Policy& policy = *result.policy;
  ASSERT_EQ(policy.listeners->size(), 2u);
  EXPECT_EQ(policy.listeners->at(0).process, "redis-server");
  EXPECT_EQ(policy.listeners->at(0).exe, "/usr/bin/redis-check-rdb");
  EXPECT_EQ(policy.listeners->at(1).process, "");
  EXPECT_EQ(policy.listeners->at(1).exe, "/usr/lib/jvm/*/bin/java");
  ASSERT_EQ(policy.expected_services->size(), 1u);
  EXPECT_EQ(policy.expected_services->at(0).exe, "/usr/bin/redis-check-rdb");
  const std::vector<NetworkProcessRule>& processes = *policy.network_processes;
  ASSERT_EQ(processes.size(), 4u);
  EXPECT_EQ(processes[0].process, "redis-server");
  EXPECT_EQ(processes[0].exe, "");
  EXPECT_EQ(processes[1].process, "python3");
  EXPECT_EQ(processes[1].exe, "/usr/bin/python3.11");
  EXPECT_EQ(processes[1].where.line, 15);
  EXPECT_EQ(processes[2].process, "") << "exe alone: any name";
  EXPECT_EQ(processes[2].exe, "/usr/lib/jvm/*/bin/java");
  EXPECT_EQ(processes[3].process, "caf\xe9");
  EXPECT_EQ(processes[3].exe, "/opt/caf\xe9") << "paths need not be UTF-8 either";
  ASSERT_EQ(policy.paths->size(), 2u);
  EXPECT_EQ(policy.paths->at(0).exe, "/usr/bin/python3.11");
  EXPECT_EQ(policy.paths->at(1).exe, "/opt/app/[ab]in/*");
}

TEST(PolicyLoaderIdentityTest, WorkloadSelectorsInEverySection) {
  PolicyLoadResult result = ParseFixture("good/workloads.yaml");
  ASSERT_TRUE(result.errors.empty()) << ErrorStrings(result)[0];
  const Policy& policy = *result.policy;
  ASSERT_EQ(policy.listeners->size(), 2u);
  WorkloadSelector web;
  web.k8s_namespace = "shop";
  web.workload = "web";
  web.container = "nginx";
  EXPECT_EQ(policy.listeners->at(0).selects, web);
  WorkloadSelector cni;
  cni.netns = "cni-*";
  EXPECT_EQ(policy.listeners->at(1).selects, cni);
  ASSERT_EQ(policy.expected_services->size(), 1u);
  EXPECT_EQ(policy.expected_services->at(0).selects.pod, "web-*");
  EXPECT_EQ(policy.expected_services->at(0).selects.k8s_namespace, "shop");
  ASSERT_EQ(policy.network_processes->size(), 1u);
  EXPECT_EQ(policy.network_processes->at(0).process, "php-fpm");
  EXPECT_EQ(policy.network_processes->at(0).selects.container, "php");
  ASSERT_EQ(policy.paths->size(), 1u);
  EXPECT_EQ(policy.paths->at(0).selects.k8s_namespace, "sh*");
  EXPECT_TRUE(policy.paths->at(0).selects.workload.empty());
}

}  // namespace
}  // namespace connwatch
