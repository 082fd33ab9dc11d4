// Connection keys and persisted tracker states for the state format and store tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "net/ip_address.h"
#include "tracking/connection_table.h"
#include "tracking/state_format.h"

namespace connwatch::testing {

inline constexpr const char* kBootId = "6a1f0c2e-1d1b-4f57-9c1e-2b2f1c0d9e11";

inline ConnectionKey CookieKey(uint64_t cookie) {
  ConnectionKey key;
  key.cookie = cookie;
  return key;
}

inline ConnectionKey InodeKey(uint64_t inode, Transport transport, const char* local,
                              uint16_t local_port, const char* remote, uint16_t remote_port) {
  ConnectionKey key;
  key.inode = inode;
  key.transport = transport;
  key.local = *ParseIpAddress(local);
  key.local_port = local_port;
  key.remote = *ParseIpAddress(remote);
  key.remote_port = remote_port;
  return key;
}

// Both key kinds, both families, the extremes of cookies, ports and starts.
inline TrackerState SampleState() {
  TrackerState state;
  state.boot_id = kBootId;
  state.entries[CookieKey(18446744073709551615ull)] = {12.5, AgeSource::kConntrack};
  state.entries[InodeKey(4242, Transport::kTcp, "10.0.0.1", 40000, "192.0.2.7", 443)] = {
      100.125, AgeSource::kFirstSeen};
  state.entries[InodeKey(0, Transport::kUdp, "2001:db8::1", 5353, "2001:db8::2", 65535)] = {
      0, AgeSource::kProcessStart};
  state.entries[InodeKey(7, Transport::kTcp, "::ffff:10.0.0.1", 8080, "::ffff:10.0.0.9", 1)] = {
      1234567.000001, AgeSource::kFirstSeen};
  return state;
}

inline void ExpectSameEntries(const ConnectionTable& actual, const ConnectionTable& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [key, tracked] : expected) {
    auto it = actual.find(key);
    ASSERT_NE(it, actual.end()) << key.cookie << " " << key.inode;
    EXPECT_EQ(it->second.start_boot_seconds, tracked.start_boot_seconds);
    EXPECT_EQ(it->second.source, tracked.source);
  }
}

}  // namespace connwatch::testing
