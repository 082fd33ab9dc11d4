// The background sampler: one snapshot every interval, rendered once into the exposition
// text that every scrape until the next sample serves. Scrapes never trigger or wait for a
// sample; they copy a shared_ptr under a mutex held for nanoseconds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "metrics/exposition.h"
#include "metrics/families.h"
#include "net/zones.h"
#include "sampler/policy_runtime.h"
#include "sources/snapshot.h"
#include "tracking/connection_ages.h"
#include "tracking/state_store.h"

namespace connwatch {

struct SamplerOptions {
  std::chrono::milliseconds interval{10000};
  SnapshotOptions snapshot;
  MetricsOptions metrics;
  // Where the first-seen table is persisted (connections.state); "" keeps it in memory.
  std::string storage_path;
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

  CumulativeCounters counters_;        // only touched by the sampling thread
  SnapshotCache snapshot_cache_;       // likewise
  UdpServerTracker udp_servers_;       // likewise: which UDP sockets stay bound
  std::optional<AgeTracker> tracker_;  // created on the first sample
  std::string state_path_;
  std::optional<TrackerStateStore> state_store_;

  mutable std::mutex latest_mutex_;
  std::shared_ptr<const Exposition> latest_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace connwatch
