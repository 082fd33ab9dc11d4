#include "sources/containers.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>

#include "sources/snapshot.h"

namespace connwatch {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kContainerdId =
    "3f2a9c1e5b7d4f60a8e2c4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5";
constexpr std::string_view kCrioId =
    "b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3";
constexpr std::string_view kDockerId =
    "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
constexpr std::string_view kShopUid = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
constexpr std::string_view kShopUidSystemd = "0a1b2c3d_4e5f_6789_abcd_ef0123456789";
constexpr std::string_view kCorednsUidSystemd = "11111111_2222_3333_4444_555555555555";

std::string FixtureRoot() { return std::string(CONNWATCH_FIXTURES_DIR) + "/rootfs"; }

// Namespace, pod and container: what a workload is named by in Kubernetes.
using Names = std::tuple<std::string, std::string, std::string>;
Names KubernetesNames(const Workload& workload) {
  return {workload.k8s_namespace, workload.pod, workload.container};
}
// The coredns pod of the fixtures, whether named by its bundle or by the kubelet's logs.
const Names kCorednsNames{"kube-system", "coredns-5d78c9869d-abcde", "coredns"};

std::string ContainerdPath(std::string_view uid_systemd, std::string_view id) {
  return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
         std::string(uid_systemd) + ".slice/cri-containerd-" + std::string(id) + ".scope";
}

std::string CrioPath(std::string_view uid_systemd, std::string_view id) {
  return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
         std::string(uid_systemd) + ".slice/crio-" + std::string(id) + ".scope";
}

// A scratch --path.rootfs, removed with the test.
class ScratchRoot {
 public:
  ScratchRoot() {
    char pattern[] = "/tmp/cw-rootfs-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~ScratchRoot() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Bundle(std::string_view id) {
    std::string dir =
        path_ + "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + std::string(id);
    fs::create_directories(dir);
    return dir + "/config.json";
  }
  void Write(const std::string& file, const std::string& text) {
    std::ofstream(file, std::ios::binary) << text;
  }

