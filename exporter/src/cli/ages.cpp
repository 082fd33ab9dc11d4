#include "cli/ages.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/clock.h"
#include "sources/proc_sys.h"
#include "tracking/connection_ages.h"
#include "tracking/state_format.h"
#include "tracking/state_store.h"

namespace connwatch {

std::string AttachOneShotAges(Snapshot& snapshot, const std::string& procfs,
                              const std::string& storage_path) {
  double now_boot = BootClockSeconds();
  // A cold tracker: conntrack where it knows, else the process start bound.
  std::string boot_id = ReadBootId(procfs);
  AgeTracker tracker(boot_id);
  snapshot.ages = tracker.Update(snapshot, now_boot, ConntrackStartsOf(snapshot));
  // What the exporter saw first is better than a bound; conntrack stays best.
  std::string error;
  std::optional<TrackerState> state =
      storage_path.empty() ? std::nullopt : LoadTrackerState(StatePathIn(storage_path), error);
  if (!state) {
    return error.empty() ? "" : error + "; ages come from conntrack and process starts only";
  }
  if (state->boot_id != boot_id || boot_id.empty()) return "";  // another boot's: meaningless
  for (size_t i = 0; i < snapshot.sockets.size() && i < snapshot.ages.size(); ++i) {
    std::optional<ConnectionAge>& age = snapshot.ages[i];
    if (!age || age->source == AgeSource::kConntrack) continue;
    auto it = state->entries.find(KeyOf(snapshot.sockets[i]));
    if (it == state->entries.end()) continue;
    // serve's own process_start bound is as uncertain here: how long serve watched it is
    // not kept, so nothing of it is certain (watched_seconds 0).
    *age =
        ConnectionAge{std::max(0.0, now_boot - it->second.start_boot_seconds), it->second.source};
  }
  return "";
}

std::string FormatAge(double seconds) {
  // Casting a double outside int64_t's range (or NaN) is undefined: clamp first.
  constexpr double kLongest = 9.2e18;
  double clamped = std::isnan(seconds) ? 0 : std::clamp(seconds, 0.0, kLongest);
  auto total = static_cast<int64_t>(clamped);
  int64_t days = total / 86400, hours = total % 86400 / 3600, minutes = total % 3600 / 60,
          secs = total % 60;
  char buffer[64];
  if (days > 0) {
    snprintf(buffer, sizeof(buffer), "%lldd%lldh", static_cast<long long>(days),
             static_cast<long long>(hours));
  } else if (hours > 0) {
    snprintf(buffer, sizeof(buffer), "%lldh%lldm", static_cast<long long>(hours),
             static_cast<long long>(minutes));
  } else if (minutes > 0) {
    snprintf(buffer, sizeof(buffer), "%lldm%llds", static_cast<long long>(minutes),
             static_cast<long long>(secs));
  } else {
    snprintf(buffer, sizeof(buffer), "%llds", static_cast<long long>(secs));
  }
  return buffer;
}

std::string FormatAgeOf(const ConnectionAge& age) {
  return (age.source == AgeSource::kProcessStart ? "<=" : "") + FormatAge(age.age_seconds);
}

}  // namespace connwatch
