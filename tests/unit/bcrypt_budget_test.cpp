// The bcrypt budget on a clock the test moves: the concurrency cap, each peer's bucket, and
// the bound on how many peers are remembered.
#include "http/bcrypt_budget.h"

#include <gtest/gtest.h>

#include <string>

namespace connwatch {
namespace {

TEST(BcryptBudgetTest, CapsRunsAtOnceFromEveryone) {
  BcryptBudget budget({.max_concurrent = 2, .per_peer_per_second = 100, .per_peer_burst = 100});
  EXPECT_EQ(budget.TryStart("a", 0), BcryptRefusal::kNone);
  EXPECT_EQ(budget.TryStart("b", 0), BcryptRefusal::kNone);
  EXPECT_EQ(budget.TryStart("c", 0), BcryptRefusal::kBusy);
  EXPECT_EQ(budget.running(), 2u);
  budget.Finish();
  EXPECT_EQ(budget.TryStart("c", 0), BcryptRefusal::kNone);
  budget.Finish();
  budget.Finish();
  budget.Finish();  // one too many: never below zero
  EXPECT_EQ(budget.running(), 0u);
}

TEST(BcryptBudgetTest, EachPeerHasABurstThenASteadyRate) {
  BcryptBudget budget({.max_concurrent = 100, .per_peer_per_second = 2, .per_peer_burst = 3});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(budget.TryStart("a", 10), BcryptRefusal::kNone) << i;
  EXPECT_EQ(budget.TryStart("a", 10), BcryptRefusal::kPeerRate);
  EXPECT_EQ(budget.TryStart("b", 10), BcryptRefusal::kNone) << "another peer";
  EXPECT_EQ(budget.TryStart("a", 10.4), BcryptRefusal::kPeerRate) << "0.8 of a run refilled";
  EXPECT_EQ(budget.TryStart("a", 10.6), BcryptRefusal::kNone) << "one run refilled";
  EXPECT_EQ(budget.TryStart("a", 10.6), BcryptRefusal::kPeerRate);
  // A long pause refills to the burst, not beyond.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(budget.TryStart("a", 1000), BcryptRefusal::kNone) << i;
  EXPECT_EQ(budget.TryStart("a", 1000), BcryptRefusal::kPeerRate);
  // A clock that goes back grants nothing.
  EXPECT_EQ(budget.TryStart("a", 5), BcryptRefusal::kPeerRate);
}

TEST(BcryptBudgetTest, RemembersABoundedNumberOfPeers) {
  BcryptBudget budget(
      {.max_concurrent = 1000000, .per_peer_per_second = 1, .per_peer_burst = 2, .max_peers = 8});
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(budget.TryStart("10.0.0." + std::to_string(i), 0), BcryptRefusal::kNone);
    EXPECT_LE(budget.peers(), 8u);
  }
  // Buckets that are not full are kept while there is room: a peer that spent its burst stays
  // limited when others come and go after it has refilled nothing.
  BcryptBudget kept({.max_concurrent = 1000000,
                     .per_peer_per_second = 0.001,
                     .per_peer_burst = 1,
                     .max_peers = 8});
  EXPECT_EQ(kept.TryStart("spender", 0), BcryptRefusal::kNone);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(kept.TryStart(std::to_string(i), 0), BcryptRefusal::kNone);
  EXPECT_EQ(kept.TryStart("spender", 0), BcryptRefusal::kPeerRate);
}

}  // namespace
}  // namespace connwatch
