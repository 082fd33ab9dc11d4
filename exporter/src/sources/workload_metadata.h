// Pure parsers of the node's files that name a container's Kubernetes pod without asking the
// kubelet, the CRI socket or the API server: the OCI bundle's config.json annotations, which
// containerd and cri-o write for every container they start, and kubelet's log directory
// names (/var/log/pods/<namespace>_<pod>_<uid>/<container>/ and the
// /var/log/containers/<pod>_<namespace>_<container>-<id>.log links into them).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace connwatch {

// A real config.json is a few KiB to a few hundred (a long seccomp profile); anything past
// this is refused before parsing.
inline constexpr size_t kMaxOciConfigBytes = 2u << 20;
// Kubernetes names are at most 253 bytes (a DNS subdomain); a longer annotation is cut there.
inline constexpr size_t kMaxKubernetesNameBytes = 253;

struct PodNames {
  std::string k8s_namespace;
  std::string pod;
  std::string container;  // "" for a pod's sandbox (pause) container
  std::string pod_uid;

  bool operator==(const PodNames&) const = default;
};

// The Kubernetes names in an OCI config.json's "annotations": containerd's
// io.kubernetes.cri.{sandbox-name,sandbox-namespace,sandbox-uid,container-name} and cri-o's
// (and dockershim's) io.kubernetes.{pod.name,pod.namespace,pod.uid,container.name}. A bundle
// of a container outside Kubernetes has none: true with every name empty. False, with
// `error` saying why, when the text is no JSON object this reader takes (too big, truncated,
// not JSON, invalid UTF-8, too deep, too many nodes) or "annotations" is no object.
bool ParseOciAnnotations(std::string_view text, PodNames& names, std::string& error);

// "<namespace>_<pod>_<uid>" (a /var/log/pods directory): neither names nor UIDs hold '_'.
std::optional<PodNames> ParsePodLogDirectory(std::string_view name);

// "<pod>_<namespace>_<container>-<64 hex id>.log" (a /var/log/containers link): the names
// and the container id.
struct ContainerLog {
  PodNames names;  // without pod_uid
  std::string container_id;
};
std::optional<ContainerLog> ParseContainerLogName(std::string_view name);

}  // namespace connwatch
