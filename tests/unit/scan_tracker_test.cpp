// The scan estimators (tracking/scan_tracker.h): distinct targets per actor, distinct ports
// and probes per peer, per-zone counts that never go down, and bounds that hold under floods.
#include "tracking/scan_tracker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace connwatch {
namespace {

constexpr double kWindow = 300;

IpAddress V4(uint32_t n) {
  IpAddress address;
  address.bytes[0] = static_cast<uint8_t>(n >> 24);
  address.bytes[1] = static_cast<uint8_t>(n >> 16);
  address.bytes[2] = static_cast<uint8_t>(n >> 8);
  address.bytes[3] = static_cast<uint8_t>(n);
  return address;
}

IpAddress Parsed(const char* text) { return ParseIpAddress(text).value(); }

ScanActor Actor(std::string process, std::string zone = "internet") {
  return {std::move(process), std::move(zone), "default", "web-1", "app"};
}

TEST(OutboundScansTest, CountsDistinctTargetsPerActor) {
  OutboundScans scans(kWindow);
  for (uint32_t i = 0; i < 200; ++i) scans.ObserveFailed(Actor("nmap"), V4(0x0a000000 + i), 22, 10);
  for (int i = 0; i < 10000; ++i) scans.ObserveFailed(Actor("curl"), V4(0x0a000001), 443, 20);
  std::vector<ActorTargets> targets = scans.Targets(30);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].actor, Actor("curl")) << "actor order";
  EXPECT_EQ(targets[0].targets, 1u) << "one dead server retried";
  EXPECT_EQ(targets[0].last_seen, 20);
  EXPECT_EQ(targets[1].actor, Actor("nmap"));
  EXPECT_EQ(targets[1].targets, 200u) << "exact below the estimator's exact limit";
  EXPECT_EQ(targets[1].last_seen, 10);
  EXPECT_EQ(scans.size(), 2u);
  EXPECT_EQ(scans.evicted(), 0u);
}

TEST(OutboundScansTest, ATargetIsAnAddressAndAPort) {
  OutboundScans scans(kWindow);
  ScanActor actor = Actor("scanner");
  for (uint16_t port = 1; port <= 100; ++port) scans.ObserveFailed(actor, V4(0x0a000001), port, 0);
  scans.ObserveFailed(actor, V4(0x0a000002), 1, 0);
  scans.ObserveFailed(actor, Parsed("::ffff:10.0.0.1"), 1, 0);  // the IPv4 target 10.0.0.1:1
  scans.ObserveFailed(actor, Parsed("2001:db8::1"), 1, 0);
  scans.ObserveFailed(actor, Parsed("2001:db8::1"), 2, 0);
  scans.ObserveFailed(actor, Parsed("2001:db8::2"), 1, 0);
  ASSERT_EQ(scans.Targets(0).size(), 1u);
  EXPECT_EQ(scans.Targets(0)[0].targets, 104u);
}

TEST(OutboundScansTest, ActorsAreApartByEveryLabel) {
  OutboundScans scans(kWindow);
  scans.ObserveFailed(Actor("x", "internet"), V4(1), 1, 0);
  scans.ObserveFailed(Actor("x", "corp"), V4(1), 1, 0);
  ScanActor other_pod = Actor("x", "corp");
  other_pod.pod = "web-2";
  scans.ObserveFailed(other_pod, V4(1), 1, 0);
  EXPECT_EQ(scans.Targets(0).size(), 3u);
}

TEST(OutboundScansTest, FailuresOlderThanTheWindowStopCountingAndExpire) {
  OutboundScans scans(kWindow);
  for (uint32_t i = 0; i < 50; ++i) scans.ObserveFailed(Actor("old"), V4(i), 80, 0);
  for (uint32_t i = 0; i < 30; ++i) scans.ObserveFailed(Actor("new"), V4(i), 80, 200);
  ASSERT_EQ(scans.Targets(250).size(), 2u);
  std::vector<ActorTargets> later = scans.Targets(300);
  ASSERT_EQ(later.size(), 1u) << "old's failures left the window";
  EXPECT_EQ(later[0].actor.process, "new");
  EXPECT_EQ(later[0].targets, 30u);
  scans.Expire(300);
  EXPECT_EQ(scans.size(), 1u);
  EXPECT_EQ(scans.Targets(300).size(), 1u);
  scans.ObserveFailed(Actor("old"), V4(7), 80, 310);
  std::vector<ActorTargets> again = scans.Targets(310);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[1].actor.process, "old");
  EXPECT_EQ(again[1].targets, 1u) << "an expired actor comes back from nothing";
  scans.Expire(700);
  EXPECT_EQ(scans.size(), 0u);
  EXPECT_TRUE(scans.Targets(700).empty());
  EXPECT_EQ(scans.evicted(), 0u) << "expiry is not eviction";
}

