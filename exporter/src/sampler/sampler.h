// The background sampler: one snapshot every interval, rendered once into the exposition
// text that every scrape until the next sample serves. Scrapes never trigger or wait for a
// sample; they copy a shared_ptr under a mutex held for nanoseconds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "metrics/detections.h"
#include "metrics/exposition.h"
#include "metrics/families.h"
#include "metrics/finding_events.h"
#include "net/zones.h"
#include "sampler/policy_runtime.h"
#include "sources/connection_events.h"
#include "sources/snapshot.h"
#include "tracking/connection_ages.h"
#include "tracking/connection_ledger.h"
#include "tracking/state_store.h"

namespace connwatch {

struct SamplerOptions {
  std::chrono::milliseconds interval{10000};
  SnapshotOptions snapshot;
  MetricsOptions metrics;
  // Where the first-seen table is persisted (connections.state); "" keeps it in memory.
  std::string storage_path;
  // The connection events between samples (--collect.events); nullopt: no connection
  // counting at all (bare samplers of tests and benchmarks).
  std::optional<EventsMode> events;
  // --metrics.series-ttl: a per-connection counter series that has not moved for this long
  // and whose process holds no socket is dropped.
  double series_ttl_seconds = 3600;
};

class Sampler {
 public:
  // Without a runtime (tests, benchmarks) samples are taken with the built-in zones and no
  // policy is evaluated.
  explicit Sampler(SamplerOptions options, PolicyRuntime* runtime = nullptr);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Takes one sample now, in the calling thread (used before the server starts, so the
  // first scrape already has data).
  void SampleOnce();
  // Starts the background thread; samples every interval until Stop().
  void Start();
  void Stop();

  std::shared_ptr<const Exposition> Latest() const;

 private:
  void Run();

  const SamplerOptions options_;
  PolicyRuntime* const runtime_;
  const ZoneClassifier builtin_zones_;
  // Restores the persisted first-seen table (first sample only).
  void RestoreAges();
  // Ages for the snapshot's connections; persists the table.
  void TrackAges(Snapshot& snapshot);

  // Counts the connections of this sample and of the events since the last; judges the
  // connections only events saw. `zones` as the sample's.
  void CountConnections(const Snapshot& snapshot, const EffectivePolicy* effective,
                        const ZoneClassifier& zones);
  // Counts the sample's findings per connection and holds those that ended; saves the held
  // ones for `connwatch check`.
  void HoldFindings(const Snapshot& snapshot, const EffectivePolicy& effective,
                    const Evaluation& evaluation);

  // Feeds the detections with the probes since the last sample; judges them (with a policy);
  // restores and saves the beacon starts.
  void Detect(const Snapshot& snapshot, const EffectivePolicy* effective,
              const ZoneClassifier& zones);
  void RestoreBeacons();
  void SaveBeacons(double now_unix, bool now);

  CumulativeCounters counters_;        // only touched by the sampling thread
  SnapshotCache snapshot_cache_;       // likewise
  UdpServerTracker udp_servers_;       // likewise: which UDP sockets stay bound
  std::optional<AgeTracker> tracker_;  // created on the first sample
  std::string state_path_;
  std::optional<TrackerStateStore> state_store_;
  std::unique_ptr<ConnectionEvents> events_;  // with options_.events
  uint64_t own_netns_inode_ = 0;
  ConnectionLedger ledger_;
  FindingEvents finding_events_;
  Detections detections_;
  bool beacons_restored_ = false;
  double beacons_saved_unix_ = 0;
  std::optional<double> boot_time_;  // btime, for reading processes only events named
  ProcessReadStats event_process_stats_;

  mutable std::mutex latest_mutex_;
  std::shared_ptr<const Exposition> latest_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace connwatch
