#include "sampler/policy_runtime.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/clock.h"
#include "base/log.h"
#include "policy/policy_loader.h"

namespace connwatch {
namespace {

template <typename T>
size_t SizeOf(const std::optional<std::vector<T>>& section) {
  return section ? section->size() : 0;
}

}  // namespace

PortSet UdpServicePorts(const Policy& policy) {
  PortSet ports;
  if (policy.listeners) {
    for (const ListenerRule& rule : *policy.listeners) {
      if (rule.protocol != ProtocolMatch::kTcp && rule.ports.low == rule.ports.high) {
        ports.set(rule.ports.low);
      }
    }
  }
  if (policy.expected_services) {
    for (const ExpectedService& service : *policy.expected_services) {
      if (service.protocol != ProtocolMatch::kTcp) ports.set(service.port);
    }
  }
  return ports;
}

EffectivePolicy::EffectivePolicy(Policy policy_in, bool learning_in, const Policy* learned)
    : policy(std::move(policy_in)),
      zones(policy.zones),
      udp_service_ports(UdpServicePorts(policy)),
      learning(learning_in) {
  baseline_rules["listeners"] = learned ? SizeOf(learned->listeners) : 0;
  baseline_rules["expected_services"] = learned ? SizeOf(learned->expected_services) : 0;
  baseline_rules["network_processes"] = learned ? SizeOf(learned->network_processes) : 0;
  baseline_rules["paths"] = learned ? SizeOf(learned->paths) : 0;
}

std::shared_ptr<const EffectivePolicy> MakeEffectivePolicy(const Policy& explicit_policy,
                                                           const Policy* learned, bool learning) {
  return std::make_shared<const EffectivePolicy>(
      learned ? MergeBaseline(explicit_policy, *learned) : explicit_policy, learning, learned);
}

PolicyLoadResult LoadExplicitPolicy(const std::string& config_file) {
  if (!config_file.empty()) return LoadPolicyFile(config_file);
  PolicyLoadResult result;
  result.policy = DefaultPolicy();
  return result;
}

bool PolicyRuntime::Init(const Options& options, std::vector<std::string>& errors) {
  options_ = options;
  PolicyLoadResult result = LoadExplicitPolicy(options.config_file);
  if (!result.policy) {
    for (const PolicyError& error : result.errors) errors.push_back(error.ToString());
    return false;
  }
  explicit_policy_ = std::move(*result.policy);
  learn_for_ = explicit_policy_.baseline.learn_for;
  if (learn_for_.count() > 0) {
    std::string error;
    if (options.reset_baseline) {
      if (unlink(baseline_path().c_str()) != 0 && errno != ENOENT) {
        Log(LogLevel::kWarn, "cannot remove the persisted baseline",
            {{"path", baseline_path()}, {"err", strerror(errno)}});
      }
    } else if (auto learned = LoadBaseline(baseline_path(), error)) {
      learned_ = std::move(*learned);
      Log(LogLevel::kInfo, "loaded the learned baseline", {{"path", baseline_path()}});
    } else if (!error.empty()) {
      // A damaged baseline must not silently become "everything allowed" or "nothing
      // allowed": it is relearned, and the log says why.
      ++baseline_errors_.load;
      Log(LogLevel::kError, "persisted baseline unusable, relearning",
          {{"path", baseline_path()}, {"err", error}});
    }
    if (!learned_) {
      learner_.emplace(explicit_policy_.zones);
      Log(LogLevel::kInfo, "learning the baseline",
          {{"learn_for_seconds", std::to_string(learn_for_.count())}});
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  reload_status_ = {true, UnixSeconds()};
  PublishLocked();
  return true;
}

bool PolicyRuntime::Reload(std::string& error) {
  if (options_.config_file.empty()) {
    // Nothing to re-read: the embedded default never changes.
    std::lock_guard<std::mutex> lock(mutex_);
    reload_status_ = {true, UnixSeconds()};
    return true;
  }
  PolicyLoadResult result = LoadPolicyFile(options_.config_file);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!result.policy) {
    error.clear();
    for (const PolicyError& problem : result.errors) {
      if (!error.empty()) error += "\n";
      error += problem.ToString();
    }
    reload_status_.last_successful = false;
    return false;
  }
  explicit_policy_ = std::move(*result.policy);
  reload_status_ = {true, UnixSeconds()};
  PublishLocked();
  return true;
}

void PolicyRuntime::Observe(const Snapshot& snapshot, std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!learner_) return;
  if (!learning_started_set_) {
    // The window starts with the first sample, so it spans learn_for of observation.
    learning_started_ = now;
    learning_started_set_ = true;
  }
  learner_->Observe(snapshot);
  if (now - learning_started_ < learn_for_) return;
  learned_ = learner_->Learned();
  learner_.reset();
  std::string error;
  if (SaveBaseline(baseline_path(), *learned_, error)) {
    Log(LogLevel::kInfo, "baseline learned and saved", {{"path", baseline_path()}});
  } else {
    ++baseline_errors_.save;
    Log(LogLevel::kError, "baseline learned but not saved; it will be relearned on restart",
        {{"err", error}});
  }
  PublishLocked();
}

PolicyRuntime::BaselineErrors PolicyRuntime::baseline_errors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return baseline_errors_;
}

std::shared_ptr<const EffectivePolicy> PolicyRuntime::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

ReloadStatus PolicyRuntime::reload_status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reload_status_;
}

void PolicyRuntime::PublishLocked() {
  // While learning only the explicit policy is enforced: what the learner has seen so far
  // is not yet a verdict.
  current_ = MakeEffectivePolicy(explicit_policy_, learned_ ? &*learned_ : nullptr,
                                 !learned_ && learner_.has_value());
}

}  // namespace connwatch