TEST(OutboundScansTest, FullForgetsTheLeastRecentlyObservedAndCountsIt) {
  OutboundScans scans(kWindow, 3);
  scans.ObserveFailed(Actor("a"), V4(1), 1, 0);
  scans.ObserveFailed(Actor("b"), V4(1), 1, 1);
  scans.ObserveFailed(Actor("c"), V4(1), 1, 2);
  scans.ObserveFailed(Actor("a"), V4(2), 1, 3);  // a is the most recent again
  scans.ObserveFailed(Actor("d"), V4(9), 1, 4);
  EXPECT_EQ(scans.size(), 3u);
  EXPECT_EQ(scans.evicted(), 1u);
  std::vector<ActorTargets> targets = scans.Targets(5);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].actor.process, "a");
  EXPECT_EQ(targets[0].targets, 2u) << "a kept its targets";
  EXPECT_EQ(targets[1].actor.process, "c");
  EXPECT_EQ(targets[2].actor.process, "d");
  EXPECT_EQ(targets[2].targets, 1u) << "d starts from nothing in b's reused entry";
}

TEST(OutboundScansTest, AnExpiredActorMakesRoomUncounted) {
  OutboundScans scans(kWindow, 2);
  scans.ObserveFailed(Actor("a"), V4(1), 1, 0);
  scans.ObserveFailed(Actor("b"), V4(1), 1, 400);
  scans.ObserveFailed(Actor("c"), V4(1), 1, 400);  // a's window is empty: it is not a loss
  EXPECT_EQ(scans.evicted(), 0u);
  EXPECT_EQ(scans.size(), 2u);
  scans.ObserveFailed(Actor("d"), V4(1), 1, 400);
  EXPECT_EQ(scans.evicted(), 1u) << "b still had a failure in the window";
}

TEST(OutboundScansTest, ManyTargetsAreWithinTheEstimatorsError) {
  OutboundScans scans(kWindow);
  for (uint32_t i = 0; i < 100000; ++i) {
    scans.ObserveFailed(Actor("masscan"), V4(0x0a000000 + i / 4), 8000 + i % 4, 50);
  }
  std::vector<ActorTargets> targets = scans.Targets(50);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_NEAR(targets[0].targets, 100000.0, 12000.0) << "12%: ~3 standard errors";
}

// 10^6 failures from 10^5 actors, round robin: every observation misses a table of 1024, so
// each past the first 1024 evicts one, and the table never grows past its cap.
TEST(OutboundScansTest, AFloodOfActorsStaysBounded) {
  OutboundScans scans(kWindow, 1024);
  for (uint32_t i = 0; i < 1000000; ++i) {
    scans.ObserveFailed(Actor("p" + std::to_string(i % 100000)), V4(i), 1, 10);
    ASSERT_LE(scans.size(), 1024u);
  }
  EXPECT_EQ(scans.size(), 1024u);
  EXPECT_EQ(scans.evicted(), 1000000u - 1024u);
  EXPECT_EQ(scans.Targets(10).size(), 1024u);
}