 private:
  std::string path_;
};

TEST(WorkloadResolver, ContainerdBundleNamesThePod) {
  WorkloadResolver resolver;
  WorkloadStats stats;
  Workload workload =
      resolver.Resolve(FixtureRoot(), ContainerdPath(kShopUidSystemd, kContainerdId), stats);
  EXPECT_EQ(workload, (Workload{"containerd", std::string(kContainerdId), "shop",
                                "web-7d9f8b6c5d-x2k4q", "nginx", std::string(kShopUid)}));
  EXPECT_EQ(stats.bundles_read, 1u);
  EXPECT_EQ(stats.metadata_errors, 0u);
}

TEST(WorkloadResolver, CrioBundleNamesThePod) {
  WorkloadResolver resolver;
  WorkloadStats stats;
  Workload workload = resolver.Resolve(FixtureRoot(), CrioPath(kCorednsUidSystemd, kCrioId), stats);
  EXPECT_EQ(workload.runtime, "cri-o");
  EXPECT_EQ(KubernetesNames(workload), kCorednsNames);
}

TEST(WorkloadResolver, DockerContainerHasIdButNoKubernetesNames) {
  WorkloadResolver resolver;
  WorkloadStats stats;
  Workload workload = resolver.Resolve(
      FixtureRoot(), "/system.slice/docker-" + std::string(kDockerId) + ".scope", stats);
  EXPECT_EQ(workload, (Workload{"docker", std::string(kDockerId), "", "", "", ""}));
  EXPECT_EQ(stats.bundles_read, 1u);
}

TEST(WorkloadResolver, PodLogsNameThePodWithoutABundle) {
  // No bundle for this id: /var/log/pods names the pod, /var/log/containers has no link for
  // it, so the container stays unnamed rather than guessed.
  std::string other(64, 'e');
  WorkloadResolver resolver;
  WorkloadStats stats;
  Workload workload =
      resolver.Resolve(FixtureRoot(), ContainerdPath(kShopUidSystemd, other), stats);
  EXPECT_EQ(workload, (Workload{"containerd", other, "shop", "web-7d9f8b6c5d-x2k4q", "",
                                std::string(kShopUid)}));
  EXPECT_EQ(stats.bundles_read, 0u);
}

TEST(WorkloadResolver, ContainerLogLinkNamesTheContainer) {
  // cri-o's id under a containerd-shaped path: no bundle there, names from the logs.
  WorkloadResolver resolver;
  WorkloadStats stats;
  Workload workload =
      resolver.Resolve(FixtureRoot(), ContainerdPath(kCorednsUidSystemd, kCrioId), stats);
  EXPECT_EQ(KubernetesNames(workload), kCorednsNames);
}

TEST(WorkloadResolver, HostPathsReadNothing) {
  WorkloadResolver resolver;
  WorkloadStats stats;
  for (const char* path :
       {"/system.slice/nginx.service", "/user.slice/user-1000.slice/session-3.scope", "/", ""}) {
    EXPECT_TRUE(resolver.Resolve(FixtureRoot(), path, stats).IsHost()) << path;
  }
  EXPECT_EQ(resolver.cached(), 0u);
  EXPECT_EQ(stats.bundles_read, 0u);
}

TEST(WorkloadResolver, ReadOncePerContainerThenForgotten) {
  WorkloadResolver resolver;
  WorkloadStats stats;
  std::string path = ContainerdPath(kShopUidSystemd, kContainerdId);
  for (int sample = 0; sample < 5; ++sample) {
    EXPECT_EQ(resolver.Resolve(FixtureRoot(), path, stats).pod, "web-7d9f8b6c5d-x2k4q");
    resolver.EndSample();
  }
  EXPECT_EQ(stats.bundles_read, 1u);
  for (uint64_t sample = 0; sample < WorkloadResolver::kForgetAfter; ++sample) {
    resolver.EndSample();
  }
  EXPECT_EQ(resolver.cached(), 0u);
}

TEST(WorkloadResolver, IncompleteNamesAreRetriedLater) {
  ScratchRoot root;
  WorkloadResolver resolver;
  WorkloadStats stats;
  std::string path = ContainerdPath(kShopUidSystemd, kContainerdId);
  EXPECT_EQ(resolver.Resolve(root.path(), path, stats).pod, "");
  root.Write(root.Bundle(kContainerdId),
             R"({"annotations":{"io.kubernetes.cri.sandbox-name":"late"}})");
  for (uint64_t sample = 1; sample < WorkloadResolver::kRetryEvery; ++sample) {
    resolver.EndSample();
    EXPECT_EQ(resolver.Resolve(root.path(), path, stats).pod, "") << sample;
  }
  resolver.EndSample();
  EXPECT_EQ(resolver.Resolve(root.path(), path, stats).pod, "late");
}

TEST(WorkloadResolver, HugeBundleIsRefusedWithoutReadingIt) {
  ScratchRoot root;
  std::string bundle = root.Bundle(kContainerdId);
  root.Write(bundle, "{");
  ASSERT_EQ(truncate(bundle.c_str(), 100 << 20), 0);  // sparse: 100 MB that cost no disk
  WorkloadResolver resolver;
  WorkloadStats stats;
  Workload workload =
      resolver.Resolve(root.path(), ContainerdPath(kShopUidSystemd, kContainerdId), stats);
  EXPECT_EQ(workload.container_id, kContainerdId);
  EXPECT_EQ(workload.pod, "");
  EXPECT_EQ(stats.metadata_errors, 1u);
  EXPECT_EQ(stats.bundles_read, 0u);
}

TEST(WorkloadResolver, BrokenBundlesAreCountedErrors) {
  const std::string broken[] = {std::string(CONNWATCH_FIXTURES_DIR) + "/oci/truncated.json",
                                std::string(CONNWATCH_FIXTURES_DIR) + "/oci/not_json.yaml_garbage",
                                std::string(CONNWATCH_FIXTURES_DIR) + "/oci/invalid_utf8.json"};
  for (const std::string& source : broken) {
    ScratchRoot root;
    fs::copy_file(source, root.Bundle(kContainerdId));
    WorkloadResolver resolver;
    WorkloadStats stats;
    Workload workload =
        resolver.Resolve(root.path(), ContainerdPath(kShopUidSystemd, kContainerdId), stats);
    EXPECT_EQ(workload.container_id, kContainerdId) << source;
    EXPECT_EQ(stats.metadata_errors, 1u) << source;
  }
}

TEST(WorkloadResolver, FifoAndSymlinkBundlesAreRefused) {
  ScratchRoot fifo_root;
  ASSERT_EQ(mkfifo(fifo_root.Bundle(kContainerdId).c_str(), 0600), 0);
  ScratchRoot link_root;
  fs::create_symlink("/etc/passwd", link_root.Bundle(kContainerdId));
  for (const ScratchRoot* root : {&fifo_root, &link_root}) {
    WorkloadResolver resolver;
    WorkloadStats stats;
    resolver.Resolve(root->path(), ContainerdPath(kShopUidSystemd, kContainerdId), stats);
    EXPECT_EQ(stats.metadata_errors, 1u) << root->path();
  }
}

TEST(AssignWorkloads, SocketsGetTheirFirstReadOwnersWorkload) {
  Snapshot snapshot;
  snapshot.sockets.resize(4);
  for (size_t i = 0; i < 4; ++i) {
    snapshot.sockets[i].inode = 10 + i;
    snapshot.sockets[i].cgroup_id = 7000 + i;
  }
  snapshot.owners.Add(10, 100);  // in the shop pod
  snapshot.owners.Add(11, 200);  // on the host
  snapshot.owners.Add(12, 300);  // exited before it was read ...
  snapshot.owners.Add(12, 301);  // ... so its sibling in the docker container decides
  snapshot.owners.Add(13, 101);  // the same container as 100
  auto process = [&](pid_t pid, std::string cgroup) {
    Process p;
    p.pid = pid;
    p.cgroup = std::move(cgroup);
    snapshot.processes.emplace(pid, p);
  };
  process(100, ContainerdPath(kShopUidSystemd, kContainerdId));
  process(101, ContainerdPath(kShopUidSystemd, kContainerdId));
  process(200, "/system.slice/sshd.service");
  process(301, "/docker/" + std::string(kDockerId));
  snapshot.IndexOwners();
  WorkloadResolver resolver;
  AssignWorkloads(snapshot, FixtureRoot(), resolver);
  ASSERT_EQ(snapshot.workloads.size(), 3u);
  EXPECT_TRUE(snapshot.workloads[0].IsHost());
  EXPECT_EQ(snapshot.WorkloadOf(0).pod, "web-7d9f8b6c5d-x2k4q");
  EXPECT_TRUE(snapshot.WorkloadOf(1).IsHost());
  EXPECT_EQ(snapshot.WorkloadOf(2).runtime, "docker");
  EXPECT_EQ(&snapshot.WorkloadOf(3), &snapshot.WorkloadOf(0));
  EXPECT_EQ(snapshot.workload_stats.bundles_read, 2u);
  // The cgroups of container sockets, for closed connections whose process is gone (the
  // host's cgroup 7001 is none of them).
  EXPECT_EQ(snapshot.workload_by_cgroup,
            (std::unordered_map<uint64_t, uint32_t>{{7000, snapshot.workload_of[0]},
                                                    {7002, snapshot.workload_of[2]},
                                                    {7003, snapshot.workload_of[3]}}));
  // A cgroup whose sockets are in two workloads (a process moved into the pod after making
  // one) names neither.
  snapshot.sockets[3].cgroup_id = 7001;
  AssignWorkloads(snapshot, FixtureRoot(), resolver);
  EXPECT_EQ(snapshot.workload_by_cgroup.count(7001), 0u);
  EXPECT_EQ(snapshot.workload_by_cgroup.count(7000), 1u);
}

TEST(AssignWorkloads, AllHostLeavesNoPerSocketIndex) {
  Snapshot snapshot;
  snapshot.sockets.resize(1);
  snapshot.sockets[0].inode = 5;
  snapshot.owners.Add(5, 50);
  Process p;
  p.cgroup = "/user.slice/user-0.slice/session-1.scope";
  snapshot.processes.emplace(50, p);
  snapshot.IndexOwners();
  WorkloadResolver resolver;
  AssignWorkloads(snapshot, FixtureRoot(), resolver);
  EXPECT_EQ(snapshot.workloads.size(), 1u);
  EXPECT_TRUE(snapshot.workload_of.empty());
  EXPECT_TRUE(snapshot.WorkloadOf(0).IsHost());
}

}  // namespace
}  // namespace connwatch
