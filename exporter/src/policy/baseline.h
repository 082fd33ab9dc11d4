// The learned baseline: what the host did during the learning window, turned into policy
// rules. Learned listeners become allowed listeners, learned non-loopback listeners become
// expected services, learned processes and paths become allowed.
#pragma once

#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "policy/policy.h"
#include "sources/snapshot.h"

namespace connwatch {

// A learned owner: its name and the path of its executable ("" when unreadable).
using LearnedOwner = std::pair<std::string, std::string>;
// Where a learned socket was: its pod's Kubernetes namespace, workload (PodWorkloadName, so
// a rollout's new pods are the same place) and container; all "" on the host.
using LearnedPlace = std::tuple<std::string, std::string, std::string>;

class BaselineLearner {
 public:
  BaselineLearner() = default;
  // `policy_zones`: the policy zones the observed snapshots are classified with. Learned()
  // carries the ones its paths name, so that the persisted baseline loads on its own (the
  // loader refuses a path naming an undefined zone).
  explicit BaselineLearner(std::vector<Zone> policy_zones)
      : policy_zones_(std::move(policy_zones)) {}

  // Records every listener (protocol, port, bind scope, owner), every owner holding
  // sockets, and every path (owner, direction, remote zone, service port) of `snapshot`; an
  // owner is its name and exe path, so each learned rule says where the binary lives, and a
  // socket of a pod is learned for its workload (namespace, workload, container selectors).
  void Observe(const Snapshot& snapshot);

  // The learned rules as a policy with listeners, expected_services, network_processes and
  // paths present (possibly empty); zones: the policy zones the paths name; limits and
  // baseline settings default.
  Policy Learned() const;

  size_t observations() const { return observations_; }

 private:
  // (protocol, port, bind scope, bind address text, process, exe, place)
  std::set<std::tuple<int, uint16_t, int, std::string, std::string, std::string, LearnedPlace>>
      listeners_;
  std::set<std::pair<LearnedOwner, LearnedPlace>> processes_;
  // (protocol, process, direction, remote zone, port, exe, place)
  std::set<std::tuple<int, std::string, int, std::string, uint16_t, std::string, LearnedPlace>>
      paths_;
  size_t observations_ = 0;
  std::vector<Zone> policy_zones_;
};

// The explicit policy with the learned rules added: each learned section is appended to
// the explicit one (making it present). Zones, limits and settings stay the explicit ones.
Policy MergeBaseline(const Policy& explicit_policy, const Policy& learned);

// <storage.path>/baseline.yaml
std::string BaselinePathIn(const std::string& storage_path);

// Persistence under --storage.path: the learned policy as YAML with a header line, written
// atomically (temp file, fsync, rename, fsync of the directory).
bool SaveBaseline(const std::string& path, const Policy& learned, std::string& error);
// nullopt with `error` set when missing ("" error for a missing file) or invalid.
std::optional<Policy> LoadBaseline(const std::string& path, std::string& error);

}  // namespace connwatch
