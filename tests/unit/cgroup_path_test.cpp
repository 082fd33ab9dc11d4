#include "sources/cgroup_path.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace connwatch {
namespace {

using namespace std::literals;

std::string Fixture(const std::string& relative) {
  std::ifstream in(std::string(CONNWATCH_FIXTURES_DIR) + "/cgroup/" + relative);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr std::string_view kId = "3f2a9c1e5b7d4f60a8e2c4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5";

TEST(ProcCgroup, UnifiedLine) {
  EXPECT_EQ(ParseProcCgroup(Fixture("proc_cgroup_unified_containerd")),
            "/kubepods.slice/kubepods-burstable.slice/"
            "kubepods-burstable-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice/cri-containerd-" +
                std::string(kId) + ".scope");
}

TEST(ProcCgroup, HybridHostAtTheRootIsTheRoot) {
  // Captured on this test VM (hybrid: cgroup2 at /sys/fs/cgroup/unified).
  EXPECT_EQ(ParseProcCgroup(Fixture("proc_cgroup_hybrid")), "/");
}

TEST(ProcCgroup, HybridHostWithV1RuntimeFallsBackToNamedSystemd) {
  EXPECT_EQ(ParseProcCgroup(Fixture("proc_cgroup_hybrid_docker_v1")),
            "/docker/" + std::string(kId));
}

TEST(ProcCgroup, V1OnlyHostUsesNamedSystemd) {
  EXPECT_EQ(ParseProcCgroup(Fixture("proc_cgroup_v1_only")),
            "/user.slice/user-1000.slice/session-3.scope");
}

TEST(ProcCgroup, NothingReadable) {
  EXPECT_EQ(ParseProcCgroup(""), "");
  EXPECT_EQ(ParseProcCgroup("garbage\n\n:::\n"), "");
}

TEST(ProcCgroup, NewlineInADirectoryNameCannotForgeALaterLine) {
  std::string forged = "0::/evil\n0::/docker/" + std::string(kId) + "\n";
  EXPECT_EQ(ParseProcCgroup(forged), "/evil");
  EXPECT_TRUE(ParseCgroupWorkload(ParseProcCgroup(forged)).IsHost());
}

TEST(Cgroup2Mount, HybridHost) {
  EXPECT_EQ(ParseCgroup2Mount(Fixture("mountinfo_hybrid")), "/sys/fs/cgroup/unified");
}

TEST(Cgroup2Mount, UnifiedHost) {
  EXPECT_EQ(ParseCgroup2Mount(Fixture("mountinfo_unified")), "/sys/fs/cgroup");
}

TEST(Cgroup2Mount, EscapedMountPoint) {
  EXPECT_EQ(ParseCgroup2Mount(Fixture("mountinfo_escaped")), "/host/sys/fs/cgroup v2");
}

TEST(Cgroup2Mount, NoneOnV1OnlyHostOrGarbage) {
  EXPECT_EQ(ParseCgroup2Mount(Fixture("mountinfo_v1_only")), std::nullopt);
  EXPECT_EQ(ParseCgroup2Mount("- cgroup2\n"), std::nullopt);
  EXPECT_EQ(ParseCgroup2Mount("1 2 3 - cgroup2 x y\n"), std::nullopt);
  EXPECT_EQ(ParseCgroup2Mount("1 2 0:1 / /trailing\\04 rw - cgroup2 c rw\n"), "/trailing\\04");
}

struct Layout {
  int line = 0;
  std::string path, runtime, id, pod_uid;
};

std::vector<Layout> ReadLayouts() {
  std::vector<Layout> layouts;
  std::istringstream in(Fixture("layouts.tsv"));
  std::string line;
  int number = 0;
  auto field = [](std::string value) { return value == "-" ? "" : value; };
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> parts;
    std::istringstream fields(line);
    std::string part;
    while (std::getline(fields, part, '\t')) parts.push_back(part);
    EXPECT_EQ(parts.size(), 4u) << "layouts.tsv:" << number;
    if (parts.size() != 4) continue;
    layouts.push_back({number, field(parts[0]), field(parts[1]), field(parts[2]), field(parts[3])});
  }
  return layouts;
}

TEST(CgroupWorkload, EveryLayoutOfTheFixtureTable) {
  std::vector<Layout> layouts = ReadLayouts();
  ASSERT_GE(layouts.size(), 30u);
  for (const Layout& layout : layouts) {
    Workload workload = ParseCgroupWorkload(layout.path);
    EXPECT_EQ(workload.runtime, layout.runtime) << "layouts.tsv:" << layout.line;
    EXPECT_EQ(workload.container_id, layout.id) << "layouts.tsv:" << layout.line;
    EXPECT_EQ(workload.pod_uid, layout.pod_uid) << "layouts.tsv:" << layout.line;
    EXPECT_TRUE(workload.k8s_namespace.empty() && workload.pod.empty() &&
                workload.container.empty());
    EXPECT_EQ(workload.IsHost(), layout.id.empty() && layout.pod_uid.empty())
        << "layouts.tsv:" << layout.line;
  }
}

TEST(CgroupWorkload, HostileBytesNeverMakeAContainer) {
  for (std::string path :
       {"/system.slice/docker-\n"s + std::string(kId) + ".scope", "/docker/\xff\xfe"s,
        "/system.slice/docker-\""s + std::string(kId) + ".scope", std::string(1 << 16, '/'),
        "/kubepods/pod\x00"s + std::string(31, 'a') + "/" + std::string(kId)}) {
    Workload workload = ParseCgroupWorkload(path);
    EXPECT_TRUE(workload.container_id.empty()) << path;
    EXPECT_TRUE(workload.pod_uid.empty()) << path;
  }
}

TEST(ContainerId, Strict) {
  EXPECT_TRUE(IsContainerId(kId));
  EXPECT_FALSE(IsContainerId(kId.substr(1)));
  EXPECT_FALSE(IsContainerId(std::string(63, 'a') + "/"));
  EXPECT_FALSE(IsContainerId(std::string(64, 'A')));
  EXPECT_FALSE(IsContainerId(""));
}

}  // namespace
}  // namespace connwatch
