#include "sources/workload_metadata.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace connwatch {
namespace {

constexpr std::string_view kContainerdId =
    "3f2a9c1e5b7d4f60a8e2c4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5";
constexpr std::string_view kCrioId =
    "b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3";

std::string Fixture(const std::string& relative) {
  std::ifstream in(std::string(CONNWATCH_FIXTURES_DIR) + "/" + relative, std::ios::binary);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ContainerdBundle() {
  return Fixture("rootfs/run/containerd/io.containerd.runtime.v2.task/k8s.io/" +
                 std::string(kContainerdId) + "/config.json");
}

TEST(OciAnnotations, ContainerdCompactJson) {
  PodNames names;
  std::string error;
  ASSERT_TRUE(ParseOciAnnotations(ContainerdBundle(), names, error)) << error;
  EXPECT_EQ(names, (PodNames{"shop", "web-7d9f8b6c5d-x2k4q", "nginx",
                             "0a1b2c3d-4e5f-6789-abcd-ef0123456789"}));
}

TEST(OciAnnotations, CrioIndentedWithTabs) {
  PodNames names;
  std::string error;
  ASSERT_TRUE(ParseOciAnnotations(Fixture("rootfs/run/containers/storage/overlay-containers/" +
                                          std::string(kCrioId) + "/userdata/config.json"),
                                  names, error))
      << error;
  EXPECT_EQ(names, (PodNames{"kube-system", "coredns-5d78c9869d-abcde", "coredns",
                             "11111111-2222-3333-4444-555555555555"}));
}

TEST(OciAnnotations, DockerBundleHasNoKubernetesNames) {
  PodNames names;
  std::string error;
  ASSERT_TRUE(ParseOciAnnotations(
      Fixture("rootfs/run/containerd/io.containerd.runtime.v2.task/moby/"
              "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00/config.json"),
      names, error))
      << error;
  EXPECT_EQ(names, PodNames{});
}

TEST(OciAnnotations, CrioSandboxIsNoContainerName) {
  PodNames names;
  std::string error;
  ASSERT_TRUE(ParseOciAnnotations(
      R"({"annotations":{"io.kubernetes.pod.name":"p","io.kubernetes.container.name":"POD"}})",
      names, error));
  EXPECT_EQ(names.pod, "p");
  EXPECT_EQ(names.container, "");
}

TEST(OciAnnotations, BrokenFilesAreErrors) {
  for (const char* file :
       {"oci/truncated.json", "oci/not_json.yaml_garbage", "oci/invalid_utf8.json",
        "oci/annotations_not_object.json", "oci/array.json"}) {
    PodNames names{"x", "y", "z", "w"};
    std::string error;
    EXPECT_FALSE(ParseOciAnnotations(Fixture(file), names, error)) << file;
    EXPECT_FALSE(error.empty()) << file;
    EXPECT_EQ(names, PodNames{}) << file;
  }
  PodNames names;
  std::string error;
  EXPECT_FALSE(ParseOciAnnotations("", names, error));
  EXPECT_FALSE(ParseOciAnnotations(std::string(kMaxOciConfigBytes + 1, ' '), names, error));
  EXPECT_NE(error.find("more than the limit"), std::string::npos) << error;
}

TEST(OciAnnotations, HostileEscapesArriveAsTheirBytes) {
  PodNames names;
  std::string error;
  ASSERT_TRUE(ParseOciAnnotations(Fixture("oci/hostile_escapes.json"), names, error)) << error;
  EXPECT_EQ(names.k8s_namespace, "shop\nevil");
  EXPECT_EQ(names.pod, "web\"} x=\"1");
  EXPECT_EQ(names.container, "\xc3\xa9\\");
}

TEST(OciAnnotations, LongValuesAreCutOnACharacterBoundary) {
  std::string value;
  for (int i = 0; i < 200; ++i) value += "\xc3\xa9";  // 400 bytes of two-byte characters
  PodNames names;
  std::string error;
  ASSERT_TRUE(ParseOciAnnotations(
      "{\"annotations\":{\"io.kubernetes.pod.name\":\"" + value + "\"}}", names, error));
  EXPECT_EQ(names.pod.size(), 252u);
  EXPECT_EQ(names.pod, value.substr(0, 252));
}

TEST(OciAnnotations, AliasBombsAndDeepNestingStop) {
  PodNames names;
  std::string error;
  EXPECT_FALSE(ParseOciAnnotations(std::string(100, '[') + std::string(100, ']'), names, error));
  EXPECT_FALSE(ParseOciAnnotations("a: &a [1]\nb: *a\n", names, error));
}

TEST(PodLogDirectory, NamesAndUid) {
  EXPECT_EQ(ParsePodLogDirectory("shop_web-7d9f8b6c5d-x2k4q_0a1b2c3d-4e5f-6789-abcd-ef0123456789"),
            (PodNames{"shop", "web-7d9f8b6c5d-x2k4q", "", "0a1b2c3d-4e5f-6789-abcd-ef0123456789"}));
  EXPECT_EQ(ParsePodLogDirectory("kube-system_etcd-node1_d41d8cd98f00b204e9800998ecf8427e")->pod,
            "etcd-node1");
}

TEST(PodLogDirectory, AnythingElseIsNotKubelets) {
  for (std::string_view name :
       {"", "shop", "shop_web", "shop_web_notauid", "Shop_web_0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "shop_we\nb_0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "shop_web_x_0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "_web_0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "sh\"op_web_0a1b2c3d-4e5f-6789-abcd-ef0123456789"}) {
    EXPECT_EQ(ParsePodLogDirectory(name), std::nullopt) << name;
  }
}

TEST(ContainerLogName, NamesAndId) {
  std::optional<ContainerLog> log = ParseContainerLogName(
      "coredns-5d78c9869d-abcde_kube-system_coredns-" + std::string(kCrioId) + ".log");
  ASSERT_TRUE(log);
  EXPECT_EQ(log->names, (PodNames{"kube-system", "coredns-5d78c9869d-abcde", "coredns", ""}));
  EXPECT_EQ(log->container_id, kCrioId);
}

TEST(ContainerLogName, AnythingElseIsNotKubelets) {
  std::string id(kCrioId);
  for (std::string name :
       {"pod_ns_c-" + id, "pod_ns_c-" + id.substr(1) + ".log", "pod_ns-" + id + ".log",
        "pod_ns_C-" + id + ".log", "pod_ns_c\n-" + id + ".log", std::string(".log")}) {
    EXPECT_EQ(ParseContainerLogName(name), std::nullopt) << name;
  }
}

}  // namespace
}  // namespace connwatch
