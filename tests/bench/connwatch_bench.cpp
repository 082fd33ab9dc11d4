// Benchmark driver: times full samples (socket dump, owner walk, process reads,
// classification, metric families and serialization: all a scrape's data costs) and
// reports peak RSS. tests/bench/run_bench.py runs it beside `ss` on a sockfarm load.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "metrics/collector.h"
#include "sampler/policy_runtime.h"
#include "sampler/sampler.h"
#include "sources/proc_file.h"
#include "sources/snapshot.h"

int main(int argc, char** argv) {
  using connwatch::FlagSpec;
  std::string samples_text = "5", source = "auto", procfs = "/proc";
  std::vector<FlagSpec> specs = {
      {"samples", "Number of samples to time.", &samples_text, nullptr},
      {"collector.source", "auto, netlink or procfs.", &source, nullptr},
      {"path.procfs", "procfs mountpoint.", &procfs, nullptr},
  };
  std::vector<std::string> positional;
  std::string error;
  connwatch::SnapshotOptions options;
  if (!connwatch::ParseFlags({argv + 1, argv + argc}, specs, positional, error) ||
      !connwatch::ParseSourceMode(source, options.source_mode)) {
    fprintf(stderr, "connwatch_bench: %s\n%s", error.c_str(), connwatch::FlagUsage(specs).c_str());
    return 2;
  }
  options.procfs = procfs;
  int samples = std::max(1, std::stoi(samples_text));
  connwatch::ZoneClassifier zones;
  connwatch::CumulativeCounters counters;
  std::vector<double> seconds;
  size_t sockets = 0, owned = 0, exposition_bytes = 0;
  for (int i = 0; i < samples; ++i) {
    auto start = std::chrono::steady_clock::now();
    connwatch::Snapshot snapshot = connwatch::TakeSnapshot(options, zones);
    counters.AddSnapshot(snapshot);
    auto families = connwatch::BuildFamilies(snapshot, 0, {}, counters);
    std::string text = connwatch::SerializeFamilies(families);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    sockets = snapshot.sockets.size();
    owned = 0;
    for (const auto& socket : snapshot.sockets) owned += !snapshot.OwnersOf(socket).empty();
    exposition_bytes = text.size();
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());

  // The full sampling path as `serve` runs it: the same, plus connection ages (conntrack,
  // the persisted first-seen table written to a temporary --storage.path) and the
  // evaluation of the embedded default policy.
  char storage[] = "/tmp/connwatch-bench-XXXXXX";
  if (mkdtemp(storage) == nullptr) return 1;
  connwatch::PolicyRuntime runtime;
  std::vector<std::string> policy_errors;
  runtime.Init({"", storage, false}, policy_errors);
  connwatch::SamplerOptions sampler_options;
  sampler_options.snapshot = options;
  sampler_options.storage_path = storage;
  connwatch::Sampler sampler(sampler_options, &runtime);
  std::vector<double> full;
  for (int i = 0; i < samples; ++i) {
    auto start = std::chrono::steady_clock::now();
    sampler.SampleOnce();
    full.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(full.begin(), full.end());
  std::filesystem::remove_all(storage);
  // VmHWM, not getrusage's ru_maxrss: the latter also counts the pages of the process that
  // forked us before exec (the Python driver), which hides connwatch's own footprint.
  long peak_kib = 0;
  std::string status;
  connwatch::ReadProcFile("/proc/self/status", connwatch::kMaxSmallProcFileBytes, status);
  if (size_t at = status.find("VmHWM:"); at != std::string::npos) {
    peak_kib = std::strtol(status.c_str() + at + 6, nullptr, 10);
  }
  printf(
      "{\"samples\": %d, \"median_seconds\": %.6f, \"full_median_seconds\": %.6f, \"min_seconds\": "
      "%.6f, \"max_seconds\": "
      "%.6f, \"first_seconds\": %.6f, \"max_rss_kib\": %ld, \"sockets\": %zu, "
      "\"owned_sockets\": %zu, \"exposition_bytes\": %zu}\n",
      samples, sorted[sorted.size() / 2], full[full.size() / 2], sorted.front(), sorted.back(),
      seconds.front(), peak_kib, sockets, owned, exposition_bytes);
  return 0;
}
