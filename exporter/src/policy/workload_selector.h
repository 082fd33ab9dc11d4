// Which workloads a policy rule is about: the Kubernetes names of a socket's pod and the
// network namespace it lives in. A rule without a selector is about every socket, as before
// namespaces were read.
#pragma once

#include <string>
#include <string_view>

#include "model.h"

namespace connwatch {

// Each field is an fnmatch(3) glob; "" matches anything (the host's empty names included).
struct WorkloadSelector {
  std::string k8s_namespace;  // `namespace:` in the policy
  // The pod's workload: its name without what its controller adds (PodWorkloadName), so one
  // rule covers every pod of a Deployment, StatefulSet, DaemonSet or Job across rollouts.
  std::string workload;
  std::string pod;
  std::string container;
  std::string netns;  // the `netns` label: a pinned name, for namespaces outside Kubernetes

  bool IsAny() const {
    return k8s_namespace.empty() && workload.empty() && pod.empty() && container.empty() &&
           netns.empty();
  }
  bool operator==(const WorkloadSelector&) const = default;
};

// Whether a socket of `workload`, in the namespace labelled `netns` ("" for connwatch's
// own), is one the selector is about.
bool SelectorMatches(const WorkloadSelector& selector, const Workload& workload,
                     std::string_view netns);

// The workload a pod belongs to, from the pod's name alone (kube-controller-manager's naming):
//   Deployment  <name>-<pod-template-hash>-<5>   web-7d9f8b6c5d-x2k4q  -> web
//   DaemonSet, Job, ReplicaSet  <name>-<5>       fluentd-x2k4q         -> fluentd
//   CronJob     <name>-<8 digits>-<5>           backup-28912345-x2k4q -> backup
//   StatefulSet <name>-<ordinal>                 db-0                  -> db
// The random suffixes are drawn from the 27 characters "bcdfghjklmnpqrstvwxz2456789" (no
// vowels), so a plain name such as "my-nginx" keeps its last part. Anything else, a bare
// pod included, is its own workload.
std::string PodWorkloadName(std::string_view pod);

}  // namespace connwatch
