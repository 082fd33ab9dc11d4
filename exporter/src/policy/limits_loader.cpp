#include "policy/limits_loader.h"

#include <string_view>

#include "policy/policy_values.h"

namespace connwatch {
namespace {

// Beyond this, the hold would take days at the default interval: a typo, not a choice.
constexpr uint32_t kMaxSampleCount = 100000;
// The beacon tracker keeps at most this many start times per pair (tracking/beacon_tracker.h):
// a gate above it could never be reached.
constexpr uint32_t kMaxBeaconMinConnections = 128;
// The scorer needs at least three intervals.
constexpr uint32_t kMinBeaconMinConnections = 4;
// The start times of a day at most (the tracker's window, and what RITA scores over).
constexpr std::chrono::seconds kMaxBeaconWindow{86400};
// A scan threshold of 1 would make every failed connect a scan.
constexpr uint32_t kMinScanThreshold = 2;
constexpr uint32_t kMaxScanThreshold = 65535;

void ReadBeacon(YamlReader& reader, const YamlNode& node, BeaconLimits& beacon) {
  YamlFields fields;
  if (!reader.ReadFields(node, "limits.beacon", {"window", "min_connections", "min_score"},
                         fields)) {
    return;
  }
  if (const YamlNode* value = YamlReader::Value(fields, "window")) {
    if (auto window = ReadPolicyDuration(reader, *value, "limits.beacon.window", false)) {
      if (*window > kMaxBeaconWindow) {
        ErrorAt(reader.errors(), *value, "limits.beacon.window", "must be at most 1d");
      } else {
        beacon.window = *window;
      }
    }
  }
  if (const YamlNode* value = YamlReader::Value(fields, "min_connections")) {
    if (auto count = ReadPolicyCount(reader, *value, "limits.beacon.min_connections",
                                     kMinBeaconMinConnections, kMaxBeaconMinConnections,
                                     "a number of connections")) {
      beacon.min_connections = *count;
    }
  }
  if (const YamlNode* value = YamlReader::Value(fields, "min_score")) {
    if (auto score = ReadPolicyScore(reader, *value, "limits.beacon.min_score")) {
      beacon.min_score = *score;
    }
  }
}

void ReadScan(YamlReader& reader, const YamlNode& node, ScanLimits& scan) {
  YamlFields fields;
  if (!reader.ReadFields(node, "limits.scan", {"targets", "ports"}, fields)) return;
  if (const YamlNode* value = YamlReader::Value(fields, "targets")) {
    if (auto count = ReadPolicyCount(reader, *value, "limits.scan.targets", kMinScanThreshold,
                                     kMaxScanThreshold, "a number of targets")) {
      scan.targets = *count;
    }
  }
  if (const YamlNode* value = YamlReader::Value(fields, "ports")) {
    if (auto count = ReadPolicyCount(reader, *value, "limits.scan.ports", kMinScanThreshold,
                                     kMaxScanThreshold, "a number of ports")) {
      scan.ports = *count;
    }
  }
}

}  // namespace

void ReadLimits(YamlReader& reader, const YamlNode& node, Limits& limits) {
  YamlFields fields;
  constexpr std::string_view keys[] = {"long_connection", "udp_server_after", "finding_hold",
                                       "beacon", "scan"};
  if (!reader.ReadFields(node, "limits", keys, fields)) return;
  if (const YamlNode* age = YamlReader::Value(fields, "long_connection")) {
    if (auto duration = ReadPolicyDuration(reader, *age, "limits.long_connection", false)) {
      limits.long_connection = *duration;
    }
  }
  if (const YamlNode* hold = YamlReader::Value(fields, "finding_hold")) {
    if (auto duration = ReadPolicyDuration(reader, *hold, "limits.finding_hold", true)) {
      limits.finding_hold = *duration;
    }
  }
  if (const YamlNode* value = YamlReader::Value(fields, "udp_server_after")) {
    if (auto samples = ReadPolicyCount(reader, *value, "limits.udp_server_after", 0,
                                       kMaxSampleCount, "a number of samples")) {
      limits.udp_server_after = *samples;
    }
  }
  if (const YamlNode* beacon = YamlReader::Value(fields, "beacon")) {
    ReadBeacon(reader, *beacon, limits.beacon);
  }
  if (const YamlNode* scan = YamlReader::Value(fields, "scan"))
    ReadScan(reader, *scan, limits.scan);
}

}  // namespace connwatch
