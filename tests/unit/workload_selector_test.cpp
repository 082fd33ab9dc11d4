// Which pods a selector is about, and the workload a pod's name says it belongs to.
#include "policy/workload_selector.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

TEST(PodWorkloadNameTest, WhatControllersAppend) {
  const std::pair<const char*, const char*> cases[] = {
      {"web-7d9f8b6c5d-x2k4q", "web"},          // Deployment
      {"web-api-7d9f8b6c5d-x2k4q", "web-api"},  // Deployment with a dash in its name
      {"fluentd-x2k4q", "fluentd"},             // DaemonSet, Job
      {"backup-28912345-x2k4q", "backup"},      // CronJob: minutes since the epoch
      {"db-0", "db"},                           // StatefulSet
      {"kafka-broker-12", "kafka-broker"},      // StatefulSet, two digits
      {"my-nginx", "my-nginx"},                 // a bare pod: "nginx" has vowels
      {"web-api-x2k4q", "web-api"},             // "api" is no hash: only the suffix goes
      {"coredns", "coredns"},                   // no dash at all
      {"-x2k4q", "-x2k4q"},                     // nothing before the suffix
      {"", ""},
      {"web-X2K4Q", "web-X2K4Q"},            // upper case is never generated
      {"web-1234567890", "web-1234567890"},  // ten digits: no ordinal that large
  };
  for (const auto& [pod, workload] : cases) EXPECT_EQ(PodWorkloadName(pod), workload) << pod;
}

TEST(SelectorMatchesTest, EveryFieldIsAGlobAndEmptyIsAny) {
  Workload web{"containerd", "abc", "shop", "web-7d9f8b6c5d-x2k4q", "nginx", "uid"};
  EXPECT_TRUE(SelectorMatches({}, web, "")) << "no selector: every socket";
  EXPECT_TRUE(SelectorMatches({}, Workload{}, "blue"));
  WorkloadSelector shop;
  shop.k8s_namespace = "shop";
  EXPECT_TRUE(SelectorMatches(shop, web, ""));
  EXPECT_FALSE(SelectorMatches(shop, Workload{}, "")) << "the host is in no namespace";
  WorkloadSelector rollout;
  rollout.workload = "web";
  rollout.container = "nginx";
  EXPECT_TRUE(SelectorMatches(rollout, web, ""));
  web.pod = "web-5c8d7f9b6d-qq7wz";  // the next ReplicaSet's pod
  EXPECT_TRUE(SelectorMatches(rollout, web, "")) << "a rollout is the same workload";
  web.container = "sidecar";
  EXPECT_FALSE(SelectorMatches(rollout, web, ""));
  WorkloadSelector pinned;
  pinned.netns = "cni-*";
  EXPECT_TRUE(SelectorMatches(pinned, Workload{}, "cni-1b2c"));
  EXPECT_FALSE(SelectorMatches(pinned, Workload{}, "")) << "connwatch's own namespace";
  WorkloadSelector pod;
  pod.pod = "web-*";
  EXPECT_TRUE(SelectorMatches(pod, web, ""));
  EXPECT_FALSE(SelectorMatches(pod, Workload{}, ""));
}

}  // namespace
}  // namespace connwatch
