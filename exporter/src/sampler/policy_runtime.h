// The policy in force while serving: the explicit policy (or the embedded default), the
// learned baseline (learning, then frozen and persisted), and reloads. The sampler asks it
// for the effective policy each sample and feeds it snapshots while it learns.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/zones.h"
#include "policy/baseline.h"
#include "policy/policy.h"
#include "policy/policy_loader.h"
#include "sources/proc_sys.h"
#include "sources/snapshot.h"

namespace connwatch {

// What one sample is judged by. Immutable once published; samples hold a shared_ptr.
struct EffectivePolicy {
  Policy policy;
  ZoneClassifier zones;
  PortSet udp_service_ports;
  bool learning = false;
  std::map<std::string, size_t> baseline_rules;  // learned rules by section

  EffectivePolicy(Policy policy, bool learning, const Policy* learned);
};

// What a sample is judged by: `explicit_policy` with `learned` merged in when there is a
// learned baseline. The sampler's runtime and `connwatch check` both make theirs here.
std::shared_ptr<const EffectivePolicy> MakeEffectivePolicy(const Policy& explicit_policy,
                                                           const Policy* learned, bool learning);

// The explicit policy: --config.file, or the embedded default when `config_file` is "".
PolicyLoadResult LoadExplicitPolicy(const std::string& config_file);

// UDP ports the policy declares as services (single-port listener rules and expected
// services): such sockets are listeners even inside the ephemeral range.
PortSet UdpServicePorts(const Policy& policy);

struct ReloadStatus {
  bool last_successful = true;
  double last_success_timestamp_seconds = 0;  // Unix time
};

class PolicyRuntime {
 public:
  struct Options {
    std::string config_file;  // "" = the embedded default policy
    std::string storage_path;
    bool reset_baseline = false;
  };

  // Loads the explicit policy and the persisted baseline. Returns false with every problem
  // in `errors` (file:line:column: key: message) when the policy is invalid.
  bool Init(const Options& options, std::vector<std::string>& errors);

  // Re-reads --config.file. On failure the running policy stays and `error` says why.
  bool Reload(std::string& error);

  // Feeds a snapshot to the learner while learning; freezes and persists the baseline once
  // the window is over. Called by the sampling thread only.
  void Observe(const Snapshot& snapshot, std::chrono::steady_clock::time_point now);

  std::shared_ptr<const EffectivePolicy> Current() const;
  ReloadStatus reload_status() const;
  // Failures so far to load (at Init) and to save (when learning ends) the baseline.
  struct BaselineErrors {
    uint64_t load = 0, save = 0;
  };
  BaselineErrors baseline_errors() const;

  std::string baseline_path() const { return BaselinePathIn(options_.storage_path); }

 private:
  void PublishLocked();

  Options options_;
  mutable std::mutex mutex_;
  Policy explicit_policy_;
  std::optional<Policy> learned_;  // frozen baseline
  std::optional<BaselineLearner> learner_;
  std::chrono::steady_clock::time_point learning_started_;
  std::chrono::seconds learn_for_{0};
  bool learning_started_set_ = false;
  std::shared_ptr<const EffectivePolicy> current_;
  ReloadStatus reload_status_;
  BaselineErrors baseline_errors_;
};

}  // namespace connwatch
