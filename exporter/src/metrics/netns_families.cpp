#include "metrics/netns_families.h"

#include <iterator>

#include "metrics/family_builder.h"
#include "metrics/metric_names.h"

namespace connwatch {
namespace {

using prometheus::MetricType;

// The modes of connwatch_netns: how each namespace but connwatch's own was read.
constexpr const char* kModeNames[] = {"own", "sock_diag", "procfs", "failed"};

const char* ModeName(NetnsMode mode) { return kModeNames[static_cast<size_t>(mode)]; }

}  // namespace

void AddNetnsFamilies(const Snapshot& snapshot, size_t max_series,
                      std::map<std::string, uint64_t>& dropped,
                      std::vector<prometheus::MetricFamily>& families) {
  FamilyBuilder by_mode(metric::kNetns, MetricType::Gauge, {"mode"});
  for (NetnsMode mode : {NetnsMode::kSockDiag, NetnsMode::kProcfs, NetnsMode::kFailed}) {
    by_mode.Set({ModeName(mode)}, 0);
  }
  FamilyBuilder info(metric::kNetnsInfo, MetricType::Gauge, {"netns", "mode"});
  for (size_t i = 1; i < snapshot.namespaces.size(); ++i) {
    const NetworkNamespace& netns = snapshot.namespaces[i];
    by_mode.Add({ModeName(netns.mode)}, 1);
    info.Set({netns.name, ModeName(netns.mode)}, 1);
  }
  FamilyBuilder errors(metric::kNetnsErrors, MetricType::Counter, {"kind"});
  for (size_t kind = 0; kind < kNetnsErrorKinds; ++kind) {
    errors.Set({NetnsErrorName(static_cast<NetnsError>(kind))},
               static_cast<double>(snapshot.netns_errors[kind]));
  }
  // Fixed label sets, never capped: only the info family grows with the host.
  families.push_back(by_mode.Build(std::size(kModeNames), dropped));
  families.push_back(info.Build(max_series, dropped));
  families.push_back(errors.Build(kNetnsErrorKinds, dropped));
}

}  // namespace connwatch
