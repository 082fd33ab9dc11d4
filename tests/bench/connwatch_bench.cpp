// Benchmark driver (not a test): times connwatch's samples on whatever the host holds and
// prints one JSON line. tests/bench/run_bench.py runs it beside `ss` on sockfarm loads.
//
//   --mode=cold    every sample starts from nothing (no owner cache), as after a restart:
//                  the core path (socket dump, owner walk, process reads, classification,
//                  metric families, serialization: all a scrape's data costs) and the full
//                  path `serve` runs (plus connection ages with the persisted state file and
//                  the embedded default policy), a new Sampler per sample.
//   --mode=steady  the same two paths, but one owner cache (one Sampler) reused across
//                  samples after --warmup samples. Unless --verify=0, every timed core sample
//                  is followed (untimed) by a cold snapshot, and the owners the steady sample
//                  gave each socket are compared with the cold ones; any difference is printed
//                  and the exit status is 3.
//   --mode=churn   --samples steady core samples back to back (a churn generator moves the
//                  socket table meanwhile), verified every --verify-every samples, with VmRSS
//                  read after the samples listed in --rss-at.
//   --tcp-bytes=1  every TCP socket's tcp_info in the dumps, as serve asks for them (the
//                  bytes of live connections), and on the full path the connection ledger
//                  that counts them; 0, the default, neither (as before connection events).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/read_file.h"
#include "cli/common_flags.h"
#include "cli/flags.h"
#include "metrics/exposition.h"
#include "metrics/families.h"
#include "sampler/policy_runtime.h"
#include "sampler/sampler.h"
#include "sources/snapshot.h"
#include "sources/sock_diag.h"

// Built against a tree without the owner cache (before issue 7), steady == cold: that is what
// such a tree does on every sample, and lets the same driver measure both.
#if __has_include("sources/snapshot_cache.h")
#include "sources/snapshot_cache.h"
#define CONNWATCH_BENCH_HAS_CACHE 1
#else
#define CONNWATCH_BENCH_HAS_CACHE 0
#endif

namespace connwatch {
namespace {

#if CONNWATCH_BENCH_HAS_CACHE
using Cache = SnapshotCache;
Snapshot Take(const SnapshotOptions& options, const ZoneClassifier& zones, Cache* cache) {
  return TakeSnapshot(options, zones, cache);
}
// What the Sampler does when a sample is done: the cache takes its owner table back.
void GiveBack(Cache* cache, Snapshot&& snapshot) {
  if (cache != nullptr) cache->Reclaim(std::move(snapshot));
}
#else
struct Cache {};
Snapshot Take(const SnapshotOptions& options, const ZoneClassifier& zones, Cache*) {
  return TakeSnapshot(options, zones);
}
void GiveBack(Cache*, Snapshot&&) {}
#endif

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats Summarize(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  return {values[values.size() / 2], values.front(), values.back()};
}

// A field of /proc/self/status in KiB (VmHWM, VmRSS). VmHWM and not getrusage's ru_maxrss:
// the latter also counts the pages of the process that forked us before exec (the Python
// driver), which hides connwatch's own footprint.
long StatusKib(const char* field) {
  std::string status;
  ReadFileCapped("/proc/self/status", kMaxSmallProcFileBytes, status);
  size_t at = status.find(std::string(field) + ":");
  return at == std::string::npos
             ? 0
             : std::strtol(status.c_str() + at + strlen(field) + 1, nullptr, 10);
}

// One core sample: everything a scrape's data costs, without ages or policy.
struct CoreSample {
  Snapshot snapshot;
  double seconds = 0;
  size_t exposition_bytes = 0;
};

CoreSample TakeCoreSample(const SnapshotOptions& options, const ZoneClassifier& zones,
                          CumulativeCounters& counters, Cache* cache) {
  CoreSample sample;
  auto start = std::chrono::steady_clock::now();
  sample.snapshot = Take(options, zones, cache);
  counters.AddSnapshot(sample.snapshot);
  auto families = BuildFamilies(sample.snapshot, 0, {}, counters);
  sample.exposition_bytes = SerializeFamilies(families).size();
  sample.seconds = SecondsSince(start);
  return sample;
}

// Who a snapshot says holds each socket: the pids and their names (a stale cached process,
// e.g. after pid reuse, shows up as a wrong name).
struct Owners {
  uint64_t cookie = 0;  // a reused inode is another socket: compared apart from the owners
  std::vector<pid_t> pids;
  std::vector<std::string> names;
  bool SameOwners(const Owners& other) const { return pids == other.pids && names == other.names; }
  bool SameSocket(const Owners& other) const {
    return cookie == 0 || other.cookie == 0 || cookie == other.cookie;
  }
};
using OwnersByInode = std::unordered_map<uint64_t, Owners>;

OwnersByInode IndexOwners(const Snapshot& snapshot) {
  OwnersByInode index;
  for (const Socket& socket : snapshot.sockets) {
    if (socket.inode == 0) continue;
    auto pids = snapshot.OwnersOf(socket);
    Owners owners{socket.cookie, {pids.begin(), pids.end()}, snapshot.OwnerNames(socket)};
    std::sort(owners.pids.begin(), owners.pids.end());
    index[socket.inode] = std::move(owners);
  }
  return index;
}

std::string Describe(const Owners& owners) {
  std::string text = "[";
  for (pid_t pid : owners.pids) text += (text.size() > 1 ? "," : "") + std::to_string(pid);
  text += "] (";
  for (size_t i = 0; i < owners.names.size(); ++i) text += (i ? "," : "") + owners.names[i];
  return text + ")";
}

// Steady owners against cold ones. A socket is checked when the cold snapshots taken right
// before and right after the steady one both have it with the same owners: then nothing moved
// meanwhile, and the steady sample must agree. Sockets that came or went, or whose owners
// changed (an fd closed between a dump and its fd scan, a process exited, an fd passed on) in
// that window are counted apart, not judged.
struct Verification {
  uint64_t checked = 0, mismatches = 0, unstable = 0, not_in_cold = 0;
  std::vector<std::string> examples;