TEST(InboundProbesTest, CountsDistinctPortsAndProbesPerPeer) {
  InboundProbes probes(kWindow);
  for (int round = 0; round < 2; ++round) {
    for (uint16_t port = 1000; port < 1150; ++port) {
      probes.Observe(V4(0xc6336401), "internet", port, 10 + round);
    }
  }
  for (int i = 0; i < 10000; ++i) probes.Observe(V4(0x0a000005), "corp", 23, 5);
  std::vector<PeerProbes> peers = probes.Peers(20);
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0].peer, V4(0x0a000005)) << "address order";
  EXPECT_EQ(peers[0].remote_zone, "corp");
  EXPECT_EQ(peers[0].ports, 1u);
  EXPECT_EQ(peers[0].probes, 10000u);
  EXPECT_EQ(peers[0].last_seen, 5);
  EXPECT_EQ(peers[1].peer, V4(0xc6336401));
  EXPECT_EQ(peers[1].ports, 150u);
  EXPECT_EQ(peers[1].probes, 300u);
  EXPECT_EQ(peers[1].last_seen, 11);
  EXPECT_EQ(probes.counts().at("internet"), 300u);
  EXPECT_EQ(probes.counts().at("corp"), 10000u);
}

TEST(InboundProbesTest, AMappedPeerIsItsIpv4PeerAndTakesItsLatestZone) {
  InboundProbes probes(kWindow);
  probes.Observe(Parsed("192.0.2.7"), "internet", 1, 0);
  probes.Observe(Parsed("::ffff:192.0.2.7"), "partner", 2, 1);
  std::vector<PeerProbes> peers = probes.Peers(1);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].peer, Parsed("192.0.2.7"));
  EXPECT_EQ(peers[0].remote_zone, "partner");
  EXPECT_EQ(peers[0].ports, 2u);
}

TEST(InboundProbesTest, ProbesOlderThanTheWindowStopCountingAndExpire) {
  InboundProbes probes(kWindow);
  for (uint16_t port = 1; port <= 40; ++port) probes.Observe(V4(1), "internet", port, 0);
  for (uint16_t port = 1; port <= 10; ++port) probes.Observe(V4(2), "internet", port, 250);
  EXPECT_EQ(probes.Peers(299).size(), 2u);
  std::vector<PeerProbes> later = probes.Peers(300);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].peer, V4(2));
  EXPECT_EQ(later[0].probes, 10u);
  probes.Expire(300);
  EXPECT_EQ(probes.size(), 1u);
  probes.Expire(1000);
  EXPECT_EQ(probes.size(), 0u);
  EXPECT_TRUE(probes.Peers(1000).empty());
  EXPECT_EQ(probes.counts().at("internet"), 50u) << "expiry leaves the counts";
}

TEST(InboundProbesTest, CountsNeverGoDownAcrossExpiryAndEviction) {
  InboundProbes probes(kWindow, 2);
  uint64_t previous_internet = 0, previous_corp = 0;
  double now = 0;
  for (uint32_t peer = 0; peer < 50; ++peer) {
    probes.Observe(V4(peer), peer % 3 ? "internet" : "corp", 80, now);
    if (peer % 7 == 0) probes.Expire(now);
    now += 100;  // both held peers are still in the window: each new one evicts
    uint64_t internet = probes.counts().contains("internet") ? probes.counts().at("internet") : 0;
    uint64_t corp = probes.counts().at("corp");
    ASSERT_GE(internet, previous_internet);
    ASSERT_GE(corp, previous_corp);
    previous_internet = internet;
    previous_corp = corp;
  }
  EXPECT_GT(probes.evicted(), 0u) << "the loop must have evicted for the test to mean anything";
  EXPECT_EQ(previous_corp, 17u);      // peers 0, 3, ..., 48
  EXPECT_EQ(previous_internet, 33u);  // the other 33
  EXPECT_EQ(probes.counts().size(), 2u);
}

// 10^6 probes from 10^5 peers (a spoofed-source flood), each to a few ports: at most 1024
// peers held, the rest evicted and counted, every probe counted for its zone.
TEST(InboundProbesTest, AFloodOfPeersStaysBounded) {
  InboundProbes probes(kWindow, 1024);
  for (uint32_t i = 0; i < 1000000; ++i) {
    probes.Observe(V4(0xcb000000 + i % 100000), "internet", static_cast<uint16_t>(i % 7), 10);
    ASSERT_LE(probes.size(), 1024u);
  }
  EXPECT_EQ(probes.size(), 1024u);
  EXPECT_EQ(probes.evicted(), 1000000u - 1024u);
  EXPECT_EQ(probes.counts().at("internet"), 1000000u);
  EXPECT_LE(probes.Peers(10).size(), 1024u);
}

}  // namespace
}  // namespace connwatch
