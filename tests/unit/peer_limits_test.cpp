#include "http/peer_limits.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

TEST(PeerLimitsTest, OnePeerFillsOnlyItsShare) {
  PeerLimits limits({.max_total = 10, .max_per_peer = 3});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits.Admit("10.0.0.1"), std::nullopt);
  EXPECT_EQ(limits.Admit("10.0.0.1"), RejectReason::kPeerLimit);
  EXPECT_EQ(limits.Admit("10.0.0.2"), std::nullopt);  // another peer still gets in
  EXPECT_EQ(limits.of("10.0.0.1"), 3u);
  EXPECT_EQ(limits.total(), 4u);
  limits.Release("10.0.0.1");
  EXPECT_EQ(limits.Admit("10.0.0.1"), std::nullopt);
}

TEST(PeerLimitsTest, ManyPeersFillTheTotal) {
  PeerLimits limits({.max_total = 4, .max_per_peer = 2});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limits.Admit("10.0.0." + std::to_string(i)), std::nullopt);
  EXPECT_EQ(limits.Admit("10.0.0.9"), RejectReason::kTotalLimit);
  EXPECT_EQ(limits.of("10.0.0.9"), 0u);
  limits.Release("10.0.0.0");
  EXPECT_EQ(limits.total(), 3u);
  EXPECT_EQ(limits.of("10.0.0.0"), 0u);
  EXPECT_EQ(limits.Admit("10.0.0.9"), std::nullopt);
}

TEST(PeerLimitsTest, ReleasingWhatWasNotAdmittedChangesNothing) {
  PeerLimits limits({.max_total = 2, .max_per_peer = 1});
  limits.Release("10.0.0.1");
  EXPECT_EQ(limits.total(), 0u);
  EXPECT_EQ(limits.Admit("10.0.0.1"), std::nullopt);
  limits.Release("10.0.0.1");
  limits.Release("10.0.0.1");
  EXPECT_EQ(limits.total(), 0u);
}

}  // namespace
}  // namespace connwatch
