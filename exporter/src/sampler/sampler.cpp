#include "sampler/sampler.h"

#include <sys/stat.h>

#include <exception>
#include <optional>
#include <set>

#include "base/atomic_file.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/read_file.h"
#include "sources/proc_process.h"
#include "sources/proc_sys.h"
#include "tracking/closed_connections.h"
#include "tracking/state_format.h"
#include "tracking/state_store.h"

namespace connwatch {

Sampler::Sampler(SamplerOptions options, PolicyRuntime* runtime)
    : options_(std::move(options)),
      runtime_(runtime),
      state_path_(options_.storage_path.empty() ? "" : StatePathIn(options_.storage_path)) {
  if (options_.events) {
    events_ = std::make_unique<ConnectionEvents>(*options_.events, options_.snapshot.procfs);
    struct stat info;
    if (stat((options_.snapshot.procfs + "/thread-self/ns/net").c_str(), &info) == 0) {
      own_netns_inode_ = static_cast<uint64_t>(info.st_ino);
    }
  }
}

namespace {

// Processes that only events named, read per sample at most: a flood of short connections
// from many processes must not turn a sample into a /proc walk.
constexpr size_t kMaxEventProcessReads = 256;

// connwatch's own namespace as inode 0, as the samples have it; without every namespace
// (--collector.netns=own) the events of the others are not this host view's.
void NormalizeEvents(std::vector<ConnectionEvent>& events, uint64_t own_inode,
                     bool all_namespaces) {
  for (ConnectionEvent& event : events) {
    if (event.netns_inode == own_inode) event.netns_inode = 0;
  }
  if (!all_namespaces) {
    std::erase_if(events, [](const ConnectionEvent& event) { return event.netns_inode != 0; });
  }
}

// The process `pid` in the live snapshot, else in the closed one; nullptr when neither has it.
const Process* OwnerIn(const Snapshot& live, const Snapshot* closed, pid_t pid) {
  if (pid <= 0) return nullptr;
  if (auto it = live.processes.find(pid); it != live.processes.end()) return &it->second;
  if (closed == nullptr) return nullptr;
  auto it = closed->processes.find(pid);
  return it != closed->processes.end() ? &it->second : nullptr;
}

// Where each namespace of the snapshot is, for the probes that arrive in it: its name, and
// the pod whose namespace it is (the first pod socket found in it).
std::unordered_map<uint64_t, ProbedNamespace> ProbedPlaces(const Snapshot& snapshot) {
  std::unordered_map<uint64_t, ProbedNamespace> places;
  for (size_t i = 1; i < snapshot.namespaces.size(); ++i) {
    places[snapshot.namespaces[i].inode].netns = snapshot.namespaces[i].name;
  }
  for (size_t i = 0; i < snapshot.sockets.size(); ++i) {
    uint32_t netns = snapshot.sockets[i].netns;
    if (netns == 0 || netns >= snapshot.namespaces.size()) continue;
    ProbedNamespace& place = places[snapshot.namespaces[netns].inode];
    const Workload& workload = snapshot.WorkloadOf(i);
    if (place.pod.empty() && !workload.pod.empty()) {
      place.k8s_namespace = workload.k8s_namespace;
      place.pod = workload.pod;
    }
  }
  return places;
}

std::set<std::string> LiveProcessNames(const Snapshot& snapshot) {
  std::set<std::string> names;
  for (const auto& [pid, process] : snapshot.processes) names.insert(process.name);
  return names;
}

}  // namespace

void Sampler::CountConnections(const Snapshot& snapshot, const EffectivePolicy* effective,
                               const ZoneClassifier& zones) {
  double now_boot = snapshot.boot_clock_seconds;
  double now_unix = snapshot.timestamp_seconds;
  EventBlocks blocks;
  if (events_) events_->TakeBlocks(blocks);
  if (!boot_time_) boot_time_ = ReadBootTime(options_.snapshot.procfs);
  size_t reads = 0;
  ProcessLookup lookup = [&](pid_t pid) -> std::optional<Process> {
    if (!boot_time_ || ++reads > kMaxEventProcessReads) return std::nullopt;
    return ReadProcess(options_.snapshot.procfs, pid, *boot_time_, event_process_stats_);
  };
  // Every connection the ledger counts goes on to the detections, with the process that
  // made it when the live or the closed snapshot has it.
  const Snapshot* closed_now = nullptr;
  ledger_.SetCountedSink([&](const CountedConnection& counted) {
    detections_.ObserveCounted(counted, OwnerIn(snapshot, closed_now, counted.pid),
                               now_unix - now_boot);
  });
  // A block at a time, each freed when done: a flood of closes (up to kMaxQueuedEvents)
  // would otherwise hold a socket, a class and a finding per close at once, beside the
  // records themselves.
  for (std::vector<ConnectionEvent>& block : blocks) {
    NormalizeEvents(block, own_netns_inode_, options_.snapshot.all_namespaces);
    if (effective) finding_events_.ObserveEnds(block, now_boot, now_unix);
    std::vector<ConnectionEvent> unseen = ledger_.CloseSeen(std::move(block), now_boot);
    Snapshot closed = ClosedConnectionsSnapshot(snapshot, unseen, zones, lookup);
    closed_now = &closed;
    ledger_.CountClosed(closed, unseen, now_boot);
    closed_now = nullptr;
    if (effective && !closed.sockets.empty()) {
      Evaluation judged = Evaluate(effective->policy, closed);
      finding_events_.ObserveClosed(closed, judged, unseen, now_boot, now_unix);
    }
  }
  ledger_.Observe(snapshot, now_boot);
  ledger_.SetCountedSink(nullptr);
  ledger_.Expire(options_.series_ttl_seconds, now_boot, LiveProcessNames(snapshot));
}

void Sampler::Detect(const Snapshot& snapshot, const EffectivePolicy* effective,
                     const ZoneClassifier& zones) {
  if (!beacons_restored_) RestoreBeacons();
  std::vector<InboundProbe> probes;
  if (events_) events_->TakeProbes(probes);
  for (InboundProbe& probe : probes) {
    if (probe.netns_inode == own_netns_inode_) probe.netns_inode = 0;
  }
  if (!options_.snapshot.all_namespaces) {
    std::erase_if(probes, [](const InboundProbe& probe) { return probe.netns_inode != 0; });
  }
  if (!probes.empty()) {
    detections_.ObserveProbes(probes, zones, ProbedPlaces(snapshot),
                              snapshot.timestamp_seconds - snapshot.boot_clock_seconds);
  }
  if (effective) detections_.Judge(effective->policy, snapshot.timestamp_seconds);
  SaveBeacons(snapshot.timestamp_seconds, false);
}

void Sampler::RestoreBeacons() {
  beacons_restored_ = true;
  if (options_.storage_path.empty()) return;
  std::string path = BeaconsPathIn(options_.storage_path);
  FileLoad file = LoadStorageFile(path, kMaxBeaconStateBytes);
  if (file.status == FileLoad::Status::kMissing) return;
  std::string error;
  std::optional<BeaconTracker> tracker =
      file.ok() ? ParseBeaconState(file.text, kDefaultBeaconPairs, error) : std::nullopt;
  if (!file.ok()) error = file.Problem("beacon state", path, kMaxBeaconStateBytes);
  if (!tracker) {
    // The beacons start over from this sample; the file is replaced at the next save.
    ++counters_.state_errors["load:beacons"];
    Log(LogLevel::kError, "beacon state unusable, beacon scores start over",
        {{"path", path}, {"err", error}});
    return;
  }
  detections_.RestoreBeacons(std::move(*tracker));
  Log(LogLevel::kInfo, "beacon state restored", {{"path", path}});
}

void Sampler::SaveBeacons(double now_unix, bool now) {
  // Once a minute at most (the file holds up to 4,096 pairs of 128 starts), and at stop.
  constexpr double kSaveEverySeconds = 60;
  if (options_.storage_path.empty() || !beacons_restored_) return;
  if (!now && now_unix - beacons_saved_unix_ < kSaveEverySeconds) return;
  if (!detections_.TakeBeaconsChanged()) return;
  beacons_saved_unix_ = now_unix;
  std::string error;
  if (!WriteFileAtomically("beacon state", BeaconsPathIn(options_.storage_path),
                           FormatBeaconState(detections_.beacon_tracker()), error)) {
    ++counters_.state_errors["save:beacons"];
    Log(LogLevel::kWarn, "cannot save beacon state", {{"err", error}});
  }
}

void Sampler::HoldFindings(const Snapshot& snapshot, const EffectivePolicy& effective,
                           const Evaluation& evaluation) {
  finding_events_.ObserveLive(snapshot, evaluation, snapshot.boot_clock_seconds,
                              snapshot.timestamp_seconds);
  finding_events_.Expire(static_cast<double>(effective.policy.limits.finding_hold.count()),
                         options_.metrics.max_finding_series, snapshot.boot_clock_seconds);
  if (!finding_events_.TakeChanged() || options_.storage_path.empty()) return;
  std::string error;
  if (!WriteFileAtomically("held findings", HeldFindingsPathIn(options_.storage_path),
                           FormatHeldFindings(finding_events_.held()), error)) {
    ++counters_.state_errors["save:findings"];
    Log(LogLevel::kWarn, "cannot save held findings", {{"err", error}});
  }
}

void Sampler::RestoreAges() {
  tracker_.emplace(ReadBootId(options_.snapshot.procfs));
  if (state_path_.empty()) return;
  state_store_.emplace(state_path_);
  std::string error, journal_error;
  std::optional<TrackerState> state = LoadTrackerState(state_path_, error, &journal_error);
  if (!journal_error.empty()) {
    // The snapshot (and what of the journal could be trusted) is still used.
    ++counters_.state_errors["load:connections"];
    Log(LogLevel::kWarn, "connection journal partly unusable",
        {{"path", JournalPathFor(state_path_)}, {"err", journal_error}});
  }
  if (!state) {
    if (!error.empty()) {
      // Never serve ages from a file we cannot trust: start from this sample instead.
      ++counters_.state_errors["load:connections"];
      Log(LogLevel::kError, "connection state unusable, ages start over",
          {{"path", state_path_}, {"err", error}});
    }
    return;
  }
  if (!tracker_->Restore(state->boot_id, std::move(state->entries))) {
    Log(LogLevel::kInfo, "connection state is from another boot, discarded",
        {{"path", state_path_}});
    return;
  }
  Log(LogLevel::kInfo, "connection ages restored", {{"path", state_path_}});
}

void Sampler::TrackAges(Snapshot& snapshot) {
  if (!tracker_) RestoreAges();
  snapshot.ages = tracker_->Update(snapshot, BootClockSeconds(), ConntrackStartsOf(snapshot));
  if (state_path_.empty()) return;
  std::string error;
  // TrackerState holds its table by value; the sampler's is moved in and back out rather
  // than copied (200k entries at 100k connections).
  TrackerState state{tracker_->boot_id(), tracker_->TakeEntries()};
  bool saved = state_store_->Save(state, tracker_->added(), tracker_->removed(), error);
  tracker_->PutEntries(std::move(state.entries));
  if (!saved) {
    ++counters_.state_errors["save:connections"];
    Log(LogLevel::kWarn, "cannot save connection state; ages live on in memory",
        {{"path", state_path_}, {"err", error}});
  }
}

Sampler::~Sampler() { Stop(); }

void Sampler::SampleOnce() {
  // The sampling path is written not to throw; this guard keeps a bug (or bad_alloc) in it
  // from ending the process: the previous exposition keeps being served.
  try {
    auto start = std::chrono::steady_clock::now();
    // One effective policy for the whole sample: a reload in the middle takes effect on
    // the next one. It also owns the zone names the snapshot points to.
    std::shared_ptr<const EffectivePolicy> effective = runtime_ ? runtime_->Current() : nullptr;
    SnapshotOptions snapshot_options = options_.snapshot;
    snapshot_options.conntrack = true;  // for the ages
    snapshot_options.udp_servers = &udp_servers_;
    snapshot_options.events = events_.get();
    // The bytes of live connections (tcp_info) come with the own namespace's dump.
    if (snapshot_options.tcp_bytes) snapshot_options.sock_diag_dump = DumpSockDiagWithBytes;
    if (effective) {
      snapshot_options.udp_service_ports = effective->udp_service_ports;
      snapshot_options.udp_server_after = effective->policy.limits.udp_server_after;
    }
    Snapshot snapshot = TakeSnapshot(
        snapshot_options, effective ? effective->zones : builtin_zones_, &snapshot_cache_);
    counters_.AddSnapshot(snapshot);
    TrackAges(snapshot);
    const ZoneClassifier& zones = effective ? effective->zones : builtin_zones_;
    if (options_.events) {
      CountConnections(snapshot, effective.get(), zones);
      Detect(snapshot, effective.get(), zones);
    }
    std::optional<Evaluation> evaluation;
    PolicyView policy_view;
    if (effective) {
      runtime_->Observe(snapshot, start);
      PolicyRuntime::BaselineErrors baseline = runtime_->baseline_errors();
      counters_.state_errors["load:baseline"] = baseline.load;
      counters_.state_errors["save:baseline"] = baseline.save;
      evaluation = Evaluate(effective->policy, snapshot);
      if (options_.events) HoldFindings(snapshot, *effective, *evaluation);
      ReloadStatus reload = runtime_->reload_status();
      policy_view = {&*evaluation,
                     effective->learning,
                     effective->baseline_rules,
                     reload.last_successful,
                     reload.last_success_timestamp_seconds,
                     static_cast<double>(effective->policy.limits.long_connection.count()),
                     options_.events ? &finding_events_ : nullptr,
                     options_.events ? &detections_ : nullptr};
    }
    EventsView events_view{&ledger_, effective ? &finding_events_ : nullptr,
                           events_ ? events_->source() : EventSource::kOff,
                           events_ ? events_->lost() : 0};
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto families =
        BuildFamilies(snapshot, seconds, options_.metrics, counters_,
                      effective ? &policy_view : nullptr, options_.events ? &events_view : nullptr);
    auto exposition = std::make_shared<const Exposition>(SerializeFamilies(families));
    {
      std::lock_guard<std::mutex> lock(latest_mutex_);
      latest_ = std::move(exposition);
    }
    Log(LogLevel::kDebug, "sample taken",
        {{"sockets", std::to_string(snapshot.sockets.size())},
         {"processes", std::to_string(snapshot.processes.size())},
         {"duration_seconds", std::to_string(seconds)}});
    snapshot_cache_.Reclaim(std::move(snapshot));
  } catch (const std::exception& error) {
    Log(LogLevel::kError, "sample failed", {{"err", error.what()}});
  }
}

void Sampler::Start() {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Sampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The sampling thread is gone: the starts since the last save are kept for the restart.
  SaveBeacons(UnixSeconds(), true);
}

std::shared_ptr<const Exposition> Sampler::Latest() const {
  std::lock_guard<std::mutex> lock(latest_mutex_);
  return latest_;
}

void Sampler::Run() {
  // Fixed-rate schedule: a slow sample shortens the next wait instead of drifting, and a
  // sample longer than the interval is followed at once by the next.
  auto next = std::chrono::steady_clock::now() + options_.interval;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(stop_mutex_);
      if (stop_cv_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    SampleOnce();
    next += options_.interval;
    auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;
  }
}

}  // namespace connwatch
