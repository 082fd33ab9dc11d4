// detections_bench: what judging the beacons costs a sample, and what a tracked pair costs
// in memory (issue 16's goal: 10,000 tracked pairs judged in at most 5 ms a sample, at most
// 2 KiB a pair).
//
// It fills a Detections whose beacon tracker holds -p pairs (default 10,000), each with -n
// starts (default 128, a full ring) 10 s apart ending now, half of them jittered beacons and
// half random, under a policy with a few paths rules (one of them `beacon: allowed`), then
// times Detections::Judge -r times (default 20) in each of three cases:
//   unchanged   no new start since the last sample (every score cached)
//   10% new     one pair in ten got a connection since the last sample
//   all new     every pair got one (the worst case: kBeaconRescoresPerSample rescored, the
//               rest left for later samples)
// and prints the median and maximum milliseconds of each, and the heap bytes per pair
// (mallinfo2 before and after filling, divided by -p). Pure CPU and memory: no socket, no
// file, bounded by -p, -n and -r. Not a test: numbers depend on the machine.
//
// Usage: detections_bench [-p PAIRS] [-n STARTS] [-r ROUNDS]
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "metrics/detections.h"
#include "policy/policy_loader.h"

namespace {

using namespace connwatch;

constexpr const char* kPolicy = R"(paths:
  - {remote_zone: loopback}
  - {direction: outbound, remote_zone: external, port: 123, beacon: allowed}
  - {direction: outbound, remote_zone: internal, port: 5432, process: "postgres*"}
  - {direction: outbound, remote_zone: external, port: 443, process: "apt*"}
)";

struct Options {
  size_t pairs = 10000, starts = 128, rounds = 20;
};

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    size_t value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "-p") options.pairs = std::clamp<size_t>(value, 1, 1000000);
    if (flag == "-n") options.starts = std::clamp<size_t>(value, 1, kBeaconStartsPerPair);
    if (flag == "-r") options.rounds = std::clamp<size_t>(value, 1, 1000);
  }
  return options;
}

size_t HeapBytes() { return mallinfo2().uordblks; }

// The pair of number i: its own process name (as long as a real one) and peer.
struct Endpoint {
  FlowLabels labels;
  IpAddress remote;
  uint16_t port;
};

Endpoint EndpointOf(size_t i) {
  Endpoint endpoint;
  endpoint.labels.process = "worker-" + std::to_string(i % 500);
  endpoint.labels.direction = "outbound";
  endpoint.labels.remote_zone = i % 3 == 0 ? "internal" : "external";
  endpoint.remote =
      *ParseIpAddress("198.18." + std::to_string((i / 250) % 256) + "." + std::to_string(i % 250));
  endpoint.port = static_cast<uint16_t>(443 + i % 7);
  return endpoint;
}

void Observe(Detections& detections, const Endpoint& endpoint, double when) {
  CountedConnection counted{endpoint.labels, endpoint.remote, endpoint.port, true, when, 0};
  detections.ObserveCounted(counted, nullptr, 0);
}

struct Timing {
  double median_ms, max_ms;
};

template <typename BeforeEach>
Timing TimeJudge(Detections& detections, const Policy& policy, double& now, size_t rounds,
                 BeforeEach before_each) {
  std::vector<double> ms;
  for (size_t round = 0; round < rounds; ++round) {
    now += 10;  // one sample interval
    before_each(now);
    auto start = std::chrono::steady_clock::now();
    detections.Judge(policy, now);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.back()};
}

}  // namespace

int main(int argc, char** argv) {
  Options options = ParseOptions(argc, argv);
  PolicyLoadResult loaded = ParsePolicy(kPolicy, "bench policy");
  if (!loaded.policy) {
    std::fprintf(stderr, "bench policy: %s\n", loaded.errors.front().message.c_str());
    return 1;
  }
  Policy policy = *loaded.policy;
  // A window that holds every start: nothing expires, every pair is scored.
  policy.limits.beacon.window =
      std::chrono::seconds(static_cast<long>(10 * (options.starts + options.rounds * 3 + 10)));
  policy.limits.beacon.min_connections = 24;

  std::vector<Endpoint> endpoints;
  for (size_t i = 0; i < options.pairs; ++i) endpoints.push_back(EndpointOf(i));

  size_t heap_before = HeapBytes();
  Detections detections;
  detections.RestoreBeacons(BeaconTracker(options.pairs));
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> jitter(-3, 3);
  std::exponential_distribution<double> poisson(0.1);
  double now = 1.8e9;
  for (size_t i = 0; i < options.pairs; ++i) {
    double when = now - 10.0 * static_cast<double>(options.starts);
    for (size_t k = 0; k < options.starts; ++k) {
      when += i % 2 == 0 ? 10 + jitter(rng) : poisson(rng);
      Observe(detections, endpoints[i], std::min(when, now));
    }
  }
  // The first scoring of everything, kBeaconRescoresPerSample pairs a sample.
  size_t catch_up = 0;
  do {
    detections.Judge(policy, now);
    ++catch_up;
  } while (detections.beacon_tracker().backlog() > 0);
  size_t heap_after = HeapBytes();

  Timing unchanged = TimeJudge(detections, policy, now, options.rounds, [](double) {});
  size_t next = 0;
  Timing tenth = TimeJudge(detections, policy, now, options.rounds, [&](double when) {
    for (size_t k = 0; k < options.pairs / 10; ++k, next = (next + 1) % options.pairs)
      Observe(detections, endpoints[next], when);
  });
  Timing all = TimeJudge(detections, policy, now, options.rounds, [&](double when) {
    for (const Endpoint& endpoint : endpoints) Observe(detections, endpoint, when);
  });

  size_t findings = 0;
  for (const JudgedBeacon& judged : detections.beacons()) findings += judged.finding ? 1 : 0;
  std::printf("pairs %zu (tracked %zu), starts per pair %zu, scored %zu, findings %zu\n",
              options.pairs, detections.beacon_tracker().pairs(), options.starts,
              detections.beacons().size(), findings);
  std::printf(
      "first scoring of every pair: %zu samples; pending after the last \"all new\" sample: %zu\n",
      catch_up, detections.beacon_tracker().backlog());
  std::printf("heap per pair: %.0f bytes\n",
              static_cast<double>(heap_after - heap_before) / static_cast<double>(options.pairs));
  std::printf("Judge unchanged: median %.2f ms, max %.2f ms\n", unchanged.median_ms,
              unchanged.max_ms);
  std::printf("Judge 10%% new:   median %.2f ms, max %.2f ms\n", tenth.median_ms, tenth.max_ms);
  std::printf("Judge all new:   median %.2f ms, max %.2f ms\n", all.median_ms, all.max_ms);
  return 0;
}
