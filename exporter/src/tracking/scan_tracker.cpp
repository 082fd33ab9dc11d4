#include "tracking/scan_tracker.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace connwatch {
namespace {

// One key per (address, port): IPv4 packed as is (family bit, 32 address bits, the port),
// so IPv4 targets never collide; IPv6 mixed down to 64 bits (a collision is 2^-64).
uint64_t TargetKey(const IpAddress& address, uint16_t port) {
  IpAddress unmapped = UnmapV4(address);
  if (unmapped.family == Family::kIpv4) {
    uint32_t v4;
    std::memcpy(&v4, unmapped.bytes.data(), sizeof(v4));
    return (uint64_t{v4} << 16) | port;
  }
  uint64_t halves[2];
  std::memcpy(halves, unmapped.bytes.data(), sizeof(halves));
  return (uint64_t{1} << 63) ^ Mix64(halves[0] ^ Mix64(halves[1] ^ port));
}

uint64_t Rounded(double estimate) { return static_cast<uint64_t>(std::llround(estimate)); }

}  // namespace

OutboundScans::OutboundScans(double window_seconds, size_t max_actors)
    : actors_(max_actors, Failures{DistinctInWindow(window_seconds), 0}) {}

void OutboundScans::ObserveFailed(const ScanActor& actor, const IpAddress& remote,
                                  uint16_t remote_port, double now) {
  now_ = std::max(now_, now);
  Failures& failures =
      actors_.Touch(actor, [this](const Failures& held) { return held.targets.Empty(now_); });
  failures.targets.Add(TargetKey(remote, remote_port), now);
  failures.last_seen = std::max(failures.last_seen, now);
}

std::vector<ActorTargets> OutboundScans::Targets(double now) const {
  std::vector<ActorTargets> targets;
  actors_.ForEach([&](const ScanActor& actor, const Failures& failures) {
    if (failures.targets.Empty(now)) return;
    targets.push_back({actor, Rounded(failures.targets.Estimate(now)), failures.last_seen});
  });
  return targets;
}

void OutboundScans::Expire(double now) {
  actors_.Drop([now](const Failures& held) { return held.targets.Empty(now); });
}

InboundProbes::InboundProbes(double window_seconds, size_t max_peers)
    : peers_(max_peers, Probes{"", DistinctInWindow(window_seconds), 0}) {}

void InboundProbes::Observe(const IpAddress& peer, const std::string& remote_zone,
                            uint16_t local_port, double now) {
  now_ = std::max(now_, now);
  auto count = counts_.find(remote_zone);
  if (count == counts_.end()) count = counts_.emplace(remote_zone, 0).first;
  ++count->second;
  Probes& probes =
      peers_.Touch(UnmapV4(peer), [this](const Probes& held) { return held.ports.Empty(now_); });
  if (probes.remote_zone != remote_zone) probes.remote_zone = remote_zone;
  probes.ports.Add(local_port, now);
  probes.last_seen = std::max(probes.last_seen, now);
}

std::vector<PeerProbes> InboundProbes::Peers(double now) const {
  std::vector<PeerProbes> peers;
  peers_.ForEach([&](const IpAddress& peer, const Probes& probes) {
    if (probes.ports.Empty(now)) return;
    peers.push_back({peer, probes.remote_zone, Rounded(probes.ports.Estimate(now)),
                     probes.ports.Additions(now), probes.last_seen});
  });
  return peers;
}

void InboundProbes::Expire(double now) {
  peers_.Drop([now](const Probes& held) { return held.ports.Empty(now); });
}

}  // namespace connwatch