  void Compare(const OwnersByInode& steady, const OwnersByInode& before,
               const OwnersByInode& after) {
    for (const auto& [inode, owners] : steady) {
      auto cold = after.find(inode);
      auto earlier = before.find(inode);
      if (cold == after.end() || earlier == before.end() || !owners.SameSocket(cold->second) ||
          !owners.SameSocket(earlier->second)) {
        ++not_in_cold;
        continue;
      }
      if (!earlier->second.SameOwners(cold->second)) {
        ++unstable;
        continue;
      }
      ++checked;
      if (cold->second.SameOwners(owners)) continue;
      ++mismatches;
      if (examples.size() < 10) {
        examples.push_back("inode " + std::to_string(inode) + ": steady " + Describe(owners) +
                           ", cold " + Describe(cold->second));
      }
    }
  }
};

struct Flags {
  std::string mode = "cold";
  int samples = 5, warmup = 3, verify_every = 1;
  bool verify = true;
  bool full = true;  // also time the full Sampler path (cold, steady)
  std::vector<int> rss_at;
  SnapshotOptions options;
};

std::string Json(const std::string& key, double value) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.6f", value);
  return "\"" + key + "\": " + buf;
}
std::string Json(const std::string& key, uint64_t value) {
  return "\"" + key + "\": " + std::to_string(value);
}
std::string Json(const std::string& key, const Stats& stats) {
  return Json(key + "_median_seconds", stats.median) + ", " +
         Json(key + "_min_seconds", stats.min) + ", " + Json(key + "_max_seconds", stats.max);
}

// The full sampling path as `serve` runs it, with a temporary --storage.path. Cold: a new
// Sampler (new cache, state file restored as after a restart) per sample; steady: one.
Stats TimeSamplerPath(const SnapshotOptions& options, int samples, int warmup, bool cold) {
  char storage[] = "/tmp/connwatch-bench-XXXXXX";
  if (mkdtemp(storage) == nullptr) return {};
  PolicyRuntime runtime;
  std::vector<std::string> policy_errors;
  runtime.Init({"", storage, false}, policy_errors);
  SamplerOptions sampler_options;
  sampler_options.snapshot = options;
  sampler_options.storage_path = storage;
  // With bytes, the whole of what serve does with them: the connection ledger that counts
  // them per connection (--collect.events=off: no event thread to time beside it).
  if (options.tcp_bytes) sampler_options.events = EventsMode::kOff;
  auto sampler = std::make_unique<Sampler>(sampler_options, &runtime);
  for (int i = 0; i < (cold ? 0 : warmup); ++i) sampler->SampleOnce();
  std::vector<double> seconds;
  for (int i = 0; i < samples; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (cold) sampler = std::make_unique<Sampler>(sampler_options, &runtime);
    sampler->SampleOnce();
    seconds.push_back(SecondsSince(start));
  }
  sampler.reset();
  std::filesystem::remove_all(storage);
  return Summarize(seconds);
}

int Run(const Flags& flags) {
  ZoneClassifier zones;
  CumulativeCounters counters;
  const bool cold = flags.mode == "cold";
  const bool churn = flags.mode == "churn";
  Cache cache;
  Verification verification;
  std::vector<double> seconds;
  std::vector<std::pair<int, long>> rss;
  CoreSample last;
  uint64_t processes_scanned = 0, processes_walked = 0, looked_up = 0, gone = 0;
  // Verified samples are bracketed by cold snapshots taken right before and right after
  // them (untimed); with --verify-every=1 one cold snapshot serves as both.
  OwnersByInode cold_before;
  int before_taken_after = -1;  // the sample cold_before directly follows
  for (int i = 0; i < (cold ? 0 : flags.warmup); ++i) {
    GiveBack(&cache, std::move(last.snapshot));
    last = TakeCoreSample(flags.options, zones, counters, &cache);
  }
  for (int i = 1; i <= flags.samples; ++i) {
    const bool verify_this = !cold && flags.verify && i % flags.verify_every == 0;
    if (verify_this && before_taken_after != i - 1) {
      cold_before = IndexOwners(Take(flags.options, zones, nullptr));
    }
    GiveBack(cold ? nullptr : &cache, std::move(last.snapshot));
    last = TakeCoreSample(flags.options, zones, counters, cold ? nullptr : &cache);
    seconds.push_back(last.seconds);
    processes_scanned += last.snapshot.owner_stats.processes_scanned;
    processes_walked += last.snapshot.owner_stats.processes_walked;
    looked_up += last.snapshot.owner_stats.sockets_looked_up;
    gone += last.snapshot.owner_stats.sockets_gone;
    if (verify_this) {
      OwnersByInode cold_after = IndexOwners(Take(flags.options, zones, nullptr));
      verification.Compare(IndexOwners(last.snapshot), cold_before, cold_after);
      cold_before = std::move(cold_after);
      before_taken_after = i;
    }
    if (std::find(flags.rss_at.begin(), flags.rss_at.end(), i) != flags.rss_at.end()) {
      rss.emplace_back(i, StatusKib("VmRSS"));
    }
  }
  Stats core = Summarize(seconds);
  std::string out = "{\"mode\": \"" + flags.mode + "\", " +
                    Json("owner_cache", uint64_t{CONNWATCH_BENCH_HAS_CACHE}) + ", " +
                    Json("samples", uint64_t(flags.samples)) + ", " + Json("core", core) + ", " +
                    Json("first_seconds", seconds.front()) + ", ";
  if (!churn && flags.full) {
    out += Json("full", TimeSamplerPath(flags.options, flags.samples, flags.warmup, cold)) + ", ";
  }
  size_t owned = 0;
  for (const Socket& socket : last.snapshot.sockets)
    owned += !last.snapshot.OwnersOf(socket).empty();
  out += Json("sockets", uint64_t(last.snapshot.sockets.size())) + ", " +
         Json("owned_sockets", uint64_t(owned)) + ", " +
         Json("processes", uint64_t(last.snapshot.processes.size())) + ", " +
         Json("processes_scanned_per_sample", processes_scanned / flags.samples) + ", " +
         Json("processes_walked", processes_walked) + ", " + Json("sockets_looked_up", looked_up) +
         ", " + Json("sockets_gone", gone) + ", " +
         Json("exposition_bytes", uint64_t(last.exposition_bytes)) + ", ";
  if (!cold && flags.verify) {
    out += Json("verified_sockets", verification.checked) + ", " +
           Json("owner_mismatches", verification.mismatches) + ", " +
           Json("owner_unstable", verification.unstable) + ", " +
           Json("not_in_cold", verification.not_in_cold) + ", ";
  }
  out += "\"rss_kib_at\": {";
  for (size_t i = 0; i < rss.size(); ++i) {
    out +=
        (i ? ", \"" : "\"") + std::to_string(rss[i].first) + "\": " + std::to_string(rss[i].second);
  }
  out += "}, " + Json("max_rss_kib", uint64_t(StatusKib("VmHWM"))) + "}";
  printf("%s\n", out.c_str());
  for (const std::string& example : verification.examples) {
    fprintf(stderr, "connwatch_bench: OWNER MISMATCH %s\n", example.c_str());
  }
  if (verification.mismatches > 0) {
    fprintf(stderr,
            "connwatch_bench: %llu of %llu sockets attributed differently than a cold "
            "sample attributes them\n",
            static_cast<unsigned long long>(verification.mismatches),
            static_cast<unsigned long long>(verification.checked));
    return 3;
  }
  return 0;
}

// Samples are counted in seven digits at most, as they always were.
constexpr uint64_t kMaxSamples = 9'999'999;

// --rss-at: comma-separated sample numbers, each from 1 to kMaxSamples ("" for none).
bool ParseSampleList(std::string_view text, std::vector<int>* out) {
  for (size_t at = 0; at < text.size();) {
    size_t comma = std::min(text.find(',', at), text.size());
    std::string_view item = text.substr(at, comma - at);
    if (item.empty() || item.size() > 7 || item.find_first_not_of("0123456789") != item.npos ||
        std::stoi(std::string(item)) < 1) {
      return false;
    }
    if (out != nullptr) out->push_back(std::stoi(std::string(item)));
    at = comma + 1;
  }
  return true;
}

Command BenchCommand(Flags& flags, std::string& rss_at, bool& lookup, bool& tcp_bytes) {
  const std::vector<std::pair<std::string, bool>> zero_or_one = {{"0", false}, {"1", true}};
  return {
      "connwatch_bench",
      "connwatch_bench [flags]",
      "Times connwatch's samples on whatever the host holds and prints one JSON line.",
      {
          ChoiceFlag("mode", "What to time.", &flags.mode, {"cold", "steady", "churn"}),
          IntegerFlag("samples", "Number of samples to time.", &flags.samples, 1, kMaxSamples),
          IntegerFlag("warmup", "Untimed samples that fill the cache first (steady, churn).",
                      &flags.warmup, 0, kMaxSamples),
          TypedChoiceFlag("verify", "1: compare steady owners with a cold sample's; 0: do not.",
                          &flags.verify, zero_or_one),
          IntegerFlag("verify-every", "Verify every Nth sample.", &flags.verify_every, 1,
                      kMaxSamples),
          TypedChoiceFlag("full",
                          "1: also time the full Sampler path (cold, steady); 0: core path only.",
                          &flags.full, zero_or_one),
          CheckedStringFlag("rss-at", "Comma-separated sample numbers after which to read VmRSS.",
                            &rss_at, "be sample numbers from 1 to 9999999, separated by commas",
                            [](std::string_view text) { return ParseSampleList(text, nullptr); }),
          SourceModeFlag(&flags.options.source_mode, "Socket source."),
          ProcfsFlag(&flags.options.procfs),
          TypedChoiceFlag(
              "lookup", "1: steady samples ask sock_diag about unclaimed sockets; 0: they do not.",
              &lookup, zero_or_one),
          TypedChoiceFlag("tcp-bytes",
                          "1: every TCP socket's tcp_info in the dumps (the bytes serve counts); "
                          "0: without.",
                          &tcp_bytes, zero_or_one),
      },
      {},
  };
}

}  // namespace
}  // namespace connwatch

int main(int argc, char** argv) {
  connwatch::Flags flags;
  std::string rss_at;
  bool lookup = true;
  bool tcp_bytes = false;
  if (auto exit_code = connwatch::ParseCommandLine(
          connwatch::BenchCommand(flags, rss_at, lookup, tcp_bytes), {argv + 1, argv + argc})) {
    return *exit_code;
  }
  if (tcp_bytes) {  // as serve asks: the own namespace's dump and every other one's
    flags.options.tcp_bytes = true;
    flags.options.sock_diag_dump = connwatch::DumpSockDiagWithBytes;
  }
  connwatch::ParseSampleList(rss_at, &flags.rss_at);
  if (!lookup) flags.options.sock_diag_lookup = nullptr;
  return connwatch::Run(flags);
}
