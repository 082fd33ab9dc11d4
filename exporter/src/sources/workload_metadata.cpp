#include "sources/workload_metadata.h"

#include <exception>

#include "base/config_error.h"
#include "base/yaml_tree.h"
#include "sources/cgroup_path.h"

namespace connwatch {
namespace {

// yaml-cpp reads JSON (a YAML 1.2 flow subset) through the same strict, budgeted tree as the
// policy: a config.json is written by the runtime, but its annotations come from whoever
// may create pods, and the file may be anything a compromised node left there.
YamlRules OciConfigRules() {
  YamlRules rules;
  rules.document = "OCI config.json";
  rules.max_bytes = kMaxOciConfigBytes;
  // linux.seccomp.syscalls[].args[] is the deepest part of a real bundle: 6 levels.
  rules.max_depth = 32;
  // A default seccomp profile lists ~400 syscalls: a few thousand nodes.
  rules.max_nodes = 200000;
  rules.any_tag = false;
  return rules;
}

// Cut to `max_bytes` without splitting a UTF-8 sequence (the value may be invalid UTF-8
// anyway; the metric layer replaces that).
std::string CutName(std::string_view value) {
  if (value.size() <= kMaxKubernetesNameBytes) return std::string(value);
  size_t cut = kMaxKubernetesNameBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xc0) == 0x80) --cut;
  return std::string(value.substr(0, cut));
}

const YamlNode* FindKey(const YamlNode& map, std::string_view key) {
  if (map.kind != YamlNode::Kind::kMap) return nullptr;
  // First of repeated keys, as Go's encoding/json would not: duplicates never come from a
  // runtime, and either choice is one of the attacker's values.
  for (size_t i = 0; i + 1 < map.children.size(); i += 2) {
    const YamlNode& name = map.children[i];
    if (name.kind == YamlNode::Kind::kScalar && name.value == key) return &map.children[i + 1];
  }
  return nullptr;
}

// The first of `keys` that holds a string.
std::string Annotation(const YamlNode& annotations, std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    const YamlNode* value = FindKey(annotations, key);
    if (value != nullptr && value->kind == YamlNode::Kind::kScalar) return CutName(value->value);
  }
  return "";
}

// A DNS-1123 name as Kubernetes allows for namespaces, pods and containers: what kubelet
// writes into log paths, so anything else there is not kubelet's.
bool IsKubernetesName(std::string_view name) {
  if (name.empty() || name.size() > kMaxKubernetesNameBytes) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool IsUid(std::string_view uid) {
  if (uid.size() != 32 && uid.size() != 36) return false;
  for (char c : uid) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool ParseOciAnnotations(std::string_view text, PodNames& names, std::string& error) {
  names = PodNames{};
  ConfigErrors errors("config.json");
  std::optional<YamlNode> root;
  try {
    root = ParseYamlTree(text, OciConfigRules(), errors);
  } catch (const std::exception& e) {
    errors.At(0, 0, "", std::string("parsing failed: ") + e.what());
  }
  if (!root || !errors.empty() || root->kind != YamlNode::Kind::kMap) {
    error = errors.empty() ? "not a JSON object" : JoinErrors(errors.Take());
    return false;
  }
  const YamlNode* annotations = FindKey(*root, "annotations");
  if (annotations == nullptr || annotations->kind == YamlNode::Kind::kNull) return true;
  if (annotations->kind != YamlNode::Kind::kMap) {
    error = "annotations is not an object";
    return false;
  }
  names.k8s_namespace = Annotation(
      *annotations, {"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"});
  names.pod =
      Annotation(*annotations, {"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"});
  names.container = Annotation(
      *annotations, {"io.kubernetes.cri.container-name", "io.kubernetes.container.name"});
  names.pod_uid =
      Annotation(*annotations, {"io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"});
  // cri-o names a sandbox's container "POD" (dockershim's convention); containerd names none.
  if (names.container == "POD") names.container.clear();
  return true;
}

std::optional<PodNames> ParsePodLogDirectory(std::string_view name) {
  size_t first = name.find('_');
  size_t second = first == std::string_view::npos ? first : name.find('_', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  PodNames names;
  std::string_view ns = name.substr(0, first);
  std::string_view pod = name.substr(first + 1, second - first - 1);
  std::string_view uid = name.substr(second + 1);
  if (!IsKubernetesName(ns) || !IsKubernetesName(pod) || !IsUid(uid)) return std::nullopt;
  return PodNames{std::string(ns), std::string(pod), "", std::string(uid)};
}

std::optional<ContainerLog> ParseContainerLogName(std::string_view name) {
  constexpr std::string_view kSuffix = ".log";
  if (!name.ends_with(kSuffix)) return std::nullopt;
  name.remove_suffix(kSuffix.size());
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || !IsContainerId(name.substr(dash + 1))) {
    return std::nullopt;
  }
  std::string_view names = name.substr(0, dash);
  size_t first = names.find('_');
  size_t second = first == std::string_view::npos ? first : names.find('_', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  std::string_view pod = names.substr(0, first);
  std::string_view ns = names.substr(first + 1, second - first - 1);
  std::string_view container = names.substr(second + 1);
  if (!IsKubernetesName(pod) || !IsKubernetesName(ns) || !IsKubernetesName(container)) {
    return std::nullopt;
  }
  ContainerLog log;
  log.names = PodNames{std::string(ns), std::string(pod), std::string(container), ""};
  log.container_id = std::string(name.substr(dash + 1));
  return log;
}

}  // namespace connwatch
