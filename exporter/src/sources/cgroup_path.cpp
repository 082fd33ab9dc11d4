#include "sources/cgroup_path.h"

#include <vector>

namespace connwatch {
namespace {

constexpr std::string_view kScopeSuffix = ".scope";
constexpr std::string_view kSliceSuffix = ".slice";

// Calls `visit(line)` for each line of `text` until it returns true.
template <typename Visit>
void ForEachLine(std::string_view text, Visit visit) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    if (visit(text.substr(pos, end - pos))) return;
    pos = end + 1;
  }
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(separator, pos);
    if (end == std::string_view::npos) end = text.size();
    parts.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return parts;
}

bool IsHexDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// mountinfo writes space, tab, newline and backslash in paths as \ooo.
std::string UnescapeOctal(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    bool octal = text[i] == '\\' && i + 3 < text.size() &&
                 text.substr(i + 1, 3).find_first_not_of("01234567") == std::string_view::npos;
    if (!octal) {
      out += text[i];
      continue;
    }
    out +=
        static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0'));
    i += 3;
  }
  return out;
}

// A pod UID as kubelet writes it into cgroup names: a UUID (36 characters; with '_' for '-'
// under the systemd driver, undone by the caller) or, for static pods, a 32-digit hash.
bool IsPodUid(std::string_view text) {
  if (text.size() != 32 && text.size() != 36) return false;
  for (char c : text) {
    if (!IsHexDigit(c) && c != '-') return false;
  }
  return true;
}

// "kubepods-burstable-pod<uid_>.slice" (also kind's "kubelet-kubepods-…") -> the UID.
std::optional<std::string> SystemdPodUid(std::string_view component) {
  if (!component.ends_with(kSliceSuffix)) return std::nullopt;
  component.remove_suffix(kSliceSuffix.size());
  size_t pod = component.rfind("-pod");
  if (pod == std::string_view::npos) return std::nullopt;
  if (component.substr(0, pod).find("kubepods") == std::string_view::npos) return std::nullopt;
  std::string uid(component.substr(pod + 4));
  for (char& c : uid) {
    if (c == '_') c = '-';
  }
  if (!IsPodUid(uid)) return std::nullopt;
  return uid;
}

// "pod<uid>" below a "kubepods" component (the cgroupfs driver) -> the UID.
std::optional<std::string> CgroupfsPodUid(std::string_view component, bool below_kubepods) {
  if (!below_kubepods || !component.starts_with("pod")) return std::nullopt;
  std::string_view uid = component.substr(3);
  if (!IsPodUid(uid)) return std::nullopt;
  return std::string(uid);
}

struct ContainerName {
  enum class Kind { kNone, kContainer, kMonitor } kind = Kind::kNone;
  const char* runtime = "";
  std::string_view id;
};

// "cri-containerd-<id>.scope", "crio-<id>.scope", "docker-<id>.scope", "libpod-<id>.scope"
// (".scope" absent under cgroupfs); conmon's scopes are monitors.
ContainerName PrefixedContainer(std::string_view component) {
  struct Prefix {
    std::string_view text;
    const char* runtime;
    ContainerName::Kind kind;
  };
  static constexpr Prefix kPrefixes[] = {
      {"crio-conmon-", "", ContainerName::Kind::kMonitor},
      {"libpod-conmon-", "", ContainerName::Kind::kMonitor},
      {"cri-containerd-", "containerd", ContainerName::Kind::kContainer},
      {"crio-", "cri-o", ContainerName::Kind::kContainer},
      {"docker-", "docker", ContainerName::Kind::kContainer},
      {"libpod-", "podman", ContainerName::Kind::kContainer},
  };
  if (component.ends_with(kScopeSuffix)) component.remove_suffix(kScopeSuffix.size());
  for (const Prefix& prefix : kPrefixes) {
    if (!component.starts_with(prefix.text)) continue;
    std::string_view id = component.substr(prefix.text.size());
    if (!IsContainerId(id)) return {};
    return {prefix.kind, prefix.runtime, id};
  }
  return {};
}

// A bare id (the cgroupfs driver): "/docker/<id>", "/kubepods/<qos>/pod<uid>/<id>" (which
// containerd writes; dockershim is gone), "/default/<id>" (containerd's ctr).
ContainerName BareContainer(std::string_view component, std::string_view parent, bool in_pod) {
  if (!IsContainerId(component)) return {};
  const char* runtime = parent == "docker"              ? "docker"
                        : in_pod || parent == "default" ? "containerd"
                                                        : nullptr;
  if (runtime == nullptr) return {};
  return {ContainerName::Kind::kContainer, runtime, component};
}

}  // namespace

std::string ParseProcCgroup(std::string_view text) {
  std::optional<std::string_view> unified;
  std::optional<std::string_view> named_systemd;
  ForEachLine(text, [&](std::string_view line) {
    if (!unified && line.starts_with("0::")) unified = line.substr(3);
    size_t first = line.find(':');
    if (!named_systemd && first != std::string_view::npos &&
        line.substr(first + 1).starts_with("name=systemd:")) {
      named_systemd = line.substr(first + 1 + 13);
    }
    return unified && named_systemd;
  });
  // A hybrid host whose runtime uses only the v1 hierarchies leaves everything at the v2
  // root; systemd's named hierarchy then still carries the container's scope.
  if (unified && (*unified != "/" || !named_systemd)) return std::string(*unified);
  return named_systemd ? std::string(*named_systemd) : "";
}

std::optional<std::string> ParseCgroup2Mount(std::string_view mountinfo) {
  std::optional<std::string> mount;
  ForEachLine(mountinfo, [&](std::string_view line) {
    // "id parent major:minor root mount-point options [optional…] - type source super".
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) return false;
    std::vector<std::string_view> after = Split(line.substr(dash + 3), ' ');
    std::vector<std::string_view> before = Split(line.substr(0, dash), ' ');
    if (after.empty() || after[0] != "cgroup2" || before.size() < 5) return false;
    mount = UnescapeOctal(before[4]);
    return true;
  });
  return mount;
}

bool IsContainerId(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!IsHexDigit(c)) return false;
  }
  return true;
}

Workload ParseCgroupWorkload(std::string_view cgroup_path) {
  std::vector<std::string_view> components = Split(cgroup_path, '/');
  Workload workload;
  bool below_kubepods = false;
  bool in_pod = false;
  ContainerName found;
  std::string_view parent;
  // Walks down from the root: the pod comes above its containers; the deepest container
  // wins (a cgroup a container made for itself below its scope is still that container).
  for (std::string_view component : components) {
    if (component == "kubepods" || component.starts_with("kubepods-") ||
        component == "kubepods.slice") {
      below_kubepods = true;
    }
    std::optional<std::string> uid = SystemdPodUid(component);
    if (!uid) uid = CgroupfsPodUid(component, below_kubepods);
    if (uid && found.kind == ContainerName::Kind::kNone) {
      workload.pod_uid = *uid;
      in_pod = true;
    }
    ContainerName named = PrefixedContainer(component);
    if (named.kind == ContainerName::Kind::kNone) named = BareContainer(component, parent, in_pod);
    if (named.kind != ContainerName::Kind::kNone) found = named;
    parent = component;
  }
  if (found.kind == ContainerName::Kind::kMonitor) return {};
  if (found.kind == ContainerName::Kind::kContainer) {
    workload.runtime = found.runtime;
    workload.container_id = std::string(found.id);
  }
  return workload;
}

}  // namespace connwatch
